import pg from "pg";
import {
  type AuditBackend,
  AuditUnavailableError,
  type Checkpoint,
  type DeliveryRow,
  type EntryRow,
  type InputRow,
  type NotificationUpdate,
  type OutboxRow,
  type PageQuery,
  type RecordedHead,
} from "./backend.js";
import type { DecisionSource } from "./entry.js";
import { idFloor } from "./ids.js";
import { MIGRATIONS } from "./migrations.js";
import { lastOfEachChain } from "./seal.js";

export interface PostgresOptions {
  /** a libpq-style connection URL */
  url: string;
  /** most pooled connections for reads (the writer has its own) */
  poolSize: number;
  /** the schema holding the audit tables; created when missing */
  schema: string;
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
/** Idle time before TCP keepalive probes a connection, so a dead idle connection is found. */
const KEEPALIVE_IDLE_MS = 5_000;

const COLUMNS = `id, chain, seq, time, source, requester, sha256, decision, rule, input_hash AS "inputHash", body, hash`;

/** Unquoted and lowercase, so it means the same in SQL and in the `search_path` startup option. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

interface EntryRecord {
  id: string;
  chain: string;
  seq: string;
  time: string;
  source: string;
  requester: string | null;
  sha256: string;
  decision: string;
  rule: string | null;
  inputHash: string;
  body: string;
  hash: string;
}

interface Writer {
  client: pg.Client;
  /** chains whose session advisory lock this connection holds */
  locked: Set<string>;
}

/**
 * The shared audit store: several replicas write to one PostgreSQL, each to its own chain. Reads go
 * through a pool; writes go through one dedicated connection that holds a session advisory lock per
 * chain it writes, so a second writer on the same chain (a misconfigured replica) is refused instead
 * of forking the chain.
 */
export class PostgresBackend implements AuditBackend {
  readonly kind = "postgres" as const;
  private readonly pool: pg.Pool;
  private readonly schema: string;
  private writer: Writer | undefined;
  /** serialises `write` calls: they share the writer connection and its transaction */
  private writing: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: PostgresOptions) {
    if (!SCHEMA_NAME.test(options.schema))
      throw new Error(
        `audit schema \`${options.schema}\` must be a lowercase SQL identifier (letters, digits, _)`,
      );
    this.schema = options.schema;
    this.pool = new pg.Pool({ ...this.connectionConfig(), max: options.poolSize });
    // an idle pooled connection that dies emits here; the pool drops it and the next query
    // reconnects, so there is nothing to do but keep the process alive
    this.pool.on("error", () => {});
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

  private async query<R extends pg.QueryResultRow>(
    sql: string,
    params: unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
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

  async migrate(): Promise<number> {
    const newest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
    return this.transaction("migrating the audit database", async (client) => {
      // replicas starting together wait here for the first one's migration, then see it applied
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
        `clearance:migrate:${this.schema}`,
      ]);
      // CREATE SCHEMA needs the CREATE privilege on the database even when the schema exists
      const exists = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [
        this.schema,
      ]);
      if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${this.schema}`);
      await client.query(`SET LOCAL search_path TO ${this.schema}`);
      await client.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)",
      );
      const current =
        (
          await client.query<{ v: number | null }>(
            "SELECT MAX(version) AS v FROM schema_migrations",
          )
        ).rows[0]?.v ?? 0;
      if (current > newest)
        throw new AuditUnavailableError(
          `the audit database (${this.where}) has schema version ${current}, newer than this Clearance knows (${newest}): upgrade Clearance`,
        );
      for (const m of MIGRATIONS) {
        if (m.version <= current) continue;
        await client.query(m.postgres);
        await client.query(
          "INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)",
          [m.version, m.description, new Date().toISOString()],
        );
      }
      return newest;
    });
  }

  async head(chain: string): Promise<{ seq: number; hash: string } | undefined> {
    const { rows } = await this.query<{ seq: string; hash: string }>(
      "SELECT seq, hash FROM entries WHERE chain = $1 ORDER BY seq DESC LIMIT 1",
      [chain],
    );
    const row = rows[0];
    if (row) return { seq: Number(row.seq), hash: row.hash };
    const cp = await this.checkpoint(chain);
    return cp ? { seq: cp.seq, hash: cp.hash } : undefined;
  }

  write(
    rows: readonly EntryRow[],
    inputs: readonly InputRow[],
    outbox: readonly OutboxRow[] = [],
    deliveries: readonly DeliveryRow[] = [],
  ): Promise<void> {
    return this.serially(() => this.writeNow(rows, inputs, outbox, deliveries));
  }

  /** Runs `work` after every earlier use of the writer connection; a failure does not block later ones. */
  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.writing.then(work);
    this.writing = run.catch(() => {});
    return run;
  }

  private async writeNow(
    rows: readonly EntryRow[],
    inputs: readonly InputRow[],
    outbox: readonly OutboxRow[],
    deliveries: readonly DeliveryRow[],
  ): Promise<void> {
    if (this.closed) throw new AuditUnavailableError("the audit store is closed");
    if (rows.length === 0) return;
    const chain = rows[0]!.chain;
    if (rows.some((r) => r.chain !== chain)) throw new Error("one audit batch must not mix chains");
    const writer = await this.writerFor(chain);
    const head = lastOfEachChain(rows)[0]!;
    try {
      // One statement, so one round trip: a statement is atomic on its own, and its data-modifying
      // CTEs commit or fail together. The writer connection is the log's bottleneck under load, and
      // BEGIN, an INSERT per table and COMMIT each waited for an answer.
      await writer.client.query(WRITE_BATCH, [
        inputs.map((i) => i.hash),
        inputs.map((i) => i.body),
        rows.map((r) => r.id),
        rows.map((r) => r.chain),
        rows.map((r) => r.seq),
        rows.map((r) => r.time),
        rows.map((r) => r.source),
        rows.map((r) => r.requester),
        rows.map((r) => r.sha256),
        rows.map((r) => r.decision),
        rows.map((r) => r.rule),
        rows.map((r) => r.inputHash),
        rows.map((r) => r.body),
        rows.map((r) => r.hash),
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
        head.chain,
        head.seq,
        head.hash,
        new Date().toISOString(),
      ]);
    } catch (error) {
      // whatever failed (connection, constraint, timeout), the transaction state is unknown: a
      // fresh connection, and the log re-reading its head, is the one state that is certain
      this.discardWriter(writer);
      const failure = unavailable(error, `audit write to ${this.where} failed`, true);
      // an integrity constraint (an id already taken) is this batch's fault, not the store's
      if (error instanceof pg.DatabaseError && error.code?.startsWith("23"))
        throw new AuditUnavailableError(failure.message, { cause: error, scope: "entry" });
      throw failure;
    }
  }

  /** The writer connection, holding the advisory lock for `chain`; connects when there is none. */
  private async writerFor(chain: string): Promise<Writer> {
    let writer = this.writer;
    if (!writer) {
      const client = new pg.Client(this.connectionConfig());
      const fresh: Writer = { client, locked: new Set() };
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
      writer.locked.add(chain);
    }
    return writer;
  }

  private discardWriter(writer: Writer): void {
    if (this.writer === writer) this.writer = undefined;
    // ending the session also releases its advisory locks
    writer.client.end().catch(() => {});
  }

  async get(id: string): Promise<EntryRow | undefined> {
    const { rows } = await this.query<EntryRecord>(`SELECT ${COLUMNS} FROM entries WHERE id = $1`, [
      id,
    ]);
    return rows[0] && toEntry(rows[0]);
  }

  async inputs(hashes: readonly string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    if (hashes.length === 0) return found;
    const { rows } = await this.query<{ hash: string; body: string }>(
      "SELECT hash, body FROM inputs WHERE hash = ANY($1::text[])",
      [[...new Set(hashes)]],
    );
    for (const r of rows) found.set(r.hash, r.body);
    return found;
  }

  async recordedHeads(): Promise<RecordedHead[]> {
    const { rows } = await this.query<{ chain: string; seq: string; hash: string }>(
      "SELECT chain, seq, hash FROM chain_heads ORDER BY chain",
    );
    return rows.map((r) => ({ chain: r.chain, seq: Number(r.seq), hash: r.hash }));
  }

  async input(hash: string): Promise<string | undefined> {
    const { rows } = await this.query<{ body: string }>("SELECT body FROM inputs WHERE hash = $1", [
      hash,
    ]);
    return rows[0]?.body;
  }

  async latestFor(sha256: string): Promise<EntryRow | undefined> {
    const { rows } = await this.query<EntryRecord>(
      `SELECT ${COLUMNS} FROM entries WHERE sha256 = $1 ORDER BY id DESC LIMIT 1`,
      [sha256],
    );
    return rows[0] && toEntry(rows[0]);
  }

  async page(q: PageQuery): Promise<EntryRow[]> {
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
    cond("time >=", q.from);
    cond("time <", q.to);
    // a time range is also an id range (UUIDv7 ids begin with their time): the primary key answers it
    if (q.from !== undefined) cond("id >=", idFloor(Date.parse(q.from)));
    if (q.to !== undefined) cond("id <", idFloor(Date.parse(q.to) + 1));
    cond("id <", q.before);
    cond("id >", q.after);
    args.push(q.limit);
    const sql = `SELECT ${COLUMNS} FROM entries ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id ${q.ascending ? "ASC" : "DESC"} LIMIT $${args.length}`;
    const { rows } = await this.query<EntryRecord>(sql, args);
    return rows.map(toEntry);
  }

  async chains(): Promise<string[]> {
    const { rows } = await this.query<{ chain: string }>(
      "SELECT chain FROM entries UNION SELECT chain FROM checkpoints ORDER BY chain",
    );
    return rows.map((r) => r.chain);
  }

  async chainRows(chain: string, afterSeq: number, limit: number): Promise<EntryRow[]> {
    const { rows } = await this.query<EntryRecord>(
      `SELECT ${COLUMNS} FROM entries WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [chain, afterSeq, limit],
    );
    return rows.map(toEntry);
  }

  async checkpoint(chain: string): Promise<Checkpoint | undefined> {
    const { rows } = await this.query<Omit<Checkpoint, "seq"> & { seq: string }>(
      `SELECT chain, seq, hash, mac, pruned_at AS "prunedAt" FROM checkpoints WHERE chain = $1`,
      [chain],
    );
    const row = rows[0];
    return row && { ...row, seq: Number(row.seq) };
  }

  async lastBefore(chain: string, before: string): Promise<EntryRow | undefined> {
    const { rows } = await this.query<EntryRecord>(
      `SELECT ${COLUMNS} FROM entries WHERE chain = $1 AND time < $2 ORDER BY seq DESC LIMIT 1`,
      [chain, before],
    );
    return rows[0] && toEntry(rows[0]);
  }

  async prune(cp: Checkpoint): Promise<number> {
    return this.transaction("pruning the audit log", async (client) => {
      await client.query(
        `INSERT INTO checkpoints (chain, seq, hash, mac, pruned_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac, pruned_at = excluded.pruned_at`,
        [cp.chain, cp.seq, cp.hash, cp.mac, cp.prunedAt],
      );
      const removed = await client.query("DELETE FROM entries WHERE chain = $1 AND seq <= $2", [
        cp.chain,
        cp.seq,
      ]);
      // Another replica's write may reuse an input this delete finds unreferenced: its
      // ON CONFLICT DO NOTHING saw the row, and its entry is not committed yet. The lock waits for
      // in-flight writes and holds new ones back, so the delete's snapshot sees every reference.
      await client.query("LOCK TABLE inputs IN SHARE ROW EXCLUSIVE MODE");
      await client.query(
        "DELETE FROM inputs WHERE NOT EXISTS (SELECT 1 FROM entries WHERE entries.input_hash = inputs.hash)",
      );
      return removed.rowCount ?? 0;
    });
  }

  async pruneHousekeeping(before: string): Promise<{ notifications: number; deliveries: number }> {
    const outbox = await this.query(
      "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < $1",
      [before],
    );
    const deliveries = await this.query("DELETE FROM deliveries WHERE received_at < $1", [before]);
    return { notifications: outbox.rowCount ?? 0, deliveries: deliveries.rowCount ?? 0 };
  }

  async dueNotifications(chain: string, now: string, limit: number): Promise<OutboxRow[]> {
    const { rows } = await this.query<OutboxRow>(
      `SELECT id, chain, entry_id AS "entryId", target, payload, attempts, next_attempt_at AS "nextAttemptAt",
              last_error AS "lastError", delivered_at AS "deliveredAt", created_at AS "createdAt"
       FROM outbox WHERE chain = $1 AND delivered_at IS NULL AND next_attempt_at <= $2
       ORDER BY next_attempt_at, id LIMIT $3`,
      [chain, now, limit],
    );
    return rows;
  }

  async updateNotification(id: string, u: NotificationUpdate): Promise<void> {
    await this.query(
      "UPDATE outbox SET attempts = $1, next_attempt_at = $2, last_error = $3, delivered_at = $4 WHERE id = $5",
      [u.attempts, u.nextAttemptAt, u.lastError, u.deliveredAt, id],
    );
  }

  async pendingNotifications(chain: string): Promise<number> {
    const { rows } = await this.query<{ n: string }>(
      "SELECT COUNT(*) AS n FROM outbox WHERE chain = $1 AND delivered_at IS NULL",
      [chain],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async hasDelivery(id: string): Promise<boolean> {
    const { rowCount } = await this.query("SELECT 1 FROM deliveries WHERE id = $1", [id]);
    return (rowCount ?? 0) > 0;
  }

  async getState(key: string): Promise<string | undefined> {
    const { rows } = await this.query<{ value: string }>("SELECT value FROM state WHERE key = $1", [
      key,
    ]);
    return rows[0]?.value;
  }

  async setState(key: string, value: string): Promise<void> {
    await this.query(
      `INSERT INTO state (key, value, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      [key, value, new Date().toISOString()],
    );
  }

  async checkWritable(chain: string): Promise<void> {
    if (this.closed) throw new AuditUnavailableError("the audit store is closed");
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
    await this.query("SELECT 1");
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writing;
    if (this.writer) {
      const { client } = this.writer;
      this.writer = undefined;
      await client.end().catch(() => {});
    }
    await this.pool.end();
  }
}

function toEntry(r: EntryRecord): EntryRow {
  return { ...r, seq: Number(r.seq), source: r.source as DecisionSource };
}

/** A whole group commit: inputs, entries, notifications and delivery ids, in one statement. */
const WRITE_BATCH = `
WITH new_inputs AS (
  INSERT INTO inputs (hash, body)
  SELECT * FROM unnest($1::text[], $2::text[])
  ON CONFLICT (hash) DO NOTHING
), new_outbox AS (
  INSERT INTO outbox (id, chain, entry_id, target, payload, attempts, next_attempt_at, last_error, delivered_at, created_at)
  SELECT * FROM unnest($15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::int[],
                       $21::text[], $22::text[], $23::text[], $24::text[])
), new_deliveries AS (
  INSERT INTO deliveries (id, received_at)
  SELECT * FROM unnest($25::text[], $26::text[])
  ON CONFLICT (id) DO NOTHING
), new_head AS (
  INSERT INTO chain_heads (chain, seq, hash, updated_at) VALUES ($27, $28, $29, $30)
  ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, updated_at = excluded.updated_at
)
INSERT INTO entries (id, chain, seq, time, source, requester, sha256, decision, rule, input_hash, body, hash)
SELECT * FROM unnest($3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[],
                     $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])`;

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
