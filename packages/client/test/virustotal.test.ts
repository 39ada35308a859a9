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

  it("reports a file VirusTotal never saw and a queued analysis, never as a report", async () => {
    const { client } = await setUp();
    const vt = client();
    expect(await vt.getFile(UNKNOWN)).toEqual({ kind: "not_found", sha256: UNKNOWN });
    expect(await vt.getFile(QUEUED)).toEqual({ kind: "queued", sha256: QUEUED });
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
      sha256: shas[3],
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
      sha256: shas[4],
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

  it("reads NotAvailableYet as queued, and refuses a file object of another file", async () => {
    const { stub, vt } = await stubbed([
      { status: 400, body: { error: { code: "NotAvailableYet", message: "later" } } },
      { status: 200, body: fileObject("ef".repeat(32)) },
    ]);
    expect(await vt.getFile(SHA)).toEqual({ kind: "queued", sha256: SHA });
    const error = await vt.getFile(SHA).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidResponseError);
    expect((error as InvalidResponseError).pointer).toBe("/data/attributes/sha256");
    await stub.close();
  });
});
