// A new kind of entry is a type, a registry entry and a table: no store method changes. This suite
// adds a kind that exists only here, `test_note`, to each store's registry, and checks that its
// entries share the decisions' chain on every store as the server runs them.
import { randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { idAt, newId } from "../src/audit/ids.js";
import {
  DECISION_KIND,
  defineEntryKind,
  ENTRY_KINDS,
  kindTableSql,
  REVIEW_VOTE_KIND,
} from "../src/audit/kinds.js";
import { AuditLog } from "../src/audit/log.js";
import { SqliteBackend } from "../src/audit/sqlite.js";
import {
  count,
  inputFor,
  PG_SKIP_REASON,
  PG_URL,
  postgresStore,
  record,
  type Store,
  sqliteStore,
} from "./audit-helpers.js";

/** The whole of what adding a kind takes, besides its migration: a definition in the registry. */
const NOTE = defineEntryKind({
  name: "test_note",
  table: "test_notes",
  fields: ["id", "time", "author", "text", "inputHash", "tags"],
  columns: [{ field: "author", column: "author", indexed: true }],
  input: true,
});
const KINDS = [...ENTRY_KINDS, NOTE];

/** A note without an input snapshot, to check kinds that have none. */
const MARK = defineEntryKind({
  name: "test_mark",
  table: "test_marks",
  fields: ["id", "time", "label"],
  columns: [{ field: "label", column: "label", indexed: false }],
  input: false,
});
const ALL_KINDS = [...KINDS, MARK];

const stores = [
  { title: "SQLite, written inline", make: async () => sqliteStore({ kinds: ALL_KINDS }) },
  {
    title: "SQLite, a writer thread and reader threads",
    make: async () => sqliteStore({ kinds: ALL_KINDS, writerThread: true, readers: 2 }),
  },
  {
    title: PG_URL ? "PostgreSQL" : `PostgreSQL (${PG_SKIP_REASON})`,
    make: () => postgresStore(undefined, { kinds: ALL_KINDS }),
    skip: PG_URL === undefined,
  },
];

function note(author: string | null) {
  const now = Date.now();
  return {
    id: newId(now),
    time: new Date(now).toISOString(),
    author,
    text: `a note ${randomBytes(4).toString("hex")}`,
    tags: ["a", "b"],
  };
}

for (const { title, make, skip } of stores) {
  describe.skipIf(skip === true)(`a kind added to the registry: ${title}`, () => {
    let store: Store;
    const logs: AuditLog[] = [];

    beforeEach(async () => {
      store = await make();
    });

    afterEach(async () => {
      for (const log of logs.splice(0)) await log.close();
      await store.dispose();
    });

    async function openLog(opened = store.open()): Promise<AuditLog> {
      const log = new AuditLog(opened, { chain: "main", hmacSecret: "k", maxBatch: 100 });
      logs.push(log);
      await log.open();
      return log;
    }

    /** Opens a store and creates the kinds' tables, as their migration would, then a log on it. */
    async function withTables(): Promise<AuditLog> {
      const opened = store.open();
      await opened.open();
      for (const kind of [NOTE, MARK])
        for (const statement of kindTableSql(kind, store.kind).split(";\n"))
          await store.sql(statement);
      return openLog(opened);
    }

    it("shares the chain with decisions: written, read back, verified, continued after a restart", async () => {
      const first = await withTables();
      const d1 = await first.append(record(), inputFor(record()));
      const n1 = await first.appendEntry(NOTE, note("ana"), { input: '{"attached":1}' });
      const m1 = await first.appendEntry(MARK, {
        id: newId(),
        time: new Date().toISOString(),
        label: "x",
      });
      // concurrent appends of both kinds share group commits
      const mixed = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          i % 2
            ? first.appendEntry(NOTE, note(i % 4 === 1 ? null : "bo"), { input: `{"i":${i}}` })
            : first.append(record(), inputFor(record(), i)),
        ),
      );
      expect([d1.seq, n1.seq, m1.seq]).toEqual([1, 2, 3]);
      expect(n1).toMatchObject({ kind: "test_note", chain: "main", prevHash: d1.hash });
      expect(n1.inputHash).toMatch(/^[0-9a-f]{64}$/);
      expect(m1.inputHash).toBeUndefined();
      expect(mixed.map((e) => e.seq).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 40 }, (_, i) => i + 4),
      );
      expect(await count(store, "SELECT COUNT(*) AS n FROM test_notes")).toBe(21);
      expect(await count(store, "SELECT COUNT(*) AS n FROM test_marks")).toBe(1);
      expect(await count(store, "SELECT COUNT(*) AS n FROM entries")).toBe(21);
      // the body names its kind; a decision's keeps the v1 form, which names none
      const [stored] = await store.sql<{ body: string }>(
        "SELECT body FROM test_notes WHERE id = ?",
        n1.id,
      );
      expect(stored!.body.startsWith('{"v":1,"kind":"test_note","chain":"main","seq":2,')).toBe(
        true,
      );
      expect(JSON.parse(stored!.body)).toMatchObject({ author: "ana", tags: ["a", "b"] });
      const [decision] = await store.sql<{ body: string }>(
        "SELECT body FROM entries WHERE id = ?",
        d1.id,
      );
      expect(decision!.body.startsWith('{"v":1,"chain":"main","seq":1,')).toBe(true);
      // decision searches still see decisions only
      expect((await first.query({}, 100)).entries).toHaveLength(21);
      expect(await first.verify()).toMatchObject({ ok: true, entries: 43 });
      await first.close();

      // a restart finds the chain's head among every kind's table
      const again = await openLog();
      expect((await again.appendEntry(MARK, { ...note(null), label: "y" })).seq).toBe(44);
      expect((await again.append(record(), "{}")).seq).toBe(45);
      expect(await again.verify()).toMatchObject({ ok: true, entries: 45 });
    });

    it.each([
      {
        what: "an edited indexed column",
        problem: "column_mismatch",
        tamper: (s: Store, id: string) =>
          s.sql("UPDATE test_notes SET author = 'eve' WHERE id = ?", id),
      },
      {
        what: "an entry moved to another kind's table",
        problem: "column_mismatch",
        tamper: async (s: Store, id: string) => {
          await s.sql(
            "INSERT INTO test_marks (id, chain, seq, time, label, body, hash) SELECT id, chain, seq, time, author, body, hash FROM test_notes WHERE id = ?",
            id,
          );
          await s.sql("DELETE FROM test_notes WHERE id = ?", id);
        },
      },
      {
        what: "a deleted entry",
        problem: "entry_missing",
        tamper: (s: Store, id: string) => s.sql("DELETE FROM test_notes WHERE id = ?", id),
      },
    ])("verification finds $what: $problem", async ({ problem, tamper }) => {
      const log = await withTables();
      await log.append(record(), "{}");
      const target = await log.appendEntry(NOTE, note("ana"), { input: "{}" });
      await log.append(record(), "{}");
      expect((await log.verify()).ok).toBe(true);
      await tamper(store, target.id);
      expect((await log.verify()).broken).toMatchObject({ chain: "main", seq: 2, problem });
    });

    it("prunes every kind behind one checkpoint, and keeps the inputs a kind still uses", async () => {
      const log = await withTables();
      const old = "2020-01-01T00:00:00.000Z";
      const shared = '{"shared":true}';
      await log.append(record({ time: old }), "{}");
      await log.appendEntry(
        NOTE,
        { ...note("ana"), id: idAt(Date.parse(old)), time: old },
        {
          input: shared,
        },
      );
      await log.appendEntry(NOTE, note("bo"), { input: shared });
      expect(await log.prune(new Date("2021-01-01T00:00:00.000Z"))).toBe(2);
      expect(await count(store, "SELECT COUNT(*) AS n FROM test_notes")).toBe(1);
      // the kept note's input stays; the pruned decision's goes
      expect(await count(store, "SELECT COUNT(*) AS n FROM inputs")).toBe(1);
      const report = await log.verify();
      expect(report).toMatchObject({ ok: true, entries: 1 });
      expect(report.chains[0]).toMatchObject({ from: 3, to: 3 });
    });

    it("refuses what does not fit the kind", async () => {
      const log = await withTables();
      await expect(log.appendEntry(NOTE, note("ana"))).rejects.toThrow(
        "an entry of kind `test_note` needs its input snapshot",
      );
      await expect(
        log.appendEntry(NOTE, { ...note("ana"), author: 7 }, { input: "{}" }),
      ).rejects.toThrow(/field `author` of a `test_note` entry is stored in column `author`/);
      await expect(log.appendEntry(DECISION_KIND, note("ana"))).rejects.toThrow(
        "decisions are appended with `append`",
      );
      const stranger = defineEntryKind({ ...MARK, name: "stranger", table: "strangers" });
      await expect(log.appendEntry(stranger, note(null))).rejects.toThrow(
        /entry kind `stranger` is not one of/,
      );
      expect(await log.verify()).toMatchObject({ ok: true, entries: 0 });
    });
  });
}

describe("defining a kind", () => {
  const base = { name: "k", table: "ks", fields: ["id", "time", "a"], columns: [], input: false };
  it.each([
    [{ ...base, name: "Bad-Name" }, "its name must be a lowercase SQL identifier"],
    [{ ...base, table: "drop table" }, "table `drop table` must be a lowercase SQL identifier"],
    [{ ...base, fields: ["id", "a"] }, "its fields must include `time`"],
    [{ ...base, fields: ["id", "time", "seq"] }, "field `seq` is written by the sealing"],
    [{ ...base, fields: ["id", "time", "a", "a"] }, "a field is listed twice"],
    [{ ...base, input: true }, "a kind with an input snapshot lists `inputHash`"],
    [
      { ...base, columns: [{ field: "b", column: "b", indexed: false }] },
      "column `b` is for `b`, which is not one of its fields",
    ],
    [
      {
        ...base,
        fields: ["id", "time", "body"],
        columns: [{ field: "body", column: "b", indexed: false }],
      },
      "column `b` is for `body`, which every entry has already",
    ],
    [
      { ...base, columns: [{ field: "a", column: "body", indexed: false }] },
      "column `body` is not a free lowercase SQL identifier",
    ],
    [
      { ...base, columns: [{ field: "a", column: "a", indexed: true, unique: true }] },
      "column `a` is unique, which is an index already",
    ],
  ])("%o is refused", (kind, message) => {
    expect(() => defineEntryKind(kind)).toThrow(message);
  });

  it("a unique column that is not also indexed is a kind", () => {
    const unique = { field: "a", column: "a", indexed: false, unique: true };
    expect(defineEntryKind({ ...base, columns: [unique] }).columns).toEqual([unique]);
    const plain = { field: "a", column: "a", indexed: true, unique: false };
    expect(defineEntryKind({ ...base, columns: [plain] }).columns).toEqual([plain]);
  });

  it.each([
    {
      engine: "sqlite" as const,
      table:
        "CREATE TABLE review_votes (id TEXT PRIMARY KEY, chain TEXT NOT NULL, seq BIGINT NOT NULL, time TEXT NOT NULL, case_id TEXT, voter TEXT, once_key TEXT, body TEXT NOT NULL, hash TEXT NOT NULL, UNIQUE (chain, seq));",
    },
    {
      engine: "postgres" as const,
      table:
        'CREATE TABLE review_votes (id TEXT COLLATE "C" PRIMARY KEY, chain TEXT NOT NULL, seq BIGINT NOT NULL, time TEXT COLLATE "C" NOT NULL, case_id TEXT, voter TEXT, once_key TEXT, body TEXT NOT NULL, hash TEXT NOT NULL, UNIQUE (chain, seq));',
    },
  ])(
    "kindTableSql on $engine: a unique index over a unique column, a plain one (with the id) over an indexed one, none for the rest",
    ({ engine, table }) => {
      expect(kindTableSql(REVIEW_VOTE_KIND, engine).split("\n")).toEqual([
        table,
        "CREATE INDEX review_votes_case_id ON review_votes (case_id, id);",
        "CREATE UNIQUE INDEX review_votes_once_key ON review_votes (once_key);",
      ]);
    },
  );

  it("the unique index refuses a value taken, across chains, and lets nulls repeat", () => {
    const db = new Database(":memory:");
    try {
      db.exec(kindTableSql(REVIEW_VOTE_KIND, "sqlite"));
      const insert = db.prepare(
        "INSERT INTO review_votes (id, chain, seq, time, once_key, body, hash) VALUES (?, ?, ?, 't', ?, '{}', 'h')",
      );
      insert.run("1", "a", 1, "vote:c1:ana");
      insert.run("2", "a", 2, null);
      insert.run("3", "b", 1, null);
      let refused: unknown;
      try {
        insert.run("4", "b", 2, "vote:c1:ana");
      } catch (error) {
        refused = error;
      }
      expect(refused).toMatchObject({ code: "SQLITE_CONSTRAINT_UNIQUE" });
      expect(db.prepare("SELECT COUNT(*) AS n FROM review_votes").get()).toEqual({ n: 3 });
    } finally {
      db.close();
    }
  });

  it("a registry begins with decisions and names each kind and table once", () => {
    // a store's constructor touches no file: only the options are checked
    const storeWith = (kinds: never[] | typeof KINDS) =>
      new SqliteBackend({ path: "/nonexistent/audit.db", synchronous: "normal", kinds });
    expect(() => storeWith([NOTE])).toThrow("the entry kinds must begin with `DECISION_KIND`");
    expect(() => storeWith([...KINDS, NOTE])).toThrow(
      "entry kind `test_note` (table `test_notes`) is listed twice",
    );
    expect(() => storeWith([DECISION_KIND, { ...MARK }])).toThrow(
      "entry kind `test_mark` must be made with `defineEntryKind`",
    );
  });
});
