import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import type { AuditStore } from "../src/audit/backend.js";
import { type DecisionRecord, GENESIS_HASH } from "../src/audit/entry.js";
import { newId } from "../src/audit/ids.js";
import { DECISION_KIND, type EntryKind } from "../src/audit/kinds.js";
import { PostgresBackend } from "../src/audit/postgres.js";
import { type ChainHead, sealItem } from "../src/audit/seal.js";
import { SqliteBackend, type SqliteOptions } from "../src/audit/sqlite.js";
import { SqliteAppender } from "../src/audit/sqlite-append.js";
import { decisionRecord } from "../src/testing.js";

/** PostgreSQL tests run only against a server named here (CI starts one and sets it). */
export const PG_URL = process.env.CLEARANCE_TEST_PG || undefined;
export const PG_SKIP_REASON =
  "skipped: set CLEARANCE_TEST_PG=postgres://postgres@127.0.0.1:5432/test to run";

export type RecordFields = DecisionRecord;

/** A plausible decision record; every call gets a fresh, later id (`@clearance/server/testing`). */
export const record: (overrides?: Partial<RecordFields>) => RecordFields = decisionRecord;

/** An input snapshot as the server stores it: JSON text. */
export function inputFor(r: RecordFields, extra: unknown = null): string {
  return JSON.stringify({ sha256: r.sha256, fileName: r.fileName, extra });
}

/** One database holding audit logs, with raw SQL access to tamper with it behind the log's back. */
export interface Store {
  readonly kind: "sqlite" | "postgres";
  /**
   * a new store on the same database (not opened yet), as after a restart or on another replica;
   * `readonly` as the CLI's `audit verify|export|query` open it
   */
  open(url?: string, options?: { readonly?: boolean }): AuditStore;
  /** raw SQL with `?` placeholders, bypassing the backend */
  sql<R = Record<string, unknown>>(query: string, ...params: unknown[]): Promise<R[]>;
  /** closes every backend opened here and removes the database */
  dispose(): Promise<void>;
}

/** `SELECT COUNT(*) AS n ...` as a number on both engines (PostgreSQL returns bigint as text). */
export async function count(store: Store, query: string, ...params: unknown[]): Promise<number> {
  const rows = await store.sql<{ n: number | string }>(query, ...params);
  return Number(rows[0]!.n);
}

/**
 * `writerThread`: seal and write on a thread of the backend's own, as the server does; `readers`:
 * read on threads of their own, as the server does.
 */
export function sqliteStore(
  options: {
    writerThread?: boolean;
    maxBatch?: number;
    readers?: number;
    kinds?: readonly EntryKind[];
    /** the journal as the durable record, the database its index (`SqliteOptions.journal`) */
    journal?: SqliteOptions["journal"];
  } = {},
): Store {
  const dir = mkdtempSync(join(tmpdir(), "clearance-audit-"));
  const path = join(dir, "audit.db");
  const backends: AuditStore[] = [];
  let raw: Database.Database | undefined;
  return {
    kind: "sqlite",
    open(_url?: string, extra: { readonly?: boolean } = {}) {
      const b = new SqliteBackend({ path, synchronous: "normal", ...options, ...extra });
      backends.push(b);
      return b;
    },
    async sql<R>(query: string, ...params: unknown[]) {
      // with a journal, the index is filled behind: raw SQL reads it once it has caught up, as the
      // store's own reads do
      for (const b of backends) await (b as SqliteBackend).indexed().catch(() => {});
      raw ??= new Database(path);
      const stmt = raw.prepare(query);
      if (stmt.reader) return stmt.all(...params) as R[];
      stmt.run(...params);
      return [];
    },
    async dispose() {
      for (const b of backends) await b.close();
      raw?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function postgresStore(
  url = PG_URL!,
  options: { kinds?: readonly EntryKind[] } = {},
): Promise<Store> {
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const raw = new pg.Client({ connectionString: url });
  await raw.connect();
  // the backend creates the schema; the raw connection resolves names in it once it exists
  await raw.query(`SET search_path TO ${schema}`);
  const backends: AuditStore[] = [];
  return {
    kind: "postgres",
    open(backendUrl = url, extra: { readonly?: boolean } = {}) {
      const b = new PostgresBackend({ url: backendUrl, poolSize: 4, schema, ...options, ...extra });
      backends.push(b);
      return b;
    },
    async sql<R>(query: string, ...params: unknown[]) {
      let i = 0;
      const text = query.replace(/\?/g, () => `$${++i}`);
      return (await raw.query(text, params)).rows as R[];
    },
    async dispose() {
      for (const b of backends) await b.close();
      await raw.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await raw.end();
    },
  };
}

/** What migrations 10 (server events, SIEM dead letters) and 9 (search indexes) made in an SQLite log, undone: as schema version 8 left it. */
export const SQLITE_UNDO_SEARCH_INDEXES = `
DROP TABLE journal_state; DROP TABLE journal_segments;
ALTER TABLE inputs DROP COLUMN segment; ALTER TABLE inputs DROP COLUMN at; ALTER TABLE inputs DROP COLUMN bytes;
DELETE FROM schema_migrations WHERE version IN (12, 13);
DROP TABLE santa_machines; DROP TABLE santa_files; DROP TABLE santa_file_machines;
DROP TABLE santa_rules; DELETE FROM schema_migrations WHERE version = 11;
DROP TABLE server_events; DROP TABLE siem_dead_letters;
DELETE FROM schema_migrations WHERE version = 10;
DROP TRIGGER IF EXISTS entries_name_added; DROP TRIGGER entries_name_removed;
DROP TRIGGER entry_names_added; DROP TRIGGER entry_names_removed;
DROP TABLE entry_names_fts; DROP TABLE entry_names;
DROP INDEX entries_rule; DROP INDEX entries_requester; DROP INDEX entries_source;
DELETE FROM schema_migrations WHERE version = 9;`;

/** Migrations 13 to 9 undone in `store`'s log (SQLite or PostgreSQL), as schema version 8 left it. */
export async function undoSearchIndexes(store: Store): Promise<void> {
  const statements =
    store.kind === "sqlite"
      ? SQLITE_UNDO_SEARCH_INDEXES.split(";")
      : [
          "DELETE FROM schema_migrations WHERE version IN (12, 13)",
          "DROP TABLE santa_machines, santa_files, santa_file_machines, santa_rules",
          "DELETE FROM schema_migrations WHERE version = 11",
          "DROP TABLE server_events, siem_dead_letters",
          "DELETE FROM schema_migrations WHERE version = 10",
          "DROP INDEX IF EXISTS entries_file_name",
          "DROP INDEX entries_rule, entries_requester, entries_source",
          "DELETE FROM schema_migrations WHERE version = 9",
        ];
  for (const sql of statements.map((s) => s.trim()).filter(Boolean)) await store.sql(sql);
}

/** Polls `condition` until it holds; fails after `timeoutMs` rather than hanging the test. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The same server as CLEARANCE_TEST_PG, reached through 127.0.0.1:port instead. */
export function viaPort(port: number): string {
  const url = new URL(PG_URL!);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  return url.toString();
}

export function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A TCP proxy in front of PostgreSQL that a test can cut (an outage: connections closed, new ones
 * refused), restore, or turn into a blackhole (packets dropped: nothing is forwarded either way and
 * nothing is closed, as when a network path dies; new connections are accepted and hang) and
 * resume (what was held is delivered, as TCP retransmits after the path comes back).
 */
export async function startProxy() {
  const target = new URL(PG_URL!);
  const sockets = new Set<Socket>();
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  /** connections accepted during a blackhole, not yet forwarded */
  const held: Socket[] = [];
  let holed = false;
  const forward = (client: Socket) => {
    const upstream = tcpConnect(Number(target.port || 5432), target.hostname || "127.0.0.1");
    const pair = { client, upstream };
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
      pairs.delete(pair);
    };
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", drop).on("close", drop);
    }
    pairs.add(pair);
    client.pipe(upstream).pipe(client);
  };
  const server = createServer((client) => {
    if (!holed) return forward(client);
    client.pause();
    sockets.add(client);
    client.on("error", () => client.destroy()).on("close", () => sockets.delete(client));
    held.push(client);
  });
  const port = await listen(server);
  return {
    url: viaPort(port),
    /** stops accepting and kills every open connection, both ways */
    async cut() {
      const closed = closeServer(server);
      for (const s of sockets) s.destroy();
      await closed;
    },
    async restore() {
      await listen(server, port);
    },
    /** stops forwarding, in both directions, on every connection; closes nothing */
    blackhole() {
      holed = true;
      for (const { client, upstream } of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    /** forwards again, starting with what was held */
    resume() {
      holed = false;
      for (const { client, upstream } of pairs) client.pipe(upstream).pipe(client);
      for (const client of held.splice(0)) if (!client.destroyed) forward(client);
    },
    async stop() {
      if (holed) this.resume();
      if (server.listening) await this.cut();
    },
  };
}

/**
 * Writes `count` entries (a valid chain keyed with `key`, one entry a millisecond ending now, 64
 * distinct inputs of about 400 bytes) into a new SQLite log at `path`, fast: large transactions,
 * no syncs. For tests and benchmarks that need a big log, not how the server writes.
 */
export async function fillSqliteLog(
  path: string,
  count: number,
  options: { key?: string | null; chain?: string } = {},
): Promise<ChainHead> {
  const created = new SqliteBackend({ path, synchronous: "normal" });
  await created.open();
  await created.close();
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  db.pragma("cache_size = -262144");
  const appender = new SqliteAppender(db, [DECISION_KIND]);
  const chain = options.chain ?? "main";
  const inputs = Array.from({ length: 64 }, (_, i) =>
    JSON.stringify({ result: { sha256: i.toString(16).padStart(64, "0"), pad: "x".repeat(300) } }),
  );
  let head: ChainHead = { seq: 0, hash: GENESIS_HASH };
  const start = Date.now() - count;
  for (let i = 0; i < count; i += 10_000) {
    const items = [];
    for (let j = i; j < Math.min(count, i + 10_000); j++) {
      const ms = start + j;
      const r = decisionRecord({
        id: newId(ms),
        time: new Date(ms).toISOString(),
        sha256: j.toString(16).padStart(64, "0"),
        fileName: `file-${j}.exe`,
        decision: (["allow", "deny", "review"] as const)[j % 3]!,
        rule: j % 2 ? "some_rule" : null,
        reason: "generated",
        latencyUs: 3,
      });
      items.push(sealItem(r, inputs[j % inputs.length]!, []));
    }
    const [reply] = appender.commit([{ id: 0, chain, key: options.key ?? null, items }]);
    if (!reply?.ok)
      throw new Error(
        `filling the log failed: ${reply?.ok === false ? reply.message : "no reply"}`,
      );
    const last = reply.placements[reply.placements.length - 1]!;
    head = { seq: last.seq, hash: last.hash };
  }
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
  return head;
}
