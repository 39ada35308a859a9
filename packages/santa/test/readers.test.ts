// Every reader, table-driven: the requests as this server reads them and the answers as an agent
// reads them. Good input under JSON names and under proto names, enum numbers, unknown fields and
// nulls; each kind of bad input with the pointer and message it is reported with.

import { describe, expect, it } from "vitest";
import {
  type ProtocolProblem,
  type Read,
  readEventUploadRequest,
  readEventUploadResponse,
  readPostflightRequest,
  readPreflightRequest,
  readPreflightResponse,
  readRuleDownloadRequest,
  readRuleDownloadResponse,
} from "../src/index.js";

const SHA_A = "a".repeat(64);
const SHA_B = "0123456789abcdef".repeat(4);
const CDHASH = "c".repeat(40);

function value<T>(read: Read<T>): T {
  if (!read.ok) throw new Error(`unexpected problems: ${JSON.stringify(read.problems)}`);
  return read.value;
}

function problems<T>(read: Read<T>): [string, string][] {
  if (read.ok) throw new Error(`expected problems, read ${JSON.stringify(read.value)}`);
  return read.problems.map((p: ProtocolProblem) => [p.pointer, p.message]);
}

const CLIENT_MODE_NAMES = "one of `UNKNOWN_CLIENT_MODE`, `MONITOR`, `LOCKDOWN`, `STANDALONE`";

describe("readPreflightRequest", () => {
  const zeroRequest = {
    serialNumber: "",
    hostname: "",
    osVersion: "",
    osBuild: "",
    modelIdentifier: "",
    santaVersion: "",
    primaryUser: "",
    primaryUserGroups: [],
    pushNotificationToken: "",
    clientMode: null,
    requestCleanSync: false,
    binaryRuleCount: 0,
    certificateRuleCount: 0,
    compilerRuleCount: 0,
    transitiveRuleCount: 0,
    teamidRuleCount: 0,
    signingidRuleCount: 0,
    cdhashRuleCount: 0,
    machineId: "",
    pushNotificationSync: false,
    sipStatus: 0,
    rulesHash: "",
  };

  it.each([
    [
      "JSON names",
      {
        serial_num: "SERIAL1",
        hostname: "mac-1.example.com",
        os_version: "15.1",
        os_build: "24B83",
        model_identifier: "Mac15,7",
        santa_version: "2026.1.1",
        primary_user: "alice",
        primary_user_groups: ["eng", "staff"],
        client_mode: "LOCKDOWN",
        request_clean_sync: true,
        binary_rule_count: 3,
        cdhash_rule_count: 1,
        machine_id: "M-1",
        sipStatus: 111,
        rulesHash: "h",
      },
      {
        serialNumber: "SERIAL1",
        hostname: "mac-1.example.com",
        osVersion: "15.1",
        osBuild: "24B83",
        modelIdentifier: "Mac15,7",
        santaVersion: "2026.1.1",
        primaryUser: "alice",
        primaryUserGroups: ["eng", "staff"],
        clientMode: "LOCKDOWN",
        requestCleanSync: true,
        binaryRuleCount: 3,
        cdhashRuleCount: 1,
        machineId: "M-1",
        sipStatus: 111,
        rulesHash: "h",
      },
    ],
    [
      "proto names",
      { serial_number: "SERIAL2", sip_status: 7, rules_hash: "r", machine_id: "M-2" },
      { serialNumber: "SERIAL2", sipStatus: 7, rulesHash: "r", machineId: "M-2" },
    ],
    ["an enum number", { client_mode: 3 }, { clientMode: "STANDALONE" }],
    ["the zero enum number, as no mode", { client_mode: 0 }, { clientMode: null }],
    ["an enum number it does not know, as no mode", { client_mode: 42 }, { clientMode: null }],
    ["UNKNOWN_CLIENT_MODE, as no mode", { client_mode: "UNKNOWN_CLIENT_MODE" }, {}],
    [
      "integers written as strings",
      { binary_rule_count: "12", sipStatus: "5" },
      { binaryRuleCount: 12, sipStatus: 5 },
    ],
    [
      "unknown fields, passed over",
      { santanetd_version: "2026.1", fileAccessRulesHash: "x", hostname: "h" },
      { hostname: "h" },
    ],
    ["nulls, as defaults", { serial_num: null, primary_user_groups: null, client_mode: null }, {}],
  ])("reads %s", (_, input, expected) => {
    expect(value(readPreflightRequest(input))).toEqual({ ...zeroRequest, ...expected });
  });

  it.each([
    ["a list", [], [["", "should be an object, got `[]`"]]],
    ["null", null, [["", "should be an object, got `null`"]]],
    ["a number for a string", { serial_num: 5 }, [["/serial_num", "should be a string, got `5`"]]],
    [
      "the pointer under the proto name when that was sent",
      { serial_number: false },
      [["/serial_number", "should be a string, got `false`"]],
    ],
    [
      "an enum name it does not know",
      { client_mode: "PARANOID" },
      [["/client_mode", `should be ${CLIENT_MODE_NAMES}, got \`"PARANOID"\``]],
    ],
    [
      "a fractional enum number",
      { client_mode: 1.5 },
      [["/client_mode", `should be ${CLIENT_MODE_NAMES}, got \`1.5\``]],
    ],
    [
      "a string for a bool",
      { request_clean_sync: "yes" },
      [["/request_clean_sync", 'should be true or false, got `"yes"`']],
    ],
    [
      "a negative count",
      { binary_rule_count: -1 },
      [["/binary_rule_count", "should be an unsigned 32-bit integer, got `-1`"]],
    ],
    [
      "a count beyond 32 bits",
      { teamid_rule_count: 2 ** 32 },
      [["/teamid_rule_count", "should be an unsigned 32-bit integer, got `4294967296`"]],
    ],
    [
      "a group that is not a string",
      { primary_user_groups: ["eng", 7] },
      [["/primary_user_groups/1", "should be a string, got `7`"]],
    ],
    [
      "groups that are not a list",
      { primary_user_groups: "eng" },
      [["/primary_user_groups", 'should be a list of strings, got `"eng"`']],
    ],
    [
      "a long value, shortened",
      { hostname: ["x".repeat(60)] },
      [["/hostname", `should be a string, got \`["${"x".repeat(35)}...\``]],
    ],
    [
      "every problem at once",
      { serial_num: 1, sipStatus: "many" },
      [
        ["/serial_num", "should be a string, got `1`"],
        ["/sipStatus", 'should be an unsigned 32-bit integer, got `"many"`'],
      ],
    ],
  ])("reports %s", (_, input, expected) => {
    expect(problems(readPreflightRequest(input))).toEqual(expected);
  });
});

describe("readEventUploadRequest", () => {
  const event = {
    file_sha256: SHA_A,
    file_path: "/opt/tools/bin",
    file_name: "deploy-helper",
    executing_user: "alice",
    execution_time: 1767225600.25,
    logged_in_users: ["alice"],
    current_sessions: ["alice@console"],
    decision: "BLOCK_BINARY",
    pid: 4812,
    ppid: 1,
    team_id: "ABCDE12345",
    signing_id: "ABCDE12345:com.example.yes",
    cdhash: CDHASH,
    signing_chain: [
      { sha256: SHA_B, cn: "Leaf", org: "Example", ou: "Eng", valid_from: 1, valid_until: 2 },
    ],
    csFlags: 570503953,
    signingStatus: "SIGNING_STATUS_PRODUCTION",
    static_rule: true,
  };

  it("reads an event under its JSON names", () => {
    const read = value(readEventUploadRequest({ events: [event], machine_id: "M-1" }));
    expect(read.machineId).toBe("M-1");
    expect(read.events[0]).toMatchObject({
      fileSha256: SHA_A,
      filePath: "/opt/tools/bin",
      fileName: "deploy-helper",
      executionTime: 1767225600.25,
      decision: "BLOCK_BINARY",
      pid: 4812,
      signingChain: [
        { sha256: SHA_B, cn: "Leaf", org: "Example", ou: "Eng", validFrom: 1, validUntil: 2 },
      ],
      csFlags: 570503953,
      signingStatus: "SIGNING_STATUS_PRODUCTION",
      staticRule: true,
      fileBundleId: "",
      fileBundleHashMillis: 0,
    });
  });

  it("reads proto names, enum numbers and a time written as a string", () => {
    const read = value(
      readEventUploadRequest({
        events: [
          {
            file_sha256: SHA_A,
            decision: 9,
            cs_flags: 1,
            signing_status: 5,
            secure_signing_time: 3,
            execution_time: "12.5",
          },
        ],
      }),
    );
    expect(read.events[0]).toMatchObject({
      decision: "BLOCK_BINARY",
      csFlags: 1,
      signingStatus: "SIGNING_STATUS_PRODUCTION",
      secureSigningTime: 3,
      executionTime: 12.5,
    });
  });

  it("reads a hash in upper case as Santa sends it, in lower case", () => {
    const read = value(readEventUploadRequest({ events: [{ file_sha256: SHA_B.toUpperCase() }] }));
    expect(read.events[0]!.fileSha256).toBe(SHA_B);
  });

  it("passes over unknown fields, file access events and audit events among them", () => {
    const read = value(
      readEventUploadRequest({
        events: [{ file_sha256: SHA_A, entitlement_info: {}, quarantine_data_url: "x" }],
        file_access_events: [{ rule_name: "r" }],
        audit_events: [],
      }),
    );
    expect(read.events).toHaveLength(1);
  });

  it.each([
    [
      "events that are not a list",
      { events: {} },
      [["/events", "should be a list of objects, got `{}`"]],
    ],
    [
      "an event that is not an object",
      { events: ["x"] },
      [["/events/0", 'should be an object, got `"x"`']],
    ],
    [
      "a hash that is not a SHA-256",
      { events: [{ file_sha256: "abc" }] },
      [["/events/0/file_sha256", 'should be a SHA-256 (64 hex digits), got `"abc"`']],
    ],
    [
      "a missing hash",
      { events: [{ file_name: "deploy-helper" }] },
      [["/events/0/file_sha256", 'should be a SHA-256 (64 hex digits), got `""`']],
    ],
    [
      "a pid beyond 32 bits",
      { events: [{ file_sha256: SHA_A, pid: 2 ** 31 }] },
      [["/events/0/pid", "should be a 32-bit integer, got `2147483648`"]],
    ],
    [
      "a time that is not a number",
      { events: [{ file_sha256: SHA_A, execution_time: "soon" }] },
      [["/events/0/execution_time", 'should be a number, got `"soon"`']],
    ],
    [
      "a certificate's bad date, with its pointer",
      { events: [{ file_sha256: SHA_A, signing_chain: [{ valid_from: -5 }] }] },
      [["/events/0/signing_chain/0/valid_from", "should be an unsigned 32-bit integer, got `-5`"]],
    ],
    [
      "a decision it does not know",
      { events: [{ file_sha256: SHA_A, decision: "MAYBE" }] },
      [
        [
          "/events/0/decision",
          'should be one of `DECISION_UNKNOWN`, `ALLOW_UNKNOWN`, `ALLOW_BINARY`, `ALLOW_CERTIFICATE`, `ALLOW_SCOPE`, `ALLOW_TEAMID`, ..., got `"MAYBE"`',
        ],
      ],
    ],
  ])("reports %s", (_, input, expected) => {
    expect(problems(readEventUploadRequest(input))).toEqual(expected);
  });
});

describe("readRuleDownloadRequest", () => {
  it.each([
    ["the first page's request", { machine_id: "M-1" }, { cursor: "", machineId: "M-1" }],
    [
      "a later page's",
      { cursor: "page-2", machine_id: "M-1" },
      { cursor: "page-2", machineId: "M-1" },
    ],
    ["a null cursor", { cursor: null }, { cursor: "", machineId: "" }],
  ])("reads %s", (_, input, expected) => {
    expect(value(readRuleDownloadRequest(input))).toEqual(expected);
  });

  it("reports a cursor that is not a string", () => {
    expect(problems(readRuleDownloadRequest({ cursor: 2 }))).toEqual([
      ["/cursor", "should be a string, got `2`"],
    ]);
  });
});

describe("readPostflightRequest", () => {
  it.each([
    [
      "JSON names",
      {
        rules_received: 5,
        rules_processed: 4,
        machine_id: "M-1",
        syncType: "CLEAN",
        rulesHash: "h",
      },
      { rulesReceived: 5, rulesProcessed: 4, machineId: "M-1", syncType: "CLEAN", rulesHash: "h" },
    ],
    [
      "proto names and an enum number",
      { sync_type: 3, rules_hash: "h" },
      { rulesReceived: 0, rulesProcessed: 0, machineId: "", syncType: "CLEAN_ALL", rulesHash: "h" },
    ],
    [
      "a deprecated lower-case sync type",
      { syncType: "clean_all" },
      { rulesReceived: 0, rulesProcessed: 0, machineId: "", syncType: "CLEAN_ALL", rulesHash: "" },
    ],
    [
      "a sync type of v2's, as none",
      { syncType: "CLEAN_RULES" },
      { rulesReceived: 0, rulesProcessed: 0, machineId: "", syncType: null, rulesHash: "" },
    ],
  ])("reads %s", (_, input, expected) => {
    expect(value(readPostflightRequest(input))).toEqual(expected);
  });

  it.each([
    [
      "a count that is not an integer",
      { rules_received: 1.5 },
      [["/rules_received", "should be an unsigned 32-bit integer, got `1.5`"]],
    ],
    [
      "a sync type it does not know",
      { syncType: "DIRTY" },
      [
        [
          "/syncType",
          'should be one of `SYNC_TYPE_UNSPECIFIED`, `NORMAL`, `CLEAN`, `CLEAN_ALL`, `CLEAN_STANDALONE`, `CLEAN_RULES`, ..., got `"DIRTY"`',
        ],
      ],
    ],
  ])("reports %s", (_, input, expected) => {
    expect(problems(readPostflightRequest(input))).toEqual(expected);
  });
});

describe("readPreflightResponse", () => {
  const zeroAnswer = {
    clientMode: null,
    syncType: "NORMAL",
    batchSize: 0,
    fullSyncIntervalSeconds: 0,
  };

  it.each([
    [
      "this server's answer (proto names)",
      {
        client_mode: "LOCKDOWN",
        sync_type: "CLEAN",
        batch_size: 25,
        full_sync_interval: 600,
        enable_bundles: false,
        enable_all_event_upload: true,
        allowed_path_regex: "^/opt/",
        event_detail_url: "https://c.example/e/%file_sha%",
      },
      {
        clientMode: "LOCKDOWN",
        syncType: "CLEAN",
        batchSize: 25,
        fullSyncIntervalSeconds: 600,
        enableBundles: false,
        enableAllEventUpload: true,
        allowedPathRegex: "^/opt/",
        eventDetailUrl: "https://c.example/e/%file_sha%",
      },
    ],
    [
      "JSON names",
      {
        clientMode: "MONITOR",
        syncType: "CLEAN_ALL",
        batchSize: 10,
        full_sync_interval: 60,
        eventDetailText: "Open",
      },
      {
        clientMode: "MONITOR",
        syncType: "CLEAN_ALL",
        batchSize: 10,
        fullSyncIntervalSeconds: 60,
        eventDetailText: "Open",
      },
    ],
    [
      "enum numbers",
      { client_mode: 2, sync_type: 2 },
      { clientMode: "LOCKDOWN", syncType: "CLEAN" },
    ],
    ["no client mode, as none (the agent keeps its own)", {}, {}],
    ["a client mode it does not know, as none", { client_mode: "HYPERVIGILANT" }, {}],
    [
      "deprecated path regexes",
      { whitelist_regex: "^/a/", blacklist_regex: "^/b/" },
      { allowedPathRegex: "^/a/", blockedPathRegex: "^/b/" },
    ],
    [
      "current path regexes over deprecated ones",
      { allowed_path_regex: "new", whitelist_regex: "old" },
      { allowedPathRegex: "new" },
    ],
    [
      "a deprecated path regex under a null current one",
      { allowed_path_regex: null, whitelist_regex: "old" },
      { allowedPathRegex: "old" },
    ],
    ["null path regexes, as none", { allowed_path_regex: null, blocked_path_regex: null }, {}],
    ["deprecated bundles_enabled", { bundles_enabled: true }, { enableBundles: true }],
    [
      "deprecated transitive whitelisting flags",
      { transitive_whitelisting_enabled: true },
      { enableTransitiveRules: true },
    ],
    [
      "enabled_transitive_whitelisting before transitive_whitelisting_enabled",
      { enabled_transitive_whitelisting: false, transitive_whitelisting_enabled: true },
      { enableTransitiveRules: false },
    ],
    ["deprecated clean_sync, as CLEAN", { clean_sync: true }, { syncType: "CLEAN" }],
    ["clean_sync false, as NORMAL", { clean_sync: false }, { syncType: "NORMAL" }],
    [
      "sync_type over clean_sync",
      { sync_type: "NORMAL", clean_sync: true },
      { syncType: "NORMAL" },
    ],
    ["deprecated lower-case sync types", { sync_type: "clean_all" }, { syncType: "CLEAN_ALL" }],
    ["v2's sync types, as NORMAL (Santa v1's default)", { sync_type: "CLEAN_STANDALONE" }, {}],
    [
      "a sync type name it does not know, as unset (then clean_sync decides)",
      { sync_type: "SPOTLESS", clean_sync: true },
      { syncType: "CLEAN" },
    ],
    [
      "unknown fields, passed over",
      { batch_size: 100, block_usb_mount: true, remount_usb_mode: ["rdonly"], push_token: "t" },
      { batchSize: 100 },
    ],
  ])("reads %s", (_, input, expected) => {
    expect(value(readPreflightResponse(input))).toEqual({ ...zeroAnswer, ...expected });
  });

  it.each([
    ["a string", "MONITOR", [["", 'should be an object, got `"MONITOR"`']]],
    [
      "a batch size that is not a number",
      { batch_size: "many" },
      [["/batch_size", 'should be an unsigned 32-bit integer, got `"many"`']],
    ],
    [
      "a client mode that is neither a name nor a number",
      { clientMode: true },
      [["/clientMode", `should be ${CLIENT_MODE_NAMES}, got \`true\``]],
    ],
    [
      "a flag that is not a bool",
      { enable_bundles: "yes" },
      [["/enable_bundles", 'should be true or false, got `"yes"`']],
    ],
    [
      "a deprecated field of the wrong type",
      { whitelist_regex: 5 },
      [["/whitelist_regex", "should be a string, got `5`"]],
    ],
  ])("reports %s", (_, input, expected) => {
    expect(problems(readPreflightResponse(input))).toEqual(expected);
  });
});

describe("readRuleDownloadResponse", () => {
  it.each([
    [
      "this server's rules (proto names)",
      {
        rules: [
          {
            identifier: SHA_A,
            policy: "BLOCKLIST",
            rule_type: "BINARY",
            custom_msg: "No",
            custom_url: "https://x",
          },
          { identifier: "ABCDE12345", policy: "ALLOWLIST", rule_type: "TEAMID" },
        ],
        cursor: "next",
      },
      [
        {
          identifier: SHA_A,
          policy: "BLOCKLIST",
          ruleType: "BINARY",
          customMsg: "No",
          customUrl: "https://x",
        },
        { identifier: "ABCDE12345", policy: "ALLOWLIST", ruleType: "TEAMID" },
      ],
      "next",
    ],
    [
      "JSON names",
      { rules: [{ identifier: CDHASH, policy: "REMOVE", ruleType: "CDHASH", customMsg: "m" }] },
      [{ identifier: CDHASH, policy: "REMOVE", ruleType: "CDHASH", customMsg: "m" }],
      "",
    ],
    [
      "enum numbers",
      { rules: [{ identifier: SHA_B, policy: 4, rule_type: 2 }] },
      [{ identifier: SHA_B, policy: "SILENT_BLOCKLIST", ruleType: "CERTIFICATE" }],
      "",
    ],
    [
      "the deprecated sha256 as the identifier",
      { rules: [{ sha256: SHA_A, policy: "ALLOWLIST", rule_type: "BINARY" }] },
      [{ identifier: SHA_A, policy: "ALLOWLIST", ruleType: "BINARY" }],
      "",
    ],
    [
      "the identifier over the deprecated sha256",
      { rules: [{ identifier: SHA_B, sha256: SHA_A, policy: "ALLOWLIST", rule_type: "BINARY" }] },
      [{ identifier: SHA_B, policy: "ALLOWLIST", ruleType: "BINARY" }],
      "",
    ],
    [
      "deprecated policy names",
      {
        rules: [
          { identifier: SHA_A, policy: "WHITELIST", rule_type: "BINARY" },
          { identifier: SHA_B, policy: "BLACKLIST", rule_type: "BINARY" },
          { identifier: CDHASH, policy: "SILENT_BLACKLIST", rule_type: "CDHASH" },
          { identifier: "ABCDE12345", policy: "WHITELIST_COMPILER", rule_type: "TEAMID" },
        ],
      },
      [
        { identifier: SHA_A, policy: "ALLOWLIST", ruleType: "BINARY" },
        { identifier: SHA_B, policy: "BLOCKLIST", ruleType: "BINARY" },
        { identifier: CDHASH, policy: "SILENT_BLOCKLIST", ruleType: "CDHASH" },
        { identifier: "ABCDE12345", policy: "ALLOWLIST", ruleType: "TEAMID" },
      ],
      "",
    ],
    [
      "policies that differ only in notifications, as the ones they block like",
      {
        rules: [
          { identifier: SHA_A, policy: "SILENT_GUI_BLOCKLIST", rule_type: "BINARY" },
          { identifier: SHA_B, policy: "SILENT_TTY_BLOCKLIST", rule_type: "BINARY" },
        ],
      },
      [
        { identifier: SHA_A, policy: "SILENT_BLOCKLIST", ruleType: "BINARY" },
        { identifier: SHA_B, policy: "BLOCKLIST", ruleType: "BINARY" },
      ],
      "",
    ],
    [
      "identifiers in the form Santa stores them",
      {
        rules: [
          { identifier: SHA_B.toUpperCase(), policy: "ALLOWLIST", rule_type: "CERTIFICATE" },
          { identifier: "abcde12345", policy: "ALLOWLIST", rule_type: "TEAMID" },
          { identifier: "abcde12345:com.Example.App", policy: "ALLOWLIST", rule_type: "SIGNINGID" },
          { identifier: "PLATFORM:com.apple.ditto", policy: "ALLOWLIST", rule_type: "SIGNINGID" },
          {
            identifier: "ABCDE12345:com.example:helper",
            policy: "ALLOWLIST",
            rule_type: "SIGNINGID",
          },
        ],
      },
      [
        { identifier: SHA_B, policy: "ALLOWLIST", ruleType: "CERTIFICATE" },
        { identifier: "ABCDE12345", policy: "ALLOWLIST", ruleType: "TEAMID" },
        { identifier: "ABCDE12345:com.Example.App", policy: "ALLOWLIST", ruleType: "SIGNINGID" },
        { identifier: "platform:com.apple.ditto", policy: "ALLOWLIST", ruleType: "SIGNINGID" },
        { identifier: "ABCDE12345:com.example:helper", policy: "ALLOWLIST", ruleType: "SIGNINGID" },
      ],
      "",
    ],
    [
      "empty messages and URLs, as none",
      {
        rules: [
          {
            identifier: SHA_A,
            policy: "BLOCKLIST",
            rule_type: "BINARY",
            custom_msg: "",
            custom_url: null,
          },
        ],
      },
      [{ identifier: SHA_A, policy: "BLOCKLIST", ruleType: "BINARY" }],
      "",
    ],
    [
      "unknown fields, passed over",
      {
        rules: [
          {
            identifier: "platform:com.apple.ditto",
            policy: "ALLOWLIST",
            rule_type: "SIGNINGID",
            notification_app_name: "Ditto",
            event_detail_button_label: "Ask",
            rule_id: 7,
          },
        ],
        file_access_rules: [{}],
      },
      [{ identifier: "platform:com.apple.ditto", policy: "ALLOWLIST", ruleType: "SIGNINGID" }],
      "",
    ],
    ["nulls, as an empty last page", { rules: null, cursor: null }, [], ""],
  ])("reads %s", (_, input, rules, cursor) => {
    expect(value(readRuleDownloadResponse(input))).toEqual({ rules, cursor, dropped: [] });
  });

  const dropsOf = (rule: Record<string, unknown>) =>
    value(
      readRuleDownloadResponse({
        rules: [{ identifier: SHA_A, policy: "ALLOWLIST", rule_type: "BINARY" }, rule],
      }),
    );

  it.each([
    [
      "a rule without identifier",
      { policy: "ALLOWLIST", rule_type: "BINARY" },
      "/rules/1",
      "has no `identifier` (nor the deprecated `sha256`): an agent drops the rule",
    ],
    [
      "a CEL rule",
      { identifier: "ABCDE12345", policy: "CEL", rule_type: "TEAMID", cel_expr: "true" },
      "/rules/1/policy",
      "`CEL` rules are not evaluated by this agent: an agent drops the rule",
    ],
    [
      "a policy of v2's",
      { identifier: "ABCDE12345:com.x", policy: "SEATBELT", rule_type: "SIGNINGID" },
      "/rules/1/policy",
      'policy `"SEATBELT"` is not one Santa v1 applies: an agent drops the rule',
    ],
    [
      "a reserved policy number",
      { identifier: SHA_B, policy: 7, rule_type: "BINARY" },
      "/rules/1/policy",
      "policy `7` is not one Santa v1 applies: an agent drops the rule",
    ],
    [
      "no policy",
      { identifier: SHA_B, rule_type: "BINARY" },
      "/rules/1/policy",
      "policy `null` is not one Santa v1 applies: an agent drops the rule",
    ],
    [
      "a rule type it does not know",
      { identifier: SHA_B, policy: "ALLOWLIST", ruleType: "FILE" },
      "/rules/1/ruleType",
      'rule type `"FILE"` is not one Santa v1 knows: an agent drops the rule',
    ],
    [
      "a short binary hash",
      { identifier: "abc", policy: "BLOCKLIST", rule_type: "BINARY" },
      "/rules/1/identifier",
      '`"abc"` is not a BINARY identifier (64 hex digits): an agent drops the rule',
    ],
    [
      "a bad deprecated sha256, pointed at",
      { sha256: "xyz", policy: "BLOCKLIST", rule_type: "CERTIFICATE" },
      "/rules/1/sha256",
      '`"xyz"` is not a CERTIFICATE identifier (64 hex digits): an agent drops the rule',
    ],
    [
      "a binary hash for a cdhash",
      { identifier: SHA_B, policy: "BLOCKLIST", rule_type: "CDHASH" },
      "/rules/1/identifier",
      `\`"${SHA_B.slice(0, 36)}...\` is not a CDHASH identifier (40 hex digits): an agent drops the rule`,
    ],
    [
      "a team ID of 9 characters",
      { identifier: "ABCDE1234", policy: "BLOCKLIST", rule_type: "TEAMID" },
      "/rules/1/identifier",
      '`"ABCDE1234"` is not a TEAMID identifier (10 letters or digits): an agent drops the rule',
    ],
    [
      "a signing ID without team",
      { identifier: "com.example.app", policy: "BLOCKLIST", rule_type: "SIGNINGID" },
      "/rules/1/identifier",
      '`"com.example.app"` is not a SIGNINGID identifier (a team ID or `platform`, a colon, then a signing ID): an agent drops the rule',
    ],
    [
      "a signing ID with nothing after its team",
      { identifier: "ABCDE12345:", policy: "BLOCKLIST", rule_type: "SIGNINGID" },
      "/rules/1/identifier",
      '`"ABCDE12345:"` is not a SIGNINGID identifier (a team ID or `platform`, a colon, then a signing ID): an agent drops the rule',
    ],
  ])("drops %s, and keeps the rest", (_, rule, pointer, message) => {
    const read = dropsOf(rule);
    expect(read.rules).toEqual([{ identifier: SHA_A, policy: "ALLOWLIST", ruleType: "BINARY" }]);
    expect(read.dropped).toEqual([{ pointer, message }]);
  });

  it.each([
    [
      "rules that are not a list",
      { rules: "all" },
      [["/rules", 'should be a list of objects, got `"all"`']],
    ],
    [
      "a rule that is not an object",
      { rules: [null] },
      [["/rules/0", "should be an object, got `null`"]],
    ],
    [
      "an identifier that is not a string",
      { rules: [{ identifier: 5 }] },
      [["/rules/0/identifier", "should be a string, got `5`"]],
    ],
    [
      "a message that is not a string",
      { rules: [{ custom_msg: ["hi"] }] },
      [["/rules/0/custom_msg", 'should be a string, got `["hi"]`']],
    ],
    [
      "a policy that is neither a name nor a number",
      { rules: [{ policy: {} }] },
      [
        [
          "/rules/0/policy",
          "should be one of `POLICY_UNKNOWN`, `ALLOWLIST`, `ALLOWLIST_COMPILER`, `BLOCKLIST`, `SILENT_BLOCKLIST`, `REMOVE`, ..., got `{}`",
        ],
      ],
    ],
    [
      "a cursor that is not a string",
      { rules: [], cursor: 3 },
      [["/cursor", "should be a string, got `3`"]],
    ],
  ])("reports %s", (_, input, expected) => {
    expect(problems(readRuleDownloadResponse(input))).toEqual(expected);
  });
});

describe("readEventUploadResponse", () => {
  it.each([
    ["this server's answer", { event_upload_bundle_binaries: [] }, []],
    ["JSON names", { eventUploadBundleBinaries: [SHA_A] }, [SHA_A]],
    ["an empty answer", {}, []],
    ["unknown fields, passed over", { accepted: 3 }, []],
  ])("reads %s", (_, input, expected) => {
    expect(value(readEventUploadResponse(input))).toEqual({ eventUploadBundleBinaries: expected });
  });

  it.each([
    [
      "hashes that are not a list",
      { event_upload_bundle_binaries: SHA_A },
      [
        [
          "/event_upload_bundle_binaries",
          `should be a list of strings, got \`"${SHA_A.slice(0, 36)}...\``,
        ],
      ],
    ],
    [
      "a hash that is not a string",
      { eventUploadBundleBinaries: [1] },
      [["/eventUploadBundleBinaries/0", "should be a string, got `1`"]],
    ],
  ])("reports %s", (_, input, expected) => {
    expect(problems(readEventUploadResponse(input))).toEqual(expected);
  });
});
