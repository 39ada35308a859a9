// Santa's sync protocol, santa.sync.v1 (github.com/northpolesec/protos, sync/v1.proto, Apache-2.0),
// in the JSON form agents send by default: protobuf's JSON mapping of those messages. A field is
// read under its JSON name (`serial_num`) or its proto name (`serial_number`), as protobuf's own
// parser reads it; enums as their names or numbers; absent fields as their zero values; unknown
// fields are passed over (a newer agent sends fields this server does not know, and Santa's own
// parser ignores them too). Answers are written under the JSON names, enums as names.
//
// Each message is declared once, as a table of fields, and read by one function: a wrong type is
// a problem with the field's JSON Pointer, never a guess.

/** What an agent does with executions no rule covers. */
export const CLIENT_MODES = ["MONITOR", "LOCKDOWN", "STANDALONE"] as const;
export type ClientMode = (typeof CLIENT_MODES)[number];
const CLIENT_MODE_ENUM = ["UNKNOWN_CLIENT_MODE", ...CLIENT_MODES] as const;

/** How an agent applies a rule download: on top of its rules, or instead of them. */
export const SYNC_TYPES = ["NORMAL", "CLEAN", "CLEAN_ALL"] as const;
export type SyncType = (typeof SYNC_TYPES)[number];
const SYNC_TYPE_ENUM = [
  "SYNC_TYPE_UNSPECIFIED",
  "NORMAL",
  "CLEAN",
  "CLEAN_ALL",
  "CLEAN_STANDALONE",
  "CLEAN_RULES",
  "CLEAN_FILE_ACCESS_RULES",
] as const;
const SYNC_TYPE_ALIASES: Record<string, string> = {
  normal: "NORMAL",
  clean: "CLEAN",
  clean_all: "CLEAN_ALL",
};

/** What Santa decided about an execution (the `Decision` enum). */
export const AGENT_DECISIONS = [
  "DECISION_UNKNOWN",
  "ALLOW_UNKNOWN",
  "ALLOW_BINARY",
  "ALLOW_CERTIFICATE",
  "ALLOW_SCOPE",
  "ALLOW_TEAMID",
  "ALLOW_SIGNINGID",
  "ALLOW_CDHASH",
  "BLOCK_UNKNOWN",
  "BLOCK_BINARY",
  "BLOCK_CERTIFICATE",
  "BLOCK_SCOPE",
  "BLOCK_TEAMID",
  "BLOCK_SIGNINGID",
  "BLOCK_CDHASH",
  "BUNDLE_BINARY",
  "ALLOW_CEL_FALLBACK",
  "BLOCK_CEL_FALLBACK",
  "BLOCK_BINARY_MISMATCH",
  "ALLOW_PLATFORM",
] as const;
export type AgentDecision = (typeof AGENT_DECISIONS)[number];

export const SIGNING_STATUSES = [
  "SIGNING_STATUS_UNSPECIFIED",
  "SIGNING_STATUS_UNSIGNED",
  "SIGNING_STATUS_INVALID",
  "SIGNING_STATUS_ADHOC",
  "SIGNING_STATUS_DEVELOPMENT",
  "SIGNING_STATUS_PRODUCTION",
] as const;
export type SigningStatus = (typeof SIGNING_STATUSES)[number];

/** A rule's policy as this server sends it; `REMOVE` takes an earlier rule of the same type and identifier away. */
export const POLICIES = ["ALLOWLIST", "BLOCKLIST", "SILENT_BLOCKLIST", "REMOVE"] as const;
export type Policy = (typeof POLICIES)[number];

/**
 * What a rule's identifier is. Santa applies the most specific rule that matches an execution:
 * CDHASH, then BINARY, then SIGNINGID, then CERTIFICATE, then TEAMID (docs/endpoints.md).
 */
export const RULE_TYPES = ["BINARY", "CERTIFICATE", "TEAMID", "SIGNINGID", "CDHASH"] as const;
export type RuleType = (typeof RULE_TYPES)[number];

/** Santa's precedence: a lower number wins when rules of several types match one execution. */
export const RULE_PRECEDENCE: Readonly<Record<RuleType, number>> = Object.freeze({
  CDHASH: 1,
  BINARY: 2,
  SIGNINGID: 3,
  CERTIFICATE: 4,
  TEAMID: 5,
});

/** A problem with a message: where (a JSON Pointer) and what, in the diagnostics' style. */
export interface ProtocolProblem {
  pointer: string;
  message: string;
}

export type Read<T> = { ok: true; value: T } | { ok: false; problems: ProtocolProblem[] };

// ---- messages, as this server reads them ---------------------------------------------------

export interface PreflightRequest {
  serialNumber: string;
  hostname: string;
  osVersion: string;
  osBuild: string;
  modelIdentifier: string;
  santaVersion: string;
  primaryUser: string;
  primaryUserGroups: string[];
  clientMode: ClientMode | null;
  requestCleanSync: boolean;
  binaryRuleCount: number;
  certificateRuleCount: number;
  compilerRuleCount: number;
  transitiveRuleCount: number;
  teamidRuleCount: number;
  signingidRuleCount: number;
  cdhashRuleCount: number;
  machineId: string;
  pushNotificationSync: boolean;
  sipStatus: number;
  rulesHash: string;
}

export interface Certificate {
  sha256: string;
  cn: string;
  org: string;
  ou: string;
  validFrom: number;
  validUntil: number;
}

/** One execution an agent reports (`Event`). */
export interface AgentEvent {
  fileSha256: string;
  filePath: string;
  fileName: string;
  executingUser: string;
  /** seconds since the epoch, with fractions; 0 when not sent */
  executionTime: number;
  loggedInUsers: string[];
  currentSessions: string[];
  decision: AgentDecision;
  fileBundleId: string;
  fileBundlePath: string;
  fileBundleExecutableRelPath: string;
  fileBundleName: string;
  fileBundleVersion: string;
  fileBundleVersionString: string;
  fileBundleHash: string;
  fileBundleHashMillis: number;
  fileBundleBinaryCount: number;
  pid: number;
  ppid: number;
  parentName: string;
  teamId: string;
  signingId: string;
  cdhash: string;
  signingChain: Certificate[];
  csFlags: number;
  signingStatus: SigningStatus;
  secureSigningTime: number;
  signingTime: number;
  staticRule: boolean;
}

export interface EventUploadRequest {
  events: AgentEvent[];
  machineId: string;
}

export interface RuleDownloadRequest {
  cursor: string;
  machineId: string;
}

export interface PostflightRequest {
  rulesReceived: number;
  rulesProcessed: number;
  machineId: string;
  syncType: SyncType | null;
  rulesHash: string;
}

// ---- messages, as this server writes them ---------------------------------------------------

export interface PreflightResponse {
  clientMode: ClientMode;
  syncType: SyncType;
  batchSize: number;
  fullSyncIntervalSeconds: number;
  enableAllEventUpload?: boolean;
  disableUnknownEventUpload?: boolean;
  eventDetailUrl?: string;
  eventDetailText?: string;
}

export interface SantaRule {
  identifier: string;
  policy: Policy;
  ruleType: RuleType;
  /** for block rules: the message the user sees */
  customMsg?: string;
  customUrl?: string;
}

export interface RuleDownloadResponse {
  rules: SantaRule[];
  /** empty when this was the last page */
  cursor: string;
}

export interface EventUploadResponse {
  /** bundle hashes whose binaries the server asks for; this server asks for none */
  eventUploadBundleBinaries: string[];
}

// ---- reading ---------------------------------------------------------------------------------

type Kind =
  | { t: "string"; max?: number }
  | { t: "bool" }
  | { t: "uint32" }
  | { t: "int32" }
  | { t: "double" }
  | { t: "enum"; values: readonly string[]; aliases?: Record<string, string> }
  | { t: "strings" }
  | { t: "messages"; of: Fields };

/** A field: its name here, its JSON name and its proto name, and what it holds. */
type Field = readonly [key: string, json: string, proto: string, kind: Kind];
type Fields = readonly Field[];

const str: Kind = { t: "string" };
const bool: Kind = { t: "bool" };
const uint32: Kind = { t: "uint32" };
const int32: Kind = { t: "int32" };

const PREFLIGHT: Fields = [
  ["serialNumber", "serial_num", "serial_number", str],
  ["hostname", "hostname", "hostname", str],
  ["osVersion", "os_version", "os_version", str],
  ["osBuild", "os_build", "os_build", str],
  ["modelIdentifier", "model_identifier", "model_identifier", str],
  ["santaVersion", "santa_version", "santa_version", str],
  ["primaryUser", "primary_user", "primary_user", str],
  ["primaryUserGroups", "primary_user_groups", "primary_user_groups", { t: "strings" }],
  ["pushNotificationToken", "push_notification_token", "push_notification_token", str],
  ["clientMode", "client_mode", "client_mode", { t: "enum", values: CLIENT_MODE_ENUM }],
  ["requestCleanSync", "request_clean_sync", "request_clean_sync", bool],
  ["binaryRuleCount", "binary_rule_count", "binary_rule_count", uint32],
  ["certificateRuleCount", "certificate_rule_count", "certificate_rule_count", uint32],
  ["compilerRuleCount", "compiler_rule_count", "compiler_rule_count", uint32],
  ["transitiveRuleCount", "transitive_rule_count", "transitive_rule_count", uint32],
  ["teamidRuleCount", "teamid_rule_count", "teamid_rule_count", uint32],
  ["signingidRuleCount", "signingid_rule_count", "signingid_rule_count", uint32],
  ["cdhashRuleCount", "cdhash_rule_count", "cdhash_rule_count", uint32],
  ["machineId", "machine_id", "machine_id", str],
  ["pushNotificationSync", "push_notification_sync", "push_notification_sync", bool],
  ["sipStatus", "sipStatus", "sip_status", uint32],
  ["rulesHash", "rulesHash", "rules_hash", str],
];

const CERTIFICATE: Fields = [
  ["sha256", "sha256", "sha256", str],
  ["cn", "cn", "cn", str],
  ["org", "org", "org", str],
  ["ou", "ou", "ou", str],
  ["validFrom", "valid_from", "valid_from", uint32],
  ["validUntil", "valid_until", "valid_until", uint32],
];

const EVENT: Fields = [
  ["fileSha256", "file_sha256", "file_sha256", str],
  ["filePath", "file_path", "file_path", str],
  ["fileName", "file_name", "file_name", str],
  ["executingUser", "executing_user", "executing_user", str],
  ["executionTime", "execution_time", "execution_time", { t: "double" }],
  ["loggedInUsers", "logged_in_users", "logged_in_users", { t: "strings" }],
  ["currentSessions", "current_sessions", "current_sessions", { t: "strings" }],
  ["decision", "decision", "decision", { t: "enum", values: AGENT_DECISIONS }],
  ["fileBundleId", "file_bundle_id", "file_bundle_id", str],
  ["fileBundlePath", "file_bundle_path", "file_bundle_path", str],
  [
    "fileBundleExecutableRelPath",
    "file_bundle_executable_rel_path",
    "file_bundle_executable_rel_path",
    str,
  ],
  ["fileBundleName", "file_bundle_name", "file_bundle_name", str],
  ["fileBundleVersion", "file_bundle_version", "file_bundle_version", str],
  ["fileBundleVersionString", "file_bundle_version_string", "file_bundle_version_string", str],
  ["fileBundleHash", "file_bundle_hash", "file_bundle_hash", str],
  ["fileBundleHashMillis", "file_bundle_hash_millis", "file_bundle_hash_millis", uint32],
  ["fileBundleBinaryCount", "file_bundle_binary_count", "file_bundle_binary_count", uint32],
  ["pid", "pid", "pid", int32],
  ["ppid", "ppid", "ppid", int32],
  ["parentName", "parent_name", "parent_name", str],
  ["teamId", "team_id", "team_id", str],
  ["signingId", "signing_id", "signing_id", str],
  ["cdhash", "cdhash", "cdhash", str],
  ["signingChain", "signing_chain", "signing_chain", { t: "messages", of: CERTIFICATE }],
  ["csFlags", "csFlags", "cs_flags", uint32],
  ["signingStatus", "signingStatus", "signing_status", { t: "enum", values: SIGNING_STATUSES }],
  ["secureSigningTime", "secureSigningTime", "secure_signing_time", uint32],
  ["signingTime", "signingTime", "signing_time", uint32],
  ["staticRule", "static_rule", "static_rule", bool],
];

const EVENT_UPLOAD: Fields = [
  ["events", "events", "events", { t: "messages", of: EVENT }],
  ["machineId", "machine_id", "machine_id", str],
];

const RULE_DOWNLOAD: Fields = [
  ["cursor", "cursor", "cursor", str],
  ["machineId", "machine_id", "machine_id", str],
];

const POSTFLIGHT: Fields = [
  ["rulesReceived", "rules_received", "rules_received", uint32],
  ["rulesProcessed", "rules_processed", "rules_processed", uint32],
  ["machineId", "machine_id", "machine_id", str],
  [
    "syncType",
    "syncType",
    "sync_type",
    { t: "enum", values: SYNC_TYPE_ENUM, aliases: SYNC_TYPE_ALIASES },
  ],
  ["rulesHash", "rulesHash", "rules_hash", str],
];

function zero(kind: Kind): unknown {
  switch (kind.t) {
    case "string":
      return "";
    case "bool":
      return false;
    case "enum":
      return kind.values[0];
    case "strings":
    case "messages":
      return [];
    default:
      return 0;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function readValue(
  kind: Kind,
  value: unknown,
  pointer: string,
  problems: ProtocolProblem[],
): unknown {
  const wrong = (expected: string) => {
    problems.push({ pointer, message: `should be ${expected}, got \`${shown(value)}\`` });
    return zero(kind);
  };
  switch (kind.t) {
    case "string":
      return typeof value === "string" ? value : wrong("a string");
    case "bool":
      return typeof value === "boolean" ? value : wrong("true or false");
    case "double":
      // protobuf's JSON mapping also writes numbers as strings ("1.5", "NaN")
      if (typeof value === "number") return value;
      if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value)))
        return Number(value);
      return wrong("a number");
    case "uint32":
    case "int32": {
      const n = typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
      const [lo, hi] = kind.t === "uint32" ? [0, 2 ** 32 - 1] : [-(2 ** 31), 2 ** 31 - 1];
      if (typeof n === "number" && Number.isInteger(n) && n >= lo && n <= hi) return n;
      return wrong(kind.t === "uint32" ? "an unsigned 32-bit integer" : "a 32-bit integer");
    }
    case "enum": {
      if (typeof value === "number" && Number.isInteger(value)) {
        const name = kind.values[value];
        // an enum number this server does not know reads as the zero value, as protobuf reads it
        return name === undefined || name === "" ? kind.values[0] : name;
      }
      if (typeof value === "string") {
        const name = kind.aliases?.[value] ?? value;
        if (name !== "" && kind.values.includes(name)) return name;
      }
      return wrong(
        `one of ${kind.values
          .filter((v) => v !== "")
          .slice(0, 6)
          .map((v) => `\`${v}\``)
          .join(", ")}${kind.values.length > 6 ? ", ..." : ""}`,
      );
    }
    case "strings": {
      if (!Array.isArray(value)) return wrong("a list of strings");
      return value.map((item, i) => {
        if (typeof item === "string") return item;
        problems.push({
          pointer: `${pointer}/${i}`,
          message: `should be a string, got \`${shown(item)}\``,
        });
        return "";
      });
    }
    case "messages": {
      if (!Array.isArray(value)) return wrong("a list of objects");
      return value.map((item, i) => readMessage(kind.of, item, `${pointer}/${i}`, problems));
    }
  }
}

function readMessage(
  fields: Fields,
  value: unknown,
  pointer: string,
  problems: ProtocolProblem[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!isObject(value)) {
    problems.push({
      pointer,
      message: `should be an object, got \`${shown(value)}\``,
    });
    for (const [key, , , kind] of fields) out[key] = zero(kind);
    return out;
  }
  for (const [key, json, proto, kind] of fields) {
    const name = json in value ? json : proto in value ? proto : undefined;
    const raw = name === undefined ? null : value[name];
    // null is the field's default in protobuf's JSON mapping
    out[key] = raw === null ? zero(kind) : readValue(kind, raw, `${pointer}/${name}`, problems);
  }
  return out;
}

function read<T>(fields: Fields, value: unknown, check?: (m: T, p: ProtocolProblem[]) => void) {
  const problems: ProtocolProblem[] = [];
  const message = readMessage(fields, value, "", problems) as T;
  if (problems.length === 0) check?.(message, problems);
  return problems.length > 0
    ? ({ ok: false, problems } as const)
    : ({ ok: true, value: message } as const);
}

const SHA256 = /^[0-9a-f]{64}$/;

export function readPreflightRequest(value: unknown): Read<PreflightRequest> {
  const r = read<Omit<PreflightRequest, "clientMode"> & { clientMode: string }>(PREFLIGHT, value);
  if (!r.ok) return r;
  const mode = r.value.clientMode;
  return {
    ok: true,
    value: { ...r.value, clientMode: mode === "UNKNOWN_CLIENT_MODE" ? null : (mode as ClientMode) },
  };
}

export function readEventUploadRequest(value: unknown): Read<EventUploadRequest> {
  return read<EventUploadRequest>(EVENT_UPLOAD, value, (m, problems) => {
    for (const [i, e] of m.events.entries()) {
      // Santa sends hashes in lower case; one that is not a SHA-256 cannot be decided or ruled on
      const lower = e.fileSha256.toLowerCase();
      if (!SHA256.test(lower))
        problems.push({
          pointer: `/events/${i}/file_sha256`,
          message: `should be a SHA-256 (64 hex digits), got \`${shown(e.fileSha256)}\``,
        });
      e.fileSha256 = lower;
    }
  });
}

export function readRuleDownloadRequest(value: unknown): Read<RuleDownloadRequest> {
  return read<RuleDownloadRequest>(RULE_DOWNLOAD, value);
}

export function readPostflightRequest(value: unknown): Read<PostflightRequest> {
  const r = read<Omit<PostflightRequest, "syncType"> & { syncType: string }>(POSTFLIGHT, value);
  if (!r.ok) return r;
  const t = r.value.syncType;
  return {
    ok: true,
    value: {
      ...r.value,
      syncType: (SYNC_TYPES as readonly string[]).includes(t) ? (t as SyncType) : null,
    },
  };
}

// ---- writing ---------------------------------------------------------------------------------

/** The preflight answer under its JSON names. */
export function preflightResponseJson(r: PreflightResponse): Record<string, unknown> {
  const out: Record<string, unknown> = {
    client_mode: r.clientMode,
    sync_type: r.syncType,
    batch_size: r.batchSize,
    full_sync_interval: r.fullSyncIntervalSeconds,
  };
  if (r.enableAllEventUpload !== undefined) out.enable_all_event_upload = r.enableAllEventUpload;
  if (r.disableUnknownEventUpload !== undefined)
    out.disable_unknown_event_upload = r.disableUnknownEventUpload;
  if (r.eventDetailUrl !== undefined) out.event_detail_url = r.eventDetailUrl;
  if (r.eventDetailText !== undefined) out.event_detail_text = r.eventDetailText;
  return out;
}

export function ruleJson(rule: SantaRule): Record<string, unknown> {
  const out: Record<string, unknown> = {
    identifier: rule.identifier,
    policy: rule.policy,
    rule_type: rule.ruleType,
  };
  if (rule.customMsg) out.custom_msg = rule.customMsg;
  if (rule.customUrl) out.custom_url = rule.customUrl;
  return out;
}

export function ruleDownloadResponseJson(r: RuleDownloadResponse): Record<string, unknown> {
  return { rules: r.rules.map(ruleJson), cursor: r.cursor };
}

export function eventUploadResponseJson(r: EventUploadResponse): Record<string, unknown> {
  return { event_upload_bundle_binaries: r.eventUploadBundleBinaries };
}
