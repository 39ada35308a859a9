import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { MessageChannel, Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import {
  type AuditBackend,
  AuditDamagedError,
  AuditUnavailableError,
  type ChainAppend,
  type Checkpoint,
  type DeliveryRow,
  type EntryRow,
  type ExportChunk,
  type InputRow,
  type NotificationUpdate,
  type OutboxRow,
  type PageQuery,
  type RecordedHead,
} from "./backend.js";
import { MIGRATIONS } from "./migrations.js";
import type { SealItem } from "./seal.js";
import { type BatchWriter, prepareBatchWriter, readHead } from "./sqlite-batch.js";
import type { CheckpointerInit } from "./sqlite-checkpointer.js";
import { type FileIdentity, fileIdentity, identityProblem, preflight } from "./sqlite-files.js";
import { WriterLock } from "./sqlite-lock.js";
import type { ReadOp } from "./sqlite-reader.js";
import { ReaderPool, ReadFailure } from "./sqlite-readers.js";
import { SqliteReads } from "./sqlite-reads.js";
import type { AppendRequest, ProbeRequest, WriteReply, WriterInit } from "./sqlite-writer.js";
import type { ChainPosition, VerifyStep } from "./verify.js";

export interface SqliteOptions {
  path: string;
  /** `full` syncs the WAL on every commit (survives power loss); `normal` survives process crashes */
  synchronous: "full" | "normal";
  readonly?: boolean;
  /**
   * Write from a thread of its own (the server's default): a group commit and its fsync then never
   * block the event loop. Inline writes suit tools and tests that write little.
   */
  writerThread?: boolean;
  /** most entries in one transaction of the writer thread */
  maxBatch?: number;
  /** WAL pages after which the writer thread has the WAL checkpointed (SQLite's own default: 1000) */
  checkpointPages?: number;
  /**
   * Reader threads for searches, entry reads, exports and verification, each with a read-only
   * connection (the server's default: 2). 0 reads inline, on the caller's thread.
   */
  readers?: number;
  /**
   * Before using an existing file: `quick` reads every page (`PRAGMA quick_check`, about a second
   * per GB), `fast` checks the header and the size only. Either way an emptied, truncated or
   * foreign file is refused. Default `fast`.
   */
  startupCheck?: "quick" | "fast";
}

const DEFAULT_MAX_BATCH = 1_000;
const DEFAULT_CHECKPOINT_PAGES = 4_000;
/** How long the readiness probe waits for the writer thread before calling the store unavailable. */
const PROBE_TIMEOUT_MS = 2_000;

/** A thread's module: from sources (tests) the built JavaScript, as the dry-run's workers do. */
function threadUrl(name: string): URL {
  return import.meta.url.endsWith(".ts")
    ? new URL(`../../dist/audit/${name}.js`, import.meta.url)
    : new URL(`./${name}.js`, import.meta.url);
}

const OUTBOX_COLUMNS =
  "id, chain, entry_id AS entryId, target, payload, attempts, next_attempt_at AS nextAttemptAt, last_error AS lastError, delivered_at AS deliveredAt, created_at AS createdAt";

/**
 * An SQLite failure as the log's errors: damage (the file is not a database, pages SQLite cannot
 * read, the file replaced under the writer) is AuditDamagedError; a constraint is this write's own
 * failure; anything else from SQLite (locked, full, I/O) makes the store unavailable. Errors that
 * are not SQLite's are bugs and pass through.
 */
export function sqliteFailure(error: unknown, path: string, what: string): Error {
  if (error instanceof AuditUnavailableError) return error;
  const e = error as Error & { code?: unknown };
  const code = typeof e.code === "string" ? e.code : undefined;
  if (code === "CLEARANCE_FILE_REPLACED")
    return new AuditDamagedError(e.message, { message: e.message, code }, { cause: error });
  if (code?.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB")
    return new AuditDamagedError(
      `the audit database \`${path}\` is damaged: SQLite says \`${e.message}\` (${code})`,
      { message: e.message, code },
      { cause: error },
    );
  if (code?.startsWith("SQLITE_CONSTRAINT"))
    return new AuditUnavailableError(`${what}: ${e.message}`, { cause: error, scope: "entry" });
  if (code?.startsWith("SQLITE_") || error instanceof ReadFailure)
    return new AuditUnavailableError(`${what}: ${e.message}`, { cause: error });
  return e;
}

/**
 * The embedded audit store: one SQLite file in WAL mode, so readers (`clearance audit verify`,
 * queries) never block the writer. better-sqlite3 is synchronous: the server writes from a thread of
 * its own (`writerThread`, `appendToChain`), tools write inline (`write`, one short transaction on
 * the event loop).
 */
export class SqliteBackend implements AuditBackend {
  readonly kind = "sqlite" as const;
  readonly where: string;
  private readonly db: Database.Database;
  /** reads on this thread's connection: the few that decisions wait on, and all of them without readers */
  private readonly reads: SqliteReads;
  private readonly pool: ReaderPool | undefined;
  /** the files as opened: a write into a file replaced since would be lost (see `sqlite-files.ts`) */
  private readonly identity: FileIdentity | undefined;
  /** there was no file at the path: this is a new log (a log that was deleted whole looks so too) */
  readonly created: boolean;
  /** prepared on the first write: a read-only open of an older schema must not prepare writes */
  private batchWriter: BatchWriter | undefined;
  private thread: Worker | undefined;
  private threadReady: Promise<void> | undefined;
  private threadExit: Promise<void> | undefined;
  private closing = false;
  private readonly waiting = new Map<number, (outcome: ChainAppend) => void>();
  /** requests in `waiting` that are readiness probes, not appends */
  private readonly probes = new Set<number>();
  /** with a writer thread: sealing and writing happen there (see `AuditBackend.appendToChain`) */
  readonly appendToChain?: (
    chain: string,
    key: string | null,
    items: readonly SealItem[],
  ) => Promise<ChainAppend>;
  private nextRequest = 0;
  /** held by every writer for as long as it is open: a second one is refused (`sqlite-lock.ts`) */
  private readonly lock: WriterLock | undefined;

  constructor(private readonly options: SqliteOptions) {
    const path = options.path;
    this.where = `\`${path}\``;
    if (!options.readonly) {
      mkdirSync(dirname(path), { recursive: true });
      this.lock = WriterLock.acquire(path);
    }
    try {
      // before SQLite sees the file: it would take an emptied one for a new database
      const existed = preflight(path);
      this.created = !existed && !options.readonly;
      // SQLite would say only "unable to open database file"
      if (options.readonly && !existed)
        throw new AuditUnavailableError(
          `cannot open the audit database \`${path}\`: there is no such file`,
        );
      try {
        this.db = new Database(path, {
          readonly: options.readonly === true,
          fileMustExist: options.readonly === true,
        });
      } catch (error) {
        throw new AuditUnavailableError(
          `cannot open the audit database \`${path}\`: ${(error as Error).message}`,
          { cause: error },
        );
      }
      this.reads = new SqliteReads(this.db);
      try {
        if (!options.readonly) {
          this.db.pragma("journal_mode = WAL");
          this.db.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
        }
        this.db.pragma("busy_timeout = 5000");
        if (existed && options.startupCheck === "quick") {
          const problems = this.reads.checkPages();
          if (problems.length > 0)
            throw new AuditDamagedError(
              `the audit database \`${path}\` is damaged: \`PRAGMA quick_check\` says \`${problems[0]}\`${problems.length > 1 ? ` and ${problems.length - 1} more` : ""}`,
              { message: problems.join("\n") },
            );
        }
        this.migrateSync();
        this.identity = options.readonly ? undefined : fileIdentity(path);
      } catch (error) {
        this.db.close();
        throw sqliteFailure(error, path, `cannot open the audit database \`${path}\``);
      }
    } catch (error) {
      this.lock?.release();
      throw error;
    }
    const readers = options.readonly ? 0 : (options.readers ?? 0);
    this.pool = readers > 0 ? new ReaderPool(path, readers, threadUrl("sqlite-reader")) : undefined;
    if (options.writerThread && !options.readonly)
      this.appendToChain = (chain, key, items) => this.appendInThread(chain, key, items);
  }

  /** Runs a read here, mapping SQLite's failures to the log's errors. */
  private here<T>(what: string, read: () => T): T {
    try {
      return read();
    } catch (error) {
      throw sqliteFailure(error, this.options.path, what);
    }
  }

  /** Runs a read on a reader thread when there are some, here otherwise. */
  private async read<T>(op: ReadOp, ...args: unknown[]): Promise<T> {
    const what = `reading the audit database \`${this.options.path}\``;
    if (!this.pool) {
      const method = this.reads[op] as (...a: unknown[]) => T;
      return this.here(what, () => method.apply(this.reads, args));
    }
    try {
      return (await this.pool.call(op, args)) as T;
    } catch (error) {
      throw sqliteFailure(error, this.options.path, what);
    }
  }

  get path(): string {
    return this.options.path;
  }

  private migrateSync(): number {
    if (this.options.readonly) {
      return (
        this.db.prepare("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number }
      ).v;
    }
    this.db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)",
    );
    const current =
      (
        this.db.prepare("SELECT MAX(version) AS v FROM schema_migrations").get() as {
          v: number | null;
        }
      ).v ?? 0;
    const newest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
    if (current > newest)
      throw new AuditUnavailableError(
        `the audit database \`${this.options.path}\` has schema version ${current}, newer than this Clearance knows (${newest}): upgrade Clearance`,
      );
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      this.db.transaction(() => {
        this.db.exec(m.sqlite);
        this.db
          .prepare(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
          )
          .run(m.version, m.description, new Date().toISOString());
      })();
    }
    return newest;
  }

  async migrate(): Promise<number> {
    return this.migrateSync();
  }

  async head(chain: string): Promise<{ seq: number; hash: string } | undefined> {
    return this.here("reading the chain's head", () => readHead(this.db, chain));
  }

  async write(
    rows: readonly EntryRow[],
    inputs: readonly InputRow[],
    outbox: readonly OutboxRow[] = [],
    deliveries: readonly DeliveryRow[] = [],
  ): Promise<void> {
    try {
      if (this.identity) {
        const problem = identityProblem(this.options.path, this.identity);
        if (problem) throw Object.assign(new Error(problem), { code: "CLEARANCE_FILE_REPLACED" });
      }
      this.batchWriter ??= prepareBatchWriter(this.db);
      this.batchWriter(rows, inputs, outbox, deliveries);
    } catch (error) {
      throw sqliteFailure(error, this.options.path, "SQLite write failed");
    }
  }

  get(id: string): Promise<EntryRow | undefined> {
    return this.read("get", id);
  }

  input(hash: string): Promise<string | undefined> {
    return this.read("input", hash);
  }

  inputs(hashes: readonly string[]): Promise<Map<string, string>> {
    return this.read("inputs", hashes);
  }

  latestFor(sha256: string): Promise<EntryRow | undefined> {
    return this.read("latestFor", sha256);
  }

  page(q: PageQuery): Promise<EntryRow[]> {
    return this.read("page", q);
  }

  chains(): Promise<string[]> {
    return this.read("chains");
  }

  chainRows(chain: string, afterSeq: number, limit: number): Promise<EntryRow[]> {
    return this.read("chainRows", chain, afterSeq, limit);
  }

  checkpoint(chain: string): Promise<Checkpoint | undefined> {
    return this.read("checkpoint", chain);
  }

  recordedHeads(): Promise<RecordedHead[]> {
    return this.read("recordedHeads");
  }

  verifyChunk(
    chain: string,
    from: ChainPosition,
    key: string | null,
    limit: number,
  ): Promise<VerifyStep> {
    return this.read("verifyChunk", chain, from, key, limit);
  }

  exportChunk(query: PageQuery, inputs: boolean, maxBytes: number): Promise<ExportChunk> {
    return this.read("exportChunk", query, inputs, maxBytes);
  }

  checkPages(): Promise<string[]> {
    return this.read("checkPages");
  }

  lastBefore(chain: string, before: string): Promise<EntryRow | undefined> {
    return this.read("lastBefore", chain, before);
  }

  async prune(cp: Checkpoint): Promise<number> {
    return this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO checkpoints (chain, seq, hash, mac, pruned_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac, pruned_at = excluded.pruned_at`,
        )
        .run(cp.chain, cp.seq, cp.hash, cp.mac, cp.prunedAt);
      const removed = this.db
        .prepare("DELETE FROM entries WHERE chain = ? AND seq <= ?")
        .run(cp.chain, cp.seq).changes;
      this.db
        .prepare("DELETE FROM inputs WHERE hash NOT IN (SELECT input_hash FROM entries)")
        .run();
      return removed;
    })();
  }

  async pruneHousekeeping(before: string): Promise<{ notifications: number; deliveries: number }> {
    return this.db.transaction(() => ({
      notifications: this.db
        .prepare("DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?")
        .run(before).changes,
      deliveries: this.db.prepare("DELETE FROM deliveries WHERE received_at < ?").run(before)
        .changes,
    }))();
  }

  // Outbox, delivery and state reads stay on this connection: each is one short indexed lookup,
  // and a webhook's decision waits on `hasDelivery`, which must not queue behind an export.
  async dueNotifications(chain: string, now: string, limit: number): Promise<OutboxRow[]> {
    return this.here(
      "reading the outbox",
      () =>
        this.db
          .prepare(
            `SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE chain = ? AND delivered_at IS NULL AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`,
          )
          .all(chain, now, limit) as OutboxRow[],
    );
  }

  async updateNotification(id: string, u: NotificationUpdate): Promise<void> {
    this.db
      .prepare(
        "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, delivered_at = ? WHERE id = ?",
      )
      .run(u.attempts, u.nextAttemptAt, u.lastError, u.deliveredAt, id);
  }

  async pendingNotifications(chain: string): Promise<number> {
    return (
      this.db
        .prepare("SELECT COUNT(*) AS n FROM outbox WHERE chain = ? AND delivered_at IS NULL")
        .get(chain) as { n: number }
    ).n;
  }

  async hasDelivery(id: string): Promise<boolean> {
    return this.here(
      "reading delivery ids",
      () => this.db.prepare("SELECT 1 FROM deliveries WHERE id = ?").get(id) !== undefined,
    );
  }

  async getState(key: string): Promise<string | undefined> {
    const row = this.db.prepare("SELECT value FROM state WHERE key = ?").get(key) as
      | { value: string }
      | undefined;
    return row?.value;
  }

  async setState(key: string, value: string): Promise<void> {
    this.db
      .prepare(
        "INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
      )
      .run(key, value, new Date().toISOString());
  }

  async checkWritable(): Promise<void> {
    if (this.options.readonly)
      throw new AuditUnavailableError(
        `the audit database \`${this.options.path}\` is open read-only`,
      );
    if (this.appendToChain) return this.probeInThread();
    // BEGIN IMMEDIATE takes the write lock: it fails while another process holds it. No waiting:
    // better-sqlite3 waits on the event loop, and a readiness probe must not stall the server.
    this.db.pragma("busy_timeout = 0");
    try {
      if (this.identity) {
        const problem = identityProblem(this.options.path, this.identity);
        if (problem) throw Object.assign(new Error(problem), { code: "CLEARANCE_FILE_REPLACED" });
      }
      this.db.exec("BEGIN IMMEDIATE; ROLLBACK;");
    } catch (error) {
      throw sqliteFailure(
        error,
        this.options.path,
        `the audit database \`${this.options.path}\` cannot be written`,
      );
    } finally {
      this.db.pragma("busy_timeout = 5000");
    }
  }

  /** A write on the writer thread that leaves nothing behind (`probe` there); at most PROBE_TIMEOUT_MS. */
  private async probeInThread(): Promise<void> {
    const thread = await this.writerThread();
    if (!thread.ok) throw thread.error;
    const id = ++this.nextRequest;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      new Promise<ChainAppend>((resolve) => {
        this.waiting.set(id, resolve);
        this.probes.add(id);
        thread.worker.postMessage({ id, probe: true } satisfies ProbeRequest);
      }),
      new Promise<ChainAppend>((resolve) => {
        timer = setTimeout(() => {
          this.waiting.delete(id);
          this.probes.delete(id);
          resolve({
            ok: false,
            error: new AuditUnavailableError(
              `the audit writer thread did not answer within ${PROBE_TIMEOUT_MS / 1000} s`,
            ),
          });
        }, PROBE_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!outcome.ok) throw outcome.error;
  }

  async ping(): Promise<void> {
    this.here("reading the audit database", () => this.db.prepare("SELECT 1").get());
  }

  private startThread(): Promise<void> {
    const init: WriterInit = {
      path: this.options.path,
      synchronous: this.options.synchronous,
      maxBatch: this.options.maxBatch ?? DEFAULT_MAX_BATCH,
      checkpointPages: this.options.checkpointPages ?? DEFAULT_CHECKPOINT_PAGES,
      identity: this.identity!,
    };
    const checkpoints = new MessageChannel();
    const worker = new Worker(threadUrl("sqlite-writer"), {
      workerData: {
        ...init,
        checkpoints: checkpoints.port1,
      },
      transferList: [checkpoints.port1],
      execArgv: [],
    });
    const checkpointer = new Worker(threadUrl("sqlite-checkpointer"), {
      workerData: {
        path: this.options.path,
        requests: checkpoints.port2,
      } satisfies CheckpointerInit,
      transferList: [checkpoints.port2],
      execArgv: [],
    });
    // it ends when the writer's end of its port closes (the writer closed, or died); if it fails,
    // the writer checkpoints by itself
    checkpointer.on("error", () => {});
    checkpointer.unref();
    this.thread = worker;
    // The calls in flight fail with the thread; the next append starts a new one (a crash is not
    // a reason to refuse every decision until a restart).
    const fail = (error: Error) => {
      if (this.thread === worker) {
        this.thread = undefined;
        this.threadReady = undefined;
      }
      const failure = new AuditUnavailableError(
        `the audit writer thread stopped: ${error.message}`,
        { cause: error },
      );
      for (const w of this.waiting.values()) w({ ok: false, error: failure });
      this.waiting.clear();
      this.probes.clear();
    };
    this.threadExit = new Promise((resolve) => worker.once("exit", () => resolve()));
    worker.on("error", fail);
    worker.on("exit", (code) => {
      if (this.closing && code === 0) return;
      fail(new Error(`exit code ${code}`));
    });
    return new Promise((resolve, reject) => {
      worker.once("error", reject);
      worker.on("message", (m: WriteReply | "ready") => {
        if (m !== "ready") return this.onReply(m);
        worker.off("error", reject);
        resolve();
      });
    });
  }

  private onReply(m: WriteReply): void {
    const settle = this.waiting.get(m.id);
    const probe = this.probes.delete(m.id);
    if (!settle) return;
    this.waiting.delete(m.id);
    const commit = m.commit ? { commit: m.commit } : {};
    const failed = m.ok
      ? undefined
      : sqliteFailure(
          Object.assign(new Error(m.message), { code: m.code }),
          this.options.path,
          probe
            ? `the audit database \`${this.options.path}\` cannot be written`
            : "SQLite write failed",
        );
    settle(
      m.ok
        ? { ok: true, placements: m.placements, ...commit }
        : {
            ok: false,
            error:
              failed instanceof AuditUnavailableError
                ? failed
                : new AuditUnavailableError(`SQLite write failed: ${m.message}`),
            ...commit,
          },
    );
  }

  /** The writer thread, started when first needed (and again after it stopped). */
  private async writerThread(): Promise<
    { ok: true; worker: Worker } | { ok: false; error: AuditUnavailableError }
  > {
    if (this.closing || !this.db.open)
      return { ok: false, error: new AuditUnavailableError("the audit store is closed") };
    this.threadReady ??= this.startThread();
    try {
      await this.threadReady;
    } catch (error) {
      this.threadReady = undefined;
      return {
        ok: false,
        error: new AuditUnavailableError(
          `the audit writer thread did not start: ${(error as Error).message}`,
          { cause: error },
        ),
      };
    }
    const worker = this.thread;
    if (!worker)
      return { ok: false, error: new AuditUnavailableError("the audit writer thread stopped") };
    return { ok: true, worker };
  }

  private async appendInThread(
    chain: string,
    key: string | null,
    items: readonly SealItem[],
  ): Promise<ChainAppend> {
    const thread = await this.writerThread();
    if (!thread.ok) return thread;
    const id = ++this.nextRequest;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      thread.worker.postMessage({ id, chain, key, items } satisfies AppendRequest);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.threadReady?.catch(() => {});
    const worker = this.thread;
    if (worker) {
      // the thread writes what it was sent, answers, and exits
      worker.postMessage("close");
      await this.threadExit;
      this.thread = undefined;
    }
    await this.pool?.close();
    if (this.db.open) this.db.close();
    this.lock?.release();
  }
}
