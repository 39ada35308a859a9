// The file-name filter through migration 9's index of trigrams (src/audit/name-search.ts): the
// same entries, in the same order, as the filter reading every body (the SQL it ran before the
// index), on either side of NAME_CANDIDATES; a log written before the index is migrated, its
// entries found; entries written or pruned later are added to and removed from the index.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PageQuery } from "../src/audit/backend.js";
import { AuditLog } from "../src/audit/log.js";
import { SCHEMA_VERSION } from "../src/audit/migrations.js";
import {
  CANDIDATE_CHUNK,
  candidateChunks,
  ftsPhrase,
  indexablePart,
  NAME_CANDIDATES,
} from "../src/audit/name-search.js";
import {
  count,
  PG_SKIP_REASON,
  PG_URL,
  postgresStore,
  type RecordFields,
  record,
  type Store,
  sqliteStore,
  undoSearchIndexes,
} from "./audit-helpers.js";

describe("name-search helpers", () => {
  it.each([
    ["ab", false],
    ["abc", true],
    ["été", true],
    ["é", false],
  ])("indexablePart(%j) is %s", (part, indexable) => {
    expect(indexablePart(part)).toBe(indexable);
  });

  it("quotes a part as one FTS5 phrase, its quotes doubled", () => {
    expect(ftsPhrase('say "hi" OR x')).toBe('"say ""hi"" OR x"');
  });

  it("keeps the candidates within the cursor, in the page's order, in chunks", () => {
    const ids = Array.from({ length: 1200 }, (_, i) => `id-${String(i).padStart(5, "0")}`);
    const shuffled = [...ids].reverse();
    const q = (extra: Partial<PageQuery>): PageQuery => ({ limit: 50, ...extra });
    const newest = candidateChunks(shuffled, q({}));
    expect(newest.map((c) => c.length)).toEqual([CANDIDATE_CHUNK, CANDIDATE_CHUNK, 200]);
    expect(newest.flat()).toEqual([...ids].reverse());
    const older = candidateChunks(shuffled, q({ before: "id-00100" }));
    expect(older.flat()).toEqual(ids.slice(0, 100).reverse());
    const after = candidateChunks(shuffled, q({ after: "id-01100", ascending: true }));
    expect(after.flat()).toEqual(ids.slice(1101));
    expect(candidateChunks([], q({}))).toEqual([]);
  });
});

const backends = [
  { title: "SQLite", make: async () => sqliteStore({ maxBatch: 5_000 }), skip: false },
  {
    title: "SQLite with reader threads",
    make: async () => sqliteStore({ writerThread: true, maxBatch: 5_000, readers: 2 }),
    skip: false,
  },
  {
    title: PG_URL ? "PostgreSQL" : `PostgreSQL (${PG_SKIP_REASON})`,
    make: () => postgresStore(),
    skip: PG_URL === undefined,
  },
];

/** The filter as it read every body before the index: the entries' ids, newest first. */
async function reading(store: Store, part: string): Promise<string[]> {
  const rows =
    store.kind === "sqlite"
      ? await store.sql<{ id: string }>(
          "SELECT id FROM entries WHERE instr(lower(json_extract(body, '$.fileName')), lower(?)) > 0 ORDER BY id DESC",
          part,
        )
      : await store.sql<{ id: string }>(
          `SELECT id FROM entries WHERE strpos(lower((body::jsonb ->> 'fileName') COLLATE "C"), lower(? COLLATE "C")) > 0 ORDER BY id DESC`,
          part,
        );
  return rows.map((r) => r.id);
}

/** Every page of `filter`, `limit` at a time: the ids, newest first. */
async function paged(log: AuditLog, fileName: string, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await log.query({ fileName }, limit, cursor);
    ids.push(...page.entries.map((e) => e.id));
    if (page.nextCursor === null) return ids;
    cursor = page.nextCursor;
  }
}

const T0 = Date.parse("2026-06-01T00:00:00.000Z");
const at = (i: number) => new Date(T0 + i * 1000).toISOString();

for (const { title, make, skip } of backends) {
  describe.skipIf(skip)(`the file-name filter's index: ${title}`, () => {
    let store: Store;
    const logs: AuditLog[] = [];

    beforeEach(async () => {
      store = await make();
    });
    afterEach(async () => {
      for (const log of logs.splice(0)) await log.close();
      await store.dispose();
    });

    async function openLog(): Promise<AuditLog> {
      const log = new AuditLog(store.open(), { chain: "main", hmacSecret: "k", maxBatch: 5_000 });
      logs.push(log);
      await log.open();
      return log;
    }

    async function write(log: AuditLog, records: RecordFields[]) {
      for (let i = 0; i < records.length; i += 5_000)
        await Promise.all(records.slice(i, i + 5_000).map((r) => log.append(r, "{}")));
    }

    it("finds what reading the bodies finds, with more candidates than NAME_CANDIDATES or fewer", async () => {
      const log = await openLog();
      const names = (i: number) =>
        i % 97 === 0 ? null : i % 1000 === 7 ? `Rare "Q" ${i}.EXE` : `common-${i}.exe`;
      await write(
        log,
        Array.from({ length: NAME_CANDIDATES + 300 }, (_, i) =>
          record({ time: at(i), fileName: names(i), decision: i % 3 ? "allow" : "deny" }),
        ),
      );
      const parts = [
        "common-", // more than NAME_CANDIDATES: read in id order
        "COMMON-1000", // a hundred or so, by the index
        "common-1", // some 1,400: by the index, in several chunks
        'rare "q"', // ten, with quotes, any case
        "e-9999", // one
        "no such name", // none
        "e-", // two characters: no trigram
        ".EXE", // every named entry
      ];
      for (const part of parts) {
        const expected = await reading(store, part);
        expect(await paged(log, part, 1000), part).toEqual(expected);
        const first = await log.query({ fileName: part }, 50);
        expect(
          first.entries.map((e) => e.id),
          part,
        ).toEqual(expected.slice(0, 50));
      }
      // every page of a part the index answers, as the console pages it
      expect(await paged(log, "common-1000", 7)).toEqual(await reading(store, "common-1000"));
      // with another filter and a time range
      const deny = await log.query({ fileName: "Rare", decision: "deny", from: at(3000) }, 100);
      const expected = (await reading(store, "rare")).filter((id) =>
        deny.entries.some((e) => e.id === id),
      );
      expect(deny.entries.map((e) => e.id)).toEqual(expected);
      expect(deny.entries.every((e) => e.decision === "deny" && e.time >= at(3000))).toBe(true);
      expect(deny.entries.length).toBeGreaterThan(0);
    }, 120_000);

    it("migrates a log written before the index, and keeps it as entries come and go", async () => {
      let log = await openLog();
      await write(
        log,
        Array.from({ length: 30 }, (_, i) => record({ time: at(i), fileName: `before-${i}.msi` })),
      );
      await log.close();
      await undoSearchIndexes(store);

      log = await openLog();
      expect(await count(store, "SELECT MAX(version) AS n FROM schema_migrations")).toBe(
        SCHEMA_VERSION,
      );
      if (store.kind === "sqlite")
        expect(await count(store, "SELECT COUNT(*) AS n FROM entry_names")).toBe(30);
      else
        expect(
          await count(
            store,
            "SELECT COUNT(*) AS n FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'entries_file_name'",
          ),
        ).toBe(1);
      expect(
        (await log.query({ fileName: "BEFORE-1" }, 100)).entries.map((e) => e.fileName),
      ).toEqual([
        "before-19.msi",
        "before-18.msi",
        "before-17.msi",
        "before-16.msi",
        "before-15.msi",
        "before-14.msi",
        "before-13.msi",
        "before-12.msi",
        "before-11.msi",
        "before-10.msi",
        "before-1.msi",
      ]);
      await write(log, [record({ time: at(100), fileName: "after-1.msi" })]);
      expect((await log.query({ fileName: "after-1" }, 10)).entries.map((e) => e.fileName)).toEqual(
        ["after-1.msi"],
      );
      // pruning deletes entries; their names leave the index with them
      await log.prune(new Date(at(25)));
      expect(await paged(log, ".msi", 10)).toEqual(await reading(store, ".msi"));
      expect(await paged(log, ".msi", 10)).toHaveLength(6);
      if (store.kind === "sqlite")
        expect(await count(store, "SELECT COUNT(*) AS n FROM entry_names")).toBe(6);
    });
  });
}
