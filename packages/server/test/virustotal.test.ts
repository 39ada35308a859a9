// The server's fetch-on-miss from VirusTotal, against the simulator's VirusTotal mode on loopback.
import { type RunningSimulator, startSimulator } from "@clearance/platform-sim";
import { afterEach, describe, expect, test } from "vitest";
import { makeApp, type TestApp } from "./helpers.js";

const VT_KEY = "vt_premium_key";
const QUEUED = "ab".repeat(32);

describe("the server with VirusTotal", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f();
  });

  async function sim(perDay = 100_000): Promise<{ s: RunningSimulator; shas: string[] }> {
    const s = await startSimulator({
      port: 0,
      analysisDelayMs: 0,
      virustotal: { keys: [{ key: VT_KEY, perMinute: 1000, perDay }], queued: [QUEUED] },
    });
    cleanups.push(() => s.close());
    const res = await s.app.inject({ method: "POST", url: "/_sim/files", payload: { count: 3 } });
    return { s, shas: (res.json().data as { sha256: string }[]).map((f) => f.sha256) };
  }

  async function app(url: string, virustotal: Record<string, unknown> = {}, extra = {}) {
    const t: TestApp = await makeApp({
      virustotal: { url, apiKey: VT_KEY, perMinute: 1000, perDay: 100_000, ...virustotal },
      ...extra,
    });
    cleanups.push(() => t.close());
    return t;
  }

  test("a file never decided is fetched from VirusTotal, decided and recorded once", async () => {
    const { s, shas } = await sim();
    const t = await app(s.url);
    const first = await t.app.inject({ url: `/v1/decisions/${shas[0]}` });
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ sha256: shas[0], source: "api" });
    expect(["allow", "deny", "review"]).toContain(first.json().decision);
    const again = await t.app.inject({ url: `/v1/decisions/${shas[0]}` });
    expect(again.json().decisionId).toBe(first.json().decisionId);
    expect((await t.services.audit.query({ sha256: shas[0]! }, 10)).entries).toHaveLength(1);
  });

  test("an unknown file is a 404 naming VirusTotal; a queued analysis is never decided", async () => {
    const { s } = await sim();
    const t = await app(s.url);
    const unknown = await t.app.inject({ url: `/v1/decisions/${"e".repeat(64)}` });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().detail).toContain("VirusTotal has no analysis of it");
    const queued = await t.app.inject({ url: `/v1/decisions/${QUEUED}` });
    expect(queued.statusCode).toBe(502);
    expect(queued.json().code).toBe("platform_result_invalid");
    expect(queued.json().detail).toContain("still queued");
    expect((await t.services.audit.query({}, 10)).entries).toEqual([]);
  });

  test("the day's quota used up is a 503 with Retry-After until 00:00 UTC, nothing recorded", async () => {
    const { s, shas } = await sim();
    const t = await app(s.url, { perDay: 1 });
    expect((await t.app.inject({ url: `/v1/decisions/${shas[0]}` })).statusCode).toBe(200);
    const res = await t.app.inject({ url: `/v1/decisions/${shas[1]}` });
    expect(res.statusCode).toBe(503);
    expect(res.json().code).toBe("platform_unavailable");
    expect(res.json().detail).toContain("daily quota is used up until");
    const retry = Number(res.headers["retry-after"]);
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(86_400);
    expect((await t.services.audit.query({}, 10)).entries).toHaveLength(1);
  });

  test("past the minute's quota a request is told when to come back, without waiting", async () => {
    const { s, shas } = await sim();
    const t = await app(s.url, { perMinute: 1 });
    expect((await t.app.inject({ url: `/v1/decisions/${shas[0]}` })).statusCode).toBe(200);
    const started = Date.now();
    const res = await t.app.inject({ url: `/v1/decisions/${shas[1]}` });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(res.statusCode).toBe(503);
    expect(res.json().detail).toContain("the key's 1 requests a minute are used up");
    const retry = Number(res.headers["retry-after"]);
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(60);
  });

  test("a wrong key is a 502 naming VirusTotal's complaint", async () => {
    const { s, shas } = await sim();
    const t = await app(s.url, { apiKey: "not-the-key" });
    const res = await t.app.inject({ url: `/v1/decisions/${shas[0]}` });
    expect(res.statusCode).toBe(502);
    expect(res.json().code).toBe("platform_error");
    expect(res.json().detail).toContain("WrongCredentialsError");
    expect(res.json().detail).not.toContain("not-the-key");
  });

  test("with a platform too, VirusTotal is asked only when the platform has no analysis", async () => {
    const { s, shas } = await sim();
    // the simulator is both: its platform knows the seeded files, and so does its VirusTotal
    const t = await app(s.url, {}, { platform: { url: s.url, apiKey: "sim_key_full" } });
    const fromPlatform = await t.app.inject({ url: `/v1/decisions/${shas[0]}` });
    expect(fromPlatform.statusCode, fromPlatform.body).toBe(200);
    // known only to VirusTotal (queued there): the platform's miss sends the server to VirusTotal
    const queued = await t.app.inject({ url: `/v1/decisions/${QUEUED}` });
    expect(queued.json().detail).toContain("VirusTotal's analysis");
    const neither = await t.app.inject({ url: `/v1/decisions/${"e".repeat(64)}` });
    expect(neither.json().detail).toContain(
      "neither the platform nor VirusTotal has analysis of it",
    );
  });

  test("the configuration checks the section", async () => {
    await expect(makeApp({ virustotal: { apiKey: "short" } })).rejects.toThrow(/virustotal.apiKey/);
    await expect(
      makeApp({ virustotal: { apiKey: "long-enough-key", perMinute: 0 } }),
    ).rejects.toThrow(/virustotal.perMinute/);
  });
});
