/**
 * The client against `@clearance/platform-sim`, the simulator of the platform: the main flows
 * (upload -> wait -> result; listFiles over many files) and its injected faults. The simulator and
 * the client share one fake clock, which the client's sleeps advance: analysis delays, rate-limit
 * windows and upload URL expiry pass instantly.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DEFAULT_KEY,
  type FaultSettings,
  type RunningSimulator,
  type SimulatorOptions,
  startSimulator,
} from "@clearance/platform-sim";
import { Agent, type Dispatcher } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  InvalidApiKeyError,
  MissingScopeError,
  PlatformClient,
  type PlatformClientOptions,
  PlatformUnavailableError,
  QuotaExhaustedError,
  RateLimitedError,
} from "../src/index.js";

const T0 = Date.parse("2026-11-26T12:00:00.000Z");

/** An undici interceptor recording the status of every answer. */
function countStatuses(statuses: number[]): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (options, handler) =>
    dispatch(
      options,
      new Proxy(handler, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver);
          if (typeof value !== "function") return value;
          if (property === "onHeaders") {
            return (status: number, ...rest: unknown[]) => {
              statuses.push(status);
              return value.call(target, status, ...rest);
            };
          }
          if (property === "onResponseStart") {
            return (controller: unknown, status: number, ...rest: unknown[]) => {
              statuses.push(status);
              return value.call(target, controller, status, ...rest);
            };
          }
          return value.bind(target);
        },
      }),
    );
}

let dir: string;
let fileCount = 0;

/** A new file with unique content: its path and SHA-256. */
function newFile(size = 4096): { path: string; sha256: string } {
  fileCount++;
  const bytes = Buffer.alloc(size, fileCount);
  bytes.write(`file ${fileCount} ${Math.random()}`);
  const path = join(dir, `file-${fileCount}.exe`);
  writeFileSync(path, bytes);
  return { path, sha256: createHash("sha256").update(bytes).digest("hex") };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "clearance-sim-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let sim: RunningSimulator | undefined;
let clients: PlatformClient[] = [];

afterEach(async () => {
  for (const c of clients) await c.close();
  clients = [];
  await sim?.close();
  sim = undefined;
});

interface World {
  sim: RunningSimulator;
  client: PlatformClient;
  clock: { now: () => number; advance: (ms: number) => void };
  sleeps: number[];
  /** Another client on the same simulator and clock. */
  clientWith(options: Partial<PlatformClientOptions>): PlatformClient;
  faults(settings: FaultSettings): Promise<void>;
  admin(method: "GET" | "POST", path: string, body?: unknown): Promise<unknown>;
}

async function world(
  simOptions: SimulatorOptions = {},
  clientOptions: Partial<PlatformClientOptions> = {},
): Promise<World> {
  let t = T0;
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  const sleeps: number[] = [];
  sim = await startSimulator({ port: 0, now: clock.now, analysisDelayMs: 5_000, ...simOptions });
  const running = sim;
  const clientWith = (options: Partial<PlatformClientOptions>) => {
    const c = new PlatformClient({
      baseUrl: running.url,
      apiKey: DEFAULT_KEY,
      now: clock.now,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock.advance(ms);
      },
      random: () => 0.5,
      retry: { attempts: 8, baseDelayMs: 100, maxDelayMs: 2_000 },
      ...clientOptions,
      ...options,
    });
    clients.push(c);
    return c;
  };
  const admin = async (method: "GET" | "POST", path: string, body?: unknown) => {
    const response = await fetch(`${running.url}/_sim${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`admin ${path}: ${response.status} ${await response.text()}`);
    return response.status === 204 ? undefined : response.json();
  };
  return {
    sim: running,
    client: clientWith({}),
    clock,
    sleeps,
    clientWith,
    faults: async (settings) => {
      await admin("POST", "/faults", settings);
    },
    admin,
  };
}

describe("against the simulator: main flows", () => {
  it("upload -> wait -> result, then a second upload is skipped", async () => {
    const { client } = await world();
    const { path, sha256 } = newFile();
    const progress: number[] = [];
    const uploaded = await client.upload(path, { onProgress: (sent) => progress.push(sent) });
    expect(uploaded).toMatchObject({
      sha256,
      skipped: false,
      status: "pending",
      estimatedSeconds: 5,
      renewals: 0,
      reconciled: false,
    });
    expect(progress.at(-1)).toBe(4096);

    const { file, result } = await client.waitForResult(sha256, { pollMs: 1_000 });
    expect(file).toMatchObject({ sha256, status: "completed", version: 1, file_size: 4096 });
    expect(file.file_name).toMatch(/^file-\d+\.exe$/);
    expect(result.ok ? [] : result.problems).toEqual([]);
    expect(result).toMatchObject({
      ok: true,
      format: "platform",
      result: { sha256, fileSize: 4096, platformVersion: 1 },
    });

    const again = await client.upload(path);
    expect(again).toMatchObject({ sha256, skipped: true, file: { status: "completed" } });
  });

  it("maps every simulated result to a valid canonical result", async () => {
    const { client, admin } = await world();
    await admin("POST", "/files", { count: 300 });
    let n = 0;
    for await (const { file, result } of client.listFiles({ limit: 1000 })) {
      n++;
      expect(result.ok ? [] : result.problems, file.sha256).toEqual([]);
      // The only warnings allowed: the simulator's name for "anything else" signing statuses.
      for (const warning of result.warnings ?? []) {
        expect(warning).toMatch(/unknown signing status `invalid_signature`/);
      }
    }
    expect(n).toBe(300);
  });

  it("listFiles walks every page of many files, in order, without repeats", async () => {
    const { client, admin } = await world();
    await admin("POST", "/files", { count: 2_345 });
    const seen: string[] = [];
    let previous = "";
    for await (const { file } of client.listFiles({ limit: 500 })) {
      const key = `${file.analyzed_at} ${file.sha256}`;
      expect(key > previous).toBe(true);
      previous = key;
      seen.push(file.sha256);
    }
    expect(seen).toHaveLength(2_345);
    expect(new Set(seen).size).toBe(2_345);
    // The client's cache now holds them.
    expect(client.cache?.size).toBe(2_345);
  });

  it("listFiles honours since/until and sha256", async () => {
    const { client, admin, clock } = await world();
    await admin("POST", "/files", { count: 10 });
    clock.advance(60_000);
    const middle = new Date(clock.now());
    clock.advance(60_000);
    const later = (await admin("POST", "/files", { count: 5 })) as { data: { sha256: string }[] };
    const since: string[] = [];
    for await (const { file } of client.listFiles({ since: middle, limit: 2 }))
      since.push(file.sha256);
    expect(since).toEqual(later.data.map((f) => f.sha256));
    const until: string[] = [];
    for await (const { file } of client.listFiles({ until: middle })) until.push(file.sha256);
    expect(until).toHaveLength(10);
    const one: string[] = [];
    for await (const { file } of client.listFiles({ sha256: later.data[2]!.sha256 }))
      one.push(file.sha256);
    expect(one).toEqual([later.data[2]!.sha256]);
  });

  it("reads both rate-limit header forms from the simulator", async () => {
    const { client } = await world({ rateLimit: { limit: 50, windowMs: 60_000 } });
    await client.getFile("0".repeat(64));
    expect(client.rateLimit).toMatchObject({
      limit: 50,
      remaining: 49,
      windowSeconds: 60,
      policy: "default",
    });
    expect(client.rateLimit?.resetAt).toBe(Math.ceil((T0 + 1) / 60_000) * 60_000);
  });
});

describe("against the simulator: faults", () => {
  it("survives 5xx, dropped connections and truncated bodies while listing", async () => {
    const { client, admin, faults } = await world();
    await admin("POST", "/files", { count: 1_200 });
    await faults({ errorRate: 0.3, dropRate: 0.1, truncateRate: 0.2, only: "/v1/files" });
    const seen = new Set<string>();
    for await (const { file } of client.listFiles({ limit: 100 })) seen.add(file.sha256);
    expect(seen.size).toBe(1_200);
  });

  it("survives faults on every step of an upload, and still gets the result", async () => {
    const { client, faults } = await world();
    // Errors and drops are answered before processing; truncation after it.
    await faults({ errorRate: 0.25, dropRate: 0.1, only: "/v1/files" });
    const { path, sha256 } = newFile(256 * 1024);
    const uploaded = await client.upload(path);
    expect(uploaded.skipped).toBe(false);
    const { result } = await client.waitForResult(sha256);
    expect(result.ok).toBe(true);
  });

  it("retries the PUT after injected upload faults", async () => {
    const { client, faults } = await world();
    await faults({ errorRate: 0.5, dropRate: 0.2, only: "/uploads/" });
    const { path, sha256 } = newFile(512 * 1024);
    expect((await client.upload(path)).skipped).toBe(false);
    expect((await client.waitForResult(sha256)).file.status).toBe("completed");
  });

  it("waits out a 429 storm (Retry-After on the shared clock)", async () => {
    const { clientWith, faults, sleeps } = await world({
      rateLimit: { limit: 600, windowMs: 60_000 },
    });
    const client = clientWith({ rateLimit: { maxWaitMs: 300_000 } });
    await faults({ rateLimitStorm: 3 });
    expect(await client.getFile("1".repeat(64))).toBeUndefined();
    // Each Retry-After is the time left in the 60 s window (the clock starts on a boundary, and
    // moves on by each wait).
    expect(sleeps).toEqual([60_000, 60_000, 60_000]);
  });

  it("throws RateLimitedError when the storm outlasts the wait budget", async () => {
    const { clientWith, faults } = await world();
    await faults({ rateLimitStorm: 10 });
    const client = clientWith({ rateLimit: { maxWaitMs: 90_000 } });
    const error = await client.getFile("1".repeat(64)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toMatchObject({ status: 429, platformCode: "rate_limited" });
  });

  it("hits the real rate limit, then spaces requests out and recovers", async () => {
    const statuses: number[] = [];
    const dispatcher = new Agent().compose(countStatuses(statuses));
    const { client, sleeps } = await world(
      { rateLimit: { limit: 20, windowMs: 10_000 } },
      { cache: false, rateLimit: { slowDownBelow: 0.25 }, dispatcher },
    );
    for (let i = 0; i < 60; i++) {
      expect(await client.getFile(i.toString(16).padStart(64, "0"))).toBeUndefined();
    }
    await dispatcher.close();
    expect(client.rateLimit?.limit).toBe(20);
    // Spaced out below 5 of 20 remaining: the last requests of each window wait, and the total
    // wait is about the two window resets 60 requests need, without a single 429.
    expect(statuses).toHaveLength(60);
    expect(statuses.filter((s) => s === 429)).toEqual([]);
    expect(sleeps.length).toBeGreaterThan(0);
    const total = sleeps.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(20_000);
    expect(total).toBeLessThan(40_000);
  });

  it("renews an upload URL that expired before the bytes arrived", async () => {
    const { client, clock } = await world({ uploadUrlTtlMs: 1_000 });
    const { path, sha256 } = newFile();
    let first = true;
    const uploaded = await client.upload(path, {
      onProgress: (sent) => {
        // The first PUT is about to go: let the URL expire.
        if (sent === 0 && first) {
          first = false;
          clock.advance(5_000);
        }
      },
    });
    expect(uploaded).toMatchObject({ skipped: false, renewals: 1 });
    expect((await client.waitForResult(sha256)).result.ok).toBe(true);
  });

  it("does not retry `complete` when its connection drops; reports it as ambiguous", async () => {
    const { client, faults } = await world();
    await faults({ dropRate: 1, only: "/v1/upload/complete" });
    const { path, sha256 } = newFile();
    const error = await client.upload(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlatformUnavailableError);
    expect(error).toMatchObject({ ambiguous: true, attempts: 1 });
    // The simulator drops before processing: nothing started, and the client said so honestly.
    expect(await client.getFile(sha256)).toBeUndefined();
    await faults({});
    expect((await client.upload(path)).skipped).toBe(false);
  });

  it("reconciles a `complete` whose answer was cut after the platform acted", async () => {
    const { client, faults } = await world();
    await faults({ truncateRate: 1, only: "/v1/upload/complete" });
    const { path, sha256 } = newFile();
    const uploaded = await client.upload(path);
    expect(uploaded).toMatchObject({ skipped: false, reconciled: true, status: "pending" });
    await faults({});
    expect((await client.waitForResult(sha256)).file.version).toBe(1);
  });
});

describe("against the simulator: keys and quota", () => {
  it("names a bad key and a missing scope", async () => {
    const { clientWith } = await world({
      keys: [
        { key: "k_upload_only", scopes: ["upload"] },
        { key: "k_read_only", scopes: ["files.read"] },
      ],
    });
    const bad = clientWith({ apiKey: "k_nope" });
    await expect(bad.getFile("2".repeat(64))).rejects.toBeInstanceOf(InvalidApiKeyError);

    const uploadOnly = clientWith({ apiKey: "k_upload_only" });
    const error = await uploadOnly.getFile("2".repeat(64)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingScopeError);
    expect((error as Error).message).toMatch(/^this key lacks `files.read`/);
    // It can still upload (without looking for an existing result first).
    const { path } = newFile();
    expect((await uploadOnly.upload(path)).skipped).toBe(false);

    const readOnly = clientWith({ apiKey: "k_read_only" });
    const refused = await readOnly.upload(newFile().path).catch((e: unknown) => e);
    expect((refused as Error).message).toMatch(/^this key lacks `upload`/);
  });

  it("reports an exhausted quota with when it resets", async () => {
    const { clientWith } = await world({
      keys: [{ key: "k_small", scopes: ["upload", "files.read"], quota: 1 }],
    });
    const client = clientWith({ apiKey: "k_small" });
    await client.upload(newFile().path);
    const error = await client.upload(newFile().path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QuotaExhaustedError);
    expect(error).toMatchObject({ status: 402, quota: 1, resetsAt: "2026-12-01T00:00:00.000Z" });
    expect(client.quota).toMatchObject({ limit: 1, remaining: 0 });
  });
});
