// The one event type Clearance sends to SIEMs. Every format (OCSF, ECS, CEF) renders this, and
// nothing else: a field a format needs is added here first. Events are made from audit entries
// (the server's `siem-events.ts`), so each carries the entry it came from, and its id is stable
// across retries, restarts and replicas: a receiver drops duplicates by `id`.

/** What happened. The prefix before the dot is the event's family. */
export const SIEM_EVENT_KINDS = Object.freeze([
  "decision",
  "review.opened",
  "review.resolved",
  "review.withdrawn",
  "review.expired",
  "review.vote",
  "exception.created",
  "exception.expired",
  "exception.revoked",
  "ruleset.loaded",
  "ruleset.failed",
  "audit.verify_failed",
] as const);

export type SiemEventKind = (typeof SIEM_EVENT_KINDS)[number];

/** The analysed file, as far as the event knows it. */
export interface SiemFile {
  sha256: string;
  /** without a directory */
  name: string | null;
  size: number | null;
  /** MIME type */
  contentType: string | null;
  /** the signature's status (`valid`, `expired`, `self_signed`, `unsigned`, `invalid`), if known */
  signatureStatus: string | null;
  /** the signer's name */
  signer: string | null;
  vendor: string | null;
}

/** The rule set a decision or reload is about. */
export interface SiemRuleset {
  revision: string;
  commit: string | null;
}

interface SiemEventBase {
  /**
   * Unique and stable: the audit entry's id (a UUIDv7), so a retry, a restart or another replica
   * sending the same event sends the same id.
   */
  id: string;
  kind: SiemEventKind;
  /** when it happened: RFC 3339 UTC with milliseconds */
  time: string;
  /** the audit entry the event was made from */
  entry: { id: string; chain: string; seq: number };
  /** the entry in the console or API (`server.publicUrl`), or null when no public URL is set */
  link: string | null;
  /** the Clearance that recorded it */
  product: { name: "Clearance"; version: string };
}

export interface DecisionEvent extends SiemEventBase {
  kind: "decision";
  decision: "allow" | "deny" | "review";
  /** the deciding rule; null when no rule matched (the default decision) */
  rule: string | null;
  reason: string;
  /** every rule whose condition held, in rule order */
  matched: readonly string[];
  ruleset: SiemRuleset;
  /** who asked: an API key id or `user:<name>`; null on an open server */
  requester: string | null;
  /** how the question came: `api`, `webhook`, `sync`, `review`, ... */
  source: string;
  file: SiemFile;
  /** the review case this decision opened or joined */
  caseId: string | null;
  /** the exception the deciding rule read */
  exceptionId: string | null;
  /** `forbid-approval` rules that matched */
  approvalForbiddenBy: readonly string[];
}

export interface ReviewCaseEvent extends SiemEventBase {
  kind: "review.opened" | "review.resolved" | "review.withdrawn" | "review.expired";
  caseId: string;
  file: SiemFile;
  /** the rule and reason of the decision that opened the case */
  rule: string | null;
  reason: string;
  requester: string | null;
  /** for `review.resolved`: how the votes ended */
  outcome: "approved" | "rejected" | null;
  /** for `review.resolved`: the exception it yielded */
  exceptionId: string | null;
  /** who voted, for `review.resolved` */
  voters: readonly string[];
}

export interface VoteEvent extends SiemEventBase {
  kind: "review.vote";
  caseId: string;
  sha256: string;
  voter: string;
  vote: "approve" | "reject";
  justification: string;
}

export interface ExceptionEvent extends SiemEventBase {
  kind: "exception.created" | "exception.expired" | "exception.revoked";
  exceptionId: string;
  /** `approved` lets matching files through the rules that read exceptions; `rejected` keeps them out */
  status: "approved" | "rejected";
  /** what it covers: one file (`sha256`), a signer (thumbprint) or a vendor and product */
  scope: { kind: "file" | "signer" | "vendor"; value: string };
  expires: string | null;
  /** who created (the voters, or the admin) or ended it; empty when the sweep ended it */
  actors: readonly string[];
  justification: string | null;
  caseId: string | null;
}

export interface RulesetLoadedEvent extends SiemEventBase {
  kind: "ruleset.loaded";
  ruleset: SiemRuleset;
  /** the revision it replaced; null at start */
  previous: string | null;
  rules: number;
  /** `start`, `watch`, `signal`, `api` */
  trigger: string;
}

export interface RulesetFailedEvent extends SiemEventBase {
  kind: "ruleset.failed";
  /** the revision still in force */
  ruleset: SiemRuleset | null;
  trigger: string;
  /** the first diagnostic's stable code, and every diagnostic printed */
  code: string;
  message: string;
  /** where, when the error has a place: `path:line:column` */
  location: string | null;
}

export interface VerifyFailedEvent extends SiemEventBase {
  kind: "audit.verify_failed";
  /** the chain and position where verification broke */
  chain: string;
  seq: number;
  problem: string;
  message: string;
}

export type SiemEvent =
  | DecisionEvent
  | ReviewCaseEvent
  | VoteEvent
  | ExceptionEvent
  | RulesetLoadedEvent
  | RulesetFailedEvent
  | VerifyFailedEvent;

/** One function per family of events: what a format needs to render every kind. */
export interface ByFamily<T> {
  decision(event: DecisionEvent): T;
  review(event: ReviewCaseEvent): T;
  vote(event: VoteEvent): T;
  exception(event: ExceptionEvent): T;
  rulesetLoaded(event: RulesetLoadedEvent): T;
  rulesetFailed(event: RulesetFailedEvent): T;
  verifyFailed(event: VerifyFailedEvent): T;
}

/** Calls the function of `event`'s family: the one place kinds map to families. */
export function byFamily<T>(event: SiemEvent, f: ByFamily<T>): T {
  switch (event.kind) {
    case "decision":
      return f.decision(event);
    case "review.opened":
    case "review.resolved":
    case "review.withdrawn":
    case "review.expired":
      return f.review(event);
    case "review.vote":
      return f.vote(event);
    case "exception.created":
    case "exception.expired":
    case "exception.revoked":
      return f.exception(event);
    case "ruleset.loaded":
      return f.rulesetLoaded(event);
    case "ruleset.failed":
      return f.rulesetFailed(event);
    case "audit.verify_failed":
      return f.verifyFailed(event);
  }
}
