// The review entry kinds (`REVIEW_CASE_KIND`, `REVIEW_VOTE_KIND`, `EXCEPTION_KIND`) on every
// store: read by kind (`kindPage`, `AuditLog.entriesOf`), an event recorded once however many
// replicas try it (the unique once-key column), and migration 8, which adds their tables to a log
// written before them.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AuditStore, AuditUnavailableError, type KindQuery } from "../src/audit/backend.js";
import { idAt, newId } from "../src/audit/ids.js";
import {
  DECISION_KIND,
  EXCEPTION_KIND,
  REVIEW_CASE_KIND,
  REVIEW_VOTE_KIND,
} from "../src/audit/kinds.js";
import { AuditLog } from "../src/audit/log.js";
import { SCHEMA_VERSION } from "../src/audit/migrations.js";
import {
  count,
  inputFor,
  PG_SKIP_REASON,
  PG_URL,
  postgresStore,
  record,
  type Store,
  sqliteStore,
  undoSearchIndexes,
} from "./audit-helpers.js";

const stores = [
  { title: "SQLite, written inline", make: async () => sqliteStore(), skip: false },
  {
    title: "SQLite as the server runs it: a writer thread and reader threads",
    make: async () => sqliteStore({ writerThread: true, readers: 2 }),
    skip: false,
  },
  {
    title: PG_URL ? "PostgreSQL" : `PostgreSQL (${PG_SKIP_REASON})`,
    make: () => postgresStore(),
    skip: PG_URL === undefined,
  },
];

/** A vote whose once-key is its case and voter, at `ms` (its id carries that time). */
function vote(caseId: string, voter: string, ms?: number) {
  const at = ms ?? Date.now();
  return {
    id: ms === undefined ? newId(at) : idAt(at),
    time: new Date(at).toISOString(),
    caseId,
    voter,
    vote: "approve",
    justification: `looked at it (${voter})`,
    exception: voter === "ana" ? { scope: "file", days: 7 } : null,
    once: `vote:${caseId}:${voter}`,
  };
}

/** The PostgreSQL writer connection a store holds now (private: to tell it was kept). */
function writerOf(backend: AuditStore): unknown {
  return (backend as unknown as { writer: { client: unknown } | undefined }).writer?.client;
}

for (const { title, make, skip } of stores) {
  describe.skipIf(skip)(`review entry kinds: ${title}`, () => {
    let store: Store;
    const logs: AuditLog[] = [];

    beforeEach(async () => {
      store = await make();
    });

    afterEach(async () => {
      for (const log of logs.splice(0)) await log.close();
      await store.dispose();
    });

    async function openLog(chain = "main", backend: AuditStore = store.open()): Promise<AuditLog> {
      const log = new AuditLog(backend, { chain, hmacSecret: "k", maxBatch: 100 });
      logs.push(log);
      await log.open();
      return log;
    }

    describe("reading entries of a kind", () => {
      /**
       * Five votes on two chains of one store, appended in another order than their ids', with a
       * decision and a review case around them that a read of votes must not return.
       */
      async function fiveVotes() {
        const backend = store.open();
        const a = await openLog("a", backend);
        const b = await openLog("b", backend);
        const base = Date.now() - 60_000;
        await a.append(record(), inputFor(record()));
        const votes = [
          await b.appendEntry(REVIEW_VOTE_KIND, vote("c1", "bo", base + 1)),
          await b.appendEntry(REVIEW_VOTE_KIND, vote("c2", "bo", base + 3)),
          await a.appendEntry(REVIEW_VOTE_KIND, vote("c1", "ana", base + 0)),
          await a.appendEntry(REVIEW_VOTE_KIND, vote("c2", "ana", base + 2)),
          await a.appendEntry(REVIEW_VOTE_KIND, vote("c3", "ana", base + 4)),
        ].sort((x, y) => (x.id < y.id ? -1 : 1));
        await b.appendEntry(REVIEW_CASE_KIND, {
          id: idAt(base + 5),
          time: new Date(base + 5).toISOString(),
          event: "opened",
          caseId: "c1",
          sha256: "0".repeat(64),
          scope: "file",
          once: "case:c1:opened",
          detail: null,
        });
        return { backend, a, b, votes, ids: votes.map((v) => v.id) };
      }

      it("oldest first by id across chains, as rows with the kind's columns", async () => {
        const { backend, votes, ids } = await fiveVotes();
        const rows = await backend.entries.kindPage("review_vote", { limit: 100 });
        expect(rows.map((r) => r.id)).toEqual(ids);
        // ids interleave the chains: the order is the ids', not a chain's or the writes'
        expect(rows.map((r) => r.chain)).toEqual(["a", "b", "a", "b", "a"]);
        const first = votes[0]!;
        expect(rows[0]).toEqual({
          kind: "review_vote",
          id: first.id,
          chain: "a",
          seq: first.seq,
          time: first.time,
          caseId: "c1",
          voter: "ana",
          once: "vote:c1:ana",
          inputHash: null,
          body: expect.stringMatching(/^\{"v":1,"kind":"review_vote","chain":"a",/),
          hash: first.hash,
        });
        expect(typeof rows[0]!.seq).toBe("number");
      });

      // indexes into the five votes, oldest first: 0 a/c1/ana, 1 b/c1/bo, 2 a/c2/ana, 3 b/c2/bo, 4 a/c3/ana
      it.each<{ what: string; query: (ids: string[]) => KindQuery; expected: number[] }>([
        { what: "all of them", query: () => ({ limit: 100 }), expected: [0, 1, 2, 3, 4] },
        { what: "the first page", query: () => ({ limit: 2 }), expected: [0, 1] },
        {
          what: "a page after an id (exclusive)",
          query: (ids) => ({ after: ids[1]!, limit: 2 }),
          expected: [2, 3],
        },
        {
          what: "the last page, shorter than the limit",
          query: (ids) => ({ after: ids[2]!, limit: 5 }),
          expected: [3, 4],
        },
        {
          what: "nothing after the last",
          query: (ids) => ({ after: ids[4]!, limit: 5 }),
          expected: [],
        },
        { what: "no rows for limit 0", query: () => ({ limit: 0 }), expected: [] },
        {
          what: "a case's votes (an indexed column)",
          query: () => ({ field: "caseId", value: "c1", limit: 100 }),
          expected: [0, 1],
        },
        {
          what: "a voter's votes (a column without an index)",
          query: () => ({ field: "voter", value: "ana", limit: 100 }),
          expected: [0, 2, 4],
        },
        {
          what: "a filter, paged",
          query: (ids) => ({ field: "voter", value: "ana", after: ids[0]!, limit: 1 }),
          expected: [2],
        },
        {
          what: "the one entry with a once-key (the unique column)",
          query: () => ({ field: "once", value: "vote:c2:bo", limit: 100 }),
          expected: [3],
        },
        {
          what: "nothing for a value no entry has",
          query: () => ({ field: "caseId", value: "c9", limit: 100 }),
          expected: [],
        },
      ])("$what", async ({ query, expected }) => {
        const { backend, a, ids } = await fiveVotes();
        const q = query(ids);
        const rows = await backend.entries.kindPage("review_vote", q);
        expect(rows.map((r) => ids.indexOf(r.id))).toEqual(expected);
        expect(rows.every((r) => r.kind === "review_vote")).toBe(true);
        // the log reads the same entries
        expect((await a.entriesOf(REVIEW_VOTE_KIND, q)).map((e) => ids.indexOf(e.id))).toEqual(
          expected,
        );
      });

      it("reads other kinds than votes by their own columns", async () => {
        const { backend } = await fiveVotes();
        expect(
          (
            await backend.entries.kindPage("review_case", {
              field: "caseId",
              value: "c1",
              limit: 9,
            })
          ).map((r) => [r.kind, r.event, r.once]),
        ).toEqual([["review_case", "opened", "case:c1:opened"]]);
        expect(await backend.entries.kindPage("exception", { limit: 9 })).toEqual([]);
      });

      it("`entriesOf` gives each entry as appended: its body parsed, with its hash", async () => {
        const { a, votes } = await fiveVotes();
        const read = await a.entriesOf(REVIEW_VOTE_KIND, { limit: 100 });
        expect(read).toEqual(votes.map((v) => ({ ...v, v: 1 })));
        expect(read[0]!.exception).toEqual({ scope: "file", days: 7 });
        expect(await a.entriesOf(EXCEPTION_KIND, { limit: 100 })).toEqual([]);
      });

      it.each<{ what: string; kind: string; query: KindQuery; message: RegExp }>([
        {
          what: "decisions (they have searches of their own)",
          kind: "decision",
          query: { limit: 1 },
          message: /decisions are read with the decision searches/,
        },
        {
          what: "a kind the store does not hold",
          kind: "review_note",
          query: { limit: 1 },
          message: /there is no entry kind `review_note`/,
        },
        {
          what: "a field kept in no column",
          kind: "review_vote",
          query: { field: "justification", value: "x", limit: 1 },
          message: /entry kind `review_vote` keeps no column for `justification`/,
        },
        {
          what: "a column's name instead of its field's",
          kind: "review_vote",
          query: { field: "once_key", value: "x", limit: 1 },
          message: /keeps no column for `once_key`/,
        },
        {
          what: "a field that every entry has, but no kind's column",
          kind: "review_vote",
          query: { field: "chain", value: "a", limit: 1 },
          message: /keeps no column for `chain`/,
        },
        {
          what: "a field without a value",
          kind: "review_vote",
          query: { field: "caseId", limit: 1 },
          message: /a `field` and a `value`, or neither/,
        },
        {
          what: "a value without a field",
          kind: "review_vote",
          query: { value: "c1", limit: 1 },
          message: /a `field` and a `value`, or neither/,
        },
      ])("refuses $what with a TypeError, not as an outage", async ({ kind, query, message }) => {
        const { backend, a } = await fiveVotes();
        const read = backend.entries.kindPage(kind, query);
        await expect(read).rejects.toBeInstanceOf(TypeError);
        await expect(read).rejects.toThrow(message);
        expect(a.health.state.status).toBe("available");
      });

      it("`entriesOf` refuses decisions", async () => {
        const log = await openLog();
        await expect(log.entriesOf(DECISION_KIND, { limit: 1 })).rejects.toBeInstanceOf(TypeError);
      });
    });

    describe("an event recorded once", () => {
      it("a second entry with a once-key already taken is refused alone; the chain verifies and goes on", async () => {
        const backend = store.open();
        const log = await openLog("main", backend);
        const first = await log.appendEntry(REVIEW_VOTE_KIND, vote("c1", "ana"));
        const writer = writerOf(backend);
        const again = log.appendEntry(REVIEW_VOTE_KIND, vote("c1", "ana"));
        await expect(again).rejects.toBeInstanceOf(AuditUnavailableError);
        await expect(again).rejects.toMatchObject({ scope: "entry" });
        await expect(again).rejects.not.toThrow(/another replica/);
        // one entry's fault: the store stays available
        expect(log.health.state.status).toBe("available");
        expect(
          (
            await log.entriesOf(REVIEW_VOTE_KIND, { field: "once", value: "vote:c1:ana", limit: 9 })
          ).map((e) => e.id),
        ).toEqual([first.id]);
        expect(await log.verify()).toMatchObject({ ok: true, entries: 1 });
        // the next write goes on the same connection, after the same head
        const next = await log.appendEntry(REVIEW_VOTE_KIND, vote("c1", "bo"));
        expect(next).toMatchObject({ seq: 2, prevHash: first.hash });
        expect(writerOf(backend)).toBe(writer);
        expect(await log.append(record(), "{}")).toMatchObject({ seq: 3 });
        expect(await log.verify()).toMatchObject({ ok: true, entries: 3 });
        expect(await count(store, "SELECT COUNT(*) AS n FROM review_votes")).toBe(2);
      });

      it("a taken once-key in a group commit fails only its own entry", async () => {
        const backend = store.open();
        const log = await openLog("main", backend);
        await log.appendEntry(REVIEW_VOTE_KIND, vote("c0", "ana"));
        const writer = writerOf(backend);
        const settled = await Promise.allSettled(
          Array.from({ length: 24 }, (_, i) =>
            i === 11
              ? log.appendEntry(REVIEW_VOTE_KIND, vote("c0", "ana"))
              : i % 3 === 0
                ? log.append(record(), inputFor(record(), i))
                : log.appendEntry(REVIEW_VOTE_KIND, vote(`c${i}`, "bo")),
          ),
        );
        const refused = settled.flatMap((s, i) => (s.status === "rejected" ? [i] : []));
        expect(refused).toEqual([11]);
        const reason = (settled[11] as PromiseRejectedResult).reason;
        expect(reason).toBeInstanceOf(AuditUnavailableError);
        expect(reason).toMatchObject({ scope: "entry" });
        const seqs = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value.seq] : []));
        expect(seqs.sort((x, y) => x - y)).toEqual(Array.from({ length: 23 }, (_, i) => i + 2));
        expect(writerOf(backend)).toBe(writer);
        expect(await log.verify()).toMatchObject({ ok: true, entries: 24 });
        expect((await log.appendEntry(REVIEW_VOTE_KIND, vote("c99", "bo"))).seq).toBe(25);
      });

      it("the same once-key on each kind's table is its own: kinds do not share once-keys", async () => {
        const log = await openLog();
        const once = "shared:1";
        const now = Date.now();
        await log.appendEntry(REVIEW_VOTE_KIND, { ...vote("c1", "ana", now), once });
        await log.appendEntry(EXCEPTION_KIND, {
          id: newId(now),
          time: new Date(now).toISOString(),
          event: "created",
          exceptionId: "x1",
          record: { scope: "file" },
          by: "ana",
          justification: "approved",
          once,
        });
        expect(await log.verify()).toMatchObject({ ok: true, entries: 2 });
      });
    });
  });
}

describe.skipIf(!PG_URL)(
  `review entry kinds, two replicas of one PostgreSQL log${PG_URL ? "" : ` (${PG_SKIP_REASON})`}`,
  () => {
    let store: Store;
    const logs: AuditLog[] = [];

    beforeEach(async () => {
      store = await postgresStore();
    });

    afterEach(async () => {
      for (const log of logs.splice(0)) await log.close();
      await store.dispose();
    });

    async function replica(chain: string): Promise<AuditLog> {
      const log = new AuditLog(store.open(), { chain, hmacSecret: "k", maxBatch: 100 });
      logs.push(log);
      await log.open();
      return log;
    }

    it("both appending the same once-key at once: exactly one records it, and both go on", async () => {
      const [one, two] = [await replica("r1"), await replica("r2")];
      const rounds = 25;
      for (let round = 0; round < rounds; round++) {
        // each writes an entry of its own in the same group commit, which must not be lost
        const settled = await Promise.allSettled([
          one.appendEntry(REVIEW_VOTE_KIND, vote(`c${round}`, "ana")),
          two.appendEntry(REVIEW_VOTE_KIND, vote(`c${round}`, "ana")),
          one.append(record(), "{}"),
          two.append(record(), "{}"),
        ]);
        const [a, b, c, d] = settled;
        expect([a!.status, b!.status].sort()).toEqual(["fulfilled", "rejected"]);
        const lost = (a!.status === "rejected" ? a : b) as PromiseRejectedResult;
        expect(lost.reason).toBeInstanceOf(AuditUnavailableError);
        expect(lost.reason).toMatchObject({ scope: "entry" });
        expect([c!.status, d!.status]).toEqual(["fulfilled", "fulfilled"]);
      }
      expect(await count(store, "SELECT COUNT(*) AS n FROM review_votes")).toBe(rounds);
      expect(await count(store, "SELECT COUNT(DISTINCT once_key) AS n FROM review_votes")).toBe(
        rounds,
      );
      // neither replica lost its writer: both write again, and every chain verifies
      await one.appendEntry(REVIEW_VOTE_KIND, vote("last", "one"));
      await two.appendEntry(REVIEW_VOTE_KIND, vote("last", "two"));
      expect(one.health.state.status).toBe("available");
      expect(two.health.state.status).toBe("available");
      const report = await one.verify();
      expect(report).toMatchObject({ ok: true, entries: rounds * 3 + 2 });
      expect(report.chains.map((c) => c.chain)).toEqual(["r1", "r2"]);
    });
  },
);

describe("migration 8: review tables added to a log written before them", () => {
  const makes = [
    { title: "SQLite", make: async () => sqliteStore(), skip: false },
    {
      title: PG_URL ? "PostgreSQL" : `PostgreSQL (${PG_SKIP_REASON})`,
      make: () => postgresStore(),
      skip: PG_URL === undefined,
    },
  ];
  for (const { title, make, skip } of makes)
    it.skipIf(skip)(
      `${title}: a version-7 log verifies before and after the upgrade, and takes review entries`,
      async () => {
        const store = await make();
        const logs: AuditLog[] = [];
        const logOn = async (backend: AuditStore) => {
          const log = new AuditLog(backend, { chain: "main", hmacSecret: "k", maxBatch: 100 });
          logs.push(log);
          await log.open();
          return log;
        };
        try {
          const old = await logOn(store.open());
          for (let i = 0; i < 3; i++) await old.append(record(), inputFor(record(), i));
          await old.close();
          // as Clearance of schema version 7 left it
          for (const table of ["review_cases", "review_votes", "exceptions"])
            await store.sql(`DROP TABLE ${table}`);
          await undoSearchIndexes(store);
          await store.sql("DELETE FROM schema_migrations WHERE version = 8");
          const version = async () =>
            Number(
              (
                await store.sql<{ v: number }>("SELECT MAX(version) AS v FROM schema_migrations")
              )[0]!.v,
            );
          expect(await version()).toBe(7);

          // `clearance audit verify` opens it read-only: no migration, and the old entries verify
          const reader = await logOn(store.open(undefined, { readonly: true }));
          expect(await reader.verify()).toMatchObject({ ok: true, entries: 3 });
          await reader.close();
          expect(await version()).toBe(7);

          // a writer migrates it
          const writer = await logOn(store.open());
          expect(await version()).toBe(SCHEMA_VERSION);
          expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(8);
          expect(await count(store, "SELECT COUNT(*) AS n FROM review_votes")).toBe(0);
          expect(await writer.verify()).toMatchObject({ ok: true, entries: 3 });
          const voted = await writer.appendEntry(REVIEW_VOTE_KIND, vote("c1", "ana"));
          expect(voted.seq).toBe(4);
          // the unique index came with the table
          await expect(
            writer.appendEntry(REVIEW_VOTE_KIND, vote("c1", "ana")),
          ).rejects.toMatchObject({ scope: "entry" });
          expect((await writer.append(record(), "{}")).seq).toBe(5);
          expect(await writer.verify()).toMatchObject({ ok: true, entries: 5 });
          await writer.close();

          // and read-only after the upgrade, as `audit verify` reads it
          const after = await logOn(store.open(undefined, { readonly: true }));
          expect(await after.verify()).toMatchObject({ ok: true, entries: 5 });
          expect((await after.entriesOf(REVIEW_VOTE_KIND, { limit: 9 })).map((e) => e.id)).toEqual([
            voted.id,
          ]);
        } finally {
          for (const log of logs) await log.close();
          await store.dispose();
        }
      },
    );
});
