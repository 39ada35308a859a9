/**
 * `PlatformClient` options: defaults, validation (a TypeError naming the option for an unknown key
 * or a bad value) and freezing.
 */
import { readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import {
  defaultsOf,
  type OptionsInput,
  resolveOptions as resolveShared,
  type Static,
  type TProperties,
  Type,
  Unlimited,
} from "@clearance/options";
import type { Dispatcher } from "undici";

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

/** An object of options that refuses keys it does not declare. */
export const Group = <P extends TProperties>(properties: P) =>
  Type.Object(properties, { additionalProperties: false });

/** undici timeouts, in milliseconds. */
export const TIMEOUTS = Group({
  /** Establishing a connection (TCP and TLS). Applies to the client's own dispatcher only. */
  connectMs: Type.Integer({ minimum: 1, default: 10_000 }),
  /** From the end of the request to the complete response headers. */
  headersMs: Type.Integer({ minimum: 1, default: 30_000 }),
  /** The longest silence while a response body is received. */
  bodyMs: Type.Integer({ minimum: 1, default: 30_000 }),
});

export const RETRY = Group({
  /** Sends of one request in all, the first included (1 = never retry). */
  attempts: Type.Integer({ minimum: 1, maximum: 100, default: 4 }),
  /** Ceiling of the first retry delay; doubles with each retry (full jitter below it). */
  baseDelayMs: Type.Number({ minimum: 0, default: 500 }),
  /** Ceiling of any retry delay. */
  maxDelayMs: Type.Number({ minimum: 0, default: 20_000 }),
});

const RATE_LIMIT = Group({
  /** The most one request waits on 429 answers, summed over its retries, before RateLimitedError. */
  maxWaitMs: Type.Union([Type.Number({ minimum: 0 }), Unlimited], { default: 120_000 }),
  /**
   * When the remaining fraction of the window (`remaining / limit`) falls below this, requests are
   * spaced out evenly until the window resets, rather than sent at once into 429s. 0 disables it.
   */
  slowDownBelow: Type.Number({ minimum: 0, maximum: 1, default: 0.1 }),
});

const CACHE = Group({
  /** Completed results kept (least recently used go first). */
  max: Type.Integer({ minimum: 1, default: 10_000 }),
  /** How long a cached result is served without asking the platform again. */
  ttlMs: Type.Integer({ minimum: 1, default: 300_000 }),
});

const defaultSleep = (ms: number): Promise<void> => delay(ms);

/**
 * The client's options, declared once. What is not data (the base URL, which may be a URL object,
 * the dispatcher, the signal) is declared for its type and checked in `resolveOptions`.
 */
const CLIENT_OPTIONS = Group({
  /** The platform's base URL, e.g. `https://api.platform.example` (a path prefix is kept). */
  baseUrl: Type.Optional(Type.Unsafe<string | URL>({})),
  /** Sent as `Authorization: Bearer <apiKey>` (never to upload URLs, never in messages). */
  apiKey: Type.Optional(Type.String()),
  /** Default `clearance/<version> (+https://clearance.dev)`. */
  userAgent: Type.String({ minLength: 1, default: DEFAULT_USER_AGENT }),
  timeouts: TIMEOUTS,
  retry: RETRY,
  rateLimit: RATE_LIMIT,
  /** Cache of completed results by SHA-256; `false` disables it. */
  cache: Type.Union([CACHE, Type.Literal(false)], { default: {} }),
  /** Random numbers in [0, 1) for the backoff jitter (default `Math.random`). */
  random: Type.Unsafe<() => number>({ type: "function", default: Math.random }),
  /** Waits `ms` milliseconds (default a timer); injectable for tests. */
  sleep: Type.Unsafe<(ms: number) => Promise<void>>({ type: "function", default: defaultSleep }),
  /** The current time in epoch milliseconds (default `Date.now`); injectable for tests. */
  now: Type.Unsafe<() => number>({ type: "function", default: Date.now }),
  /**
   * The undici dispatcher to send with. By default the client creates a keep-alive Agent and
   * `close()` closes it; a dispatcher given here is the caller's to close.
   */
  dispatcher: Type.Optional(Type.Unsafe<Dispatcher>({})),
  /**
   * Stops everything the client does when it fires: requests (also while their bodies arrive),
   * waits between polls and retries, file reads. The call in progress, and every later one,
   * rejects with `AbortedError`. One signal for a whole run is a deadline for it
   * (`AbortSignal.timeout(ms)`), however slowly the platform answers.
   */
  signal: Type.Optional(Type.Unsafe<AbortSignal>({})),
});

export type Timeouts = Static<typeof TIMEOUTS>;
export type RetryOptions = Static<typeof RETRY>;
export type RateLimitOptions = Static<typeof RATE_LIMIT>;
export type CacheOptions = Static<typeof CACHE>;

type Declared = Static<typeof CLIENT_OPTIONS>;
/** Values given whole, never merged over defaults. */
type Given = "baseUrl" | "apiKey" | "dispatcher" | "signal";

/** What `new PlatformClient(...)` takes: any option but `baseUrl` and `apiKey` may be left out. */
export type PlatformClientOptions = OptionsInput<Omit<Declared, Given>> &
  Required<Pick<Declared, "baseUrl" | "apiKey">> &
  Pick<Declared, "dispatcher" | "signal">;

/** The options in force (the API key is left out: it is kept privately, and never printed). */
export type ResolvedOptions = Readonly<
  Omit<Declared, Given> & {
    /** Without a trailing slash. */
    baseUrl: string;
    signal: AbortSignal | undefined;
  }
>;

export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = defaultsOf(TIMEOUTS);
export const DEFAULT_RETRY: Readonly<RetryOptions> = defaultsOf(RETRY);
export const DEFAULT_RATE_LIMIT: Readonly<RateLimitOptions> = defaultsOf(RATE_LIMIT);
export const DEFAULT_CACHE: Readonly<CacheOptions> = defaultsOf(CACHE);

/**
 * Checks what every client of this package connects with (`baseUrl`, `apiKey`, `userAgent`,
 * `dispatcher`, `signal`), naming `client` in each TypeError; gives the base URL without a
 * trailing slash, and the key.
 */
export function checkConnection(
  client: string,
  rawBase: unknown,
  apiKey: unknown,
  userAgent: string,
  dispatcher: unknown,
  signal: unknown,
): { baseUrl: string; apiKey: string } {
  let base: URL;
  try {
    if (typeof rawBase !== "string" && !(rawBase instanceof URL)) throw new Error();
    base = new URL(String(rawBase));
  } catch {
    throw new TypeError(
      `${client} option \`baseUrl\` must be an http or https URL, got \`${String(rawBase)}\``,
    );
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new TypeError(
      `${client} option \`baseUrl\` must be an http or https URL, got \`${base.href}\``,
    );
  }
  if (base.search !== "" || base.hash !== "" || base.username !== "" || base.password !== "") {
    throw new TypeError(
      `${client} option \`baseUrl\` must not have a query, a fragment or credentials (the API key goes in \`apiKey\`)`,
    );
  }
  if (
    typeof apiKey !== "string" ||
    apiKey.trim() === "" ||
    /[\s\u0000-\u001f\u007f]/.test(apiKey)
  ) {
    throw new TypeError(
      `${client} option \`apiKey\` must be a non-empty string without spaces or control characters`,
    );
  }
  if (/[\r\n\u0000]/.test(userAgent)) {
    throw new TypeError(`${client} option \`userAgent\` must be a non-empty single-line string`);
  }
  if (
    dispatcher !== undefined &&
    (dispatcher === null || typeof (dispatcher as { dispatch?: unknown }).dispatch !== "function")
  ) {
    throw new TypeError(`${client} option \`dispatcher\` must be an undici Dispatcher`);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`${client} option \`signal\` must be an AbortSignal`);
  }
  return { baseUrl: `${base.origin}${base.pathname.replace(/\/+$/, "")}`, apiKey };
}

/** Validates and freezes the options. Throws a TypeError naming the offending options. */
export function resolveOptions(options: PlatformClientOptions): {
  resolved: ResolvedOptions;
  apiKey: string;
  dispatcher: Dispatcher | undefined;
} {
  const {
    baseUrl: rawBase,
    apiKey,
    dispatcher,
    signal,
    ...data
  } = resolveShared(CLIENT_OPTIONS, options, { noun: "PlatformClient option" });

  const connection = checkConnection(
    "PlatformClient",
    rawBase,
    apiKey,
    data.userAgent,
    dispatcher,
    signal,
  );

  const resolved: ResolvedOptions = Object.freeze({
    ...data,
    baseUrl: connection.baseUrl,
    signal,
  });
  return { resolved, apiKey: connection.apiKey, dispatcher };
}
