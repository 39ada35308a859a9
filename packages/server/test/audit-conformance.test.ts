import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type AuditFilter,
  type AuditStore,
  AuditUnavailableError,
  DuplicateDeliveryError,
} from "../src/audit/backend.js";
import { type AuditEntry, chainHash, checkpointMac, GENESIS_HASH } from "../src/audit/entry.js";
import { AuditLog, type AuditLogOptions } from "../src/audit/log.js";
import { MIGRATIONS, SCHEMA_VERSION } from "../src/audit/migrations.js";
import {
  count,
  inputFor,
  PG_SKIP_REASON,
  PG_URL,
  postgresStore,
  type RecordFields,
  record,
  type Store,
  sqliteStore,
} from "./audit-helpers.js";

// The same behaviour is required of every backend: the log above them must not be able to tell.
// One thing differs by design: an SQLite log has one writer at a time (its `.lock`, see
// sqlite-lock.test.ts), where PostgreSQL takes a writer per chain (replicas).
const backends = [
  {
    title: "SQLite, written inline",
    make: async () => sqliteStore(),
    skip: false,
    oneWriter: true,
  },
  {
    title: "SQLite, sealed and written on the writer thread",
    make: async () => sqliteStore({ writerThread: true, maxBatch: 100 }),
    skip: false,
    oneWriter: true,
  },
  {
    title: "SQLite as the server runs it: a writer thread and reader threads",
    make: async () => sqliteStore({ writerThread: true, maxBatch: 100, readers: 2 }),
    skip: false,
    oneWriter: true,
  },
  {
    title: "SQLite with its journal, written inline",
    make: async () => sqliteStore({ journal: true }),
    skip: false,
    oneWriter: true,
  },
  {
    title: "SQLite with its journal as the server runs it: writer, follower and reader threads",
    make: async () => sqliteStore({ journal: true, writerThread: true, maxBatch: 100, readers: 2 }),
    skip: false,
    oneWriter: true,
  },
  {
    title: PG_URL ? "PostgreSQL" : `PostgreSQL (${PG_SKIP_REASON})`,
    make: () => postgresStore(),
    skip: PG_URL === undefined,
    oneWriter: false,
  },
];
if (!PG_URL) console.warn(`audit conformance suite on PostgreSQL ${PG_SKIP_REASON}`);

const KEY = "test-hmac-key";

for (const { title, make, skip, oneWriter } of backends) {
  describe.skipIf(skip)(`audit log conformance: ${title}`, () => {
    let store: Store;
    const logs: AuditLog[] = [];

    beforeEach(async () => {
      store = await make();
    });

    afterEach(async () => {
      for (const log of logs.splice(0)) await log.close();
      await store.dispose();
    });

    async function openLog(
      options: Partial<AuditLogOptions> = {},
      backend: AuditStore = store.open(),
    ): Promise<AuditLog> {
      const log = new AuditLog(backend, {
        chain: "main",
        hmacSecret: KEY,
        maxBatch: 100,
        ...options,
      });
      logs.push(log);
      await log.open();
      return log;
    }

    /** Appends one at a time, so seq order is record order. */
    async function appendAll(
      log: AuditLog,
      records: RecordFields[],
      input = (r: RecordFields) => inputFor(r),
    ) {
      const out: AuditEntry[] = [];
      for (const r of records) out.push(await log.append(r, input(r)));
      return out;
    }

    it("appends with chain, seq and hash, and reads an entry back with its input", async () => {
      const log = await openLog();
      const r1 = record({ decision: "deny", rule: "no-macros", requester: "key-1" });
      const e1 = await log.append(r1, '{"doc":1}');
      expect(e1).toMatchObject({ chain: "main", seq: 1, prevHash: GENESIS_HASH, id: r1.id });
      expect(e1.hash).toMatch(/^[0-9a-f]{64}$/);
      const e2 = await log.append(record(), '{"doc":2}');
      expect(e2).toMatchObject({ seq: 2, prevHash: e1.hash });

      const got = await log.get(r1.id);
      expect(got?.entry).toEqual(e1);
      expect(got?.input).toEqual({ doc: 1 });
      expect(await log.get("00000000-0000-7000-8000-000000000000")).toBeUndefined();
    });

    it("stores identical inputs once, across batches and within one", async () => {
      const log = await openLog();
      await log.append(record(), '{"same":true}');
      await log.append(record(), '{"same":true}');
      await Promise.all([
        log.append(record(), '{"same":true}'),
        log.append(record(), '{"other":true}'),
        log.append(record(), '{"other":true}'),
      ]);
      expect(await count(store, "SELECT COUNT(*) AS n FROM inputs")).toBe(2);
      expect(await count(store, "SELECT COUNT(*) AS n FROM entries")).toBe(5);
      expect((await log.verify()).ok).toBe(true);
    });

    it("group-commits 500 concurrent appends into a contiguous chain", async () => {
      const commits: { entries: number; ok: boolean }[] = [];
      const log = await openLog({ onCommit: (entries, _s, ok) => commits.push({ entries, ok }) });
      const entries = await Promise.all(
        Array.from({ length: 500 }, (_, i) => {
          const r = record();
          return log.append(r, inputFor(r, i));
        }),
      );
      expect(entries.map((e) => e.seq).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 500 }, (_, i) => i + 1),
      );
      expect(commits.every((c) => c.ok)).toBe(true);
      expect(commits.reduce((n, c) => n + c.entries, 0)).toBe(500);
      expect(commits.length).toBeLessThan(500);
      expect(Math.max(...commits.map((c) => c.entries))).toBeLessThanOrEqual(100);
      const report = await log.verify();
      expect(report).toMatchObject({ ok: true, entries: 500 });
      expect(report.chains).toEqual([
        expect.objectContaining({ chain: "main", entries: 500, from: 1, to: 500 }),
      ]);
    });

    it("stays writable after a batch fails", async () => {
      const log = await openLog();
      const first = record();
      await log.append(first, "{}");
      // a duplicate id violates the primary key: the whole batch is refused and rolled back
      const duplicate = log.append({ ...record(), id: first.id }, '{"dup":true}');
      await expect(duplicate).rejects.toBeInstanceOf(AuditUnavailableError);
      expect((await log.append(record(), "{}")).seq).toBe(2);
      expect(await log.verify()).toMatchObject({ ok: true, entries: 2 });
      expect(await count(store, "SELECT COUNT(*) AS n FROM inputs")).toBe(1);
    });

    it("a failed write among concurrent appends: the rest form a contiguous, verified chain", async () => {
      const log = await openLog();
      const first = await log.append(record(), "{}");
      const settled = await Promise.allSettled(
        Array.from({ length: 60 }, (_, i) => {
          const r = record();
          // one duplicate id in the middle fails its transaction
          return log.append(i === 30 ? { ...r, id: first.id } : r, inputFor(r, i));
        }),
      );
      const written = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
      for (const s of settled)
        if (s.status === "rejected") expect(s.reason).toBeInstanceOf(AuditUnavailableError);
      expect(settled[30]!.status).toBe("rejected");
      expect(written.map((e) => e.seq).sort((a, b) => a - b)).toEqual(
        Array.from({ length: written.length }, (_, i) => i + 2),
      );
      expect(await count(store, "SELECT COUNT(*) AS n FROM entries")).toBe(written.length + 1);
      expect(await log.verify()).toMatchObject({ ok: true, entries: written.length + 1 });
      // and the log goes on
      expect((await log.append(record(), "{}")).seq).toBe(written.length + 2);
    });

    it("continues the chain after a restart; migrating again is harmless", async () => {
      const first = await openLog();
      await appendAll(first, [record(), record(), record()]);
      await first.close();

      const backend = store.open();
      expect(await backend.open()).toBe(SCHEMA_VERSION);
      expect(await backend.open()).toBe(SCHEMA_VERSION);
      const second = await openLog({}, backend);
      expect((await second.append(record(), "{}")).seq).toBe(4);
      expect(await second.verify()).toMatchObject({ ok: true, entries: 4 });
      expect(await count(store, "SELECT COUNT(*) AS n FROM schema_migrations")).toBe(
        MIGRATIONS.length,
      );
    });

    it("refuses a database with a newer schema version", async () => {
      // closed first: the store opened next is a writer too
      await (await openLog()).close();
      await store.sql(
        "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
        SCHEMA_VERSION + 1,
        "from the future",
        "2030-01-01T00:00:00.000Z",
      );
      const opening = (async () => {
        const b = store.open();
        await b.open();
      })();
      await expect(opening).rejects.toThrow(/newer than this Clearance knows/);
      await expect(opening).rejects.toBeInstanceOf(AuditUnavailableError);
    });

    describe("detects tampering", () => {
      type Tamper = (s: Store, e: AuditEntry[]) => Promise<unknown>;
      const bodyOf = async (s: Store, id: string) =>
        (await s.sql<{ body: string }>("SELECT body FROM entries WHERE id = ?", id))[0]!.body;
      const cases: { what: string; problem: string; seq: number; tamper: Tamper }[] = [
        {
          what: "an edited body",
          problem: "hash_mismatch",
          seq: 3,
          tamper: async (s, e) => {
            const body = (await bodyOf(s, e[2]!.id)).replace(
              '"decision":"deny"',
              '"decision":"allow"',
            );
            expect(body).toContain('"decision":"allow"');
            await s.sql("UPDATE entries SET body = ? WHERE id = ?", body, e[2]!.id);
          },
        },
        {
          what: "a deleted entry in the middle",
          problem: "entry_missing",
          seq: 3,
          tamper: (s, e) => s.sql("DELETE FROM entries WHERE id = ?", e[2]!.id),
        },
        {
          what: "a changed decision column (body intact)",
          problem: "column_mismatch",
          seq: 3,
          tamper: (s, e) => s.sql("UPDATE entries SET decision = 'allow' WHERE id = ?", e[2]!.id),
        },
        {
          what: "a changed input snapshot",
          problem: "input_mismatch",
          seq: 3,
          tamper: (s, e) =>
            s.sql("UPDATE inputs SET body = ? WHERE hash = ?", '{"forged":true}', e[2]!.inputHash),
        },
        {
          what: "a deleted input snapshot",
          problem: "input_missing",
          seq: 3,
          tamper: (s, e) => s.sql("DELETE FROM inputs WHERE hash = ?", e[2]!.inputHash),
        },
        {
          what: "a forged checkpoint hiding deleted entries",
          problem: "checkpoint_forged",
          seq: 2,
          tamper: async (s, e) => {
            await s.sql("DELETE FROM entries WHERE chain = 'main' AND seq <= 2");
            // without the key, the forger can only compute the unkeyed MAC
            await s.sql(
              "INSERT INTO checkpoints (chain, seq, hash, mac, pruned_at) VALUES (?, ?, ?, ?, ?)",
              "main",
              2,
              e[1]!.hash,
              checkpointMac("main", 2, e[1]!.hash, null),
              new Date().toISOString(),
            );
          },
        },
        {
          what: "an edited body with its hash recomputed without the key",
          problem: "hash_mismatch",
          seq: 5,
          tamper: async (s, e) => {
            const body = (await bodyOf(s, e[4]!.id)).replace('"reason":"', '"reason":"edited ');
            await s.sql(
              "UPDATE entries SET body = ?, hash = ? WHERE id = ?",
              body,
              chainHash(e[3]!.hash, body, null),
              e[4]!.id,
            );
          },
        },
      ];

      it.each(cases)("$what → $problem at seq $seq", async ({ problem, seq, tamper }) => {
        const log = await openLog();
        const entries = await appendAll(log, [
          record(),
          record(),
          record({ decision: "deny", rule: "blocked" }),
          record(),
          record(),
        ]);
        expect((await log.verify()).ok).toBe(true);
        await tamper(store, entries);
        const report = await log.verify();
        expect(report.ok).toBe(false);
        expect(report.broken).toMatchObject({ chain: "main", problem, seq });
      });
    });

    describe("prune", () => {
      const old = (day: number) => `2020-01-0${day}T00:00:00.000Z`;

      it("removes old entries and their unreferenced inputs behind a checkpoint", async () => {
        const log = await openLog();
        const olds = [1, 2, 3, 4, 5].map((d) => record({ time: old(d) }));
        const news = [record(), record(), record()];
        // the first old and the first new entry share an input: it must survive the prune
        const shared = '{"shared":true}';
        const entries = await appendAll(log, [...olds, ...news], (r) =>
          r === olds[0] || r === news[0] ? shared : inputFor(r),
        );
        expect(await count(store, "SELECT COUNT(*) AS n FROM inputs")).toBe(7);

        expect(await log.prune(new Date("2020-01-03T12:00:00.000Z"))).toBe(3);
        expect(await log.get(entries[2]!.id)).toBeUndefined();
        expect((await log.get(entries[3]!.id))?.entry).toEqual(entries[3]);
        expect(await count(store, "SELECT COUNT(*) AS n FROM inputs")).toBe(5);
        const report = await log.verify();
        expect(report).toMatchObject({ ok: true, entries: 5 });
        expect(report.chains[0]).toMatchObject({ chain: "main", from: 4, to: 8 });

        expect(await log.prune(new Date("2019-01-01T00:00:00.000Z"))).toBe(0);
        expect((await log.append(record(), shared)).seq).toBe(9);
        expect(await log.verify()).toMatchObject({ ok: true, entries: 6 });
      });

      it("also removes old delivery ids and delivered notifications, keeping pending ones", async () => {
        const log = await openLog();
        const a = record({ time: old(1), deliveryId: "old-delivery" });
        const b = record({ deliveryId: "new-delivery" });
        await log.append(a, "{}", [{ target: "siem", payload: "{}" }]);
        await log.append(record({ time: old(2) }), "{}", [{ target: "siem", payload: "{}" }]);
        await log.append(b, "{}");
        await log.store.outbox.updateNotification(`${a.id}:siem`, {
          attempts: 1,
          nextAttemptAt: old(1),
          lastError: null,
          deliveredAt: old(1),
        });
        await log.prune(new Date("2020-01-05T00:00:00.000Z"));
        expect(await log.store.outbox.hasDelivery("old-delivery")).toBe(false);
        expect(await log.store.outbox.hasDelivery("new-delivery")).toBe(true);
        // the undelivered one stays, whatever its age: nothing is lost to pruning
        expect(await count(store, "SELECT COUNT(*) AS n FROM outbox")).toBe(1);
      });

      it("continues from the checkpoint when everything was pruned", async () => {
        const log = await openLog();
        await appendAll(log, [record(), record(), record()]);
        expect(await log.prune(new Date(Date.now() + 60_000))).toBe(3);
        expect(await count(store, "SELECT COUNT(*) AS n FROM inputs")).toBe(0);
        expect((await log.verify()).chains[0]).toMatchObject({ entries: 0, from: 4, to: 3 });
        await log.close();

        // a restarted log finds its head in the checkpoint
        const again = await openLog();
        expect((await again.append(record(), "{}")).seq).toBe(4);
        expect(await again.verify()).toMatchObject({ ok: true, entries: 1 });
      });
    });

    it("a failed shadow has a field of its own; one written with its message in `revision` reads the same, and its chain verifies", async () => {
      const log = await openLog();
      const error = { code: "evaluation_failed", message: "boom: `x` is not a list" };
      const now = record({
        shadow: { decision: "error", rule: null, revision: "sha256:ab", error },
      });
      // the form written before shadow errors had a field: the message after the revision
      const old = record({
        shadow: { decision: "error", rule: null, revision: "sha256:ab: boom: `x` is not a list" },
      });
      const agreed = record({ shadow: { decision: "deny", rule: "r", revision: "sha256:ab" } });
      await appendAll(log, [now, old, agreed]);
      const read = { decision: "error", rule: null, revision: "sha256:ab", error };
      for (const r of [now, old]) {
        expect((await log.get(r.id))?.entry.shadow).toEqual(read);
        expect((await log.latestFor(r.sha256))?.shadow).toEqual(read);
      }
      expect((await log.get(agreed.id))?.entry.shadow).toEqual(agreed.shadow);
      const exported = [];
      for await (const e of log.export({})) exported.push(e.shadow);
      expect(exported).toEqual([read, read, agreed.shadow]);
      let text = "";
      for await (const chunk of log.exportLines({}, { inputs: false })) text += chunk;
      expect(
        text
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l).shadow),
      ).toEqual([read, read, agreed.shadow]);
      expect(await log.verify()).toMatchObject({ ok: true, entries: 3 });
    });

    describe("query and export", () => {
      const SHAS = ["a", "b", "c"].map((c) => c.repeat(64));
      const SOURCES = ["api", "batch", "webhook", "gate", "sync"] as const;
      const DECISIONS = ["allow", "deny", "review"] as const;
      const NAMES = [
        "Invoice_2026.EXE",
        "report.pdf",
        null,
        "<script>alert(1)</script>.exe",
        "100%_off[1].exe",
        "ÉTÉ.exe",
        "setup.msi",
        "dir\\sub_1%.exe",
      ];
      const at = (i: number) => `2026-01-01T00:${String(i).padStart(2, "0")}:00.000Z`;
      const N = 30;
      /** the file-name filter's folding: ASCII letters only */
      const fold = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
      const named = (part: string) => (r: RecordFields) =>
        r.fileName != null && fold(r.fileName).includes(fold(part));

      function dataset(): RecordFields[] {
        return Array.from({ length: N }, (_, i) =>
          record({
            time: at(i),
            sha256: SHAS[i % 3]!,
            decision: DECISIONS[Math.floor(i / 2) % 3]!,
            rule: i % 4 === 0 ? null : `rule-${i % 2}`,
            source: SOURCES[i % 5]!,
            requester: i % 2 ? "key-a" : "key-b",
            fileName: NAMES[i % NAMES.length] ?? null,
          }),
        );
      }

      async function seeded() {
        const log = await openLog();
        const records = dataset();
        // created in order, so ids (time-ordered) follow `time` too
        await Promise.all(records.map((r) => log.append(r, inputFor(r))));
        return { log, records };
      }

      const filters: { name: string; filter: AuditFilter; match: (r: RecordFields) => boolean }[] =
        [
          { name: "no filter", filter: {}, match: () => true },
          { name: "sha256", filter: { sha256: SHAS[1]! }, match: (r) => r.sha256 === SHAS[1] },
          { name: "decision", filter: { decision: "deny" }, match: (r) => r.decision === "deny" },
          { name: "rule", filter: { rule: "rule-1" }, match: (r) => r.rule === "rule-1" },
          { name: "source", filter: { source: "webhook" }, match: (r) => r.source === "webhook" },
          {
            name: "requester",
            filter: { requester: "key-a" },
            match: (r) => r.requester === "key-a",
          },
          {
            name: "from (inclusive) and to (exclusive)",
            filter: { from: at(10), to: at(20) },
            match: (r) => r.time >= at(10) && r.time < at(20),
          },
          { name: "from only", filter: { from: at(25) }, match: (r) => r.time >= at(25) },
          {
            name: "sha256 and decision",
            filter: { sha256: SHAS[0]!, decision: "allow" },
            match: (r) => r.sha256 === SHAS[0] && r.decision === "allow",
          },
          { name: "nothing matches", filter: { rule: "no-such-rule" }, match: () => false },
          { name: "part of a file name", filter: { fileName: "port" }, match: named("port") },
          {
            name: "a file name in any case",
            filter: { fileName: "invoice_" },
            match: named("invoice_"),
          },
          { name: "a file name's extension", filter: { fileName: ".exe" }, match: named(".exe") },
          {
            name: "a file name's markup, as text",
            filter: { fileName: "<script>" },
            match: named("<script>"),
          },
          { name: "LIKE wildcards, literally", filter: { fileName: "%_" }, match: named("%_") },
          {
            // three characters or more: looked up in the index of trigrams, where one is
            name: "LIKE wildcards and a backslash, literally, in a longer part",
            filter: { fileName: "\\SUB_1%" },
            match: named("\\SUB_1%"),
          },
          {
            name: "a wildcard in a longer part",
            filter: { fileName: "0%_o" },
            match: named("0%_o"),
          },
          { name: "a wildcard matching nothing", filter: { fileName: "0_%o" }, match: () => false },
          { name: "non-ASCII letters as given", filter: { fileName: "ÉTÉ" }, match: named("ÉTÉ") },
          { name: "non-ASCII letters not folded", filter: { fileName: "été" }, match: () => false },
          {
            name: "a file name and a decision",
            filter: { fileName: "exe", decision: "deny" },
            match: (r) => named("exe")(r) && r.decision === "deny",
          },
        ];

      it.each(filters)(
        "filters by $name, newest first, paging every entry once",
        async ({ filter, match }) => {
          const { log, records } = await seeded();
          const expected = records
            .filter(match)
            .map((r) => r.id)
            .reverse();

          const all = await log.query(filter, 1000);
          expect(all.entries.map((e) => e.id)).toEqual(expected);
          expect(all.nextCursor).toBeNull();

          const paged: string[] = [];
          let cursor: string | undefined;
          for (let pages = 0; ; pages++) {
            expect(pages).toBeLessThanOrEqual(N);
            const page = await log.query(filter, 4, cursor);
            expect(page.entries.length).toBeLessThanOrEqual(4);
            paged.push(...page.entries.map((e) => e.id));
            if (page.nextCursor === null) break;
            cursor = page.nextCursor;
          }
          expect(paged).toEqual(expected);
        },
      );

      it("exports oldest first with inputs, and finds the latest entry for a file", async () => {
        const { log, records } = await seeded();
        const exported = [];
        for await (const e of log.export({})) exported.push(e);
        expect(exported.map((e) => e.id)).toEqual(records.map((r) => r.id));
        expect(exported.map((e) => e.input)).toEqual(records.map((r) => JSON.parse(inputFor(r))));

        const denied = [];
        for await (const e of log.export({ decision: "deny" }, { inputs: false })) denied.push(e);
        expect(denied.map((e) => e.id)).toEqual(
          records.filter((r) => r.decision === "deny").map((r) => r.id),
        );
        expect(denied.every((e) => !("input" in e))).toBe(true);

        const latest = records.filter((r) => r.sha256 === SHAS[2]).at(-1)!;
        expect((await log.latestFor(SHAS[2]!))?.id).toBe(latest.id);
        expect(await log.latestFor("f".repeat(64))).toBeUndefined();
      });

      it("exports as NDJSON text the same entries, line for line", async () => {
        const { log } = await seeded();
        for (const inputs of [true, false]) {
          const expected: string[] = [];
          for await (const e of log.export({}, { inputs })) expected.push(JSON.stringify(e));
          let text = "";
          for await (const chunk of log.exportLines({}, { inputs })) text += chunk;
          expect(text).toBe(expected.map((l) => `${l}\n`).join(""));
        }
        let denied = "";
        for await (const chunk of log.exportLines({ decision: "deny" }, { inputs: false }))
          denied += chunk;
        const lines = denied
          .trimEnd()
          .split("\n")
          .map((l) => JSON.parse(l));
        expect(lines.length).toBeGreaterThan(0);
        expect(lines.every((e) => e.decision === "deny")).toBe(true);
      });

      it("exports past one read page", async () => {
        const log = await openLog({ maxBatch: 500 });
        const records = Array.from({ length: 1_234 }, () => record());
        await Promise.all(records.map((r) => log.append(r, "{}")));
        const ids: string[] = [];
        for await (const e of log.export({}, { inputs: false })) ids.push(e.id);
        expect(ids).toEqual(records.map((r) => r.id));
        let text = "";
        for await (const chunk of log.exportLines({}, { inputs: true })) text += chunk;
        expect(
          text
            .trimEnd()
            .split("\n")
            .map((l) => JSON.parse(l).id),
        ).toEqual(ids);
      });
    });

    it("refuses an entry whose id does not carry its time (time ranges are id ranges)", async () => {
      const log = await openLog();
      const r = { ...record(), time: "2020-01-01T00:00:00.000Z" };
      await expect(log.append(r, "{}")).rejects.toThrow(/is not a UUIDv7 of its time/);
    });

    it("records a delivery id with its entry, and refuses a second entry with it", async () => {
      const log = await openLog();
      expect(await log.hasDelivery("delivery-1")).toBe(false);
      const first = log.append(record({ deliveryId: "delivery-1" }), "{}");
      // the copy is refused while the first is still being written, not only after
      await expect(log.append(record({ deliveryId: "delivery-1" }), "{}")).rejects.toBeInstanceOf(
        DuplicateDeliveryError,
      );
      await first;
      expect(await log.hasDelivery("delivery-1")).toBe(true);
      // another process (a restarted server) finds it in the database
      await log.close();
      const other = await openLog({ chain: "other" });
      expect(await other.hasDelivery("delivery-1")).toBe(true);
      expect(await other.hasDelivery("delivery-2")).toBe(false);
      expect(await count(store, "SELECT COUNT(*) AS n FROM deliveries")).toBe(1);
    });

    it("forgets a delivery id whose entry could not be written, so a retry records it", async () => {
      const log = await openLog();
      const first = await log.append(record(), "{}");
      // the write fails in the database: an id that is already taken
      await expect(
        log.append({ ...record({ deliveryId: "d-9" }), id: first.id }, "{}"),
      ).rejects.toBeInstanceOf(AuditUnavailableError);
      expect(await log.hasDelivery("d-9")).toBe(false);
      await log.append(record({ deliveryId: "d-9" }), "{}");
      expect(await log.hasDelivery("d-9")).toBe(true);
    });

    it.each(
      [
        { layout: "one shared backend", shared: true },
        { layout: "a backend each", shared: false },
      ].filter((l) => l.shared || !oneWriter),
    )(
      "keeps two chains apart under interleaved concurrent appends ($layout)",
      async ({ shared }) => {
        const backend = store.open();
        const a = await openLog({ chain: "a" }, backend);
        const b = await openLog({ chain: "b" }, shared ? backend : store.open());
        const appends: Promise<AuditEntry>[] = [];
        for (let i = 0; i < 300; i++) {
          const ra = record();
          const rb = record();
          appends.push(a.append(ra, inputFor(ra)), b.append(rb, inputFor(rb)));
        }
        const entries = await Promise.all(appends);
        for (const chain of ["a", "b"]) {
          expect(
            entries
              .filter((e) => e.chain === chain)
              .map((e) => e.seq)
              .sort((x, y) => x - y),
          ).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
        }
        const report = await a.verify();
        expect(report).toMatchObject({ ok: true, entries: 600 });
        expect(report.chains.map((c) => [c.chain, c.entries, c.to])).toEqual([
          ["a", 300, 300],
          ["b", 300, 300],
        ]);
        expect(await count(store, "SELECT COUNT(*) AS n FROM entries WHERE chain = ?", "a")).toBe(
          300,
        );
        expect(await count(store, "SELECT COUNT(DISTINCT id) AS n FROM entries")).toBe(600);
      },
    );
  });
}
