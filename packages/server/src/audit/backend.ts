import type { DecisionSource } from "./entry.js";
import type { Placement, SealItem } from "./seal.js";
import type { ChainPosition, VerifyStep } from "./verify.js";

/** One stored entry: the columns queries filter on, plus the canonical body and its hash. */
export interface EntryRow {
  id: string;
  chain: string;
  seq: number;
  time: string;
  source: DecisionSource;
  requester: string | null;
  sha256: string;
  decision: string;
  rule: string | null;
  inputHash: string;
  body: string;
  hash: string;
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

export interface DeliveryRow {
  id: string;
  time: string;
}

export interface InputRow {
  hash: string;
  body: string;
}

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
  /** inclusive, RFC 3339 */
  from?: string;
  /** exclusive, RFC 3339 */
  to?: string;
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
 * What one `appendToChain` call came to. `commit` describes the transaction the call was part of
 * and is given to only one of the calls that shared it, so that it is counted once.
 */
export type ChainAppend = (
  | { ok: true; placements: Placement[] }
  | { ok: false; error: AuditUnavailableError }
) & { commit?: { entries: number; seconds: number } };

/**
 * A storage engine for the audit log. By default it knows SQL, not chains: the AuditLog above it
 * seals batches (`seal.ts`) and calls `write` with each (one transaction each), one at a time. A
 * backend that seals where it writes offers `appendToChain` instead.
 */
export interface AuditBackend {
  readonly kind: "sqlite" | "postgres";
  /** names the store in messages: "`data/audit.db`", "PostgreSQL schema `clearance`" */
  readonly where: string;
  /** applies pending schema migrations; returns the schema version */
  migrate(): Promise<number>;
  /** the last entry of `chain` (or its checkpoint when everything was pruned) */
  head(chain: string): Promise<{ seq: number; hash: string } | undefined>;
  /**
   * Writes entries, new inputs, their notifications and their delivery ids atomically: all or
   * nothing. A delivery id is recorded in the same transaction as its entry, so a crash can lose
   * neither one without the other (a delivery is never marked received without its decision).
   */
  write(
    rows: readonly EntryRow[],
    inputs: readonly InputRow[],
    outbox?: readonly OutboxRow[],
    deliveries?: readonly DeliveryRow[],
  ): Promise<void>;
  /**
   * Seals `items` after the chain's last entry and writes them: the backend keeps the chain's head
   * itself, so a call may be made before earlier ones settled (they are written in order, several
   * calls to one transaction). A failed call leaves no trace and does not fail the calls after it.
   * Never rejects: a failure is `ok: false`.
   */
  appendToChain?(
    chain: string,
    key: string | null,
    items: readonly SealItem[],
  ): Promise<ChainAppend>;
  /** this chain's undelivered notifications due at `now`, oldest first */
  dueNotifications(chain: string, now: string, limit: number): Promise<OutboxRow[]>;
  /** records a delivery attempt: delivered (`deliveredAt`) or failed (next attempt, error) */
  updateNotification(id: string, update: NotificationUpdate): Promise<void>;
  /** undelivered notifications of this chain */
  pendingNotifications(chain: string): Promise<number>;
  get(id: string): Promise<EntryRow | undefined>;
  input(hash: string): Promise<string | undefined>;
  /** several input snapshots in one read; hashes not stored are absent from the map */
  inputs(hashes: readonly string[]): Promise<Map<string, string>>;
  latestFor(sha256: string): Promise<EntryRow | undefined>;
  page(query: PageQuery): Promise<EntryRow[]>;
  chains(): Promise<string[]>;
  /** entries of one chain in seq order, from `afterSeq + 1`, at most `limit` */
  chainRows(chain: string, afterSeq: number, limit: number): Promise<EntryRow[]>;
  checkpoint(chain: string): Promise<Checkpoint | undefined>;
  /** every chain's head as recorded with its last write (empty for a log written before they were) */
  recordedHeads(): Promise<RecordedHead[]>;
  /**
   * Checks up to `limit` entries of `chain` after `from` (see `verifyRows`), where the rows are. A
   * backend that reads on a thread of its own checks there too, so a long verification never
   * holds the event loop. Optional: the log reads rows and checks them itself otherwise.
   */
  verifyChunk?(
    chain: string,
    from: ChainPosition,
    key: string | null,
    limit: number,
  ): Promise<VerifyStep>;
  /** The next piece of an export as NDJSON text, made where the rows are. Optional, as above. */
  exportChunk?(query: PageQuery, inputs: boolean, maxBytes: number): Promise<ExportChunk>;
  /**
   * Damage to the store itself that reading entries does not show (SQLite: `PRAGMA quick_check`
   * over every page). Empty when none is found. Optional.
   */
  checkPages?(): Promise<string[]>;
  /** removes the chain's entries up to `checkpoint.seq` and records the checkpoint, atomically */
  prune(checkpoint: Checkpoint): Promise<number>;
  /** removes delivered notifications and delivery ids recorded before `before` */
  pruneHousekeeping(before: string): Promise<{ notifications: number; deliveries: number }>;
  /** the last entry of `chain` older than `before` */
  lastBefore(chain: string, before: string): Promise<EntryRow | undefined>;
  /** whether an entry with this delivery id (a webhook delivery, a synced result version) was written */
  hasDelivery(id: string): Promise<boolean>;
  /** a background job's saved state (the sync cursor), or undefined */
  getState(key: string): Promise<string | undefined>;
  setState(key: string, value: string): Promise<void>;
  /** throws when the store cannot be reached */
  ping(): Promise<void>;
  /**
   * Throws when this process could not write to `chain` now: unreachable, locked by another writer,
   * full, damaged, replaced. A real write that leaves nothing behind where the backend can, so
   * that what fails writes fails this too.
   */
  checkWritable(chain: string): Promise<void>;
  close(): Promise<void>;
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
export class AuditUnavailableError extends Error {
  override name = "AuditUnavailableError";
  readonly scope: "store" | "entry";
  constructor(message: string, options: ErrorOptions & { scope?: "store" | "entry" } = {}) {
    super(message, options);
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
