// What the audit log needs of a store, split by concern.
//
//   AuditStore        one database: opened (and migrated) by `open`, closed by `close`, probed by
//                     `ping` and `checkWritable`; it holds the three parts below.
//   ├─ entries        the chains: appending (sealed where they are written), reading, searching,
//   │                 verifying, exporting and pruning entries, with their input snapshots
//   ├─ outbox         what goes out, and what came in once: notifications queued with their
//   │                 entries, and delivery ids (webhook deliveries, synced result versions)
//   └─ state          small facts kept beside the log: each chain's head as recorded with its
//                     last write, and background jobs' state (the sync cursor)
//
// Seal where you write. `entries.append` receives the entries still unsealed (`SealItem`: the
// record's canonical JSON, its input snapshot, its notifications) and gives each its place in the
// chain (seq, previous hash) and its hash inside the write that stores it, reading the chain's head
// where that write holds the chain: SQLite on its writer thread (or, for tools, in the same
// synchronous transaction on the caller's thread), PostgreSQL on the connection holding the
// chain's advisory lock. The log above never knows a head, so there is one write path whatever the
// store; what it keeps is the group commit (`log.ts`).
//
// Opening is a step of its own. A constructor only takes options: `open()` takes locks, checks
// files, connects and applies pending migrations (`migrations.ts`). A store opened read-only
// (`clearance audit verify|export|query|tail`, dry-runs from a log) never migrates and takes no
// lock: it refuses a schema newer than this Clearance knows, and reads older ones.
//
// Entries come in kinds (`kinds.ts`). Every kind shares the chain; a store reads the registry for
// each kind's table and columns, so a new kind needs a type, a registry entry and a table, and no
// change here or in a store's methods.

import { DomainError } from "../errors.js";
import type { EntryKind } from "./kinds.js";
import type { SantaStore } from "./santa-store.js";
import type { Placement, SealItem } from "./seal.js";
import type { ChainPosition, VerifyStep } from "./verify.js";

/**
 * One stored entry of any kind, as chain reads give it: its kind and place, the kind's indexed
 * columns under their body field names, the input snapshot's hash (null for a kind without one),
 * the canonical body and its hash.
 */
export interface EntryRow {
  kind: string;
  id: string;
  chain: string;
  seq: number;
  time: string;
  inputHash: string | null;
  body: string;
  hash: string;
  [field: string]: string | number | null;
}

/** A stored decision: the columns decision searches filter on, the canonical body and its hash. */
export interface DecisionRow extends EntryRow {
  source: string;
  requester: string | null;
  sha256: string;
  decision: string;
  rule: string | null;
  inputHash: string;
}

/** A notification waiting to be sent (or sent): written in the same transaction as its entry. */
export interface OutboxRow {
  /** `<entry id>:<target id>`: the receiver's idempotency key */
  id: string;
  chain: string;
  entryId: string;
  target: string;
  payload: string;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  deliveredAt: string | null;
  createdAt: string;
}

/** A delivery attempt's outcome, as `updateNotification` records it. */
export type NotificationUpdate = Pick<
  OutboxRow,
  "attempts" | "nextAttemptAt" | "lastError" | "deliveredAt"
>;

/** A chain's newest entry as recorded beside the entries, in the same transaction as each write. */
export interface RecordedHead {
  chain: string;
  seq: number;
  hash: string;
}

/** One bounded piece of an export: NDJSON lines (see `entryLine`) and where the next one starts. */
export interface ExportChunk {
  text: string;
  /** entries in `text` */
  entries: number;
  /** the id of the last entry in `text`: the next chunk starts after it; null when `text` is empty */
  last: string | null;
  /** no entries after this chunk (as of its read) */
  done: boolean;
}

/** Where a pruned chain now starts: the last removed entry's seq and hash, and a MAC over both. */
export interface Checkpoint {
  chain: string;
  seq: number;
  hash: string;
  mac: string;
  prunedAt: string;
}

export interface AuditFilter {
  sha256?: string;
  decision?: string;
  /** the deciding rule */
  rule?: string;
  source?: string;
  requester?: string;
  /** part of the file name, ASCII letters in any case */
  fileName?: string;
  /** inclusive, RFC 3339 */
  from?: string;
  /** exclusive, RFC 3339 */
  to?: string;
}

/**
 * Entries of one kind other than decisions, oldest first (by id): all of them, or those whose
 * column for `field` holds `value`.
 */
export interface KindQuery {
  /** a body field the kind keeps in a column (`KindColumn.field`); with `value` */
  field?: string;
  value?: string;
  /** only entries with a larger id */
  after?: string;
  /** leave this chain's entries out (a replica reading what the others wrote) */
  otherThanChain?: string;
  limit: number;
}

/**
 * Decisions counted per time bucket (`GET /v1/ruleset/hits`): `from` and `to` are RFC 3339 on
 * whole seconds, `from` inclusive, `to` exclusive; bucket `b` holds the decisions from
 * `from + b * bucketSeconds` on.
 */
export interface HitsQuery {
  from: string;
  to: string;
  bucketSeconds: number;
}

/**
 * What is counted per rule: the decisions it decided (`allow`, `deny`, `review`), the decisions in
 * whose `matched` list it is, those in whose `monitored` list it is, and the decisions it decided
 * that the shadow rule set answered otherwise (`disagreements`; a failed shadow is not one).
 */
export type HitKind = "allow" | "deny" | "review" | "matched" | "monitored" | "disagreements";

/** One count of one bucket; `rule` null for decisions no rule decided (the default). */
export interface HitCount {
  bucket: number;
  rule: string | null;
  kind: HitKind;
  count: number;
}

export interface PageQuery extends AuditFilter {
  limit: number;
  /** only entries with a smaller id (newest first paging) */
  before?: string;
  /** oldest first instead of newest first; `after` then pages */
  ascending?: boolean;
  after?: string;
}

/**
 * What one `entries.append` call came to. `commit` describes the transaction the call was part of
 * and is given to only one of the calls that shared it, so that it is counted once.
 */
export type ChainAppend = (
  | { ok: true; placements: Placement[] }
  | { ok: false; error: AuditUnavailableError }
) & { commit?: { entries: number; seconds: number } };

export interface AuditStore {
  readonly kind: "sqlite" | "postgres";
  /** names the store in messages: "`data/audit.db`", "PostgreSQL schema `clearance`" */
  readonly where: string;
  /** opened for reading only: never migrated, never written */
  readonly readonly: boolean;
  /** the entry kinds this store holds (`ENTRY_KINDS` unless given) */
  readonly kinds: readonly EntryKind[];
  readonly entries: EntryStore;
  readonly outbox: OutboxStore;
  readonly state: StateStore;
  /** the Santa sync server's machines, files and rules (docs/endpoints.md) */
  readonly santa: SantaStore;
  /**
   * Opens the store: checks and opens its files or connects, and applies pending migrations
   * (never when read-only). Refuses a schema newer than this Clearance knows. Returns the schema
   * version. Opening an open store does nothing more; every other call needs an open store.
   */
  open(): Promise<number>;
  /** throws when the store cannot be reached */
  ping(): Promise<void>;
  /**
   * Throws when this process could not write to `chain` now: unreachable, locked by another writer,
   * full, damaged, replaced. A real write that leaves nothing behind where the store can, so
   * that what fails writes fails this too.
   */
  checkWritable(chain: string): Promise<void>;
  /** Writes what it was given, then closes. Harmless on a store closed or never opened. */
  close(): Promise<void>;
}

export interface EntryStore {
  /**
   * Seals `items` after the chain's last entry and writes them, with their input snapshots, their
   * notifications, their delivery ids and the chain's recorded head, atomically. The head is read
   * where the write holds the chain, never given. Calls may be made before earlier ones settled:
   * they are written in the order made (several calls may share a transaction). A failed call
   * leaves no trace and does not fail the calls after it. Never rejects: a failure is `ok: false`.
   */
  append(chain: string, key: string | null, items: readonly SealItem[]): Promise<ChainAppend>;
  /** the last entry of `chain`, of any kind (or its checkpoint when everything was pruned) */
  head(chain: string): Promise<{ seq: number; hash: string } | undefined>;
  /** the chains with entries or a checkpoint */
  chains(): Promise<string[]>;
  checkpoint(chain: string): Promise<Checkpoint | undefined>;
  /**
   * Checks up to `limit` entries of `chain` after `from` (see `verifyRows`), where the rows are: a
   * store that reads on threads of its own checks there, so a long verification never holds the
   * event loop.
   */
  verifyChunk(
    chain: string,
    from: ChainPosition,
    key: string | null,
    limit: number,
  ): Promise<VerifyStep>;
  /**
   * Damage to the store itself that reading entries does not show (SQLite: `PRAGMA quick_check`
   * over every page); empty when none is found, or when the store has no such check.
   */
  checkPages(): Promise<string[]>;
  /** the decision with this id */
  get(id: string): Promise<DecisionRow | undefined>;
  input(hash: string): Promise<string | undefined>;
  /** several input snapshots in one read; hashes not stored are absent from the map */
  inputs(hashes: readonly string[]): Promise<Map<string, string>>;
  /** the newest decision on this file */
  latestFor(sha256: string): Promise<DecisionRow | undefined>;
  /** the newest decision on each of these files that has one, in one read */
  latestForEach(sha256s: readonly string[]): Promise<DecisionRow[]>;
  /** decisions matching a filter, a page at a time */
  page(query: PageQuery): Promise<DecisionRow[]>;
  /**
   * Decisions in a time range counted per bucket, rule and `HitKind`, in one aggregate read over
   * the time index (only non-zero counts; no order).
   */
  hits(query: HitsQuery): Promise<HitCount[]>;
  /** The next piece of an export of decisions as NDJSON text, made where the rows are. */
  exportChunk(query: PageQuery, inputs: boolean, maxBytes: number): Promise<ExportChunk>;
  /**
   * Entries of the kind named `kind` (not decisions) matching `query`, from every chain, oldest
   * first. Throws TypeError for a kind the store does not hold or a field it has no column for.
   */
  kindPage(kind: string, query: KindQuery): Promise<EntryRow[]>;
  /** the last entry of `chain`, of any kind, older than `before` */
  lastBefore(chain: string, before: string): Promise<EntryRow | undefined>;
  /** entries of `chain`, of every kind, in chain order from `afterSeq + 1`, at most `limit` */
  chainAfter(chain: string, afterSeq: number, limit: number): Promise<EntryRow[]>;
  /** removes the chain's entries up to `checkpoint.seq` and records the checkpoint, atomically */
  prune(checkpoint: Checkpoint): Promise<number>;
}

/** A request taking an idempotency key (`OutboxStore.claimKey`); times are RFC 3339. */
export interface KeyClaim {
  /** the API key id ('' without keys) */
  requester: string;
  key: string;
  bodyHash: string;
  now: string;
  /** held until then unless released first (a request that dies lets go by itself) */
  lockedUntil: string;
  /** who holds it: only they release it */
  holder: string;
  /** a key first taken before then has expired */
  expiredBefore: string;
}

/** `locked_until` of a key no request holds. */
export const UNLOCKED = "1970-01-01T00:00:00.000Z";

export type KeyClaimOutcome =
  | { outcome: "claimed"; createdAt: string }
  | { outcome: "busy" }
  | { outcome: "reused" };

export interface OutboxStore {
  /** this chain's undelivered notifications due at `now`, oldest first */
  dueNotifications(chain: string, now: string, limit: number): Promise<OutboxRow[]>;
  /** records a delivery attempt: delivered (`deliveredAt`) or failed (next attempt, error) */
  updateNotification(id: string, update: NotificationUpdate): Promise<void>;
  /** undelivered notifications of this chain */
  pendingNotifications(chain: string): Promise<number>;
  /** whether an entry with this delivery id (a webhook delivery, a synced result version) was written */
  hasDelivery(id: string): Promise<boolean>;
  /** the entry each of these delivery ids was written with, for those written (with their entry) */
  deliveryEntries(ids: readonly string[]): Promise<Map<string, string>>;
  /**
   * Takes an idempotency key for one request at a time, atomically (across replicas on
   * PostgreSQL): `claimed` (with the time it was first taken, which names its items), `busy`
   * while another request holds it (until `claim.lockedUntil`), `reused` when it was taken for
   * another body. A key first taken before `claim.expiredBefore` is taken anew.
   */
  claimKey(claim: KeyClaim): Promise<KeyClaimOutcome>;
  /** lets the next request with this key take it, if `holder` still holds it */
  releaseKey(requester: string, key: string, holder: string): Promise<void>;
  /** removes delivered notifications, delivery ids and idempotency keys recorded before `before` */
  prune(before: string): Promise<{ notifications: number; deliveries: number }>;
  /** keeps events a SIEM sink could not take; one already kept for its sink is left as it is */
  deadLetter(letters: readonly DeadLetter[]): Promise<void>;
  /** a sink's dead letters in chain order, at most `limit` */
  deadLetters(sink: string, limit: number): Promise<DeadLetter[]>;
  /** how many dead letters each sink has (sinks without any are absent) */
  deadLetterCounts(): Promise<Map<string, number>>;
}

/** An event a SIEM sink did not take (docs/siem.md, "Delivery"): rendered, with why. */
export interface DeadLetter {
  sink: string;
  eventId: string;
  chain: string;
  seq: number;
  kind: string;
  /** the event's time */
  time: string;
  /** as rendered for the sink */
  body: string;
  error: string;
  createdAt: string;
}

export interface StateStore {
  /** every chain's head as recorded with its last write (empty for a log written before they were) */
  recordedHeads(): Promise<RecordedHead[]>;
  /** a background job's saved state (the sync cursor), or undefined */
  get(key: string): Promise<string | undefined>;
  /**
   * Saves a job's state so that it outlives the process, but not always the machine: the save does
   * not wait for the disk (SQLite), so a power loss may take the last saves. What is kept here is a
   * cursor whose loss redoes work (resends, re-reads), never loses it; each save was an fsync on
   * the thread that serves requests.
   */
  set(key: string, value: string): Promise<void>;
}

/** An entry with this delivery id is already recorded or being recorded. */
export class DuplicateDeliveryError extends Error {
  override name = "DuplicateDeliveryError";
}

/**
 * The store cannot take writes (database down, disk full): decisions must be refused, not
 * unrecorded. `scope` says whether the store is at fault (`store`: every write would fail now) or
 * only this write (`entry`: it broke a constraint, such as an id already taken), which says nothing
 * about the store's health.
 */
export class AuditUnavailableError extends DomainError {
  override name = "AuditUnavailableError";
  readonly scope: "store" | "entry";
  constructor(message: string, options: ErrorOptions & { scope?: "store" | "entry" } = {}) {
    super(message, [], options);
    this.scope = options.scope ?? "store";
  }
}

/**
 * The store is damaged: its file is not a database, is truncated, has pages SQLite cannot read, was
 * emptied, replaced or lost its write-ahead log, or its chains do not end where they were recorded
 * to. Unlike an outage it does not heal: it stays until an operator restores or replaces the log
 * (docs/operations.md, "Damaged logs").
 */
export class AuditDamagedError extends AuditUnavailableError {
  override name = "AuditDamagedError";
  constructor(
    message: string,
    /** what the store said, as it said it (SQLite's message and code), when it said something */
    readonly said?: { message: string; code?: string },
    options: ErrorOptions = {},
  ) {
    super(message, { ...options, scope: "store" });
  }
}

/** A store used before `open()` (or after `close()`). */
export function notOpen(where: string): AuditUnavailableError {
  return new AuditUnavailableError(`the audit store ${where} is not open`);
}
