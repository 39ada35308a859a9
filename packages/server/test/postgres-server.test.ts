// The decision server on PostgreSQL: an outage mid-load, and two replicas sharing one log.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterEach, describe, expect, test } from "vitest";
import { AuditLog } from "../src/audit/log.js";
import { PostgresBackend } from "../src/audit/postgres.js";
import { resolveConfig } from "../src/config.js";
import { type RunningServer, startServer } from "../src/server.js";
import { PG_SKIP_REASON, PG_URL, startProxy } from "./audit-helpers.js";
import { load, RULES, waitFor } from "./helpers.js";

if (!PG_URL) console.warn(`PostgreSQL server tests ${PG_SKIP_REASON}`);

const HMAC = "postgres-server-test-key";

describe.skipIf(!PG_URL)(`the server on PostgreSQL${PG_URL ? "" : ` (${PG_SKIP_REASON})`}`, () => {
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f();
    const raw = new pg.Client({ connectionString: PG_URL });
    await raw.connect();
    await raw.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await raw.end();
  });

  async function serve(url: string, chain: string): Promise<RunningServer> {
    const server = await startServer(
      resolveConfig({
        server: { port: 0, logLevel: "silent" },
        rules: { dir: RULES, watch: false },
        audit: {
          backend: "postgres",
          postgres: { url, schema, poolSize: 4 },
          chain,
          hmacSecret: HMAC,
        },
      }),
      { logger: false, hooks: { processMetrics: false } },
    );
    cleanups.push(() => server.close());
    return server;
  }

  async function openLog(): Promise<AuditLog> {
    const log = new AuditLog(new PostgresBackend({ url: PG_URL!, poolSize: 2, schema }), {
      chain: "reader",
      hmacSecret: HMAC,
      maxBatch: 1,
    });
    cleanups.push(() => log.close());
    return log;
  }

  test("PostgreSQL gone mid-load: 503 audit_unavailable, readyz fails, nothing answered unrecorded; service resumes", async () => {
    const proxy = await startProxy();
    cleanups.push(() => proxy.stop());
    const server = await serve(proxy.url, "outage");
    const l = load(server.url, 8);
    cleanups.push(() => l.stop());
    await waitFor(() => l.received.length >= 100, 15_000, "decisions before the outage");

    await proxy.cut();
    await waitFor(() => l.refused.length >= 10, 15_000, "refusals during the outage");
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: { audit: string } }).checks.audit).toMatch(
      /^unreachable/,
    );
    const answeredDuringOutage = l.received.length;

    await proxy.restore();
    await waitFor(
      () => l.received.length >= answeredDuringOutage + 100,
      20_000,
      "decisions after recovery",
    );
    await l.stop();
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);

    // every refusal was a 503 naming the audit log, never another error
    expect(new Set(l.refused.map((r) => `${r.status} ${r.code}`))).toEqual(
      new Set(["503 audit_unavailable"]),
    );
    const log = await openLog();
    const report = await log.verify();
    expect(report.ok, JSON.stringify(report.broken)).toBe(true);
    for (const id of l.received) expect(await log.get(id), id).toBeDefined();
    // an entry may exist for a refused decision whose commit succeeded as the connection died,
    // never the other way round
    expect(report.entries).toBeGreaterThanOrEqual(l.received.length);
  }, 90_000);

  test("a replica configured with another's chain is not ready and refuses decisions", async () => {
    const a = await serve(PG_URL!, "shared-chain");
    const b = await serve(PG_URL!, "shared-chain");
    expect((await fetch(`${a.url}/readyz`)).status).toBe(200);
    const ready = await fetch(`${b.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: { audit: string } }).checks.audit).toMatch(
      /being written by another replica/,
    );
  });

  test("two replicas on one PostgreSQL under concurrent load: no lost or duplicated entries, both chains verify", async () => {
    const a = await serve(PG_URL!, "replica-a");
    const b = await serve(PG_URL!, "replica-b");
    const la = load(a.url, 8);
    const lb = load(b.url, 8);
    cleanups.push(
      () => la.stop(),
      () => lb.stop(),
    );
    await waitFor(
      () => la.received.length >= 600 && lb.received.length >= 600,
      30_000,
      "load on both replicas",
    );
    await Promise.all([la.stop(), lb.stop()]);
    expect(la.failures() + lb.failures()).toBe(0);

    const log = await openLog();
    const report = await log.verify();
    expect(report.ok, JSON.stringify(report.broken)).toBe(true);
    expect(report.chains.map((c) => [c.chain, c.entries])).toEqual([
      ["replica-a", la.received.length],
      ["replica-b", lb.received.length],
    ]);
    const ids = new Set([...la.received, ...lb.received]);
    expect(ids.size).toBe(la.received.length + lb.received.length);
    const exported: string[] = [];
    for await (const e of log.export({}, { inputs: false })) exported.push(e.id);
    expect(new Set(exported)).toEqual(ids);
    expect(exported).toHaveLength(ids.size);
  }, 90_000);
});
