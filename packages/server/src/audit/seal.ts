// Sealing: giving entries their place in a chain (seq, previous hash) and their hashes, and turning
// them into the rows a store writes. It runs where the writes run, inside the write that stores the
// entries (`AuditStore`, "seal where you write"): on the SQLite writer thread, in an inline SQLite
// transaction, on the PostgreSQL connection holding the chain's lock. Everything here is a pure
// function of its arguments.
import type { OutboxRow } from "./backend.js";
import { chainHash, contentHash, type DecisionRecord } from "./entry.js";
import { DECISION_KIND, type EntryKind, INPUT_HASH_FIELD } from "./kinds.js";

/** A notification to queue with an entry, in the same transaction. */
export interface Notification {
  target: string;
  payload: string;
}

/**
 * One entry ready to be sealed, as strings only: it crosses to the writer thread as a cheap copy
 * rather than a cloned object graph. `before` and `after` are the record's canonical JSON on either
 * side of its input hash (`after` empty for a kind without an input), which is computed where the
 * entry is sealed.
 */
export interface SealItem {
  /** the entry's kind (`EntryKind.name`) */
  kind: string;
  id: string;
  time: string;
  /** the kind's indexed columns, in its `columns` order */
  columns: (string | null)[];
  deliveryId: string | null;
  before: string;
  after: string;
  /** the input snapshot's JSON text; null for a kind without one */
  input: string | null;
  notifications: readonly Notification[];
}

/** Where an entry landed in its chain. */
export interface Placement {
  seq: number;
  prevHash: string;
  /** null for a kind without an input snapshot */
  inputHash: string | null;
  hash: string;
}

export interface ChainHead {
  seq: number;
  hash: string;
}

/** An entry as written to its kind's table: the values in `insertColumns(kind)` order, named. */
export interface SealedRow {
  kind: string;
  id: string;
  chain: string;
  seq: number;
  time: string;
  columns: (string | null)[];
  inputHash: string | null;
  body: string;
  hash: string;
}

export interface InputRow {
  hash: string;
  body: string;
}

export interface DeliveryRow {
  id: string;
  time: string;
  /** the entry written with it */
  entryId: string;
}

export interface SealedBatch {
  rows: SealedRow[];
  inputs: InputRow[];
  outbox: OutboxRow[];
  deliveries: DeliveryRow[];
  placements: Placement[];
  head: ChainHead;
}

/**
 * The record's fields in canonical order, split around `inputHash`. Both halves are JSON object
 * bodies without their braces; `sealBody` puts the chain position in front and the hash between.
 */
export function entryParts(r: DecisionRecord): { before: string; after: string } {
  const before = JSON.stringify({
    id: r.id,
    time: r.time,
    source: r.source,
    requester: r.requester,
    sha256: r.sha256,
    fileName: r.fileName,
    decision: r.decision,
    rule: r.rule,
    reason: r.reason,
    matched: r.matched,
    monitored: r.monitored,
    errors: r.errors,
    ruleset: { revision: r.ruleset.revision, commit: r.ruleset.commit, dirty: r.ruleset.dirty },
    latencyUs: r.latencyUs,
  });
  const tail: Record<string, unknown> = {
    shadow: shadowBody(r.shadow),
    deliveryId: r.deliveryId,
    explain: r.explain,
  };
  if (r.approvalForbiddenBy !== undefined && r.approvalForbiddenBy.length > 0)
    tail.approvalForbiddenBy = r.approvalForbiddenBy;
  if (r.exception != null) tail.exception = r.exception;
  if (r.case != null) tail.case = r.case;
  const after = JSON.stringify(tail);
  return { before: before.slice(1, -1), after: after.slice(1, -1) };
}

/** The shadow answer's fields in canonical order; `error` only when the shadow failed. */
function shadowBody(s: DecisionRecord["shadow"]): unknown {
  if (s === null) return null;
  const body: Record<string, unknown> = {
    decision: s.decision,
    rule: s.rule,
    revision: s.revision,
  };
  if (s.error !== undefined) body.error = { code: s.error.code, message: s.error.message };
  return body;
}

/**
 * An entry of any kind, its fields in the kind's order (`EntryKind.fields`), split around the
 * input hash as `entryParts` splits a decision. The fields must be JSON values.
 */
export function kindParts(
  kind: EntryKind,
  fields: Readonly<Record<string, unknown>>,
): { before: string; after: string } {
  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  let side = before;
  for (const f of kind.fields) {
    if (f === INPUT_HASH_FIELD) side = after;
    else side[f] = fields[f];
  }
  return { before: JSON.stringify(before).slice(1, -1), after: JSON.stringify(after).slice(1, -1) };
}

/**
 * The canonical body: exactly the bytes hashed and stored, JSON with a fixed key order and a schema
 * version first, so the form can change without breaking old chains. `prevHash` and `inputHash` are
 * hex digests and `seq` an integer, so they are written without escaping. A decision's body is the
 * v1 form every stored decision has; another kind's names its kind after the version.
 */
export function sealBody(
  chain: string,
  seq: number,
  prevHash: string,
  parts: { before: string; after: string },
  inputHash: string | null,
  kind: string = DECISION_KIND.name,
): string {
  if (kind === DECISION_KIND.name)
    return `{"v":1,"chain":${JSON.stringify(chain)},"seq":${seq},"prevHash":"${prevHash}",${parts.before},"inputHash":"${inputHash}",${parts.after}}`;
  const pieces = [
    `"v":1,"kind":${JSON.stringify(kind)},"chain":${JSON.stringify(chain)},"seq":${seq},"prevHash":"${prevHash}"`,
    parts.before,
    inputHash === null ? "" : `"inputHash":"${inputHash}"`,
    parts.after,
  ];
  return `{${pieces.filter((p) => p !== "").join(",")}}`;
}

/** A decision, ready to be sealed. */
export function sealItem(
  record: DecisionRecord,
  input: string,
  notifications: readonly Notification[],
): SealItem {
  const { before, after } = entryParts(record);
  return {
    kind: DECISION_KIND.name,
    id: record.id,
    time: record.time,
    // DECISION_KIND.columns, in order
    columns: [record.source, record.requester, record.sha256, record.decision, record.rule],
    deliveryId: record.deliveryId,
    before,
    after,
    input,
    notifications,
  };
}

/** An entry of another kind, ready to be sealed. Throws TypeError for a column that is not text. */
export function kindItem(
  kind: EntryKind,
  fields: Readonly<Record<string, unknown>> & { id: string; time: string },
  options: { input?: string; deliveryId?: string | null; notifications?: readonly Notification[] },
): SealItem {
  if (kind.input !== (options.input !== undefined))
    throw new TypeError(
      kind.input
        ? `an entry of kind \`${kind.name}\` needs its input snapshot`
        : `an entry of kind \`${kind.name}\` has no input snapshot`,
    );
  const columns = kind.columns.map((c) => {
    const value = fields[c.field] ?? null;
    if (value !== null && typeof value !== "string")
      throw new TypeError(
        `field \`${c.field}\` of a \`${kind.name}\` entry is stored in column \`${c.column}\`: it must be a string or null`,
      );
    return value;
  });
  return {
    kind: kind.name,
    id: fields.id,
    time: fields.time,
    columns,
    deliveryId: options.deliveryId ?? null,
    ...kindParts(kind, fields),
    input: options.input ?? null,
    notifications: options.notifications ?? [],
  };
}

/** Places `items` after `head` in `chain`, in order; the rows are written in one transaction. */
export function sealBatch(
  items: readonly SealItem[],
  chain: string,
  head: ChainHead,
  key: string | null,
): SealedBatch {
  let { seq, hash } = head;
  const sealed: SealedBatch = {
    rows: [],
    inputs: [],
    outbox: [],
    deliveries: [],
    placements: [],
    head,
  };
  const seen = new Set<string>();
  for (const item of items) {
    seq++;
    const inputHash = item.input === null ? null : contentHash(item.input);
    const body = sealBody(chain, seq, hash, item, inputHash, item.kind);
    const next = chainHash(hash, body, key);
    sealed.rows.push({
      kind: item.kind,
      id: item.id,
      chain,
      seq,
      time: item.time,
      columns: item.columns,
      inputHash,
      body,
      hash: next,
    });
    sealed.placements.push({ seq, prevHash: hash, inputHash, hash: next });
    if (item.deliveryId !== null)
      sealed.deliveries.push({ id: item.deliveryId, time: item.time, entryId: item.id });
    for (const n of item.notifications) sealed.outbox.push(outboxRow(item, chain, n));
    if (inputHash !== null && !seen.has(inputHash)) {
      seen.add(inputHash);
      sealed.inputs.push({ hash: inputHash, body: item.input! });
    }
    hash = next;
  }
  sealed.head = { seq, hash };
  return sealed;
}

/** A notification queued with entry `entry` of `chain`: due at once, never tried. */
export function outboxRow(
  entry: { id: string; time: string },
  chain: string,
  n: Notification,
): OutboxRow {
  return {
    id: `${entry.id}:${n.target}`,
    chain,
    entryId: entry.id,
    target: n.target,
    payload: n.payload,
    attempts: 0,
    nextAttemptAt: entry.time,
    lastError: null,
    deliveredAt: null,
    createdAt: entry.time,
  };
}

/** The entry with the highest seq of each chain among `rows`. */
export function lastOfEachChain(rows: readonly SealedRow[]): SealedRow[] {
  const last = new Map<string, SealedRow>();
  for (const r of rows) {
    const seen = last.get(r.chain);
    if (!seen || r.seq > seen.seq) last.set(r.chain, r);
  }
  return [...last.values()];
}

/** The values of `row` in `insertColumns(kind)` order. */
export function rowValues(row: SealedRow): (string | number | null)[] {
  const values: (string | number | null)[] = [row.id, row.chain, row.seq, row.time, ...row.columns];
  if (row.inputHash !== null) values.push(row.inputHash);
  values.push(row.body, row.hash);
  return values;
}
