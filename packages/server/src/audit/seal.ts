// Sealing: giving entries their place in a chain (seq, previous hash) and their hashes, and turning
// them into the rows a backend stores. It runs where the writes run: on the SQLite writer thread, or
// on the event loop for PostgreSQL. Everything here is a pure function of its arguments.
import type { DeliveryRow, EntryRow, InputRow, OutboxRow } from "./backend.js";
import { type AuditRecord, chainHash, contentHash, type DecisionSource } from "./entry.js";

/** A notification to queue with an entry, in the same transaction. */
export interface Notification {
  target: string;
  payload: string;
}

/**
 * One entry ready to be sealed, as strings only: it crosses to the writer thread as a cheap copy
 * rather than a cloned object graph. `before` and `after` are the record's canonical JSON on either
 * side of its input hash, which is computed where the entry is sealed.
 */
export interface SealItem {
  id: string;
  time: string;
  source: DecisionSource;
  requester: string | null;
  sha256: string;
  decision: string;
  rule: string | null;
  deliveryId: string | null;
  before: string;
  after: string;
  /** the input snapshot's JSON text */
  input: string;
  notifications: readonly Notification[];
}

/** Where an entry landed in its chain. */
export interface Placement {
  seq: number;
  prevHash: string;
  inputHash: string;
  hash: string;
}

export interface ChainHead {
  seq: number;
  hash: string;
}

export interface SealedBatch {
  rows: EntryRow[];
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
export function entryParts(r: Omit<AuditRecord, "inputHash">): { before: string; after: string } {
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
  const after = JSON.stringify({ shadow: r.shadow, deliveryId: r.deliveryId, explain: r.explain });
  return { before: before.slice(1, -1), after: after.slice(1, -1) };
}

/**
 * The canonical body: exactly the bytes hashed and stored, JSON with a fixed key order and a schema
 * version first, so the form can change without breaking old chains. `prevHash` and `inputHash` are
 * hex digests and `seq` an integer, so they are written without escaping.
 */
export function sealBody(
  chain: string,
  seq: number,
  prevHash: string,
  parts: { before: string; after: string },
  inputHash: string,
): string {
  return `{"v":1,"chain":${JSON.stringify(chain)},"seq":${seq},"prevHash":"${prevHash}",${parts.before},"inputHash":"${inputHash}",${parts.after}}`;
}

export function sealItem(
  record: Omit<AuditRecord, "inputHash">,
  input: string,
  notifications: readonly Notification[],
): SealItem {
  const { before, after } = entryParts(record);
  return {
    id: record.id,
    time: record.time,
    source: record.source,
    requester: record.requester,
    sha256: record.sha256,
    decision: record.decision,
    rule: record.rule,
    deliveryId: record.deliveryId,
    before,
    after,
    input,
    notifications,
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
    const inputHash = contentHash(item.input);
    const body = sealBody(chain, seq, hash, item, inputHash);
    const next = chainHash(hash, body, key);
    sealed.rows.push({
      id: item.id,
      chain,
      seq,
      time: item.time,
      source: item.source,
      requester: item.requester,
      sha256: item.sha256,
      decision: item.decision,
      rule: item.rule,
      inputHash,
      body,
      hash: next,
    });
    sealed.placements.push({ seq, prevHash: hash, inputHash, hash: next });
    if (item.deliveryId !== null) sealed.deliveries.push({ id: item.deliveryId, time: item.time });
    for (const n of item.notifications)
      sealed.outbox.push({
        id: `${item.id}:${n.target}`,
        chain,
        entryId: item.id,
        target: n.target,
        payload: n.payload,
        attempts: 0,
        nextAttemptAt: item.time,
        lastError: null,
        deliveredAt: null,
        createdAt: item.time,
      });
    if (!seen.has(inputHash)) {
      seen.add(inputHash);
      sealed.inputs.push({ hash: inputHash, body: item.input });
    }
    hash = next;
  }
  sealed.head = { seq, hash };
  return sealed;
}

/** The entry with the highest seq of each chain among `rows`. */
export function lastOfEachChain(rows: readonly EntryRow[]): EntryRow[] {
  const last = new Map<string, EntryRow>();
  for (const r of rows) {
    const seen = last.get(r.chain);
    if (!seen || r.seq > seen.seq) last.set(r.chain, r);
  }
  return [...last.values()];
}
