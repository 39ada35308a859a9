// Through a real listening simulator: streamed uploads, webhook deliveries and each fault kind as
// a raw HTTP client sees it.
import { createHash, createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { type RunningSimulator, startSimulator } from "../src/index.js";
import { KEY, sha256Of } from "./helpers.js";

const auth = { authorization: `Bearer ${KEY}` };
const json = { ...auth, "content-type": "application/json" };

/** A JSON answer, as loosely typed as `JSON.parse`'s. */
const read = async (res: Response): Promise<ReturnType<JSON["parse"]>> => res.json();

async function post(url: string, body: unknown) {
  return fetch(url, { method: "POST", headers: json, body: JSON.stringify(body) });
}

/** Asks for an upload URL and PUTs small bytes; returns the SHA-256. */
async function uploadSmall(sim: RunningSimulator, content: string) {
  const sha256 = sha256Of(content);
  const ticket = await read(
    await post(`${sim.url}/v1/upload`, {
      fileName: "w.exe",
      contentType: "application/octet-stream",
      sha256,
    }),
  );
  const put = await fetch(ticket.uploadUrl, {
    method: "PUT",
    body: content,
    headers: { "content-type": "application/octet-stream" },
  });
  expect(put.status).toBe(200);
  return sha256;
}

describe("a streamed 200 MB upload", () => {
  let sim: RunningSimulator;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0 });
  });
  afterAll(() => sim.close());

  test("is hashed as it arrives: memory stays flat", async () => {
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + 7) & 0xff;
    const chunks = 200;
    const hash = createHash("sha256");
    for (let i = 0; i < chunks; i++) hash.update(chunk);
    const sha256 = hash.digest("hex");
    const size = chunk.length * chunks;

    const ticket = await read(
      await post(`${sim.url}/v1/upload`, {
        fileName: "big.iso",
        contentType: "application/octet-stream",
        sha256,
      }),
    );
    // Peak RSS over the first quarter of the bytes (warm-up) and over the rest.
    const before = process.memoryUsage().rss;
    let sent = 0;
    let early = before;
    let late = before;
    const sample = () => {
      const rss = process.memoryUsage().rss;
      if (sent <= chunks / 4) early = Math.max(early, rss);
      else late = Math.max(late, rss);
    };
    const sampler = setInterval(sample, 5);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(ticket.uploadUrl, {
        method: "PUT",
        headers: { "content-type": "application/octet-stream", "content-length": String(size) },
      });
      req.on("error", reject);
      req.on("response", (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      const write = () => {
        while (sent < chunks) {
          sent++;
          if (!req.write(chunk)) {
            req.once("drain", write);
            return;
          }
        }
        req.end();
      };
      write();
    });
    clearInterval(sampler);
    sample();
    expect(answer.status, answer.body).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ sha256, size });
    // Buffering would grow by the body (200 MB) and keep growing after the first quarter (by
    // 150 MB); hashing as it arrives plateaus at a few dozen MB of garbage awaiting collection.
    const MB = 1024 * 1024;
    expect((late - before) / MB).toBeLessThan(100);
    expect((late - early) / MB).toBeLessThan(64);
  });
});

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver answering each request with the next status of `script` (then the last). */
async function receiver(script: (number | "hang")[]) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      const next = script[Math.min(received.length - 1, script.length - 1)]!;
      if (next === "hang") return;
      res.writeHead(next, { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const verify = (secret: string, r: Received) =>
  r.headers["x-platform-signature"] ===
  `sha256=${createHmac("sha256", secret).update(`${r.headers["x-platform-timestamp"]}.${r.body}`).digest("hex")}`;

describe("webhooks", () => {
  const SECRET = "whsec_test";
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0)) await f();
  });

  async function setup(
    script: (number | "hang")[],
    retry = { attempts: 4, baseDelayMs: 20, timeoutMs: 2000 },
  ) {
    const hook = await receiver(script);
    let t = Date.parse("2026-11-26T12:00:00Z");
    const sim = await startSimulator({
      port: 0,
      analysisDelayMs: 0,
      webhooks: [{ url: hook.url, secret: SECRET }],
      webhookRetry: retry,
      // Each reading of the clock is a second later: every attempt is signed at another time.
      now: () => (t += 1000),
    });
    cleanup.push(() => sim.close(), hook.close);
    return { hook, sim };
  }

  const deliveries = async (sim: RunningSimulator) =>
    (await read(await fetch(`${sim.url}/_sim/deliveries`))).data;

  test("a receiver that fails twice then succeeds gets the same delivery on the third attempt", async () => {
    const { hook, sim } = await setup([500, 503, 200]);
    const sha256 = await uploadSmall(sim, "webhook me");
    expect((await post(`${sim.url}/v1/upload/complete`, { sha256 })).status).toBe(202);
    await vi.waitFor(async () => expect((await deliveries(sim))[0]?.status).toBe("delivered"), {
      timeout: 5000,
    });

    expect(hook.received).toHaveLength(3);
    const ids = hook.received.map((r) => r.headers["x-platform-delivery"]);
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toMatch(/^dlv_[0-9a-f]{24}$/);
    const stamps = hook.received.map((r) => r.headers["x-platform-timestamp"]);
    expect(new Set(stamps).size).toBe(3);
    for (const r of hook.received) {
      expect(r.headers["content-type"]).toBe("application/json");
      expect(verify(SECRET, r)).toBe(true);
      expect(verify("another secret", r)).toBe(false);
      const body = JSON.parse(r.body);
      expect(body).toMatchObject({
        event: "analysis.completed",
        delivery: ids[0],
        data: { sha256, status: "completed", version: 1 },
      });
    }
    // The envelope's file object is the one the API serves.
    const file = await read(await fetch(`${sim.url}/v1/files/${sha256}`, { headers: auth }));
    expect(JSON.parse(hook.received[0]!.body).data).toEqual(file);

    const [log] = await deliveries(sim);
    expect(log).toMatchObject({
      id: ids[0],
      url: hook.url,
      event: "analysis.completed",
      sha256,
      version: 1,
      status: "delivered",
    });
    expect(log.attempts.map((a: { status: number }) => a.status)).toEqual([500, 503, 200]);
    expect(log.attempts.map((a: { timestamp: number }) => String(a.timestamp))).toEqual(stamps);
  });

  test("409 counts as delivered", async () => {
    const { hook, sim } = await setup([409]);
    const sha256 = await uploadSmall(sim, "already have it");
    await post(`${sim.url}/v1/upload/complete`, { sha256 });
    await vi.waitFor(async () => expect((await deliveries(sim))[0]?.status).toBe("delivered"));
    expect(hook.received).toHaveLength(1);
  });

  test("no answer in time is retried; after the last attempt the delivery has failed", async () => {
    const { hook, sim } = await setup(["hang", 500], {
      attempts: 3,
      baseDelayMs: 10,
      timeoutMs: 200,
    });
    const sha256 = await uploadSmall(sim, "slow receiver");
    await post(`${sim.url}/v1/upload/complete`, { sha256 });
    await vi.waitFor(async () => expect((await deliveries(sim))[0]?.status).toBe("failed"), {
      timeout: 5000,
    });
    const [log] = await deliveries(sim);
    expect(log.attempts).toHaveLength(3);
    expect(log.attempts[0]).toMatchObject({ status: null, error: "no answer within 200 ms" });
    expect(log.attempts.slice(1).map((a: { status: number }) => a.status)).toEqual([500, 500]);
    expect(hook.received).toHaveLength(3);
  });

  test("an unreachable receiver is retried with backoff and recorded", async () => {
    const hook = await receiver([200]);
    await hook.close();
    const sim = await startSimulator({
      port: 0,
      analysisDelayMs: 0,
      webhooks: [{ url: hook.url, secret: SECRET }],
      webhookRetry: { attempts: 3, baseDelayMs: 50 },
    });
    cleanup.push(() => sim.close());
    const started = Date.now();
    await post(`${sim.url}/v1/upload/complete`, { sha256: await uploadSmall(sim, "nobody home") });
    await vi.waitFor(async () => expect((await deliveries(sim))[0]?.status).toBe("failed"), {
      timeout: 5000,
    });
    // 50 ms, then 100 ms between the three attempts.
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    const [log] = await deliveries(sim);
    expect(
      log.attempts.every(
        (a: { status: null; error: string }) => a.status === null && a.error.length > 0,
      ),
    ).toBe(true);
  });

  test("seeded files notify only when asked", async () => {
    const { hook, sim } = await setup([200]);
    await post(`${sim.url}/_sim/files`, { count: 2 });
    await post(`${sim.url}/_sim/files`, { count: 1, notify: true });
    await vi.waitFor(async () =>
      expect((await deliveries(sim)).map((d: { status: string }) => d.status)).toEqual([
        "delivered",
      ]),
    );
    expect(hook.received).toHaveLength(1);
  });
});

describe("faults, as a raw client sees them", () => {
  let sim: RunningSimulator;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, rateLimit: { limit: 1000, windowMs: 60_000 } });
  });
  afterAll(() => sim.close());
  afterEach(async () => {
    await post(`${sim.url}/_sim/faults`, {});
  });

  const setFaults = async (faults: Record<string, unknown>) => {
    const res = await post(`${sim.url}/_sim/faults`, faults);
    expect(res.status).toBe(200);
    return read(res);
  };
  const list = () => fetch(`${sim.url}/v1/files`, { headers: auth });

  test("latencyMs delays every answer", async () => {
    await setFaults({ latencyMs: 150 });
    const t = performance.now();
    expect((await list()).status).toBe(200);
    expect(performance.now() - t).toBeGreaterThanOrEqual(140);
  });

  test("errorRate 1: 500 internal_error or 503 unavailable, with rate-limit headers", async () => {
    await setFaults({ errorRate: 1 });
    for (let i = 0; i < 6; i++) {
      const res = await list();
      expect([500, 503]).toContain(res.status);
      const { error } = await read(res);
      expect(error.code).toBe(res.status === 500 ? "internal_error" : "unavailable");
      expect(res.headers.get("x-ratelimit-remaining")).not.toBeNull();
      expect(res.headers.get("ratelimit")).not.toBeNull();
    }
  });

  test("dropRate 1: the connection closes without an answer", async () => {
    await setFaults({ dropRate: 1 });
    const error = await list().then(
      () => null,
      (e: Error & { cause?: { code?: string } }) => e,
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(error!.message).toBe("fetch failed");
    expect(error!.cause?.code).toMatch(/^UND_ERR_SOCKET|ECONNRESET$/);
  });

  test("truncateRate 1: the status and headers arrive, the body stops halfway", async () => {
    await setFaults({ truncateRate: 1 });
    const res = await list();
    expect(res.status).toBe(200);
    const promised = Number(res.headers.get("content-length"));
    expect(promised).toBeGreaterThan(10);
    const error = await res.text().then(
      () => null,
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(error!.message).toBe("terminated");
  });

  test("truncation with node:http: half the promised bytes, then the socket ends", async () => {
    await setFaults({ truncateRate: 1 });
    const outcome = await new Promise<{ promised: number; got: number; aborted: boolean }>(
      (resolve, reject) => {
        const req = request(`${sim.url}/v1/files`, { headers: auth }, (res) => {
          let got = 0;
          res.on("data", (d: Buffer) => {
            got += d.length;
          });
          res.on("error", () => undefined);
          res.on("close", () =>
            resolve({
              promised: Number(res.headers["content-length"]),
              got,
              aborted: !res.complete,
            }),
          );
        });
        req.on("error", reject);
        req.end();
      },
    );
    expect(outcome.aborted).toBe(true);
    expect(outcome.got).toBe(Math.floor(outcome.promised / 2));
  });

  test("truncation happens after processing: a truncated complete still started the analysis", async () => {
    const sha256 = await uploadSmall(sim, "truncated complete");
    await setFaults({ truncateRate: 1, only: "/v1/upload/complete" });
    const res = await post(`${sim.url}/v1/upload/complete`, { sha256 });
    expect(res.status).toBe(202);
    await expect(res.text()).rejects.toThrow("terminated");
    await setFaults({});
    const file = await read(await fetch(`${sim.url}/v1/files/${sha256}`, { headers: auth }));
    expect(file.status).toBe("pending");
  });

  test("rateLimitStorm n: the next n requests get 429 with Retry-After, then normal service", async () => {
    expect(await setFaults({ rateLimitStorm: 3 })).toMatchObject({ rateLimitStorm: 3 });
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const res = await list();
      statuses.push(res.status);
      if (res.status === 429) {
        expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
        expect(res.headers.get("x-ratelimit-remaining")).toBe("0");
        expect((await read(res)).error.code).toBe("rate_limited");
      }
    }
    expect(statuses).toEqual([429, 429, 429, 200]);
    expect((await read(await fetch(`${sim.url}/_sim/faults`))).rateLimitStorm).toBe(0);
  });

  test("only limits faults to a path prefix; the admin API is never faulted", async () => {
    await setFaults({ errorRate: 1, only: "/v1/upload" });
    expect((await list()).status).toBe(200);
    const res = await post(`${sim.url}/v1/upload`, {
      fileName: "a",
      contentType: "b/c",
      sha256: "a".repeat(64),
    });
    expect([500, 503]).toContain(res.status);
    await setFaults({ dropRate: 1, errorRate: 1 });
    expect((await fetch(`${sim.url}/_sim/deliveries`)).status).toBe(200);
  });

  test("faults are reproducible: the same seed gives the same sequence", async () => {
    const outcome = async () => {
      try {
        const res = await list();
        await res.text();
        return String(res.status);
      } catch {
        return "dropped/truncated";
      }
    };
    const run = async (seed: number) => {
      await setFaults({ errorRate: 0.3, dropRate: 0.2, truncateRate: 0.3, seed });
      const seq = [];
      for (let i = 0; i < 30; i++) seq.push(await outcome());
      return seq.join(",");
    };
    const a = await run(1);
    expect(await run(1)).toBe(a);
    expect(await run(2)).not.toBe(a);
    // Every kind shows up in 30 requests at these rates.
    for (const kind of ["200", "dropped/truncated"]) expect(a).toContain(kind);
    expect(a).toMatch(/50[03]/);
  });
});
