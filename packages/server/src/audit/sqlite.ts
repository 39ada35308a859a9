import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { MessageChannel, Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import {
  AuditDamagedError,
  type AuditStore,
  AuditUnavailableError,
  type ChainAppend,
  type Checkpoint,
  type DeadLetter,
  type EntryStore,
  type NotificationUpdate,
  notOpen,
  type OutboxRow,
  type OutboxStore,
  type StateStore,
  UNLOCKED,
} from "./backend.js";
import { journalDir } from "./journal.js";
import {
  DEFAULT_JOURNAL,
  Journal,
  type JournalSettings,
  type JournalStatus,
} from "./journal-store.js";
import { checkRegistry, ENTRY_KINDS, type EntryKind, kindForQuery } from "./kinds.js";
import {
  checkKnownVersion,
  DEAD_LETTER_COLUMNS,
  DEAD_LETTER_INSERT,
  MIGRATIONS,
  MIGRATIONS_TABLE,
} from "./migrations.js";
import { sqliteSantaStore } from "./santa-sqlite.js";
import type { SantaStore } from "./santa-store.js";
import type { SealItem } from "./seal.js";
import {
  type AppendRequest,
  type ProbeRequest,
  SqliteAppender,
  type WriteReply,
} from "./sqlite-append.js";
import type { CheckpointerInit } from "./sqlite-checkpointer.js";
import { type FileIdentity, fileIdentity, identityProblem, preflight } from "./sqlite-files.js";
import { WriterLock } from "./sqlite-lock.js";
import type { ReadOp } from "./sqlite-reader.js";
import { ReaderPool, ReadFailure } from "./sqlite-readers.js";
import { heldKinds, SqliteReads } from "./sqlite-reads.js";
import type { WriterInit } from "./sqlite-writer.js";

export interface SqliteOptions {
  path: string;
  /** `full` syncs the WAL on every commit (survives power loss); `normal` survives process crashes */
  synchronous: "full" | "normal";
  /** for reading only: no lock, no migration, no write */
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
  /** the entry kinds the log holds (`kinds.ts`); `ENTRY_KINDS` unless given */
  kinds?: readonly EntryKind[];
  /**
   * The durable record is a journal beside the database (`journal.ts`), which the database
   * indexes, filled behind: `true` or settings to start one (a log without one is copied into it),
   * `false` to write the database alone (refused for a log that has a journal). Unset: the
   * journal when the log has one.
   */
  journal?: boolean | Partial<JournalSettings>;
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
 * Takes an idempotency key in one statement: a new key, an expired one (taken anew, for this
 * body) or one free for the same body. Nothing is returned when it is held or was taken for
 * another body.
 */
const CLAIM_KEY_SQLITE = `INSERT INTO idempotency_keys AS k (requester, key, body_hash, created_at, locked_until, holder)
VALUES (@requester, @key, @bodyHash, @now, @lockedUntil, @holder)
ON CONFLICT (requester, key) DO UPDATE SET
  body_hash = excluded.body_hash,
  created_at = CASE WHEN k.created_at < @expiredBefore THEN excluded.created_at ELSE k.created_at END,
  locked_until = excluded.locked_until,
  holder = excluded.holder
WHERE k.created_at < @expiredBefore OR (k.body_hash = excluded.body_hash AND k.locked_until <= @now)
RETURNING created_at AS createdAt`;

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
  if (code === "CLEARANCE_FILE_REPLACED" || code === "CLEARANCE_JOURNAL_DAMAGED")
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

/** Applies the migrations `db` lacks; returns the schema version. */
function migrate(db: Database.Database, path: string): number {
  db.exec(MIGRATIONS_TABLE);
  const current = schemaVersion(db);
  checkKnownVersion(`the audit database \`${path}\``, current);
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sqlite);
      db.prepare(
        "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
      ).run(m.version, m.description, new Date().toISOString());
    })();
  }
  return schemaVersion(db);
}

/** Whether the database has the journal's tables (migration 12). */
function hasJournalTables(db: Database.Database): boolean {
  return (
    db
      .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'journal_state'")
      .get() !== undefined
  );
}

function schemaVersion(db: Database.Database): number {
  return (
    (db.prepare("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number | null })
      .v ?? 0
  );
}

/** The store's connection and threads, once open. */
interface Opened {
  db: Database.Database;
  /** reads on this thread's connection: the few that decisions wait on, and all of them without readers */
  reads: SqliteReads;
  pool: ReaderPool | undefined;
  /** the files as opened: a write into a file replaced since would be lost (see `sqlite-files.ts`) */
  identity: FileIdentity | undefined;
  version: number;
}

/**
 * The embedded audit store: one SQLite file in WAL mode, so readers (`clearance audit verify`,
 * queries) never block the writer. better-sqlite3 is synchronous: the server writes from a thread of
 * its own (`writerThread`), tools write inline (one short transaction on the caller's thread); both
 * seal and write with `SqliteAppender`.
 */
export class SqliteBackend implements AuditStore {
  readonly kind = "sqlite" as const;
  readonly where: string;
  readonly readonly: boolean;
  readonly kinds: readonly EntryKind[];
  readonly entries: EntryStore;
  readonly outbox: OutboxStore;
  readonly state: StateStore;
  readonly santa: SantaStore;
  /** there was no file at the path: this is a new log (a log that was deleted whole looks so too) */
  created = false;
  private opened: Opened | undefined;
  private opening: Promise<number> | undefined;
  /** held by every writer for as long as it is open: a second one is refused (`sqlite-lock.ts`) */
  private lock: WriterLock | undefined;
  /** inline writes: made on the first one, so that a store nobody writes prepares no writes */
  private appender: SqliteAppender | undefined;
  private thread: Worker | undefined;
  private threadReady: Promise<void> | undefined;
  private threadExit: Promise<void> | undefined;
  private closing = false;
  /** the journal, when the log keeps one (see `SqliteOptions.journal`) */
  private journal: Journal | undefined;
  private readonly waiting = new Map<number, (outcome: ChainAppend) => void>();
  /** requests in `waiting` that are readiness probes, not appends */
  private readonly probes = new Set<number>();
  private nextRequest = 0;

  constructor(private readonly options: SqliteOptions) {
    this.where = `\`${options.path}\``;
    this.readonly = options.readonly === true;
    this.kinds = checkRegistry(options.kinds ?? ENTRY_KINDS);
    this.entries = {
      append: (chain, key, items) => this.append(chain, key, items),
      head: (chain) => this.read("head", chain),
      chains: () => this.read("chains"),
      checkpoint: (chain) => this.read("checkpoint", chain),
      verifyChunk: (chain, from, key, limit) => this.read("verifyChunk", chain, from, key, limit),
      checkPages: () => this.read("checkPages"),
      get: (id) => this.read("get", id),
      input: (hash) => this.read("input", hash),
      inputs: (hashes) => this.read("inputs", hashes),
      latestFor: (sha256) => this.read("latestFor", sha256),
      latestForEach: (sha256s) => this.read("latestForEach", sha256s),
      page: (query) => this.read("page", query),
      exportChunk: (query, inputs, maxBytes) => this.read("exportChunk", query, inputs, maxBytes),
      hits: (query) => this.read("hits", query),
      kindPage: async (kind, query) => {
        // checked here, not only on the reader thread: a reader's failure comes back as the
        // store's (AuditUnavailableError), and a bad query is the caller's mistake
        kindForQuery(this.kinds, kind, query);
        return this.read("kindPage", kind, query);
      },
      lastBefore: (chain, before) => this.read("lastBefore", chain, before),
      chainAfter: (chain, afterSeq, limit) => this.read("chainRows", chain, afterSeq, limit),
      prune: (cp) => this.prune(cp),
    };
    // Outbox, delivery and state reads stay on this connection: each is one short indexed lookup,
    // and a webhook's decision waits on `hasDelivery`, which must not queue behind an export.
    this.outbox = {
      dueNotifications: async (chain, now, limit) => {
        await this.indexed();
        return this.here(
          "reading the outbox",
          (db) =>
            db
              .prepare(
                `SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE chain = ? AND delivered_at IS NULL AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`,
              )
              .all(chain, now, limit) as OutboxRow[],
        );
      },
      updateNotification: async (id, u) => {
        await this.indexed();
        this.updateNotification(id, u);
      },
      pendingNotifications: async (chain) => {
        await this.indexed();
        return (
          this.db
            .prepare("SELECT COUNT(*) AS n FROM outbox WHERE chain = ? AND delivered_at IS NULL")
            .get(chain) as { n: number }
        ).n;
      },
      hasDelivery: async (id) => {
        await this.indexed();
        return this.here(
          "reading delivery ids",
          (db) => db.prepare("SELECT 1 FROM deliveries WHERE id = ?").get(id) !== undefined,
        );
      },
      deliveryEntries: async (ids) => {
        await this.indexed();
        return this.here("reading delivery ids", (db) => {
          const found = new Map<string, string>();
          // a few hundred at a time: SQLite bounds a statement's parameters
          for (let at = 0; at < ids.length; at += 500) {
            const some = ids.slice(at, at + 500);
            const rows = db
              .prepare(
                `SELECT id, entry_id AS entryId FROM deliveries WHERE entry_id IS NOT NULL AND id IN (${some.map(() => "?").join(", ")})`,
              )
              .all(...some) as { id: string; entryId: string }[];
            for (const r of rows) found.set(r.id, r.entryId);
          }
          return found;
        });
      },
      claimKey: async (claim) =>
        this.here("taking an idempotency key", (db) => {
          const taken = db.prepare(CLAIM_KEY_SQLITE).get(claim) as
            | { createdAt: string }
            | undefined;
          if (taken) return { outcome: "claimed", createdAt: taken.createdAt };
          const held = db
            .prepare(
              "SELECT body_hash AS bodyHash FROM idempotency_keys WHERE requester = ? AND key = ?",
            )
            .get(claim.requester, claim.key) as { bodyHash: string } | undefined;
          return { outcome: held && held.bodyHash !== claim.bodyHash ? "reused" : "busy" };
        }),
      releaseKey: async (requester, key, holder) => {
        this.here("releasing an idempotency key", (db) =>
          db
            .prepare(
              "UPDATE idempotency_keys SET locked_until = ? WHERE requester = ? AND key = ? AND holder = ?",
            )
            .run(UNLOCKED, requester, key, holder),
        );
      },
      prune: async (before) => {
        // notifications and delivery ids are written by the index follower: let it write them first
        await this.indexed();
        const db = this.db;
        return db
          .transaction(() => {
            db.prepare("DELETE FROM idempotency_keys WHERE created_at < ?").run(before);
            return {
              notifications: db
                .prepare("DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?")
                .run(before).changes,
              deliveries: db.prepare("DELETE FROM deliveries WHERE received_at < ?").run(before)
                .changes,
            };
            // the write lock first: the index follower commits beside this connection
          })
          .immediate();
      },
      deadLetter: async (letters) =>
        this.here("keeping dead letters", (db) => {
          const insert = db.prepare(
            `INSERT OR IGNORE INTO siem_dead_letters (${DEAD_LETTER_INSERT}) VALUES (@sink, @eventId, @chain, @seq, @kind, @time, @body, @error, @createdAt)`,
          );
          db.transaction(() => {
            for (const letter of letters) insert.run(letter);
          }).immediate();
        }),
      deadLetters: async (sink, limit) =>
        this.here(
          "reading dead letters",
          (db) =>
            db
              .prepare(
                `SELECT ${DEAD_LETTER_COLUMNS} FROM siem_dead_letters WHERE sink = ? ORDER BY chain, seq LIMIT ?`,
              )
              .all(sink, limit) as DeadLetter[],
        ),
      deadLetterCounts: async () =>
        this.here("counting dead letters", (db) => {
          const rows = db
            .prepare("SELECT sink, COUNT(*) AS n FROM siem_dead_letters GROUP BY sink")
            .all() as { sink: string; n: number }[];
          return new Map(rows.map((r) => [r.sink, r.n]));
        }),
    };
    this.state = {
      recordedHeads: () => this.read("recordedHeads"),
      get: async (key) => {
        const row = this.db.prepare("SELECT value FROM state WHERE key = ?").get(key) as
          | { value: string }
          | undefined;
        return row?.value;
      },
      set: async (key, value) =>
        // a save does not wait for the disk (see StateStore.set): on this thread, an fsync per
        // save held every request behind it
        this.relaxed("saving state", (db) => {
          db.prepare(
            "INSERT INTO state (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
          ).run(key, value, new Date().toISOString());
        }),
    };
    this.santa = sqliteSantaStore(
      (what, work) => this.here(what, work),
      (what, work) => this.relaxed(what, work),
    );
  }

  get path(): string {
    return this.options.path;
  }

  private get synchronousPragma(): "FULL" | "NORMAL" {
    return this.options.synchronous === "full" ? "FULL" : "NORMAL";
  }

  /**
   * A write on this thread that does not wait for the disk (derived state, cursors): a power loss
   * may lose it, a crash of the process does not. An fsync here would hold every request.
   */
  private relaxed<T>(what: string, work: (db: Database.Database) => T): T {
    return this.here(what, (db) => {
      db.pragma("synchronous = NORMAL");
      try {
        return work(db);
      } finally {
        db.pragma(`synchronous = ${this.synchronousPragma}`);
      }
    });
  }

  open(): Promise<number> {
    if (this.closing) return Promise.reject(new AuditUnavailableError("the audit store is closed"));
    this.opening ??= Promise.resolve()
      .then(() => this.openNow())
      .catch((error) => {
        this.opening = undefined;
        throw error;
      });
    return this.opening;
  }

  private openNow(): number {
    const path = this.options.path;
    if (!this.readonly) {
      mkdirSync(dirname(path), { recursive: true });
      this.lock = WriterLock.acquire(path);
    }
    try {
      // before SQLite sees the file: it would take an emptied one for a new database
      const existed = preflight(path);
      // SQLite would say only "unable to open database file"
      if (this.readonly && !existed)
        throw new AuditUnavailableError(
          `cannot open the audit database \`${path}\`: there is no such file`,
        );
      let db: Database.Database;
      try {
        db = new Database(path, { readonly: this.readonly, fileMustExist: this.readonly });
      } catch (error) {
        throw new AuditUnavailableError(
          `cannot open the audit database \`${path}\`: ${(error as Error).message}`,
          { cause: error },
        );
      }
      try {
        const checked = new SqliteReads(db, this.kinds);
        if (!this.readonly) {
          db.pragma("journal_mode = WAL");
          db.pragma(`synchronous = ${this.synchronousPragma}`);
        }
        db.pragma("busy_timeout = 5000");
        if (existed && this.options.startupCheck === "quick") {
          const problems = checked.checkPages();
          if (problems.length > 0)
            throw new AuditDamagedError(
              `the audit database \`${path}\` is damaged: \`PRAGMA quick_check\` says \`${problems[0]}\`${problems.length > 1 ? ` and ${problems.length - 1} more` : ""}`,
              { message: problems.join("\n") },
            );
        }
        let version: number;
        let reads = checked;
        if (this.readonly) {
          // an index without the journal it was filled from (a copy of the database alone)
          if (
            hasJournalTables(db) &&
            db.prepare("SELECT 1 FROM journal_state").get() !== undefined &&
            !existsSync(journalDir(path))
          )
            throw new AuditDamagedError(
              `the audit database \`${path}\` is the index of the journal \`${journalDir(path)}\`, which is not there: the log's entries are in the journal; copy it beside the database`,
            );
          version = schemaVersion(db);
          checkKnownVersion(`the audit database \`${path}\``, version);
          // an older schema, never migrated here, may lack the tables of newer kinds
          reads = new SqliteReads(db, this.kinds, heldKinds(db, this.kinds));
        } else {
          version = migrate(db, path);
          // read what the migrations made (the index of file names)
          reads = new SqliteReads(db, this.kinds);
        }
        const identity = this.readonly ? undefined : fileIdentity(path);
        const journal = this.readonly ? undefined : this.openJournal(db, reads);
        const readers = this.readonly ? 0 : (this.options.readers ?? 0);
        const pool =
          readers > 0
            ? new ReaderPool(path, this.kinds, readers, threadUrl("sqlite-reader"))
            : undefined;
        this.opened = { db, reads, pool, identity, version };
        this.journal = journal;
        // an index rebuilt from its journal is not a new log
        this.created = !existed && !this.readonly && journal?.created !== false;
        return version;
      } catch (error) {
        db.close();
        throw sqliteFailure(error, path, `cannot open the audit database \`${path}\``);
      }
    } catch (error) {
      this.lock?.release();
      this.lock = undefined;
      throw error;
    }
  }

  /** Opens the journal when the log has one or is to start one (`SqliteOptions.journal`). */
  private openJournal(db: Database.Database, reads: SqliteReads): Journal | undefined {
    const path = this.options.path;
    const asked = this.options.journal;
    const has =
      existsSync(journalDir(path)) || db.prepare("SELECT 1 FROM journal_state").get() !== undefined;
    if (asked === false) {
      if (has)
        throw new AuditUnavailableError(
          `the audit log \`${path}\` keeps its entries in the journal \`${journalDir(path)}\`: it cannot be written without it`,
        );
      return undefined;
    }
    if (asked === undefined && !has) return undefined;
    const settings = Object.freeze({
      ...DEFAULT_JOURNAL,
      ...(typeof asked === "object" ? asked : {}),
    });
    return Journal.open({
      path,
      db,
      reads,
      kinds: this.kinds,
      settings,
      threads: this.options.writerThread
        ? { url: threadUrl, maxBatch: this.options.maxBatch ?? DEFAULT_MAX_BATCH }
        : undefined,
    });
  }

  /** How far the index is behind its journal; undefined for a log without one. */
  journalStatus(): JournalStatus | undefined {
    return this.journal?.status();
  }

  /** Resolves once the index has applied everything journaled so far (at once without a journal). */
  async indexed(): Promise<void> {
    try {
      await this.journal?.indexed();
    } catch (error) {
      throw sqliteFailure(error, this.options.path, "waiting for the audit index");
    }
  }

  private get session(): Opened {
    if (!this.opened?.db.open) throw notOpen(this.where);
    return this.opened;
  }

  private get db(): Database.Database {
    return this.session.db;
  }

  /** Runs a read here, mapping SQLite's failures to the log's errors. */
  private here<T>(what: string, read: (db: Database.Database) => T): T {
    const db = this.db;
    try {
      return read(db);
    } catch (error) {
      throw sqliteFailure(error, this.options.path, what);
    }
  }

  /** Runs a read on a reader thread when there are some, here otherwise. */
  private async read<K extends ReadOp>(
    op: K,
    ...args: Parameters<SqliteReads[K]>
  ): Promise<ReturnType<SqliteReads[K]>> {
    const { reads, pool } = this.session;
    await this.indexed();
    const what = `reading the audit database \`${this.options.path}\``;
    if (!pool) {
      const method = reads[op] as (...a: unknown[]) => ReturnType<SqliteReads[K]>;
      return this.here(what, () => method.apply(reads, args));
    }
    try {
      return (await pool.call(op, args)) as ReturnType<SqliteReads[K]>;
    } catch (error) {
      throw sqliteFailure(error, this.options.path, what);
    }
  }

  private async prune(cp: Checkpoint): Promise<number> {
    const journal = this.journal;
    if (!journal) return this.pruneIndex(cp);
    // the checkpoint is journaled, and the index applies it as any record: it removes the entries
    // behind it (so that an index rebuilt from the journal has them removed too)
    await this.indexed();
    const removed = this.kinds.reduce(
      (n, kind) =>
        n +
        (
          this.db
            .prepare(`SELECT COUNT(*) AS n FROM ${kind.table} WHERE chain = ? AND seq <= ?`)
            .get(cp.chain, cp.seq) as { n: number }
        ).n,
      0,
    );
    await journal.checkpoint(cp);
    // every chain's checkpoint again, in the segment being written: a segment removed below may
    // hold another chain's only record of its own
    const others = this.db
      .prepare(
        "SELECT chain, seq, hash, mac, pruned_at AS prunedAt FROM checkpoints WHERE chain <> ?",
      )
      .all(cp.chain) as Checkpoint[];
    for (const other of others) await journal.checkpoint(other);
    journal.removePrunedSegments();
    return removed;
  }

  private pruneIndex(cp: Checkpoint): number {
    const db = this.db;
    const withInputs = this.kinds.filter((k) => k.input);
    return db.transaction(() => {
      db.prepare(
        `INSERT INTO checkpoints (chain, seq, hash, mac, pruned_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac, pruned_at = excluded.pruned_at`,
      ).run(cp.chain, cp.seq, cp.hash, cp.mac, cp.prunedAt);
      let removed = 0;
      for (const kind of this.kinds)
        removed += db
          .prepare(`DELETE FROM ${kind.table} WHERE chain = ? AND seq <= ?`)
          .run(cp.chain, cp.seq).changes;
      db.prepare(
        `DELETE FROM inputs WHERE hash NOT IN (${withInputs.map((k) => `SELECT input_hash FROM ${k.table}`).join(" UNION ALL ")})`,
      ).run();
      return removed;
    })();
  }

  private updateNotification(id: string, u: NotificationUpdate): void {
    this.db
      .prepare(
        "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, delivered_at = ? WHERE id = ?",
      )
      .run(u.attempts, u.nextAttemptAt, u.lastError, u.deliveredAt, id);
  }

  private readOnlyError(): AuditUnavailableError {
    return new AuditUnavailableError(
      `the audit database \`${this.options.path}\` is open read-only`,
    );
  }

  /** Throws when the files are no longer the ones opened (checked before every commit). */
  private checkFiles(): void {
    const identity = this.session.identity;
    if (!identity) return;
    const problem = identityProblem(this.options.path, identity);
    if (problem) throw Object.assign(new Error(problem), { code: "CLEARANCE_FILE_REPLACED" });
  }

  /** The inline writer, made on first use. */
  private inlineAppender(): SqliteAppender {
    this.appender ??= new SqliteAppender(this.db, this.kinds, () => this.checkFiles());
    return this.appender;
  }

  private async append(
    chain: string,
    key: string | null,
    items: readonly SealItem[],
  ): Promise<ChainAppend> {
    if (this.readonly) return { ok: false, error: this.readOnlyError() };
    // the writer checks that the segment it appends to is still the journal's
    if (this.journal) return this.outcomeOf(await this.journal.append(chain, key, items), false);
    if (this.options.writerThread) return this.appendInThread(chain, key, items);
    let appender: SqliteAppender;
    try {
      appender = this.inlineAppender();
    } catch (error) {
      return { ok: false, error: this.asUnavailable(error, "SQLite write failed") };
    }
    return this.outcomeOf(appender.commit([{ id: 0, chain, key, items }])[0]!, false);
  }

  private asUnavailable(error: unknown, what: string): AuditUnavailableError {
    const failed = sqliteFailure(error, this.options.path, what);
    return failed instanceof AuditUnavailableError
      ? failed
      : new AuditUnavailableError(`${what}: ${failed.message}`, { cause: error });
  }

  /** A writer's reply (inline or from the thread) as the log's outcome. */
  private outcomeOf(m: WriteReply, probe: boolean): ChainAppend {
    const commit = m.commit ? { commit: m.commit } : {};
    if (m.ok) return { ok: true, placements: m.placements, ...commit };
    const error = this.asUnavailable(
      Object.assign(new Error(m.message), { code: m.code }),
      probe
        ? `the audit database \`${this.options.path}\` cannot be written`
        : "SQLite write failed",
    );
    return { ok: false, error, ...commit };
  }

  async checkWritable(): Promise<void> {
    if (this.readonly) throw this.readOnlyError();
    if (this.journal) {
      if (this.journal.damage)
        throw this.asUnavailable(this.journal.damageError(), "the audit index cannot be read");
      this.journal.checkLag();
      const outcome = this.outcomeOf(await this.journal.probe(), true);
      if (!outcome.ok) throw outcome.error;
      return;
    }
    if (this.options.writerThread) return this.probeInThread();
    const outcome = this.outcomeOf(this.inlineAppender().probe(0), true);
    if (!outcome.ok) throw outcome.error;
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
    this.here("reading the audit database", (db) => db.prepare("SELECT 1").get());
  }

  private startThread(identity: FileIdentity): Promise<void> {
    const init: WriterInit = {
      path: this.options.path,
      synchronous: this.options.synchronous,
      maxBatch: this.options.maxBatch ?? DEFAULT_MAX_BATCH,
      checkpointPages: this.options.checkpointPages ?? DEFAULT_CHECKPOINT_PAGES,
      identity,
      kinds: this.kinds,
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
    settle(this.outcomeOf(m, probe));
  }

  /** The writer thread, started when first needed (and again after it stopped). */
  private async writerThread(): Promise<
    { ok: true; worker: Worker } | { ok: false; error: AuditUnavailableError }
  > {
    if (this.closing || (this.opened && !this.opened.db.open))
      return { ok: false, error: new AuditUnavailableError("the audit store is closed") };
    const identity = this.opened?.identity;
    if (!identity) return { ok: false, error: notOpen(this.where) };
    this.threadReady ??= this.startThread(identity);
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
    await this.opening?.catch(() => {});
    await this.journal?.close();
    await this.threadReady?.catch(() => {});
    const worker = this.thread;
    if (worker) {
      // the thread writes what it was sent, answers, and exits
      worker.postMessage("close");
      await this.threadExit;
      this.thread = undefined;
    }
    const opened = this.opened;
    if (opened) {
      await opened.pool?.close();
      if (opened.db.open) opened.db.close();
    }
    this.lock?.release();
  }
}
