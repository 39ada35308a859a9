// The console reads only the public HTTP API (docs/http-api.md): these are the shapes it uses,
// written here rather than imported, since the console is built for the browser and depends on no
// server code.

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
  ) {
    super(detail);
  }
}

async function call<T>(url: string, init: RequestInit = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, {
      ...init,
      headers: { accept: "application/json" },
      credentials: "same-origin",
    });
  } catch (error) {
    throw new ApiError(0, undefined, `the server cannot be reached (${(error as Error).message})`);
  }
  if (!response.ok) {
    let problem: { code?: unknown; detail?: unknown } = {};
    try {
      problem = (await response.json()) as typeof problem;
    } catch {
      // not a problem document (a proxy's page): the status says enough
    }
    throw new ApiError(
      response.status,
      typeof problem.code === "string" ? problem.code : undefined,
      typeof problem.detail === "string" ? problem.detail : response.statusText,
    );
  }
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
    return "The server asks for an API key (401 unauthorized). The console cannot sign in yet: open it on a server without API keys (loopback), or use the CLI or the HTTP API with a key.";
  if (error.status === 403)
    return `The server refused this request (403 forbidden): ${error.detail}. Reading the audit log needs the audit:read scope.`;
  if (error.status === 0) return `The server cannot be reached: ${error.detail}.`;
  return `The server answered ${error.status}${error.code ? ` ${error.code}` : ""}: ${error.detail}`;
}

// ---- Rules page (GET /v1/ruleset, /v1/ruleset/files, /v1/ruleset/hits, /v1/exceptions) ----

export interface RuleInfo {
  name: string;
  action: Decision;
  monitor: boolean;
  priority: number;
  expires?: string;
  location: { file: string; line: number; column: number };
}

export interface ReloadDiagnostic {
  code: string;
  severity: string;
  message: string;
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  help: string | null;
  /** the error printed as `clearance check` prints it, code frame included */
  frame: string;
}

export interface RulesStatus {
  dir: string;
  revision: string;
  commit: { sha: string; dirty: boolean } | null;
  loadedAt: string;
  reloads: number;
  watching: boolean;
  lastError: { at: string; messages: string[]; diagnostics?: ReloadDiagnostic[] } | null;
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

export interface ExceptionView {
  id: string;
  kind: "file" | "signer" | "vendor";
  scope: Record<string, string>;
  expires: string | null;
  justification: string;
  state: "active" | "revoked" | "expired";
}

export const rulesApi = {
  status: () => call<RulesetStatus>("/v1/ruleset"),
  files: () => call<RuleFiles>("/v1/ruleset/files"),
  hits: (query: { from: string; to: string; bucket: string }) =>
    call<Hits>(`/v1/ruleset/hits?${new URLSearchParams(query).toString()}`),
  activeExceptions: () => call<{ exceptions: ExceptionView[] }>("/v1/exceptions?state=active"),
};
