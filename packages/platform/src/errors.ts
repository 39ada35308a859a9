/**
 * The platform's error codes (docs/platform-api.md, "Errors"), registered in one place with the
 * HTTP status of each, and the error body every non-2xx answer carries. The simulator answers with
 * them; the client tells them apart.
 */
export const PLATFORM_ERROR_CODES = Object.freeze({
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

export type PlatformErrorCode = keyof typeof PLATFORM_ERROR_CODES;

/** One problem with a request's body or query, as listed in `error.details` of `invalid_request`. */
export interface FieldProblem {
  field: string;
  message: string;
}

/**
 * The `error` object of a non-2xx answer: `code` and `message`, plus the per-code fields
 * (`details`, `expected`, `actual`, `quota`, `resetsAt`, `requiredScope`). As received, nothing in
 * it is checked: read the extra fields with a type check.
 */
export interface PlatformErrorBody {
  code?: string;
  message?: string;
  [extra: string]: unknown;
}
