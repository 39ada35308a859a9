// Santa's sync protocol, santa.sync.v1 (github.com/northpolesec/protos, sync/v1.proto, Apache-2.0),
// in the JSON form agents send by default: protobuf's JSON mapping of those messages. A field is
// read under its JSON name (`serial_num`) or its proto name (`serial_number`), as protobuf's own
// parser reads it; enums as their names or numbers; absent fields as their zero values; unknown
// fields are passed over (a newer agent sends fields this server does not know, and Santa's own
// parser ignores them too). Answers are written under the JSON names, enums as names.
//
// Each message is declared once, as a table of fields, and read by one function: a wrong type is
// a problem with the field's JSON Pointer, never a guess. Both sides are here: the server's
// (it reads requests and writes answers) and the agent's (it writes requests as santasyncservice
// writes them and reads answers with Santa's leniency), so each can be checked against the other.

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
 * CDHASH, then BINARY, then SIGNINGID, then CERTIFICATE, then TEAMID (the order of
 * `executionRuleForIdentifiers` in Santa's Source/santad/DataLayer/SNTRuleTable.mm).
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
  /** set when the agent gets push notifications; empty otherwise */
  pushNotificationToken: string;
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
  enableBundles?: boolean;
  enableTransitiveRules?: boolean;
  enableAllEventUpload?: boolean;
  disableUnknownEventUpload?: boolean;
  /** ICU regexes for paths no rule covers: allowed, or blocked (which Santa applies first) */
  allowedPathRegex?: string;
  blockedPathRegex?: string;
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

// ---- answers, as an agent reads them -------------------------------------------------------

/** The preflight answer as an agent reads it: `clientMode` is null when none was sent (the agent keeps its own). */
export interface AgentPreflightResponse extends Omit<PreflightResponse, "clientMode"> {
  clientMode: ClientMode | null;
}

/**
 * A rule download as an agent reads it: the rules it applies (identifiers normalized as Santa
 * stores them) and the rules it drops as Santa drops them, each with where and why. The page held
 * `rules.length + dropped.length` rules, which is what postflight's `rules_received` counts.
 */
export interface AgentRuleDownloadResponse extends RuleDownloadResponse {
  dropped: ProtocolProblem[];
}

// ---- reading ---------------------------------------------------------------------------------

type Kind =
  | { t: "string"; max?: number }
  | { t: "bool" }
  | { t: "uint32" }
  | { t: "int32" }
  | { t: "double" }
  | {
      t: "enum";
      values: readonly string[];
      aliases?: Record<string, string>;
      /**
       * An enum name not in `values` leaves the field unset instead of being a problem: Santa
       * parses answers with `ignore_unknown_fields`, which passes over unknown enum names too.
       */
      lenient?: boolean;
    }
  | { t: "strings" }
  | { t: "messages"; of: Fields };

/**
 * A field: its name here, its JSON name and its proto name, what it holds, and whether it has
 * presence (a proto3 `optional`: absent reads as undefined rather than the zero value, and a
 * zero value is still written). A table lists its fields in field-number order, the order
 * protobuf's JSON printer writes them in.
 */
type Field = readonly [key: string, json: string, proto: string, kind: Kind, presence?: "optional"];
type Fields = readonly Field[];

const str: Kind = { t: "string" };
const bool: Kind = { t: "bool" };
const uint32: Kind = { t: "uint32" };
const int32: Kind = { t: "int32" };
const strings: Kind = { t: "strings" };

const PREFLIGHT: Fields = [
  ["serialNumber", "serial_num", "serial_number", str],
  ["hostname", "hostname", "hostname", str],
  ["osVersion", "os_version", "os_version", str],
  ["osBuild", "os_build", "os_build", str],
  ["modelIdentifier", "model_identifier", "model_identifier", str],
  ["santaVersion", "santa_version", "santa_version", str],
  ["primaryUser", "primary_user", "primary_user", str],
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
  // field 21, declared next to primary_user in the proto and written after sip_status
  ["primaryUserGroups", "primary_user_groups", "primary_user_groups", strings],
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
  ["loggedInUsers", "logged_in_users", "logged_in_users", strings],
  ["currentSessions", "current_sessions", "current_sessions", strings],
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

// The answers' tables declare the fields an agent acts on, and the deprecated fields Santa still
// reads in their place; the rest (USB mounts, push notifications, exports) are passed over like
// unknown fields.

const CLIENT_MODE_ANSWER: Kind = { t: "enum", values: CLIENT_MODE_ENUM, lenient: true };
const SYNC_TYPE_ANSWER: Kind = {
  t: "enum",
  values: SYNC_TYPE_ENUM,
  aliases: SYNC_TYPE_ALIASES,
  lenient: true,
};

const PREFLIGHT_RESPONSE: Fields = [
  ["clientMode", "clientMode", "client_mode", CLIENT_MODE_ANSWER],
  ["syncType", "syncType", "sync_type", SYNC_TYPE_ANSWER, "optional"],
  ["batchSize", "batchSize", "batch_size", uint32],
  ["enableBundles", "enableBundles", "enable_bundles", bool, "optional"],
  ["enableTransitiveRules", "enableTransitiveRules", "enable_transitive_rules", bool, "optional"],
  ["enableAllEventUpload", "enableAllEventUpload", "enable_all_event_upload", bool, "optional"],
  [
    "disableUnknownEventUpload",
    "disableUnknownEventUpload",
    "disable_unknown_event_upload",
    bool,
    "optional",
  ],
  ["fullSyncIntervalSeconds", "full_sync_interval", "full_sync_interval_seconds", uint32],
  ["allowedPathRegex", "allowedPathRegex", "allowed_path_regex", str, "optional"],
  ["blockedPathRegex", "blockedPathRegex", "blocked_path_regex", str, "optional"],
  ["eventDetailUrl", "eventDetailUrl", "event_detail_url", str, "optional"],
  ["eventDetailText", "eventDetailText", "event_detail_text", str, "optional"],
  [
    "enabledTransitiveWhitelisting",
    "enabled_transitive_whitelisting",
    "deprecated_enabled_transitive_whitelisting",
    bool,
    "optional",
  ],
  [
    "transitiveWhitelistingEnabled",
    "transitive_whitelisting_enabled",
    "deprecated_transitive_whitelisting_enabled",
    bool,
    "optional",
  ],
  ["bundlesEnabled", "bundles_enabled", "deprecated_bundles_enabled", bool, "optional"],
  ["whitelistRegex", "whitelist_regex", "deprecated_whitelist_regex", str, "optional"],
  ["blacklistRegex", "blacklist_regex", "deprecated_blacklist_regex", str, "optional"],
  ["cleanSync", "clean_sync", "deprecated_clean_sync", bool, "optional"],
];

/** The `Policy` enum by number; 7 is reserved. */
const POLICY_ENUM = [
  "POLICY_UNKNOWN",
  "ALLOWLIST",
  "ALLOWLIST_COMPILER",
  "BLOCKLIST",
  "SILENT_BLOCKLIST",
  "REMOVE",
  "CEL",
  "",
  "SILENT_GUI_BLOCKLIST",
  "SILENT_TTY_BLOCKLIST",
] as const;
const POLICY_ALIASES: Record<string, string> = {
  WHITELIST: "ALLOWLIST",
  WHITELIST_COMPILER: "ALLOWLIST_COMPILER",
  BLACKLIST: "BLOCKLIST",
  SILENT_BLACKLIST: "SILENT_BLOCKLIST",
};
const RULE_TYPE_ENUM = ["RULETYPE_UNKNOWN", ...RULE_TYPES] as const;

const RULE: Fields = [
  ["identifier", "identifier", "identifier", str],
  [
    "policy",
    "policy",
    "policy",
    { t: "enum", values: POLICY_ENUM, aliases: POLICY_ALIASES, lenient: true },
  ],
  ["ruleType", "ruleType", "rule_type", { t: "enum", values: RULE_TYPE_ENUM, lenient: true }],
  ["customMsg", "customMsg", "custom_msg", str],
  ["customUrl", "customUrl", "custom_url", str],
  ["sha256", "sha256", "deprecated_sha256", str],
];

const RULE_DOWNLOAD_RESPONSE: Fields = [
  ["rules", "rules", "rules", { t: "messages", of: RULE }],
  ["cursor", "cursor", "cursor", str],
];

const EVENT_UPLOAD_RESPONSE: Fields = [
  [
    "eventUploadBundleBinaries",
    "eventUploadBundleBinaries",
    "event_upload_bundle_binaries",
    strings,
  ],
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

/** What a lenient enum reads as when its name is unknown: the field stays unset. */
const UNSET = Symbol("unset");

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
        if (kind.lenient) return UNSET;
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
    for (const [key, , , kind, presence] of fields) if (!presence) out[key] = zero(kind);
    return out;
  }
  for (const [key, json, proto, kind, presence] of fields) {
    const name = json in value ? json : proto in value ? proto : undefined;
    const raw = name === undefined ? null : value[name];
    // null is the field's default (or, with presence, its absence) in protobuf's JSON mapping
    const read = raw === null ? UNSET : readValue(kind, raw, `${pointer}/${name}`, problems);
    if (read !== UNSET) out[key] = read;
    else if (!presence) out[key] = zero(kind);
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

// ---- answers, as an agent reads them (SNTSyncPreflight.mm, SNTSyncRuleDownload.mm) -----------

interface PreflightAnswerFields {
  clientMode: string;
  syncType?: string;
  batchSize: number;
  fullSyncIntervalSeconds: number;
  enableBundles?: boolean;
  enableTransitiveRules?: boolean;
  enableAllEventUpload?: boolean;
  disableUnknownEventUpload?: boolean;
  allowedPathRegex?: string;
  blockedPathRegex?: string;
  eventDetailUrl?: string;
  eventDetailText?: string;
  enabledTransitiveWhitelisting?: boolean;
  transitiveWhitelistingEnabled?: boolean;
  bundlesEnabled?: boolean;
  whitelistRegex?: string;
  blacklistRegex?: string;
  cleanSync?: boolean;
}

/**
 * The preflight answer as santasyncservice reads it: a field takes its deprecated form's value
 * when absent (`whitelist_regex`, `bundles_enabled`, ...); `clean_sync` means CLEAN when no
 * `sync_type` was sent; a sync type other than CLEAN and CLEAN_ALL (the v2 ones included) is a
 * NORMAL sync. Whether a CLEAN becomes CLEAN_ALL (the agent asked for that) is the agent's call.
 */
export function readPreflightResponse(value: unknown): Read<AgentPreflightResponse> {
  const r = read<PreflightAnswerFields>(PREFLIGHT_RESPONSE, value);
  if (!r.ok) return r;
  const m = r.value;
  const syncType: SyncType =
    m.syncType === "CLEAN" || m.syncType === "CLEAN_ALL"
      ? m.syncType
      : m.syncType === undefined && m.cleanSync
        ? "CLEAN"
        : "NORMAL";
  const answer: AgentPreflightResponse = {
    clientMode: m.clientMode === "UNKNOWN_CLIENT_MODE" ? null : (m.clientMode as ClientMode),
    syncType,
    batchSize: m.batchSize,
    fullSyncIntervalSeconds: m.fullSyncIntervalSeconds,
  };
  const optional: Partial<AgentPreflightResponse> = {
    enableBundles: m.enableBundles ?? m.bundlesEnabled,
    enableTransitiveRules:
      m.enableTransitiveRules ?? m.enabledTransitiveWhitelisting ?? m.transitiveWhitelistingEnabled,
    enableAllEventUpload: m.enableAllEventUpload,
    disableUnknownEventUpload: m.disableUnknownEventUpload,
    allowedPathRegex: m.allowedPathRegex ?? m.whitelistRegex,
    blockedPathRegex: m.blockedPathRegex ?? m.blacklistRegex,
    eventDetailUrl: m.eventDetailUrl,
    eventDetailText: m.eventDetailText,
  };
  for (const [key, v] of Object.entries(optional))
    if (v !== undefined) (answer as unknown as Record<string, unknown>)[key] = v;
  return { ok: true, value: answer };
}

/**
 * What an agent makes of each policy. The silent variants differ from the others only in which
 * notifications the user sees; ALLOWLIST_COMPILER also allowlists what the compiler writes, which
 * this package does not simulate, and allows the compiler itself like ALLOWLIST.
 */
const APPLIED_POLICY: Readonly<Record<string, Policy>> = {
  ALLOWLIST: "ALLOWLIST",
  ALLOWLIST_COMPILER: "ALLOWLIST",
  BLOCKLIST: "BLOCKLIST",
  SILENT_BLOCKLIST: "SILENT_BLOCKLIST",
  SILENT_GUI_BLOCKLIST: "SILENT_BLOCKLIST",
  SILENT_TTY_BLOCKLIST: "BLOCKLIST",
  REMOVE: "REMOVE",
};

const HEX = /^[0-9a-fA-F]*$/;
const ALPHANUMERIC = /^[A-Za-z0-9]*$/;
const IDENTIFIER_FORMS: Readonly<Record<RuleType, string>> = {
  BINARY: "64 hex digits",
  CERTIFICATE: "64 hex digits",
  CDHASH: "40 hex digits",
  TEAMID: "10 letters or digits",
  SIGNINGID: "a team ID or `platform`, a colon, then a signing ID",
};

/**
 * A rule identifier as Santa stores it (hashes in lower case, team IDs in upper case), or null
 * when Santa refuses it for the rule type (SNTRule's initializer in Santa's Source/common/SNTRule.mm).
 * The same form names an execution's identifiers when rules are matched against it.
 */
export function normalizeRuleIdentifier(ruleType: RuleType, identifier: string): string | null {
  const isTeamId = (s: string) => s.length === 10 && ALPHANUMERIC.test(s);
  switch (ruleType) {
    case "BINARY":
    case "CERTIFICATE":
      return identifier.length === 64 && HEX.test(identifier) ? identifier.toLowerCase() : null;
    case "CDHASH":
      return identifier.length === 40 && HEX.test(identifier) ? identifier.toLowerCase() : null;
    case "TEAMID":
      return isTeamId(identifier) ? identifier.toUpperCase() : null;
    case "SIGNINGID": {
      // `TEAMID:signing.id`; the signing ID may itself hold colons and keeps its case
      const colon = identifier.indexOf(":");
      if (colon < 0 || colon === identifier.length - 1) return null;
      const team = identifier.slice(0, colon);
      const signingId = identifier.slice(colon + 1);
      if (team.toLowerCase() === "platform") return `platform:${signingId}`;
      return isTeamId(team) ? `${team.toUpperCase()}:${signingId}` : null;
    }
  }
}

interface RuleFields {
  identifier: string;
  policy: string;
  ruleType: string;
  customMsg: string;
  customUrl: string;
  sha256: string;
}

/**
 * A rule download as santasyncservice reads it. A rule Santa would not apply is dropped, not a
 * problem: Santa logs it and applies the rest (`RuleFromProtoRule`), so one odd rule does not
 * stop a sync. That covers a rule without identifier (nor the deprecated `sha256`), with a policy
 * or rule type Santa v1 does not know (SEATBELT is v2's), or with an identifier Santa refuses for
 * its type. CEL rules are dropped too, where Santa would keep them: this agent cannot evaluate
 * their expressions and this server never sends them, so keeping one would make `wouldRun`
 * answer for a rule it does not understand; its postflight then counts one rule fewer in
 * `rules_processed` than Santa would.
 */
export function readRuleDownloadResponse(value: unknown): Read<AgentRuleDownloadResponse> {
  const r = read<{ rules: RuleFields[]; cursor: string }>(RULE_DOWNLOAD_RESPONSE, value);
  if (!r.ok) return r;
  const sources = (value as Record<string, unknown>).rules as Record<string, unknown>[] | null;
  const rules: SantaRule[] = [];
  const dropped: ProtocolProblem[] = [];
  for (const [i, fields] of r.value.rules.entries()) {
    const source = sources?.[i] ?? {};
    const at = (json: string, proto: string) =>
      `/rules/${i}/${json in source ? json : proto in source ? proto : json}`;
    const drop = (pointer: string, why: string) =>
      dropped.push({ pointer, message: `${why}: an agent drops the rule` });
    const identifier = fields.identifier || fields.sha256;
    if (identifier === "") {
      drop(`/rules/${i}`, "has no `identifier` (nor the deprecated `sha256`)");
      continue;
    }
    if (fields.policy === "CEL") {
      drop(at("policy", "policy"), "`CEL` rules are not evaluated by this agent");
      continue;
    }
    const policy = APPLIED_POLICY[fields.policy];
    if (policy === undefined) {
      const sent = source.policy ?? null;
      drop(at("policy", "policy"), `policy \`${shown(sent)}\` is not one Santa v1 applies`);
      continue;
    }
    if (fields.ruleType === "RULETYPE_UNKNOWN") {
      const sent = source.ruleType ?? source.rule_type ?? null;
      drop(at("ruleType", "rule_type"), `rule type \`${shown(sent)}\` is not one Santa v1 knows`);
      continue;
    }
    const ruleType = fields.ruleType as RuleType;
    const stored = normalizeRuleIdentifier(ruleType, identifier);
    if (stored === null) {
      const pointer = fields.identifier
        ? at("identifier", "identifier")
        : at("sha256", "deprecated_sha256");
      drop(
        pointer,
        `\`${shown(identifier)}\` is not a ${ruleType} identifier (${IDENTIFIER_FORMS[ruleType]})`,
      );
      continue;
    }
    const rule: SantaRule = { identifier: stored, policy, ruleType };
    // Santa keeps an empty message or URL as none
    if (fields.customMsg) rule.customMsg = fields.customMsg;
    if (fields.customUrl) rule.customUrl = fields.customUrl;
    rules.push(rule);
  }
  return { ok: true, value: { rules, cursor: r.value.cursor, dropped } };
}

export function readEventUploadResponse(value: unknown): Read<EventUploadResponse> {
  return read<EventUploadResponse>(EVENT_UPLOAD_RESPONSE, value);
}

// ---- requests, as an agent writes them (protobuf's MessageToJsonString) ----------------------

/**
 * A message under its JSON names, in field-number order, as protobuf's JSON printer writes it
 * with default options: a field without presence is left out at its zero value, enums as names.
 */
function writeMessage(fields: Fields, message: object): Record<string, unknown> {
  const source = message as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, json, , kind, presence] of fields) {
    const value = source[key];
    if (value === undefined || value === null) continue;
    if (!presence && isZero(kind, value)) continue;
    if (kind.t === "messages") out[json] = (value as object[]).map((m) => writeMessage(kind.of, m));
    else if (kind.t === "strings") out[json] = [...(value as string[])];
    else out[json] = value;
  }
  return out;
}

function isZero(kind: Kind, value: unknown): boolean {
  if (kind.t === "strings" || kind.t === "messages") return (value as unknown[]).length === 0;
  return value === zero(kind);
}

/** A preflight request as santasyncservice writes it; a null client mode is left out. */
export function preflightRequestJson(r: PreflightRequest): Record<string, unknown> {
  return writeMessage(PREFLIGHT, r);
}

export function eventUploadRequestJson(r: EventUploadRequest): Record<string, unknown> {
  return writeMessage(EVENT_UPLOAD, r);
}

export function ruleDownloadRequestJson(r: RuleDownloadRequest): Record<string, unknown> {
  return writeMessage(RULE_DOWNLOAD, r);
}

/** A postflight request as santasyncservice writes it; a null sync type is left out. */
export function postflightRequestJson(r: PostflightRequest): Record<string, unknown> {
  return writeMessage(POSTFLIGHT, r);
}

// ---- answers, as this server writes them ------------------------------------------------------

/** The preflight answer under its JSON names. */
export function preflightResponseJson(r: PreflightResponse): Record<string, unknown> {
  const out: Record<string, unknown> = {
    client_mode: r.clientMode,
    sync_type: r.syncType,
    batch_size: r.batchSize,
    full_sync_interval: r.fullSyncIntervalSeconds,
  };
  if (r.enableBundles !== undefined) out.enable_bundles = r.enableBundles;
  if (r.enableTransitiveRules !== undefined) out.enable_transitive_rules = r.enableTransitiveRules;
  if (r.enableAllEventUpload !== undefined) out.enable_all_event_upload = r.enableAllEventUpload;
  if (r.disableUnknownEventUpload !== undefined)
    out.disable_unknown_event_upload = r.disableUnknownEventUpload;
  if (r.allowedPathRegex !== undefined) out.allowed_path_regex = r.allowedPathRegex;
  if (r.blockedPathRegex !== undefined) out.blocked_path_regex = r.blockedPathRegex;
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
