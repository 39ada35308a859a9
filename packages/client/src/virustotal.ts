/**
 * `VirusTotalClient`: file reports from the VirusTotal v3 API (`GET /api/v3/files/{id}` with the
 * key in `x-apikey`: docs.virustotal.com/reference/file-info), within the key's quotas.
 *
 * VirusTotal counts every request against a per-minute and a per-day quota (the public API: 4 a
 * minute and 500 a day, the daily one reset at 00:00 UTC; premium keys: as agreed), and answers
 * `429 QuotaExceededError` past either, without saying which (docs.virustotal.com/reference/errors).
 * So the client keeps its own count and waits before sending rather than after being refused: no
 * more than `quota.perMinute` requests in any 60 s, and no request once `quota.perDay` were sent
 * in the UTC day. A 429 all the same (the key is shared, or was used before this client started)
 * is waited out for a minute; a second 429 right after a full minute's wait can only be the daily
 * (or monthly) quota, and the day is over for this client.
 *
 * A file is looked up by its MD5, SHA-1 or SHA-256, as VirusTotal takes any of them; a report is
 * always the file's, keyed by its SHA-256, and one that does not carry the hash asked for is refused.
 *
 * Every lookup has one of five outcomes, and only a report is something to decide on: a file whose
 * analysis is still queued (no `last_analysis_date`, no engine results) is `queued`, never a report.
 */
import { setTimeout as delay } from "node:timers/promises";
import {
  type OptionsInput,
  resolveOptions as resolveShared,
  type Static,
  Type,
  Unlimited,
} from "@clearance/options";
import { LRUCache } from "lru-cache";
import { Agent, type Dispatcher, request } from "undici";
import { backoffDelay, checkSignal, sleepUnlessAborted } from "./backoff.js";
import {
  InvalidApiKeyError,
  InvalidResponseError,
  PlatformError,
  PlatformUnavailableError,
  RequestRejectedError,
} from "./errors.js";
import { checkConnection, DEFAULT_USER_AGENT, Group, RETRY, TIMEOUTS } from "./options.js";

/** VirusTotal's public API allowance (docs.virustotal.com, "Public vs Premium API"). */
export const VIRUSTOTAL_PUBLIC_QUOTA = Object.freeze({ perMinute: 4, perDay: 500 });
export const VIRUSTOTAL_URL = "https://www.virustotal.com";

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const HEX64 = /^[0-9a-fA-F]{64}$/;
/** The hashes VirusTotal knows a file by, by their length in hexadecimal digits. */
const HASH_KINDS = new Map([
  [32, "md5"],
  [40, "sha1"],
  [64, "sha256"],
] as const);

/** `md5`, `sha1` or `sha256` for a hash of 32, 40 or 64 hexadecimal digits; undefined otherwise. */
export function virustotalHashKind(hash: string): "md5" | "sha1" | "sha256" | undefined {
  return typeof hash === "string" && /^[0-9a-fA-F]+$/.test(hash)
    ? HASH_KINDS.get(hash.length as 32 | 40 | 64)
    : undefined;
}

const QUOTA = Group({
  /** requests in any 60 s */
  perMinute: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
  /** requests in a UTC day */
  perDay: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }),
});

const CACHE = Group({
  /** hashes kept, a report under each of its SHA-256, MD5 and SHA-1 (least recently used go first) */
  max: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 10_000 }),
  /** how long a report is served without asking VirusTotal again */
  ttlMs: Type.Integer({ minimum: 1, default: 3_600_000 }),
});

const VT_OPTIONS = Group({
  /** default `https://www.virustotal.com`; the simulator's URL in tests */
  baseUrl: Type.Union([Type.String(), Type.Unsafe<URL>({})], { default: VIRUSTOTAL_URL }),
  /** sent as `x-apikey` (never in messages) */
  apiKey: Type.Optional(Type.String()),
  /** `public` (4 a minute, 500 a day) or a premium key's quotas */
  quota: Type.Union([Type.Literal("public"), QUOTA], { default: "public" }),
  /** reports by the file's hashes; `false` disables it */
  cache: Type.Union([CACHE, Type.Literal(false)], { default: {} }),
  timeouts: TIMEOUTS,
  retry: RETRY,
  userAgent: Type.String({ minLength: 1, default: DEFAULT_USER_AGENT }),
  random: Type.Unsafe<() => number>({ type: "function", default: Math.random }),
  /**
   * The most one lookup waits for the minute quota (its own count, and a 429's minute), in all;
   * past it the outcome is `rate_limited` with the wait left. A server answering requests sets it
   * low; a batch leaves it unlimited.
   */
  maxWaitMs: Type.Union([Type.Integer({ minimum: 0 }), Unlimited], {
    default: Number.POSITIVE_INFINITY,
  }),
  sleep: Type.Unsafe<(ms: number) => Promise<void>>({
    type: "function",
    default: (ms: number) => delay(ms),
  }),
  now: Type.Unsafe<() => number>({ type: "function", default: Date.now }),
  dispatcher: Type.Optional(Type.Unsafe<Dispatcher>({})),
  signal: Type.Optional(Type.Unsafe<AbortSignal>({})),
});

type Declared = Static<typeof VT_OPTIONS>;
type Given = "baseUrl" | "apiKey" | "dispatcher" | "signal" | "quota";

export type VirusTotalQuota = Static<typeof QUOTA>;

/** What `new VirusTotalClient(...)` takes: the key, and any option to change. */
export type VirusTotalClientOptions = OptionsInput<Omit<Declared, Given>> & {
  apiKey: string;
  baseUrl?: string | URL;
  quota?: "public" | VirusTotalQuota;
  dispatcher?: Dispatcher;
  signal?: AbortSignal;
};

export type ResolvedVirusTotalOptions = Readonly<
  Omit<Declared, Given> & {
    baseUrl: string;
    quota: Readonly<VirusTotalQuota>;
    signal: AbortSignal | undefined;
  }
>;

/** A VirusTotal v3 file object as answered (`{"data": {"type": "file", "id", "attributes"}}`). */
export interface VirusTotalFileObject {
  data: { type: "file"; id: string; attributes: Record<string, unknown>; [key: string]: unknown };
}

/**
 * What a lookup found. Only a `report` is to be decided on. `id` is the hash asked for (an MD5,
 * SHA-1 or SHA-256, in lower case); a report's `sha256` is the file's, whichever hash was asked.
 */
export type VirusTotalOutcome =
  | {
      kind: "report";
      id: string;
      sha256: string;
      report: VirusTotalFileObject;
      /** served from the cache, no request sent */
      cached: boolean;
    }
  /** VirusTotal has never seen the file (404 NotFoundError) */
  | { kind: "not_found"; id: string }
  /** VirusTotal knows the file but its analysis is still queued: nothing to decide on yet */
  | { kind: "queued"; id: string }
  /** the key's daily quota is used up: no request was sent, or VirusTotal refused it */
  | { kind: "quota_exhausted"; id: string; resetsAt: string }
  /** the minute's quota is used up and waiting for it would pass `maxWaitMs`: nothing was sent */
  | { kind: "rate_limited"; id: string; retryAfterMs: number };

interface Slot {
  at: number | null;
  answered: Promise<void>;
  answer: () => void;
}

function newSlot(): Slot {
  let answer!: () => void;
  const answered = new Promise<void>((resolve) => {
    answer = resolve;
  });
  return { at: null, answered, answer };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    e = e.cause;
  }
  return undefined;
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

/**
 * Whether a VirusTotal file object describes a finished analysis: a `last_analysis_date` and at
 * least one engine in `last_analysis_results`. A freshly submitted file has neither until its
 * analysis (`GET /api/v3/analyses/{id}`, status `queued` then `completed`) is done.
 */
export function isAnalysed(attributes: Record<string, unknown>): boolean {
  const date = attributes.last_analysis_date;
  const results = attributes.last_analysis_results;
  const dated =
    (typeof date === "number" && date > 0) || (typeof date === "string" && /^\d+$/.test(date));
  return dated && isObject(results) && Object.keys(results).length > 0;
}

function resolveOptions(options: VirusTotalClientOptions): {
  resolved: ResolvedVirusTotalOptions;
  apiKey: string;
  dispatcher: Dispatcher | undefined;
} {
  const {
    baseUrl: rawBase,
    apiKey,
    dispatcher,
    signal,
    quota,
    ...data
  } = resolveShared(VT_OPTIONS, options, { noun: "VirusTotalClient option" });
  const connection = checkConnection(
    "VirusTotalClient",
    rawBase,
    apiKey,
    data.userAgent,
    dispatcher,
    signal,
  );
  const resolved: ResolvedVirusTotalOptions = Object.freeze({
    ...data,
    baseUrl: connection.baseUrl,
    quota: Object.freeze(quota === "public" ? { ...VIRUSTOTAL_PUBLIC_QUOTA } : { ...quota }),
    signal,
  });
  return { resolved, apiKey: connection.apiKey, dispatcher };
}

/** The lower-case SHA-256 of a file object `#fileObject` accepted. */
function sha256Of(report: VirusTotalFileObject): string {
  const { sha256 } = report.data.attributes;
  return (typeof sha256 === "string" ? sha256 : report.data.id).toLowerCase();
}

/** The report's own MD5 and SHA-1 (lower case), those that are well formed. */
function otherHashes(report: VirusTotalFileObject): string[] {
  const { attributes } = report.data;
  return (["md5", "sha1"] as const).flatMap((kind) => {
    const hash = attributes[kind];
    return typeof hash === "string" && virustotalHashKind(hash) === kind
      ? [hash.toLowerCase()]
      : [];
  });
}

/** The start of the next UTC day after `ms`, as RFC 3339. */
function nextUtcDay(ms: number): string {
  return new Date((Math.floor(ms / DAY_MS) + 1) * DAY_MS).toISOString();
}

export class VirusTotalClient {
  readonly options: ResolvedVirusTotalOptions;
  /**
   * Reports by each of the file's lower-case hashes (its SHA-256, MD5 and SHA-1, as the report
   * says): a report asked by one is served to the others; undefined when `cache: false`.
   */
  readonly cache: LRUCache<string, VirusTotalFileObject> | undefined;

  readonly #apiKey: string;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  /**
   * The requests of the last minute, oldest first, each timed from its answer (`at`; null while in
   * flight): VirusTotal counts a request when it arrives, which is no later than its answer, so a
   * minute counted from the answer is never shorter than VirusTotal's.
   */
  #sent: Slot[] = [];
  #day = -1;
  #inDay = 0;
  /** reservations are taken one at a time, so concurrent lookups share the quota in order */
  #turn: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: VirusTotalClientOptions) {
    const { resolved, apiKey, dispatcher } = resolveOptions(options);
    this.options = resolved;
    this.#apiKey = apiKey;
    this.#ownsDispatcher = dispatcher === undefined;
    this.#dispatcher =
      dispatcher ??
      new Agent({
        keepAliveTimeout: 10_000,
        connect: { timeout: resolved.timeouts.connectMs },
        headersTimeout: resolved.timeouts.headersMs,
        bodyTimeout: resolved.timeouts.bodyMs,
      });
    this.cache =
      resolved.cache === false
        ? undefined
        : new LRUCache<string, VirusTotalFileObject>({
            max: resolved.cache.max,
            ttl: resolved.cache.ttlMs,
            perf: { now: resolved.now },
            ttlResolution: 0,
            ttlAutopurge: false,
          });
  }

  /** Requests this client sent in the current UTC day, and the day's quota. */
  get usage(): { today: number; perDay: number; lastMinute: number; perMinute: number } {
    const now = this.options.now();
    this.#roll(now);
    return {
      today: this.#inDay,
      perDay: this.options.quota.perDay,
      lastMinute: this.#sent.length,
      perMinute: this.options.quota.perMinute,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  /**
   * The report of the file with this MD5, SHA-1 or SHA-256, or why there is none. Waits for the minute quota
   * when it is used up; never sends past the daily quota. Throws `InvalidApiKeyError` (401),
   * `PlatformUnavailableError` (5xx or network failures after the retries), `InvalidResponseError`
   * (a 200 that is not a file object of this file: its md5, sha1 or sha256 is not the hash asked), `RequestRejectedError` (any other refusal) and
   * `AbortedError`.
   */
  async getFile(hash: string, options?: { fresh?: boolean }): Promise<VirusTotalOutcome> {
    const kind = virustotalHashKind(hash);
    if (kind === undefined)
      throw new TypeError(
        `expected an MD5, SHA-1 or SHA-256 (32, 40 or 64 hexadecimal digits), got \`${String(hash)}\``,
      );
    if (this.#closed) throw new Error("this VirusTotalClient is closed");
    const id = hash.toLowerCase();
    if (options?.fresh !== true) {
      const cached = this.cache?.get(id);
      if (cached !== undefined)
        return { kind: "report", id, sha256: sha256Of(cached), report: cached, cached: true };
    }
    const what = `GET /api/v3/files/${id}`;
    let failures = 0;
    let refusedAfterWait = false;
    const budget = { waitedMs: 0 };
    for (;;) {
      const slot = await this.#reserve(what, budget);
      if (slot === "day") return { kind: "quota_exhausted", id, resetsAt: this.#resetsAt() };
      if (typeof slot === "number") return { kind: "rate_limited", id, retryAfterMs: slot };
      let answer: { status: number; text: string };
      try {
        answer = await this.#exchange(`${this.options.baseUrl}/api/v3/files/${id}`);
      } catch (error) {
        this.#checkSignal(what);
        if (error instanceof PlatformError) throw error;
        if (!NETWORK_CODES.has(errorCode(error) ?? "")) throw error;
        failures++;
        if (failures >= this.options.retry.attempts)
          throw new PlatformUnavailableError(
            `${what} failed ${failures} times: ${(error as Error).message}; VirusTotal may be unreachable, try again later`,
            { cause: error, attempts: failures },
          );
        await this.#sleep(
          backoffDelay(failures - 1, this.options.retry, this.options.random),
          what,
        );
        continue;
      } finally {
        slot.at = this.options.now();
        slot.answer();
      }
      const { status, text } = answer;
      let body: unknown;
      try {
        body = text === "" ? undefined : JSON.parse(text);
      } catch {
        body = undefined;
      }
      const error = isObject(body) && isObject(body.error) ? body.error : undefined;
      const code = typeof error?.code === "string" ? error.code : undefined;
      const said = typeof error?.message === "string" ? `: ${error.message}` : "";
      const init = { status, platformCode: code };
      if (status === 200) {
        const report = this.#fileObject(body, id, kind, status);
        if (!isAnalysed(report.data.attributes)) return { kind: "queued", id };
        const sha256 = sha256Of(report);
        // under each of the file's hashes, so asking by another costs no quota
        for (const key of new Set([id, sha256, ...otherHashes(report)]))
          this.cache?.set(key, report);
        return { kind: "report", id, sha256, report, cached: false };
      }
      if (status === 404) {
        this.cache?.delete(id);
        return { kind: "not_found", id };
      }
      // "The resource is not available yet, but will become available later."
      if (status === 400 && code === "NotAvailableYet") return { kind: "queued", id };
      if (status === 429) {
        if (refusedAfterWait) {
          // A full minute's wait did not help: the daily (or monthly) quota is used up.
          this.#inDay = Math.max(this.#inDay, this.options.quota.perDay);
          return { kind: "quota_exhausted", id, resetsAt: this.#resetsAt() };
        }
        // The minute quota, used by someone else too: wait until a minute has passed since now.
        refusedAfterWait = true;
        const now = this.options.now();
        for (const s of this.#sent) if (s.at !== null) s.at = now;
        if (budget.waitedMs + MINUTE_MS > this.options.maxWaitMs)
          return { kind: "rate_limited", id, retryAfterMs: MINUTE_MS };
        budget.waitedMs += MINUTE_MS;
        await this.#sleep(MINUTE_MS, `${what} (VirusTotal answered 429${said})`);
        continue;
      }
      if (status >= 500) {
        failures++;
        if (failures >= this.options.retry.attempts)
          throw new PlatformUnavailableError(
            `${what} answered ${status} ${failures} times${said}; VirusTotal is having trouble, try again later`,
            { ...init, attempts: failures },
          );
        await this.#sleep(
          backoffDelay(failures - 1, this.options.retry, this.options.random),
          what,
        );
        continue;
      }
      if (status === 401)
        throw new InvalidApiKeyError(
          `VirusTotal does not accept this API key (${code ?? "401"}${said}): check \`$CLEARANCE_VT_KEY\` or \`apiKey\``,
          init,
        );
      throw new RequestRejectedError(
        `${what} was refused (${status}${code === undefined ? "" : ` ${code}`})${said}`,
        init,
      );
    }
  }

  #resetsAt(): string {
    return nextUtcDay(this.options.now());
  }

  #roll(now: number): void {
    const day = Math.floor(now / DAY_MS);
    if (day !== this.#day) {
      this.#day = day;
      this.#inDay = 0;
    }
    this.#sent = this.#sent.filter((s) => s.at === null || s.at > now - MINUTE_MS);
  }

  /**
   * Takes one request from the quotas, waiting for the minute's when it is used up (within the
   * lookup's budget: past it, the wait left). `day` when the day's is used up (nothing is sent
   * until 00:00 UTC).
   */
  #reserve(what: string, budget: { waitedMs: number }): Promise<Slot | "day" | number> {
    const take = async (): Promise<Slot | "day" | number> => {
      const { perMinute, perDay } = this.options.quota;
      for (;;) {
        const now = this.options.now();
        this.#roll(now);
        if (this.#inDay >= perDay) return "day";
        if (this.#sent.length < perMinute) {
          const slot = newSlot();
          this.#sent.push(slot);
          this.#inDay++;
          return slot;
        }
        const answered = this.#sent.filter((s) => s.at !== null).map((s) => s.at!);
        if (answered.length === 0) {
          // All in flight: the first answer starts the minute to wait.
          await Promise.race(this.#sent.map((s) => s.answered));
          continue;
        }
        const wait = Math.max(1, Math.min(...answered) + MINUTE_MS - now);
        // past the budget: the wait left, for the caller to say when to try again
        if (budget.waitedMs + wait > this.options.maxWaitMs) return wait;
        budget.waitedMs += wait;
        await this.#sleep(
          Math.max(1, wait),
          `${what} (waiting for the minute quota of ${perMinute})`,
        );
      }
    };
    const turn = this.#turn.then(take, take);
    this.#turn = turn.catch(() => undefined);
    return turn;
  }

  /**
   * The file object of a 200, checked to be of the file asked for: the attribute of the hash's
   * kind (`sha256`, else the object's id, for a SHA-256) must be that hash, and the file's SHA-256
   * must be one, as the report is keyed by it.
   */
  #fileObject(
    body: unknown,
    id: string,
    kind: "md5" | "sha1" | "sha256",
    status: number,
  ): VirusTotalFileObject {
    if (!isObject(body) || !isObject(body.data))
      throw new InvalidResponseError("/data", "expected a VirusTotal file object", { status });
    const data = body.data;
    if (data.type !== "file")
      throw new InvalidResponseError(
        "/data/type",
        `expected \`file\`, got \`${String(data.type)}\``,
        {
          status,
        },
      );
    if (!isObject(data.attributes))
      throw new InvalidResponseError("/data/attributes", "expected an object", { status });
    const attributes = data.attributes;
    const sha256 = typeof attributes.sha256 === "string" ? attributes.sha256 : data.id;
    const answered = kind === "sha256" ? sha256 : attributes[kind];
    if (typeof answered !== "string" || answered.toLowerCase() !== id)
      throw new InvalidResponseError(
        `/data/attributes/${kind}`,
        `asked for ${id}, got \`${String(answered)}\``,
        { status },
      );
    if (typeof sha256 !== "string" || !HEX64.test(sha256))
      throw new InvalidResponseError(
        "/data/attributes/sha256",
        `expected the file's SHA-256 (64 hexadecimal digits), got \`${String(sha256)}\``,
        { status },
      );
    return body as unknown as VirusTotalFileObject;
  }

  /** Throws AbortedError once the client's signal has fired. */
  #checkSignal(what: string): void {
    checkSignal(this.options.signal, what);
  }

  /** The injectable sleep, cut short by the signal. */
  #sleep(ms: number, what: string): Promise<void> {
    return sleepUnlessAborted(this.options.sleep, ms, this.options.signal, what);
  }

  async #exchange(url: string): Promise<{ status: number; text: string }> {
    this.#checkSignal(url);
    const response = await request(url, {
      method: "GET",
      headers: {
        "user-agent": this.options.userAgent,
        accept: "application/json",
        "x-apikey": this.#apiKey,
      },
      dispatcher: this.#dispatcher,
      ...(this.options.signal ? { signal: this.options.signal } : {}),
      headersTimeout: this.options.timeouts.headersMs,
      bodyTimeout: this.options.timeouts.bodyMs,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) {
        response.body.destroy();
        throw new InvalidResponseError("", `the body is larger than ${MAX_BODY_BYTES} bytes`, {
          status: response.statusCode,
        });
      }
      chunks.push(chunk as Buffer);
    }
    return { status: response.statusCode, text: Buffer.concat(chunks).toString("utf8") };
  }
}
