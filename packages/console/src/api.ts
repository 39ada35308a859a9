// The console reads only the public HTTP API (docs/http-api.md): these are the shapes it uses,
// written here rather than imported, since the console is built for the browser and depends on no
// server code.

import { navigate, parseHash } from "./router.js";

export type Decision = "allow" | "deny" | "review";

export interface EntrySummary {
  id: string;
  chain: string;
  seq: number;
  time: string;
  source: string;
  requester: string | null;
  sha256: string;
  fileName: string | null;
  decision: Decision;
  rule: string | null;
  reason: string;
  matched: string[];
  monitored: string[];
  errors: { rule: string; code?: string; message: string; monitor: boolean }[];
  ruleset: { revision: string; commit: string | null; dirty: boolean };
  latencyUs: number;
  shadow: { decision?: string; rule?: string | null; revision?: string } | null;
  exception?: string | null;
  case?: string | null;
  approvalForbiddenBy?: string[];
  prevHash: string;
  hash: string;
}

export interface AuditPage {
  entries: (EntrySummary & { explained: boolean })[];
  nextCursor: string | null;
}

export interface ConditionTrace {
  expr: string;
  value: boolean | null;
  fields?: Record<string, unknown>;
  missing?: string[];
  children?: ConditionTrace[];
  item?: number;
  unknownItems?: number;
}

export interface RuleExplanation {
  rule: string;
  action: Decision;
  monitor: boolean;
  priority: number;
  location: { file: string; line: number; column: number };
  outcome: "matched" | "not_matched" | "unknown" | "expired" | "error";
  when?: ConditionTrace;
  unless?: ConditionTrace[];
  reason?: string;
  error?: string;
  expiredAt?: string;
}

export interface Explanation {
  strategy: string;
  onError: string;
  now: string;
  decidedBy: "rule" | "default" | "error";
  rules: RuleExplanation[];
  notApplicable: number;
}

export interface EntryDetail {
  entry: EntrySummary;
  input: Record<string, unknown> | null;
  explain: {
    source: "stored" | "recomputed" | "unavailable";
    why?: string;
    explain: Explanation | null;
  };
}

export interface Verification {
  ok: boolean;
  entries: number;
  chains: { chain: string; entries: number; from: number; to: number; head: string }[];
  broken?: { chain: string; seq: number; id: string | null; problem: string };
  damage?: { where: string; message: string; code: string | null };
}

/** An answer other than 2xx, with the problem document's code and detail when it had one. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    readonly detail: string,
    /** where in the request body the server found what it refused (`/exception/expires`) */
    readonly problems: readonly { pointer: string; message: string }[] = [],
  ) {
    super(detail);
  }
}

async function call<T>(
  url: string,
  init: RequestInit & { json?: unknown } = {},
  options: { signInOn401?: boolean } = {},
): Promise<T> {
  let response: Response;
  const { json, headers: given, ...rest } = init;
  const headers: Record<string, string> = {
    accept: "application/json",
    ...(given as Record<string, string> | undefined),
  };
  if (json !== undefined) headers["content-type"] = "application/json";
  // the session cookie is HttpOnly; what proves a write comes from this page is the CSRF token
  // that only this page read (GET /v1/session), sent with every request that changes something
  if ((rest.method ?? "GET") !== "GET" && csrfToken !== null) headers["x-csrf-token"] = csrfToken;
  try {
    response = await fetch(url, {
      ...rest,
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
      headers,
      credentials: "same-origin",
    });
  } catch (error) {
    throw new ApiError(0, undefined, `the server cannot be reached (${(error as Error).message})`);
  }
  if (!response.ok) {
    let problem: { code?: unknown; detail?: unknown; problems?: unknown } = {};
    try {
      problem = (await response.json()) as typeof problem;
    } catch {
      // not a problem document (a proxy's page): the status says enough
    }
    const error = new ApiError(
      response.status,
      typeof problem.code === "string" ? problem.code : undefined,
      typeof problem.detail === "string" ? problem.detail : response.statusText,
      Array.isArray(problem.problems) ? (problem.problems as ApiError["problems"]) : [],
    );
    if (response.status === 401 && options.signInOn401 !== false) signInAgain(error.detail);
    throw error;
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** What `GET /v1/ruleset` says of the rules the console uses: their names. */
export interface RulesetNames {
  rules: { name: string }[];
  shadow: { rules: { name: string }[] } | null;
}

export const api = {
  search: (url: string) => call<AuditPage>(url),
  ruleset: () => call<RulesetNames>("/v1/ruleset"),
  entry: (id: string) => call<EntryDetail>(`/v1/audit/${encodeURIComponent(id)}`),
  verify: () => call<Verification>("/v1/audit/verify", { method: "POST" }),
};

/** What an analyst reads when a request failed. */
export function describeError(error: unknown): string {
  if (!(error instanceof ApiError)) return `the console failed: ${String(error)}`;
  if (error.status === 401)
    return `You are not signed in, or your session has ended (401 unauthorized): ${error.detail}. Sign in again.`;
  if (error.code === "csrf_refused")
    return `The server refused a change that did not prove it came from this console (403 csrf_refused): ${error.detail}. Reload the page; if it happens again, sign in again.`;
  if (error.status === 403)
    return `The server refused this request (403 forbidden): ${error.detail}.`;
  if (error.status === 0) return `The server cannot be reached: ${error.detail}.`;
  return `The server answered ${error.status}${error.code ? ` ${error.code}` : ""}: ${error.detail}`;
}

// Reviews and exceptions (docs/reviews.md, the review endpoints of docs/http-api.md).

export interface VoteView {
  id: string;
  time: string;
  caseId: string;
  voter: string;
  vote: "approve" | "reject";
  justification: string;
  exception: { kind: string; expires: string | null } | null;
}

export interface CaseView {
  id: string;
  sha256: string;
  fileName: string | null;
  status: "open" | "resolved" | "withdrawn" | "expired";
  opened: string;
  expires: string;
  closed: string | null;
  decisionId: string;
  rule: string | null;
  reason: string;
  requester: string | null;
  context: Record<string, string>;
  approvalForbiddenBy: string[];
  signer: string | null;
  vendor: { name: string; product: string } | null;
  outcome: "approved" | "rejected" | null;
  exception: string | null;
  votes: VoteView[];
  waitingFor: string | null;
}

export interface CasePage {
  cases: CaseView[];
  nextCursor: string | null;
}

/** A decision in a case's listing: what, when, for whom. */
export interface DecisionBrief {
  decisionId: string;
  time: string;
  decision: Decision;
  rule: string | null;
  reason: string;
  source: string;
  requester: string | null;
  exception: string | null;
  case: string | null;
}

export interface CaseDetail {
  case: CaseView;
  decision: EntrySummary | null;
  explain: Explanation | null;
  input: Record<string, unknown> | null;
  requests: DecisionBrief[];
  fileDecisions: DecisionBrief[];
}

export interface ReviewPolicy {
  approvalsRequired: number;
  broaderScopeApprovals: number;
  rejectionVetoes: boolean;
  selfApproval: boolean;
  caseExpiry: string;
  exceptionExpiry: {
    default: string;
    defaultMs: number;
    max: string;
    maxMs: number;
    allowNoExpiry: boolean;
  };
}

export type ExceptionKind = "file" | "signer" | "vendor";

export interface ExceptionView {
  id: string;
  status: "approved" | "rejected";
  kind: ExceptionKind;
  scope: { sha256?: string; signer?: string; vendor?: string; product?: string };
  context: Record<string, string> | null;
  created: string;
  expires: string | null;
  approvers: string[];
  justification: string;
  case: string | null;
  createdBy: string | null;
  state: "active" | "revoked" | "expired";
  ended: { time: string; by: string | null; justification: string | null } | null;
}

export interface VoteBody {
  vote: "approve" | "reject";
  justification: string;
  voter?: string;
  exception?: { kind?: ExceptionKind; expires?: string | null };
}

export interface VoteAnswer {
  vote: VoteView;
  replayed: boolean;
  case: CaseView;
  exception: ExceptionView | null;
  decision: { decisionId: string; decision: Decision; rule: string | null; reason: string } | null;
}

/** A compiler diagnostic as data: a failed reload's errors, the Playground's diagnostics. */
export interface DiagnosticData {
  code: string;
  severity: "error" | "warning" | "info";
  message: string;
  help: string | null;
  file: string;
  /** 1-based, columns in UTF-16 code units */
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  /** UTF-16 offsets into the file's text */
  span: { start: number; end: number };
  /** the diagnostic as `clearance check` prints it, code frame included */
  frame: string;
}

// The Playground's calls: the live rule files, and candidate rules decided on one input or replayed
// over a period (docs/http-api.md, "Playground"). Nothing here changes the live rules.

export interface RuleFile {
  path: string;
  text: string;
}

export interface PlaygroundDecision {
  diagnostics: DiagnosticData[];
  candidate: {
    decision: Decision;
    rule: string | null;
    reason: string;
    matched: string[];
    explain: Explanation;
  } | null;
  live: { decision: Decision; rule: string | null; reason: string; revision: string };
  input: { sha256: string; fileName: string | null; auditId: string | null; now: string };
}

export interface PlaygroundSide {
  decision: Decision;
  rule: string | null;
  reason: string;
}

export interface PlaygroundDryRun {
  diagnostics: DiagnosticData[];
  ran: boolean;
  period: { from: string; to: string; now: string };
  totals: { read: number; decided: number; invalid: number; malformed: number };
  truncated: boolean;
  outcomes: { live: Record<Decision, number>; candidate: Record<Decision, number> };
  transitions: { from: Decision; to: Decision; count: number }[];
  changed: number;
  changes: {
    auditId: string;
    sha256: string;
    fileName: string | null;
    before: PlaygroundSide;
    after: PlaygroundSide;
  }[];
  changesLimit: number;
  invalid: { auditId: string; problems: { pointer: string; message: string }[] }[];
}

/** The candidate's input: an audit entry's stored input, or a pasted result. */
export type PlaygroundInput = { auditId: string } | { input: unknown };

const json = (method: string, body: unknown): RequestInit => ({
  method,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

export const reviewsApi = {
  cases: (url: string) => call<CasePage>(url),
  case: (id: string) => call<CaseDetail>(`/v1/reviews/${encodeURIComponent(id)}`),
  policy: () => call<ReviewPolicy>("/v1/reviews/policy"),
  vote: (id: string, body: VoteBody) =>
    call<VoteAnswer>(`/v1/reviews/${encodeURIComponent(id)}/votes`, json("POST", body)),
  exceptions: (url: string) => call<{ exceptions: ExceptionView[] }>(url),
  exception: (id: string) => call<ExceptionView>(`/v1/exceptions/${encodeURIComponent(id)}`),
  revoke: (id: string, body: { justification: string; by?: string }) =>
    call<ExceptionView>(`/v1/exceptions/${encodeURIComponent(id)}`, json("DELETE", body)),
};

export const playgroundApi = {
  files: () => call<{ revision: string; files: RuleFile[] }>("/v1/ruleset/files"),
  decide: (files: RuleFile[], input: PlaygroundInput) =>
    call<PlaygroundDecision>("/v1/playground/decide", json("POST", { files, ...input })),
  dryRun: (files: RuleFile[], from: string, to: string) =>
    call<PlaygroundDryRun>("/v1/playground/dry-run", json("POST", { files, from, to, limit: 200 })),
};

// ---- Rules page (GET /v1/ruleset, /v1/ruleset/files, /v1/ruleset/hits, /v1/exceptions) ----

export interface RuleInfo {
  name: string;
  action: Decision;
  monitor: boolean;
  priority: number;
  expires?: string;
  location: { file: string; line: number; column: number };
}

export interface RulesStatus {
  dir: string;
  revision: string;
  commit: { sha: string; dirty: boolean } | null;
  loadedAt: string;
  reloads: number;
  watching: boolean;
  lastError: { at: string; messages: string[]; diagnostics?: DiagnosticData[] } | null;
  rules: RuleInfo[];
}

export interface RulesetStatus extends RulesStatus {
  shadow: RulesStatus | null;
}

export interface RuleFilesOf {
  revision: string;
  files: { path: string; text: string }[];
}

export interface RuleFiles extends RuleFilesOf {
  shadow: RuleFilesOf | null;
}

export type HitKind = "allow" | "deny" | "review" | "matched" | "monitored" | "disagreements";
export type HitCounts = Record<HitKind, number>;

export interface RuleHits {
  rule: string | null;
  totals: HitCounts;
  buckets: (HitCounts & { at: string })[];
}

export interface Hits {
  from: string;
  to: string;
  bucket: string;
  bucketSeconds: number;
  bucketCount: number;
  rules: RuleHits[];
}

export const rulesApi = {
  status: () => call<RulesetStatus>("/v1/ruleset"),
  files: () => call<RuleFiles>("/v1/ruleset/files"),
  hits: (query: { from: string; to: string; bucket: string }) =>
    call<Hits>(`/v1/ruleset/hits?${new URLSearchParams(query).toString()}`),
  activeExceptions: () => call<{ exceptions: ExceptionView[] }>("/v1/exceptions?state=active"),
};

// ---- the Fleet page (GET /v1/santa/machines, /v1/santa/machines/{id}; docs/endpoints.md) ----

/** A Santa machine as the API shows it: what its agent last reported, and its sync state. */
export interface SantaMachine {
  id: string;
  group: string;
  /** the agent's facts, from its last preflight; `""` when it did not send one */
  serial: string;
  hostname: string;
  osVersion: string;
  osBuild: string;
  model: string;
  santaVersion: string;
  primaryUser: string;
  /** as the agent last reported it: not necessarily the mode its group sends */
  clientMode: string | null;
  /** rules the agent held at its last preflight */
  ruleCount: number;
  registeredAt: string;
  lastPreflightAt: string | null;
  /** the last completed sync (its postflight); null if none ever completed */
  lastSyncAt: string | null;
  /** the type of a sync begun and not completed (`NORMAL`, `CLEAN`), or null */
  syncing: string | null;
  rulesAcked: number;
  /** the group's rule changes this machine has not confirmed */
  rulesBehind: number;
  /** what the last postflight said it received and processed */
  rulesReceived: number;
  rulesProcessed: number;
  /** executions it reported, since it registered */
  eventsReceived: number;
}

export interface SantaMachinePage {
  machines: SantaMachine[];
  nextCursor: string | null;
}

/** One machine, with its group's standing rules counted by type and policy. */
export interface SantaMachineDetail extends SantaMachine {
  rules: { ruleType: string; policy: string; rules: number }[];
}

export const fleetApi = {
  machines: (url: string) => call<SantaMachinePage>(url),
  machine: (id: string) => call<SantaMachineDetail>(`/v1/santa/machines/${encodeURIComponent(id)}`),
};

// ---- sessions and sign-in (docs/console.md#signing-in) ----------------------------------------

export type Scope = "decide" | "audit:read" | "review" | "exceptions" | "admin";

/** `GET /v1/session`: who is signed in, with which scopes, and how to sign in. */
export interface SessionView {
  mode: "open" | "signed-in" | "signed-out";
  identity: string | null;
  name: string | null;
  via: "oidc" | "key" | null;
  scopes: Scope[];
  expires: string | null;
  csrfToken: string | null;
  ended: string | null;
  signIn: { oidc: { name: string; url: string } | null; apiKey: boolean };
}

/** This session's CSRF token, in memory only (never in storage): read from GET /v1/session. */
let csrfToken: string | null = null;

/** Signing out: a 401 of a request still in flight says nothing new. */
let signingOut = false;

/** The session as last read: whom votes and revocations are recorded under. */
let sessionNow: SessionView | null = null;

/** The signed-in identity (`user:<name>`, or a key id); null on an open server or signed out. */
export function signedInAs(): string | null {
  return sessionNow?.mode === "signed-in" ? sessionNow.identity : null;
}

function keep(view: SessionView): SessionView {
  sessionNow = view;
  csrfToken = view.csrfToken;
  signingOut = false;
  return view;
}

/** Told when a 401 shows the session is gone (the console then shows itself signed out). */
const lostListeners = new Set<() => void>();
export function onSessionLost(listener: () => void): () => void {
  lostListeners.add(listener);
  return () => lostListeners.delete(listener);
}

/** A 401 anywhere: the session is gone; the sign-in page says why and returns here afterwards. */
function signInAgain(detail: string): void {
  csrfToken = null;
  const route = parseHash(location.hash);
  if (signingOut || route.segments[0] === "sign-in") return;
  sessionNow = null;
  for (const listener of lostListeners) listener();
  const here = location.hash.replace(/^#/, "") || "/audit";
  navigate(`#/sign-in?${new URLSearchParams({ message: detail, return: here })}`);
}

export const sessionApi = {
  current: () => call<SessionView>("/v1/session").then(keep),
  /** the key goes to the server once; the answer is a cookie the page cannot read */
  signInWithKey: (apiKey: string) =>
    call<SessionView>(
      "/v1/session",
      { method: "POST", json: { apiKey } },
      { signInOn401: false },
    ).then(keep),
  signOut: () => {
    signingOut = true;
    return call<void>("/v1/session", { method: "DELETE" }).then(
      () => {
        csrfToken = null;
        sessionNow = null;
      },
      (error: unknown) => {
        signingOut = false;
        throw error;
      },
    );
  },
};

/** Whether `scopes` allow what `needed` allows; `admin` allows everything (as the server says). */
export function allows(scopes: readonly Scope[], needed: Scope): boolean {
  return scopes.includes(needed) || scopes.includes("admin");
}
