// Renders events as OCSF 1.3.0 (https://schema.ocsf.io/1.3.0): the first release with every
// attribute the mapping uses (1.1.0 lacks file.signature.state_id, evidences.user, a managed
// entity's policy, ...; docs/siem.md), and the one the tests validate against (compiled from
// ocsf-schema's 1.3.0 tag when they run: test/support/ocsf-schema.ts). Three classes carry every
// kind; docs/siem.md says why each: Detection Finding (2004) for decisions, review cases and
// audit-chain failures, Entity Management (3004) for votes and exceptions, Application Lifecycle
// (6002) for rule-set reloads. Objects are built directly from the event (no clones, no schema
// look-ups): rendering runs on the delivery path.

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

export const OCSF_VERSION = "1.3.0";

type Json = Record<string, unknown>;

const INT32_MAX = 2 ** 31 - 1;

const SEVERITY = ["Unknown", "Informational", "Low", "Medium", "High", "Critical"] as const;
type SeverityId = 1 | 2 | 3 | 4 | 5;

interface OcsfClass {
  uid: number;
  name: string;
  categoryUid: number;
  categoryName: string;
  /** activity id to caption, as the class defines them */
  activities: Readonly<Record<number, string>>;
}

const DETECTION_FINDING: OcsfClass = {
  uid: 2004,
  name: "Detection Finding",
  categoryUid: 2,
  categoryName: "Findings",
  activities: { 1: "Create", 2: "Update", 3: "Close" },
};
const ENTITY_MANAGEMENT: OcsfClass = {
  uid: 3004,
  name: "Entity Management",
  categoryUid: 3,
  categoryName: "Identity & Access Management",
  activities: { 1: "Create", 3: "Update", 4: "Delete", 11: "Deactivate" },
};
const APPLICATION_LIFECYCLE: OcsfClass = {
  uid: 6002,
  name: "Application Lifecycle",
  categoryUid: 6,
  categoryName: "Application Activity",
  activities: { 8: "Update" },
};

/** The attributes every event has: classification, occurrence, severity and metadata. */
function envelope(
  event: SiemEvent,
  ocsfClass: OcsfClass,
  activityId: number,
  severityId: SeverityId,
  profiles: readonly string[],
  correlationUid: string | null,
): Json {
  const metadata: Json = {
    version: OCSF_VERSION,
    product: {
      name: event.product.name,
      vendor_name: "Clearance",
      version: event.product.version,
    },
    uid: event.id,
    log_name: event.entry.chain,
    profiles,
  };
  // metadata.sequence is an integer_t (32 bits); a longer chain's position stays in the log's own
  if (event.entry.seq <= INT32_MAX) metadata.sequence = event.entry.seq;
  if (correlationUid !== null) metadata.correlation_uid = correlationUid;
  return {
    class_uid: ocsfClass.uid,
    class_name: ocsfClass.name,
    category_uid: ocsfClass.categoryUid,
    category_name: ocsfClass.categoryName,
    activity_id: activityId,
    activity_name: ocsfClass.activities[activityId],
    type_uid: ocsfClass.uid * 100 + activityId,
    type_name: `${ocsfClass.name}: ${ocsfClass.activities[activityId]}`,
    severity_id: severityId,
    severity: SEVERITY[severityId],
    time: Date.parse(event.time),
    metadata,
  };
}

/** OCSF digital_signature states; other Clearance statuses are "Other" with their own words. */
const SIGNATURE_STATE: Readonly<Record<string, readonly [number, string]>> = {
  valid: [1, "Valid"],
  expired: [2, "Expired"],
  self_signed: [99, "Self-signed"],
  invalid: [99, "Invalid"],
};

function ocsfFile(file: SiemFile): Json {
  // `name` is required by the schema; a file known only by its hash is named by it.
  const rendered: Json = {
    name: file.name ?? file.sha256,
    type_id: 1,
    type: "Regular File",
    hashes: [{ algorithm_id: 3, algorithm: "SHA-256", value: file.sha256 }],
  };
  if (file.size !== null) rendered.size = file.size;
  if (file.contentType !== null) rendered.mime_type = file.contentType;
  if (file.vendor !== null) rendered.company_name = file.vendor;
  const state = file.signatureStatus === null ? undefined : SIGNATURE_STATE[file.signatureStatus];
  if (state !== undefined) {
    // The algorithm is not in the event, and a certificate object would need an issuer and a
    // serial number it does not have either: the signer stays in `unmapped`.
    rendered.signature = {
      algorithm_id: 0,
      algorithm: "Unknown",
      state_id: state[0],
      state: state[1],
    };
  }
  return rendered;
}

/** What the file object has no place for. */
function fileUnmapped(file: SiemFile): Json | undefined {
  return defined({ signature_status: file.signatureStatus, signer: file.signer });
}

function user(name: string): Json {
  return { name };
}

/** Keeps only the keys whose value is not undefined: the schema has no null for absent. */
function defined(values: Json): Json | undefined {
  const kept: Json = {};
  let any = false;
  for (const key in values) {
    if (values[key] !== undefined && values[key] !== null) {
      kept[key] = values[key];
      any = true;
    }
  }
  return any ? kept : undefined;
}

/** Sets `unmapped` only when something is left for it: an absent key, not an undefined one. */
function setUnmapped(out: Json, values: Json): void {
  const unmapped = defined(values);
  if (unmapped !== undefined) out.unmapped = unmapped;
}

function analytic(rule: string, version: string | null): Json {
  const rendered: Json = { name: rule, type_id: 1, type: "Rule" };
  if (version !== null) rendered.version = version;
  return rendered;
}

interface DecisionOutcome {
  actionId: number;
  action: string;
  dispositionId: number;
  disposition: string;
  severityId: SeverityId;
  statusId: number;
  status: string;
}

const DECISION_OUTCOME: Readonly<Record<DecisionEvent["decision"], DecisionOutcome>> = {
  allow: {
    actionId: 1,
    action: "Allowed",
    dispositionId: 1,
    disposition: "Allowed",
    severityId: 1,
    statusId: 4,
    status: "Resolved",
  },
  deny: {
    actionId: 2,
    action: "Denied",
    dispositionId: 2,
    disposition: "Blocked",
    severityId: 4,
    statusId: 1,
    status: "New",
  },
  // held until reviewers approve: not allowed yet, and the decision is deferred, not final
  review: {
    actionId: 2,
    action: "Denied",
    dispositionId: 14,
    disposition: "Delayed",
    severityId: 3,
    statusId: 1,
    status: "New",
  },
};

function renderDecision(event: DecisionEvent): Json {
  const { actionId, action, dispositionId, disposition, severityId, statusId, status } =
    DECISION_OUTCOME[event.decision];
  const out = envelope(event, DETECTION_FINDING, 1, severityId, ["security_control"], event.caseId);
  const findingInfo: Json = {
    uid: event.id,
    title: `${event.decision} ${event.file.name ?? event.file.sha256}`,
    desc: event.reason,
    created_time: out.time,
    types: [`clearance.decision.${event.decision}`],
  };
  if (event.rule !== null) findingInfo.analytic = analytic(event.rule, event.ruleset.revision);
  if (event.matched.length > 0) {
    findingInfo.related_analytics = event.matched.map((rule) =>
      analytic(rule, event.ruleset.revision),
    );
  }
  if (event.link !== null) findingInfo.src_url = event.link;
  const evidence: Json = { file: ocsfFile(event.file) };
  if (event.requester !== null) evidence.user = user(event.requester);
  out.finding_info = findingInfo;
  out.action_id = actionId;
  out.action = action;
  out.disposition_id = dispositionId;
  out.disposition = disposition;
  out.status_id = statusId;
  out.status = status;
  out.message = event.reason;
  out.evidences = [evidence];
  setUnmapped(out, {
    decision: event.decision,
    source: event.source,
    ruleset_commit: event.ruleset.commit,
    exception_id: event.exceptionId,
    approval_forbidden_by:
      event.approvalForbiddenBy.length > 0 ? event.approvalForbiddenBy : undefined,
    file: fileUnmapped(event.file),
  });
  return out;
}

const REVIEW_FINDING: Readonly<
  Record<ReviewCaseEvent["kind"], readonly [number, number, string, string]>
> = {
  // activity_id, status_id, status, title
  "review.opened": [1, 1, "New", "review case opened"],
  "review.resolved": [3, 4, "Resolved", "review case resolved"],
  "review.withdrawn": [3, 99, "Withdrawn", "review case withdrawn"],
  "review.expired": [3, 99, "Expired", "review case expired"],
};

function renderReview(event: ReviewCaseEvent): Json {
  const [activityId, statusId, status, title] = REVIEW_FINDING[event.kind];
  const out = envelope(
    event,
    DETECTION_FINDING,
    activityId,
    event.kind === "review.opened" ? 3 : 1,
    ["security_control"],
    event.caseId,
  );
  const findingInfo: Json = {
    uid: event.caseId,
    title: `${title}: ${event.file.name ?? event.file.sha256}`,
    desc: event.reason,
    types: [`clearance.${event.kind}`],
  };
  if (event.rule !== null) findingInfo.analytic = analytic(event.rule, null);
  if (event.link !== null) findingInfo.src_url = event.link;
  const evidence: Json = { file: ocsfFile(event.file) };
  if (event.requester !== null) evidence.user = user(event.requester);
  out.finding_info = findingInfo;
  // A case holds the file until it is resolved: approved lets it through, anything else does not.
  if (event.kind === "review.resolved" && event.outcome === "approved") {
    Object.assign(out, {
      action_id: 1,
      action: "Allowed",
      disposition_id: 8,
      disposition: "Approved",
    });
  } else if (event.kind === "review.resolved") {
    Object.assign(out, {
      action_id: 2,
      action: "Denied",
      disposition_id: 25,
      disposition: "Rejected",
    });
  } else if (event.kind === "review.opened") {
    Object.assign(out, {
      action_id: 2,
      action: "Denied",
      disposition_id: 14,
      disposition: "Delayed",
    });
  } else {
    // withdrawn (a later decision made it moot) or expired: the case decides nothing
    Object.assign(out, { action_id: 0, action: "Unknown" });
  }
  out.status_id = statusId;
  out.status = status;
  out.message = event.reason;
  out.evidences = [evidence];
  setUnmapped(out, {
    outcome: event.outcome,
    exception_id: event.exceptionId,
    voters: event.voters.length > 0 ? event.voters : undefined,
    file: fileUnmapped(event.file),
  });
  return out;
}

function renderVerifyFailed(event: VerifyFailedEvent): Json {
  const out = envelope(event, DETECTION_FINDING, 1, 5, [], null);
  const findingInfo: Json = {
    uid: event.id,
    title: `audit chain ${event.chain} does not verify at ${event.seq}`,
    desc: event.message,
    types: ["clearance.audit.verify_failed"],
  };
  if (event.link !== null) findingInfo.src_url = event.link;
  out.finding_info = findingInfo;
  out.status_id = 1;
  out.status = "New";
  out.status_code = event.problem;
  out.message = event.message;
  out.evidences = [{ data: { chain: event.chain, seq: event.seq, problem: event.problem } }];
  return out;
}

function actorOf(actors: readonly string[]): Json {
  // One person is the actor; several (the voters) have no single actor; none is Clearance's sweep.
  if (actors.length === 1) return { user: user(actors[0]!) };
  return { app_name: "Clearance" };
}

function renderVote(event: VoteEvent): Json {
  const out = envelope(event, ENTITY_MANAGEMENT, 3, 1, ["host"], event.caseId);
  out.entity = {
    uid: event.caseId,
    name: `review case ${event.caseId}`,
    type: "Review Case",
    data: { vote: event.vote, sha256: event.sha256 },
  };
  out.actor = actorOf([event.voter]);
  out.comment = event.justification;
  out.status_id = 1;
  out.status = "Success";
  out.message = `${event.voter} voted ${event.vote}`;
  setUnmapped(out, { link: event.link });
  return out;
}

const EXCEPTION_ACTIVITY: Readonly<Record<ExceptionEvent["kind"], readonly [number, SeverityId]>> =
  {
    "exception.created": [1, 1],
    "exception.expired": [11, 1],
    "exception.revoked": [4, 2],
  };

function renderException(event: ExceptionEvent): Json {
  const [activityId, severityId] = EXCEPTION_ACTIVITY[event.kind];
  const out = envelope(event, ENTITY_MANAGEMENT, activityId, severityId, ["host"], event.caseId);
  const name = `${event.status} exception for ${event.scope.kind} ${event.scope.value}`;
  const policy: Json = {
    uid: event.exceptionId,
    name,
    is_applied: event.kind === "exception.created",
  };
  if (event.justification !== null) policy.desc = event.justification;
  out.entity = {
    uid: event.exceptionId,
    name,
    type_id: 5,
    type: "Policy",
    policy,
    data: { status: event.status, scope: event.scope, expires: event.expires },
  };
  out.actor = actorOf(event.actors);
  if (event.justification !== null) out.comment = event.justification;
  out.status_id = 1;
  out.status = "Success";
  out.message = `${event.kind.slice("exception.".length)}: ${name}`;
  setUnmapped(out, {
    actors: event.actors.length > 1 ? event.actors : undefined,
    link: event.link,
  });
  return out;
}

function rulesetApp(event: RulesetLoadedEvent | RulesetFailedEvent): Json {
  const feature: Json = { name: "rule set" };
  if (event.ruleset !== null) {
    feature.uid = event.ruleset.revision;
    feature.version = event.ruleset.commit ?? event.ruleset.revision;
  }
  return {
    name: event.product.name,
    vendor_name: "Clearance",
    version: event.product.version,
    feature,
  };
}

function renderRulesetLoaded(event: RulesetLoadedEvent): Json {
  const out = envelope(event, APPLICATION_LIFECYCLE, 8, 1, [], null);
  out.app = rulesetApp(event);
  out.status_id = 1;
  out.status = "Success";
  out.message = `rule set ${event.ruleset.revision} loaded (${event.rules} rules, ${event.trigger})`;
  setUnmapped(out, {
    previous: event.previous,
    rules: event.rules,
    trigger: event.trigger,
    link: event.link,
  });
  return out;
}

function renderRulesetFailed(event: RulesetFailedEvent): Json {
  const out = envelope(event, APPLICATION_LIFECYCLE, 8, 3, [], null);
  out.app = rulesetApp(event);
  out.status_id = 2;
  out.status = "Failure";
  out.status_code = event.code;
  if (event.location !== null) out.status_detail = event.location;
  out.message = event.message;
  setUnmapped(out, { trigger: event.trigger, link: event.link });
  return out;
}

/** The event as an OCSF object (before JSON): for tests and for callers that embed it. */
export function ocsfEvent(event: SiemEvent): Json {
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

export const ocsfFormatter: Formatter = Object.freeze({
  name: "ocsf",
  contentType: "application/json",
  // JSON.stringify escapes line breaks inside strings, so the record is one line.
  render: (event: SiemEvent) => JSON.stringify(ocsfEvent(event)),
});
