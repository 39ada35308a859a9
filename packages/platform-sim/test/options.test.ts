import { describe, expect, test } from "vitest";
import { createSimulator, LIMITS, type SimulatorOptions, startSimulator } from "../src/index.js";
import { resolveOptions } from "../src/options.js";

describe("options", () => {
  test("defaults: one full key, 2 s analyses, 15 min URLs, 600/60 s; deeply frozen", () => {
    const o = resolveOptions();
    expect(o).toMatchObject({
      keys: [{ key: "sim_key_full", scopes: ["upload", "files.read"], quota: 1000 }],
      analysisDelayMs: 2000,
      uploadUrlTtlMs: 900_000,
      rateLimit: { limit: 600, windowMs: 60_000 },
      seedFiles: 0,
      seed: 42,
      webhooks: [],
      webhookRetry: { attempts: 5, baseDelayMs: 1000, timeoutMs: 10_000 },
      faults: {
        latencyMs: 0,
        errorRate: 0,
        dropRate: 0,
        truncateRate: 0,
        rateLimitStorm: 0,
        only: null,
      },
      baseUrl: null,
      logger: false,
    });
    expect(Object.isFrozen(o)).toBe(true);
    expect(Object.isFrozen(o.keys)).toBe(true);
    expect(Object.isFrozen(o.keys[0])).toBe(true);
    expect(Object.isFrozen(o.rateLimit)).toBe(true);
    expect(Object.isFrozen(o.faults)).toBe(true);
  });

  test("a key's quota defaults to 1000", () => {
    expect(resolveOptions({ keys: [{ key: "k", scopes: [] }] }).keys[0]!.quota).toBe(1000);
  });

  test.each([
    [{ bogus: 1 }, "`bogus` is not a known option"],
    [
      { rateLimit: { limit: 1, windowMs: 1000, burst: 2 } },
      "`rateLimit.burst` is not a known option",
    ],
    [
      { keys: [{ key: "k", scopes: ["upload"], role: "admin" }] },
      "`keys[0].role` is not a known option",
    ],
    [
      { webhooks: [{ url: "http://x.test", secret: "s", events: [] }] },
      "`webhooks[0].events` is not a known option",
    ],
    [
      { webhookRetry: { attempts: 2, baseDelayMs: 1, jitter: true } },
      "`webhookRetry.jitter` is not a known option",
    ],
    [{ faults: { errorRate: 0.1, slowRate: 1 } }, "`faults.slowRate` is not a known option"],
  ])("an unknown key is a TypeError naming it: %j", (options, message) => {
    expect(() => resolveOptions(options as SimulatorOptions)).toThrow(TypeError);
    expect(() => resolveOptions(options as SimulatorOptions)).toThrow(message);
  });

  test.each([
    [{ keys: [{ key: "a b", scopes: [] }] }, "keys[0].key"],
    [{ keys: [{ key: "k", scopes: ["admin"] }] }, "keys[0].scopes"],
    [
      {
        keys: [
          { key: "k", scopes: [] },
          { key: "k", scopes: [] },
        ],
      },
      "keys[1].key",
    ],
    [{ keys: [{ key: "k", scopes: [], quota: -1 }] }, "keys[0].quota"],
    [{ analysisDelayMs: -1 }, "analysisDelayMs"],
    [{ analysisDelayMs: LIMITS.analysisDelayMs + 1 }, "analysisDelayMs"],
    [{ uploadUrlTtlMs: 0 }, "uploadUrlTtlMs"],
    [{ rateLimit: { limit: 0, windowMs: 1000 } }, "rateLimit.limit"],
    [{ rateLimit: { limit: 1, windowMs: 1500 } }, "rateLimit.windowMs"],
    [{ seedFiles: LIMITS.seedFiles + 1 }, "seedFiles"],
    [{ seed: 1.5 }, "seed"],
    [{ webhooks: [{ url: "ftp://x", secret: "s" }] }, "webhooks[0].url"],
    [{ webhooks: [{ url: "http://x.test", secret: "" }] }, "webhooks[0].secret"],
    [{ webhookRetry: { attempts: 0, baseDelayMs: 1 } }, "webhookRetry.attempts"],
    [{ faults: { errorRate: 1.5 } }, "faults.errorRate"],
    [{ faults: { only: "v1" } }, "faults.only"],
    [{ faults: { latencyMs: LIMITS.latencyMs + 1 } }, "faults.latencyMs"],
    [{ now: 5 }, "now"],
    [{ baseUrl: "not a url" }, "baseUrl"],
  ])("a bad value is a TypeError naming it: %j", (options, field) => {
    expect(() => resolveOptions(options as unknown as SimulatorOptions)).toThrow(`\`${field}\``);
  });

  test("createSimulator and startSimulator check options before anything else", async () => {
    await expect(createSimulator({ colour: "red" } as SimulatorOptions)).rejects.toThrow(
      "`colour`",
    );
    await expect(startSimulator({ port: -1 })).rejects.toThrow("`port`");
    await expect(startSimulator({ port: 0, colour: "red" } as SimulatorOptions)).rejects.toThrow(
      "`colour`",
    );
  });

  test("nothing listens on import or create", async () => {
    const app = await createSimulator();
    expect(app.server.listening).toBe(false);
    await app.close();
  });
});
