// The 20 benchmark rules hand-written in JavaScript, straight-line: the practical ceiling.
// Semantics follow Clearance: a comparison on an absent field is unknown, and a rule whose
// condition is unknown does not match, so absent fields are guarded (`undefined < 30` is already
// false in JS; `!=`, `not in` and `not exists` need explicit guards).

import { NOW, SANCTIONED_SHA256 } from "../data.js";
import { TRUSTED_VENDORS } from "./shared.js";

const DAY = 86_400_000;
const RANSOM = /ransom/i;

/**
 * @param {{knownBad: Set<string>, now?: number}} options
 * @returns {{all: (r: object) => string, early: (r: object) => string, matched: (r: object) => string[]}}
 */
export function createHandwritten({ knownBad, now = NOW }) {
  const trusted = new Set(TRUSTED_VENDORS);

  const anyRansom = (engines) => {
    for (let i = 0; i < engines.length; i++) {
      const res = engines[i].result;
      if (typeof res === "string" && RANSOM.test(res)) return true;
    }
    return false;
  };
  const countMalicious = (engines) => {
    let n = 0;
    for (let i = 0; i < engines.length; i++) if (engines[i].category === "malicious") n++;
    return n;
  };
  const weakThreatSignals = (breakdown) => {
    for (let i = 0; i < breakdown.length; i++) {
      const c = breakdown[i];
      if (c.component === "threat_signals" && typeof c.value === "number" && c.value < 20) {
        return true;
      }
    }
    return false;
  };

  // One predicate per rule, named as in bench.rules
  const known_bad = (r) => knownBad.has(r.sha256);
  const sanctioned_app = (r) => r.sha256 === SANCTIONED_SHA256;
  const malware = (r) => r.verdict === "high_risk" && r.detections?.malicious >= 3;
  const ransomware_names = (r) => r.engines !== undefined && anyRansom(r.engines);
  const many_engines = (r) => r.engines !== undefined && countMalicious(r.engines) >= 5;
  const trusted_publisher = (r) =>
    r.signature?.status === "valid" &&
    trusted.has(r.vendor?.name) &&
    r.trustScore >= 70 &&
    !r.fileName.endsWith(".scr");
  const bad_signature = (r) => {
    const s = r.signature?.status;
    return s === "expired" || s === "invalid";
  };
  const self_signed_low_score = (r) => r.signature?.status === "self_signed" && r.trustScore < 60;
  const unsigned_driver = (r) =>
    r.category === "driver" && r.signature !== undefined && r.signature.status !== "valid";
  const pua_tag = (r) => r.tags?.includes("pua") === true;
  const powershell = (r) => r.fileName.endsWith(".ps1");
  const fresh_files = (r) => r.firstSeen !== undefined && now - Date.parse(r.firstSeen) < DAY;
  const very_low_score = (r) => r.trustScore < 30;
  const verified_vendor = (r) => r.vendor?.verified === true && r.trustScore >= 85;
  const cracks = (r) => {
    const f = r.fileName.toLowerCase();
    return f.includes("crack") || f.includes("keygen");
  };
  const suspicious_engines = (r) => r.detections?.suspicious >= 3;
  const trusted_category = (r) =>
    (r.category === "browser" || r.category === "development tool") &&
    r.signature?.status === "valid" &&
    r.trustScore >= 60;
  const weak_threat_signals = (r) =>
    r.scoreBreakdown !== undefined && weakThreatSignals(r.scoreBreakdown);
  const unknown_unsigned = (r) =>
    r.signature?.status === "unsigned" && r.vendor?.name === undefined;
  const combined_detections = (r) =>
    r.detections !== undefined &&
    r.detections.malicious + r.detections.suspicious >= 4 &&
    r.vendor?.name !== undefined &&
    !trusted.has(r.vendor.name);

  /** Evaluates all 20 rules, collects the matched names, then combines (deny-overrides). */
  function all(r) {
    const matched = [];
    let deny = false;
    let review = false;
    let allow = false;
    if (known_bad(r)) {
      deny = true;
      matched.push("known_bad");
    }
    if (sanctioned_app(r)) {
      allow = true;
      matched.push("sanctioned_app");
    }
    if (malware(r)) {
      deny = true;
      matched.push("malware");
    }
    if (ransomware_names(r)) {
      deny = true;
      matched.push("ransomware_names");
    }
    if (many_engines(r)) {
      deny = true;
      matched.push("many_engines");
    }
    if (trusted_publisher(r)) {
      allow = true;
      matched.push("trusted_publisher");
    }
    if (bad_signature(r)) {
      review = true;
      matched.push("bad_signature");
    }
    if (self_signed_low_score(r)) {
      review = true;
      matched.push("self_signed_low_score");
    }
    if (unsigned_driver(r)) {
      deny = true;
      matched.push("unsigned_driver");
    }
    if (pua_tag(r)) {
      review = true;
      matched.push("pua_tag");
    }
    if (powershell(r)) {
      review = true;
      matched.push("powershell");
    }
    if (fresh_files(r)) {
      review = true;
      matched.push("fresh_files");
    }
    if (very_low_score(r)) {
      deny = true;
      matched.push("very_low_score");
    }
    if (verified_vendor(r)) {
      allow = true;
      matched.push("verified_vendor");
    }
    if (cracks(r)) {
      deny = true;
      matched.push("cracks");
    }
    if (suspicious_engines(r)) {
      review = true;
      matched.push("suspicious_engines");
    }
    if (trusted_category(r)) {
      allow = true;
      matched.push("trusted_category");
    }
    if (weak_threat_signals(r)) {
      review = true;
      matched.push("weak_threat_signals");
    }
    if (unknown_unsigned(r)) {
      review = true;
      matched.push("unknown_unsigned");
    }
    if (combined_detections(r)) {
      deny = true;
      matched.push("combined_detections");
    }
    return deny ? "deny" : review ? "review" : allow ? "allow" : "review";
  }

  /** Stops at the first deciding match: the deny rules first (cheapest first), then review, then allow. */
  function early(r) {
    if (
      known_bad(r) ||
      very_low_score(r) ||
      malware(r) ||
      unsigned_driver(r) ||
      combined_detections(r) ||
      cracks(r) ||
      many_engines(r) ||
      ransomware_names(r)
    ) {
      return "deny";
    }
    if (
      bad_signature(r) ||
      self_signed_low_score(r) ||
      pua_tag(r) ||
      powershell(r) ||
      suspicious_engines(r) ||
      unknown_unsigned(r) ||
      fresh_files(r) ||
      weak_threat_signals(r)
    ) {
      return "review";
    }
    if (sanctioned_app(r) || trusted_publisher(r) || verified_vendor(r) || trusted_category(r)) {
      return "allow";
    }
    return "review";
  }

  const rules = {
    known_bad,
    sanctioned_app,
    malware,
    ransomware_names,
    many_engines,
    trusted_publisher,
    bad_signature,
    self_signed_low_score,
    unsigned_driver,
    pua_tag,
    powershell,
    fresh_files,
    very_low_score,
    verified_vendor,
    cracks,
    suspicious_engines,
    trusted_category,
    weak_threat_signals,
    unknown_unsigned,
    combined_detections,
  };
  /** The names of the matching rules (for diagnostics, not timed). */
  const matched = (r) => Object.keys(rules).filter((name) => rules[name](r));

  return { all, early, matched };
}
