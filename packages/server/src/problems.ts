/**
 * Every problem the server answers with, by stable code. The HTTP layer turns a ProblemError into an
 * `application/problem+json` document (RFC 9457) with this status and title; docs/http-api.md lists
 * the same codes, and a test keeps the two in step.
 */
export const PROBLEMS = Object.freeze({
  malformed_json: { status: 400, title: "The request body is not valid JSON" },
  invalid_utf8: { status: 400, title: "The request body is not valid UTF-8" },
  json_too_deep: { status: 400, title: "The request body nests deeper than the limit" },
  forbidden_key: {
    status: 400,
    title: "The request body has a key that could change object prototypes",
  },
  invalid_request: { status: 400, title: "The request does not match the endpoint's schema" },
  invalid_result: { status: 400, title: "The analysis result is invalid" },
  invalid_context: { status: 400, title: "The request context is invalid" },
  invalid_cursor: { status: 400, title: "The pagination cursor is invalid" },
  unauthorized: { status: 401, title: "A valid API key is required" },
  invalid_signature: { status: 401, title: "The webhook signature is missing or wrong" },
  stale_timestamp: { status: 401, title: "The webhook timestamp is outside the accepted window" },
  forbidden: { status: 403, title: "The API key lacks a required scope" },
  not_found: { status: 404, title: "Not found" },
  replayed_delivery: { status: 409, title: "This webhook delivery was already received" },
  body_too_large: { status: 413, title: "The request body is larger than the limit" },
  batch_too_large: { status: 413, title: "The batch has more items than the limit" },
  unsupported_media_type: { status: 415, title: "The request body must be JSON" },
  too_many_in_flight: {
    status: 429,
    title: "Too many decision requests of this key are in flight; retry after one finishes",
  },
  reload_failed: {
    status: 422,
    title: "The new rules do not compile; the previous rules are still served",
  },
  internal_error: { status: 500, title: "Internal error" },
  platform_error: {
    status: 502,
    title: "The platform refused the server's request (its key or scopes)",
  },
  platform_result_invalid: {
    status: 502,
    title: "The platform's result is not a completed, valid analysis",
  },
  audit_unavailable: {
    status: 503,
    title: "The audit log cannot record decisions; no decision is given unrecorded",
  },
  platform_unavailable: {
    status: 503,
    title: "The platform cannot be reached or is rate limiting; try again later",
  },
  server_busy: { status: 503, title: "The server is overloaded and sheds load; try again later" },
} as const);

export type ProblemCode = keyof typeof PROBLEMS;

export interface ProblemDetail {
  /** JSON Pointer (RFC 6901) into the request body */
  pointer: string;
  message: string;
}

export class ProblemError extends Error {
  override name = "ProblemError";
  constructor(
    readonly code: ProblemCode,
    /** lower case, no trailing period, user values in backticks */
    readonly detail: string,
    readonly problems: ProblemDetail[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }

  get status(): number {
    return PROBLEMS[this.code].status;
  }
}

/** Prefixes every pointer, so problems found inside `result` point into the request body. */
export function under(prefix: string, problems: readonly ProblemDetail[]): ProblemDetail[] {
  return problems.map((p) => ({ pointer: `${prefix}${p.pointer}`, message: p.message }));
}
