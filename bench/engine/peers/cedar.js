// The 20 benchmark rules as Cedar policies, with @cedar-policy/cedar-wasm 4.13.
// Node 20 must run with --no-turbo-inline-js-wasm-calls (it crashes in long runs otherwise).
//
// Mapping: deny rules are `forbid` policies, review and allow rules are `permit` policies, named
// after the rule. One statefulIsAuthorized call (policy set preparsed once) per decision:
//   decision "deny" with a reason -> deny (a forbid matched; Cedar's forbid overrides permit)
//   decision "deny" without reason -> nothing matched -> the default, review
//   decision "allow" -> review if a review permit is among the reasons, else allow
//
// Cedar has no regex, case folding, counting, quantifier over a set of records, or null, so the
// adapter computes these facts in JS and passes them in the context (this is part of the timed
// work): ransomHit (any engine result matching /ransom/i), maliciousEngines (a count),
// weakThreatSignals (any score component), fileNameLower. Absent fields are left out of the
// context (Cedar has no null) and guarded with `has`. Only the fields the policies read are
// marshalled, the fastest form for Cedar; timestamps go in as datetime extension values.
// The known-bad list is looked up in a JS Set into a boolean (hashList: "js", the default): Cedar
// re-evaluates a set literal on every request, so the idiomatic 10,000-string set literal in the
// policy (hashList: "policy") runs at ~200 decisions/s, 37x slower; statefulIsAuthorized takes no
// preloaded entity store either, so a hierarchy would also have to be built in JS per call.

import cedar from "@cedar-policy/cedar-wasm/nodejs";
import { NOW, SANCTIONED_SHA256 } from "../data.js";
import { TRUSTED_CATEGORIES, TRUSTED_VENDORS } from "./shared.js";

const RANSOM = /ransom/i;
const set = (xs) => `[${xs.map((x) => JSON.stringify(x)).join(", ")}]`;
const SIG = "context has signature";
const SCORE = "context has trustScore";
const DET = "context has detections";

/** [name, effect, Cedar condition], in the order of bench.rules */
export function cedarRules(knownBadCondition) {
  return [
    ["known_bad", "deny", knownBadCondition],
    ["sanctioned_app", "allow", `context.sha256 == "${SANCTIONED_SHA256}"`],
    [
      "malware",
      "deny",
      `context has verdict && context.verdict == "high_risk" && ${DET} && context.detections.malicious >= 3`,
    ],
    ["ransomware_names", "deny", "context has ransomHit && context.ransomHit"],
    ["many_engines", "deny", "context has maliciousEngines && context.maliciousEngines >= 5"],
    [
      "trusted_publisher",
      "allow",
      `${SIG} && context.signature.status == "valid" && context has vendor.name && ${set(TRUSTED_VENDORS)}.contains(context.vendor.name) && ${SCORE} && context.trustScore >= 70 && !(context.fileName like "*.scr")`,
    ],
    [
      "bad_signature",
      "review",
      `${SIG} && ["expired", "invalid"].contains(context.signature.status)`,
    ],
    [
      "self_signed_low_score",
      "review",
      `${SIG} && context.signature.status == "self_signed" && ${SCORE} && context.trustScore < 60`,
    ],
    [
      "unsigned_driver",
      "deny",
      `context has category && context.category == "driver" && ${SIG} && context.signature.status != "valid"`,
    ],
    ["pua_tag", "review", 'context has tags && context.tags.contains("pua")'],
    ["powershell", "review", 'context.fileName like "*.ps1"'],
    [
      "fresh_files",
      "review",
      'context has firstSeen && context.now.durationSince(context.firstSeen) < duration("24h")',
    ],
    ["very_low_score", "deny", `${SCORE} && context.trustScore < 30`],
    [
      "verified_vendor",
      "allow",
      `context has vendor.verified && context.vendor.verified == true && ${SCORE} && context.trustScore >= 85`,
    ],
    [
      "cracks",
      "deny",
      'context.fileNameLower like "*crack*" || context.fileNameLower like "*keygen*"',
    ],
    ["suspicious_engines", "review", `${DET} && context.detections.suspicious >= 3`],
    [
      "trusted_category",
      "allow",
      `context has category && ${set(TRUSTED_CATEGORIES)}.contains(context.category) && ${SIG} && context.signature.status == "valid" && ${SCORE} && context.trustScore >= 60`,
    ],
    ["weak_threat_signals", "review", "context has weakThreatSignals && context.weakThreatSignals"],
    [
      "unknown_unsigned",
      "review",
      `${SIG} && context.signature.status == "unsigned" && !(context has vendor.name)`,
    ],
    [
      "combined_detections",
      "deny",
      `${DET} && context.detections.malicious + context.detections.suspicious >= 4 && context has vendor.name && !${set(TRUSTED_VENDORS)}.contains(context.vendor.name)`,
    ],
  ];
}

const datetime = (s) => ({ __extn: { fn: "datetime", arg: s } });

let instances = 0;

/**
 * @param {{knownBad: Iterable<string>, now?: number, hashList?: "policy" | "js"}} options
 */
export function createCedar({ knownBad, now = NOW, hashList = "js" }) {
  const bad = new Set(knownBad);
  const knownBadCondition =
    hashList === "policy"
      ? `${set([...bad])}.contains(context.sha256)`
      : "context has knownBad && context.knownBad";
  const rules = cedarRules(knownBadCondition);
  const effectOf = new Map(rules.map(([name, effect]) => [name, effect]));
  const staticPolicies = {};
  for (const [name, effect, condition] of rules) {
    staticPolicies[name] =
      `${effect === "deny" ? "forbid" : "permit"} (principal, action, resource) when { ${condition} };`;
  }
  const policySetId = `bench-${++instances}`;
  const parsed = cedar.preparsePolicySet(policySetId, { staticPolicies });
  if (parsed.type !== "success") {
    throw new Error(`cedar: ${parsed.errors.map((e) => e.message).join("; ")}`);
  }

  const nowValue = datetime(new Date(now).toISOString().replace(".000Z", "Z"));
  const principal = { type: "Agent", id: "bench" };
  const action = { type: "Action", id: "decide" };
  const entities = [];

  /** The Cedar context for one result: the fields the policies read, plus the facts computed in JS. */
  function context(r) {
    const c = { sha256: r.sha256, fileName: r.fileName, now: nowValue };
    c.fileNameLower = r.fileName.toLowerCase();
    if (hashList === "js") c.knownBad = bad.has(r.sha256);
    if (r.verdict !== undefined) c.verdict = r.verdict;
    if (r.trustScore !== undefined) c.trustScore = r.trustScore;
    if (r.category !== undefined) c.category = r.category;
    if (r.detections !== undefined) {
      c.detections = { malicious: r.detections.malicious, suspicious: r.detections.suspicious };
    }
    if (r.signature !== undefined) c.signature = { status: r.signature.status };
    if (r.vendor !== undefined) {
      const v = {};
      if (r.vendor.name !== undefined) v.name = r.vendor.name;
      if (r.vendor.verified !== undefined) v.verified = r.vendor.verified;
      c.vendor = v;
    }
    if (r.tags !== undefined) c.tags = r.tags;
    if (r.firstSeen !== undefined) c.firstSeen = datetime(r.firstSeen);
    if (r.engines !== undefined) {
      let ransom = false;
      let malicious = 0;
      for (const e of r.engines) {
        if (e.category === "malicious") malicious++;
        if (!ransom && typeof e.result === "string" && RANSOM.test(e.result)) ransom = true;
      }
      c.ransomHit = ransom;
      c.maliciousEngines = malicious;
    }
    if (r.scoreBreakdown !== undefined) {
      c.weakThreatSignals = r.scoreBreakdown.some(
        (s) => s.component === "threat_signals" && typeof s.value === "number" && s.value < 20,
      );
    }
    return c;
  }

  function authorize(r) {
    const answer = cedar.statefulIsAuthorized({
      principal,
      action,
      resource: { type: "File", id: r.sha256 },
      context: context(r),
      preparsedPolicySetId: policySetId,
      entities,
    });
    if (answer.type !== "success") {
      throw new Error(`cedar: ${answer.errors.map((e) => e.message).join("; ")}`);
    }
    return answer.response;
  }

  function decide(r) {
    const { decision, diagnostics } = authorize(r);
    if (decision === "deny") return diagnostics.reason.length > 0 ? "deny" : "review";
    for (const id of diagnostics.reason) if (effectOf.get(id) === "review") return "review";
    return "allow";
  }

  /** The names of the matching rules that Cedar reports (for diagnostics, not timed). */
  const matched = (r) => authorize(r).diagnostics.reason;

  return { decide, matched, errors: (r) => authorize(r).diagnostics.errors };
}
