// The Reviews and Exceptions pages' rules as plain functions (no DOM; unit-tested under Node):
// what a vote may ask for under the policy, how the form is checked before it is sent, what the
// server's answers and refusals say in words, and the file's facts read from an input snapshot.
import {
  ApiError,
  type CaseDetail,
  type CaseView,
  type DecisionBrief,
  describeError,
  type ExceptionKind,
  type ReviewPolicy,
  type VoteAnswer,
  type VoteBody,
} from "../api.js";
import { toUtc } from "../query.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// ---- durations and times -------------------------------------------------------------------

/** A duration as people read it, to two units: `45 s`, `12 min`, `3 h 5 min`, `6 d 23 h`. */
export function span(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < MINUTE) return `${Math.floor(abs / 1000)} s`;
  if (abs < HOUR) return `${Math.floor(abs / MINUTE)} min`;
  if (abs < DAY) {
    const m = Math.floor((abs % HOUR) / MINUTE);
    return `${Math.floor(abs / HOUR)} h${m ? ` ${m} min` : ""}`;
  }
  const h = Math.floor((abs % DAY) / HOUR);
  return `${Math.floor(abs / DAY)} d${h ? ` ${h} h` : ""}`;
}

/** `in 6 d 23 h` or `3 h ago`, from `now`. */
export function relative(iso: string, now: number): string {
  const d = Date.parse(iso) - now;
  return d >= 0 ? `in ${span(d)}` : `${span(d)} ago`;
}

/** `2027-03-04 16:36 UTC`: an expiry to the minute. */
export function utcMinute(ms: number | string): string {
  const t = typeof ms === "string" ? Date.parse(ms) : ms;
  return `${new Date(t).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** A time as the expiry field shows it: UTC, without a zone, to the minute (`2027-03-04T16:36`). */
export function toField(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16);
}

// ---- the queue -----------------------------------------------------------------------------

export interface QueueFilter {
  rule?: string;
  olderThan?: string;
}

/** `olderThan` as the API reads it: units from largest to smallest (`1h`, `2d`, `1d12h`). */
const DURATION = /^([0-9]+(ms|[smhdw]))+$/;

/** The queue's filter from an address or form, each value checked as the API checks it. */
export function readQueueFilter(values: { rule?: string | null; olderThan?: string | null }): {
  filter: QueueFilter;
  problems: { field: "rule" | "olderThan"; message: string }[];
} {
  const filter: QueueFilter = {};
  const problems: { field: "rule" | "olderThan"; message: string }[] = [];
  const rule = values.rule?.trim();
  if (rule) filter.rule = rule;
  const older = values.olderThan?.trim();
  if (older) {
    if (DURATION.test(older)) filter.olderThan = older;
    else
      problems.push({
        field: "olderThan",
        message: `\`${older}\` is not a duration: write \`2h\`, \`3d\` or \`1d12h\``,
      });
  }
  return { filter, problems };
}

/** The page of open cases, oldest first, from `cursor` (the previous page's `nextCursor`). */
export function casesUrl(filter: QueueFilter, limit: number, cursor?: string): string {
  const params = new URLSearchParams();
  if (filter.rule) params.set("rule", filter.rule);
  if (filter.olderThan) params.set("olderThan", filter.olderThan);
  params.set("limit", String(limit));
  if (cursor !== undefined) params.set("cursor", cursor);
  return `/v1/reviews?${params}`;
}

/** The console's address of the queue with a filter. */
export function queueHash(filter: QueueFilter): string {
  const params = new URLSearchParams();
  if (filter.rule) params.set("rule", filter.rule);
  if (filter.olderThan) params.set("olderThan", filter.olderThan);
  return params.size === 0 ? "#/reviews" : `#/reviews?${params}`;
}

/** `#/` opens Reviews when there is work waiting, and Audit otherwise. */
export function landingPage(openCases: number): "reviews" | "audit" {
  return openCases > 0 ? "reviews" : "audit";
}

/** The votes of a case, in a line: `ana approve (vendor), ben reject`. */
export function votesLine(votes: CaseView["votes"]): string {
  if (votes.length === 0) return "none yet";
  return votes
    .map(
      (v) =>
        `${v.voter} ${v.vote}${v.exception && v.exception.kind !== "file" ? ` (${v.exception.kind})` : ""}`,
    )
    .join(", ");
}

// ---- who votes -----------------------------------------------------------------------------

const VOTER_KEY = "clearance.voter";

/**
 * Who the console votes as. Signed in (a person, or an API key), the session's identity: the server
 * records that whatever the body says, so it is shown, not asked. On an open server (no keys, no
 * sign-in), the name typed in "Voting as" (remembered in this browser) that every vote and
 * revocation sends as `voter`/`by`.
 */
export function votingAs(
  storage: Pick<Storage, "getItem"> | undefined,
  signedIn: string | null = null,
): {
  name: string;
  editable: boolean;
} {
  if (signedIn !== null) return { name: signedIn, editable: false };
  let name = "";
  try {
    name = storage?.getItem(VOTER_KEY) ?? "";
  } catch {
    // storage refused (a locked-down profile): the field starts empty
  }
  return { name, editable: true };
}

export function rememberVoter(storage: Pick<Storage, "setItem"> | undefined, name: string): void {
  try {
    storage?.setItem(VOTER_KEY, name.trim());
  } catch {
    // not remembered; the vote is sent all the same
  }
}

// ---- the vote form -------------------------------------------------------------------------

export type Vote = "approve" | "reject";

export interface ScopeOption {
  kind: ExceptionKind;
  label: string;
  /** what it covers, as text (a thumbprint, a vendor and product) */
  covers: string;
}

/**
 * The exception kinds a vote may ask for: the file always; its signer only with a valid
 * signature (`signer`), its vendor's product only when it names one; a rejection the file only.
 */
export function scopeOptions(kase: Pick<CaseView, "sha256" | "signer" | "vendor">, vote: Vote) {
  const options: ScopeOption[] = [{ kind: "file", label: "This file only", covers: kase.sha256 }];
  if (vote === "reject") return options;
  if (kase.signer !== null)
    options.push({
      kind: "signer",
      label: "Every file signed with this certificate",
      covers: kase.signer,
    });
  if (kase.vendor !== null)
    options.push({
      kind: "vendor",
      label: "Every file of this vendor's product",
      covers: `${kase.vendor.name} / ${kase.vendor.product}`,
    });
  return options;
}

/** The expiries an approval may ask for, from `now`: the default, the latest, and "never". */
export function expiryBounds(policy: ReviewPolicy, now: number) {
  return {
    defaultAt: now + policy.exceptionExpiry.defaultMs,
    maxAt: now + policy.exceptionExpiry.maxMs,
    allowNever: policy.exceptionExpiry.allowNoExpiry,
  };
}

export interface VoteForm {
  vote: Vote;
  justification: string;
  voter: string;
  kind: ExceptionKind;
  /** as typed: UTC without a zone (`2027-03-04T16:36`) or RFC 3339 */
  expires: string;
  never: boolean;
}

export type VoteField = "vote" | "voter" | "justification" | "kind" | "expires";

export interface FormProblem {
  field: VoteField;
  message: string;
}

/**
 * Checks a vote as the server would, before it is sent; answers the request body when there is
 * nothing to correct. The server checks again (its clock, other voters): its refusals are shown too.
 */
export function checkVote(
  form: VoteForm,
  kase: Pick<CaseView, "sha256" | "signer" | "vendor" | "approvalForbiddenBy" | "status">,
  policy: ReviewPolicy,
  now: number,
): { body?: VoteBody; problems: FormProblem[] } {
  const problems: FormProblem[] = [];
  if (kase.status !== "open")
    problems.push({ field: "vote", message: `the case is ${kase.status}: it takes no more votes` });
  if (form.vote === "approve" && kase.approvalForbiddenBy.length > 0)
    problems.push({
      field: "vote",
      message: `approving is forbidden by ${forbiddenBy(kase.approvalForbiddenBy)}: this file can only be rejected`,
    });
  const voter = form.voter.trim();
  if (voter === "")
    problems.push({
      field: "voter",
      message: "say who votes: without API keys every vote names its voter",
    });
  else if (voter.length > 128)
    problems.push({ field: "voter", message: `at most 128 characters, not ${voter.length}` });
  const justification = form.justification.trim();
  if (justification === "")
    problems.push({ field: "justification", message: "a justification is required: say why" });
  else if (justification.length > 4000)
    problems.push({
      field: "justification",
      message: `at most 4000 characters, not ${justification.length}`,
    });
  if (!scopeOptions(kase, form.vote).some((o) => o.kind === form.kind))
    problems.push({
      field: "kind",
      message:
        form.vote === "reject"
          ? "a rejection covers this file only"
          : `a \`${form.kind}\` exception needs ${form.kind === "signer" ? "a valid signature" : "a vendor and product"}`,
    });
  const bounds = expiryBounds(policy, now);
  let expires: string | null | undefined;
  if (form.never) {
    if (bounds.allowNever) expires = null;
    else
      problems.push({
        field: "expires",
        message: "exceptions that never expire are not allowed on this server",
      });
  } else {
    const text = form.expires.trim();
    const at = text === "" ? undefined : toUtc(text);
    if (text === "")
      problems.push({
        field: "expires",
        message: `give an expiry, at most ${policy.exceptionExpiry.max} from now`,
      });
    else if (at === undefined)
      problems.push({
        field: "expires",
        message: `\`${text}\` is not a time: write \`${toField(bounds.defaultAt)}\` (UTC)`,
      });
    else if (Date.parse(at) <= now)
      problems.push({ field: "expires", message: `${utcMinute(at)} is in the past` });
    else if (Date.parse(at) > bounds.maxAt)
      problems.push({
        field: "expires",
        message: `${utcMinute(at)} is later than the policy allows: at most ${policy.exceptionExpiry.max} from now (${utcMinute(bounds.maxAt)})`,
      });
    else expires = at;
  }
  if (problems.length > 0) return { problems };
  return {
    problems,
    body: {
      vote: form.vote,
      justification,
      voter,
      exception: { kind: form.kind, ...(expires === undefined ? {} : { expires }) },
    },
  };
}

function forbiddenBy(rules: readonly string[]): string {
  return `${rules.length === 1 ? "rule" : "rules"} ${rules.join(", ")}`;
}

/**
 * The file's decision since a closed case (the re-decision of its resolution, or a later request):
 * the heading's `review` badge is the decision that opened the case, not what the file is now.
 * Undefined while the case is open, or when nothing decided the file after it closed.
 */
export function decidedSince(
  detail: Pick<CaseDetail, "case" | "fileDecisions">,
): DecisionBrief | undefined {
  const { closed } = detail.case;
  if (detail.case.status === "open" || closed === null) return undefined;
  // newest first (GET /v1/reviews/{id})
  const newest = detail.fileDecisions[0];
  return newest && Date.parse(newest.time) >= Date.parse(closed) ? newest : undefined;
}

/** Why approving is disabled, in words; undefined when it is not. */
export function approvalForbidden(kase: Pick<CaseView, "approvalForbiddenBy">): string | undefined {
  if (kase.approvalForbiddenBy.length === 0) return undefined;
  return `Approving is forbidden: the decision matched ${forbiddenBy(kase.approvalForbiddenBy)} (forbid-approval). This file can be rejected, or left to expire.`;
}

/** What a vote came to, in words: still waiting, or resolved with an exception and a decision. */
export function voteOutcome(answer: VoteAnswer): string[] {
  const c = answer.case;
  const lines: string[] = [];
  if (answer.replayed) lines.push("This vote was already recorded: nothing was recorded twice.");
  else lines.push(`Your ${answer.vote.vote === "approve" ? "approval" : "rejection"} is recorded.`);
  if (c.status === "open")
    lines.push(`The case is still open, waiting for ${c.waitingFor ?? "more votes"}.`);
  else if (c.status === "resolved") {
    const e = answer.exception;
    lines.push(
      e
        ? `The case is resolved: ${c.outcome}, with ${e.kind} exception ${e.id} by ${e.approvers.join(", ")}, ${e.expires === null ? "never expiring" : `until ${utcMinute(e.expires)}`}.`
        : `The case is resolved: ${c.outcome ?? "closed"}.`,
    );
    const d = answer.decision;
    if (d)
      lines.push(
        `The file was decided again: ${d.decision} (${d.rule === null ? "no rule matched" : `rule ${d.rule}`}: ${d.reason}).`,
      );
  } else lines.push(`The case is ${c.status}.`);
  return lines;
}

/** The server's refusal of a vote or a revocation, in words a reviewer acts on. */
export function refusal(error: unknown): string {
  if (!(error instanceof ApiError)) return describeError(error);
  const where = error.problems.map((p) => ` (${p.pointer}: ${p.message})`).join("");
  switch (error.code) {
    case "self_approval":
      return `You cannot approve this file: you asked about it yourself, and this server does not allow self-approval. Another reviewer must approve it; you may still reject it. (${error.detail})`;
    case "approval_forbidden":
      return `This file can never be approved: ${error.detail}.`;
    case "already_voted":
      return `You have already voted on this case, and a vote cannot be changed: ${error.detail}.`;
    case "case_closed":
      return `The case is closed and takes no more votes: ${error.detail}.`;
    case "exception_ended":
      return `The exception has already ended: ${error.detail}.`;
    case "invalid_review":
    case "invalid_request":
      return `The server refused it: ${error.detail}${where}.`;
    case "reviews_disabled":
      return "Reviews are turned off on this server (reviews.enabled is false).";
  }
  if (error.status === 403)
    return `The server refused this (403 forbidden): ${error.detail}. Voting needs the review scope; revoking needs the exceptions scope.`;
  return describeError(error);
}

/** A read's failure (the queue, a case, the exceptions), in words. */
export function readFailure(error: unknown): string {
  if (error instanceof ApiError && error.code === "reviews_disabled")
    return "Reviews are turned off on this server (reviews.enabled is false): there are no cases to show.";
  if (error instanceof ApiError && error.status === 403)
    return `The server refused this request (403 forbidden): ${error.detail}. Reading reviews and exceptions needs the review scope.`;
  return describeError(error);
}

// ---- the file's facts, from the input snapshot ---------------------------------------------

export interface FileFacts {
  fileName?: string;
  sha256?: string;
  signatureStatus?: string;
  signer?: string;
  thumbprint?: string;
  vendor?: string;
  product?: string;
  detections?: { malicious: number; total: number };
  /** the engines that flagged it, `engine: label`, malicious first */
  flaggedBy: string[];
  trustScore?: number;
  firstSeen?: string;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isFinite(v) ? v : undefined;

/** What a reviewer reads first of a file, from the canonical result in a decision's input. */
export function fileFacts(input: Json | null): FileFacts {
  const r = obj(input?.result) ?? {};
  const sig = obj(r.signature);
  const vendor = obj(r.vendor);
  const det = obj(r.detections);
  const engines = Array.isArray(r.engines) ? r.engines.map(obj).filter((e) => e !== undefined) : [];
  const facts: FileFacts = { flaggedBy: [] };
  const set = <K extends keyof FileFacts>(key: K, value: FileFacts[K] | undefined) => {
    if (value !== undefined) facts[key] = value;
  };
  set("fileName", str(r.fileName));
  set("sha256", str(r.sha256));
  set("signatureStatus", str(sig?.status));
  set("signer", str(sig?.signer));
  set("thumbprint", str(sig?.thumbprint));
  set("vendor", str(vendor?.name));
  set("product", str(vendor?.product));
  set("trustScore", num(r.trustScore));
  set("firstSeen", str(r.firstSeen));
  if (det) {
    const counts = ["malicious", "suspicious", "undetected", "harmless", "failed", "unsupported"];
    const total = engines.length || counts.reduce((n, k) => n + (num(det[k]) ?? 0), 0);
    facts.detections = { malicious: num(det.malicious) ?? 0, total };
  }
  const rank = (c: unknown) => (c === "malicious" ? 0 : 1);
  facts.flaggedBy = engines
    .filter((e) => e.category === "malicious" || e.category === "suspicious")
    .sort((a, b) => rank(a.category) - rank(b.category))
    .map(
      (e) =>
        `${str(e.engine) ?? "?"}: ${str(e.result) ?? "(no label)"}${e.category === "suspicious" ? " (suspicious)" : ""}`,
    );
  return facts;
}
