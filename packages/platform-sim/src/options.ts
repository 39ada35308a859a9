/**
 * Simulator options: frozen defaults, explicit limits, and unknown keys rejected by name. The same
 * checks serve the options object (a TypeError) and the admin API's fault settings (a 400).
 */

import {
  checkOptions,
  expected,
  type Issue,
  keyPath,
  type OptionsInput,
  type Static,
  type TProperties,
  Type,
} from "@clearance/options";
import type { FieldProblem } from "@clearance/platform";
import type { FastifyServerOptions } from "fastify";

export const SCOPES = ["upload", "files.read"] as const;
export type Scope = (typeof SCOPES)[number];

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
  virustotalKeys: 100,
  virustotalPerMinute: 1_000_000,
  virustotalPerDay: 1_000_000_000,
  virustotalQueued: 100_000,
});

/** VirusTotal's public API allowance (docs.virustotal.com, "Public vs Premium API"). */
export const VIRUSTOTAL_PUBLIC_QUOTA = Object.freeze({ perMinute: 4, perDay: 500 });

const Group = <P extends TProperties>(properties: P) =>
  Type.Object(properties, { additionalProperties: false });

const SEED = { minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER };
const PRINTABLE_KEY = `^[\\x21-\\x7e]{1,${LIMITS.keyLength}}$`;

const KEY = Group({
  /** the Bearer token */
  key: Type.String({ pattern: PRINTABLE_KEY }),
  /** checked below: a list of SCOPES, repeats dropped */
  scopes: Type.Unsafe<readonly Scope[]>({ type: "array" }),
  /** analyses per calendar month (UTC) */
  quota: Type.Integer({ minimum: 0, maximum: LIMITS.quota, default: 1000 }),
});

const RATE_LIMIT = Group({
  /** requests per window and key */
  limit: Type.Integer({ minimum: 1, maximum: LIMITS.rateLimit, default: 600 }),
  /** window length; windows are aligned to multiples of it since the epoch */
  windowMs: Type.Integer({ minimum: 1000, maximum: LIMITS.windowMs, default: 60_000 }),
});

const WEBHOOK = Group({
  /** checked below: an http or https URL */
  url: Type.String(),
  secret: Type.String({ minLength: 1 }),
});

const WEBHOOK_RETRY = Group({
  /** attempts per delivery, the first included */
  attempts: Type.Integer({ minimum: 1, maximum: LIMITS.webhookAttempts, default: 5 }),
  /** the wait before the second attempt; it doubles for each later one */
  baseDelayMs: Type.Integer({ minimum: 0, maximum: LIMITS.webhookDelayMs, default: 1000 }),
  /** an attempt without an answer after this long fails (the contract says 10 s) */
  timeoutMs: Type.Integer({ minimum: 1, maximum: LIMITS.webhookTimeoutMs, default: 10_000 }),
});

const VIRUSTOTAL_KEY = Group({
  /** sent as `x-apikey` */
  key: Type.String({ pattern: PRINTABLE_KEY }),
  /** requests a minute (a premium key: as configured; default the public 4) */
  perMinute: Type.Integer({
    minimum: 1,
    maximum: LIMITS.virustotalPerMinute,
    default: VIRUSTOTAL_PUBLIC_QUOTA.perMinute,
  }),
  /** requests a UTC day (default the public 500) */
  perDay: Type.Integer({
    minimum: 1,
    maximum: LIMITS.virustotalPerDay,
    default: VIRUSTOTAL_PUBLIC_QUOTA.perDay,
  }),
});

/** The VirusTotal v3 mode: `GET /api/v3/files/{md5|sha1|sha256}` beside the platform's routes. */
const VIRUSTOTAL = Group({
  /** keys and their quotas; default one public key `sim_vt_key` */
  keys: Type.Array(VIRUSTOTAL_KEY, {
    minItems: 1,
    maxItems: LIMITS.virustotalKeys,
    default: [{ key: "sim_vt_key" }],
  }),
  /** SHA-256s VirusTotal knows whose analysis is still queued (as are files pending here) */
  queued: Type.Array(Type.String({ pattern: "^[0-9a-fA-F]{64}$" }), {
    maxItems: LIMITS.virustotalQueued,
    default: [],
  }),
});

/** Faults applied to the platform's routes (never to `/_sim/`), drawn from a seeded PRNG. */
const FAULT_SETTINGS = Group({
  /** delay before each request is handled */
  latencyMs: Type.Integer({ minimum: 0, maximum: LIMITS.latencyMs, default: 0 }),
  /** share of requests answered `500 internal_error` or `503 unavailable`, unprocessed */
  errorRate: Type.Number({ minimum: 0, maximum: 1, default: 0 }),
  /** share of requests whose socket is destroyed without an answer, unprocessed */
  dropRate: Type.Number({ minimum: 0, maximum: 1, default: 0 }),
  /** share of requests processed, then answered with the headers and half the body, then cut */
  truncateRate: Type.Number({ minimum: 0, maximum: 1, default: 0 }),
  /** the next n requests get `429 rate_limited` */
  rateLimitStorm: Type.Integer({ minimum: 0, maximum: LIMITS.rateLimitStorm, default: 0 }),
  /** only requests whose path starts with this prefix (for example `/v1/upload`) */
  only: Type.Union([Type.String({ pattern: "^/" }), Type.Null()], { default: null }),
  /** re-seeds the fault PRNG (default: the simulator's seed) */
  seed: Type.Optional(Type.Integer(SEED)),
});

/** The simulator's options, declared once: their types, their checks and their defaults. */
const SIMULATOR_OPTIONS = Group({
  /** API keys; default one key `sim_key_full` with both scopes */
  keys: Type.Array(KEY, {
    maxItems: LIMITS.keys,
    default: [{ key: DEFAULT_KEY, scopes: [...SCOPES] }],
  }),
  /** how long an analysis runs; 0 completes it within `complete` */
  analysisDelayMs: Type.Integer({ minimum: 0, maximum: LIMITS.analysisDelayMs, default: 2000 }),
  /** how long an upload URL accepts bytes */
  uploadUrlTtlMs: Type.Integer({ minimum: 1, maximum: LIMITS.uploadUrlTtlMs, default: 900_000 }),
  rateLimit: RATE_LIMIT,
  /** completed analyses present from the start */
  seedFiles: Type.Integer({ minimum: 0, maximum: LIMITS.seedFiles, default: 0 }),
  /** seeds results, seeded files, ids and faults */
  seed: Type.Integer({ ...SEED, default: 42 }),
  /** URLs that receive `analysis.completed` deliveries */
  webhooks: Type.Array(WEBHOOK, { maxItems: LIMITS.webhooks, default: [] }),
  webhookRetry: WEBHOOK_RETRY,
  /** faults in force from the start (and after `POST /_sim/reset`) */
  faults: FAULT_SETTINGS,
  /** the clock (epoch milliseconds): timestamps, expiry, quotas, rate windows, analysis delays */
  now: Type.Unsafe<() => number>({ type: "function", default: Date.now }),
  /** base of upload URLs; default (null): the scheme and Host of the `POST /v1/upload` request */
  baseUrl: Type.Union([Type.String(), Type.Null()], { default: null }),
  /** the VirusTotal v3 mode, off by default (null) */
  virustotal: Type.Union([VIRUSTOTAL, Type.Null()], { default: null }),
  /** fastify's logger option */
  logger: Type.Unsafe<FastifyServerOptions["logger"]>({ default: false }),
});

type Declared = Static<typeof SIMULATOR_OPTIONS>;

export type ResolvedKey = Readonly<Static<typeof KEY>>;
export type KeyOptions = Pick<Static<typeof KEY>, "key" | "scopes"> &
  OptionsInput<Omit<Static<typeof KEY>, "key" | "scopes">>;
export type RateLimitOptions = Static<typeof RATE_LIMIT>;
export type VirusTotalKeyOptions = OptionsInput<Static<typeof VIRUSTOTAL_KEY>>;
export type VirusTotalOptions = {
  keys?: readonly (Pick<Static<typeof VIRUSTOTAL_KEY>, "key"> & VirusTotalKeyOptions)[];
  queued?: readonly string[];
};
export type ResolvedVirusTotal = Readonly<{
  keys: readonly Readonly<Static<typeof VIRUSTOTAL_KEY>>[];
  queued: readonly string[];
}>;
export type WebhookTarget = Static<typeof WEBHOOK>;
export type WebhookRetryOptions = OptionsInput<Static<typeof WEBHOOK_RETRY>>;
export type FaultSettings = OptionsInput<Static<typeof FAULT_SETTINGS>>;
/** Fault settings as in force: every field present. */
export type Faults = Omit<Static<typeof FAULT_SETTINGS>, "seed">;

export type SimulatorOptions = OptionsInput<
  Omit<Declared, "keys" | "webhooks" | "logger" | "virustotal">
> & {
  keys?: readonly KeyOptions[];
  virustotal?: VirusTotalOptions | null;
  webhooks?: readonly WebhookTarget[];
  logger?: FastifyServerOptions["logger"];
};

export interface StartOptions extends SimulatorOptions {
  /** default 127.0.0.1 */
  host?: string;
  /** default 9090; 0 picks a free port */
  port?: number;
}

export type ResolvedOptions = Readonly<
  Omit<Declared, "keys" | "webhooks" | "faults" | "rateLimit" | "webhookRetry" | "virustotal"> & {
    keys: readonly ResolvedKey[];
    virustotal: ResolvedVirusTotal | null;
    webhooks: readonly Readonly<WebhookTarget>[];
    faults: Readonly<Faults>;
    rateLimit: Readonly<RateLimitOptions>;
    webhookRetry: Readonly<Static<typeof WEBHOOK_RETRY>>;
  }
>;

export const NO_FAULTS: Readonly<Faults> = (() => {
  const { seed: _none, ...faults } = checkOptions(FAULT_SETTINGS, {}).value;
  return Object.freeze(faults);
})();

/** A problem in the simulator's words: the field, then what is wrong with it. */
function problemOf(issue: Issue): FieldProblem {
  const field = keyPath(issue.path);
  switch (issue.kind) {
    case "unknown_key":
      return { field, message: `is not a known option (known: ${(issue.known ?? []).join(", ")})` };
    case "required":
      return { field, message: "is required" };
    case "pattern":
      if (issue.path.at(-1) === "key")
        return { field, message: `must be 1 to ${LIMITS.keyLength} printable ASCII characters` };
      if (issue.path.at(-1) === "only")
        return { field, message: "must be a path prefix starting with `/`, or null" };
      break;
  }
  return { field, message: `must be ${expected(issue)}` };
}

/** The problems of a check, one per field (the first found). */
function problemsOf(issues: readonly Issue[]): FieldProblem[] {
  const seen = new Set<string>();
  const out: FieldProblem[] = [];
  for (const issue of issues) {
    const problem = problemOf(issue);
    if (seen.has(problem.field)) continue;
    seen.add(problem.field);
    out.push(problem);
  }
  return out;
}

function isHttpUrl(value: string): boolean {
  return /^https?:\/\//i.test(value) && URL.canParse(value);
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
  const { value, issues } = checkOptions(FAULT_SETTINGS, raw ?? {});
  if (issues.length > 0) return { ok: false, problems: problemsOf(issues) };
  const { seed, ...faults } = value;
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
  let input: unknown = raw;
  if (raw !== null && typeof raw === "object" && extraKeys.length > 0)
    input = Object.fromEntries(Object.entries(raw).filter(([k]) => !extraKeys.includes(k)));
  const { value: o, issues } = checkOptions(SIMULATOR_OPTIONS, input);
  const problems = problemsOf(issues);
  const fail = (field: string, message: string) => {
    if (!problems.some((p) => p.field === field)) problems.push({ field, message });
  };

  // What a declaration does not say: scopes from SCOPES, keys given once, whole-second windows,
  // URLs, and the fault seed, which is the simulator's own at start.
  const keys: ResolvedKey[] = [];
  const seen = new Set<string>();
  (Array.isArray(o.keys) ? o.keys : []).forEach((k, i) => {
    if (k === null || typeof k !== "object" || typeof k.key !== "string") return;
    const scopes: unknown = k.scopes;
    if (!Array.isArray(scopes) || !scopes.every((s) => (SCOPES as readonly unknown[]).includes(s)))
      fail(`keys[${i}].scopes`, `must be an array of ${SCOPES.join(", ")}`);
    else if (seen.has(k.key)) fail(`keys[${i}].key`, "is given twice");
    else keys.push(Object.freeze({ ...k, scopes: Object.freeze([...new Set(k.scopes)]) }));
    seen.add(k.key);
  });
  if (o.rateLimit?.windowMs !== undefined && o.rateLimit.windowMs % 1000 !== 0)
    // Whole seconds: the headers count the window in seconds.
    fail("rateLimit.windowMs", "must be whole seconds");
  (Array.isArray(o.webhooks) ? o.webhooks : []).forEach((w, i) => {
    if (typeof w?.url === "string" && !isHttpUrl(w.url))
      fail(`webhooks[${i}].url`, "must be an http or https URL");
  });
  const vtKeys = new Set<string>();
  (o.virustotal?.keys ?? []).forEach((k, i) => {
    if (typeof k?.key !== "string") return;
    if (vtKeys.has(k.key)) fail(`virustotal.keys[${i}].key`, "is given twice");
    vtKeys.add(k.key);
  });
  if (o.faults?.seed !== undefined) fail("faults.seed", "is set with the `seed` option at start");
  if (typeof o.baseUrl === "string" && !isHttpUrl(o.baseUrl))
    fail("baseUrl", "must be an http or https URL");

  if (problems.length > 0)
    throw new TypeError(
      `invalid simulator options: ${problems.map((p) => `\`${p.field || "options"}\` ${p.message}`).join("; ")}`,
    );
  const { seed: _seed, ...faults } = o.faults;
  return Object.freeze({
    ...o,
    keys: Object.freeze(keys),
    faults: Object.freeze(faults),
    virustotal:
      o.virustotal === null
        ? null
        : Object.freeze({
            keys: Object.freeze(o.virustotal.keys.map((k) => Object.freeze({ ...k }))),
            queued: Object.freeze(o.virustotal.queued.map((s) => s.toLowerCase())),
          }),
    baseUrl: o.baseUrl?.replace(/\/+$/, "") ?? null,
  });
}
