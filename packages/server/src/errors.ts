// What the server's services throw when they cannot do what was asked. They say what went wrong in
// the domain's words (bad input, an unavailable log or platform, a replayed delivery) and nothing
// about transports: the HTTP layer maps each class to its answer in one table (`http/problems.ts`).
// Messages follow docs/diagnostics.md: lower case, no trailing period, user values in backticks.

/** Where in the input a problem is: a JSON Pointer (RFC 6901), and what is wrong there. */
export interface InputProblem {
  pointer: string;
  message: string;
}

/** Every error a service throws on purpose. A new subclass needs a row in the HTTP table. */
export abstract class DomainError extends Error {
  constructor(
    message: string,
    /** where in the input it is wrong, when the input is at fault */
    readonly problems: readonly InputProblem[] = [],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The input is wrong; `problems` point into it. */
export abstract class InvalidInputError extends DomainError {}

/** A request's envelope (a header, the body's shape) is wrong. */
export class InvalidRequestError extends InvalidInputError {
  override name = "InvalidRequestError";
}

/** The analysis result is not one the engine can decide (`problems` point into the result). */
export class InvalidResultError extends InvalidInputError {
  override name = "InvalidResultError";
}

/** The context does not match what the rules declare. */
export class InvalidContextError extends InvalidInputError {
  override name = "InvalidContextError";
}

/** Nothing is known of what was asked for. */
export class NotFoundError extends DomainError {
  override name = "NotFoundError";
}

/** A webhook delivery's signature is missing or does not match its body. */
export class InvalidSignatureError extends DomainError {
  override name = "InvalidSignatureError";
}

/** A webhook delivery was signed too far from now. */
export class StaleTimestampError extends DomainError {
  override name = "StaleTimestampError";
}

/** A webhook delivery (by its id, or by its signed content) was received before. */
export class ReplayedDeliveryError extends DomainError {
  override name = "ReplayedDeliveryError";
}

/** An idempotency key was sent again with another body: a new request needs a new key. */
export class IdempotencyKeyReusedError extends DomainError {
  override name = "IdempotencyKeyReusedError";
}

/** Another request with the same idempotency key is being answered. */
export class IdempotencyKeyInUseError extends DomainError {
  override name = "IdempotencyKeyInUseError";
}

/** The server has no room left for the work (a bounded cache is full); it sheds it. */
export class ServerBusyError extends DomainError {
  override name = "ServerBusyError";
  constructor(
    message: string,
    /** when to try again */
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** The platform cannot be reached, times out or rate limits: it may answer later. */
export class PlatformUnavailableError extends DomainError {
  override name = "PlatformUnavailableError";
  constructor(
    message: string,
    /** when to try again */
    readonly retryAfterSeconds: number,
    options?: ErrorOptions,
  ) {
    super(message, [], options);
  }
}

/** The platform refused the server's request (its key or scopes): retrying will not help. */
export class PlatformRefusedError extends DomainError {
  override name = "PlatformRefusedError";
}

/** The platform's result is not a completed, valid analysis (`problems` point into its object). */
export class PlatformResultInvalidError extends DomainError {
  override name = "PlatformResultInvalidError";
}

/** A vote or an exception is not one the review policy can take (`problems` point into it). */
export class InvalidReviewError extends InvalidInputError {
  override name = "InvalidReviewError";
}

/** The review case is closed: resolved, withdrawn or expired. */
export class CaseClosedError extends DomainError {
  override name = "CaseClosedError";
}

/** The voter asked about the file themselves, and the policy forbids approving it then. */
export class SelfApprovalError extends DomainError {
  override name = "SelfApprovalError";
}

/** A `forbid-approval` rule matched the case's decision: it can be rejected, never approved. */
export class ApprovalForbiddenError extends DomainError {
  override name = "ApprovalForbiddenError";
}

/** The voter already voted otherwise on this case. */
export class AlreadyVotedError extends DomainError {
  override name = "AlreadyVotedError";
}

/** The exception was revoked or has expired already. */
export class ExceptionEndedError extends DomainError {
  override name = "ExceptionEndedError";
}

/** Reviews are turned off (`reviews.enabled: false`). */
export class ReviewsDisabledError extends DomainError {
  override name = "ReviewsDisabledError";
}

/** Candidate rules in the playground took longer than `playground.*TimeoutMs` to compile or run. */
export class PlaygroundTimeoutError extends DomainError {
  override name = "PlaygroundTimeoutError";
}

/** Prefixes every pointer, so problems found inside `result` point into the request body. */
export function under(prefix: string, problems: readonly InputProblem[]): InputProblem[] {
  return problems.map((p) => ({ pointer: `${prefix}${p.pointer}`, message: p.message }));
}

/** A person signed in at the identity provider, but Clearance gives them nothing (or no name). */
export class SignInRefusedError extends DomainError {
  override name = "SignInRefusedError";
}

/** The identity provider could not be reached, or its answer did not check out. */
export class IdentityProviderError extends DomainError {
  override name = "IdentityProviderError";
}

/** A Santa agent sent no token, or one that names no group or machine (docs/endpoints.md). */
export class AgentUnauthorizedError extends DomainError {
  override name = "AgentUnauthorizedError";
}

/** A Santa agent's token is valid but may not sync this machine (another machine's, another group's). */
export class AgentForbiddenError extends DomainError {
  override name = "AgentForbiddenError";
}

/** An upload carries more events than one request may (`santa.maxEventsPerUpload`). */
export class TooManyEventsError extends DomainError {
  override name = "TooManyEventsError";
}
