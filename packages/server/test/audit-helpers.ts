import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import type { AuditBackend } from "../src/audit/backend.js";
import type { AuditRecord } from "../src/audit/entry.js";
import { idAt, newId } from "../src/audit/ids.js";
import { PostgresBackend } from "../src/audit/postgres.js";
import { SqliteBackend } from "../src/audit/sqlite.js";

/** PostgreSQL tests run only against a server named here (CI starts one and sets it). */
export const PG_URL = process.env.CLEARANCE_TEST_PG || undefined;
export const PG_SKIP_REASON =
  "skipped: set CLEARANCE_TEST_PG=postgres://postgres@127.0.0.1:5432/test to run";

export type RecordFields = Omit<AuditRecord, "inputHash">;

let counter = 0;

/** A plausible decision record; every call gets a fresh, later id. */
export function record(overrides: Partial<RecordFields> = {}): RecordFields {
  counter++;
  // an entry made at another time gets an id of that time, as the log requires
  const time = overrides.time ?? new Date().toISOString();
  return {
    id: overrides.time === undefined ? newId() : idAt(Date.parse(time)),
    time,
    source: "api",
    requester: null,
    sha256: randomBytes(32).toString("hex"),
    fileName: `file-${counter}.bin`,
    decision: "allow",
    rule: null,
    reason: `reason ${counter}`,
    matched: [],
    monitored: [],
    errors: [],
    ruleset: { revision: "rev-1", commit: null, dirty: false },
    latencyUs: 42,
    shadow: null,
    deliveryId: null,
    explain: null,
    ...overrides,
  };
}

/** An input snapshot as the server stores it: JSON text. */
export function inputFor(r: RecordFields, extra: unknown = null): string {
  return JSON.stringify({ sha256: r.sha256, fileName: r.fileName, extra });
}

/** One database holding audit logs, with raw SQL access to tamper with it behind the log's back. */
export interface Store {
  readonly kind: "sqlite" | "postgres";
  /** a new backend on the same database, as after a restart or on another replica */
  open(url?: string): AuditBackend;
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

/** `writerThread`: seal and write on a thread of the backend's own, as the server does. */
export function sqliteStore(options: { writerThread?: boolean; maxBatch?: number } = {}): Store {
  const dir = mkdtempSync(join(tmpdir(), "clearance-audit-"));
  const path = join(dir, "audit.db");
  const backends: AuditBackend[] = [];
  let raw: Database.Database | undefined;
  return {
    kind: "sqlite",
    open() {
      const b = new SqliteBackend({ path, synchronous: "normal", ...options });
      backends.push(b);
      return b;
    },
    async sql<R>(query: string, ...params: unknown[]) {
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

export async function postgresStore(url = PG_URL!): Promise<Store> {
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const raw = new pg.Client({ connectionString: url });
  await raw.connect();
  // the backend creates the schema; the raw connection resolves names in it once it exists
  await raw.query(`SET search_path TO ${schema}`);
  const backends: AuditBackend[] = [];
  return {
    kind: "postgres",
    open(backendUrl = url) {
      const b = new PostgresBackend({ url: backendUrl, poolSize: 4, schema });
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

/** A TCP proxy in front of PostgreSQL that a test can cut (an outage) and restore. */
export async function startProxy() {
  const target = new URL(PG_URL!);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = tcpConnect(Number(target.port || 5432), target.hostname || "127.0.0.1");
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", drop).on("close", drop);
    }
    client.pipe(upstream).pipe(client);
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
    async stop() {
      if (server.listening) await this.cut();
    },
  };
}
