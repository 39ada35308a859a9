import { readFileSync } from "node:fs";
import { Agent } from "undici";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_RETRY,
  DEFAULT_USER_AGENT,
  PlatformClient,
  type PlatformClientOptions,
  VERSION,
} from "../src/index.js";

const BASE = { baseUrl: "https://api.platform.example", apiKey: "k_1" };

describe("PlatformClient options", () => {
  it("fills in defaults and freezes the result", async () => {
    const client = new PlatformClient(BASE);
    const { options } = client;
    expect(options.baseUrl).toBe("https://api.platform.example");
    expect(options.retry).toEqual(DEFAULT_RETRY);
    expect(Object.isFrozen(options)).toBe(true);
    expect(Object.isFrozen(options.timeouts)).toBe(true);
    expect(Object.isFrozen(options.rateLimit)).toBe(true);
    expect(() => {
      (options as { baseUrl: string }).baseUrl = "x";
    }).toThrow(TypeError);
    await client.close();
  });

  it("takes the user agent version from package.json", async () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    expect(VERSION).toBe(pkg.version);
    expect(DEFAULT_USER_AGENT).toBe(`clearance/${pkg.version} (+https://clearance.dev)`);
    const client = new PlatformClient(BASE);
    expect(client.options.userAgent).toBe(DEFAULT_USER_AGENT);
    await client.close();
  });

  it("keeps a base path without its trailing slash, and never shows the API key", async () => {
    const client = new PlatformClient({
      ...BASE,
      baseUrl: "http://127.0.0.1:9090/api/",
      apiKey: "k_secret",
    });
    expect(client.options.baseUrl).toBe("http://127.0.0.1:9090/api");
    expect(JSON.stringify(client.options)).not.toContain("k_secret");
    expect(Object.keys(client)).not.toContain("apiKey");
    await client.close();
  });

  it("merges partial groups over the defaults", async () => {
    const client = new PlatformClient({ ...BASE, retry: { attempts: 2 }, cache: false });
    expect(client.options.retry).toEqual({ ...DEFAULT_RETRY, attempts: 2 });
    expect(client.cache).toBeUndefined();
    await client.close();
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["an unknown key", { apiKeys: "x" }, /unknown PlatformClient option `apiKeys`/],
    [
      "an unknown nested key",
      { retry: { attempt: 3 } },
      /unknown PlatformClient option `retry.attempt`/,
    ],
    ["an unknown cache key", { cache: { size: 3 } }, /`cache.size`/],
    ["a missing baseUrl", { baseUrl: undefined }, /`baseUrl` must be an http or https URL/],
    ["an ftp baseUrl", { baseUrl: "ftp://x" }, /`baseUrl` must be an http or https URL/],
    ["a baseUrl with a query", { baseUrl: "https://x/?key=1" }, /must not have a query/],
    ["an empty apiKey", { apiKey: "" }, /`apiKey` must be a non-empty string/],
    ["an apiKey with a newline", { apiKey: "a\nb" }, /`apiKey`/],
    ["a multi-line userAgent", { userAgent: "a\r\nX-Evil: 1" }, /`userAgent`/],
    [
      "zero attempts",
      { retry: { attempts: 0 } },
      /`retry.attempts` must be an integer from 1 to 100/,
    ],
    ["a fractional attempt count", { retry: { attempts: 1.5 } }, /`retry.attempts`/],
    ["a negative delay", { retry: { baseDelayMs: -1 } }, /`retry.baseDelayMs`/],
    [
      "slowDownBelow above 1",
      { rateLimit: { slowDownBelow: 2 } },
      /`rateLimit.slowDownBelow` must be a number from 0 to 1/,
    ],
    ["a string timeout", { timeouts: { headersMs: "5" } }, /`timeouts.headersMs`/],
    ["a non-function sleep", { sleep: 5 }, /`sleep` must be a function/],
    [
      "a dispatcher without dispatch",
      { dispatcher: {} },
      /`dispatcher` must be an undici Dispatcher/,
    ],
    ["timeouts not an object", { timeouts: 5 }, /`timeouts` must be an object/],
    ["a signal that is not an AbortSignal", { signal: {} }, /`signal` must be an AbortSignal/],
  ];
  it.each(bad)("rejects %s with a TypeError naming it", (_name, override, message) => {
    expect(() => new PlatformClient({ ...BASE, ...override } as PlatformClientOptions)).toThrow(
      message,
    );
    expect(() => new PlatformClient({ ...BASE, ...override } as PlatformClientOptions)).toThrow(
      TypeError,
    );
  });

  it("accepts Infinity for the rate-limit wait budget", async () => {
    const client = new PlatformClient({
      ...BASE,
      rateLimit: { maxWaitMs: Number.POSITIVE_INFINITY },
    });
    expect(client.options.rateLimit.maxWaitMs).toBe(Number.POSITIVE_INFINITY);
    await client.close();
  });

  it("closes its own dispatcher but not a given one", async () => {
    const agent = new Agent();
    const client = new PlatformClient({ ...BASE, dispatcher: agent });
    await client.close();
    expect(agent.closed).toBe(false);
    await agent.close();
    await expect(client.getFile("a".repeat(64))).rejects.toThrow(/closed/);
  });
});
