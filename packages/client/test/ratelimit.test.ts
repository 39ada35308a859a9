import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  backoffCeiling,
  backoffDelay,
  parseRateLimitHeaders,
  parseRetryAfter,
  parseStructuredList,
  type RateLimitState,
} from "../src/index.js";

const NOW = Date.parse("2026-11-26T12:00:00Z");
const EPOCH = 1795707000; // Unix seconds

describe("parseRateLimitHeaders", () => {
  const cases: [string, Record<string, string | string[]>, RateLimitState | undefined][] = [
    ["no headers", {}, undefined],
    [
      "X-RateLimit-* only",
      {
        "X-RateLimit-Limit": "600",
        "X-RateLimit-Remaining": "597",
        "X-RateLimit-Reset": `${EPOCH}`,
      },
      { limit: 600, remaining: 597, resetAt: EPOCH * 1000 },
    ],
    [
      "X-RateLimit-Reset as a delta (below 10^9)",
      { "x-ratelimit-limit": "10", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "30" },
      { limit: 10, remaining: 0, resetAt: NOW + 30_000 },
    ],
    [
      "IETF RateLimit-Policy and RateLimit only",
      { "RateLimit-Policy": '"default";q=600;w=60', RateLimit: '"default";r=597;t=42' },
      { limit: 600, remaining: 597, resetAt: NOW + 42_000, windowSeconds: 60, policy: "default" },
    ],
    [
      "both forms (the documented answer): IETF wins where both give a value",
      {
        "x-ratelimit-limit": "600",
        "x-ratelimit-remaining": "598",
        "x-ratelimit-reset": `${EPOCH}`,
        "ratelimit-policy": '"default";q=600;w=60',
        ratelimit: '"default";r=597;t=42',
      },
      { limit: 600, remaining: 597, resetAt: NOW + 42_000, windowSeconds: 60, policy: "default" },
    ],
    [
      "several policies: the item with the fewest remaining counts, with its own policy",
      {
        "ratelimit-policy": '"burst";q=100;w=1, "daily";q=10000;w=86400',
        ratelimit: '"burst";r=80;t=1, "daily";r=12;t=3600',
      },
      {
        limit: 10000,
        remaining: 12,
        resetAt: NOW + 3_600_000,
        windowSeconds: 86400,
        policy: "daily",
      },
    ],
    [
      "token policy names and extra parameters",
      { "ratelimit-policy": "default;q=50;w=10;pk=:abc=:", ratelimit: "default;r=5;t=3" },
      { limit: 50, remaining: 5, resetAt: NOW + 3_000, windowSeconds: 10, policy: "default" },
    ],
    [
      "older draft: RateLimit-Policy with a bare quota",
      { "ratelimit-policy": "100;w=60", ratelimit: "limit=100, remaining=40, reset=20" },
      { limit: 100, remaining: 40, resetAt: NOW + 20_000, windowSeconds: 60 },
    ],
    [
      "older draft: separate RateLimit-Limit / -Remaining / -Reset",
      { "ratelimit-limit": "100", "ratelimit-remaining": "9", "ratelimit-reset": "5" },
      { limit: 100, remaining: 9, resetAt: NOW + 5_000 },
    ],
    [
      "garbage values are ignored",
      { "x-ratelimit-limit": "lots", "x-ratelimit-remaining": "-3", ratelimit: "???" },
      undefined,
    ],
    [
      "RateLimit without a matching policy uses the first policy's quota",
      { "ratelimit-policy": '"a";q=10;w=1', ratelimit: '"b";r=3;t=1' },
      { limit: 10, remaining: 3, resetAt: NOW + 1_000, windowSeconds: 1, policy: "a" },
    ],
    [
      "repeated header lines (arrays) are joined",
      { ratelimit: ['"a";r=9;t=1', '"b";r=2;t=7'] },
      { limit: undefined, remaining: 2, resetAt: NOW + 7_000 },
    ],
  ];
  it.each(cases)("%s", (_name, headers, expected) => {
    expect(parseRateLimitHeaders(headers, NOW)).toEqual(expected);
  });

  it("reads a Headers-like object", () => {
    const headers = new Headers({
      "RateLimit-Policy": '"default";q=6;w=60',
      RateLimit: '"default";r=1;t=2',
    });
    expect(parseRateLimitHeaders(headers, NOW)).toMatchObject({ limit: 6, remaining: 1 });
  });

  it("never throws on arbitrary header values", () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom(
            "ratelimit",
            "ratelimit-policy",
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
            "ratelimit-reset",
          ),
          fc.string(),
        ),
        (headers) => {
          parseRateLimitHeaders(headers, NOW);
        },
      ),
    );
  });
});

describe("parseStructuredList", () => {
  it("parses items, parameters, quoted strings with commas and escapes", () => {
    expect(parseStructuredList('"a,b";q=1;flag, tok;w="x\\"y", 7;w=2')).toEqual([
      {
        value: "a,b",
        params: new Map<string, unknown>([
          ["q", 1],
          ["flag", true],
        ]),
      },
      { value: "tok", params: new Map([["w", 'x"y']]) },
      { value: 7, params: new Map([["w", 2]]) },
    ]);
  });
});

describe("parseRetryAfter", () => {
  const cases: [string | undefined, number | undefined][] = [
    [undefined, undefined],
    ["0", 0],
    ["3", 3000],
    ["1.5", 1500],
    [" 12 ", 12_000],
    [new Date(NOW + 10_000).toUTCString(), 10_000],
    [new Date(NOW - 10_000).toUTCString(), 0],
    ["soon", undefined],
    ["-1", undefined],
  ];
  it.each(cases)("%s -> %s", (value, expected) => {
    expect(parseRetryAfter(value, NOW)).toBe(expected);
  });
});

describe("backoff", () => {
  const options = { baseDelayMs: 100, maxDelayMs: 1_000 };

  it("doubles the ceiling up to maxDelayMs", () => {
    expect([0, 1, 2, 3, 4, 5, 60].map((n) => backoffCeiling(n, options))).toEqual([
      100, 200, 400, 800, 1000, 1000, 1000,
    ]);
  });

  it("uses full jitter: random() times the ceiling", () => {
    expect(backoffDelay(2, options, () => 0)).toBe(0);
    expect(backoffDelay(2, options, () => 0.5)).toBe(200);
    expect(backoffDelay(2, options, () => 0.999)).toBe(399);
    expect(backoffDelay(9, options, () => 0.5)).toBe(500);
  });

  it("stays within [0, ceiling) for any retry and any random value", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (retry, r) => {
          const delay = backoffDelay(retry, options, () => r);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(backoffCeiling(retry, options));
          expect(delay).toBeLessThanOrEqual(options.maxDelayMs);
        },
      ),
    );
  });

  it("clamps a misbehaving random", () => {
    expect(backoffDelay(0, options, () => 7)).toBe(100);
    expect(backoffDelay(0, options, () => -1)).toBe(0);
    expect(backoffDelay(0, options, () => Number.NaN)).toBe(0);
  });
});
