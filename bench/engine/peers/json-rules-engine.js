// The 20 benchmark rules for json-rules-engine 7, in its fastest documented form:
// - a `pathResolver` (plain dotted-path lookup) instead of the default JSONPath resolver;
// - Set-backed custom operators for the 10,000-hash list and the vendor list (the built-in `in`
//   scans an array);
// - custom operators for what its condition language cannot say (regex over the engine entries,
//   counting, suffixes, case folding, age, a sum, absence).
// All 20 rules are evaluated on each run (one priority level, evaluated in parallel), then the
// success events are combined (deny-overrides). `decide` is asynchronous: await it.

import { Engine } from "json-rules-engine";
import { NOW, SANCTIONED_SHA256 } from "../data.js";
import { TRUSTED_CATEGORIES, TRUSTED_VENDORS } from "./shared.js";

const DAY = 86_400_000;
const isString = (a) => typeof a === "string";

const cond = (path, operator, value) => ({ fact: "r", path, operator, value });

/** [name, effect, conditions], in the order of bench.rules */
export const JRE_RULES = [
  ["known_bad", "deny", { all: [cond("sha256", "inSet", "knownBad")] }],
  ["sanctioned_app", "allow", { all: [cond("sha256", "equal", SANCTIONED_SHA256)] }],
  [
    "malware",
    "deny",
    {
      all: [
        cond("verdict", "equal", "high_risk"),
        cond("detections.malicious", "greaterThanInclusive", 3),
      ],
    },
  ],
  ["ransomware_names", "deny", { all: [cond("engines", "anyResultMatches", "ransom")] }],
  ["many_engines", "deny", { all: [cond("engines", "countCategoryAtLeast", ["malicious", 5])] }],
  [
    "trusted_publisher",
    "allow",
    {
      all: [
        cond("signature.status", "equal", "valid"),
        cond("vendor.name", "inSet", "trustedVendors"),
        cond("trustScore", "greaterThanInclusive", 70),
        // `unless`: fileName is always present in the data, so `not` is exact here
        { not: cond("fileName", "endsWith", ".scr") },
      ],
    },
  ],
  ["bad_signature", "review", { all: [cond("signature.status", "in", ["expired", "invalid"])] }],
  [
    "self_signed_low_score",
    "review",
    {
      all: [cond("signature.status", "equal", "self_signed"), cond("trustScore", "lessThan", 60)],
    },
  ],
  [
    "unsigned_driver",
    "deny",
    {
      all: [
        cond("category", "equal", "driver"),
        cond("signature.status", "presentNotEqual", "valid"),
      ],
    },
  ],
  ["pua_tag", "review", { all: [cond("tags", "contains", "pua")] }],
  ["powershell", "review", { all: [cond("fileName", "endsWith", ".ps1")] }],
  ["fresh_files", "review", { all: [cond("firstSeen", "youngerThan", DAY)] }],
  ["very_low_score", "deny", { all: [cond("trustScore", "lessThan", 30)] }],
  [
    "verified_vendor",
    "allow",
    {
      all: [cond("vendor.verified", "equal", true), cond("trustScore", "greaterThanInclusive", 85)],
    },
  ],
  [
    "cracks",
    "deny",
    {
      any: [
        cond("fileName", "lowerContains", "crack"),
        cond("fileName", "lowerContains", "keygen"),
      ],
    },
  ],
  [
    "suspicious_engines",
    "review",
    { all: [cond("detections.suspicious", "greaterThanInclusive", 3)] },
  ],
  [
    "trusted_category",
    "allow",
    {
      all: [
        cond("category", "in", TRUSTED_CATEGORIES),
        cond("signature.status", "equal", "valid"),
        cond("trustScore", "greaterThanInclusive", 60),
      ],
    },
  ],
  [
    "weak_threat_signals",
    "review",
    { all: [cond("scoreBreakdown", "anyComponentBelow", ["threat_signals", 20])] },
  ],
  [
    "unknown_unsigned",
    "review",
    { all: [cond("signature.status", "equal", "unsigned"), cond("vendor.name", "absent", true)] },
  ],
  [
    "combined_detections",
    "deny",
    {
      all: [
        cond("detections", "sumAtLeast", [["malicious", "suspicious"], 4]),
        cond("vendor.name", "notInSet", "trustedVendors"),
      ],
    },
  ],
];

/**
 * @param {{knownBad: Iterable<string>, now?: number}} options
 * @returns {{decide: (r: object) => Promise<string>, matched: (r: object) => Promise<string[]>}}
 */
export function createJsonRulesEngine({ knownBad, now = NOW }) {
  const sets = { knownBad: new Set(knownBad), trustedVendors: new Set(TRUSTED_VENDORS) };
  const regexes = new Map();
  const regex = (src) => {
    let re = regexes.get(src);
    if (!re) {
      re = new RegExp(src, "i");
      regexes.set(src, re);
    }
    return re;
  };

  const paths = new Map();
  const pathResolver = (value, path) => {
    let parts = paths.get(path);
    if (!parts) {
      parts = path.split(".");
      paths.set(path, parts);
    }
    let v = value;
    for (let i = 0; i < parts.length && v != null; i++) v = v[parts[i]];
    return v;
  };

  const engine = new Engine([], { pathResolver });
  engine.addOperator("inSet", (a, b) => isString(a) && sets[b].has(a));
  engine.addOperator("notInSet", (a, b) => isString(a) && !sets[b].has(a));
  engine.addOperator("presentNotEqual", (a, b) => a !== undefined && a !== b);
  engine.addOperator("endsWith", (a, b) => isString(a) && a.endsWith(b));
  engine.addOperator("lowerContains", (a, b) => isString(a) && a.toLowerCase().includes(b));
  engine.addOperator("absent", (a, b) => (a === undefined) === b);
  engine.addOperator("youngerThan", (a, b) => isString(a) && now - Date.parse(a) < b);
  engine.addOperator("anyResultMatches", (a, b) => {
    if (!Array.isArray(a)) return false;
    const re = regex(b);
    for (const e of a) if (isString(e.result) && re.test(e.result)) return true;
    return false;
  });
  engine.addOperator("countCategoryAtLeast", (a, [category, min]) => {
    if (!Array.isArray(a)) return false;
    let n = 0;
    for (const e of a) if (e.category === category) n++;
    return n >= min;
  });
  engine.addOperator("anyComponentBelow", (a, [component, max]) => {
    if (!Array.isArray(a)) return false;
    for (const c of a)
      if (c.component === component && typeof c.value === "number" && c.value < max) return true;
    return false;
  });
  engine.addOperator("sumAtLeast", (a, [fields, min]) => {
    if (a == null) return false;
    let sum = 0;
    for (const f of fields) {
      if (typeof a[f] !== "number") return false;
      sum += a[f];
    }
    return sum >= min;
  });

  for (const [name, effect, conditions] of JRE_RULES) {
    engine.addRule({ name, conditions, event: { type: effect, params: { rule: name } } });
  }

  async function decide(r) {
    const { events } = await engine.run({ r });
    let deny = false;
    let review = false;
    let allow = false;
    for (const e of events) {
      if (e.type === "deny") deny = true;
      else if (e.type === "review") review = true;
      else allow = true;
    }
    return deny ? "deny" : review ? "review" : allow ? "allow" : "review";
  }

  async function matched(r) {
    const { events } = await engine.run({ r });
    return events.map((e) => e.params.rule);
  }

  return { decide, matched };
}
