// A batch sent again with its Idempotency-Key records each item once: after an audit outage in its
// middle, and when copies of it arrive at once. Against real SQLite and PostgreSQL.
import { randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import pg from "pg";
import { afterEach, describe, expect, test } from "vitest";
import { PG_SKIP_REASON, PG_URL, startProxy } from "./audit-helpers.js";
import { example, makeApp, type TestApp } from "./helpers.js";

interface Backend {
  app: TestApp;
  /** entries in the log, read beside the server */
  count(): Promise<number>;
  /** the log stops taking writes, as a database gone or locked by another process */
  fail(): Promise<void>;
  heal(): Promise<void>;
  dispose(): Promise<void>;
}

// small group commits, so that a batch is recorded in many; slices of 1 ms between items
const COMMON = { limits: { sliceMs: 1 }, audit: { maxBatch: 10 } };

async function sqlite(): Promise<Backend> {
  // SQLite written alone, as without a journal: another connection's lock stops its writes (with
  // the journal, the decisions are journaled whatever the index's lock: journal-durability.test.ts)
  const app = await makeApp({
    ...COMMON,
    audit: { ...COMMON.audit, sqlite: { journal: { enabled: false } } },
  });
  const path = app.config.audit.sqlite.path;
  const reader = new Database(path, { readonly: true });
  const other = new Database(path);
  return {
    app,
    count: async () =>
      (reader.prepare("SELECT COUNT(*) AS n FROM entries").get() as { n: number }).n,
    fail: async () => void other.exec("BEGIN IMMEDIATE"),
    heal: async () => void other.exec("ROLLBACK"),
    async dispose() {
      if (other.inTransaction) other.exec("ROLLBACK");
      other.close();
      reader.close();
      await app.close();
    },
  };
}

async function postgres(): Promise<Backend> {
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const proxy = await startProxy();
  const app = await makeApp({
    ...COMMON,
    audit: {
      ...COMMON.audit,
      backend: "postgres",
      postgres: { url: proxy.url, schema, poolSize: 4 },
    },
  });
  const raw = new pg.Client({ connectionString: PG_URL });
  await raw.connect();
  return {
    app,
    count: async () =>
      Number((await raw.query(`SELECT COUNT(*) AS n FROM ${schema}.entries`)).rows[0].n),
    fail: () => proxy.cut(),
    heal: () => proxy.restore(),
    async dispose() {
      await proxy.stop();
      await app.close();
      await raw.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await raw.end();
    },
  };
}

const backends = [
  { title: "SQLite", make: sqlite, skip: false },
  {
    title: PG_URL ? "PostgreSQL" : `PostgreSQL (${PG_SKIP_REASON})`,
    make: postgres,
    skip: PG_URL === undefined,
  },
];

/** `n` distinct files; every seventh item is invalid. */
function batchOf(n: number, tag = 0) {
  const base = example("malware");
  return Array.from({ length: n }, (_, i) =>
    i % 7 === 6
      ? { result: { sha256: "nope" } }
      : { result: { ...base, sha256: (tag * 100_000 + i).toString(16).padStart(64, "0") } },
  );
}
const valid = (items: unknown[]) => items.filter((_, i) => i % 7 !== 6).length;

type Item = { decisionId?: string; error?: { code: string } };

async function until(check: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const { title, make, skip } of backends) {
  describe.skipIf(skip)(`batches with an Idempotency-Key: ${title}`, () => {
    let b: Backend | undefined;
    afterEach(async () => {
      await b?.dispose();
      b = undefined;
    });

    const send = (items: unknown[], key?: string) =>
      b!.app.app.inject({
        method: "POST",
        url: "/v1/decisions/batch",
        headers: key === undefined ? {} : { "idempotency-key": key },
        payload: { items },
      });

    test("sent again, a batch is answered with the same decisions and nothing is recorded twice", async () => {
      b = await make();
      const items = batchOf(20);
      const first = await send(items, "order-1");
      expect(first.statusCode).toBe(200);
      expect(await b.count()).toBe(valid(items));
      const again = await send(items, "order-1");
      expect(again.statusCode).toBe(200);
      expect(await b.count()).toBe(valid(items));
      const ids = (r: typeof first) => (r.json().items as Item[]).map((i) => i.decisionId);
      expect(ids(again)).toEqual(ids(first));
      const codes = (r: typeof first) => (r.json().items as Item[]).map((i) => i.error?.code);
      expect(codes(again)).toEqual(codes(first));
      // a recorded item is answered as recorded: the same decision, rule and ruleset
      expect(again.json().items[0]).toEqual(first.json().items[0]);
      // another key is another batch
      expect((await send(items, "order-2")).statusCode).toBe(200);
      expect(await b.count()).toBe(2 * valid(items));
    });

    test("POST /v1/decisions takes a key too: sent again, the same decision, recorded once", async () => {
      b = await make();
      const one = (result: unknown, key: string) =>
        b!.app.app.inject({
          method: "POST",
          url: "/v1/decisions",
          headers: { "idempotency-key": key },
          payload: { result },
        });
      const [item] = batchOf(1);
      const first = await one(item!.result, "single-1");
      expect(first.statusCode).toBe(200);
      const again = await one(item!.result, "single-1");
      expect(again.statusCode).toBe(200);
      expect(again.json()).toEqual(first.json());
      expect(await b.count()).toBe(1);
      const other = await one(batchOf(1, 1)[0]!.result, "single-1");
      expect(other.statusCode).toBe(422);
      expect(other.json().code).toBe("idempotency_key_reused");
      // bad input under a key is refused each time and never recorded
      for (let i = 0; i < 2; i++)
        expect((await one({ sha256: "nope" }, "single-2")).json().code).toBe("invalid_result");
      expect(await b.count()).toBe(1);
    });

    test("the same key with another body is refused (422) and records nothing", async () => {
      b = await make();
      expect((await send(batchOf(3), "order-1")).statusCode).toBe(200);
      const before = await b.count();
      const res = await send(batchOf(3, 1), "order-1");
      expect(res.statusCode).toBe(422);
      expect(res.json()).toMatchObject({ code: "idempotency_key_reused" });
      expect(res.json().detail).toContain("`order-1`");
      expect(await b.count()).toBe(before);
    });

    test.each([
      ["an empty key", ""],
      ["a key with a space", "order 1"],
      ["a key over 255 characters", "k".repeat(256)],
    ])("%s is invalid", async (_, key) => {
      b = await make();
      const res = await send(batchOf(2), key);
      expect(res.statusCode).toBe(400);
      expect(res.json().problems[0].pointer).toBe("headers:/idempotency-key");
    });

    test("sent again after an audit outage in its middle, each item is recorded exactly once", async () => {
      b = await make();
      const items = batchOf(700);
      const answer = send(items, "order-1");
      await until(async () => (await b!.count()) >= 5, "5 entries");
      await b.fail();
      const first = await answer;
      await b.heal();
      expect(first.statusCode).toBe(200);
      const firstItems: Item[] = first.json().items;
      const refused = firstItems.filter((i) => i.error?.code === "audit_unavailable").length;
      expect(refused).toBeGreaterThan(0);
      // every item answered with a decision is recorded; one refused may be too, when the
      // connection was lost as its commit went through (PostgreSQL): the key is how to tell
      expect(await b.count()).toBeGreaterThanOrEqual(valid(items) - refused);

      // the log recovers; until it does, the batch may be refused whole
      let again = await send(items, "order-1");
      await until(async () => {
        if (again.statusCode === 200 && !again.body.includes('"audit_unavailable"')) return true;
        again = await send(items, "order-1");
        return false;
      }, "the batch to be recorded");
      expect(await b.count()).toBe(valid(items));
      const againItems: Item[] = again.json().items;
      for (const [i, item] of firstItems.entries())
        if (item.decisionId) expect(againItems[i]!.decisionId).toBe(item.decisionId);
      expect(new Set(againItems.map((i) => i.decisionId).filter(Boolean)).size).toBe(valid(items));
    }, 120_000);

    test("copies of a batch sent at once record each item once: one is answered, the others wait their turn (409)", async () => {
      b = await make();
      const items = batchOf(200);
      const answers = await Promise.all(Array.from({ length: 6 }, () => send(items, "order-1")));
      const statuses = answers.map((r) => r.statusCode);
      expect(statuses).toContain(200);
      expect(statuses).toContain(409);
      for (const r of answers)
        if (r.statusCode !== 200) {
          expect(r.statusCode).toBe(409);
          expect(r.json().code).toBe("idempotency_key_in_use");
          expect(r.headers["retry-after"]).toBe("1");
        }
      expect(await b.count()).toBe(valid(items));
      // sent again once the first is answered, each copy gets the same decisions
      const ids = (await send(items, "order-1")).json().items.map((i: Item) => i.decisionId);
      for (const r of answers)
        if (r.statusCode === 200)
          expect(r.json().items.map((i: Item) => i.decisionId)).toEqual(ids);
      expect(await b.count()).toBe(valid(items));
    });
  });
}
