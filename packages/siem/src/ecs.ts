// Renders events as Elastic Common Schema 9.4.0 documents, the release Elastic's @elastic/ecs
// package publishes and the tests validate against; every field used here has the same type and
// allowed values as in 8.17.0, the last 8.x release, so 8.x mappings take them too. Fields are
// nested objects, as ECS documents them; Clearance's own data is under `clearance.*`, the place
// ECS leaves for custom fields. event.kind, category, type and outcome take only ECS' allowed
// values (docs/siem.md).

import {
  type ByFamily,
  byFamily,
  type DecisionEvent,
  type ExceptionEvent,
  type ReviewCaseEvent,
  type RulesetFailedEvent,
  type RulesetLoadedEvent,
  type SiemEvent,
  type SiemFile,
  type VerifyFailedEvent,
  type VoteEvent,
} from "./event.js";
import type { Formatter } from "./format.js";
import { severityScore } from "./severity.js";

export const ECS_VERSION = "9.4.0";

type Json = Record<string, unknown>;

interface Categorization {
  kind: "event" | "alert";
  category: readonly string[];
  type: readonly string[];
  outcome: "success" | "failure" | "unknown";
}

function base(event: SiemEvent, categorization: Categorization, message: string): Json {
  const family = event.kind.split(".", 1)[0];
  const ecsEvent: Json = {
    id: event.id,
    kind: categorization.kind,
    category: categorization.category,
    type: categorization.type,
    outcome: categorization.outcome,
    action: event.kind,
    dataset: `clearance.${family}`,
    module: "clearance",
    provider: "clearance",
    severity: severityScore(event),
  };
  if (event.link !== null) ecsEvent.url = event.link;
  return {
    "@timestamp": event.time,
    ecs: { version: ECS_VERSION },
    message,
    event: ecsEvent,
    observer: { vendor: "Clearance", product: event.product.name, version: event.product.version },
    clearance: { entry: event.entry } as Json,
  };
}

function ecsFile(file: SiemFile): Json {
  const rendered: Json = { hash: { sha256: file.sha256 } };
  if (file.name !== null) rendered.name = file.name;
  if (file.size !== null) rendered.size = file.size;
  if (file.contentType !== null) rendered.mime_type = file.contentType;
  if (file.signatureStatus !== null || file.signer !== null) {
    const signature: Json = {};
    if (file.signatureStatus !== null) {
      signature.exists = file.signatureStatus !== "unsigned";
      signature.status = file.signatureStatus;
    }
    if (file.signer !== null) signature.subject_name = file.signer;
    rendered.code_signature = signature;
  }
  return rendered;
}

/** Custom file data ECS has no general field for (file.pe.company is for PE files only). */
function fileExtras(file: SiemFile): Json | undefined {
  return file.vendor === null ? undefined : { vendor: file.vendor };
}

function userFields(out: Json, name: string | null, related: readonly string[] = []): void {
  const users = name === null ? [...related] : [name, ...related.filter((r) => r !== name)];
  if (name !== null) out.user = { name };
  if (users.length > 0) out.related = { ...(out.related as Json | undefined), user: users };
}

const DECISION: Readonly<Record<DecisionEvent["decision"], Categorization>> = {
  allow: {
    kind: "event",
    category: ["intrusion_detection", "file"],
    type: ["allowed", "info"],
    outcome: "success",
  },
  deny: {
    kind: "alert",
    category: ["intrusion_detection", "file"],
    type: ["denied", "info"],
    outcome: "success",
  },
  review: {
    kind: "alert",
    category: ["intrusion_detection", "file"],
    type: ["info"],
    outcome: "success",
  },
};

function renderDecision(event: DecisionEvent): Json {
  const out = base(event, DECISION[event.decision], event.reason);
  out.file = ecsFile(event.file);
  out.related = { hash: [event.file.sha256] };
  userFields(out, event.requester);
  const rule: Json = { ruleset: event.ruleset.revision };
  if (event.rule !== null) rule.name = event.rule;
  if (event.ruleset.commit !== null) rule.version = event.ruleset.commit;
  out.rule = rule;
  const clearance = out.clearance as Json;
  clearance.decision = event.decision;
  clearance.matched_rules = event.matched;
  clearance.source = event.source;
  clearance.ruleset = { revision: event.ruleset.revision, commit: event.ruleset.commit };
  if (event.approvalForbiddenBy.length > 0)
    clearance.approval_forbidden_by = event.approvalForbiddenBy;
  if (event.caseId !== null) clearance.case_id = event.caseId;
  if (event.exceptionId !== null) clearance.exception_id = event.exceptionId;
  const extras = fileExtras(event.file);
  if (extras) clearance.file = extras;
  return out;
}

/** A case is the rest of a flagged decision: resolved says whether the file got through. */
function reviewCategorization(event: ReviewCaseEvent): Categorization {
  const type =
    event.kind !== "review.resolved" ? "info" : event.outcome === "approved" ? "allowed" : "denied";
  // withdrawn (made moot by a later decision) and expired cases end without an outcome
  const outcome =
    event.kind === "review.withdrawn" || event.kind === "review.expired" ? "unknown" : "success";
  return { kind: "event", category: ["intrusion_detection"], type: [type], outcome };
}

function renderReview(event: ReviewCaseEvent): Json {
  const out = base(event, reviewCategorization(event), event.reason);
  out.file = ecsFile(event.file);
  out.related = { hash: [event.file.sha256] };
  userFields(out, event.requester, event.voters);
  if (event.rule !== null) out.rule = { name: event.rule };
  const clearance = out.clearance as Json;
  clearance.case = {
    id: event.caseId,
    state: event.kind.slice("review.".length),
    ...(event.outcome !== null ? { outcome: event.outcome } : {}),
    ...(event.voters.length > 0 ? { voters: event.voters } : {}),
  };
  if (event.exceptionId !== null) clearance.exception_id = event.exceptionId;
  const extras = fileExtras(event.file);
  if (extras) clearance.file = extras;
  return out;
}

function renderVote(event: VoteEvent): Json {
  const out = base(
    event,
    { kind: "event", category: ["configuration"], type: ["change"], outcome: "success" },
    event.justification,
  );
  out.file = { hash: { sha256: event.sha256 } };
  out.related = { hash: [event.sha256] };
  userFields(out, event.voter);
  (out.clearance as Json).vote = { case_id: event.caseId, value: event.vote };
  return out;
}

const EXCEPTION_TYPE: Readonly<Record<ExceptionEvent["kind"], string>> = {
  "exception.created": "creation",
  "exception.expired": "deletion",
  "exception.revoked": "deletion",
};

function renderException(event: ExceptionEvent): Json {
  const out = base(
    event,
    {
      kind: "event",
      category: ["configuration"],
      type: [EXCEPTION_TYPE[event.kind]],
      outcome: "success",
    },
    event.justification ??
      `${event.kind}: ${event.status} exception for ${event.scope.kind} ${event.scope.value}`,
  );
  if (event.scope.kind === "file") {
    out.file = { hash: { sha256: event.scope.value } };
    out.related = { hash: [event.scope.value] };
  }
  userFields(out, event.actors.length === 1 ? event.actors[0]! : null, event.actors);
  (out.clearance as Json).exception = {
    id: event.exceptionId,
    status: event.status,
    scope: event.scope,
    ...(event.expires !== null ? { expires: event.expires } : {}),
    ...(event.actors.length > 0 ? { actors: event.actors } : {}),
    ...(event.caseId !== null ? { case_id: event.caseId } : {}),
  };
  return out;
}

function renderRulesetLoaded(event: RulesetLoadedEvent): Json {
  const out = base(
    event,
    { kind: "event", category: ["configuration"], type: ["change"], outcome: "success" },
    `rule set ${event.ruleset.revision} loaded (${event.rules} rules, ${event.trigger})`,
  );
  out.rule = {
    ruleset: event.ruleset.revision,
    ...(event.ruleset.commit !== null ? { version: event.ruleset.commit } : {}),
  };
  (out.clearance as Json).ruleset = {
    revision: event.ruleset.revision,
    commit: event.ruleset.commit,
    previous: event.previous,
    rules: event.rules,
    trigger: event.trigger,
  };
  return out;
}

function renderRulesetFailed(event: RulesetFailedEvent): Json {
  const out = base(
    event,
    { kind: "event", category: ["configuration"], type: ["change"], outcome: "failure" },
    event.message,
  );
  out.error = { code: event.code, message: event.message };
  if (event.ruleset !== null) {
    out.rule = {
      ruleset: event.ruleset.revision,
      ...(event.ruleset.commit !== null ? { version: event.ruleset.commit } : {}),
    };
  }
  (out.clearance as Json).ruleset = {
    ...(event.ruleset !== null
      ? { revision: event.ruleset.revision, commit: event.ruleset.commit }
      : {}),
    trigger: event.trigger,
    ...(event.location !== null ? { location: event.location } : {}),
  };
  return out;
}

function renderVerifyFailed(event: VerifyFailedEvent): Json {
  const out = base(
    event,
    // the audit log is Clearance's data store; a chain that does not verify is an error in it
    { kind: "alert", category: ["database"], type: ["error"], outcome: "failure" },
    event.message,
  );
  out.error = { code: event.problem, message: event.message };
  (out.clearance as Json).audit = { chain: event.chain, seq: event.seq, problem: event.problem };
  return out;
}

/** The event as an ECS document (before JSON): for tests and for callers that embed it. */
export function ecsDocument(event: SiemEvent): Json {
  return byFamily(event, RENDERERS);
}

const RENDERERS: ByFamily<Json> = {
  decision: renderDecision,
  review: renderReview,
  vote: renderVote,
  exception: renderException,
  rulesetLoaded: renderRulesetLoaded,
  rulesetFailed: renderRulesetFailed,
  verifyFailed: renderVerifyFailed,
};

export const ecsFormatter: Formatter = Object.freeze({
  name: "ecs",
  contentType: "application/json",
  render: (event: SiemEvent) => JSON.stringify(ecsDocument(event)),
});
