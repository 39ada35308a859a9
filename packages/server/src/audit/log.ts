import { performance } from "node:perf_hooks";
import {
  type AuditBackend,
  type AuditFilter,
  AuditUnavailableError,
  type ChainAppend,
  type Checkpoint,
  DuplicateDeliveryError,
  type EntryRow,
} from "./backend.js";
import {
  type AuditEntry,
  type AuditRecord,
  chainHash,
  checkpointMac,
  contentHash,
  GENESIS_HASH,
  parseEntry,
} from "./entry.js";
import { idTime } from "./ids.js";
import {
  type ChainHead,
  type Notification,
  type Placement,
  type SealItem,
  sealBatch,
  sealItem,
} from "./seal.js";

export interface AuditLogOptions {
  /** this writer's chain */
  chain: string;
  hmacSecret: string | null;
  /** most entries in one group commit */
  maxBatch: number;
  /** called after each group commit (for metrics) */
  onCommit?: (entries: number, seconds: number, ok: boolean) => void;
  /** called after a commit that queued notifications (wakes the sender) */
  onNotificationsQueued?: () => void;
}

export interface VerifyReport {
  ok: boolean;
  /** entries checked over all chains */
  entries: number;
  chains: {
    chain: string;
    entries: number;
    /** seq of the first kept entry (after a checkpoint) */
    from: number;
    to: number;
    head: string;
  }[];
  /** the first broken link found, when any */
  broken?: { chain: string; seq: number; id: string | null; problem: string };
}

interface Pending {
  record: Omit<AuditRecord, "inputHash">;
  item: SealItem;
  resolve: (entry: AuditEntry) => void;
  reject: (error: Error) => void;
}

/** Page size when reading a chain back for verification or export. */
const READ_PAGE = 1_000;
/** Delivery ids remembered in memory; older ones are found in the database. */
const RECENT_DELIVERIES_MAX = 100_000;
/** How far an id's time may run ahead of its entry's (newId borrows milliseconds under load). */
const ID_TIME_SKEW_MS = 5_000;

/**
 * The tamper-evident log. Decisions call `append`; entries that arrive while a write is in flight
 * are written together in the next transaction (group commit), so durability costs one sync per
 * batch rather than per decision. `append` resolves only after the transaction has committed: a
 * caller that answers after it never answers with an unrecorded decision.
 *
 * A backend that seals where it writes (SQLite's writer thread) gets each turn's entries at once
 * and groups them itself; for the others the log seals each batch and writes one at a time.
 */
export class AuditLog {
  private pending: Pending[] = [];
  /** entries handed to the backend and not yet committed */
  private inFlight = 0;
  private flushing = false;
  private scheduled = false;
  private head: ChainHead | undefined;
  private headStale = true;
  /** delivery ids being written or written lately by this process, oldest first */
  private readonly recentDeliveries = new Set<string>();
  private closed = false;

  constructor(
    readonly backend: AuditBackend,
    private readonly options: AuditLogOptions,
  ) {}

  get chain(): string {
    return this.options.chain;
  }

  /** entries waiting to be committed */
  get queueLength(): number {
    return this.pending.length + this.inFlight;
  }

  async open(): Promise<void> {
    await this.backend.migrate();
    if (!this.backend.appendToChain) await this.loadHead();
  }

  private async loadHead(): Promise<void> {
    this.head = (await this.backend.head(this.options.chain)) ?? { seq: 0, hash: GENESIS_HASH };
    this.headStale = false;
  }

  /**
   * Stores the input snapshot (once per distinct content), the entry and its notifications (in the
   * outbox); resolves once all of it is durable.
   */
  append(
    record: Omit<AuditRecord, "inputHash">,
    inputBody: string,
    notifications: readonly Notification[] = [],
  ): Promise<AuditEntry> {
    if (this.closed) return Promise.reject(new AuditUnavailableError("the audit log is closed"));
    // time ranges are answered as id ranges: an id must carry its entry's time
    if (Math.abs(idTime(record.id) - Date.parse(record.time)) > ID_TIME_SKEW_MS)
      return Promise.reject(
        new TypeError(`entry id \`${record.id}\` is not a UUIDv7 of its time \`${record.time}\``),
      );
    const delivery = record.deliveryId;
    if (delivery !== null) {
      // checked and taken synchronously, so two copies of one delivery cannot both pass
      if (this.recentDeliveries.has(delivery))
        return Promise.reject(
          new DuplicateDeliveryError(`delivery \`${delivery}\` is already recorded`),
        );
      this.recentDeliveries.add(delivery);
      if (this.recentDeliveries.size > RECENT_DELIVERIES_MAX)
        this.recentDeliveries.delete(this.recentDeliveries.values().next().value!);
    }
    const item = sealItem(record, inputBody, notifications);
    return new Promise((resolve, reject) => {
      this.pending.push({ record, item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.flushing || this.scheduled) return;
    this.scheduled = true;
    // setImmediate lets every request parsed in this turn of the event loop join the batch
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing || this.pending.length === 0) return;
    const batch = this.pending.splice(0, this.options.maxBatch);
    const pipelined = this.backend.appendToChain !== undefined;
    // a sealing backend takes the next batch before this one commits; the others one at a time
    if (!pipelined) this.flushing = true;
    this.inFlight += batch.length;
    try {
      const outcome = pipelined
        ? await this.backend.appendToChain!(
            this.options.chain,
            this.options.hmacSecret,
            batch.map((p) => p.item),
          )
        : await this.sealAndWrite(batch);
      if (outcome.commit)
        this.options.onCommit?.(outcome.commit.entries, outcome.commit.seconds, outcome.ok);
      if (outcome.ok) this.settle(batch, outcome.placements);
      else this.fail(batch, outcome.error);
    } catch (error) {
      // backends report failures as outcomes; anything thrown is a bug, and must not hang callers
      this.fail(
        batch,
        new AuditUnavailableError(`the audit log failed: ${(error as Error).message}`, {
          cause: error,
        }),
      );
    } finally {
      this.inFlight -= batch.length;
      this.flushing = false;
      if (this.pending.length > 0) this.schedule();
    }
  }

  /** Seals on the event loop and writes through `backend.write`: one batch at a time. */
  private async sealAndWrite(batch: readonly Pending[]): Promise<ChainAppend> {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      if (this.headStale) await this.loadHead();
      const sealed = sealBatch(
        batch.map((p) => p.item),
        this.options.chain,
        this.head!,
        this.options.hmacSecret,
      );
      await this.backend.write(sealed.rows, sealed.inputs, sealed.outbox, sealed.deliveries);
      this.head = sealed.head;
      return {
        ok: true,
        placements: sealed.placements,
        commit: { entries: batch.length, seconds: seconds() },
      };
    } catch (error) {
      // the commit may or may not have happened: read the head again before the next batch
      this.headStale = true;
      const reason =
        error instanceof AuditUnavailableError
          ? error
          : new AuditUnavailableError(
              `the audit log could not record the decision: ${(error as Error).message}`,
              { cause: error },
            );
      return { ok: false, error: reason, commit: { entries: 0, seconds: seconds() } };
    }
  }

  private settle(batch: readonly Pending[], placements: readonly Placement[]): void {
    const chain = this.options.chain;
    let notified = false;
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      const at = placements[i]!;
      if (p.item.notifications.length > 0) notified = true;
      p.resolve({
        ...p.record,
        inputHash: at.inputHash,
        chain,
        seq: at.seq,
        prevHash: at.prevHash,
        hash: at.hash,
      });
    }
    if (notified) this.options.onNotificationsQueued?.();
  }

  private fail(batch: readonly Pending[], error: AuditUnavailableError): void {
    for (const p of batch) {
      if (p.record.deliveryId !== null) this.recentDeliveries.delete(p.record.deliveryId);
      p.reject(error);
    }
  }

  async get(id: string): Promise<{ entry: AuditEntry; input: unknown } | undefined> {
    const row = await this.backend.get(id);
    if (!row) return undefined;
    const entry = parseEntry(row.body, row.hash);
    const text = await this.backend.input(entry.inputHash);
    return { entry, input: text === undefined ? null : JSON.parse(text) };
  }

  async latestFor(sha256: string): Promise<AuditEntry | undefined> {
    const row = await this.backend.latestFor(sha256);
    return row ? parseEntry(row.body, row.hash) : undefined;
  }

  /** Newest first; `cursor` is the last id of the previous page. */
  async query(
    filter: AuditFilter,
    limit: number,
    cursor?: string,
  ): Promise<{ entries: AuditEntry[]; nextCursor: string | null }> {
    const rows = await this.backend.page({
      ...filter,
      limit: limit + 1,
      ...(cursor ? { before: cursor } : {}),
    });
    const more = rows.length > limit;
    const entries = rows.slice(0, limit).map((r) => parseEntry(r.body, r.hash));
    return { entries, nextCursor: more ? entries[entries.length - 1]!.id : null };
  }

  /** Every matching entry, oldest first, with its input snapshot; reads page by page. */
  async *export(
    filter: AuditFilter,
    options: { inputs?: boolean; after?: string } = {},
  ): AsyncGenerator<AuditEntry & { input?: unknown }> {
    let after = options.after;
    for (;;) {
      const rows = await this.backend.page({
        ...filter,
        limit: READ_PAGE,
        ascending: true,
        ...(after ? { after } : {}),
      });
      for (const row of rows) {
        const entry: AuditEntry & { input?: unknown } = parseEntry(row.body, row.hash);
        if (options.inputs !== false) {
          const text = await this.backend.input(row.inputHash);
          entry.input = text === undefined ? null : JSON.parse(text);
        }
        yield entry;
      }
      if (rows.length < READ_PAGE) return;
      after = rows[rows.length - 1]!.id;
    }
  }

  /**
   * Walks every chain from its start (or checkpoint) and recomputes each hash. Reports the first
   * broken link: an edited body, a removed or reordered entry, a forged checkpoint, a changed input.
   */
  async verify(): Promise<VerifyReport> {
    const key = this.options.hmacSecret;
    const report: VerifyReport = { ok: true, entries: 0, chains: [] };
    for (const chain of await this.backend.chains()) {
      const cp = await this.backend.checkpoint(chain);
      let seq = 0;
      let hash = GENESIS_HASH;
      if (cp) {
        if (cp.mac !== checkpointMac(cp.chain, cp.seq, cp.hash, key)) {
          report.ok = false;
          report.broken = { chain, seq: cp.seq, id: null, problem: "checkpoint_forged" };
          return report;
        }
        seq = cp.seq;
        hash = cp.hash;
      }
      const summary = { chain, entries: 0, from: seq + 1, to: seq, head: hash };
      report.chains.push(summary);
      for (;;) {
        const rows = await this.backend.chainRows(chain, seq, READ_PAGE);
        for (const row of rows) {
          const problem = await this.checkRow(row, chain, seq + 1, hash, key);
          if (problem) {
            report.ok = false;
            report.broken = { chain, seq: seq + 1, id: row.id, problem };
            return report;
          }
          seq = row.seq;
          hash = row.hash;
          summary.entries++;
          report.entries++;
        }
        if (rows.length < READ_PAGE) break;
      }
      summary.to = seq;
      summary.head = hash;
    }
    return report;
  }

  private async checkRow(
    row: EntryRow,
    chain: string,
    seq: number,
    prevHash: string,
    key: string | null,
  ): Promise<string | undefined> {
    if (row.seq !== seq) return row.seq > seq ? "entry_missing" : "entry_out_of_order";
    if (chainHash(prevHash, row.body, key) !== row.hash) return "hash_mismatch";
    let entry: AuditEntry;
    try {
      entry = parseEntry(row.body, row.hash);
    } catch {
      return "body_unreadable";
    }
    if (entry.prevHash !== prevHash || entry.seq !== seq || entry.chain !== chain)
      return "link_mismatch";
    // the columns queries filter on must say what the hashed body says
    if (
      entry.id !== row.id ||
      entry.time !== row.time ||
      entry.sha256 !== row.sha256 ||
      entry.decision !== row.decision ||
      entry.rule !== row.rule ||
      entry.source !== row.source ||
      entry.requester !== row.requester ||
      entry.inputHash !== row.inputHash
    )
      return "column_mismatch";
    const input = await this.backend.input(entry.inputHash);
    if (input === undefined) return "input_missing";
    if (contentHash(input) !== entry.inputHash) return "input_mismatch";
    return undefined;
  }

  /**
   * Removes this log's entries older than `before`, recording a checkpoint (signed with the chain's
   * key) where the kept chain now starts, so the rest still verifies.
   */
  async prune(before: Date): Promise<number> {
    // delivered notifications and old delivery ids go too (a replay that old fails its timestamp)
    await this.backend.pruneHousekeeping(before.toISOString());
    const last = await this.backend.lastBefore(this.options.chain, before.toISOString());
    if (!last) return 0;
    const cp: Checkpoint = {
      chain: this.options.chain,
      seq: last.seq,
      hash: last.hash,
      mac: checkpointMac(this.options.chain, last.seq, last.hash, this.options.hmacSecret),
      prunedAt: new Date().toISOString(),
    };
    return this.backend.prune(cp);
  }

  /** Whether an entry with this delivery id is recorded, or being recorded by this process. */
  async hasDelivery(id: string): Promise<boolean> {
    return this.recentDeliveries.has(id) || (await this.backend.hasDelivery(id));
  }

  ping(): Promise<void> {
    return this.backend.ping();
  }

  /** Throws when an append would fail now: the store unreachable or this chain locked elsewhere. */
  checkWritable(): Promise<void> {
    return this.backend.checkWritable(this.options.chain);
  }

  /** Waits for queued entries to be written, then closes the store. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing || this.pending.length > 0 || this.inFlight > 0) {
      if (!this.flushing && this.pending.length > 0) await this.flush();
      else await new Promise((r) => setImmediate(r));
    }
    await this.backend.close();
  }
}
