/**
 * `VirusTotalClient` against the simulator's VirusTotal mode on loopback. Both share one fake
 * clock, which the client's sleeps advance: quota minutes and days pass instantly.
 */
import { type RunningSimulator, startSimulator } from "@clearance/platform-sim";
import { Agent, type Dispatcher } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import {
  InvalidApiKeyError,
  InvalidResponseError,
  isAnalysed,
  PlatformUnavailableError,
  VirusTotalClient,
  type VirusTotalClientOptions,
  type VirusTotalFileObject,
} from "../src/index.js";
import { startStub } from "./stub.js";

const T0 = Date.parse("2026-11-26T12:00:30.000Z");
const PUBLIC = "vt_public";
const QUEUED = "ab".repeat(32);
const UNKNOWN = "00".repeat(32);

/** An undici interceptor recording the status of every answer the client receives. */
function countStatuses(statuses: number[]): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (options, handler) =>
    dispatch(
      options,
      new Proxy(handler, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver);
          if (typeof value !== "function") return value;
          if (property === "onHeaders")
            return (status: number, ...rest: unknown[]) => {
              statuses.push(status);
              return value.call(target, status, ...rest);
            };
          if (property === "onResponseStart")
            return (controller: unknown, status: number, ...rest: unknown[]) => {
              statuses.push(status);
              return value.call(target, controller, status, ...rest);
            };
          return value.bind(target);
        },
      }),
    );
}

/** The i-th file the simulator seeds with seed 42. */
async function seeded(sim: RunningSimulator, n: number): Promise<string[]> {
  const res = await sim.app.inject({ method: "POST", url: "/_sim/files", payload: { count: n } });
  return (res.json().data as { sha256: string }[]).map((f) => f.sha256);
}

let sim: RunningSimulator | undefined;
let clients: VirusTotalClient[] = [];
let agents: Agent[] = [];
afterEach(async () => {
  for (const c of clients) await c.close();
  for (const a of agents) await a.close();
  clients = [];
  agents = [];
  await sim?.close();
  sim = undefined;
});

async function setUp(
  keys: { key: string; perMinute?: number; perDay?: number }[] = [{ key: PUBLIC }],
) {
  let t = T0;
  const sleeps: number[] = [];
  const statuses: number[] = [];
  sim = await startSimulator({
    port: 0,
    now: () => t,
    virustotal: { keys, queued: [QUEUED] },
  });
  const agent = new Agent();
  agents.push(agent);
  const dispatcher = agent.compose(countStatuses(statuses));
  const client = (options: Partial<VirusTotalClientOptions> = {}) => {
    const c = new VirusTotalClient({
      baseUrl: sim!.url,
      apiKey: PUBLIC,
      now: () => t,
      sleep: async (ms) => {
        sleeps.push(ms);
        t += ms;
      },
      random: () => 0.5,
      dispatcher,
      ...options,
    });
    clients.push(c);
    return c;
  };
  return { sim, client, sleeps, statuses, advance: (ms: number) => (t += ms) };
}

describe("VirusTotalClient", () => {
  it("gets a report, then serves it from the cache", async () => {
    const { sim, client, statuses } = await setUp();
    const [sha] = await seeded(sim, 1);
    const vt = client();
    const first = await vt.getFile(sha!.toUpperCase());
    expect(first).toMatchObject({ kind: "report", sha256: sha, cached: false });
    if (first.kind !== "report") throw new Error("unreachable");
    expect(first.report.data.attributes.sha256).toBe(sha);
    expect(isAnalysed(first.report.data.attributes)).toBe(true);
    expect(await vt.getFile(sha!)).toMatchObject({ kind: "report", cached: true });
    expect(statuses).toEqual([200]);
    expect(await vt.getFile(sha!, { fresh: true })).toMatchObject({ cached: false });
    expect(statuses).toEqual([200, 200]);
  });

  it("asks by MD5, SHA-1 or SHA-256 in either case; the report is keyed by the file's SHA-256", async () => {
    const { sim, client, statuses } = await setUp([{ key: PUBLIC, perMinute: 1000, perDay: 1000 }]);
    const [sha] = await seeded(sim, 1);
    const quota = { perMinute: 1000, perDay: 1000 };
    const first = await client({ quota }).getFile(sha!);
    if (first.kind !== "report") throw new Error(`expected a report, got ${first.kind}`);
    const { md5, sha1 } = first.report.data.attributes as { md5: string; sha1: string };
    const cases = [
      { ask: md5, kind: "md5" },
      { ask: sha1, kind: "sha1" },
      { ask: sha!, kind: "sha256" },
      { ask: md5.toUpperCase(), kind: "md5" },
      { ask: sha1.toUpperCase(), kind: "sha1" },
      { ask: sha!.toUpperCase(), kind: "sha256" },
    ];
    for (const { ask, kind } of cases) {
      statuses.length = 0;
      // a client of its own: no cache to answer from
      const outcome = await client({ quota }).getFile(ask);
      expect(outcome, ask).toMatchObject({
        kind: "report",
        id: ask.toLowerCase(),
        sha256: sha,
        cached: false,
      });
      if (outcome.kind !== "report") continue;
      expect(outcome.report.data.id, ask).toBe(sha);
      expect(outcome.report.data.attributes[kind], ask).toBe(ask.toLowerCase());
      expect(statuses, ask).toEqual([200]);
    }
  });

  it("keeps a report under each of the file's hashes: asked by another, no request is sent", async () => {
    const { sim, client, statuses } = await setUp();
    const [sha] = await seeded(sim, 1);
    const vt = client();
    const { md5, sha1 } = (
      (await client({ cache: false }).getFile(sha!)) as { report: VirusTotalFileObject }
    ).report.data.attributes as { md5: string; sha1: string };
    statuses.length = 0;
    expect(await vt.getFile(md5)).toMatchObject({ kind: "report", sha256: sha, cached: false });
    for (const ask of [sha!, sha1, md5.toUpperCase()])
      expect(await vt.getFile(ask), ask).toMatchObject({
        kind: "report",
        id: ask.toLowerCase(),
        sha256: sha,
        cached: true,
      });
    expect(statuses).toEqual([200]);
  });

  it("reports an MD5 or SHA-1 VirusTotal never saw as not found, by the hash asked", async () => {
    const { client, statuses } = await setUp();
    const vt = client();
    for (const id of ["AB".repeat(16), "cd".repeat(20)])
      expect(await vt.getFile(id)).toEqual({ kind: "not_found", id: id.toLowerCase() });
    expect(statuses).toEqual([404, 404]);
  });

  it("refuses, before sending, what is not an MD5, SHA-1 or SHA-256", async () => {
    const { client, statuses } = await setUp();
    const vt = client();
    for (const bad of [
      "",
      "ab".repeat(15),
      "ab".repeat(24),
      `${"ab".repeat(31)}a`,
      "zz".repeat(16),
      ` ${"ab".repeat(16)}`,
    ])
      await expect(vt.getFile(bad), bad).rejects.toThrow(
        `expected an MD5, SHA-1 or SHA-256 (32, 40 or 64 hexadecimal digits), got \`${bad}\``,
      );
    expect(statuses).toEqual([]);
  });

  it("reports a file VirusTotal never saw and a queued analysis, never as a report", async () => {
    const { client } = await setUp();
    const vt = client();
    expect(await vt.getFile(UNKNOWN)).toEqual({ kind: "not_found", id: UNKNOWN });
    expect(await vt.getFile(QUEUED)).toEqual({ kind: "queued", id: QUEUED });
    // nothing cached: asked again, VirusTotal is asked again
    expect(vt.cache?.size).toBe(0);
  });

  it("refuses a wrong key with InvalidApiKeyError naming VirusTotal's code", async () => {
    const { client } = await setUp();
    const error = await client({ apiKey: "not-a-key" })
      .getFile(UNKNOWN)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidApiKeyError);
    expect((error as InvalidApiKeyError).platformCode).toBe("WrongCredentialsError");
    expect((error as Error).message).toContain("WrongCredentialsError");
    expect((error as Error).message).not.toContain("not-a-key");
  });

  it("keeps a public key to 4 requests a minute by waiting, never by being refused", async () => {
    const { sim, client, sleeps, statuses } = await setUp();
    const shas = await seeded(sim, 9);
    const vt = client();
    for (const s of shas) expect((await vt.getFile(s)).kind).toBe("report");
    expect(statuses).toEqual(Array(9).fill(200));
    // 9 requests at 4 a minute: two waits of a minute
    expect(sleeps).toEqual([60_000, 60_000]);
    expect(vt.usage).toMatchObject({ today: 9, perDay: 500, perMinute: 4 });
  });

  it("shares the minute quota among concurrent lookups, counting each from its answer", async () => {
    const { sim, client, statuses } = await setUp();
    const shas = await seeded(sim, 9);
    const vt = client();
    const outcomes = await Promise.all(shas.map((s) => vt.getFile(s)));
    expect(outcomes.map((o) => o.kind)).toEqual(Array(9).fill("report"));
    expect(statuses).toEqual(Array(9).fill(200));
  });

  it("waits a minute on a 429 when someone else used the minute, then gets the report", async () => {
    const { sim, client, sleeps, statuses } = await setUp();
    const [a, b] = await seeded(sim, 2);
    // another program with the same key used the minute's 4 requests
    for (let i = 0; i < 4; i++)
      await sim.app.inject({ url: `/api/v3/files/${a}`, headers: { "x-apikey": PUBLIC } });
    const outcome = await client().getFile(b!);
    expect(outcome).toMatchObject({ kind: "report", sha256: b });
    expect(statuses).toEqual([429, 200]);
    expect(sleeps).toEqual([60_000]);
  });

  it("stops at its daily quota without sending, until 00:00 UTC", async () => {
    const { sim, client, statuses, advance } = await setUp([
      { key: PUBLIC, perMinute: 100, perDay: 1000 },
    ]);
    const shas = await seeded(sim, 4);
    const vt = client({ quota: { perMinute: 100, perDay: 3 }, cache: false });
    for (const s of shas.slice(0, 3)) expect((await vt.getFile(s)).kind).toBe("report");
    expect(await vt.getFile(shas[3]!)).toEqual({
      kind: "quota_exhausted",
      id: shas[3],
      resetsAt: "2026-11-27T00:00:00.000Z",
    });
    expect(statuses).toHaveLength(3);
    advance(Date.parse("2026-11-27T00:00:00Z") - T0);
    expect((await vt.getFile(shas[3]!)).kind).toBe("report");
  });

  it("takes a 429 after a minute's wait as the daily quota, and sends nothing more that day", async () => {
    const { sim, client, statuses, sleeps } = await setUp([
      { key: PUBLIC, perMinute: 100, perDay: 2 },
    ]);
    const shas = await seeded(sim, 4);
    const vt = client({ quota: { perMinute: 100, perDay: 500 } });
    for (const s of shas.slice(0, 2)) expect((await vt.getFile(s)).kind).toBe("report");
    expect(await vt.getFile(shas[2]!)).toMatchObject({ kind: "quota_exhausted" });
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect(sleeps).toEqual([60_000]);
    expect(await vt.getFile(shas[3]!)).toMatchObject({ kind: "quota_exhausted" });
    expect(statuses).toHaveLength(4);
  });

  it("with a wait budget, says when to come back rather than wait past it", async () => {
    const { sim, client, sleeps, statuses, advance } = await setUp();
    const shas = await seeded(sim, 6);
    const vt = client({ maxWaitMs: 0 });
    for (const s of shas.slice(0, 4)) expect((await vt.getFile(s)).kind).toBe("report");
    advance(15_000);
    expect(await vt.getFile(shas[4]!)).toEqual({
      kind: "rate_limited",
      id: shas[4],
      retryAfterMs: 45_000,
    });
    expect(statuses).toHaveLength(4);
    expect(sleeps).toEqual([]);
    advance(45_000);
    expect((await vt.getFile(shas[4]!)).kind).toBe("report");
    // a 429 is not waited out either: someone else used the minute
    const other = client({ maxWaitMs: 0 });
    for (let i = 0; i < 3; i++) await other.getFile(shas[i]!, { fresh: true });
    expect(await vt.getFile(shas[5]!)).toMatchObject({
      kind: "rate_limited",
      retryAfterMs: 60_000,
    });
    expect(statuses.at(-1)).toBe(429);
    expect(sleeps).toEqual([]);
  });

  it("validates its options like the platform client", async () => {
    const make = (o: Partial<VirusTotalClientOptions>) => () =>
      new VirusTotalClient({ apiKey: "k", ...o });
    expect(make({ quota: { perMinute: 0, perDay: 5 } })).toThrow(/`quota/);
    expect(make({ quota: "gold" as never })).toThrow(/`quota`/);
    expect(make({ cache: { max: 0 } })).toThrow(/`cache/);
    expect(make({ maxWaitMs: -1 })).toThrow(/`maxWaitMs`/);
    expect(make({ perMinute: 4 } as never)).toThrow(/`perMinute`/);
    expect(make({ baseUrl: "ftp://x" })).toThrow(/`baseUrl` must be an http or https URL/);
    expect(make({ apiKey: "" })).toThrow(/`apiKey`/);
    const vt = new VirusTotalClient({ apiKey: "k" });
    expect(vt.options.baseUrl).toBe("https://www.virustotal.com");
    expect(vt.options.quota).toEqual({ perMinute: 4, perDay: 500 });
    await expect(vt.getFile("abc")).rejects.toThrow(TypeError);
    clients.push(vt);
  });
});

describe("VirusTotalClient against a stand-in for the answers the simulator never gives", () => {
  const SHA = "cd".repeat(32);
  async function stubbed(answers: { status: number; body: unknown }[]) {
    let i = 0;
    const stub = await startStub((app) => {
      app.get("/api/v3/files/:id", async (_request, reply) => {
        const a = answers[Math.min(i++, answers.length - 1)]!;
        return reply.code(a.status).send(a.body);
      });
    });
    const sleeps: number[] = [];
    const vt = new VirusTotalClient({
      baseUrl: stub.url,
      apiKey: "k",
      quota: { perMinute: 1000, perDay: 1000 },
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
    });
    clients.push(vt);
    return { stub, vt, sleeps };
  }
  const fileObject = (id: string) => ({
    data: {
      type: "file",
      id,
      attributes: { last_analysis_date: 1_790_000_000, last_analysis_results: { A: {} } },
    },
  });

  it("retries 5xx with backoff, then gives up with PlatformUnavailableError", async () => {
    const { stub, vt, sleeps } = await stubbed([
      { status: 503, body: { error: { code: "TransientError", message: "try again" } } },
      { status: 200, body: fileObject(SHA) },
    ]);
    expect(await vt.getFile(SHA)).toMatchObject({ kind: "report" });
    expect(sleeps).toHaveLength(1);
    await stub.close();
    const down = await stubbed([
      { status: 500, body: { error: { code: "TransientError", message: "down" } } },
    ]);
    const error = await down.vt.getFile(SHA).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlatformUnavailableError);
    expect((error as Error).message).toContain("answered 500 4 times: down");
    await down.stub.close();
  });

  it("refuses a report whose md5, sha1 or sha256 is not the hash asked for", async () => {
    const MD5 = "12".repeat(16);
    const SHA1 = "34".repeat(20);
    const report = (attributes: Record<string, unknown>, id = SHA) => ({
      data: {
        type: "file",
        id,
        attributes: {
          last_analysis_date: 1_790_000_000,
          last_analysis_results: { A: {} },
          ...attributes,
        },
      },
    });
    const cases = [
      {
        ask: MD5,
        body: report({ md5: "56".repeat(16), sha1: SHA1 }),
        pointer: "/data/attributes/md5",
        says: `asked for ${MD5}, got \`${"56".repeat(16)}\``,
      },
      {
        ask: MD5,
        body: report({ sha1: SHA1 }),
        pointer: "/data/attributes/md5",
        says: `asked for ${MD5}, got \`undefined\``,
      },
      {
        ask: SHA1,
        body: report({ md5: MD5, sha1: "78".repeat(20) }),
        pointer: "/data/attributes/sha1",
        says: `asked for ${SHA1}, got \`${"78".repeat(20)}\``,
      },
      // asked by SHA-256, the md5 of another file does not matter: the sha256 does
      {
        ask: SHA,
        body: report({ sha256: "ef".repeat(32) }),
        pointer: "/data/attributes/sha256",
        says: `asked for ${SHA}, got \`${"ef".repeat(32)}\``,
      },
      // the report is keyed by the file's SHA-256: one it cannot be keyed by is refused
      {
        ask: MD5,
        body: report({ md5: MD5 }, "not-a-sha256"),
        pointer: "/data/attributes/sha256",
        says: "expected the file's SHA-256 (64 hexadecimal digits), got `not-a-sha256`",
      },
    ];
    for (const { ask, body, pointer, says } of cases) {
      const { stub, vt } = await stubbed([{ status: 200, body }]);
      const error = await vt.getFile(ask).catch((e: unknown) => e);
      expect(error, says).toBeInstanceOf(InvalidResponseError);
      expect((error as InvalidResponseError).pointer, says).toBe(pointer);
      expect((error as Error).message, says).toContain(says);
      expect(vt.cache?.size, says).toBe(0);
      await stub.close();
    }
    // upper case in the report is the same hash
    const { stub, vt } = await stubbed([
      { status: 200, body: report({ md5: MD5.toUpperCase(), sha256: SHA.toUpperCase() }) },
    ]);
    expect(await vt.getFile(MD5)).toMatchObject({ kind: "report", id: MD5, sha256: SHA });
    await stub.close();
  });

  it("reads NotAvailableYet as queued, and refuses a file object of another file", async () => {
    const { stub, vt } = await stubbed([
      { status: 400, body: { error: { code: "NotAvailableYet", message: "later" } } },
      { status: 200, body: fileObject("ef".repeat(32)) },
    ]);
    expect(await vt.getFile(SHA)).toEqual({ kind: "queued", id: SHA });
    const error = await vt.getFile(SHA).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidResponseError);
    expect((error as InvalidResponseError).pointer).toBe("/data/attributes/sha256");
    await stub.close();
  });
});
