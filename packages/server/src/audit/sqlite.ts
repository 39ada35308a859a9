import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { MessageChannel, Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import {
  type AuditBackend,
  AuditUnavailableError,
  type ChainAppend,
  type Checkpoint,
  type DeliveryRow,
  type EntryRow,
  type InputRow,
  type NotificationUpdate,
  type OutboxRow,
  type PageQuery,
} from "./backend.js";
import { idFloor } from "./ids.js";
import { MIGRATIONS } from "./migrations.js";
import type { SealItem } from "./seal.js";
import { type BatchWriter, prepareBatchWriter, readHead } from "./sqlite-batch.js";
import type { CheckpointerInit } from "./sqlite-checkpointer.js";
import type { AppendRequest, WriteReply, WriterInit } from "./sqlite-writer.js";

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
}

const DEFAULT_MAX_BATCH = 1_000;
const DEFAULT_CHECKPOINT_PAGES = 4_000;

/** A thread's module: from sources (tests) the built JavaScript, as the dry-run's workers do. */
function threadUrl(name: string): URL {
  return import.meta.url.endsWith(".ts")
    ? new URL(`../../dist/audit/${name}.js`, import.meta.url)
    : new URL(`./${name}.js`, import.meta.url);
}

const OUTBOX_COLUMNS =
  "id, chain, entry_id AS entryId, target, payload, attempts, next_attempt_at AS nextAttemptAt, last_error AS lastError, delivered_at AS deliveredAt, created_at AS createdAt";

const COLUMNS =
  "id, chain, seq, time, source, requester, sha256, decision, rule, input_hash AS inputHash, body, hash";

/**
 * The embedded audit store: one SQLite file in WAL mode, so readers (`clearance audit verify`,
 * queries) never block the writer. better-sqlite3 is synchronous: the server writes from a thread of
 * its own (`writerThread`, `appendToChain`), tools write inline (`write`, one short transaction on
 * the event loop).
 */
export class SqliteBackend implements AuditBackend {
  readonly kind = "sqlite" as const;
  private readonly db: Database.Database;
  /** prepared on the first write: a read-only open of an older schema must not prepare writes */
  private batchWriter: BatchWriter | undefined;
  private thread: Worker | undefined;
  private threadReady: Promise<void> | undefined;
  private threadExit: Promise<void> | undefined;
  private closing = false;
  private readonly waiting = new Map<number, (outcome: ChainAppend) => void>();
  /** with a writer thread: sealing and writing happen there (see `AuditBackend.appendToChain`) */
  readonly appendToChain?: (
    chain: string,
    key: string | null,
    items: readonly SealItem[],
  ) => Promise<ChainAppend>;
  private nextRequest = 0;

  constructor(private readonly options: SqliteOptions) {
    if (!options.readonly) mkdirSync(dirname(options.path), { recursive: true });
    try {
      this.db = new Database(options.path, {
        readonly: options.readonly === true,
        fileMustExist: options.readonly === true,
      });
    } catch (error) {
      throw new AuditUnavailableError(
        `cannot open the audit database \`${options.path}\`: ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (!options.readonly) {
      this.db.pragma("journal_mode = WAL");
      this.db.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
    }
    this.db.pragma("busy_timeout = 5000");
    this.migrateSync();
    if (options.writerThread && !options.readonly)
      this.appendToChain = (chain, key, items) => this.appendInThread(chain, key, items);
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
    return readHead(this.db, chain);
  }

  async write(
    rows: readonly EntryRow[],
    inputs: readonly InputRow[],
    outbox: readonly OutboxRow[] = [],
    deliveries: readonly DeliveryRow[] = [],
  ): Promise<void> {
    try {
      this.batchWriter ??= prepareBatchWriter(this.db);
      this.batchWriter(rows, inputs, outbox, deliveries);
    } catch (error) {
      throw new AuditUnavailableError(`SQLite write failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async get(id: string): Promise<EntryRow | undefined> {
    return this.db.prepare(`SELECT ${COLUMNS} FROM entries WHERE id = ?`).get(id) as
      | EntryRow
      | undefined;
  }

  async input(hash: string): Promise<string | undefined> {
    const row = this.db.prepare("SELECT body FROM inputs WHERE hash = ?").get(hash) as
      | { body: string }
      | undefined;
    return row?.body;
  }

  async latestFor(sha256: string): Promise<EntryRow | undefined> {
    return this.db
      .prepare(`SELECT ${COLUMNS} FROM entries WHERE sha256 = ? ORDER BY id DESC LIMIT 1`)
      .get(sha256) as EntryRow | undefined;
  }

  async page(q: PageQuery): Promise<EntryRow[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const eq = (column: string, value: string | undefined) => {
      if (value === undefined) return;
      where.push(`${column} = ?`);
      args.push(value);
    };
    eq("sha256", q.sha256);
    eq("decision", q.decision);
    eq("rule", q.rule);
    eq("source", q.source);
    eq("requester", q.requester);
    // a time range is also an id range (UUIDv7 ids begin with their time), which the primary
    // key answers without a time index
    if (q.from !== undefined) {
      where.push("time >= ?", "id >= ?");
      args.push(q.from, idFloor(Date.parse(q.from)));
    }
    if (q.to !== undefined) {
      where.push("time < ?", "id < ?");
      args.push(q.to, idFloor(Date.parse(q.to) + 1));
    }
    if (q.before !== undefined) {
      where.push("id < ?");
      args.push(q.before);
    }
    if (q.after !== undefined) {
      where.push("id > ?");
      args.push(q.after);
    }
    const sql = `SELECT ${COLUMNS} FROM entries ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id ${q.ascending ? "ASC" : "DESC"} LIMIT ?`;
    return this.db.prepare(sql).all(...args, q.limit) as EntryRow[];
  }

  async chains(): Promise<string[]> {
    const rows = this.db
      .prepare("SELECT chain FROM entries UNION SELECT chain FROM checkpoints ORDER BY chain")
      .all() as { chain: string }[];
    return rows.map((r) => r.chain);
  }

  async chainRows(chain: string, afterSeq: number, limit: number): Promise<EntryRow[]> {
    return this.db
      .prepare(`SELECT ${COLUMNS} FROM entries WHERE chain = ? AND seq > ? ORDER BY seq LIMIT ?`)
      .all(chain, afterSeq, limit) as EntryRow[];
  }

  async checkpoint(chain: string): Promise<Checkpoint | undefined> {
    return this.db
      .prepare(
        "SELECT chain, seq, hash, mac, pruned_at AS prunedAt FROM checkpoints WHERE chain = ?",
      )
      .get(chain) as Checkpoint | undefined;
  }

  async lastBefore(chain: string, before: string): Promise<EntryRow | undefined> {
    return this.db
      .prepare(
        `SELECT ${COLUMNS} FROM entries WHERE chain = ? AND time < ? ORDER BY seq DESC LIMIT 1`,
      )
      .get(chain, before) as EntryRow | undefined;
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

  async dueNotifications(chain: string, now: string, limit: number): Promise<OutboxRow[]> {
    return this.db
      .prepare(
        `SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE chain = ? AND delivered_at IS NULL AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`,
      )
      .all(chain, now, limit) as OutboxRow[];
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
    return this.db.prepare("SELECT 1 FROM deliveries WHERE id = ?").get(id) !== undefined;
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
    // BEGIN IMMEDIATE takes the write lock: it fails while another process holds it. No waiting:
    // better-sqlite3 waits on the event loop, and a readiness probe must not stall the server.
    this.db.pragma("busy_timeout = 0");
    try {
      this.db.exec("BEGIN IMMEDIATE; ROLLBACK;");
    } catch (error) {
      throw new AuditUnavailableError(
        `the audit database \`${this.options.path}\` cannot be written: ${(error as Error).message}`,
      );
    } finally {
      this.db.pragma("busy_timeout = 5000");
    }
  }

  async ping(): Promise<void> {
    this.db.prepare("SELECT 1").get();
  }

  private startThread(): Promise<void> {
    const init: WriterInit = {
      path: this.options.path,
      synchronous: this.options.synchronous,
      maxBatch: this.options.maxBatch ?? DEFAULT_MAX_BATCH,
      checkpointPages: this.options.checkpointPages ?? DEFAULT_CHECKPOINT_PAGES,
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
    if (!settle) return;
    this.waiting.delete(m.id);
    const commit = m.commit ? { commit: m.commit } : {};
    settle(
      m.ok
        ? { ok: true, placements: m.placements, ...commit }
        : {
            ok: false,
            error: new AuditUnavailableError(`SQLite write failed: ${m.message}`),
            ...commit,
          },
    );
  }

  private async appendInThread(
    chain: string,
    key: string | null,
    items: readonly SealItem[],
  ): Promise<ChainAppend> {
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
    const thread = this.thread;
    if (!thread)
      return { ok: false, error: new AuditUnavailableError("the audit writer thread stopped") };
    const id = ++this.nextRequest;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      thread.postMessage({ id, chain, key, items } satisfies AppendRequest);
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
    if (this.db.open) this.db.close();
  }
}
