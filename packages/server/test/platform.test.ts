// The server with the platform: files fetched on a miss, the sync, and webhooks, all against the
// simulator on loopback.
import { writeFileSync } from "node:fs";
import { PlatformClient } from "@clearance/client";
import { type RunningSimulator, startSimulator } from "@clearance/platform-sim";
import { afterEach, describe, expect, test } from "vitest";
import { resolveConfig } from "../src/config.js";
import { type RunningServer, startServer } from "../src/server.js";
import { makeApp, RULES, type TestApp, tempDir } from "./helpers.js";

const KEY = "sim_key_full";

describe("the server with the platform", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f();
  });

  async function sim(
    options: Parameters<typeof startSimulator>[0] = {},
  ): Promise<RunningSimulator> {
    const s = await startSimulator({ port: 0, analysisDelayMs: 0, ...options });
    cleanups.push(() => s.close());
    return s;
  }

  async function app(simUrl: string, extra: Record<string, unknown> = {}): Promise<TestApp> {
    const t = await makeApp({ platform: { url: simUrl, apiKey: KEY }, ...extra });
    cleanups.push(() => t.close());
    return t;
  }

  async function shas(simUrl: string): Promise<string[]> {
    const client = new PlatformClient({ baseUrl: simUrl, apiKey: KEY });
    const out: string[] = [];
    for await (const f of client.listFiles()) out.push(f.file.sha256);
    await client.close();
    return out;
  }

  test("a file never decided is fetched, decided and recorded; refresh=true decides it again", async () => {
    const s = await sim({ seedFiles: 3 });
    const t = await app(s.url);
    const [sha] = await shas(s.url);
    const first = await t.app.inject({ url: `/v1/decisions/${sha}` });
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ sha256: sha, source: "api" });
    const again = await t.app.inject({ url: `/v1/decisions/${sha}` });
    expect(again.json().decisionId).toBe(first.json().decisionId);
    const fresh = await t.app.inject({ url: `/v1/decisions/${sha}?refresh=true` });
    expect(fresh.statusCode).toBe(200);
    expect(fresh.json().decisionId).not.toBe(first.json().decisionId);
    expect((await t.services.audit.query({ sha256: sha! }, 10)).entries).toHaveLength(2);

    const unknown = await t.app.inject({ url: `/v1/decisions/${"e".repeat(64)}` });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().detail).toContain("the platform has no analysis of it");
  });

  test("the platform failing is a 503 platform_unavailable, and nothing is recorded", async () => {
    const s = await sim({ seedFiles: 1, faults: { errorRate: 1 } });
    const t = await app(s.url);
    const res = await t.app.inject({ url: `/v1/decisions/${"a".repeat(64)}` });
    expect(res.statusCode).toBe(503);
    expect(res.json().code).toBe("platform_unavailable");
    expect((await t.services.audit.query({}, 10)).entries).toEqual([]);
  }, 60_000);

  test("a wrong platform key is a 502 naming the platform's complaint", async () => {
    const s = await sim({ seedFiles: 1 });
    const t = await makeApp({ platform: { url: s.url, apiKey: "not-a-valid-key" } });
    cleanups.push(() => t.close());
    const res = await t.app.inject({ url: `/v1/decisions/${"a".repeat(64)}` });
    expect(res.statusCode).toBe(502);
    expect(res.json().code).toBe("platform_error");
  });

  test("the sync decides every completed result once, and new ones on the next round", async () => {
    const s = await sim({ seedFiles: 25 });
    const t = await app(s.url, { sync: { enabled: true, lookbackDays: 3650 } });
    const sync = t.services.sync!;
    expect(await sync.runOnce()).toMatchObject({ decided: 25, skipped: 0 });
    expect(await sync.runOnce()).toMatchObject({ decided: 0 });
    await fetch(`${s.url}/_sim/files`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ count: 5 }),
    });
    expect(await sync.runOnce()).toMatchObject({ decided: 5 });
    const synced = (await t.services.audit.query({ source: "sync" }, 100)).entries;
    expect(synced).toHaveLength(30);
    expect(new Set(synced.map((e) => e.sha256))).toEqual(new Set(await shas(s.url)));
    const metrics = (await t.app.inject({ url: "/metrics" })).body;
    expect(metrics).toMatch(/clearance_sync_results_total\{outcome="decided"\} 30/);
  });

  test("an upload to the platform ends as a webhook decision in the audit log", async () => {
    const secret = "webhook-secret-for-the-sim";
    const tmp = tempDir();
    cleanups.push(async () => tmp.remove());
    const server: RunningServer = await startServer(
      resolveConfig({
        server: { port: 0, logLevel: "silent" },
        rules: { dir: RULES, watch: false },
        audit: { sqlite: { path: `${tmp.dir}/audit.db` } },
        webhook: { secret },
      }),
      { logger: false, hooks: { processMetrics: false } },
    );
    cleanups.push(() => server.close());
    const s = await sim({ webhooks: [{ url: `${server.url}/v1/webhooks/platform`, secret }] });
    const file = `${tmp.dir}/tool.exe`;
    writeFileSync(file, "MZ pretend this is a program");
    const client = new PlatformClient({ baseUrl: s.url, apiKey: KEY });
    cleanups.push(() => client.close());
    const up = await client.upload(file);
    let entries: Awaited<ReturnType<typeof server.services.audit.query>>["entries"] = [];
    const deadline = Date.now() + 15_000;
    while (entries.length === 0 && Date.now() < deadline) {
      entries = (await server.services.audit.query({ sha256: up.sha256 }, 10)).entries;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      source: "webhook",
      requester: "platform",
      sha256: up.sha256,
    });
    expect(entries[0]!.deliveryId).toMatch(/.+/);
  }, 30_000);
});
