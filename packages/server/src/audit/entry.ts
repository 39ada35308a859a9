import { createHash, createHmac } from "node:crypto";
import type { DecisionRow, ExportChunk } from "./backend.js";

export const DECISION_SOURCES = Object.freeze([
  "api",
  "batch",
  "webhook",
  "gate",
  "sync",
  "review",
  "santa",
] as const);
export type DecisionSource = (typeof DECISION_SOURCES)[number];

/**
 * One decision as it was made: the engine's answer with when, for whom and by which rules. It is
 * built once (`DecisionService`); the audit body (`sealItem`) and the API's answer (`answerOf`)
 * are both projections of it.
 */
export interface DecisionRecord {
  /** time-ordered UUIDv7 */
  id: string;
  /** RFC 3339 with milliseconds, UTC */
  time: string;
  source: DecisionSource;
  /** the API key id that asked, or null */
  requester: string | null;
  sha256: string;
  fileName: string | null;
  decision: "allow" | "deny" | "review";
  rule: string | null;
  reason: string;
  matched: string[];
  monitored: string[];
  /** the engine's run-time errors (`code` since run-time errors had codes) */
  errors: { rule: string; code?: string; message: string; monitor: boolean }[];
  ruleset: { revision: string; commit: string | null; dirty: boolean };
  /** evaluation time in microseconds */
  latencyUs: number;
  /** the shadow rule set's answer, when one is configured */
  shadow: ShadowAnswer | null;
  /** the platform's delivery id, for webhook entries */
  deliveryId: string | null;
  /** stored when the caller asked for an explanation */
  explain: unknown | null;
  /**
   * Reviews (docs/reviews.md). Each is written in the body only when it has something to say, so
   * that the decisions stored before reviews keep their bytes: the `forbid-approval` rules that
   * matched, the exception the deciding rule read, and the review case the decision opened or
   * joined.
   */
  approvalForbiddenBy?: string[];
  exception?: string | null;
  case?: string | null;
}

/** A decision record as the log holds it: with the hash of its stored input snapshot. */
export interface AuditRecord extends DecisionRecord {
  /** SHA-256 of the stored input snapshot (content-addressed) */
  inputHash: string;
}

/**
 * The shadow rule set's answer. A shadow that fails answers `decision: "error"`, with `error`
 * saying why; it never changes the live answer.
 */
export interface ShadowAnswer {
  decision: string;
  rule: string | null;
  /** the shadow rule set's revision */
  revision: string;
  error?: { code: string; message: string };
}

/** The code of a shadow evaluation that failed (the message says how). */
export const SHADOW_FAILED = "evaluation_failed";

/**
 * A stored shadow answer, as read. Entries written before shadow errors had a field of their own
 * held the message in `revision` (`<revision>: <message>`); they are read as they are written now.
 * Their stored bytes, and so their hashes, stay as they are.
 */
export function readShadow(shadow: ShadowAnswer | null): ShadowAnswer | null {
  if (shadow === null || shadow.decision !== "error" || shadow.error !== undefined) return shadow;
  const at = shadow.revision.indexOf(": ");
  if (at < 0) return shadow;
  return {
    decision: shadow.decision,
    rule: shadow.rule,
    revision: shadow.revision.slice(0, at),
    error: { code: SHADOW_FAILED, message: shadow.revision.slice(at + 2) },
  };
}

/** Whether a body holds a failed shadow answer, which may be in the form `readShadow` maps. */
function hasShadowError(body: string): boolean {
  return body.includes('"shadow":{"decision":"error",');
}

/** An entry as stored: the record, its place in its chain and its hashes. */
export interface AuditEntry extends AuditRecord {
  chain: string;
  seq: number;
  prevHash: string;
  hash: string;
}

/** The previous hash of a chain's first entry. */
export const GENESIS_HASH = "0".repeat(64);

/**
 * Each entry's hash covers the previous entry's hash and its own canonical body. With a key it is an
 * HMAC, so someone who can write to the database but does not hold the key cannot recompute the chain.
 */
export function chainHash(prevHash: string, body: string, key: string | null): string {
  const h = key === null ? createHash("sha256") : createHmac("sha256", key);
  return h.update(prevHash).update("\n").update(body).digest("hex");
}

/** A checkpoint's MAC binds where the kept chain starts, so a forged checkpoint is detected too. */
export function checkpointMac(
  chain: string,
  seq: number,
  hash: string,
  key: string | null,
): string {
  return chainHash("checkpoint", `${chain}\n${seq}\n${hash}`, key);
}

export function contentHash(body: string): string {
  return createHash("sha256").update(body).digest("hex");
}

/** Rebuilds an entry from its stored body (a decision; another kind's has its `kind` and fields). */
export function parseEntry(body: string, hash: string): AuditEntry {
  const b = JSON.parse(body) as AuditRecord & {
    v: number;
    chain: string;
    seq: number;
    prevHash: string;
  };
  const { v: _v, ...rest } = b as typeof b & { v: number };
  if (rest.shadow != null) rest.shadow = readShadow(rest.shadow);
  return { ...rest, hash };
}

/** How every canonical body begins (`sealBody`): the schema version, which exports leave out. */
const BODY_PREFIX = '{"v":1,';

/**
 * One line of an export (without its newline): the entry as `parseEntry` gives it, with `input`
 * when `withInput` (the snapshot parsed, or null when it is not stored). The same text as
 * `JSON.stringify({...parseEntry(body, hash), input})`, made without parsing the body when it has
 * the canonical form.
 */
export function entryLine(
  body: string,
  hash: string,
  withInput: boolean,
  input: string | undefined,
): string {
  const tail = withInput
    ? `,"input":${input === undefined ? "null" : JSON.stringify(JSON.parse(input))}}`
    : "}";
  if (
    body.startsWith(BODY_PREFIX) &&
    body.endsWith("}") &&
    /^[0-9a-f]*$/.test(hash) &&
    !hasShadowError(body)
  )
    return `{${body.slice(BODY_PREFIX.length, -1)},"hash":"${hash}"${tail}`;
  const entry: Record<string, unknown> = { ...parseEntry(body, hash) };
  if (withInput) entry.input = input === undefined ? null : JSON.parse(input);
  return JSON.stringify(entry);
}

/**
 * Export lines for `rows` (ascending, as read for a page of `limit`), stopping after the line that
 * reaches `maxBytes`. `inputOf` gives input snapshots by hash.
 */
export function exportChunkOf(
  rows: readonly DecisionRow[],
  limit: number,
  withInputs: boolean,
  inputOf: (hash: string) => string | undefined,
  maxBytes: number,
): ExportChunk {
  let text = "";
  let entries = 0;
  let last: string | null = null;
  for (const row of rows) {
    const input = withInputs ? inputOf(row.inputHash) : undefined;
    text += `${entryLine(row.body, row.hash, withInputs, input)}\n`;
    entries++;
    last = row.id;
    if (text.length >= maxBytes) break;
  }
  return { text, entries, last, done: entries === rows.length && rows.length < limit };
}
