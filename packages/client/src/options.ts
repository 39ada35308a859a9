/**
 * `PlatformClient` options: defaults, validation (a TypeError naming the option for an unknown key
 * or a bad value) and freezing.
 */
import { readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import type { Dispatcher } from "undici";

/** undici timeouts, in milliseconds. */
export interface Timeouts {
  /** Establishing a connection (TCP and TLS). Applies to the client's own dispatcher only. */
  connectMs: number;
  /** From the end of the request to the complete response headers. */
  headersMs: number;
  /** The longest silence while a response body is received. */
  bodyMs: number;
}

export interface RetryOptions {
  /** Sends of one request in all, the first included (1 = never retry). */
  attempts: number;
  /** Ceiling of the first retry delay; doubles with each retry (full jitter below it). */
  baseDelayMs: number;
  /** Ceiling of any retry delay. */
  maxDelayMs: number;
}

export interface RateLimitOptions {
  /** The most one request waits on 429 answers, summed over its retries, before RateLimitedError. */
  maxWaitMs: number;
  /**
   * When the remaining fraction of the window (`remaining / limit`) falls below this, requests are
   * spaced out evenly until the window resets, rather than sent at once into 429s. 0 disables it.
   */
  slowDownBelow: number;
}

export interface CacheOptions {
  /** Completed results kept (least recently used go first). */
  max: number;
  /** How long a cached result is served without asking the platform again. */
  ttlMs: number;
}

export interface PlatformClientOptions {
  /** The platform's base URL, e.g. `https://api.platform.example` (a path prefix is kept). */
  baseUrl: string | URL;
  /** Sent as `Authorization: Bearer <apiKey>` (never to upload URLs, never in messages). */
  apiKey: string;
  /** Default `clearance/<version> (+https://clearance.dev)`. */
  userAgent?: string;
  timeouts?: Partial<Timeouts>;
  retry?: Partial<RetryOptions>;
  rateLimit?: Partial<RateLimitOptions>;
  /** Cache of completed results by SHA-256; `false` disables it. */
  cache?: Partial<CacheOptions> | false;
  /** Random numbers in [0, 1) for the backoff jitter (default `Math.random`). */
  random?: () => number;
  /** Waits `ms` milliseconds (default a timer); injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
  /** The current time in epoch milliseconds (default `Date.now`); injectable for tests. */
  now?: () => number;
  /**
   * The undici dispatcher to send with. By default the client creates a keep-alive Agent and
   * `close()` closes it; a dispatcher given here is the caller's to close.
   */
  dispatcher?: Dispatcher;
  /**
   * Stops everything the client does when it fires: requests (also while their bodies arrive),
   * waits between polls and retries, file reads. The call in progress, and every later one,
   * rejects with `AbortedError`. One signal for a whole run is a deadline for it
   * (`AbortSignal.timeout(ms)`), however slowly the platform answers.
   */
  signal?: AbortSignal;
}

/** The options in force (the API key is left out: it is kept privately, and never printed). */
export interface ResolvedOptions {
  /** Without a trailing slash. */
  readonly baseUrl: string;
  readonly userAgent: string;
  readonly timeouts: Readonly<Timeouts>;
  readonly retry: Readonly<RetryOptions>;
  readonly rateLimit: Readonly<RateLimitOptions>;
  readonly cache: Readonly<CacheOptions> | false;
  readonly random: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  readonly signal: AbortSignal | undefined;
}

/** This package's version, from its package.json (next to both `src/` and `dist/`). */
export const VERSION: string = (() => {
  try {
    const text = readFileSync(new URL("../package.json", import.meta.url), "utf8");
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === "string" ? version : "0.0.0";
  } catch {
    return "0.0.0";
  }
})();

export const DEFAULT_USER_AGENT = `clearance/${VERSION} (+https://clearance.dev)`;

export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = Object.freeze({
  connectMs: 10_000,
  headersMs: 30_000,
  bodyMs: 30_000,
});

export const DEFAULT_RETRY: Readonly<RetryOptions> = Object.freeze({
  attempts: 4,
  baseDelayMs: 500,
  maxDelayMs: 20_000,
});

export const DEFAULT_RATE_LIMIT: Readonly<RateLimitOptions> = Object.freeze({
  maxWaitMs: 120_000,
  slowDownBelow: 0.1,
});

export const DEFAULT_CACHE: Readonly<CacheOptions> = Object.freeze({
  max: 10_000,
  ttlMs: 300_000,
});

const TOP_KEYS = [
  "baseUrl",
  "apiKey",
  "userAgent",
  "timeouts",
  "retry",
  "rateLimit",
  "cache",
  "random",
  "sleep",
  "now",
  "dispatcher",
  "signal",
];

function list(keys: readonly string[]): string {
  return keys.map((k) => `\`${k}\``).join(", ");
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function checkKeys(object: Record<string, unknown>, known: readonly string[], prefix: string) {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) {
      throw new TypeError(
        `unknown PlatformClient option \`${prefix}${key}\` (known options${prefix ? ` of \`${prefix.slice(0, -1)}\`` : ""}: ${list(known)})`,
      );
    }
  }
}

interface NumberRule {
  min: number;
  max?: number;
  integer?: boolean;
  infinity?: boolean;
}

/** Merges a group of numeric options over its defaults, checking each value. */
function group<T extends object>(
  name: string,
  value: unknown,
  defaults: Readonly<T>,
  rules: Record<keyof T, NumberRule>,
): Readonly<T> {
  if (value === undefined) return defaults;
  if (!isPlainObject(value))
    throw new TypeError(`PlatformClient option \`${name}\` must be an object`);
  checkKeys(value, Object.keys(defaults), `${name}.`);
  const merged: Record<string, number> = { ...(defaults as Record<string, number>) };
  for (const [key, given] of Object.entries(value)) {
    if (given === undefined) continue;
    const rule = rules[key as keyof T];
    const ok =
      typeof given === "number" &&
      !Number.isNaN(given) &&
      (Number.isFinite(given)
        ? !rule.integer || Number.isInteger(given)
        : rule.infinity === true) &&
      given >= rule.min &&
      (rule.max === undefined || given <= rule.max);
    if (!ok) {
      const what = rule.integer ? "an integer" : "a number";
      const range =
        rule.max === undefined ? `of at least ${rule.min}` : `from ${rule.min} to ${rule.max}`;
      throw new TypeError(
        `PlatformClient option \`${name}.${key}\` must be ${what} ${range}${rule.infinity ? " (or Infinity)" : ""}, got \`${String(given)}\``,
      );
    }
    merged[key] = given;
  }
  return Object.freeze(merged) as unknown as Readonly<T>;
}

function fn<T>(name: string, value: unknown, fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== "function")
    throw new TypeError(`PlatformClient option \`${name}\` must be a function`);
  return value as T;
}

const defaultSleep = (ms: number): Promise<void> => delay(ms);

/** Validates and freezes the options. Throws a TypeError naming the first offending option. */
export function resolveOptions(options: PlatformClientOptions): {
  resolved: ResolvedOptions;
  apiKey: string;
  dispatcher: Dispatcher | undefined;
} {
  if (!isPlainObject(options)) throw new TypeError("PlatformClient options must be an object");
  checkKeys(options, TOP_KEYS, "");

  const rawBase = options.baseUrl;
  let base: URL;
  try {
    if (typeof rawBase !== "string" && !(rawBase instanceof URL)) throw new Error();
    base = new URL(String(rawBase));
  } catch {
    throw new TypeError(
      `PlatformClient option \`baseUrl\` must be an http or https URL, got \`${String(rawBase)}\``,
    );
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new TypeError(
      `PlatformClient option \`baseUrl\` must be an http or https URL, got \`${base.href}\``,
    );
  }
  if (base.search !== "" || base.hash !== "" || base.username !== "" || base.password !== "") {
    throw new TypeError(
      "PlatformClient option `baseUrl` must not have a query, a fragment or credentials (the API key goes in `apiKey`)",
    );
  }
  const baseUrl = `${base.origin}${base.pathname.replace(/\/+$/, "")}`;

  const apiKey = options.apiKey;
  if (
    typeof apiKey !== "string" ||
    apiKey.trim() === "" ||
    /[\s\u0000-\u001f\u007f]/.test(apiKey)
  ) {
    throw new TypeError(
      "PlatformClient option `apiKey` must be a non-empty string without spaces or control characters",
    );
  }

  const userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
  if (typeof userAgent !== "string" || userAgent === "" || /[\r\n\u0000]/.test(userAgent)) {
    throw new TypeError("PlatformClient option `userAgent` must be a non-empty single-line string");
  }

  const timeouts = group<Timeouts>("timeouts", options.timeouts, DEFAULT_TIMEOUTS, {
    connectMs: { min: 1, integer: true },
    headersMs: { min: 1, integer: true },
    bodyMs: { min: 1, integer: true },
  });
  const retry = group<RetryOptions>("retry", options.retry, DEFAULT_RETRY, {
    attempts: { min: 1, max: 100, integer: true },
    baseDelayMs: { min: 0 },
    maxDelayMs: { min: 0 },
  });
  const rateLimit = group<RateLimitOptions>("rateLimit", options.rateLimit, DEFAULT_RATE_LIMIT, {
    maxWaitMs: { min: 0, infinity: true },
    slowDownBelow: { min: 0, max: 1 },
  });
  const cache =
    options.cache === false
      ? false
      : group<CacheOptions>("cache", options.cache, DEFAULT_CACHE, {
          max: { min: 1, integer: true },
          ttlMs: { min: 1, integer: true },
        });

  const dispatcher = options.dispatcher;
  if (
    dispatcher !== undefined &&
    (dispatcher === null || typeof (dispatcher as { dispatch?: unknown }).dispatch !== "function")
  ) {
    throw new TypeError("PlatformClient option `dispatcher` must be an undici Dispatcher");
  }

  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError("PlatformClient option `signal` must be an AbortSignal");
  }

  const resolved: ResolvedOptions = Object.freeze({
    baseUrl,
    userAgent,
    timeouts,
    retry,
    rateLimit,
    cache,
    random: fn("random", options.random, Math.random),
    sleep: fn("sleep", options.sleep, defaultSleep),
    now: fn("now", options.now, Date.now),
    signal,
  });
  return { resolved, apiKey, dispatcher };
}
