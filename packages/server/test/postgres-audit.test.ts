import { createServer } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type AuditStore, AuditUnavailableError } from "../src/audit/backend.js";
import { AuditLog } from "../src/audit/log.js";
import {
  closeServer,
  count,
  inputFor,
  listen,
  PG_SKIP_REASON,
  PG_URL,
  postgresStore,
  record,
  type Store,
  startProxy,
  until,
  viaPort,
} from "./audit-helpers.js";

if (!PG_URL) console.warn(`PostgreSQL audit backend tests ${PG_SKIP_REASON}`);

describe.skipIf(!PG_URL)(`PostgreSQL audit backend${PG_URL ? "" : ` (${PG_SKIP_REASON})`}`, () => {
  let store: Store;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeEach(async () => {
    store = await postgresStore();
  });

  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f();
    await store.dispose();
  });

  async function openLog(chain: string, backend: AuditStore = store.open(), maxBatch = 100) {
    const log = new AuditLog(backend, { chain, hmacSecret: "k", maxBatch });
    cleanups.push(() => log.close());
    await log.open();
    return log;
  }

  it("lets replicas that start together migrate one after the other", async () => {
    const versions = await Promise.all([0, 1, 2, 3].map(() => store.open().open()));
    expect(new Set(versions).size).toBe(1);
    expect(await count(store, "SELECT COUNT(*) AS n FROM schema_migrations")).toBe(versions[0]);
  });

  it("compresses input snapshots with lz4 where the server has it, and writes a batch whole", async () => {
    const log = await openLog("main");
    const r = record({ deliveryId: "d-1" });
    await log.append(r, JSON.stringify({ result: { pad: "x".repeat(8_000) } }));
    let lz4 = true;
    try {
      await store.sql("SET default_toast_compression = lz4");
    } catch {
      lz4 = false; // built without lz4: the migration kept pglz
    }
    const [column] = await store.sql<{ c: string }>(
      "SELECT attcompression AS c FROM pg_attribute WHERE attrelid = 'inputs'::regclass AND attname = 'body'",
    );
    expect(column!.c).toBe(lz4 ? "l" : "");
    // the one-statement write stored the input, the entry and the delivery id together
    expect(await count(store, "SELECT COUNT(*) AS n FROM inputs")).toBe(1);
    expect(await count(store, "SELECT COUNT(*) AS n FROM deliveries WHERE id = ?", "d-1")).toBe(1);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 1 });
  });

  it("refuses a second writer on the same chain until the first is gone", async () => {
    const first = await openLog("main");
    const second = await openLog("main");
    await first.append(record(), "{}");
    const refused = second.append(record(), "{}");
    await expect(refused).rejects.toBeInstanceOf(AuditUnavailableError);
    await expect(refused).rejects.toThrow(/being written by another replica/);
    // reads are not locked
    expect((await second.verify()).entries).toBe(1);

    await first.close();
    expect((await second.append(record(), "{}")).seq).toBe(2);
    expect(await second.verify()).toMatchObject({ ok: true, entries: 2 });
  });

  it.each([
    {
      what: "refuses connections",
      server: async () => {
        // a port that was just free: nothing listens there
        const s = createServer();
        const port = await listen(s);
        await closeServer(s);
        return { port, close: async () => {} };
      },
    },
    {
      what: "accepts connections and never answers",
      server: async () => {
        const held = new Set<Socket>();
        const s = createServer((socket) => held.add(socket));
        const port = await listen(s);
        return {
          port,
          close: async () => {
            for (const socket of held) socket.destroy();
            await closeServer(s);
          },
        };
      },
    },
  ])("fails fast with AuditUnavailableError when the server $what", async ({ server }) => {
    const { port, close } = await server();
    cleanups.push(close);
    const backend = store.open(viaPort(port));
    const started = Date.now();
    await expect(backend.open()).rejects.toBeInstanceOf(AuditUnavailableError);
    await expect(backend.ping()).rejects.toBeInstanceOf(AuditUnavailableError);
    // the connect timeout is 2 s per attempt
    expect(Date.now() - started).toBeLessThan(6_000);
  });

  it("rides out an outage: refuses quickly, recovers, loses nothing", async () => {
    const proxy = await startProxy();
    cleanups.push(() => proxy.stop());
    const log = await openLog("main", store.open(proxy.url));

    type Phase = "up" | "cut" | "restored";
    let phase = "up" as Phase;
    const resolved: { id: string; phase: Phase }[] = [];
    const rejected: { error: unknown; ms: number; phase: Phase }[] = [];
    let stop = false;
    const appending = (async () => {
      while (!stop) {
        await Promise.all(
          Array.from({ length: 5 }, async () => {
            const r = record();
            const started = Date.now();
            try {
              await log.append(r, inputFor(r));
              resolved.push({ id: r.id, phase });
            } catch (error) {
              rejected.push({ error, ms: Date.now() - started, phase });
            }
          }),
        );
        // paces the loop while every append fails at once
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    await until(() => resolved.length >= 50, 5_000, "appends before the outage");
    await proxy.cut();
    phase = "cut";
    await until(() => rejected.length >= 10, 5_000, "appends to be refused during the outage");
    await expect(log.ping()).rejects.toBeInstanceOf(AuditUnavailableError);
    await expect(log.query({}, 10)).rejects.toBeInstanceOf(AuditUnavailableError);

    await proxy.restore();
    phase = "restored";
    await until(
      () => resolved.filter((r) => r.phase === "restored").length >= 20,
      10_000,
      "appends to succeed after the outage",
    );
    stop = true;
    await appending;
    await log.ping();

    for (const { error } of rejected) expect(error).toBeInstanceOf(AuditUnavailableError);
    expect(Math.max(...rejected.map((r) => r.ms))).toBeLessThan(5_000);

    // every acknowledged append is stored; what failed left no gap or half-written batch behind
    const report = await log.verify();
    expect(report.ok).toBe(true);
    const stored = new Set(
      (await store.sql<{ id: string }>("SELECT id FROM entries WHERE chain = 'main'")).map(
        (r) => r.id,
      ),
    );
    for (const { id } of resolved) expect(stored.has(id)).toBe(true);
    expect(report.chains[0]).toMatchObject({ entries: stored.size, from: 1, to: stored.size });
  });

  it("recovers when its idle writer connection is killed", async () => {
    const log = await openLog("main");
    await log.append(record(), "{}");
    const killed = await store.sql<{ ok: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ok FROM pg_locks
         WHERE locktype = 'advisory' AND objsubid = 1 AND pid <> pg_backend_pid()
           AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(?, 0)`,
      `clearance:chain:${(await store.sql<{ s: string }>("SELECT current_schema() AS s"))[0]!.s}:main`,
    );
    expect(killed).toEqual([{ ok: true }]);
    // the first append may still meet the dead connection; after that the writer reconnects
    let failures = 0;
    await until(
      async () => {
        try {
          await log.append(record(), "{}");
          return true;
        } catch (error) {
          expect(error).toBeInstanceOf(AuditUnavailableError);
          failures++;
          return false;
        }
      },
      5_000,
      "an append on a new writer connection",
    );
    expect(failures).toBeLessThanOrEqual(1);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 2 });
  });

  it("never prunes an input that another replica's write is reusing", async () => {
    const pruner = await openLog("pruner");
    const writer = await openLog("writer");
    // the race needs the writer's ON CONFLICT DO NOTHING to see the input just before the
    // prune's delete; without a lock it shows up within a few dozen rounds
    for (let round = 0; round < 100; round++) {
      const shared = JSON.stringify({ round });
      await pruner.append(record({ time: "2020-01-01T00:00:00.000Z" }), shared);
      await Promise.all([
        pruner.prune(new Date("2021-01-01T00:00:00.000Z")),
        ...[0, 1, 2].map((delay) =>
          new Promise((r) => setTimeout(r, delay)).then(() => writer.append(record(), shared)),
        ),
      ]);
    }
    const report = await writer.verify();
    expect(report.broken).toBeUndefined();
    expect(report.chains.find((c) => c.chain === "writer")?.entries).toBe(300);
  });

  it("keeps two replicas' chains whole under concurrent load", async () => {
    const replicas = [await openLog("replica-1"), await openLog("replica-2")];
    const ids: string[] = [];
    const appends = [];
    for (let i = 0; i < 2_000; i++) {
      for (const log of replicas) {
        const r = record();
        ids.push(r.id);
        appends.push(log.append(r, inputFor(r)));
      }
    }
    await Promise.all(appends);

    const report = await replicas[0]!.verify();
    expect(report).toMatchObject({ ok: true, entries: 4_000 });
    expect(report.chains.map((c) => [c.chain, c.entries, c.to])).toEqual([
      ["replica-1", 2_000, 2_000],
      ["replica-2", 2_000, 2_000],
    ]);
    expect(await count(store, "SELECT COUNT(DISTINCT id) AS n FROM entries")).toBe(4_000);
    const stored = await store.sql<{ id: string }>("SELECT id FROM entries ORDER BY id");
    expect(stored.map((r) => r.id)).toEqual([...ids].sort());
  });
});
