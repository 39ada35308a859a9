/**
 * Every error the client throws on purpose. Each has a stable `code` (for programs: never changes
 * between versions), an actionable `message` (for people), the HTTP `status` when there was an
 * answer, and the platform's `error.code` as `platformCode` when its body had one. Option mistakes
 * are plain TypeErrors; nothing else is thrown on purpose.
 */

import type { PlatformErrorBody } from "@clearance/platform";

export interface PlatformErrorInit {
  status?: number | undefined;
  platformCode?: string | undefined;
  body?: PlatformErrorBody | undefined;
  cause?: unknown;
}

/** The base class: `instanceof PlatformError` catches every error of this client. */
export class PlatformError extends Error {
  /** Stable machine-readable code of this kind of error. */
  readonly code: string = "platform_error";
  /** HTTP status of the answer that caused the error, when there was one. */
  readonly status: number | undefined;
  /** The platform's `error.code`, when its answer had one. */
  readonly platformCode: string | undefined;
  /** The platform's `error` object (`{"error": {...}}` of a non-2xx answer), when it had one. */
  readonly body: PlatformErrorBody | undefined;

  constructor(message: string, init: PlatformErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.status = init.status;
    this.platformCode = init.platformCode ?? init.body?.code;
    this.body = init.body;
  }
}

/** 401: the key is missing, unknown or revoked. */
export class InvalidApiKeyError extends PlatformError {
  override readonly code = "invalid_api_key";
}

/** 403: the key lacks a scope (`upload` or `files.read`). */
export class MissingScopeError extends PlatformError {
  override readonly code = "missing_scope";
  /** The scope the request needed. */
  readonly requiredScope: string | undefined;

  constructor(requiredScope: string | undefined, init: PlatformErrorInit = {}) {
    super(
      requiredScope === undefined
        ? "this key lacks a scope this request needs: create a key with the `upload` and `files.read` scopes"
        : `this key lacks \`${requiredScope}\`: create a key with the \`${requiredScope}\` scope`,
      init,
    );
    this.requiredScope = requiredScope;
  }
}

/** 402: the key's monthly analysis quota is used up. */
export class QuotaExhaustedError extends PlatformError {
  override readonly code = "quota_exhausted";
  /** The monthly quota, when the platform said. */
  readonly quota: number | undefined;
  /** When the quota resets (RFC 3339), when the platform said. */
  readonly resetsAt: string | undefined;

  constructor(quota: number | undefined, resetsAt: string | undefined, init: PlatformErrorInit) {
    const of = quota === undefined ? "" : ` of ${quota} analyses`;
    const until = resetsAt === undefined ? "" : `: it resets at ${resetsAt}`;
    super(`the monthly analysis quota${of} is used up${until}`, init);
    this.quota = quota;
    this.resetsAt = resetsAt;
  }
}

/** 404: no such file or upload. */
export class NotFoundError extends PlatformError {
  override readonly code = "not_found";
}

/** 429s went on for longer than `rateLimit.maxWaitMs` allows to wait. */
export class RateLimitedError extends PlatformError {
  override readonly code = "rate_limited";
  /** How long this request had already waited on 429s. */
  readonly waitedMs: number;
  /** How long the platform asked to wait next, when it said. */
  readonly retryAfterMs: number | undefined;

  constructor(
    waitedMs: number,
    retryAfterMs: number | undefined,
    maxWaitMs: number,
    init: PlatformErrorInit,
  ) {
    const next =
      retryAfterMs === undefined ? "" : ` (it asks to wait ${seconds(retryAfterMs)} more)`;
    super(
      `the platform is rate-limiting this key: waited ${seconds(waitedMs)} of the ${seconds(maxWaitMs)} allowed by \`rateLimit.maxWaitMs\`${next}; try again later, send fewer requests, or raise \`rateLimit.maxWaitMs\``,
      init,
    );
    this.waitedMs = waitedMs;
    this.retryAfterMs = retryAfterMs;
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** An upload URL expired (410) and asking for a new one did not help either. */
export class UploadUrlExpiredError extends PlatformError {
  override readonly code = "upload_url_expired";
}

/** 5xx answers or network failures went on after the allowed retries (or the step is not retried). */
export class PlatformUnavailableError extends PlatformError {
  override readonly code = "platform_unavailable";
  /** How many times the request was sent. */
  readonly attempts: number;
  /**
   * True when a step that is not retried (completing an upload) failed after it was sent: the
   * platform may or may not have acted on it.
   */
  readonly ambiguous: boolean;

  constructor(
    message: string,
    init: PlatformErrorInit & { attempts: number; ambiguous?: boolean },
  ) {
    super(message, init);
    this.attempts = init.attempts;
    this.ambiguous = init.ambiguous ?? false;
  }
}

/** A 2xx answer whose body is not the documented shape. */
export class InvalidResponseError extends PlatformError {
  override readonly code = "invalid_response";
  /** JSON Pointer (RFC 6901) to the offending value of the body; "" for the whole body. */
  readonly pointer: string;

  constructor(pointer: string, message: string, init: PlatformErrorInit = {}) {
    super(`invalid answer from the platform at \`${pointer || "/"}\`: ${message}`, init);
    this.pointer = pointer;
  }
}

/** The platform reports the analysis as `failed`. */
export class AnalysisFailedError extends PlatformError {
  override readonly code = "analysis_failed";
  readonly sha256: string;
  /** The platform's file object. */
  readonly file: unknown;

  constructor(sha256: string, file: unknown) {
    super(
      `the platform could not analyse ${sha256} (status \`failed\`): upload it again to retry the analysis`,
    );
    this.sha256 = sha256;
    this.file = file;
  }
}

/** `waitForResult` ran out of time. */
export class TimeoutError extends PlatformError {
  override readonly code = "timeout";
  readonly timeoutMs: number;

  constructor(message: string, timeoutMs: number) {
    super(message);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The client's `signal` fired (a deadline passed, the caller gave up): every request, wait and
 * retry in progress stops with this error, and so does every later call.
 */
export class AbortedError extends PlatformError {
  override readonly code = "aborted";
  /** What was stopped: a request (`GET /v1/files/{sha256}`) or a wait. */
  readonly what: string;
  /** The signal's reason. */
  readonly reason: unknown;

  constructor(what: string, reason: unknown) {
    super(`${what} was stopped: ${abortReason(reason)}`, { cause: reason });
    this.what = what;
    this.reason = reason;
  }
}

function abortReason(reason: unknown): string {
  if (reason instanceof Error && reason.name === "TimeoutError") return "its deadline passed";
  if (reason instanceof Error) return reason.message;
  return reason === undefined ? "aborted" : String(reason);
}

/**
 * Any other refusal (400 `invalid_request`, 400 `sha256_mismatch`, 409 `upload_missing`, ...):
 * retrying the same request will not help.
 */
export class RequestRejectedError extends PlatformError {
  override readonly code = "request_rejected";
}

/** Stable codes of every error class, for documentation and exhaustive handling. */
export const ERROR_CODES = Object.freeze([
  "platform_error",
  "invalid_api_key",
  "missing_scope",
  "quota_exhausted",
  "not_found",
  "rate_limited",
  "upload_url_expired",
  "platform_unavailable",
  "invalid_response",
  "analysis_failed",
  "timeout",
  "aborted",
  "request_rejected",
] as const);

export type ErrorCode = (typeof ERROR_CODES)[number];
