/**
 * Simulator options: frozen defaults, explicit limits, and unknown keys rejected by name. The same
 * checks serve the options object (a TypeError) and the admin API's fault settings (a 400).
 */

import type { FieldProblem } from "@clearance/platform";
import type { FastifyServerOptions } from "fastify";

export const SCOPES = ["upload", "files.read"] as const;
export type Scope = (typeof SCOPES)[number];

export interface KeyOptions {
  /** the Bearer token */
  key: string;
  scopes: readonly Scope[];
  /** analyses per calendar month (UTC); default 1000 */
  quota?: number;
}

export interface RateLimitOptions {
  /** requests per window and key */
  limit: number;
  /** window length; windows are aligned to multiples of it since the epoch */
  windowMs: number;
}

export interface WebhookTarget {
  url: string;
  secret: string;
}

export interface WebhookRetryOptions {
  /** attempts per delivery, the first included */
  attempts: number;
  /** the wait before the second attempt; it doubles for each later one */
  baseDelayMs: number;
  /** an attempt without an answer after this long fails (the contract says 10 s) */
  timeoutMs?: number;
}

/** Faults applied to the platform's routes (never to `/_sim/`), drawn from a seeded PRNG. */
export interface FaultSettings {
  /** delay before each request is handled */
  latencyMs?: number;
  /** share of requests answered `500 internal_error` or `503 unavailable`, unprocessed */
  errorRate?: number;
  /** share of requests whose socket is destroyed without an answer, unprocessed */
  dropRate?: number;
  /** share of requests processed, then answered with the headers and half the body, then cut */
  truncateRate?: number;
  /** the next n requests get `429 rate_limited` */
  rateLimitStorm?: number;
  /** only requests whose path starts with this prefix (for example `/v1/upload`) */
  only?: string | null;
  /** re-seeds the fault PRNG (default: the simulator's seed) */
  seed?: number;
}

/** Fault settings as in force: every field present. */
export interface Faults {
  latencyMs: number;
  errorRate: number;
  dropRate: number;
  truncateRate: number;
  rateLimitStorm: number;
  only: string | null;
}

export interface SimulatorOptions {
  /** API keys; default one key `sim_key_full` with both scopes and a quota of 1000 */
  keys?: readonly KeyOptions[];
  /** how long an analysis runs; 0 completes it within `complete`; default 2000 */
  analysisDelayMs?: number;
  /** how long an upload URL accepts bytes; default 15 minutes */
  uploadUrlTtlMs?: number;
  /** default 600 requests per 60 s */
  rateLimit?: RateLimitOptions;
  /** completed analyses present from the start; default 0 */
  seedFiles?: number;
  /** seeds results, seeded files, ids and faults; default 42 */
  seed?: number;
  /** URLs that receive `analysis.completed` deliveries */
  webhooks?: readonly WebhookTarget[];
  /** default 5 attempts, 1 s then doubling, 10 s timeout */
  webhookRetry?: WebhookRetryOptions;
  /** faults in force from the start (and after `POST /_sim/reset`) */
  faults?: FaultSettings;
  /** the clock (epoch milliseconds): timestamps, expiry, quotas, rate windows, analysis delays */
  now?: () => number;
  /** base of upload URLs; default: the scheme and Host of the `POST /v1/upload` request */
  baseUrl?: string;
  /** fastify's logger option; default false */
  logger?: FastifyServerOptions["logger"];
}

export interface StartOptions extends SimulatorOptions {
  /** default 127.0.0.1 */
  host?: string;
  /** default 9090; 0 picks a free port */
  port?: number;
}

export interface ResolvedKey {
  readonly key: string;
  readonly scopes: readonly Scope[];
  readonly quota: number;
}

export interface ResolvedOptions {
  readonly keys: readonly ResolvedKey[];
  readonly analysisDelayMs: number;
  readonly uploadUrlTtlMs: number;
  readonly rateLimit: Readonly<RateLimitOptions>;
  readonly seedFiles: number;
  readonly seed: number;
  readonly webhooks: readonly Readonly<WebhookTarget>[];
  readonly webhookRetry: Readonly<Required<WebhookRetryOptions>>;
  readonly faults: Readonly<Faults>;
  readonly now: () => number;
  readonly baseUrl: string | null;
  readonly logger: FastifyServerOptions["logger"];
}

export const DEFAULT_KEY = "sim_key_full";

/** Explicit limits; each has a test. */
export const LIMITS = Object.freeze({
  keys: 1000,
  keyLength: 256,
  quota: 1_000_000_000,
  analysisDelayMs: 86_400_000,
  uploadUrlTtlMs: 7 * 86_400_000,
  rateLimit: 1_000_000_000,
  windowMs: 86_400_000,
  seedFiles: 100_000,
  webhooks: 20,
  webhookAttempts: 20,
  webhookDelayMs: 3_600_000,
  webhookTimeoutMs: 600_000,
  latencyMs: 60_000,
  rateLimitStorm: 1_000_000,
});

export const NO_FAULTS: Readonly<Faults> = Object.freeze({
  latencyMs: 0,
  errorRate: 0,
  dropRate: 0,
  truncateRate: 0,
  rateLimitStorm: 0,
  only: null,
});

const DEFAULTS = Object.freeze({
  analysisDelayMs: 2000,
  uploadUrlTtlMs: 15 * 60_000,
  rateLimit: Object.freeze({ limit: 600, windowMs: 60_000 }),
  seedFiles: 0,
  seed: 42,
  webhookRetry: Object.freeze({ attempts: 5, baseDelayMs: 1000, timeoutMs: 10_000 }),
  quota: 1000,
});

const OPTION_KEYS = [
  "keys",
  "analysisDelayMs",
  "uploadUrlTtlMs",
  "rateLimit",
  "seedFiles",
  "seed",
  "webhooks",
  "webhookRetry",
  "faults",
  "now",
  "baseUrl",
  "logger",
] as const;
const FAULT_KEYS = [
  "latencyMs",
  "errorRate",
  "dropRate",
  "truncateRate",
  "rateLimitStorm",
  "only",
  "seed",
] as const;

/** Collects problems with field paths; the callers decide how to report them. */
class Checker {
  readonly problems: FieldProblem[] = [];

  fail(field: string, message: string): void {
    this.problems.push({ field, message });
  }

  /** The value as a plain object, with its unknown keys reported; undefined when it is not one. */
  object(
    value: unknown,
    field: string,
    known: readonly string[],
  ): Record<string, unknown> | undefined {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      this.fail(field, "must be an object");
      return undefined;
    }
    for (const key of Object.keys(value))
      if (!known.includes(key))
        this.fail(join(field, key), `is not a known option (known: ${known.join(", ")})`);
    return value as Record<string, unknown>;
  }

  integer(value: unknown, field: string, min: number, max: number, fallback: number): number {
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
      this.fail(field, `must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  rate(value: unknown, field: string): number {
    if (value === undefined) return 0;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 1) {
      this.fail(field, "must be a number from 0 to 1");
      return 0;
    }
    return value;
  }

  url(value: unknown, field: string): string | undefined {
    if (typeof value === "string" && /^https?:\/\//i.test(value) && URL.canParse(value))
      return value;
    this.fail(field, "must be an http or https URL");
    return undefined;
  }
}

function join(parent: string, key: string | number): string {
  if (typeof key === "number") return `${parent}[${key}]`;
  return parent === "" ? key : `${parent}.${key}`;
}

function checkFaults(c: Checker, raw: unknown, field: string): Faults & { seed?: number } {
  const o = c.object(raw, field, FAULT_KEYS);
  if (o === undefined) return { ...NO_FAULTS };
  let only: string | null = null;
  if (o.only !== undefined && o.only !== null) {
    if (typeof o.only === "string" && o.only.startsWith("/")) only = o.only;
    else c.fail(join(field, "only"), "must be a path prefix starting with `/`, or null");
  }
  const faults: Faults & { seed?: number } = {
    latencyMs: c.integer(o.latencyMs, join(field, "latencyMs"), 0, LIMITS.latencyMs, 0),
    errorRate: c.rate(o.errorRate, join(field, "errorRate")),
    dropRate: c.rate(o.dropRate, join(field, "dropRate")),
    truncateRate: c.rate(o.truncateRate, join(field, "truncateRate")),
    rateLimitStorm: c.integer(
      o.rateLimitStorm,
      join(field, "rateLimitStorm"),
      0,
      LIMITS.rateLimitStorm,
      0,
    ),
    only,
  };
  if (o.seed !== undefined)
    faults.seed = c.integer(o.seed, join(field, "seed"), Number.MIN_SAFE_INTEGER, 2 ** 53 - 1, 0);
  return faults;
}

/**
 * Checks fault settings sent to the admin API: the faults and the optional PRNG seed, or the
 * problems found (field names relative to the body).
 */
export function parseFaults(
  raw: unknown,
):
  | { ok: true; faults: Readonly<Faults>; seed: number | undefined }
  | { ok: false; problems: FieldProblem[] } {
  const c = new Checker();
  const { seed, ...faults } = checkFaults(c, raw ?? {}, "");
  if (c.problems.length > 0) return { ok: false, problems: c.problems };
  return { ok: true, faults: Object.freeze(faults), seed };
}

/**
 * Validates options and fills in the defaults; the result is deeply frozen. Throws a TypeError that
 * names every bad or unknown option (`extraKeys` are accepted and left to the caller).
 */
export function resolveOptions(
  raw: SimulatorOptions = {},
  extraKeys: readonly string[] = [],
): ResolvedOptions {
  const c = new Checker();
  const o = c.object(raw, "", [...OPTION_KEYS, ...extraKeys]) ?? {};

  let keys: ResolvedKey[] = [
    Object.freeze({
      key: DEFAULT_KEY,
      scopes: Object.freeze(["upload", "files.read"] as Scope[]),
      quota: DEFAULTS.quota,
    }),
  ];
  if (o.keys !== undefined) {
    if (!Array.isArray(o.keys) || o.keys.length > LIMITS.keys) {
      c.fail("keys", `must be an array of at most ${LIMITS.keys} keys`);
    } else {
      keys = [];
      const seen = new Set<string>();
      o.keys.forEach((rawKey: unknown, i: number) => {
        const field = join("keys", i);
        const k = c.object(rawKey, field, ["key", "scopes", "quota"]);
        if (k === undefined) return;
        const key = k.key;
        if (
          typeof key !== "string" ||
          key.length === 0 ||
          key.length > LIMITS.keyLength ||
          !/^[\x21-\x7e]+$/.test(key)
        ) {
          c.fail(join(field, "key"), `must be 1 to ${LIMITS.keyLength} printable ASCII characters`);
          return;
        }
        if (seen.has(key)) c.fail(join(field, "key"), "is given twice");
        seen.add(key);
        const scopes = k.scopes;
        if (
          !Array.isArray(scopes) ||
          !scopes.every((s) => (SCOPES as readonly unknown[]).includes(s))
        ) {
          c.fail(join(field, "scopes"), `must be an array of ${SCOPES.join(", ")}`);
          return;
        }
        const quota = c.integer(k.quota, join(field, "quota"), 0, LIMITS.quota, DEFAULTS.quota);
        keys.push(
          Object.freeze({ key, scopes: Object.freeze([...new Set(scopes as Scope[])]), quota }),
        );
      });
    }
  }

  let rateLimit: RateLimitOptions = DEFAULTS.rateLimit;
  if (o.rateLimit !== undefined) {
    const r = c.object(o.rateLimit, "rateLimit", ["limit", "windowMs"]);
    if (r !== undefined) {
      rateLimit = Object.freeze({
        limit: c.integer(r.limit, "rateLimit.limit", 1, LIMITS.rateLimit, DEFAULTS.rateLimit.limit),
        windowMs: c.integer(r.windowMs, "rateLimit.windowMs", 1000, LIMITS.windowMs, 60_000),
      });
      // Whole seconds: the headers count the window in seconds.
      if (rateLimit.windowMs % 1000 !== 0) c.fail("rateLimit.windowMs", "must be whole seconds");
    }
  }

  const webhooks: Readonly<WebhookTarget>[] = [];
  if (o.webhooks !== undefined) {
    if (!Array.isArray(o.webhooks) || o.webhooks.length > LIMITS.webhooks) {
      c.fail("webhooks", `must be an array of at most ${LIMITS.webhooks} targets`);
    } else {
      o.webhooks.forEach((rawTarget: unknown, i: number) => {
        const field = join("webhooks", i);
        const w = c.object(rawTarget, field, ["url", "secret"]);
        if (w === undefined) return;
        const url = c.url(w.url, join(field, "url"));
        if (typeof w.secret !== "string" || w.secret.length === 0)
          c.fail(join(field, "secret"), "must be a non-empty string");
        else if (url !== undefined) webhooks.push(Object.freeze({ url, secret: w.secret }));
      });
    }
  }

  let webhookRetry: Required<WebhookRetryOptions> = DEFAULTS.webhookRetry;
  if (o.webhookRetry !== undefined) {
    const r = c.object(o.webhookRetry, "webhookRetry", ["attempts", "baseDelayMs", "timeoutMs"]);
    if (r !== undefined)
      webhookRetry = Object.freeze({
        attempts: c.integer(r.attempts, "webhookRetry.attempts", 1, LIMITS.webhookAttempts, 5),
        baseDelayMs: c.integer(
          r.baseDelayMs,
          "webhookRetry.baseDelayMs",
          0,
          LIMITS.webhookDelayMs,
          1000,
        ),
        timeoutMs: c.integer(
          r.timeoutMs,
          "webhookRetry.timeoutMs",
          1,
          LIMITS.webhookTimeoutMs,
          10_000,
        ),
      });
  }

  let faults: Readonly<Faults> = NO_FAULTS;
  if (o.faults !== undefined) {
    const { seed: _ignored, ...f } = checkFaults(c, o.faults, "faults");
    if (_ignored !== undefined) c.fail("faults.seed", "is set with the `seed` option at start");
    faults = Object.freeze(f);
  }

  if (o.now !== undefined && typeof o.now !== "function") c.fail("now", "must be a function");
  let baseUrl: string | null = null;
  if (o.baseUrl !== undefined) baseUrl = c.url(o.baseUrl, "baseUrl")?.replace(/\/+$/, "") ?? null;

  const resolved: ResolvedOptions = Object.freeze({
    keys: Object.freeze(keys),
    analysisDelayMs: c.integer(
      o.analysisDelayMs,
      "analysisDelayMs",
      0,
      LIMITS.analysisDelayMs,
      DEFAULTS.analysisDelayMs,
    ),
    uploadUrlTtlMs: c.integer(
      o.uploadUrlTtlMs,
      "uploadUrlTtlMs",
      1,
      LIMITS.uploadUrlTtlMs,
      DEFAULTS.uploadUrlTtlMs,
    ),
    rateLimit,
    seedFiles: c.integer(o.seedFiles, "seedFiles", 0, LIMITS.seedFiles, DEFAULTS.seedFiles),
    seed: c.integer(o.seed, "seed", Number.MIN_SAFE_INTEGER, 2 ** 53 - 1, DEFAULTS.seed),
    webhooks: Object.freeze(webhooks),
    webhookRetry,
    faults,
    now: (o.now as (() => number) | undefined) ?? Date.now,
    baseUrl,
    logger: (o.logger as FastifyServerOptions["logger"]) ?? false,
  });
  if (c.problems.length > 0)
    throw new TypeError(
      `invalid simulator options: ${c.problems.map((p) => `\`${p.field || "options"}\` ${p.message}`).join("; ")}`,
    );
  return resolved;
}
