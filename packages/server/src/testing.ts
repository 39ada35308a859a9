// Test support, exported as @clearance/server/testing: a plausible decision record for the audit
// log, for the tests of this package and the CLI, and for the benchmarks that fill a log.
import { randomBytes } from "node:crypto";
import type { DecisionRecord } from "./audit/entry.js";
import { idAt, newId } from "./audit/ids.js";

let made = 0;

/**
 * A decision record as the server would append it: an `allow` by no rule, for a random file.
 * Every call gets a fresh, later id; a record given another `time` gets an id of that time, as
 * the log requires (its time ranges are answered as id ranges).
 */
export function decisionRecord(overrides: Partial<DecisionRecord> = {}): DecisionRecord {
  made++;
  const time = overrides.time ?? new Date().toISOString();
  return {
    id: overrides.time === undefined ? newId() : idAt(Date.parse(time)),
    time,
    source: "api",
    requester: null,
    sha256: overrides.sha256 ?? randomBytes(32).toString("hex"),
    fileName: `file-${made}.bin`,
    decision: "allow",
    rule: null,
    reason: `reason ${made}`,
    matched: [],
    monitored: [],
    errors: [],
    ruleset: { revision: "rev-1", commit: null, dirty: false },
    latencyUs: 42,
    shadow: null,
    deliveryId: null,
    explain: null,
    ...overrides,
  };
}
