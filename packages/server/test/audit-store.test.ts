// The store contract (`audit/backend.ts`): opening is a step of its own, a read-only open never
// migrates, and entries are sealed where they are written, so a log never writes after a head it
// remembered.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { AuditUnavailableError } from "../src/audit/backend.js";
import { AuditLog } from "../src/audit/log.js";
import { SCHEMA_VERSION } from "../src/audit/migrations.js";
import { PostgresBackend } from "../src/audit/postgres.js";
import { SqliteBackend } from "../src/audit/sqlite.js";
import {
  count,
  inputFor,
  PG_SKIP_REASON,
  PG_URL,
  postgresStore,
  record,
  SQLITE_UNDO_SEARCH_INDEXES,
  type Store,
  sqliteStore,
} from "./audit-helpers.js";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "clearance-store-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function logOn(store: SqliteBackend | PostgresBackend, chain = "main"): AuditLog {
  const log = new AuditLog(store, { chain, hmacSecret: "k", maxBatch: 100 });
  cleanups.push(() => log.close());
  return log;
}

describe("opening a store", () => {
  it("SQLite: constructing one touches no file; its reads and writes wait for `open()`", async () => {
    const dir = join(tempDir(), "not-yet");
    const store = new SqliteBackend({ path: join(dir, "audit.db"), synchronous: "normal" });
    cleanups.push(() => store.close());
    expect(existsSync(dir)).toBe(false);
    await expect(store.entries.get("x")).rejects.toThrow(
      /the audit store `.*audit\.db` is not open/,
    );
    await expect(store.state.get("k")).rejects.toBeInstanceOf(AuditUnavailableError);
    const appended = await store.entries.append("main", null, []);
    expect(appended.ok).toBe(false);
    expect(await store.open()).toBe(SCHEMA_VERSION);
    expect(existsSync(join(dir, "audit.db"))).toBe(true);
    expect(await store.entries.get("x")).toBeUndefined();
  });

  it.skipIf(!PG_URL)(
    `PostgreSQL: constructing one creates no schema; \`open()\` does${PG_URL ? "" : ` (${PG_SKIP_REASON})`}`,
    async () => {
      const schema = `t_open_${Date.now().toString(36)}`;
      const raw = new pg.Client({ connectionString: PG_URL });
      await raw.connect();
      cleanups.push(async () => {
        await raw.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await raw.end();
      });
      const exists = async () =>
        (await raw.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema])).rowCount;
      const store = new PostgresBackend({ url: PG_URL!, poolSize: 2, schema });
      cleanups.push(() => store.close());
      expect(await exists()).toBe(0);
      await expect(store.entries.get("x")).rejects.toThrow(/is not open/);
      expect(await store.open()).toBe(SCHEMA_VERSION);
      expect(await exists()).toBe(1);
    },
  );
});

describe("a read-only open", () => {
  /** An SQLite log of three entries, as a Clearance of schema version 5 left it. */
  async function olderLog(): Promise<string> {
    const path = join(tempDir(), "audit.db");
    const log = logOn(new SqliteBackend({ path, synchronous: "normal" }));
    await log.open();
    for (let i = 0; i < 3; i++) await log.append(record(), inputFor(record()));
    await log.close();
    const db = new Database(path);
    db.exec(SQLITE_UNDO_SEARCH_INDEXES);
    db.exec(`DROP TABLE review_cases; DROP TABLE review_votes; DROP TABLE exceptions;
      DROP TABLE idempotency_keys; ALTER TABLE deliveries DROP COLUMN entry_id;
      DROP TABLE chain_heads; DELETE FROM schema_migrations WHERE version IN (6, 7, 8)`);
    db.close();
    return path;
  }

  it("SQLite: never migrates, reads an older schema, and a writer migrates it later", async () => {
    const path = await olderLog();
    const reader = logOn(new SqliteBackend({ path, synchronous: "normal", readonly: true }));
    await reader.open();
    expect(await reader.verify()).toMatchObject({ ok: true, entries: 3 });
    await reader.close();
    const version = () => {
      const db = new Database(path, { readonly: true });
      try {
        return (
          db.prepare("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number }
        ).v;
      } finally {
        db.close();
      }
    };
    expect(version()).toBe(5);
    const writer = logOn(new SqliteBackend({ path, synchronous: "normal" }));
    await writer.open();
    expect(version()).toBe(SCHEMA_VERSION);
    expect((await writer.append(record(), "{}")).seq).toBe(4);
  });

  const stores: { title: string; make: () => Promise<Store>; skip: boolean }[] = [
    { title: "SQLite", make: async () => sqliteStore(), skip: false },
    {
      title: PG_URL ? "PostgreSQL" : `PostgreSQL (${PG_SKIP_REASON})`,
      make: () => postgresStore(),
      skip: !PG_URL,
    },
  ];
  for (const { title, make, skip } of stores)
    it.skipIf(skip)(`${title}: refuses a schema newer than this Clearance knows`, async () => {
      const store = await make();
      cleanups.push(() => store.dispose());
      const writer = store.open();
      await writer.open();
      await writer.close();
      await store.sql(
        "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
        SCHEMA_VERSION + 1,
        "from the future",
        "2030-01-01T00:00:00.000Z",
      );
      const reader =
        store.kind === "sqlite"
          ? new SqliteBackend({
              path: (writer as SqliteBackend).path,
              synchronous: "normal",
              readonly: true,
            })
          : new PostgresBackend({
              url: PG_URL!,
              poolSize: 1,
              schema: (await store.sql<{ s: string }>("SELECT current_schema() AS s"))[0]!.s,
              readonly: true,
            });
      cleanups.push(() => reader.close());
      const opening = reader.open();
      await expect(opening).rejects.toBeInstanceOf(AuditUnavailableError);
      await expect(opening).rejects.toThrow(
        `has schema version ${SCHEMA_VERSION + 1}, newer than this Clearance knows (${SCHEMA_VERSION}): upgrade Clearance`,
      );
    });
});

describe("sealed where written", () => {
  const stores: { title: string; make: () => Promise<Store>; skip: boolean }[] = [
    { title: "SQLite, written inline", make: async () => sqliteStore(), skip: false },
    {
      title: "SQLite, on the writer thread",
      make: async () => sqliteStore({ writerThread: true }),
      skip: false,
    },
    {
      title: PG_URL ? "PostgreSQL" : `PostgreSQL (${PG_SKIP_REASON})`,
      make: () => postgresStore(),
      skip: !PG_URL,
    },
  ];
  for (const { title, make, skip } of stores)
    it.skipIf(skip)(
      `${title}: an entry that breaks a constraint fails alone, not the batch it was in`,
      async () => {
        const store = await make();
        cleanups.push(() => store.dispose());
        const log = new AuditLog(store.open(), { chain: "main", hmacSecret: "k", maxBatch: 100 });
        cleanups.push(() => log.close());
        await log.open();
        const first = await log.append(record(), "{}");
        // one turn of the event loop: one batch, one duplicate id in its middle
        const settled = await Promise.allSettled(
          Array.from({ length: 30 }, (_, i) => {
            const r = i === 15 ? { ...record(), id: first.id } : record();
            return log.append(r, inputFor(r, i));
          }),
        );
        const rejected = settled.flatMap((s, i) => (s.status === "rejected" ? [i] : []));
        expect(rejected).toEqual([15]);
        expect((settled[15] as PromiseRejectedResult).reason).toBeInstanceOf(AuditUnavailableError);
        expect(await count(store, "SELECT COUNT(*) AS n FROM entries")).toBe(30);
        expect(await log.verify()).toMatchObject({ ok: true, entries: 30 });
      },
    );

  it.skipIf(!PG_URL)(
    `PostgreSQL: a log writes after the head it finds under the chain's lock, not the one it saw at open${PG_URL ? "" : ` (${PG_SKIP_REASON})`}`,
    async () => {
      const store = await postgresStore();
      cleanups.push(() => store.dispose());
      const late = logOn(store.open() as PostgresBackend);
      await late.open();
      // another writer of the chain (a replica restarted in its place) appends, then goes
      const other = logOn(store.open() as PostgresBackend);
      await other.open();
      await other.append(record(), "{}");
      await other.append(record(), "{}");
      await other.close();
      // the first write after that is sealed after the entries the other one wrote
      const entry = await late.append(record(), "{}");
      expect(entry.seq).toBe(3);
      expect(await late.verify()).toMatchObject({ ok: true, entries: 3 });
    },
  );
});
