// What the Santa benchmark's processes share (bench/server/santa.js, santa-client.js and the bare
// server santa-bare.js): the group and its token, the rules a group holds (generated from their
// index, so that the bare server answers the very bytes Clearance answers without reading the
// database), and the executions an agent reports.

import { createHash } from "node:crypto";

export const GROUP = "fleet";
/** The group's enrollment token, as agents send it; the configuration holds its SHA-256. */
export const TOKEN = "bench-santa-enrollment-token-0123456789";
export const TOKEN_SHA256 = createHash("sha256").update(TOKEN).digest("hex");

/** One rule in ten blocks (with the message a user sees), as in a fleet that mostly allows. */
const BLOCK_EVERY = 10;
const BLOCK_MESSAGE = "Blocked by Clearance: known malware (threats/known-bad)";

/** Rule `i` of the group (0-based), as the store's `applyRules` takes it. */
export function ruleChange(i) {
  const identifier = createHash("sha256").update(`bench-santa-rule-${i}`).digest("hex");
  const block = i % BLOCK_EVERY === BLOCK_EVERY - 1;
  return {
    group: GROUP,
    ruleType: "BINARY",
    identifier,
    policy: block ? "BLOCKLIST" : "ALLOWLIST",
    customMsg: block ? BLOCK_MESSAGE : "",
    decisionId: null,
  };
}

/**
 * A rule as Clearance writes it in a RuleDownload answer (`ruleJson` of @clearance/santa: these
 * keys in this order, `custom_msg` only when there is one), so `JSON.stringify` gives its bytes.
 */
export function ruleJson(change) {
  const out = { identifier: change.identifier, policy: change.policy, rule_type: change.ruleType };
  if (change.customMsg !== "") out.custom_msg = change.customMsg;
  return out;
}

/**
 * The SHA-256 of file `n` of a run: `prefix` (8 hex digits, one per run, so that no run meets a
 * file an earlier one recorded in a kept database) and `n` in the other 56.
 */
export function fileSha256(prefix, n) {
  return `${prefix}${n.toString(16).padStart(56, "0")}`;
}

/**
 * An execution as Santa's santasyncservice reports it (protobuf's JSON names): a file no rule
 * covers, blocked in lockdown (`BLOCK_UNKNOWN`), the event Santa uploads by default.
 */
export function execution(sha256, n) {
  return {
    file_sha256: sha256,
    file_path: `/Users/alice/Downloads/tool-${n % 1000}.app/Contents/MacOS`,
    file_name: `tool-${n % 1000}`,
    executing_user: "alice",
    execution_time: 1764936000 + n / 1000,
    decision: "BLOCK_UNKNOWN",
    pid: 1000 + (n % 30000),
    ppid: 1,
  };
}

/**
 * The decision request Clearance makes of an execution of a file it has no analysis of (what
 * `SantaService.decideEvent` decides: the agent's facts, the group as context), as an item of
 * `POST /v1/decisions/batch`.
 */
export function batchItem(sha256, n) {
  return {
    result: { sha256, origin: "santa-agent", fileName: `tool-${n % 1000}` },
    context: { group: GROUP },
    format: "canonical",
  };
}
