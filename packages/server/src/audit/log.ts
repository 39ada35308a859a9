import {
  AuditDamagedError,
  type AuditFilter,
  type AuditStore,
  AuditUnavailableError,
  type ChainAppend,
  type Checkpoint,
  DuplicateDeliveryError,
  type HitCount,
  type HitsQuery,
  type KeyClaim,
  type KeyClaimOutcome,
  type KindQuery,
  type PageQuery,
} from "./backend.js";
import {
  type AuditEntry,
  checkpointMac,
  type DecisionRecord,
  GENESIS_HASH,
  parseEntry,
} from "./entry.js";
import { AuditHealth } from "./health.js";
import { idTime } from "./ids.js";
import { DECISION_KIND, type EntryKind } from "./kinds.js";
import { kindItem, type Notification, type Placement, type SealItem, sealItem } from "./seal.js";
import type { ChainPosition, VerifyStep } from "./verify.js";

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
  /**
   * A decision whose entry is not committed this long after `append` is refused
   * (AuditUnavailableError), whatever the store is doing: a database that stopped answering
   * without closing its connections holds no caller longer. The entry may still be committed
   * later (it was sent): a refused decision can be in the log, an answered one is always there.
   */
  appendTimeoutMs?: number;
  /** While the store is unavailable, how often to check whether it is back (0: only when asked). */
  recoveryProbeMs?: number;
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
  /** what could not be read at all, when the store is damaged */
  damage?: VerifyDamage;
}

/** Damage found while verifying: where, what the store said, and which entries it lost. */
export interface VerifyDamage {
  /** the store: "`data/audit.db`", "PostgreSQL schema `x`" */
  where: string;
  /** what the store said first, as it said it */
  message: string;
  /** the store's error code, when it gave one (`SQLITE_CORRUPT`) */
  code: string | null;
  /** entries (or their inputs) that could not be read; `to: null` runs to the chain's end */
  unreadable: { chain: string; from: number; to: number | null }[];
  /** damage to the file's pages reading the entries does not show (`PRAGMA quick_check`) */
  pages: string[];
}

/** The fields of an entry of another kind than a decision: its kind's (`EntryKind.fields`). */
export type EntryFields = Readonly<Record<string, unknown>> & { id: string; time: string };

/** An entry of another kind, as appended: its fields, its kind, its place in the chain. */
export type KindEntry<F extends EntryFields> = F & {
  kind: string;
  chain: string;
  seq: number;
  prevHash: string;
  hash: string;
  /** for a kind with an input snapshot */
  inputHash?: string;
};

/**
 * An entry of another kind as read back (`AuditLog.entriesOf`): its body as stored (the kind's
 * fields and its place in the chain: `v`, `kind`, `chain`, `seq`, `prevHash`) and its hash.
 */
export type StoredEntry = Record<string, unknown> & {
  kind: string;
  id: string;
  chain: string;
  seq: number;
  time: string;
  hash: string;
};

interface Pending {
  item: SealItem;
  /** answers the caller with its entry, placed */
  placed: (at: Placement) => void;
  reject: (error: Error) => void;
  /** when `append` was called, for the deadline and for when an outage began */
  arrived: number;
  timer: NodeJS.Timeout | undefined;
  /** answered already: by the deadline, or by the commit */
  done: boolean;
}

/** Entries of a chain read and checked at a time by verification. */
const VERIFY_PAGE = 500;
/** How much of a hits range one read covers (`hits`): a day, in whole buckets. */
const HITS_READ_MS = 86_400_000;
/** Entries read at a time by `export` (objects), and at most by one chunk of `exportLines`. */
const READ_PAGE = 500;
/** About this many characters of NDJSON in one chunk of `exportLines`. */
const EXPORT_CHUNK_BYTES = 256 * 1024;
/**
 * Batches handed to the store and not yet settled, at most: one being written, and the next
 * waiting where it will be written (queued on the writer thread, or behind the write on the
 * PostgreSQL writer connection), so the store never idles between two commits while the answer
 * to the first travels back. What arrives meanwhile waits here, to go as one batch.
 */
const WRITES_IN_FLIGHT = 2;
/** The newest entries of its chain a log checks before it writes after them. */
const TAIL_CHECKED = 64;
/** How far past unreadable entries verification looks for readable ones, at most. */
const MAX_PROBE_SPAN = 2 ** 40;
/** Delivery ids remembered in memory; older ones are found in the database. */
const RECENT_DELIVERIES_MAX = 100_000;
/** How far an id's time may run ahead of its entry's (newId borrows milliseconds under load). */
const ID_TIME_SKEW_MS = 5_000;

/**
 * The tamper-evident log. Decisions call `append`; entries that arrive while writes are in flight
 * are written together in the next transaction (group commit), so durability costs one sync per
 * batch rather than per decision. `append` resolves only after the transaction has committed: a
 * caller that answers after it never answers with an unrecorded decision.
 *
 * The log never knows where its chain ends: it hands each batch to its store unsealed, and the
 * store seals it inside the write that stores it (`AuditStore`, "seal where you write"). One path,
 * whatever the store.
 */
export class AuditLog {
  private pending: Pending[] = [];
  /** entries handed to the store and not yet committed */
  private inFlight = 0;
  /** batches handed to the store and not yet settled */
  private writes = 0;
  private scheduled = false;
  /** delivery ids being written or written lately by this process, oldest first */
  /** delivery ids taken recently, each with its slot in `deliveryRing` */
  private readonly recentDeliveries = new Map<string, number>();
  /** the delivery ids in the order they were taken, oldest at `deliveryNext` once full */
  private readonly deliveryRing: (string | undefined)[] = [];
  private deliveryNext = 0;
  private closed = false;
  /** whether the store can record now, as writes, probes and reads found it */
  readonly health = new AuditHealth();
  private probing: Promise<void> | undefined;
  private recoveryTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly store: AuditStore,
    private readonly options: AuditLogOptions,
  ) {
    this.health.onChange((change) => {
      if (change.to === "unavailable") this.watchRecovery();
    });
  }

  get chain(): string {
    return this.options.chain;
  }

  /** entries waiting to be committed */
  get queueLength(): number {
    return this.pending.length + this.inFlight;
  }

  /**
   * Opens the store (which migrates it, unless it is read-only), then checks this log's chain
   * before writing after it: its entries must end at the head recorded with the last write (a log
   * emptied or cut short is refused), and its newest entries must verify (with this key). Throws
   * AuditDamagedError when they do not. A log opened for reading only is not checked here: its
   * `verify` reports what it finds.
   */
  async open(): Promise<void> {
    await this.store.open();
    if (!this.store.readonly) await this.checkChainEnd();
  }

  private async checkChainEnd(): Promise<void> {
    const chain = this.options.chain;
    const where = this.store.where;
    // the recorded head first: a chain someone else is appending to (a misconfigured replica)
    // can only be found longer than recorded, never shorter
    const recorded = (await this.store.state.recordedHeads()).find((h) => h.chain === chain);
    const stored = await this.store.entries.head(chain);
    if (recorded && !stored)
      throw new AuditDamagedError(
        `chain \`${chain}\` in ${where} has no entries, but its last write recorded seq ${recorded.seq}: the log was emptied`,
      );
    if (recorded && stored && stored.seq < recorded.seq)
      throw new AuditDamagedError(
        `chain \`${chain}\` in ${where} ends at seq ${stored.seq}, but its last write recorded seq ${recorded.seq}: its newest entries were removed`,
      );
    if (recorded && stored && stored.seq === recorded.seq && stored.hash !== recorded.hash)
      throw new AuditDamagedError(
        `chain \`${chain}\` in ${where} ends at seq ${stored.seq} with hash ${stored.hash.slice(0, 16)}, not ${recorded.hash.slice(0, 16)} as its last write recorded`,
      );
    if (!stored || stored.seq === 0) return;
    let from: ChainPosition = { seq: Math.max(0, stored.seq - TAIL_CHECKED), hash: null };
    if (from.seq === 0) from = { seq: 0, hash: GENESIS_HASH };
    const cp = await this.store.entries.checkpoint(chain);
    if (cp && cp.seq >= from.seq) from = { seq: cp.seq, hash: cp.hash };
    if (from.seq >= stored.seq) return;
    const step = await this.verifyStep(chain, from, TAIL_CHECKED);
    if (step.broken)
      throw new AuditDamagedError(
        `the newest entries of chain \`${chain}\` in ${where} do not verify: ${step.broken.problem.replaceAll("_", " ")} at seq ${step.broken.seq}${step.broken.problem === "hash_mismatch" ? " (edited, or written with another `audit.hmacSecret`)" : ""}`,
      );
  }

  /**
   * Stores the input snapshot (once per distinct content), the entry and its notifications (in the
   * outbox); resolves once all of it is durable.
   */
  append(
    record: DecisionRecord,
    inputBody: string,
    notifications: readonly Notification[] = [],
    options: { deliveryId?: string } = {},
  ): Promise<AuditEntry> {
    const delivery = options.deliveryId ?? record.deliveryId;
    const refused = this.refusal(record.id, record.time, delivery);
    if (refused) return refused;
    const item = sealItem(record, inputBody, notifications);
    // a delivery id of the request (a batch item's idempotency key), not of the entry's body
    if (options.deliveryId !== undefined) item.deliveryId = options.deliveryId;
    return this.enqueue(item, (at) => ({
      ...record,
      inputHash: at.inputHash!,
      chain: this.options.chain,
      seq: at.seq,
      prevHash: at.prevHash,
      hash: at.hash,
    }));
  }

  /**
   * Appends an entry of another kind than a decision (`kinds.ts`) to this log's chain: `fields` in
   * the kind's order, `input` for a kind with an input snapshot. Resolves once it is durable, as
   * `append` does.
   */
  appendEntry<F extends EntryFields>(
    kind: EntryKind,
    fields: F,
    options: {
      input?: string;
      deliveryId?: string | null;
      notifications?: readonly Notification[];
    } = {},
  ): Promise<KindEntry<F>> {
    if (kind === DECISION_KIND || !this.store.kinds.includes(kind))
      return Promise.reject(
        new TypeError(
          kind === DECISION_KIND
            ? "decisions are appended with `append`"
            : `entry kind \`${kind.name}\` is not one of ${this.store.where}'s (${this.store.kinds.map((k) => `\`${k.name}\``).join(", ")})`,
        ),
      );
    let item: SealItem;
    try {
      item = kindItem(kind, fields, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const refused = this.refusal(fields.id, fields.time, item.deliveryId);
    if (refused) return refused;
    return this.enqueue(item, (at) => ({
      ...fields,
      kind: kind.name,
      chain: this.options.chain,
      seq: at.seq,
      prevHash: at.prevHash,
      hash: at.hash,
      ...(at.inputHash === null ? {} : { inputHash: at.inputHash }),
    }));
  }

  /**
   * Why an entry is refused before it is queued, as a rejected promise; undefined when it is not.
   * A delivery id it carries is taken here, synchronously, so that two copies of one delivery
   * cannot both pass.
   */
  private refusal(id: string, time: string, delivery: string | null): Promise<never> | undefined {
    if (this.closed) return Promise.reject(new AuditUnavailableError("the audit log is closed"));
    // time ranges are answered as id ranges: an id must carry its entry's time
    if (Math.abs(idTime(id) - Date.parse(time)) > ID_TIME_SKEW_MS)
      return Promise.reject(
        new TypeError(`entry id \`${id}\` is not a UUIDv7 of its time \`${time}\``),
      );
    if (delivery !== null) {
      if (this.recentDeliveries.has(delivery))
        return Promise.reject(
          new DuplicateDeliveryError(`delivery \`${delivery}\` is already recorded`),
        );
      this.rememberDelivery(delivery);
    }
    return undefined;
  }

  /**
   * Keeps the newest RECENT_DELIVERIES_MAX delivery ids, forgetting the oldest. Their order is kept
   * in a ring: a Set's oldest value (`values().next()`) walks past every slot deleted since the
   * last rehash, which cost tens of microseconds a delivery once 100,000 had passed.
   */
  private rememberDelivery(delivery: string): void {
    const slot = this.deliveryNext;
    const oldest = this.deliveryRing[slot];
    // the id in this slot is forgotten unless it was deleted since (its entry failed) or taken
    // again into a newer slot
    if (oldest !== undefined && this.recentDeliveries.get(oldest) === slot)
      this.recentDeliveries.delete(oldest);
    this.deliveryRing[slot] = delivery;
    this.recentDeliveries.set(delivery, slot);
    this.deliveryNext = (slot + 1) % RECENT_DELIVERIES_MAX;
  }

  /** Queues `item` for the next group commit; resolves with `entryOf` its placement. */
  private enqueue<T>(item: SealItem, entryOf: (at: Placement) => T): Promise<T> {
    return new Promise((resolve, reject) => {
      const p: Pending = {
        item,
        placed: (at) => resolve(entryOf(at)),
        reject,
        arrived: Date.now(),
        timer: undefined,
        done: false,
      };
      const deadline = this.options.appendTimeoutMs;
      if (deadline) p.timer = setTimeout(() => this.expire(p, deadline), deadline);
      this.pending.push(p);
      this.schedule();
    });
  }

  /** The deadline passed: the caller is refused, whether or not the entry is written later. */
  private expire(p: Pending, deadline: number): void {
    if (p.done) return;
    p.done = true;
    const waiting = this.pending.indexOf(p);
    // not sent yet: it never will be; sent: its delivery id is settled with its transaction
    if (waiting >= 0) {
      this.pending.splice(waiting, 1);
      if (p.item.deliveryId !== null) this.recentDeliveries.delete(p.item.deliveryId);
    }
    const error = new AuditUnavailableError(
      `the audit log did not record the decision within ${deadline / 1000} s (${this.store.where} does not answer)`,
    );
    this.health.failed(error, p.arrived);
    p.reject(error);
  }

  private schedule(): void {
    if (this.scheduled || this.pending.length === 0 || this.writes >= WRITES_IN_FLIGHT) return;
    this.scheduled = true;
    // setImmediate lets every request parsed in this turn of the event loop join the batch
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Hands the next batch to the store, when the store may take one. */
  private flush(): void {
    if (this.pending.length === 0 || this.writes >= WRITES_IN_FLIGHT) return;
    const batch = this.pending.splice(0, this.options.maxBatch);
    this.writes++;
    this.inFlight += batch.length;
    void this.write(batch).finally(() => {
      this.writes--;
      this.inFlight -= batch.length;
      this.schedule();
    });
    // what is left, with what arrives meanwhile, goes next
    this.schedule();
  }

  /** Writes `batch`; settles each of its callers. Never rejects. */
  private async write(batch: readonly Pending[]): Promise<void> {
    try {
      const outcome: ChainAppend = await this.store.entries.append(
        this.options.chain,
        this.options.hmacSecret,
        batch.map((p) => p.item),
      );
      if (outcome.commit)
        this.options.onCommit?.(outcome.commit.entries, outcome.commit.seconds, outcome.ok);
      if (outcome.ok) {
        this.health.succeeded();
        this.settle(batch, outcome.placements);
      } else if (outcome.error.scope === "entry" && batch.length > 1) {
        // one bad entry (an id already taken) must not fail the entries it happened to be batched
        // with: each half is written again, alone, down to the entry at fault
        const half = Math.ceil(batch.length / 2);
        await this.write(batch.slice(0, half));
        await this.write(batch.slice(half));
      } else {
        this.health.failed(outcome.error, Math.min(...batch.map((p) => p.arrived)));
        this.fail(batch, outcome.error);
      }
    } catch (error) {
      // stores report failures as outcomes; anything thrown is a bug, and must not hang callers
      this.fail(
        batch,
        new AuditUnavailableError(`the audit log failed: ${(error as Error).message}`, {
          cause: error,
        }),
      );
    }
  }

  private settle(batch: readonly Pending[], placements: readonly Placement[]): void {
    let notified = false;
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      if (p.item.notifications.length > 0) notified = true;
      clearTimeout(p.timer);
      if (p.done) continue;
      p.done = true;
      p.placed(placements[i]!);
    }
    if (notified) this.options.onNotificationsQueued?.();
  }

  private fail(batch: readonly Pending[], error: AuditUnavailableError): void {
    for (const p of batch) {
      clearTimeout(p.timer);
      if (p.item.deliveryId !== null) this.recentDeliveries.delete(p.item.deliveryId);
      if (p.done) continue;
      p.done = true;
      p.reject(error);
    }
  }

  /** Runs a read; damage it runs into is recorded in `health` (and the error passed on). */
  private async observed<T>(read: Promise<T>): Promise<T> {
    try {
      return await read;
    } catch (error) {
      // an outage shows in writes and probes; a read only adds what they may not touch: damage
      if (error instanceof AuditDamagedError) this.health.failed(error);
      throw error;
    }
  }

  async get(id: string): Promise<{ entry: AuditEntry; input: unknown } | undefined> {
    const row = await this.observed(this.store.entries.get(id));
    if (!row) return undefined;
    const entry = parseEntry(row.body, row.hash);
    const text = await this.observed(this.store.entries.input(entry.inputHash));
    return { entry, input: text === undefined ? null : JSON.parse(text) };
  }

  async latestFor(sha256: string): Promise<AuditEntry | undefined> {
    const row = await this.observed(this.store.entries.latestFor(sha256));
    return row ? parseEntry(row.body, row.hash) : undefined;
  }

  /**
   * The newest decision on each of these files that has one, with its input snapshot, in two reads
   * however many files: by file.
   */
  async latestWithInputs(
    sha256s: readonly string[],
  ): Promise<Map<string, { entry: AuditEntry; input: unknown }>> {
    const rows = await this.observed(this.store.entries.latestForEach(sha256s));
    const entries = rows.map((row) => parseEntry(row.body, row.hash));
    const texts = await this.observed(
      this.store.entries.inputs([...new Set(entries.map((e) => e.inputHash))]),
    );
    const out = new Map<string, { entry: AuditEntry; input: unknown }>();
    for (const entry of entries) {
      const text = texts.get(entry.inputHash);
      out.set(entry.sha256, { entry, input: text === undefined ? null : JSON.parse(text) });
    }
    return out;
  }

  /**
   * Entries of `kind` (not decisions) from every chain, oldest first: a page of `query.limit`
   * after `query.after`, only those whose `query.field` is `query.value` when a field is given.
   * Rejects with TypeError for decisions, a kind the store does not hold, or a field it keeps in
   * no column.
   */
  async entriesOf(kind: EntryKind, query: KindQuery): Promise<StoredEntry[]> {
    const rows = await this.observed(this.store.entries.kindPage(kind.name, query));
    return rows.map((r) => ({ ...(JSON.parse(r.body) as StoredEntry), hash: r.hash }));
  }

  /**
   * Every entry of a kind other than decisions (its name, `kinds.ts`), oldest first, from every
   * chain, with its hash; reads page by page. Throws TypeError for a name the log does not hold.
   */
  async *exportKind(name: string, options: { after?: string } = {}): AsyncGenerator<StoredEntry> {
    const kind = this.store.kinds.find((k) => k.name === name);
    if (kind === undefined || kind === DECISION_KIND)
      throw new TypeError(
        `\`${name}\` is not an entry kind besides decisions (${this.store.kinds
          .filter((k) => k !== DECISION_KIND)
          .map((k) => `\`${k.name}\``)
          .join(", ")})`,
      );
    let after = options.after;
    for (;;) {
      const page = await this.entriesOf(kind, {
        limit: READ_PAGE,
        ...(after === undefined ? {} : { after }),
      });
      yield* page;
      if (page.length < READ_PAGE) return;
      after = page[page.length - 1]!.id;
    }
  }

  /**
   * Decisions counted per time bucket, rule and kind (`EntryStore.hits`), read a day's buckets at
   * a time: each read is then bounded (a month of a large log is seconds of reading, which must
   * neither hold a reader thread from other reads nor run into PostgreSQL's statement timeout),
   * and reads of other kinds take turns between them. A bucket longer than a day is read whole.
   */
  async hits(query: HitsQuery): Promise<HitCount[]> {
    const size = query.bucketSeconds * 1000;
    const perRead = Math.max(1, Math.floor(HITS_READ_MS / size)) * size;
    const from = Date.parse(query.from);
    const to = Date.parse(query.to);
    const counts: HitCount[] = [];
    for (let start = from; start < to; start += perRead) {
      const end = Math.min(to, start + perRead);
      const offset = Math.round((start - from) / size);
      const part = await this.observed(
        this.store.entries.hits({
          from: new Date(start).toISOString(),
          to: new Date(end).toISOString(),
          bucketSeconds: query.bucketSeconds,
        }),
      );
      for (const c of part) counts.push({ ...c, bucket: c.bucket + offset });
    }
    return counts;
  }

  /** Newest first; `cursor` is the last id of the previous page. */
  async query(
    filter: AuditFilter,
    limit: number,
    cursor?: string,
  ): Promise<{ entries: AuditEntry[]; nextCursor: string | null }> {
    const rows = await this.observed(
      this.store.entries.page({
        ...filter,
        limit: limit + 1,
        ...(cursor ? { before: cursor } : {}),
      }),
    );
    const more = rows.length > limit;
    const entries = rows.slice(0, limit).map((r) => parseEntry(r.body, r.hash));
    return { entries, nextCursor: more ? entries[entries.length - 1]!.id : null };
  }

  /** Every matching entry, oldest first, with its input snapshot; reads page by page. */
  async *export(
    filter: AuditFilter,
    options: { inputs?: boolean; after?: string } = {},
  ): AsyncGenerator<AuditEntry & { input?: unknown }> {
    const withInputs = options.inputs !== false;
    let after = options.after;
    for (;;) {
      const rows = await this.observed(
        this.store.entries.page({
          ...filter,
          limit: READ_PAGE,
          ascending: true,
          ...(after ? { after } : {}),
        }),
      );
      const inputs = withInputs
        ? await this.observed(this.store.entries.inputs(rows.map((r) => r.inputHash)))
        : undefined;
      for (const row of rows) {
        const entry: AuditEntry & { input?: unknown } = parseEntry(row.body, row.hash);
        if (inputs) {
          const text = inputs.get(row.inputHash);
          entry.input = text === undefined ? null : JSON.parse(text);
        }
        yield entry;
      }
      if (rows.length < READ_PAGE) return;
      after = rows[rows.length - 1]!.id;
    }
  }

  /**
   * The same entries as `export`, as NDJSON text (one entry a line, as `JSON.stringify` gives
   * each), in bounded chunks. The store makes the text where it reads (a store that reads on
   * threads of its own, there), and the next chunk is read only when the caller asks for it: a
   * slow consumer holds one chunk.
   */
  async *exportLines(
    filter: AuditFilter,
    options: { inputs?: boolean; after?: string } = {},
  ): AsyncGenerator<string> {
    const withInputs = options.inputs !== false;
    let after = options.after;
    for (;;) {
      const query: PageQuery = { ...filter, limit: READ_PAGE, ...(after ? { after } : {}) };
      const chunk = await this.observed(
        this.store.entries.exportChunk(query, withInputs, EXPORT_CHUNK_BYTES),
      );
      if (chunk.text !== "") yield chunk.text;
      if (chunk.done || chunk.last === null) return;
      after = chunk.last;
    }
  }

  /** Checks up to `limit` entries of `chain` after `from`, where the store reads them. */
  private verifyStep(chain: string, from: ChainPosition, limit: number): Promise<VerifyStep> {
    return this.store.entries.verifyChunk(chain, from, this.options.hmacSecret, limit);
  }

  /**
   * Walks every chain from its start (or checkpoint) and recomputes each hash. Reports the first
   * broken link: an edited body, a removed or reordered entry, a forged checkpoint, a changed
   * input, newest entries removed behind the head recorded with the last write. A damaged store is
   * reported too (`damage`): what it said, which entries could not be read (the walk goes on after
   * them), and the damage to its pages that reading does not show.
   */
  async verify(): Promise<VerifyReport> {
    const key = this.options.hmacSecret;
    const report: VerifyReport = { ok: true, entries: 0, chains: [] };
    const damage: VerifyDamage = {
      where: this.store.where,
      message: "",
      code: null,
      unreadable: [],
      pages: [],
    };
    const note = (error: AuditDamagedError) => {
      this.health.failed(error);
      if (damage.message !== "") return;
      damage.message = error.said?.message ?? error.message;
      damage.code = error.said?.code ?? null;
    };
    /** runs `read`; damage is noted and `fallback` returned instead */
    const tolerating = async <T>(read: () => Promise<T>, fallback: T): Promise<T> => {
      try {
        return await read();
      } catch (error) {
        if (!(error instanceof AuditDamagedError)) throw error;
        note(error);
        return fallback;
      }
    };
    const heads = await tolerating(() => this.store.state.recordedHeads(), []);
    const listed = await tolerating(() => this.store.entries.chains(), []);
    const chains = [...new Set([...listed, ...heads.map((h) => h.chain)])].sort();
    for (const chain of chains) {
      const cp = await tolerating(() => this.store.entries.checkpoint(chain), undefined);
      let position: ChainPosition = { seq: 0, hash: GENESIS_HASH };
      if (cp) {
        if (cp.mac !== checkpointMac(cp.chain, cp.seq, cp.hash, key)) {
          report.ok = false;
          report.broken = { chain, seq: cp.seq, id: null, problem: "checkpoint_forged" };
          return this.finish(report, damage);
        }
        position = { seq: cp.seq, hash: cp.hash };
      }
      const summary = {
        chain,
        entries: 0,
        from: position.seq + 1,
        to: position.seq,
        head: position.hash ?? "",
      };
      report.chains.push(summary);
      const recorded = heads.find((h) => h.chain === chain);
      /** the walk reached the chain's end (rather than unreadable entries that run to it) */
      let endKnown = true;
      for (;;) {
        if (recorded && position.seq === recorded.seq && position.hash !== null) {
          if (position.hash !== recorded.hash) {
            report.ok = false;
            report.broken = { chain, seq: recorded.seq, id: null, problem: "head_mismatch" };
            return this.finish(report, damage);
          }
        }
        // stop exactly at the recorded head, to compare its hash
        const limit =
          recorded && position.seq < recorded.seq
            ? Math.min(VERIFY_PAGE, recorded.seq - position.seq)
            : VERIFY_PAGE;
        let step: VerifyStep;
        try {
          step = await this.verifyStep(chain, position, limit);
        } catch (error) {
          if (!(error instanceof AuditDamagedError)) throw error;
          note(error);
          const gap = await this.skipUnreadable(chain, position, limit);
          summary.entries += gap.before.entries;
          report.entries += gap.before.entries;
          if (gap.before.broken) {
            report.ok = false;
            report.broken = { chain, ...gap.before.broken };
            return this.finish(report, damage);
          }
          damage.unreadable.push({ chain, from: gap.from, to: gap.to });
          if (gap.next === null) {
            endKnown = false;
            position = gap.before.position;
            break;
          }
          position = { seq: gap.next - 1, hash: null };
          continue;
        }
        summary.entries += step.entries;
        report.entries += step.entries;
        if (step.broken) {
          report.ok = false;
          report.broken = { chain, ...step.broken };
          return this.finish(report, damage);
        }
        position = step.position;
        if (step.rows < limit) break;
      }
      summary.to = position.seq;
      summary.head = position.hash ?? "";
      if (recorded && endKnown && position.seq < recorded.seq) {
        // the chain stops short of where its last write left it
        report.ok = false;
        report.broken = { chain, seq: position.seq + 1, id: null, problem: "head_mismatch" };
        return this.finish(report, damage);
      }
    }
    damage.pages = await tolerating(() => this.store.entries.checkPages(), []);
    return this.finish(report, damage);
  }

  private finish(report: VerifyReport, damage: VerifyDamage): VerifyReport {
    if (damage.message !== "" || damage.pages.length > 0) {
      if (damage.message === "") damage.message = damage.pages[0]!;
      report.ok = false;
      report.damage = damage;
    }
    return report;
  }

  /**
   * After a chunk from `position` failed to read: checks the longest readable stretch at its start
   * (`before`), then finds where reading works again. Returns the unreadable seqs `from`..`to`
   * and the next readable seq (`next`), null when none was found before the chain's end.
   */
  private async skipUnreadable(
    chain: string,
    position: ChainPosition,
    limit: number,
  ): Promise<{ before: VerifyStep; from: number; to: number | null; next: number | null }> {
    /** how reading from seq `seq` on goes: a row, no rows (past the end), or damage */
    const probe = async (seq: number): Promise<"row" | "end" | "damaged"> => {
      try {
        const step = await this.verifyStep(chain, { seq: seq - 1, hash: null }, 1);
        return step.rows > 0 ? "row" : "end";
      } catch (error) {
        if (error instanceof AuditDamagedError) return "damaged";
        throw error;
      }
    };
    // the longest prefix of the chunk that reads: its entries are checked as usual
    let before: VerifyStep = { rows: 0, entries: 0, position };
    let low = 0;
    let high = limit;
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      try {
        const step = await this.verifyStep(chain, position, mid);
        before = step;
        low = mid;
        if (step.broken) break;
      } catch (error) {
        if (!(error instanceof AuditDamagedError)) throw error;
        high = mid;
      }
    }
    const from = before.position.seq + 1;
    // onwards in growing strides to a seq that reads (or the end), then back to the first one
    let bad = from;
    let stride = 1;
    let found: { seq: number; outcome: "row" | "end" } | undefined;
    while (stride <= MAX_PROBE_SPAN) {
      const seq = from + stride;
      const outcome = await probe(seq);
      if (outcome !== "damaged") {
        found = { seq, outcome };
        break;
      }
      bad = seq;
      stride *= 2;
    }
    if (!found) return { before, from, to: null, next: null };
    let good = found.seq;
    let outcome = found.outcome;
    while (good - bad > 1) {
      const mid = Math.floor((bad + good) / 2);
      const o = await probe(mid);
      if (o === "damaged") bad = mid;
      else {
        good = mid;
        outcome = o;
      }
    }
    return { before, from, to: bad, next: outcome === "row" ? good : null };
  }

  /**
   * Removes this log's entries older than `before`, recording a checkpoint (signed with the chain's
   * key) where the kept chain now starts, so the rest still verifies.
   */
  async prune(before: Date): Promise<number> {
    // delivered notifications and old delivery ids go too (a replay that old fails its timestamp)
    await this.store.outbox.prune(before.toISOString());
    const last = await this.store.entries.lastBefore(this.options.chain, before.toISOString());
    if (!last) return 0;
    const cp: Checkpoint = {
      chain: this.options.chain,
      seq: last.seq,
      hash: last.hash,
      mac: checkpointMac(this.options.chain, last.seq, last.hash, this.options.hmacSecret),
      prunedAt: new Date().toISOString(),
    };
    return this.store.entries.prune(cp);
  }

  /** The entries recorded with these delivery ids, by delivery id. */
  deliveryEntries(ids: readonly string[]): Promise<Map<string, string>> {
    return this.observed(this.store.outbox.deliveryEntries(ids));
  }

  /** Takes an idempotency key for one request at a time (`OutboxStore.claimKey`). */
  claimKey(claim: KeyClaim): Promise<KeyClaimOutcome> {
    return this.observed(this.store.outbox.claimKey(claim));
  }

  releaseKey(requester: string, key: string, holder: string): Promise<void> {
    return this.observed(this.store.outbox.releaseKey(requester, key, holder));
  }

  /** Whether an entry with this delivery id is recorded, or being recorded by this process. */
  async hasDelivery(id: string): Promise<boolean> {
    return (
      this.recentDeliveries.has(id) || (await this.observed(this.store.outbox.hasDelivery(id)))
    );
  }

  ping(): Promise<void> {
    return this.store.ping();
  }

  /**
   * Throws when an append would fail now: the store unreachable, full, damaged, replaced, or this
   * chain locked elsewhere. A write that leaves nothing behind; its outcome updates `health`, so it is
   * what ends an outage when no decision comes to.
   */
  checkWritable(): Promise<void> {
    this.probing ??= (async () => {
      const started = Date.now();
      try {
        await this.store.checkWritable(this.options.chain);
        this.health.succeeded();
      } catch (error) {
        this.health.failed(error, started);
        throw error;
      } finally {
        this.probing = undefined;
      }
    })();
    return this.probing;
  }

  /**
   * Readiness: whether this log can record now. A damaged store never is; otherwise the answer is
   * a write probe's, given within `timeoutMs` (no answer in time is an outage too).
   */
  async readiness(timeoutMs: number): Promise<{ ready: boolean; detail: string }> {
    const state = this.health.state;
    if (state.status === "damaged") return { ready: false, detail: `damaged: ${state.reason}` };
    let timer: NodeJS.Timeout | undefined;
    const started = Date.now();
    try {
      await Promise.race([
        this.checkWritable(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new AuditUnavailableError(
                  `${this.store.where} gave no answer within ${timeoutMs / 1000} s`,
                ),
              ),
            timeoutMs,
          );
        }),
      ]);
      return { ready: true, detail: "ok" };
    } catch (error) {
      this.health.failed(error, started);
      const now = this.health.state;
      if (now.status === "damaged") return { ready: false, detail: `damaged: ${now.reason}` };
      return { ready: false, detail: `unreachable: ${(error as Error).message}` };
    } finally {
      clearTimeout(timer);
    }
  }

  /** While the store is unavailable, probes it now and then, so that its recovery is seen. */
  private watchRecovery(): void {
    const every = this.options.recoveryProbeMs ?? 0;
    if (every <= 0 || this.recoveryTimer || this.closed) return;
    this.recoveryTimer = setInterval(() => {
      if (this.closed || this.health.state.status !== "unavailable") {
        clearInterval(this.recoveryTimer);
        this.recoveryTimer = undefined;
        return;
      }
      this.checkWritable().catch(() => {});
    }, every);
    this.recoveryTimer.unref();
  }

  /** Waits for queued entries to be written, then closes the store. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.recoveryTimer);
    this.recoveryTimer = undefined;
    while (this.pending.length > 0 || this.writes > 0) {
      if (this.pending.length > 0 && this.writes < WRITES_IN_FLIGHT) this.flush();
      else await new Promise((r) => setImmediate(r));
    }
    await this.store.close();
  }
}
