// The 20 benchmark rules as CEL expressions, with @marcbachmann/cel-js 8.
// One Environment, 20 expressions parsed once; each decision evaluates them against {r, now}.
// Absent fields are guarded with has() (CEL raises "no such key" otherwise); the known-bad list
// is a constant map<string, bool> so `in` is a hash lookup; Node 20's RegExp has no inline (?i),
// so /ransom/i is written with character classes.

import { Environment } from "@marcbachmann/cel-js";
import { NOW, SANCTIONED_SHA256 } from "../data.js";
import { TRUSTED_CATEGORIES, TRUSTED_VENDORS } from "./shared.js";

const list = (xs) => `[${xs.map((x) => JSON.stringify(x)).join(", ")}]`;
const SIG = "has(r.signature)";
const VENDOR_NAME = "has(r.vendor) && has(r.vendor.name)";
const SCORE = "has(r.trustScore)";
const DET = "has(r.detections)";

/** [name, effect, CEL expression], in the order of bench.rules */
export const CEL_RULES = [
  ["known_bad", "deny", "r.sha256 in knownBad"],
  ["sanctioned_app", "allow", `r.sha256 == "${SANCTIONED_SHA256}"`],
  [
    "malware",
    "deny",
    `has(r.verdict) && r.verdict == "high_risk" && ${DET} && r.detections.malicious >= 3`,
  ],
  [
    "ransomware_names",
    "deny",
    'has(r.engines) && r.engines.exists(e, e.result != null && e.result.matches("[Rr][Aa][Nn][Ss][Oo][Mm]"))',
  ],
  [
    "many_engines",
    "deny",
    'has(r.engines) && r.engines.filter(e, e.category == "malicious").size() >= 5',
  ],
  [
    "trusted_publisher",
    "allow",
    `${SIG} && r.signature.status == "valid" && ${VENDOR_NAME} && r.vendor.name in ${list(TRUSTED_VENDORS)} && ${SCORE} && r.trustScore >= 70 && !r.fileName.endsWith(".scr")`,
  ],
  ["bad_signature", "review", `${SIG} && r.signature.status in ["expired", "invalid"]`],
  [
    "self_signed_low_score",
    "review",
    `${SIG} && r.signature.status == "self_signed" && ${SCORE} && r.trustScore < 60`,
  ],
  [
    "unsigned_driver",
    "deny",
    `has(r.category) && r.category == "driver" && ${SIG} && r.signature.status != "valid"`,
  ],
  ["pua_tag", "review", 'has(r.tags) && "pua" in r.tags'],
  ["powershell", "review", 'r.fileName.endsWith(".ps1")'],
  ["fresh_files", "review", 'has(r.firstSeen) && now - timestamp(r.firstSeen) < duration("24h")'],
  ["very_low_score", "deny", `${SCORE} && r.trustScore < 30`],
  [
    "verified_vendor",
    "allow",
    `has(r.vendor) && has(r.vendor.verified) && r.vendor.verified == true && ${SCORE} && r.trustScore >= 85`,
  ],
  [
    "cracks",
    "deny",
    'r.fileName.lowerAscii().contains("crack") || r.fileName.lowerAscii().contains("keygen")',
  ],
  ["suspicious_engines", "review", `${DET} && r.detections.suspicious >= 3`],
  [
    "trusted_category",
    "allow",
    `has(r.category) && r.category in ${list(TRUSTED_CATEGORIES)} && ${SIG} && r.signature.status == "valid" && ${SCORE} && r.trustScore >= 60`,
  ],
  [
    "weak_threat_signals",
    "review",
    'has(r.scoreBreakdown) && r.scoreBreakdown.exists(c, c.component == "threat_signals" && has(c.value) && c.value < 20)',
  ],
  ["unknown_unsigned", "review", `${SIG} && r.signature.status == "unsigned" && !(${VENDOR_NAME})`],
  [
    "combined_detections",
    "deny",
    `${DET} && r.detections.malicious + r.detections.suspicious >= 4 && ${VENDOR_NAME} && !(r.vendor.name in ${list(TRUSTED_VENDORS)})`,
  ],
];

/**
 * @param {{knownBad: Iterable<string>, now?: number}} options
 */
export function createCel({ knownBad, now = NOW }) {
  const env = new Environment()
    .registerVariable("r", "map")
    .registerVariable("now", "google.protobuf.Timestamp")
    .registerConstant(
      "knownBad",
      "map<string, bool>",
      new Map(Array.from(knownBad, (h) => [h, true])),
    );
  const compiled = CEL_RULES.map(([name, effect, expr]) => ({ name, effect, fn: env.parse(expr) }));
  const nowDate = new Date(now);
  const n = compiled.length;
  const fns = compiled.map((c) => c.fn);
  const effects = compiled.map((c) => c.effect);
  const ordered = [
    ...compiled.filter((c) => c.effect === "deny"),
    ...compiled.filter((c) => c.effect === "review"),
    ...compiled.filter((c) => c.effect === "allow"),
  ];
  const orderedFns = ordered.map((c) => c.fn);
  const orderedEffects = ordered.map((c) => c.effect);

  /** Evaluates all 20 expressions, then combines (deny-overrides). */
  function all(r) {
    const ctx = { r, now: nowDate };
    let deny = false;
    let review = false;
    let allow = false;
    for (let i = 0; i < n; i++) {
      if (fns[i](ctx) === true) {
        const e = effects[i];
        if (e === "deny") deny = true;
        else if (e === "review") review = true;
        else allow = true;
      }
    }
    return deny ? "deny" : review ? "review" : allow ? "allow" : "review";
  }

  /** Deny expressions first, then review, then allow; stops at the first match. */
  function early(r) {
    const ctx = { r, now: nowDate };
    for (let i = 0; i < n; i++) if (orderedFns[i](ctx) === true) return orderedEffects[i];
    return "review";
  }

  const matched = (r) =>
    compiled.filter((c) => c.fn({ r, now: nowDate }) === true).map((c) => c.name);

  return { all, early, matched };
}
