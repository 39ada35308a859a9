import { afterEach, describe, expect, it } from "vitest";
import {
  AbortedError,
  AnalysisFailedError,
  InvalidApiKeyError,
  InvalidResponseError,
  MissingScopeError,
  NotFoundError,
  type PlatformClient,
  PlatformUnavailableError,
  QuotaExhaustedError,
  RateLimitedError,
  RequestRejectedError,
  TimeoutError,
} from "../src/index.js";
import {
  type Call,
  clientFor,
  completedFile,
  KEY,
  platformError,
  SHA_A,
  SHA_B,
  type Stub,
  startStub,
  truncate,
} from "./stub.js";

let stub: Stub | undefined;
let client: PlatformClient | undefined;

afterEach(async () => {
  await client?.close();
  await stub?.close();
  client = undefined;
  stub = undefined;
});

async function setup(
  routes: Parameters<typeof startStub>[0],
  options: Parameters<typeof clientFor>[1] = {},
) {
  stub = await startStub(routes);
  const made = clientFor(stub, options);
  client = made.client;
  return { stub, client: made.client, sleeps: made.sleeps };
}

describe("getFile", () => {
  it("returns the raw file and its canonical result, with the documented headers", async () => {
    const { client, stub } = await setup((app) => {
      app.get("/v1/files/:sha", async (request) =>
        completedFile((request.params as { sha: string }).sha),
      );
    });
    const found = await client.getFile(SHA_A.toUpperCase());
    expect(found?.file).toEqual(completedFile(SHA_A));
    expect(found?.result).toMatchObject({
      ok: true,
      format: "platform",
      result: { sha256: SHA_A, trustScore: 91, verdict: "clean", signature: { status: "valid" } },
    });
    const call = stub.calls[0] as Call;
    expect(call.url).toBe(`/v1/files/${SHA_A}`);
    expect(call.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(call.headers["user-agent"]).toMatch(
      /^clearance\/\d+\.\d+\.\d+ \(\+https:\/\/clearance\.dev\)$/,
    );
  });

  it("returns undefined for a 404", async () => {
    const { client } = await setup((app) => {
      app.get("/v1/files/:sha", async (_request, reply) =>
        reply.code(404).send(platformError("not_found", "no such file")),
      );
    });
    expect(await client.getFile(SHA_A)).toBeUndefined();
  });

  it("reports an invalid payload with the JSON Pointer at fault, never as an empty result", async () => {
    const { client } = await setup((app) => {
      app.get("/v1/files/:sha", async () => completedFile(SHA_A, { trust_score: "high" }));
    });
    const found = await client.getFile(SHA_A);
    expect(found?.result).toEqual({
      ok: false,
      format: "platform",
      problems: [
        {
          pointer: "/trust_score",
          message: "must be a number from 0 to 100, got the string `high`",
        },
      ],
    });
    // Not cached: the next call asks again.
    await client.getFile(SHA_A);
    expect(stub?.count(`GET /v1/files/${SHA_A}`)).toBe(2);
  });

  it("gives a pending file a result that is not ok", async () => {
    const { client } = await setup((app) => {
      app.get("/v1/files/:sha", async () => ({ sha256: SHA_A, status: "pending", version: 1 }));
    });
    const found = await client.getFile(SHA_A);
    expect(found?.file.status).toBe("pending");
    expect(found?.result.ok).toBe(false);
  });

  const shapes: [string, unknown, string][] = [
    ["an array", [], ""],
    ["no sha256", { status: "completed" }, "/sha256"],
    ["another sha256", completedFile(SHA_B), "/sha256"],
    ["a status that is not a string", { sha256: SHA_A, status: 3 }, "/status"],
  ];
  it.each(shapes)("throws InvalidResponseError for %s", async (_name, body, pointer) => {
    const { client } = await setup((app) => {
      app.get("/v1/files/:sha", async (_request, reply) => reply.send(body));
    });
    const error = await client.getFile(SHA_A).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidResponseError);
    expect((error as InvalidResponseError).pointer).toBe(pointer);
    expect((error as InvalidResponseError).code).toBe("invalid_response");
  });

  it("throws InvalidResponseError for a body that is not JSON", async () => {
    const { client } = await setup((app) => {
      app.get("/v1/files/:sha", async (_request, reply) =>
        reply.type("application/json").send("{not json"),
      );
    });
    await expect(client.getFile(SHA_A)).rejects.toThrow(/is not JSON/);
  });

  it("rejects a malformed SHA-256 before sending anything", async () => {
    const { client, stub } = await setup(() => {});
    await expect(client.getFile("abc")).rejects.toThrow(TypeError);
    expect(stub.calls).toHaveLength(0);
  });
});

describe("cache", () => {
  it("serves completed results until the TTL passes (injected clock)", async () => {
    let now = 1_000_000;
    const { client, stub } = await setup(
      (app) => {
        app.get("/v1/files/:sha", async (request) =>
          completedFile((request.params as { sha: string }).sha),
        );
      },
      { now: () => now, cache: { max: 10, ttlMs: 60_000 } },
    );
    await client.getFile(SHA_A);
    now += 59_000;
    await client.getFile(SHA_A);
    expect(stub.count(`GET /v1/files/${SHA_A}`)).toBe(1);
    expect(client.cache?.has(SHA_A)).toBe(true);
    now += 2_000;
    await client.getFile(SHA_A);
    expect(stub.count(`GET /v1/files/${SHA_A}`)).toBe(2);
    await client.getFile(SHA_A, { fresh: true });
    expect(stub.count(`GET /v1/files/${SHA_A}`)).toBe(3);
  });

  it("keeps at most `max` results, and never pending ones", async () => {
    const { client } = await setup(
      (app) => {
        app.get("/v1/files/:sha", async (request) => {
          const sha = (request.params as { sha: string }).sha;
          return sha === SHA_B ? { sha256: sha, status: "pending" } : completedFile(sha);
        });
      },
      { cache: { max: 2, ttlMs: 60_000 } },
    );
    const shas = ["1", "2", "3"].map((c) => c.repeat(64));
    for (const sha of shas) await client.getFile(sha);
    await client.getFile(SHA_B);
    expect([...(client.cache?.keys() ?? [])].sort()).toEqual([shas[1], shas[2]]);
  });
});

describe("refusals", () => {
  it("401 -> InvalidApiKeyError", async () => {
    const { client } = await setup((app) => {
      app.get("/v1/files/:sha", async (_r, reply) =>
        reply.code(401).send(platformError("invalid_api_key", "unknown key")),
      );
    });
    const error = await client.getFile(SHA_A).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidApiKeyError);
    expect(error).toMatchObject({
      code: "invalid_api_key",
      status: 401,
      platformCode: "invalid_api_key",
    });
    expect((error as Error).message).toMatch(/does not accept this API key.*create a new key/);
    expect((error as Error).message).not.toContain(KEY);
  });

  it("403 -> MissingScopeError naming the scope", async () => {
    const { client } = await setup((app) => {
      app.get("/v1/files/:sha", async (_r, reply) =>
        reply
          .code(403)
          .send(platformError("insufficient_scope", "nope", { requiredScope: "files.read" })),
      );
    });
    const error = await client.getFile(SHA_A).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingScopeError);
    expect((error as Error).message).toMatch(/^this key lacks `files.read`/);
    expect(error).toMatchObject({
      code: "missing_scope",
      status: 403,
      requiredScope: "files.read",
    });
  });

  it("403 without requiredScope names the endpoint's scope", async () => {
    const { client } = await setup((app) => {
      app.get("/v1/files", async (_r, reply) => reply.code(403).send({}));
    });
    const error = await client
      .listFiles()
      .next()
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^this key lacks `files.read`/);
  });

  it("404 from a list is NotFoundError; other 4xx are RequestRejectedError", async () => {
    const { client } = await setup((app) => {
      app.get("/v1/files", async (request, reply) =>
        (request.query as { limit?: string }).limit === "5"
          ? reply.code(404).send(platformError("not_found", "gone"))
          : reply.code(400).send(platformError("invalid_request", "bad since", { details: [] })),
      );
    });
    await expect(client.listFiles({ limit: 5 }).next()).rejects.toBeInstanceOf(NotFoundError);
    const error = await client
      .listFiles({ limit: 6 })
      .next()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestRejectedError);
    expect(error).toMatchObject({ status: 400, platformCode: "invalid_request" });
    expect((error as Error).message).toBe(
      "GET /v1/files was refused (400 invalid_request): bad since",
    );
  });

  it("402 -> QuotaExhaustedError with resetsAt, and client.quota", async () => {
    const { client } = await setup((app) => {
      app.get("/v1/files/:sha", async (_r, reply) =>
        reply.code(402).send(
          platformError("quota_exhausted", "used up", {
            quota: 500,
            resetsAt: "2026-12-01T00:00:00Z",
          }),
        ),
      );
    });
    expect(client.quota).toBeUndefined();
    const error = await client.getFile(SHA_A).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QuotaExhaustedError);
    expect(error).toMatchObject({
      code: "quota_exhausted",
      quota: 500,
      resetsAt: "2026-12-01T00:00:00Z",
    });
    expect((error as Error).message).toBe(
      "the monthly analysis quota of 500 analyses is used up: it resets at 2026-12-01T00:00:00Z",
    );
    expect(client.quota).toEqual({ limit: 500, remaining: 0, resetsAt: "2026-12-01T00:00:00Z" });
  });
});

describe("retries", () => {
  it("retries 5xx bursts of a GET with backoff, then succeeds", async () => {
    let n = 0;
    const { client, sleeps } = await setup(
      (app) => {
        app.get("/v1/files/:sha", async (_r, reply) => {
          n++;
          if (n <= 3)
            return reply.code(n === 2 ? 500 : 503).send(platformError("unavailable", "busy"));
          return completedFile(SHA_A);
        });
      },
      { retry: { attempts: 4, baseDelayMs: 100, maxDelayMs: 10_000 } },
    );
    expect((await client.getFile(SHA_A))?.file.sha256).toBe(SHA_A);
    expect(n).toBe(4);
    // Full jitter with random() = 0.5: half of 100, 200, 400.
    expect(sleeps).toEqual([50, 100, 200]);
  });

  it("gives up after `attempts` with PlatformUnavailableError", async () => {
    let n = 0;
    const { client, sleeps } = await setup(
      (app) => {
        app.get("/v1/files/:sha", async (_r, reply) => {
          n++;
          return reply.code(502).send(platformError("internal_error", "oops"));
        });
      },
      { retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 15 } },
    );
    const error = await client.getFile(SHA_A).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlatformUnavailableError);
    expect(error).toMatchObject({
      code: "platform_unavailable",
      status: 502,
      attempts: 3,
      ambiguous: false,
    });
    expect((error as Error).message).toMatch(/answered 502 3 times: oops/);
    expect(n).toBe(3);
    expect(sleeps).toEqual([5, 7]); // the ceiling is capped by maxDelayMs
  });

  it("retries a truncated body (socket closed mid-body)", async () => {
    let n = 0;
    const { client } = await setup((app) => {
      app.get("/v1/files/:sha", async (_r, reply) => {
        n++;
        if (n === 1) return truncate(reply, '{"sha256": "aaaa', 500);
        return completedFile(SHA_A);
      });
    });
    expect((await client.getFile(SHA_A))?.file.status).toBe("completed");
    expect(n).toBe(2);
  });

  it("retries a connection reset before the answer", async () => {
    let n = 0;
    const { client } = await setup((app) => {
      app.get("/v1/files/:sha", async (request, reply) => {
        n++;
        if (n === 1) {
          reply.hijack();
          request.raw.socket.destroy();
          return;
        }
        return completedFile(SHA_A);
      });
    });
    expect((await client.getFile(SHA_A))?.file.status).toBe("completed");
    expect(n).toBe(2);
  });

  it("retries a headers timeout", async () => {
    let n = 0;
    const { client } = await setup(
      (app) => {
        app.get("/v1/files/:sha", async () => {
          n++;
          // undici's headers timer has a resolution of about a second.
          if (n === 1) await new Promise((resolve) => setTimeout(resolve, 2500));
          return completedFile(SHA_A);
        });
      },
      { timeouts: { headersMs: 100 } },
    );
    expect((await client.getFile(SHA_A))?.file.status).toBe("completed");
    expect(n).toBe(2);
  });

  it("turns a refused connection into PlatformUnavailableError after the retries", async () => {
    const { client: c } = clientFor({ url: "http://127.0.0.1:9" } as Stub, {
      retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    });
    client = c;
    const error = await c.getFile(SHA_A).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlatformUnavailableError);
    expect((error as PlatformUnavailableError).attempts).toBe(2);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
  });
});

describe("rate limits", () => {
  function limited(reply: import("fastify").FastifyReply, retryAfter?: string) {
    if (retryAfter !== undefined) reply.header("retry-after", retryAfter);
    return reply
      .code(429)
      .header("x-ratelimit-limit", "600")
      .header("x-ratelimit-remaining", "0")
      .header("ratelimit", '"default";r=0;t=30')
      .header("ratelimit-policy", '"default";q=600;w=60')
      .send(platformError("rate_limited", "slow down"));
  }

  it("waits out a 429 storm with Retry-After, then succeeds", async () => {
    let n = 0;
    const { client, sleeps } = await setup((app) => {
      app.get("/v1/files/:sha", async (_r, reply) => {
        n++;
        if (n <= 5) return limited(reply, "2");
        reply.header("x-ratelimit-limit", "600").header("x-ratelimit-remaining", "599");
        return completedFile(SHA_A);
      });
    });
    expect((await client.getFile(SHA_A))?.file.sha256).toBe(SHA_A);
    expect(sleeps).toEqual([2000, 2000, 2000, 2000, 2000]);
    expect(client.rateLimit).toMatchObject({ limit: 600, remaining: 599 });
  });

  it("waits until the window resets when there is no Retry-After", async () => {
    const now = Date.parse("2026-11-26T12:00:00Z");
    let n = 0;
    const { client, sleeps } = await setup(
      (app) => {
        app.get("/v1/files/:sha", async (_r, reply) => {
          n++;
          return n === 1 ? limited(reply) : completedFile(SHA_A);
        });
      },
      { now: () => now },
    );
    await client.getFile(SHA_A);
    expect(sleeps).toEqual([30_000]);
  });

  it("throws RateLimitedError once the wait budget is spent", async () => {
    let n = 0;
    const { client, sleeps } = await setup(
      (app) => {
        app.get("/v1/files/:sha", async (_r, reply) => {
          n++;
          return limited(reply, "4");
        });
      },
      { rateLimit: { maxWaitMs: 10_000 } },
    );
    const error = await client.getFile(SHA_A).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect(error).toMatchObject({
      code: "rate_limited",
      status: 429,
      platformCode: "rate_limited",
      waitedMs: 8000,
      retryAfterMs: 4000,
    });
    expect((error as Error).message).toMatch(
      /waited 8 s of the 10 s allowed by `rateLimit.maxWaitMs`/,
    );
    expect(sleeps).toEqual([4000, 4000]);
    expect(n).toBe(3);
  });

  it("ends a storm of `Retry-After: 0` within the budget", async () => {
    const { client, sleeps } = await setup(
      (app) => {
        app.get("/v1/files/:sha", async (_r, reply) => limited(reply, "0"));
      },
      { rateLimit: { maxWaitMs: 1_000 } },
    );
    await expect(client.getFile(SHA_A)).rejects.toBeInstanceOf(RateLimitedError);
    expect(sleeps).toEqual(Array(10).fill(100));
  });

  it("reads the rate-limit headers of every answer, errors included", async () => {
    const { client } = await setup((app) => {
      app.get("/v1/files/:sha", async (_r, reply) =>
        reply
          .code(404)
          .header("ratelimit-policy", '"default";q=600;w=60')
          .header("ratelimit", '"default";r=42;t=10')
          .send(platformError("not_found", "no")),
      );
    });
    expect(client.rateLimit).toBeUndefined();
    await client.getFile(SHA_A);
    expect(client.rateLimit).toMatchObject({
      limit: 600,
      remaining: 42,
      windowSeconds: 60,
      policy: "default",
    });
  });

  it("spaces requests out when few remain, until the window resets", async () => {
    const now = Date.parse("2026-11-26T12:00:00Z");
    let remaining = 5;
    const { client, sleeps } = await setup(
      (app) => {
        app.get("/v1/files/:sha", async (_r, reply) => {
          remaining--;
          reply
            .header("x-ratelimit-limit", "100")
            .header("x-ratelimit-remaining", String(remaining))
            .header("x-ratelimit-reset", String((now + 8_000) / 1000));
          return completedFile(SHA_A);
        });
      },
      { now: () => now, cache: false, rateLimit: { slowDownBelow: 0.1 } },
    );
    await client.getFile(SHA_A); // no state yet: sent at once
    expect(sleeps).toEqual([]);
    // 4 of 100 left, 8 s to the reset: one request every 2 s from now on.
    await Promise.all([client.getFile(SHA_A), client.getFile(SHA_A), client.getFile(SHA_A)]);
    expect(sleeps).toEqual([2000, 4000]);
  });

  it("does not slow down above the threshold", async () => {
    const { client, sleeps } = await setup(
      (app) => {
        app.get("/v1/files/:sha", async (_r, reply) => {
          reply.header("ratelimit-policy", '"d";q=100;w=60').header("ratelimit", '"d";r=50;t=30');
          return completedFile(SHA_A);
        });
      },
      { cache: false },
    );
    for (let i = 0; i < 3; i++) await client.getFile(SHA_A);
    expect(sleeps).toEqual([]);
  });
});

describe("listFiles", () => {
  it("iterates over every page with the cursor, passing the query", async () => {
    const all = Array.from({ length: 25 }, (_, i) =>
      completedFile(i.toString(16).padStart(64, "0"), {
        analyzed_at: `2026-11-26T12:00:${String(i).padStart(2, "0")}Z`,
      }),
    );
    const { client, stub } = await setup((app) => {
      app.get("/v1/files", async (request) => {
        const q = request.query as { cursor?: string; limit?: string };
        const start = q.cursor === undefined ? 0 : Number(q.cursor.slice(1));
        const limit = Number(q.limit ?? 100);
        const data = all.slice(start, start + limit);
        const next = start + limit < all.length ? `c${start + limit}` : null;
        return { data, nextCursor: next };
      });
    });
    const seen: string[] = [];
    for await (const { file, result } of client.listFiles({
      since: new Date("2026-11-01T00:00:00Z"),
      until: "2026-12-01T00:00:00Z",
      limit: 10,
    })) {
      expect(result.ok).toBe(true);
      seen.push(file.sha256);
    }
    expect(seen).toEqual(all.map((f) => f.sha256));
    expect(stub.calls.map((c) => c.url)).toEqual([
      "/v1/files?since=2026-11-01T00%3A00%3A00.000Z&until=2026-12-01T00%3A00%3A00.000Z&limit=10",
      "/v1/files?since=2026-11-01T00%3A00%3A00.000Z&until=2026-12-01T00%3A00%3A00.000Z&limit=10&cursor=c10",
      "/v1/files?since=2026-11-01T00%3A00%3A00.000Z&until=2026-12-01T00%3A00%3A00.000Z&limit=10&cursor=c20",
    ]);
    // Completed results from the list are cached.
    expect(client.cache?.size).toBe(25);
  });

  it("fetches pages lazily: stopping early sends no more requests", async () => {
    const { client, stub } = await setup((app) => {
      app.get("/v1/files", async () => ({
        data: [completedFile(SHA_A), completedFile(SHA_B)],
        nextCursor: "next",
      }));
    });
    for await (const _ of client.listFiles()) break;
    expect(stub.calls).toHaveLength(1);
  });

  const bad: [string, unknown, string][] = [
    ["data missing", { nextCursor: null }, "/data"],
    [
      "an item that is not an object",
      { data: [completedFile(SHA_A), 5], nextCursor: null },
      "/data/1",
    ],
    [
      "an item without sha256",
      { data: [{ status: "completed" }], nextCursor: null },
      "/data/0/sha256",
    ],
    ["a numeric cursor", { data: [], nextCursor: 3 }, "/nextCursor"],
  ];
  it.each(bad)("throws InvalidResponseError for %s", async (_name, body, pointer) => {
    const { client } = await setup((app) => {
      app.get("/v1/files", async () => body);
    });
    const error = await (async () => {
      for await (const _ of client.listFiles());
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidResponseError);
    expect((error as InvalidResponseError).pointer).toBe(pointer);
  });

  it("stops on a repeated cursor rather than looping forever", async () => {
    const { client } = await setup((app) => {
      app.get("/v1/files", async () => ({ data: [], nextCursor: "same" }));
    });
    const error = await (async () => {
      for await (const _ of client.listFiles());
    })().catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/repeated a cursor/);
  });

  it("rejects bad queries before sending", async () => {
    const { client } = await setup(() => {});
    await expect(client.listFiles({ limit: 0 }).next()).rejects.toThrow(/`limit`/);
    await expect(client.listFiles({ since: "yesterday" }).next()).rejects.toThrow(/`since`/);
    await expect(client.listFiles({ after: 1 } as never).next()).rejects.toThrow(/`after`/);
  });
});

describe("waitForResult", () => {
  it("polls with a growing delay until completed", async () => {
    let n = 0;
    const { client, sleeps } = await setup((app) => {
      app.get("/v1/files/:sha", async () => {
        n++;
        return n < 5 ? { sha256: SHA_A, status: "pending", version: 1 } : completedFile(SHA_A);
      });
    });
    const found = await client.waitForResult(SHA_A, { pollMs: 1000, maxPollMs: 2500 });
    expect(found.result.ok).toBe(true);
    expect(sleeps).toEqual([1000, 1500, 2250, 2500]);
  });

  it("throws AnalysisFailedError for a failed analysis", async () => {
    const { client } = await setup((app) => {
      app.get("/v1/files/:sha", async () => ({ sha256: SHA_A, status: "failed" }));
    });
    const error = await client.waitForResult(SHA_A).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnalysisFailedError);
    expect(error).toMatchObject({ code: "analysis_failed", sha256: SHA_A });
  });

  it("throws NotFoundError for an unknown file", async () => {
    const { client } = await setup((app) => {
      app.get("/v1/files/:sha", async (_r, reply) =>
        reply.code(404).send(platformError("not_found", "no")),
      );
    });
    await expect(client.waitForResult(SHA_A)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("throws TimeoutError after timeoutMs (injected clock)", async () => {
    let now = 0;
    const sleeps: number[] = [];
    const { client } = await setup(
      (app) => {
        app.get("/v1/files/:sha", async () => ({ sha256: SHA_A, status: "pending" }));
      },
      {
        now: () => now,
        sleep: async (ms) => {
          sleeps.push(ms);
          now += ms;
        },
      },
    );
    const error = await client
      .waitForResult(SHA_A, { timeoutMs: 10_000, pollMs: 3_000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: "timeout", timeoutMs: 10_000 });
    expect((error as Error).message).toMatch(/still `pending` after 10 s/);
    expect(sleeps).toEqual([3000, 4500, 2500]);
  });
});

describe("signal", () => {
  it("stops a body that arrives a byte at a time, and every later call", async () => {
    const { client } = await setup(
      (app) => {
        app.get("/v1/files/:sha", (_request, reply) => {
          // headers at once, then one byte of the body every 200 ms: no timeout of undici fires
          reply.raw.writeHead(200, { "content-type": "application/json" });
          const timer = setInterval(() => reply.raw.write(" "), 200);
          reply.raw.on("close", () => clearInterval(timer));
        });
      },
      { signal: AbortSignal.timeout(600) },
    );
    const started = performance.now();
    const error = await client.getFile(SHA_A).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).message).toBe(
      "GET /v1/files/{sha256} was stopped: its deadline passed",
    );
    expect(performance.now() - started).toBeLessThan(5_000);
    await expect(client.getFile(SHA_B)).rejects.toBeInstanceOf(AbortedError);
  });

  it("cuts a wait between polls short", async () => {
    const controller = new AbortController();
    const { client } = await setup(
      (app) => {
        app.get("/v1/files/:sha", async () => ({ ...completedFile(SHA_A), status: "pending" }));
      },
      {
        signal: controller.signal,
        // a real wait: an hour, unless the signal ends it
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()),
      },
    );
    const waiting = client.waitForResult(SHA_A, { pollMs: 3_600_000 });
    setTimeout(() => controller.abort(new Error("the caller gave up")), 50);
    await expect(waiting).rejects.toThrow(
      `waiting for the analysis of ${SHA_A} was stopped: the caller gave up`,
    );
  });
});
