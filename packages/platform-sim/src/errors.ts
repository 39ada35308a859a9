/**
 * The platform's error codes (docs/platform-api.md, "Errors"), registered in one place: the HTTP
 * status of each and the only way the simulator builds an error answer.
 */
export const ERROR_CODES = Object.freeze({
  invalid_request: 400,
  sha256_mismatch: 400,
  invalid_api_key: 401,
  quota_exhausted: 402,
  insufficient_scope: 403,
  not_found: 404,
  upload_missing: 409,
  upload_url_expired: 410,
  rate_limited: 429,
  internal_error: 500,
  unavailable: 503,
} as const);

export type ErrorCode = keyof typeof ERROR_CODES;

/** One problem with a request's body or query, as listed in `error.details`. */
export interface FieldProblem {
  field: string;
  message: string;
}

/**
 * An error the platform answers with: `{"error": {"code", "message", ...extra}}` and the code's
 * status. `extra` carries the per-code fields (`details`, `expected`, `quota`, `requiredScope`...).
 */
export class PlatformError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly extra: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.name = "PlatformError";
    this.code = code;
    this.status = ERROR_CODES[code];
    this.extra = extra;
  }

  /** The answer's body. */
  body(): { error: Record<string, unknown> } {
    return { error: { code: this.code, message: this.message, ...this.extra } };
  }
}

/** `400 invalid_request` listing the fields at fault. */
export function invalidRequest(details: FieldProblem[]): PlatformError {
  const summary = details.map((d) => `\`${d.field}\` ${d.message}`).join("; ");
  return new PlatformError("invalid_request", `invalid request: ${summary}`, { details });
}
