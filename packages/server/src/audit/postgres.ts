import { performance } from "node:perf_hooks";
import pg from "pg";
import {
  type AuditStore,
  AuditUnavailableError,
  type ChainAppend,
  type Checkpoint,
  type DeadLetter,
  type DecisionRow,
  type EntryRow,
  type EntryStore,
  type ExportChunk,
  type HitCount,
  type HitsQuery,
  type KindQuery,
  notOpen,
  type OutboxRow,
  type OutboxStore,
  type PageQuery,
  type StateStore,
  UNLOCKED,
} from "./backend.js";
import { exportChunkOf, GENESIS_HASH } from "./entry.js";
import { idFloor } from "./ids.js";
import {
  checkRegistry,
  DECISION_KIND,
  ENTRY_KINDS,
  type EntryKind,
  insertColumns,
  kindForQuery,
  selectList,
} from "./kinds.js";
import {
  checkKnownVersion,
  DEAD_LETTER_COLUMNS,
  DEAD_LETTER_INSERT,
  MIGRATIONS,
  MIGRATIONS_TABLE,
} from "./migrations.js";
import {
  candidateChunks,
  indexablePart,
  NAME_CANDIDATES,
  NAME_PROBE_ROWS,
  POSTGRES_NAME_EXPRESSION,
  POSTGRES_NAME_INDEX_NAME,
} from "./name-search.js";
import { postgresSantaStore } from "./santa-postgres.js";
import type { SantaStore } from "./santa-store.js";
import { type ChainHead, rowValues, type SealedBatch, type SealItem, sealBatch } from "./seal.js";
import { type ChainPosition, type VerifyStep, verifyRows } from "./verify.js";

export interface PostgresOptions {
  /** a libpq-style connection URL */
  url: string;
  /** most pooled connections for reads (the writer has its own) */
  poolSize: number;
  /** the schema holding the audit tables; created when missing */
  schema: string;
  /** for reading only: no migration, no write */
  readonly?: boolean;
  /** the entry kinds the log holds (`kinds.ts`); `ENTRY_KINDS` unless given */
  kinds?: readonly EntryKind[];
}

// The limits docs/operations.md promises. They must hold when the network drops packets rather than
// refusing connections (no RST, no FIN): then only timers on this side end a wait.
/** A new connection, or a wait for a pooled one: a dead database fails a decision quickly. */
export const CONNECT_TIMEOUT_MS = 2_000;
/** Server-side limit per statement; the log refuses a decision whose write takes longer. */
export const STATEMENT_TIMEOUT_MS = 10_000;
/**
 * Client-side limit per query: ends the wait for an answer that will never come (a blackhole).
 * Just above the server's, so that a slow statement fails there first and keeps its connection.
 */
const QUERY_TIMEOUT_MS = STATEMENT_TIMEOUT_MS + 500;
/**
 * Client-side limit for one migration step: a step may build an index over every entry (migration
 * 9 over a million entries takes tens of seconds), so it is not held to a statement's limit.
 */
const MIGRATION_TIMEOUT_MS = 60 * 60_000;
/** Idle time before TCP keepalive probes a connection, so a dead idle connection is found. */
const KEEPALIVE_IDLE_MS = 5_000;

const DECISIONS = `SELECT ${selectList(DECISION_KIND)} FROM ${DECISION_KIND.table}`;

/** Unquoted and lowercase, so it means the same in SQL and in the `search_path` startup option. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** A row as pg gives it: BIGINT as text. */
type Fetched<R extends { seq: number }> = Omit<R, "seq"> & { seq: string };

interface Writer {
  client: pg.Client;
  /** chains whose session advisory lock this connection holds */
  locked: Set<string>;
  /**
   * The head of each locked chain, read on this connection once it held the lock and kept from
   * one write to the next: while the lock is held, no other writer appends to the chain. The
   * connection, its locks and these heads go together after any failure.
   */
  heads: Map<string, ChainHead>;
}

type Run = (sql: string, params: unknown[]) => Promise<pg.QueryResult>;

/**
 * The shared audit store: several replicas write to one PostgreSQL, each to its own chain. Reads go
 * through a pool; writes go through one dedicated connection that holds a session advisory lock per
 * chain it writes, so a second writer on the same chain (a misconfigured replica) is refused instead
 * of forking the chain. Entries are sealed on that connection, after the head read under the lock.
 */
export class PostgresBackend implements AuditStore {
  readonly kind = "postgres" as const;
  readonly readonly: boolean;
  readonly kinds: readonly EntryKind[];
  readonly entries: EntryStore;
  readonly outbox: OutboxStore;
  readonly state: StateStore;
  readonly santa: SantaStore;
  private readonly pool: pg.Pool;
  private readonly schema: string;
  private writer: Writer | undefined;
  /** serialises the writer connection's uses: appends and probes, in the order made */
  private writing: Promise<unknown> = Promise.resolve();
  private opening: Promise<number> | undefined;
  private opened = false;
  private closed = false;
  /**
   * The kinds whose tables the schema has, which chain reads read: all of them, but for a store
   * opened read-only on an older schema (version 7 has no review tables until a writer migrates it).
   */
  private held: readonly EntryKind[];
  /** whether the schema has the index of file names, once asked (`namesIndexed`) */
  private nameIndex: Promise<boolean> | undefined;
  /** the one-statement write for each set of kinds a batch holds */
  private readonly writeSql = new Map<string, string>();

  constructor(private readonly options: PostgresOptions) {
    if (!SCHEMA_NAME.test(options.schema))
      throw new Error(
        `audit schema \`${options.schema}\` must be a lowercase SQL identifier (letters, digits, _)`,
      );
    this.schema = options.schema;
    this.readonly = options.readonly === true;
    this.kinds = checkRegistry(options.kinds ?? ENTRY_KINDS);
    this.held = this.kinds;
    // no connection yet: the pool connects when first used
    this.pool = new pg.Pool({ ...this.connectionConfig(), max: options.poolSize });
    // an idle pooled connection that dies emits here; the pool drops it and the next query
    // reconnects, so there is nothing to do but keep the process alive
    this.pool.on("error", () => {});
    this.entries = {
      append: (chain, key, items) => this.append(chain, key, items),
      head: (chain) => this.readHead((sql, params) => this.query(sql, params), chain),
      chains: () => this.chains(),
      checkpoint: (chain) => this.checkpoint(chain),
      verifyChunk: (chain, from, key, limit) => this.verifyChunk(chain, from, key, limit),
      checkPages: async () => [],
      get: async (id) => {
        const { rows } = await this.query<Fetched<DecisionRow>>(`${DECISIONS} WHERE id = $1`, [id]);
        return rows[0] && toRow(rows[0]);
      },
      input: async (hash) => {
        const { rows } = await this.query<{ body: string }>(
          "SELECT body FROM inputs WHERE hash = $1",
          [hash],
        );
        return rows[0]?.body;
      },
      inputs: (hashes) => this.inputs(hashes),
      latestFor: async (sha256) => {
        const { rows } = await this.query<Fetched<DecisionRow>>(
          `${DECISIONS} WHERE sha256 = $1 ORDER BY id DESC LIMIT 1`,
          [sha256],
        );
        return rows[0] && toRow(rows[0]);
      },
      latestForEach: async (sha256s) => {
        if (sha256s.length === 0) return [];
        const { rows } = await this.query<Fetched<DecisionRow>>(
          `SELECT DISTINCT ON (sha256) ${DECISIONS.slice("SELECT ".length)} WHERE sha256 = ANY($1) ORDER BY sha256, id DESC`,
          [[...new Set(sha256s)]],
        );
        return rows.map(toRow);
      },
      page: (query) => this.page(query),
      exportChunk: (query, inputs, maxBytes) => this.exportChunk(query, inputs, maxBytes),
      hits: (query) => this.hits(query),
      kindPage: (kind, query) => this.kindPage(kind, query),
      lastBefore: (chain, before) => this.lastBefore(chain, before),
      chainAfter: (chain, afterSeq, limit) => this.chainRows(chain, afterSeq, limit),
      prune: (cp) => this.prune(cp),
    };
    this.outbox = {
      dueNotifications: async (chain, now, limit) => {
        const { rows } = await this.query<OutboxRow>(
          `SELECT id, chain, entry_id AS "entryId", target, payload, attempts, next_attempt_at AS "nextAttemptAt",
                  last_error AS "lastError", delivered_at AS "deliveredAt", created_at AS "createdAt"
           FROM outbox WHERE chain = $1 AND delivered_at IS NULL AND next_attempt_at <= $2
           ORDER BY next_attempt_at, id LIMIT $3`,
          [chain, now, limit],
        );
        return rows;
      },
      updateNotification: async (id, u) => {
        await this.query(
          "UPDATE outbox SET attempts = $1, next_attempt_at = $2, last_error = $3, delivered_at = $4 WHERE id = $5",
          [u.attempts, u.nextAttemptAt, u.lastError, u.deliveredAt, id],
        );
      },
      pendingNotifications: async (chain) => {
        const { rows } = await this.query<{ n: string }>(
          "SELECT COUNT(*) AS n FROM outbox WHERE chain = $1 AND delivered_at IS NULL",
          [chain],
        );
        return Number(rows[0]?.n ?? 0);
      },
      hasDelivery: async (id) => {
        const { rowCount } = await this.query("SELECT 1 FROM deliveries WHERE id = $1", [id]);
        return (rowCount ?? 0) > 0;
      },
      deliveryEntries: async (ids) => {
        const { rows } = await this.query<{ id: string; entryId: string }>(
          'SELECT id, entry_id AS "entryId" FROM deliveries WHERE entry_id IS NOT NULL AND id = ANY($1::text[])',
          [ids],
        );
        return new Map(rows.map((r) => [r.id, r.entryId]));
      },
      claimKey: async (c) => {
        // one statement: the row is locked while it decides, so two replicas cannot both take it
        const { rows } = await this.query<{ createdAt: string }>(CLAIM_KEY_POSTGRES, [
          c.requester,
          c.key,
          c.bodyHash,
          c.now,
          c.lockedUntil,
          c.expiredBefore,
          c.holder,
        ]);
        if (rows[0]) return { outcome: "claimed", createdAt: rows[0].createdAt };
        const held = await this.query<{ bodyHash: string }>(
          'SELECT body_hash AS "bodyHash" FROM idempotency_keys WHERE requester = $1 AND key = $2',
          [c.requester, c.key],
        );
        const bodyHash = held.rows[0]?.bodyHash;
        return { outcome: bodyHash !== undefined && bodyHash !== c.bodyHash ? "reused" : "busy" };
      },
      releaseKey: async (requester, key, holder) => {
        await this.query(
          "UPDATE idempotency_keys SET locked_until = $1 WHERE requester = $2 AND key = $3 AND holder = $4",
          [UNLOCKED, requester, key, holder],
        );
      },
      prune: async (before) => {
        await this.query("DELETE FROM idempotency_keys WHERE created_at < $1", [before]);
        const outbox = await this.query(
          "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < $1",
          [before],
        );
        const deliveries = await this.query("DELETE FROM deliveries WHERE received_at < $1", [
          before,
        ]);
        return { notifications: outbox.rowCount ?? 0, deliveries: deliveries.rowCount ?? 0 };
      },
      deadLetter: async (letters) => {
        if (letters.length === 0) return;
        const column = <K extends keyof DeadLetter>(key: K) => letters.map((l) => l[key]);
        await this.query(
          `INSERT INTO siem_dead_letters (${DEAD_LETTER_INSERT})
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
           ON CONFLICT (sink, event_id) DO NOTHING`,
          [
            column("sink"),
            column("eventId"),
            column("chain"),
            column("seq"),
            column("kind"),
            column("time"),
            column("body"),
            column("error"),
            column("createdAt"),
          ],
        );
      },
      deadLetters: async (sink, limit) =>
        (
          await this.query<DeadLetter>(
            `SELECT ${DEAD_LETTER_COLUMNS} FROM siem_dead_letters WHERE sink = $1 ORDER BY chain, seq LIMIT $2`,
            [sink, limit],
          )
        ).rows,
      deadLetterCounts: async () => {
        const { rows } = await this.query<{ sink: string; n: string }>(
          "SELECT sink, COUNT(*) AS n FROM siem_dead_letters GROUP BY sink",
        );
        return new Map(rows.map((r) => [r.sink, Number(r.n)]));
      },
    };
    this.santa = postgresSantaStore(
      (sql, params) => this.query(sql, params),
      (what, work) => this.transaction(what, work),
    );
    this.state = {
      recordedHeads: async () => {
        const { rows } = await this.query<{ chain: string; seq: string; hash: string }>(
          "SELECT chain, seq, hash FROM chain_heads ORDER BY chain",
        );
        return rows.map((r) => ({ chain: r.chain, seq: Number(r.seq), hash: r.hash }));
      },
      get: async (key) => {
        const { rows } = await this.query<{ value: string }>(
          "SELECT value FROM state WHERE key = $1",
          [key],
        );
        return rows[0]?.value;
      },
      set: async (key, value) => {
        await this.query(
          `INSERT INTO state (key, value, updated_at) VALUES ($1, $2, $3)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
          [key, value, new Date().toISOString()],
        );
      },
    };
  }

  private connectionConfig(): pg.ClientConfig {
    // a connection string overrides the `options` field, so the search path goes into the URL
    // when the URL already carries startup options of its own
    const searchPath = `-c search_path=${this.schema}`;
    let connectionString = this.options.url;
    let options: string | undefined = searchPath;
    try {
      const url = new URL(connectionString);
      const own = url.searchParams.get("options");
      if (own !== null) {
        url.searchParams.set("options", `${own} ${searchPath}`);
        connectionString = url.toString();
        options = undefined;
      }
    } catch {
      // not a URL (e.g. `socket:` or key=value): pg parses it itself
    }
    return {
      connectionString,
      ...(options ? { options } : {}),
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      statement_timeout: STATEMENT_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
      application_name: "clearance",
    };
  }

  get where(): string {
    return `PostgreSQL schema \`${this.schema}\``;
  }

  /** A pooled query on the open store. */
  private async query<R extends pg.QueryResultRow>(
    sql: string,
    params: unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
    if (!this.opened || this.closed) throw notOpen(this.where);
    try {
      return await this.pool.query<R>(sql, params);
    } catch (error) {
      throw unavailable(error, `audit query on ${this.where} failed`);
    }
  }

  /**
   * Runs `work` in one transaction on a pooled connection. A failure rolls back by dropping the
   * connection (its transaction state is unknown) and surfaces as AuditUnavailableError.
   */
  private async transaction<T>(
    what: string,
    work: (client: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw unavailable(error, `cannot connect to the audit database (${this.where})`, true);
    }
    let failure: unknown;
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      failure = error;
      if (error instanceof AuditUnavailableError) throw error;
      throw unavailable(error, `${what} (${this.where}) failed`, true);
    } finally {
      client.release(failure !== undefined);
    }
  }

  open(): Promise<number> {
    if (this.closed) return Promise.reject(new AuditUnavailableError("the audit store is closed"));
    this.opening ??= (this.readonly ? this.readVersion() : this.migrate()).then(
      (version) => {
        this.opened = true;
        return version;
      },
      (error) => {
        this.opening = undefined;
        throw error;
      },
    );
    return this.opening;
  }

  /** A read-only open: the schema's version, refused when newer than this Clearance knows. */
  private async readVersion(): Promise<number> {
    let current: number;
    try {
      const { rows } = await this.pool.query<{ v: number | null }>(
        "SELECT MAX(version) AS v FROM schema_migrations",
      );
      current = rows[0]?.v ?? 0;
    } catch (error) {
      throw unavailable(error, `cannot open the audit database (${this.where})`);
    }
    checkKnownVersion(`the audit database (${this.where})`, current);
    // never migrated here: an older schema may lack the tables of newer kinds
    try {
      const { rows } = await this.pool.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')`,
        [this.schema],
      );
      const tables = new Set(rows.map((r) => r.name));
      this.held = this.kinds.filter((k) => tables.has(k.table));
    } catch (error) {
      throw unavailable(error, `cannot open the audit database (${this.where})`);
    }
    return current;
  }

  private async migrate(): Promise<number> {
    return this.transaction("migrating the audit database", async (client) => {
      // A step may build an index over every entry (migration 9: tens of seconds for a million),
      // and replicas starting together wait here for the first one's migration, then see it
      // applied: neither is held to a statement's limit.
      await client.query("SET LOCAL statement_timeout = 0");
      await client.query({
        text: "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        values: [`clearance:migrate:${this.schema}`],
        query_timeout: MIGRATION_TIMEOUT_MS,
      } as pg.QueryConfig);
      // CREATE SCHEMA needs the CREATE privilege on the database even when the schema exists
      const exists = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [
        this.schema,
      ]);
      if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${this.schema}`);
      await client.query(`SET LOCAL search_path TO ${this.schema}`);
      await client.query(MIGRATIONS_TABLE);
      const version = async () =>
        (
          await client.query<{ v: number | null }>(
            "SELECT MAX(version) AS v FROM schema_migrations",
          )
        ).rows[0]?.v ?? 0;
      const current = await version();
      checkKnownVersion(`the audit database (${this.where})`, current);
      for (const m of MIGRATIONS) {
        if (m.version <= current) continue;
        await client.query({
          text: m.postgres,
          query_timeout: MIGRATION_TIMEOUT_MS,
        } as pg.QueryConfig);
        await client.query(
          "INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)",
          [m.version, m.description, new Date().toISOString()],
        );
      }
      return version();
    });
  }

  /** The last entry of `chain`, of any kind, or its checkpoint when everything was pruned. */
  private async readHead(run: Run, chain: string): Promise<ChainHead | undefined> {
    const one = (k: EntryKind) =>
      `SELECT seq, hash FROM ${k.table} WHERE chain = $1 ORDER BY seq DESC LIMIT 1`;
    const sql =
      this.held.length === 1
        ? one(this.held[0]!)
        : `SELECT seq, hash FROM (${this.held.map((k) => `(${one(k)})`).join(" UNION ALL ")}) h ORDER BY seq DESC LIMIT 1`;
    const { rows } = await run(sql, [chain]);
    const row = rows[0] as { seq: string; hash: string } | undefined;
    if (row) return { seq: Number(row.seq), hash: row.hash };
    const cp = await run("SELECT seq, hash FROM checkpoints WHERE chain = $1", [chain]);
    const c = cp.rows[0] as { seq: string; hash: string } | undefined;
    return c ? { seq: Number(c.seq), hash: c.hash } : undefined;
  }

  /** Runs `work` after every earlier use of the writer connection; a failure does not block later ones. */
  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.writing.then(work);
    this.writing = run.catch(() => {});
    return run;
  }

  private append(
    chain: string,
    key: string | null,
    items: readonly SealItem[],
  ): Promise<ChainAppend> {
    return this.serially(async () => {
      const started = performance.now();
      const failed = (error: AuditUnavailableError): ChainAppend => ({
        ok: false,
        error,
        commit: { entries: 0, seconds: (performance.now() - started) / 1000 },
      });
      if (this.readonly)
        return failed(
          new AuditUnavailableError(`the audit database (${this.where}) is open read-only`),
        );
      if (this.closed) return failed(new AuditUnavailableError("the audit store is closed"));
      if (!this.opened) return failed(notOpen(this.where));
      let writer: Writer;
      try {
        writer = await this.writerFor(chain);
      } catch (error) {
        return failed(
          unavailable(error, `audit write to ${this.where} failed`, true) as AuditUnavailableError,
        );
      }
      // sealed here, on the connection holding the chain's lock, after the head read under it
      const sealed = sealBatch(items, chain, writer.heads.get(chain)!, key);
      if (sealed.rows.length > 0) {
        try {
          // One statement, so one round trip: a statement is atomic on its own, and its
          // data-modifying CTEs commit or fail together. The writer connection is the log's
          // bottleneck under load, and BEGIN, an INSERT per table and COMMIT each waited for an
          // answer.
          await writer.client.query(
            this.writeStatement(sealed),
            writeValues(this.kinds, sealed, chain),
          );
        } catch (error) {
          const failure = unavailable(error, `audit write to ${this.where} failed`, true);
          // An integrity constraint (an id or a once-key already taken) is this batch's fault, not
          // the store's. The server refused the one autocommit statement and rolled it back: the
          // connection is idle, its advisory locks held, and the chain's head in `writer.heads`
          // is still right (it moves only on success). So the writer is kept: a new connection
          // would find the lock still held by this session, which `end()` releases only later,
          // and refuse the next write as "being written by another replica".
          if (error instanceof pg.DatabaseError && error.code?.startsWith("23"))
            return failed(
              new AuditUnavailableError(failure.message, { cause: error, scope: "entry" }),
            );
          // anything else (connection, timeout, server), the connection's state is unknown: a
          // fresh connection, with the head read again under the lock, is the one certain state
          this.discardWriter(writer);
          return failed(failure as AuditUnavailableError);
        }
        writer.heads.set(chain, sealed.head);
      }
      return {
        ok: true,
        placements: sealed.placements,
        commit: { entries: items.length, seconds: (performance.now() - started) / 1000 },
      };
    });
  }

  /** The write statement for the kinds `sealed` holds (made once for each set of kinds). */
  private writeStatement(sealed: SealedBatch): string {
    const kinds = this.kinds.filter((k) => sealed.rows.some((r) => r.kind === k.name));
    const key = kinds.map((k) => k.name).join(",");
    let sql = this.writeSql.get(key);
    if (!sql) {
      sql = writeSql(kinds);
      this.writeSql.set(key, sql);
    }
    return sql;
  }

  /** The writer connection, holding the advisory lock for `chain`; connects when there is none. */
  private async writerFor(chain: string): Promise<Writer> {
    let writer = this.writer;
    if (!writer) {
      const client = new pg.Client(this.connectionConfig());
      const fresh: Writer = { client, locked: new Set(), heads: new Map() };
      // stays attached for the client's life: a late error on a discarded client must not crash
      client.on("error", () => this.discardWriter(fresh));
      client.on("end", () => this.discardWriter(fresh));
      try {
        await client.connect();
      } catch (error) {
        this.discardWriter(fresh);
        throw unavailable(error, `cannot connect to the audit database (${this.where})`, true);
      }
      this.writer = writer = fresh;
    }
    if (!writer.locked.has(chain)) {
      let acquired: boolean;
      try {
        const { rows } = await writer.client.query<{ ok: boolean }>(
          "SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok",
          [chainLockKey(this.schema, chain)],
        );
        acquired = rows[0]?.ok === true;
      } catch (error) {
        this.discardWriter(writer);
        throw unavailable(error, `cannot lock audit chain \`${chain}\` in ${this.where}`, true);
      }
      if (!acquired)
        throw new AuditUnavailableError(
          `audit chain \`${chain}\` in ${this.where} is being written by another replica: every replica needs its own \`audit.chain\``,
        );
      const client = writer.client;
      try {
        const head = await this.readHead((sql, params) => client.query(sql, params), chain);
        writer.heads.set(chain, head ?? { seq: 0, hash: GENESIS_HASH });
      } catch (error) {
        this.discardWriter(writer);
        throw unavailable(
          error,
          `cannot read the head of audit chain \`${chain}\` in ${this.where}`,
          true,
        );
      }
      writer.locked.add(chain);
    }
    return writer;
  }

  private discardWriter(writer: Writer): void {
    if (this.writer === writer) this.writer = undefined;
    // ending the session also releases its advisory locks
    writer.client.end().catch(() => {});
  }

  private async inputs(hashes: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    if (hashes.length === 0) return found;
    const { rows } = await this.query<{ hash: string; body: string }>(
      "SELECT hash, body FROM inputs WHERE hash = ANY($1::text[])",
      [[...new Set(hashes)]],
    );
    for (const r of rows) found.set(r.hash, r.body);
    return found;
  }

  private async page(q: PageQuery): Promise<DecisionRow[]> {
    if (q.fileName !== undefined && indexablePart(q.fileName) && (await this.namesIndexed())) {
      // the newest entries first: a common part fills the page there (`name-search.ts`)
      const probed = await this.scan(q, undefined, NAME_PROBE_ROWS);
      if (probed.length >= q.limit) return probed;
      // candidates from the index of trigrams; too many: the part is common, read in id order.
      // LIKE under the C collation, its wildcards escaped: the same literal part as strpos()
      const { rows } = await this.query<{ id: string }>(
        `SELECT id FROM entries WHERE ${POSTGRES_NAME_EXPRESSION} LIKE '%' || replace(replace(replace(lower($1 COLLATE "C"), '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%' LIMIT $2`,
        [q.fileName, NAME_CANDIDATES + 1],
      );
      if (rows.length <= NAME_CANDIDATES) {
        const found: DecisionRow[] = [];
        for (const chunk of candidateChunks(
          rows.map((r) => r.id),
          q,
        )) {
          found.push(...(await this.scan({ ...q, limit: q.limit - found.length }, chunk)));
          if (found.length >= q.limit) break;
        }
        return found;
      }
    }
    return this.scan(q);
  }

  /** Whether migration 9 made the index of file names (not where pg_trgm could not be had). */
  private namesIndexed(): Promise<boolean> {
    this.nameIndex ??= this.query(
      "SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND indexname = $2",
      [this.schema, POSTGRES_NAME_INDEX_NAME],
    ).then(
      (r) => (r.rowCount ?? 0) > 0,
      (error) => {
        this.nameIndex = undefined;
        throw error;
      },
    );
    return this.nameIndex;
  }

  /**
   * The page's query, over the entries whose ids are in `among` when given; with `probeRows`, the
   * file-name filter only over the first `probeRows` entries that the other conditions leave.
   */
  private async scan(
    q: PageQuery,
    among?: readonly string[],
    probeRows?: number,
  ): Promise<DecisionRow[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const cond = (sql: string, value: string | undefined) => {
      if (value === undefined) return;
      args.push(value);
      where.push(`${sql} $${args.length}`);
    };
    cond("sha256 =", q.sha256);
    cond("decision =", q.decision);
    cond("rule =", q.rule);
    cond("source =", q.source);
    cond("requester =", q.requester);
    // as on SQLite: a literal part of the name, ASCII letters in any case (the C collation's lower())
    const name = (n: number) => `strpos(${POSTGRES_NAME_EXPRESSION}, lower($${n} COLLATE "C")) > 0`;
    if (q.fileName !== undefined && probeRows === undefined) {
      args.push(q.fileName);
      where.push(name(args.length));
    }
    cond("time >=", q.from);
    cond("time <", q.to);
    // a time range is also an id range (UUIDv7 ids begin with their time): the primary key answers it
    if (q.from !== undefined) cond("id >=", idFloor(Date.parse(q.from)));
    if (q.to !== undefined) cond("id <", idFloor(Date.parse(q.to) + 1));
    cond("id <", q.before);
    cond("id >", q.after);
    if (among !== undefined) {
      args.push(among);
      where.push(`id = ANY($${args.length}::text[])`);
    }
    const conditions = where.length ? `WHERE ${where.join(" AND ")}` : "";
    const order = `ORDER BY id ${q.ascending ? "ASC" : "DESC"}`;
    let sql: string;
    if (probeRows !== undefined && q.fileName !== undefined) {
      args.push(probeRows, q.fileName, q.limit);
      const n = args.length;
      const first = `SELECT * FROM ${DECISION_KIND.table} ${conditions} ${order} LIMIT $${n - 2}`;
      sql = `SELECT ${selectList(DECISION_KIND)} FROM (${first}) AS ${DECISION_KIND.table} WHERE ${name(n - 1)} ${order} LIMIT $${n}`;
    } else {
      args.push(q.limit);
      sql = `${DECISIONS} ${conditions} ${order} LIMIT $${args.length}`;
    }
    const { rows } = await this.query<Fetched<DecisionRow>>(sql, args);
    return rows.map(toRow);
  }

  /**
   * Decisions counted per bucket, rule and kind (`EntryStore.hits`): the same counts as SQLite's,
   * one statement that reads the range once, as an id range of the primary key (UUIDv7 ids begin
   * with their time), as `page` does. `from` is on a whole second, so flooring the seconds
   * since it gives the bucket.
   */
  private async hits(q: HitsQuery): Promise<HitCount[]> {
    // one scan of the range, each body parsed once, grouped at once by what is counted (the
    // groups are few: decisions repeat their `matched` lists), the lists expanded per group
    const sql = `
WITH g AS MATERIALIZED (
  SELECT bucket, rule, decision, j -> 'matched' AS matched, j -> 'monitored' AS monitored,
    (j -> 'shadow' ->> 'decision') NOT IN (decision, 'error') AS disagrees, COUNT(*)::int AS n
  FROM (
    SELECT floor((extract(epoch FROM time::timestamptz) - $3) / $4)::int AS bucket, rule, decision, body::jsonb AS j
    FROM entries WHERE id >= $5 AND id < $6 AND time >= $1 AND time < $2
  ) r
  GROUP BY 1, 2, 3, 4, 5, 6
)
SELECT bucket, rule, decision AS kind, SUM(n)::int AS count FROM g GROUP BY bucket, rule, decision
UNION ALL
SELECT bucket, m, 'matched', SUM(n)::int FROM g, jsonb_array_elements_text(g.matched) AS m GROUP BY bucket, m
UNION ALL
SELECT bucket, m, 'monitored', SUM(n)::int FROM g, jsonb_array_elements_text(g.monitored) AS m GROUP BY bucket, m
UNION ALL
SELECT bucket, rule, 'disagreements', SUM(n)::int FROM g WHERE disagrees GROUP BY bucket, rule`;
    const { rows } = await this.query<HitCount>(sql, [
      q.from,
      q.to,
      Math.floor(Date.parse(q.from) / 1000),
      q.bucketSeconds,
      idFloor(Date.parse(q.from)),
      idFloor(Date.parse(q.to) + 1),
    ]);
    return rows;
  }

  /** Entries of one kind other than decisions, from every chain, oldest first (`EntryStore.kindPage`). */
  private async kindPage(kindName: string, q: KindQuery): Promise<EntryRow[]> {
    const { kind, column } = kindForQuery(this.kinds, kindName, q);
    // a log older than the kind: no table, no entries
    if (!this.held.includes(kind)) return [];
    const where: string[] = [];
    const args: unknown[] = [];
    if (column) {
      args.push(q.value);
      where.push(`${column.column} = $${args.length}`);
    }
    if (q.after !== undefined) {
      args.push(q.after);
      where.push(`id > $${args.length}`);
    }
    if (q.otherThanChain !== undefined) {
      args.push(q.otherThanChain);
      where.push(`chain <> $${args.length}`);
    }
    args.push(q.limit);
    const sql = `SELECT ${selectList(kind)} FROM ${kind.table} ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id ASC LIMIT $${args.length}`;
    const { rows } = await this.query<Fetched<EntryRow>>(sql, args);
    return rows.map(toRow);
  }

  private async chains(): Promise<string[]> {
    const { rows } = await this.query<{ chain: string }>(
      `${this.held.map((k) => `SELECT chain FROM ${k.table}`).join(" UNION ")} UNION SELECT chain FROM checkpoints ORDER BY chain`,
    );
    return rows.map((r) => r.chain);
  }

  /** Entries of one chain, of every kind, in seq order, from `afterSeq + 1`, at most `limit`. */
  private async chainRows(chain: string, afterSeq: number, limit: number): Promise<EntryRow[]> {
    const of = async (kind: EntryKind) =>
      (
        await this.query<Fetched<EntryRow>>(
          `SELECT ${selectList(kind)} FROM ${kind.table} WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
          [chain, afterSeq, limit],
        )
      ).rows.map(toRow);
    if (this.held.length === 1) return of(this.held[0]!);
    const all = await Promise.all(this.held.map(of));
    return all
      .flat()
      .sort((a, b) => a.seq - b.seq)
      .slice(0, limit);
  }

  private async verifyChunk(
    chain: string,
    from: ChainPosition,
    key: string | null,
    limit: number,
  ): Promise<VerifyStep> {
    const rows = await this.chainRows(chain, from.seq, limit);
    const inputs = await this.inputs(
      rows.flatMap((r) => (r.inputHash === null ? [] : [r.inputHash])),
    );
    // the rows are checked on the event loop: another turn first, so that one verification takes
    // turns with the requests around it
    await new Promise((r) => setImmediate(r));
    return verifyRows(rows, (h) => inputs.get(h), chain, from, key, this.kinds);
  }

  private async exportChunk(
    query: PageQuery,
    withInputs: boolean,
    maxBytes: number,
  ): Promise<ExportChunk> {
    const rows = await this.page({ ...query, ascending: true });
    const inputs = withInputs
      ? await this.inputs(rows.map((r) => r.inputHash))
      : new Map<string, string>();
    // the event loop makes the text: another turn first, as for verification
    await new Promise((r) => setImmediate(r));
    return exportChunkOf(rows, query.limit, withInputs, (h) => inputs.get(h), maxBytes);
  }

  private async checkpoint(chain: string): Promise<Checkpoint | undefined> {
    const { rows } = await this.query<Fetched<Checkpoint>>(
      `SELECT chain, seq, hash, mac, pruned_at AS "prunedAt" FROM checkpoints WHERE chain = $1`,
      [chain],
    );
    const row = rows[0];
    return row && { ...row, seq: Number(row.seq) };
  }

  private async lastBefore(chain: string, before: string): Promise<EntryRow | undefined> {
    let last: EntryRow | undefined;
    for (const kind of this.held) {
      const { rows } = await this.query<Fetched<EntryRow>>(
        `SELECT ${selectList(kind)} FROM ${kind.table} WHERE chain = $1 AND time < $2 ORDER BY seq DESC LIMIT 1`,
        [chain, before],
      );
      const row = rows[0] && toRow(rows[0]);
      if (row && (!last || row.seq > last.seq)) last = row;
    }
    return last;
  }

  private async prune(cp: Checkpoint): Promise<number> {
    if (!this.opened || this.closed) throw notOpen(this.where);
    return this.transaction("pruning the audit log", async (client) => {
      await client.query(
        `INSERT INTO checkpoints (chain, seq, hash, mac, pruned_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac, pruned_at = excluded.pruned_at`,
        [cp.chain, cp.seq, cp.hash, cp.mac, cp.prunedAt],
      );
      let removed = 0;
      for (const kind of this.kinds) {
        const r = await client.query(`DELETE FROM ${kind.table} WHERE chain = $1 AND seq <= $2`, [
          cp.chain,
          cp.seq,
        ]);
        removed += r.rowCount ?? 0;
      }
      // Another replica's write may reuse an input this delete finds unreferenced: its
      // ON CONFLICT DO NOTHING saw the row, and its entry is not committed yet. The lock waits for
      // in-flight writes and holds new ones back, so the delete's snapshot sees every reference.
      await client.query("LOCK TABLE inputs IN SHARE ROW EXCLUSIVE MODE");
      const unreferenced = this.kinds
        .filter((k) => k.input)
        .map(
          (k) => `NOT EXISTS (SELECT 1 FROM ${k.table} WHERE ${k.table}.input_hash = inputs.hash)`,
        );
      await client.query(`DELETE FROM inputs WHERE ${unreferenced.join(" AND ")}`);
      return removed;
    });
  }

  async checkWritable(chain: string): Promise<void> {
    if (this.readonly)
      throw new AuditUnavailableError(`the audit database (${this.where}) is open read-only`);
    if (this.closed) throw new AuditUnavailableError("the audit store is closed");
    if (!this.opened) throw notOpen(this.where);
    // the writer connection with this chain's lock, and an answer on it: a connection whose peer
    // vanished looks alive until something is sent
    await this.serially(async () => {
      const writer = await this.writerFor(chain);
      try {
        await writer.client.query("SELECT 1");
      } catch (error) {
        this.discardWriter(writer);
        throw unavailable(error, `the writer connection to ${this.where} does not answer`, true);
      }
    });
  }

  async ping(): Promise<void> {
    try {
      await this.pool.query("SELECT 1");
    } catch (error) {
      throw unavailable(error, `audit query on ${this.where} failed`);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.opening?.catch(() => {});
    await this.writing;
    if (this.writer) {
      const { client } = this.writer;
      this.writer = undefined;
      await client.end().catch(() => {});
    }
    await this.pool.end();
  }
}

function toRow<R extends { seq: number }>(r: Fetched<R>): R {
  return { ...r, seq: Number(r.seq) } as unknown as R;
}

/** `claimKey` in one statement, as SQLite's (`sqlite.ts`). */
const CLAIM_KEY_POSTGRES = `INSERT INTO idempotency_keys AS k (requester, key, body_hash, created_at, locked_until, holder)
VALUES ($1, $2, $3, $4, $5, $7)
ON CONFLICT (requester, key) DO UPDATE SET
  body_hash = excluded.body_hash,
  created_at = CASE WHEN k.created_at < $6 THEN excluded.created_at ELSE k.created_at END,
  locked_until = excluded.locked_until,
  holder = excluded.holder
WHERE k.created_at < $6 OR (k.body_hash = excluded.body_hash AND k.locked_until <= $4)
RETURNING created_at AS "createdAt"`;

/**
 * A whole group commit in one statement: inputs, notifications, delivery ids and the chain's head
 * in data-modifying CTEs, and the entries of each kind in the batch. Values: `writeValues`.
 */
function writeSql(kinds: readonly EntryKind[]): string {
  let n = 0;
  const p = (type: string) => `$${++n}::${type}`;
  const arrays = (types: string[]) => `unnest(${types.map((t) => p(`${t}[]`)).join(", ")})`;
  const ctes = [
    `new_inputs AS (
  INSERT INTO inputs (hash, body)
  SELECT * FROM ${arrays(["text", "text"])}
  ON CONFLICT (hash) DO NOTHING
)`,
    `new_outbox AS (
  INSERT INTO outbox (id, chain, entry_id, target, payload, attempts, next_attempt_at, last_error, delivered_at, created_at)
  SELECT * FROM ${arrays(["text", "text", "text", "text", "text", "int", "text", "text", "text", "text"])}
)`,
    `new_deliveries AS (
  INSERT INTO deliveries (id, received_at, entry_id)
  SELECT * FROM ${arrays(["text", "text", "text"])}
  ON CONFLICT (id) DO NOTHING
)`,
    `new_head AS (
  INSERT INTO chain_heads (chain, seq, hash, updated_at) VALUES (${p("text")}, ${p("bigint")}, ${p("text")}, ${p("text")})
  ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, updated_at = excluded.updated_at
)`,
  ];
  const inserts = kinds.map((kind) => {
    const columns = insertColumns(kind);
    return `INSERT INTO ${kind.table} (${columns.join(", ")})
SELECT * FROM ${arrays(columns.map((c) => (c === "seq" ? "bigint" : "text")))}`;
  });
  const last = inserts.pop()!;
  inserts.forEach((insert, i) => {
    ctes.push(`new_${kinds[i]!.table} AS (\n${insert}\n)`);
  });
  return `WITH ${ctes.join(", ")}\n${last}`;
}

/** The values of `writeSql` for the kinds `sealed` holds, in the order of its parameters. */
function writeValues(
  registry: readonly EntryKind[],
  sealed: SealedBatch,
  chain: string,
): unknown[] {
  const { inputs, outbox, deliveries, head } = sealed;
  const values: unknown[] = [
    inputs.map((i) => i.hash),
    inputs.map((i) => i.body),
    outbox.map((o) => o.id),
    outbox.map((o) => o.chain),
    outbox.map((o) => o.entryId),
    outbox.map((o) => o.target),
    outbox.map((o) => o.payload),
    outbox.map((o) => o.attempts),
    outbox.map((o) => o.nextAttemptAt),
    outbox.map((o) => o.lastError),
    outbox.map((o) => o.deliveredAt),
    outbox.map((o) => o.createdAt),
    deliveries.map((d) => d.id),
    deliveries.map((d) => d.time),
    deliveries.map((d) => d.entryId),
    chain,
    head.seq,
    head.hash,
    new Date().toISOString(),
  ];
  for (const kind of registry) {
    const rows = sealed.rows.filter((r) => r.kind === kind.name).map(rowValues);
    if (rows.length === 0) continue;
    const width = rows[0]!.length;
    for (let c = 0; c < width; c++) values.push(rows.map((r) => r[c]));
  }
  return values;
}

/** One 64-bit advisory lock key per schema and chain: two schemas in one database do not collide. */
function chainLockKey(schema: string, chain: string): string {
  return `clearance:chain:${schema}:${chain}`;
}

/**
 * Connection trouble (refused, reset, timed out, server shutting down, too many connections) means
 * the store is unavailable. With `always`, any failure is (a write that did not commit is a decision
 * that must be refused); otherwise a SQL error, which is a bug, is passed on as it is.
 */
function unavailable(error: unknown, what: string, always = false): Error {
  if (error instanceof AuditUnavailableError) return error;
  if (!always && error instanceof pg.DatabaseError && !isConnectionClass(error.code)) return error;
  return new AuditUnavailableError(`${what}: ${(error as Error).message}`, { cause: error });
}

/** SQLSTATE classes that say the server or the connection, not the statement, is the problem. */
function isConnectionClass(code: string | undefined): boolean {
  const cls = code?.slice(0, 2);
  return cls === "08" || cls === "53" || cls === "57" || cls === "58";
}
