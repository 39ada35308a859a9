import { AuditUnavailableError } from "../audit/backend.js";
import {
  AgentForbiddenError,
  AgentUnauthorizedError,
  AlreadyVotedError,
  ApprovalForbiddenError,
  CaseClosedError,
  type DomainError,
  ExceptionEndedError,
  IdempotencyKeyInUseError,
  IdempotencyKeyReusedError,
  IdentityProviderError,
  type InputProblem,
  InvalidContextError,
  InvalidRequestError,
  InvalidResultError,
  InvalidReviewError,
  InvalidSignatureError,
  NotFoundError,
  PlatformRefusedError,
  PlatformResultInvalidError,
  PlatformUnavailableError,
  PlaygroundTimeoutError,
  ReplayedDeliveryError,
  ReviewsDisabledError,
  SelfApprovalError,
  ServerBusyError,
  SignInRefusedError,
  StaleTimestampError,
  TooManyEventsError,
} from "../errors.js";

/**
 * Every problem the server answers with, by stable code. The HTTP layer turns a ProblemError, or a
 * service's DomainError (by `DOMAIN_PROBLEMS`), into an `application/problem+json` document (RFC
 * 9457) with this status and title; docs/http-api.md lists the same codes, and a test keeps the
 * two in step.
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
  invalid_review: { status: 400, title: "The vote or exception is invalid" },
  unauthorized: { status: 401, title: "Sign-in or a valid API key is required" },
  invalid_signature: { status: 401, title: "The webhook signature is missing or wrong" },
  stale_timestamp: { status: 401, title: "The webhook timestamp is outside the accepted window" },
  agent_unauthorized: {
    status: 401,
    title: "A Santa agent must send a valid token for its group or machine",
  },
  agent_forbidden: { status: 403, title: "This token may not sync this machine" },
  forbidden: { status: 403, title: "The API key or signed-in person lacks a required scope" },
  host_not_allowed: {
    status: 403,
    title: "A server without keys or sign-in answers requests to loopback names only",
  },
  csrf_refused: {
    status: 403,
    title: "A request with the session cookie lacks its CSRF token or comes from another site",
  },
  sign_in_refused: {
    status: 403,
    title: "The sign-in was refused: no Clearance scope for this person, or it could not finish",
  },
  self_approval: {
    status: 403,
    title: "Nobody approves a file they asked about themselves",
  },
  not_found: { status: 404, title: "Not found" },
  reviews_disabled: { status: 404, title: "Reviews are turned off on this server" },
  case_closed: { status: 409, title: "The review case is closed" },
  approval_forbidden: {
    status: 409,
    title: "A rule forbids approving this file; it can only be rejected",
  },
  already_voted: { status: 409, title: "This voter already voted otherwise on this case" },
  exception_ended: { status: 409, title: "The exception was revoked or has expired" },
  replayed_delivery: { status: 409, title: "This webhook delivery was already received" },
  idempotency_key_in_use: {
    status: 409,
    title: "A request with this idempotency key is being answered; retry when it is",
  },
  body_too_large: { status: 413, title: "The request body is larger than the limit" },
  batch_too_large: { status: 413, title: "The batch has more items than the limit" },
  unsupported_media_type: { status: 415, title: "The request body must be JSON" },
  too_many_in_flight: {
    status: 429,
    title: "Too many decision requests of this key are in flight; retry after one finishes",
  },
  idempotency_key_reused: {
    status: 422,
    title: "The idempotency key was used with another body",
  },
  reload_failed: {
    status: 422,
    title: "The new rules do not compile; the previous rules are still served",
  },
  playground_timeout: {
    status: 422,
    title: "The candidate rules took longer than the playground's time limit",
  },
  internal_error: { status: 500, title: "Internal error" },
  platform_error: {
    status: 502,
    title: "The platform refused the server's request (its key or scopes)",
  },
  identity_provider_error: {
    status: 502,
    title: "The identity provider could not be reached, or its answer did not check out",
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

/** A problem's pointer into the request and its message (the same as a service's). */
export type ProblemDetail = InputProblem;

export class ProblemError extends Error {
  override name = "ProblemError";
  constructor(
    readonly code: ProblemCode,
    /** lower case, no trailing period, user values in backticks */
    readonly detail: string,
    readonly problems: readonly ProblemDetail[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }

  get status(): number {
    return PROBLEMS[this.code].status;
  }
}

/** A domain error's answer: its problem code, and when to retry for those that pass. */
interface DomainProblem<E extends DomainError = DomainError> {
  error: abstract new (...args: never[]) => E;
  code: ProblemCode;
  /** seconds, sent as `retry-after` */
  retryAfter?: (error: E) => number;
}

function row<E extends DomainError>(r: DomainProblem<E>): DomainProblem {
  return r as unknown as DomainProblem;
}

/**
 * Each error a service throws, and the problem it is answered with. The one place where the domain
 * meets HTTP: statuses come from `PROBLEMS` by code, `retry-after` from here. A subclass not listed
 * is answered as its nearest listed ancestor (`AuditDamagedError` as `AuditUnavailableError`).
 */
export const DOMAIN_PROBLEMS: readonly DomainProblem[] = Object.freeze([
  row({ error: InvalidRequestError, code: "invalid_request" }),
  row({ error: InvalidResultError, code: "invalid_result" }),
  row({ error: InvalidContextError, code: "invalid_context" }),
  row({ error: NotFoundError, code: "not_found" }),
  row({ error: InvalidReviewError, code: "invalid_review" }),
  row({ error: CaseClosedError, code: "case_closed" }),
  row({ error: SelfApprovalError, code: "self_approval" }),
  row({ error: ApprovalForbiddenError, code: "approval_forbidden" }),
  row({ error: AlreadyVotedError, code: "already_voted" }),
  row({ error: ExceptionEndedError, code: "exception_ended" }),
  row({ error: ReviewsDisabledError, code: "reviews_disabled" }),
  row({ error: InvalidSignatureError, code: "invalid_signature" }),
  row({ error: StaleTimestampError, code: "stale_timestamp" }),
  row({ error: ReplayedDeliveryError, code: "replayed_delivery" }),
  row({ error: IdempotencyKeyReusedError, code: "idempotency_key_reused" }),
  row({ error: IdempotencyKeyInUseError, code: "idempotency_key_in_use", retryAfter: () => 1 }),
  row({
    error: ServerBusyError,
    code: "server_busy",
    retryAfter: (e: ServerBusyError) => e.retryAfterSeconds,
  }),
  row({
    error: PlatformUnavailableError,
    code: "platform_unavailable",
    retryAfter: (e: PlatformUnavailableError) => e.retryAfterSeconds,
  }),
  row({ error: PlatformRefusedError, code: "platform_error" }),
  row({ error: SignInRefusedError, code: "sign_in_refused" }),
  row({ error: IdentityProviderError, code: "identity_provider_error" }),
  row({ error: PlaygroundTimeoutError, code: "playground_timeout" }),
  row({ error: AgentUnauthorizedError, code: "agent_unauthorized" }),
  row({ error: AgentForbiddenError, code: "agent_forbidden" }),
  row({ error: TooManyEventsError, code: "batch_too_large" }),
  row({ error: PlatformResultInvalidError, code: "platform_result_invalid" }),
  // a write refused (no decision is given unrecorded), or a read the store could not answer
  row({ error: AuditUnavailableError, code: "audit_unavailable", retryAfter: () => 1 }),
]);

/** The problem answering a domain error: the row of its class or of its nearest listed ancestor. */
export function problemOf(error: DomainError): ProblemError {
  for (let c = Object.getPrototypeOf(error); c !== null; c = Object.getPrototypeOf(c)) {
    const r = DOMAIN_PROBLEMS.find((d) => d.error.prototype === c);
    if (r === undefined) continue;
    const retryAfter = r.retryAfter?.(error);
    return new ProblemError(
      r.code,
      error.message,
      error.problems,
      retryAfter === undefined ? {} : { "retry-after": String(retryAfter) },
    );
  }
  throw new TypeError(`no problem answers \`${error.name}\`: add it to \`DOMAIN_PROBLEMS\``);
}
