/**
 * The simulator's error answers: the platform's codes (PLATFORM_ERROR_CODES in @clearance/platform,
 * docs/platform-api.md "Errors"), each with its status, built only here.
 */
import {
  type FieldProblem,
  PLATFORM_ERROR_CODES,
  type PlatformErrorBody,
  type PlatformErrorCode,
} from "@clearance/platform";

/**
 * An error the platform answers with: `{"error": {"code", "message", ...extra}}` and the code's
 * status. `extra` carries the per-code fields (`details`, `expected`, `quota`, `requiredScope`...).
 */
export class PlatformError extends Error {
  readonly code: PlatformErrorCode;
  readonly status: number;
  readonly extra: Readonly<Record<string, unknown>>;

  constructor(code: PlatformErrorCode, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.name = "PlatformError";
    this.code = code;
    this.status = PLATFORM_ERROR_CODES[code];
    this.extra = extra;
  }

  /** The answer's body. */
  body(): { error: PlatformErrorBody } {
    return { error: { code: this.code, message: this.message, ...this.extra } };
  }
}

/** `400 invalid_request` listing the fields at fault. */
export function invalidRequest(details: FieldProblem[]): PlatformError {
  const summary = details.map((d) => `\`${d.field}\` ${d.message}`).join("; ");
  return new PlatformError("invalid_request", `invalid request: ${summary}`, { details });
}
