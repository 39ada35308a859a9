/**
 * `PlatformClient`: speaks the file-analysis platform's API (docs/platform-api.md) on undici.
 *
 * Retries (also in this package's README.md):
 *
 * - GETs (`getFile`, `listFiles` pages) are idempotent: retried on network errors (connection
 *   refused or reset, socket closed mid-body, timeouts, a truncated body) and on 5xx answers.
 * - `POST /v1/upload` only reserves an upload URL (no quota, no analysis): asking twice leaves an
 *   unused URL that expires by itself, so it is retried like a GET.
 * - The `PUT` of the bytes sends the same bytes to the same URL: idempotent, retried the same way,
 *   each attempt streaming the file from disk again.
 * - `POST /v1/upload/complete` is NOT idempotent: each one starts an analysis and uses a unit of
 *   the monthly quota (completing again starts a re-analysis). It is retried only when the platform
 *   cannot have acted on it: a 429 (refused before processing) or a failure to connect (nothing was
 *   sent). After an ambiguous failure (the connection dropped after the request was sent, a
 *   timeout, a 5xx) the client asks `GET /v1/files/{sha256}` once: when the file shows an analysis
 *   newer than before the upload, the completion took effect and the upload succeeds; otherwise
 *   `PlatformUnavailableError` with `ambiguous: true` is thrown, and the caller decides.
 * - 429s are waited out (`Retry-After`, else until the window resets) for every step, within
 *   `rateLimit.maxWaitMs` per request; they do not count as attempts.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { pipeline, type Readable, Transform } from "node:stream";
import type {
  CompleteRequest,
  PlatformErrorBody,
  PlatformErrorCode,
  PlatformOutcome,
  platformToCanonical,
  ReceivedPlatformFile,
  UploadAnswer,
  UploadRequest,
} from "@clearance/platform";
import { LRUCache } from "lru-cache";
import { Agent, type Dispatcher, request } from "undici";
import { backoffDelay, checkSignal, sleepUnlessAborted } from "./backoff.js";
import {
  AnalysisFailedError,
  InvalidApiKeyError,
  InvalidResponseError,
  MissingScopeError,
  NotFoundError,
  PlatformError,
  PlatformUnavailableError,
  QuotaExhaustedError,
  RateLimitedError,
  RequestRejectedError,
  TimeoutError,
  UploadUrlExpiredError,
} from "./errors.js";
import { type PlatformClientOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import {
  type HeaderBag,
  header,
  parseRateLimitHeaders,
  parseRetryAfter,
  type RateLimitState,
} from "./ratelimit.js";

type ToCanonical = typeof platformToCanonical;
let conversion: Promise<ToCanonical> | undefined;
/**
 * The conversion to a canonical result (with the result schema's validator) is loaded when a result
 * is first mapped: an upload of a file the platform does not know never needs it.
 */
function loadToCanonical(): Promise<ToCanonical> {
  conversion ??= import("@clearance/platform").then((m) => m.platformToCanonical);
  return conversion;
}

/** The platform's error codes the client tells apart (checked against the platform's list). */
const NOT_FOUND: PlatformErrorCode = "not_found";
const SHA256_MISMATCH: PlatformErrorCode = "sha256_mismatch";
const UPLOAD_MISSING: PlatformErrorCode = "upload_missing";

// ---------------------------------------------------------------------------------------------
// Types

/**
 * A file as the platform sent it, and its canonical result (`platformToCanonical(file)` of
 * @clearance/platform, which is `toCanonical(file, {format: "platform"})`): `result.ok` is false,
 * with a JSON Pointer into `file` for each problem, when the analysis is not completed or a value
 * is not the documented type.
 */
export interface FileResult {
  file: ReceivedPlatformFile;
  result: PlatformOutcome;
}

/** The monthly analysis quota, as far as the platform told (from a 402 answer). */
export interface QuotaState {
  limit: number | undefined;
  remaining: number | undefined;
  /** RFC 3339, when the platform said. */
  resetsAt: string | undefined;
}

export interface UploadOptions {
  /** Default: the base name of `path`. */
  fileName?: string;
  /** Default `application/octet-stream`. */
  contentType?: string;
  /**
   * Called as bytes are handed to the connection: `(bytesSent, total)`. Starts again from 0 when
   * the bytes are sent again (a retry or a renewed upload URL).
   */
  onProgress?: (bytesSent: number, total: number) => void;
  /** New upload URLs asked for after a `410 upload_url_expired` (default 2). */
  maxUrlRenewals?: number;
}

export type UploadResult =
  | {
      sha256: string;
      /** The platform already had a completed analysis: nothing was sent. */
      skipped: true;
      file: ReceivedPlatformFile;
      result: PlatformOutcome;
    }
  | {
      sha256: string;
      skipped: false;
      size: number;
      uploadId: string;
      /** The status `complete` answered (normally `pending`). */
      status: string;
      estimatedSeconds: number | undefined;
      /** New upload URLs that were needed. */
      renewals: number;
      /** True when `complete` failed ambiguously and a GET showed that it took effect. */
      reconciled: boolean;
    };

export interface ListFilesQuery {
  /** `analyzed_at >= since`. */
  since?: Date | string;
  /** `analyzed_at < until`. */
  until?: Date | string;
  /** One file. */
  sha256?: string;
  /** Page size, 1 to 1000 (platform default 100). */
  limit?: number;
}

export interface WaitOptions {
  /** Give up after this long (default 10 minutes): TimeoutError. */
  timeoutMs?: number;
  /** First delay between polls (default 2 s); grows by half each poll. */
  pollMs?: number;
  /** Longest delay between polls (default 30 s). */
  maxPollMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Internals

const HEX64 = /^[0-9a-fA-F]{64}$/;
/** Largest answer body read (a page of 1000 file objects is a few MB). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** The shortest wait after a 429. */
const MIN_429_WAIT_MS = 100;

/** Errors where nothing reached the platform: safe to retry any step. */
const UNSENT_CODES = new Set([
  "ECONNREFUSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);
/** Transient errors after the request may have reached the platform: retry idempotent steps. */
const SENT_CODES = new Set([
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
]);

type Json = unknown;

interface FileBody {
  signal: AbortSignal | undefined;
  path: string;
  size: number;
  onProgress: ((sent: number, total: number) => void) | undefined;
}

interface Step {
  /** For messages, e.g. `GET /v1/files/{sha256}`. */
  what: string;
  method: "GET" | "POST" | "PUT";
  url: string;
  /** Send `Authorization` (never to upload URLs). */
  auth: boolean;
  json?: Json;
  file?: FileBody;
  /** Retry on network errors and 5xx (otherwise only when nothing was sent). */
  idempotent: boolean;
  /** The scope the endpoint needs, for the 403 message. */
  scope?: "upload" | "files.read";
  /** Non-2xx statuses handed back to the caller rather than thrown. */
  accept?: readonly number[];
}

interface Answer {
  status: number;
  body: Json;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Like isObject, without narrowing (for typed option objects). */
function isPlain(value: unknown): boolean {
  return isObject(value);
}

function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    e = e.cause;
  }
  return undefined;
}

/** "unsent", "sent" (transient, maybe processed) or undefined (not a network failure). */
function networkFailure(error: unknown): "unsent" | "sent" | undefined {
  const code = errorCode(error);
  if (code === undefined) return undefined;
  if (UNSENT_CODES.has(code)) return "unsent";
  if (SENT_CODES.has(code) || code.startsWith("HPE_")) return "sent";
  return undefined;
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = errorCode(error);
  return code === undefined ? error.message : `${error.message} (${code})`;
}

function normalizeSha(sha256: unknown): string {
  if (typeof sha256 !== "string" || !HEX64.test(sha256)) {
    throw new TypeError(`expected a SHA-256 of 64 hexadecimal digits, got \`${String(sha256)}\``);
  }
  return sha256.toLowerCase();
}

function rfc3339(name: string, value: Date | string): string {
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  if (typeof value === "string" && !/^\d{4}-\d{2}-\d{2}T/.test(value)) {
    throw new TypeError(`\`${name}\` must be a Date or an RFC 3339 date-time, got \`${value}\``);
  }
  if (Number.isNaN(ms)) throw new TypeError(`\`${name}\` is not a valid date`);
  return new Date(ms).toISOString();
}

/** Reads a whole answer body (at most MAX_BODY_BYTES) as UTF-8. */
async function readText(body: Dispatcher.ResponseData["body"]): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      body.destroy();
      throw new InvalidResponseError("", `the body is larger than ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The file's bytes, streamed from disk; counts progress when asked to. */
function openFile(file: FileBody): Readable {
  const source = createReadStream(file.path, {
    highWaterMark: 1024 * 1024,
    ...(file.signal ? { signal: file.signal } : {}),
  });
  const { onProgress, size } = file;
  if (onProgress === undefined) return source;
  let sent = 0;
  const report = (n: number) => {
    try {
      onProgress(n, size);
    } catch {
      // A progress bar's failure must not fail the upload.
    }
  };
  report(0);
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sent += chunk.length;
      report(sent);
      callback(null, chunk);
    },
  });
  pipeline(source, counter, () => {});
  return counter;
}

/** SHA-256 of a file, reading it once as a stream. */
export async function hashFile(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash("sha256");
  const stream = createReadStream(path, {
    highWaterMark: 1024 * 1024,
    ...(signal ? { signal } : {}),
  });
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}

// ---------------------------------------------------------------------------------------------
// The client

export class PlatformClient {
  /** The options in force, frozen (without the API key). */
  readonly options: ResolvedOptions;
  /**
   * Completed results by lower-case SHA-256, shared by every caller of this client (a server can
   * hold one client and serve lookups from here). Undefined when `cache: false`.
   */
  readonly cache: LRUCache<string, FileResult> | undefined;

  readonly #apiKey: string;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  #rateLimit: RateLimitState | undefined;
  #quota: QuotaState | undefined;
  /** The earliest time the next request may go out while requests are spaced out. */
  #nextSlot = 0;
  #closed = false;

  constructor(options: PlatformClientOptions) {
    const { resolved, apiKey, dispatcher } = resolveOptions(options);
    this.options = resolved;
    this.#apiKey = apiKey;
    this.#ownsDispatcher = dispatcher === undefined;
    this.#dispatcher =
      dispatcher ??
      new Agent({
        keepAliveTimeout: 10_000,
        keepAliveMaxTimeout: 60_000,
        connect: { timeout: resolved.timeouts.connectMs },
        headersTimeout: resolved.timeouts.headersMs,
        bodyTimeout: resolved.timeouts.bodyMs,
      });
    const now = resolved.now;
    this.cache =
      resolved.cache === false
        ? undefined
        : new LRUCache<string, FileResult>({
            max: resolved.cache.max,
            ttl: resolved.cache.ttlMs,
            perf: { now },
            // Read the (possibly injected) clock on every lookup rather than a cached reading.
            ttlResolution: 0,
            ttlAutopurge: false,
          });
  }

  /** What the last answer said about the request rate; undefined before any answer with one. */
  get rateLimit(): Readonly<RateLimitState> | undefined {
    return this.#rateLimit === undefined ? undefined : Object.freeze({ ...this.#rateLimit });
  }

  /** The monthly analysis quota, when known (the platform tells it in a 402 answer). */
  get quota(): Readonly<QuotaState> | undefined {
    return this.#quota === undefined ? undefined : Object.freeze({ ...this.#quota });
  }

  /** Closes the keep-alive connections of the client's own dispatcher (not a given one). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  // -------------------------------------------------------------------------------------------
  // Files

  /**
   * The file with this SHA-256, or undefined when the platform never saw it (404). Completed
   * results come from the cache while fresh (`{fresh: true}` asks the platform regardless).
   */
  async getFile(sha256: string, options?: { fresh?: boolean }): Promise<FileResult | undefined> {
    const sha = normalizeSha(sha256);
    if (options?.fresh !== true) {
      const cached = this.cache?.get(sha);
      if (cached !== undefined) return cached;
    }
    const answer = await this.#send({
      what: "GET /v1/files/{sha256}",
      method: "GET",
      url: this.#url(`/v1/files/${sha}`),
      auth: true,
      idempotent: true,
      scope: "files.read",
      accept: [404],
    });
    if (answer.status === 404) {
      this.cache?.delete(sha);
      return undefined;
    }
    const found = this.#fileResult(answer.body, "", await loadToCanonical());
    if (found.file.sha256.toLowerCase() !== sha) {
      throw new InvalidResponseError("/sha256", `asked for ${sha}, got \`${found.file.sha256}\``, {
        status: answer.status,
      });
    }
    return found;
  }

  /**
   * Every completed analysis matching the query, oldest first, over all pages (fetched one page
   * at a time, as the iteration goes).
   */
  async *listFiles(query: ListFilesQuery = {}): AsyncGenerator<FileResult, void, undefined> {
    if (!isPlain(query)) throw new TypeError("listFiles query must be an object");
    const known = ["since", "until", "sha256", "limit"];
    for (const key of Object.keys(query)) {
      if (!known.includes(key)) throw new TypeError(`unknown listFiles query \`${key}\``);
    }
    const params = new URLSearchParams();
    if (query.since !== undefined) params.set("since", rfc3339("since", query.since));
    if (query.until !== undefined) params.set("until", rfc3339("until", query.until));
    if (query.sha256 !== undefined) params.set("sha256", normalizeSha(query.sha256));
    if (query.limit !== undefined) {
      if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > 1000) {
        throw new TypeError(`\`limit\` must be an integer from 1 to 1000, got \`${query.limit}\``);
      }
      params.set("limit", String(query.limit));
    }
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (;;) {
      const page = new URLSearchParams(params);
      if (cursor !== undefined) page.set("cursor", cursor);
      const search = page.toString();
      const answer = await this.#send({
        what: "GET /v1/files",
        method: "GET",
        url: this.#url(`/v1/files${search === "" ? "" : `?${search}`}`),
        auth: true,
        idempotent: true,
        scope: "files.read",
      });
      const body = answer.body;
      if (!isObject(body))
        throw new InvalidResponseError("", "expected an object", { status: answer.status });
      const data = body.data;
      if (!Array.isArray(data))
        throw new InvalidResponseError("/data", "expected an array", { status: answer.status });
      const next = body.nextCursor;
      if (next !== undefined && next !== null && (typeof next !== "string" || next === "")) {
        throw new InvalidResponseError("/nextCursor", "expected a non-empty string or null", {
          status: answer.status,
        });
      }
      const map = await loadToCanonical();
      const results = data.map((item, index) => this.#fileResult(item, `/data/${index}`, map));
      for (const found of results) yield found;
      if (typeof next !== "string") return;
      if (seen.has(next)) {
        throw new InvalidResponseError("/nextCursor", "the platform repeated a cursor", {
          status: answer.status,
        });
      }
      seen.add(next);
      cursor = next;
    }
  }

  /**
   * Polls the file until its analysis is `completed` (with a growing delay), and returns it.
   * Throws AnalysisFailedError for `failed`, NotFoundError for a file the platform does not know,
   * TimeoutError after `timeoutMs`.
   */
  async waitForResult(sha256: string, options: WaitOptions = {}): Promise<FileResult> {
    const sha = normalizeSha(sha256);
    const timeoutMs = options.timeoutMs ?? 600_000;
    const pollMs = options.pollMs ?? 2_000;
    const maxPollMs = Math.max(options.maxPollMs ?? 30_000, pollMs);
    for (const [name, value] of [
      ["timeoutMs", timeoutMs],
      ["pollMs", pollMs],
      ["maxPollMs", maxPollMs],
    ] as const) {
      if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) {
        throw new TypeError(`\`${name}\` must be a non-negative number, got \`${String(value)}\``);
      }
    }
    const { now } = this.options;
    const deadline = now() + timeoutMs;
    let delay = pollMs;
    for (;;) {
      const found = await this.getFile(sha);
      if (found === undefined) {
        throw new NotFoundError(
          `the platform has no file ${sha}: upload it first (\`upload\`), then wait for its result`,
          { status: 404, platformCode: NOT_FOUND },
        );
      }
      const status = found.file.status;
      if (status === "completed") return found;
      if (status === "failed") throw new AnalysisFailedError(sha, found.file);
      const left = deadline - now();
      if (left <= 0) {
        throw new TimeoutError(
          `the analysis of ${sha} is still \`${status}\` after ${Math.round(timeoutMs / 1000)} s: wait longer (\`timeoutMs\`) or check again later`,
          timeoutMs,
        );
      }
      await this.#sleep(Math.min(delay, left), `waiting for the analysis of ${sha}`);
      delay = Math.min(maxPollMs, delay * 1.5);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Upload

  /**
   * Uploads a file for analysis: hashes it (one streamed read), skips everything when the platform
   * already has a completed analysis of it, else reserves an upload URL, streams the bytes from
   * disk to it (renewing an expired URL up to `maxUrlRenewals` times), and completes the upload,
   * which starts the analysis (`waitForResult` then waits for it).
   */
  async upload(path: string, options: UploadOptions = {}): Promise<UploadResult> {
    if (typeof path !== "string" || path === "") throw new TypeError("upload needs a file path");
    if (!isPlain(options)) throw new TypeError("upload options must be an object");
    const known = ["fileName", "contentType", "onProgress", "maxUrlRenewals"];
    for (const key of Object.keys(options)) {
      if (!known.includes(key)) throw new TypeError(`unknown upload option \`${key}\``);
    }
    const maxRenewals = options.maxUrlRenewals ?? 2;
    if (!Number.isInteger(maxRenewals) || maxRenewals < 0) {
      throw new TypeError(
        `\`maxUrlRenewals\` must be a non-negative integer, got \`${maxRenewals}\``,
      );
    }
    if (options.onProgress !== undefined && typeof options.onProgress !== "function") {
      throw new TypeError("`onProgress` must be a function");
    }
    const info = await stat(path);
    if (!info.isFile()) throw new TypeError(`\`${path}\` is not a regular file`);
    const size = info.size;
    this.#checkSignal(`uploading \`${path}\``);
    let sha256: string;
    try {
      sha256 = await hashFile(path, this.options.signal);
    } catch (error) {
      this.#checkSignal(`hashing \`${path}\``);
      throw error;
    }

    // Skip the upload when a completed analysis exists. A key without `files.read` cannot look:
    // it uploads regardless.
    let canRead = true;
    let before: FileResult | undefined;
    try {
      before = await this.getFile(sha256, { fresh: true });
    } catch (error) {
      if (!(error instanceof MissingScopeError)) throw error;
      canRead = false;
    }
    if (before !== undefined && before.file.status === "completed") {
      return { sha256, skipped: true, file: before.file, result: before.result };
    }

    const fileName = options.fileName ?? basename(path);
    const contentType = options.contentType ?? "application/octet-stream";
    const file: FileBody = {
      path,
      size,
      onProgress: options.onProgress,
      signal: this.options.signal,
    };
    let renewals = 0;
    let reservation = await this.#reserve(fileName, contentType, sha256);
    for (;;) {
      const answer = await this.#send({
        what: "PUT <uploadUrl>",
        method: "PUT",
        url: reservation.uploadUrl,
        auth: false,
        file,
        idempotent: true,
        accept: [410],
      });
      if (answer.status !== 410) {
        const body = answer.body;
        if (
          isObject(body) &&
          typeof body.sha256 === "string" &&
          body.sha256.toLowerCase() !== sha256
        ) {
          throw new InvalidResponseError(
            "/sha256",
            `sent ${sha256}, the platform stored \`${body.sha256}\``,
            {
              status: answer.status,
            },
          );
        }
        break;
      }
      if (renewals >= maxRenewals) {
        throw new UploadUrlExpiredError(
          `the upload URL expired before the bytes arrived, ${times(renewals + 1)} in a row: the connection may be too slow for the URL's lifetime; try again, or from a faster network`,
          { status: 410, ...this.#errorFields(answer.body) },
        );
      }
      renewals++;
      reservation = await this.#reserve(fileName, contentType, sha256);
    }

    const completion = await this.#complete(sha256, canRead ? before : null);
    return {
      sha256,
      skipped: false,
      size,
      uploadId: reservation.uploadId,
      status: completion.status,
      estimatedSeconds: completion.estimatedSeconds,
      renewals,
      reconciled: completion.reconciled,
    };
  }

  async #reserve(
    fileName: string,
    contentType: string,
    sha256: string,
  ): Promise<Pick<UploadAnswer, "uploadId" | "uploadUrl">> {
    const answer = await this.#send({
      what: "POST /v1/upload",
      method: "POST",
      url: this.#url("/v1/upload"),
      auth: true,
      json: { fileName, contentType, sha256 } satisfies UploadRequest,
      idempotent: true,
      scope: "upload",
    });
    const body = answer.body;
    if (!isObject(body))
      throw new InvalidResponseError("", "expected an object", { status: answer.status });
    if (typeof body.uploadId !== "string" || body.uploadId === "") {
      throw new InvalidResponseError("/uploadId", "expected a non-empty string", {
        status: answer.status,
      });
    }
    let url: URL | undefined;
    try {
      url =
        typeof body.uploadUrl === "string"
          ? new URL(body.uploadUrl, this.options.baseUrl)
          : undefined;
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
      throw new InvalidResponseError("/uploadUrl", "expected an http or https URL", {
        status: answer.status,
      });
    }
    return { uploadId: body.uploadId, uploadUrl: url.href };
  }

  /**
   * `POST /v1/upload/complete`. `before` is the file as it was before the upload (undefined: not
   * known to the platform; null: the key cannot read files, so no reconciliation).
   */
  async #complete(
    sha256: string,
    before: FileResult | undefined | null,
  ): Promise<{ status: string; estimatedSeconds: number | undefined; reconciled: boolean }> {
    let answer: Answer;
    try {
      answer = await this.#send({
        what: "POST /v1/upload/complete",
        method: "POST",
        url: this.#url("/v1/upload/complete"),
        auth: true,
        json: { sha256 } satisfies CompleteRequest,
        idempotent: false,
        scope: "upload",
      });
    } catch (error) {
      if (!(error instanceof PlatformUnavailableError && error.ambiguous) || before === null) {
        throw error;
      }
      let after: FileResult | undefined;
      try {
        after = await this.getFile(sha256, { fresh: true });
      } catch {
        throw error;
      }
      if (after !== undefined && startedSince(before, after.file)) {
        return { status: after.file.status, estimatedSeconds: undefined, reconciled: true };
      }
      throw error;
    }
    const body = answer.body;
    if (!isObject(body))
      throw new InvalidResponseError("", "expected an object", { status: answer.status });
    if (typeof body.status !== "string") {
      throw new InvalidResponseError("/status", "expected a string", { status: answer.status });
    }
    const estimate = body.estimatedSeconds;
    return {
      status: body.status,
      estimatedSeconds:
        typeof estimate === "number" && Number.isFinite(estimate) && estimate >= 0
          ? estimate
          : undefined,
      reconciled: false,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Requests

  /** Throws AbortedError once the client's signal has fired. */
  #checkSignal(what: string): void {
    checkSignal(this.options.signal, what);
  }

  /** The injectable sleep, cut short by the signal. */
  #sleep(ms: number, what: string): Promise<void> {
    return sleepUnlessAborted(this.options.sleep, ms, this.options.signal, what);
  }

  #url(path: string): string {
    return `${this.options.baseUrl}${path}`;
  }

  #fileResult(value: unknown, pointer: string, toCanonical: ToCanonical): FileResult {
    if (!isObject(value)) throw new InvalidResponseError(pointer, "expected a file object");
    if (typeof value.sha256 !== "string" || !HEX64.test(value.sha256)) {
      throw new InvalidResponseError(`${pointer}/sha256`, "expected 64 hexadecimal digits");
    }
    if (typeof value.status !== "string") {
      throw new InvalidResponseError(`${pointer}/status`, "expected a string");
    }
    const file = value as ReceivedPlatformFile;
    const result = toCanonical(file);
    const found: FileResult = { file, result };
    if (file.status === "completed" && result.ok) this.cache?.set(file.sha256.toLowerCase(), found);
    return found;
  }

  #errorFields(body: Json): { platformCode?: string; body?: PlatformErrorBody } {
    const error =
      isObject(body) && isObject(body.error) ? (body.error as PlatformErrorBody) : undefined;
    if (error === undefined) return {};
    const out: { platformCode?: string; body?: PlatformErrorBody } = { body: error };
    if (typeof error.code === "string") out.platformCode = error.code;
    return out;
  }

  /** Spaces requests out while the window's remaining fraction is below `slowDownBelow`. */
  async #pace(): Promise<void> {
    const state = this.#rateLimit;
    const { slowDownBelow, maxWaitMs } = this.options.rateLimit;
    if (state === undefined || slowDownBelow <= 0) return;
    const { limit, remaining, resetAt } = state;
    if (limit === undefined || remaining === undefined || resetAt === undefined || limit <= 0)
      return;
    const now = this.options.now();
    if (resetAt <= now || remaining / limit >= slowDownBelow) return;
    // Capped by the 429 budget: a reset time far off (a clock skew, a bad header) cannot stall.
    const untilReset = Math.min(resetAt - now, maxWaitMs);
    if (remaining <= 0) {
      // Nothing left: whatever the slots say, wait for the new window.
      this.#nextSlot = Math.max(this.#nextSlot, now + untilReset);
      await this.#sleep(Math.ceil(untilReset), "waiting for the rate-limit window");
      return;
    }
    // Spread what is left evenly over the rest of the window; concurrent requests take
    // successive slots.
    const spacing = untilReset / remaining;
    const slot = Math.max(now, this.#nextSlot);
    this.#nextSlot = slot + spacing;
    const wait = Math.ceil(Math.min(slot - now, untilReset));
    if (wait > 0) await this.#sleep(wait, "waiting for the rate-limit window");
  }

  #noteHeaders(headers: HeaderBag): void {
    const state = parseRateLimitHeaders(headers, this.options.now());
    if (state !== undefined) this.#rateLimit = state;
  }

  /** One request, with its body read; network errors are thrown as they come. */
  async #exchange(step: Step): Promise<{ status: number; headers: HeaderBag; text: string }> {
    const headers: Record<string, string> = {
      "user-agent": this.options.userAgent,
      accept: "application/json",
    };
    if (step.auth) headers.authorization = `Bearer ${this.#apiKey}`;
    let body: string | Readable | undefined;
    if (step.json !== undefined) {
      body = JSON.stringify(step.json);
      headers["content-type"] = "application/json";
    } else if (step.file !== undefined) {
      body = openFile(step.file);
      headers["content-type"] = "application/octet-stream";
      headers["content-length"] = String(step.file.size);
    }
    try {
      const response = await request(step.url, {
        method: step.method,
        headers,
        body,
        dispatcher: this.#dispatcher,
        ...(this.options.signal ? { signal: this.options.signal } : {}),
        headersTimeout: this.options.timeouts.headersMs,
        bodyTimeout: this.options.timeouts.bodyMs,
      });
      this.#noteHeaders(response.headers as HeaderBag);
      const text = await readText(response.body);
      return { status: response.statusCode, headers: response.headers as HeaderBag, text };
    } finally {
      if (typeof body === "object") body.destroy();
    }
  }

  /**
   * Sends a step: paces it, waits out 429s within the budget, retries what may be retried, and
   * turns refusals into typed errors. Answers 2xx (and `step.accept`) with the parsed body.
   */
  async #send(step: Step): Promise<Answer> {
    if (this.#closed) throw new Error("this PlatformClient is closed");
    const { retry, rateLimit, now, random } = this.options;
    const sleep = (ms: number) => this.#sleep(ms, step.what);
    let failures = 0;
    let waited = 0;
    let retryAfterMs: number | undefined;
    let waitedOut = false;
    let refusals = 0;
    for (;;) {
      // Right after waiting out a 429 as told, the retry goes at once (the stale "0 remaining"
      // of the 429 answer must not add a second wait).
      if (!waitedOut) await this.#pace();
      waitedOut = false;
      this.#checkSignal(step.what);
      let response: { status: number; headers: HeaderBag; text: string };
      try {
        response = await this.#exchange(step);
      } catch (error) {
        // stopped by the signal (while connecting, sending or reading): never retried
        this.#checkSignal(step.what);
        if (error instanceof PlatformError) throw error;
        if (errorCode(error) === "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH") {
          throw new PlatformError(
            `${step.what}: the file changed size while it was being sent: upload it again once it no longer changes`,
            { cause: error },
          );
        }
        const failure = networkFailure(error);
        if (failure === undefined) throw error;
        failures++;
        const retriable = step.idempotent || failure === "unsent";
        if (!retriable || failures >= retry.attempts) {
          const ambiguous = !step.idempotent && failure === "sent";
          throw new PlatformUnavailableError(
            ambiguous
              ? `${step.what} failed after it was sent (${describeError(error)}): the platform may or may not have acted on it, and this step is not retried (completing twice would start two analyses); check with getFile before completing again`
              : `${step.what} failed ${times(failures)}: ${describeError(error)}; the platform may be down or unreachable, try again later`,
            { cause: error, attempts: failures, ambiguous },
          );
        }
        await sleep(backoffDelay(failures - 1, retry, random));
        continue;
      }

      const { status, headers, text } = response;
      let body: Json;
      let parsed = true;
      try {
        body = text === "" ? undefined : JSON.parse(text);
      } catch {
        parsed = false;
        body = undefined;
      }
      if ((status >= 200 && status < 300) || step.accept?.includes(status)) {
        if (!parsed) {
          throw new InvalidResponseError("", `the body of ${step.what} is not JSON`, { status });
        }
        return { status, body };
      }

      if (status === 429) {
        const current = now();
        const after = parseRetryAfter(header(headers, "retry-after"), current);
        const reset = this.#rateLimit?.resetAt;
        let wait =
          after ??
          (reset !== undefined && reset > current
            ? reset - current
            : backoffDelay(refusals, retry, random));
        refusals++;
        // A floor, so that `Retry-After: 0` answered forever still ends within the budget.
        wait = Math.max(wait, MIN_429_WAIT_MS);
        retryAfterMs = wait;
        if (waited + wait > rateLimit.maxWaitMs) {
          throw new RateLimitedError(waited, retryAfterMs, rateLimit.maxWaitMs, {
            status,
            ...this.#errorFields(body),
          });
        }
        waited += wait;
        await sleep(wait);
        waitedOut = true;
        continue;
      }

      if (status >= 500) {
        failures++;
        if (!step.idempotent || failures >= retry.attempts) {
          const ambiguous = !step.idempotent;
          const fields = this.#errorFields(body);
          const said = fields.body?.message === undefined ? "" : `: ${fields.body.message}`;
          throw new PlatformUnavailableError(
            ambiguous
              ? `${step.what} answered ${status}${said}; the platform may or may not have acted on it, and this step is not retried (completing twice would start two analyses); check with getFile before completing again`
              : `${step.what} answered ${status} ${times(failures)}${said}; the platform is having trouble, try again later`,
            { status, attempts: failures, ambiguous, ...fields },
          );
        }
        const after = parseRetryAfter(header(headers, "retry-after"), now()) ?? 0;
        const delay = Math.max(
          backoffDelay(failures - 1, retry, random),
          Math.min(after, retry.maxDelayMs),
        );
        await sleep(delay);
        continue;
      }

      throw this.#refusal(step, status, body);
    }
  }

  #refusal(step: Step, status: number, body: Json): PlatformError {
    const fields = this.#errorFields(body);
    const init = { status, ...fields };
    const error = fields.body;
    const said = typeof error?.message === "string" ? `: ${error.message}` : "";
    switch (status) {
      case 401:
        return new InvalidApiKeyError(
          "the platform does not accept this API key (missing, unknown or revoked): check `apiKey`, or create a new key",
          init,
        );
      case 403: {
        const scope = typeof error?.requiredScope === "string" ? error.requiredScope : step.scope;
        return new MissingScopeError(scope, init);
      }
      case 402: {
        const quota = typeof error?.quota === "number" ? error.quota : undefined;
        const resetsAt = typeof error?.resetsAt === "string" ? error.resetsAt : undefined;
        this.#quota = { limit: quota, remaining: 0, resetsAt };
        return new QuotaExhaustedError(quota, resetsAt, init);
      }
      case 404:
        return new NotFoundError(
          `${step.what}: the platform has no such file or upload${said}`,
          init,
        );
      case 410:
        return new UploadUrlExpiredError(`${step.what}: the upload URL has expired${said}`, init);
    }
    if (fields.platformCode === SHA256_MISMATCH) {
      return new RequestRejectedError(
        `the uploaded bytes do not hash to the declared SHA-256${said}: the file changed during the upload; upload it again once it no longer changes`,
        init,
      );
    }
    if (fields.platformCode === UPLOAD_MISSING) {
      return new RequestRejectedError(
        `the platform did not receive the bytes before the upload was completed${said}: upload the file again`,
        init,
      );
    }
    const code = fields.platformCode === undefined ? "" : ` ${fields.platformCode}`;
    return new RequestRejectedError(`${step.what} was refused (${status}${code})${said}`, init);
  }
}

/** Whether `after` shows an analysis that started after `before` (undefined: file unknown then). */
function startedSince(before: FileResult | undefined, after: ReceivedPlatformFile): boolean {
  if (after.status !== "pending" && after.status !== "completed") return false;
  if (before === undefined) return true;
  const v0 = before.file.version;
  const v1 = after.version;
  return typeof v0 === "number" && typeof v1 === "number" && v1 > v0;
}

/** `once`, `4 times`. */
function times(n: number): string {
  return n === 1 ? "once" : `${n} times`;
}
