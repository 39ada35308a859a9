// The decision server on PostgreSQL: an outage mid-load, and two replicas sharing one log.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterEach, describe, expect, test } from "vitest";
import { REVIEW_CASE_KIND } from "../src/audit/kinds.js";
import { AuditLog } from "../src/audit/log.js";
import { CONNECT_TIMEOUT_MS, PostgresBackend } from "../src/audit/postgres.js";
import { resolveConfig } from "../src/config.js";
import { type RunningServer, startServer } from "../src/server.js";
import { RECORD_DEADLINE_MS } from "../src/services.js";
import { PG_SKIP_REASON, PG_URL, startProxy } from "./audit-helpers.js";
import { example, load, RULES, waitFor } from "./helpers.js";

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

  async function serve(
    url: string,
    chain: string,
    logLines?: Record<string, unknown>[],
  ): Promise<RunningServer> {
    const logger = logLines
      ? { level: "warn", stream: { write: (line: string) => logLines.push(JSON.parse(line)) } }
      : false;
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
      { logger, hooks: { processMetrics: false } },
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
    await log.open();
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

  test("a blackhole (packets dropped, nothing closed): every decision is refused within the documented 10 s, readiness fails within its 2 s, and the outage is logged once with its duration", async () => {
    const proxy = await startProxy();
    cleanups.push(() => proxy.stop());
    const logs: Record<string, unknown>[] = [];
    const server = await serve(proxy.url, "blackhole", logs);
    const body = JSON.stringify({ result: example("malware") });
    const outcomes: { status: number; code: string | undefined; ms: number }[] = [];
    let stop = false;
    const clients = Array.from({ length: 6 }, async () => {
      while (!stop) {
        const started = Date.now();
        const res = await fetch(`${server.url}/v1/decisions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
        const answer = (await res.json()) as { code?: string };
        outcomes.push({ status: res.status, code: answer.code, ms: Date.now() - started });
        if (res.status !== 200) await new Promise((r) => setTimeout(r, 20));
      }
    });
    cleanups.push(async () => {
      stop = true;
      await Promise.all(clients);
    });
    await waitFor(() => outcomes.filter((o) => o.status === 200).length >= 50, 15_000, "decisions");

    proxy.blackhole();
    const holeStarted = Date.now();
    const readyStarted = Date.now();
    const ready = await fetch(`${server.url}/readyz`);
    const readyMs = Date.now() - readyStarted;
    expect(ready.status).toBe(503);
    expect(readyMs).toBeLessThan(2_000 + 1_500);
    // long enough for decisions that wait the whole deadline, and for new connections to time out
    await waitFor(() => Date.now() - holeStarted > RECORD_DEADLINE_MS + 4_000, 30_000);
    const duringHole = outcomes.length;
    proxy.resume();
    const holeSeconds = (Date.now() - holeStarted) / 1000;
    await waitFor(
      () => outcomes.slice(duringHole).filter((o) => o.status === 200).length >= 20,
      30_000,
      "decisions after the network came back",
    );
    stop = true;
    await Promise.all(clients);

    const refused = outcomes.filter((o) => o.status !== 200);
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused.map((o) => `${o.status} ${o.code}`))).toEqual(
      new Set(["503 audit_unavailable"]),
    );
    // the bound: the deadline, plus the margin of a loaded machine; it was 14 s (12 s for the hung
    // query, then 2 s to connect again)
    const slowest = Math.max(...outcomes.map((o) => o.ms));
    expect(slowest).toBeLessThan(RECORD_DEADLINE_MS + 1_500);
    expect(slowest).toBeGreaterThan(CONNECT_TIMEOUT_MS);

    const outage = logs.filter((l) => (l.audit as { status?: string } | undefined)?.status);
    expect(outage.map((l) => [l.level, (l.audit as { status: string }).status])).toEqual([
      [40, "unavailable"],
      [40, "available"],
    ]);
    const down = (outage[1]!.audit as { downSeconds: number }).downSeconds;
    expect(down).toBeGreaterThan(holeSeconds - 2);
    expect(down).toBeLessThan(holeSeconds + 10);
    expect(outage[1]!.msg).toMatch(/^audit log available again after \d+\.\d s/);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^clearance_audit_available 1$/m);
    expect(metrics).toMatch(/^clearance_audit_outage_duration_seconds_count 1$/m);
  }, 120_000);

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
    // each chain holds its decisions and the review cases it opened: one case per reviewed file
    // across both replicas, however they raced to open it
    const cases = await log.entriesOf(REVIEW_CASE_KIND, { limit: 100 });
    expect(cases.map((c) => c.event)).toEqual(["opened", "opened"]);
    expect(new Set(cases.map((c) => c.sha256)).size).toBe(2);
    const opened = (chain: string) => cases.filter((c) => c.chain === chain).length;
    expect(report.chains.map((c) => [c.chain, c.entries])).toEqual([
      ["replica-a", la.received.length + opened("replica-a")],
      ["replica-b", lb.received.length + opened("replica-b")],
    ]);
    const ids = new Set([...la.received, ...lb.received]);
    expect(ids.size).toBe(la.received.length + lb.received.length);
    const exported: string[] = [];
    for await (const e of log.export({}, { inputs: false })) exported.push(e.id);
    expect(new Set(exported)).toEqual(ids);
    expect(exported).toHaveLength(ids.size);
  }, 90_000);
});
