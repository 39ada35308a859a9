import { describe, expect, it } from "vitest";
import { diagnosticsOf } from "./helpers.js";

/*
 * The rule-set analyser (packages/dsl/src/analyse.ts), one table per code: each case is a rule set
 * and the analyser's findings on it, as `code @ underlined text`. The negative cases are the
 * traps: three-valued logic (an absent field is unknown, and an unknown `unless` blocks), what the
 * analyser cannot model, and the strategy's own rules.
 */

const ANALYSER = new Set([
  "rule_never_matches",
  "unless_never_applies",
  "rule_shadowed",
  "conflicting_rules",
  "regex_never_matches",
]);

function findings(rules: string, head = 'default review "no rule matched"'): string[] {
  return diagnosticsOf(`${head}\n${rules}`)
    .filter((d) => ANALYSER.has(d.code))
    .map((d) => `${d.code} @ ${d.at}`);
}

type Case = [title: string, rules: string, expected: string[]];

const neverMatches: Case[] = [
  [
    "an empty numeric range",
    'rule r { when trustScore > 50 and trustScore < 10 deny "x" }',
    ["rule_never_matches @ trustScore < 10"],
  ],
  [
    "two enum values at once",
    'rule r { when verdict == "clean" and verdict in ["caution", "high_risk"] deny "x" }',
    ['rule_never_matches @ verdict in ["caution", "high_risk"]'],
  ],
  [
    "every enum value excluded",
    'rule r { when verdict != "clean" and verdict not in ["caution", "high_risk"] deny "x" }',
    ['rule_never_matches @ verdict not in ["caution", "high_risk"]'],
  ],
  [
    "a bool and its negation",
    'rule r { when vendor.verified and not vendor.verified deny "x" }',
    ["rule_never_matches @ vendor.verified"],
  ],
  [
    "`not` over a comparison needs the field present",
    'rule r { when not (trustScore > 50) and trustScore > 60 deny "x" }',
    ["rule_never_matches @ trustScore > 60"],
  ],
  [
    "absent and compared (a comparison on an absent field is unknown)",
    'rule r { when not exists(signature) and signature.status == "valid" deny "x" }',
    ['rule_never_matches @ signature.status == "valid"'],
  ],
  [
    "an unmodelled condition still needs its field",
    'rule r { when not exists(fileName) and lower(fileName) == "a.exe" deny "x" }',
    ["rule_never_matches @ fileName"],
  ],
  ["`when false`", 'rule r { when false deny "x" }', ["rule_never_matches @ false"]],
  [
    "an `unless` true whenever the `when` is",
    'rule r { when trustScore > 50 unless trustScore > 20 deny "x" }',
    ["rule_never_matches @ trustScore > 20"],
  ],
  [
    "an `unless` always unknown under the `when` blocks it",
    'rule r { when not exists(trustScore) unless trustScore > 5 deny "x" }',
    ["rule_never_matches @ trustScore > 5"],
  ],
  [
    "timestamps are ordered",
    'rule r { when firstSeen > 2026-06-01 and firstSeen < 2026-01-01 deny "x" }',
    ["rule_never_matches @ firstSeen < 2026-01-01"],
  ],
  [
    "an `or` of values of one field",
    'rule r { when (verdict == "clean" or verdict in ["caution"]) and verdict == "high_risk" deny "x" }',
    ['rule_never_matches @ verdict == "high_risk"'],
  ],
  // negatives
  ["a satisfiable range", 'rule r { when trustScore > 10 and trustScore < 11 deny "x" }', []],
  [
    "`or` is not modelled",
    'rule r { when (trustScore > 50 or verdict == "clean") and trustScore < 10 deny "x" }',
    [],
  ],
  [
    "an absent field or a comparison",
    'rule r { when not exists(trustScore) or trustScore > 5 deny "x" }',
    [],
  ],
  [
    "an `unless` on another field",
    'rule r { when trustScore > 50 unless detections.malicious > 20 deny "x" }',
    [],
  ],
  ["functions are unknown", 'rule r { when len(fileName) > 5 and len(fileName) < 3 deny "x" }', []],
  [
    "context is unknown",
    'context { level: number }\nrule r { when context.level > 5 and context.level < 3 deny "x" }',
    [],
  ],
  [
    "an expired rule is not analysed",
    'rule r expires 2020-01-01 { when trustScore > 50 and trustScore < 10 deny "x" }',
    [],
  ],
];

const unlessNeverApplies: Case[] = [
  [
    "excluded by the `when`",
    'rule r { when trustScore > 50 unless trustScore < 20 deny "x" }',
    ["unless_never_applies @ trustScore < 20"],
  ],
  [
    "an enum value the `when` excludes",
    'rule r { when verdict == "clean" unless verdict == "high_risk" deny "x" }',
    ['unless_never_applies @ verdict == "high_risk"'],
  ],
  [
    "`exists` is two-valued",
    'rule r { when trustScore > 50 unless not exists(trustScore) deny "x" }',
    ["unless_never_applies @ not exists(trustScore)"],
  ],
  [
    "contradicting itself on a field the `when` needs",
    'rule r { when trustScore > 50 unless trustScore < 60 and trustScore > 70 deny "x" }',
    ["unless_never_applies @ trustScore < 60 and trustScore > 70"],
  ],
  [
    "`unless false`",
    'rule r { when trustScore > 50 unless false deny "x" }',
    ["unless_never_applies @ false"],
  ],
  // negatives
  [
    "contradicting itself on a field that may be absent: unknown, so it blocks",
    'rule r { when trustScore > 50 unless detections.malicious < 2 and detections.malicious > 5 deny "x" }',
    [],
  ],
  [
    "a comparison on a field the `when` does not need",
    'rule r { when not exists(trustScore) or verdict == "clean" unless trustScore < 20 deny "x" }',
    [],
  ],
  [
    "an `unless` that can apply",
    'rule r { when trustScore > 50 unless trustScore > 90 deny "x" }',
    [],
  ],
];

const shadowed: Case[] = [
  [
    "deny-overrides: an allow always denied",
    'rule d { when verdict == "high_risk" deny "x" }\nrule a { when verdict == "high_risk" and trustScore < 5 allow "y" }',
    ["rule_shadowed @ a"],
  ],
  [
    "deny-overrides: an allow always reviewed",
    'rule v { when trustScore < 50 review "x" }\nrule a { when trustScore < 20 and vendor.verified allow "y" }',
    ["rule_shadowed @ a"],
  ],
  [
    "first-match: an earlier rule covers a later one",
    'rule a { when verdict == "clean" allow "x" }\nrule b { when verdict == "clean" and trustScore > 5 deny "y" }',
    ["rule_shadowed @ b"],
  ],
  [
    "first-match: a higher priority comes first",
    'rule b { when trustScore > 5 and trustScore < 9 deny "y" }\nrule a priority 10 { when trustScore > 0 allow "x" }',
    ["rule_shadowed @ b"],
  ],
  [
    "deny-overrides: a deny on either of two values",
    'rule d { when verdict == "high_risk" or verdict == "caution" deny "x" }\nrule a { when verdict == "caution" and trustScore > 5 allow "y" }',
    ["rule_shadowed @ a"],
  ],
  // negatives
  [
    "an `or` over two fields is not modelled",
    'rule d { when verdict == "high_risk" or trustScore < 5 deny "x" }\nrule a { when verdict == "high_risk" allow "y" }',
    [],
  ],
  [
    "deny-overrides: `overrides deny` wins",
    'rule d { when verdict == "high_risk" deny "x" }\nrule a overrides deny { when verdict == "high_risk" and trustScore < 5 allow "y" }',
    [],
  ],
  [
    "the shadower has an unmodelled condition",
    'rule d { when verdict == "high_risk" and fileName endsWith ".exe" deny "x" }\nrule a { when verdict == "high_risk" allow "y" }',
    [],
  ],
  [
    "the shadower is a monitor rule",
    'rule d monitor { when verdict == "high_risk" deny "x" }\nrule a { when verdict == "high_risk" allow "y" }',
    [],
  ],
  [
    "the shadower expires",
    'rule d expires 2099-01-01 { when verdict == "high_risk" deny "x" }\nrule a { when verdict == "high_risk" and trustScore < 5 allow "y" }',
    [],
  ],
  [
    "the shadower matches less",
    'rule d { when trustScore < 10 deny "x" }\nrule a { when trustScore < 20 allow "y" }',
    [],
  ],
  [
    "an `unless` of the shadower leaves inputs out",
    'rule d { when trustScore < 50 unless vendor.verified deny "x" }\nrule a { when trustScore < 20 allow "y" }',
    [],
  ],
];

const firstMatch = new Set([
  "first-match: an earlier rule covers a later one",
  "first-match: a higher priority comes first",
]);

const conflicting: Case[] = [
  [
    "the same modelled condition, written differently",
    'rule a { when trustScore > 5 and verdict == "clean" allow "x" }\nrule b { when verdict == "clean" and 5 < trustScore review "y" }',
    // `b` (review) would also shadow `a` (allow): the conflict says it, once
    ["conflicting_rules @ b"],
  ],
  [
    "the same unmodelled condition",
    'rule a { when fileName endsWith ".exe" allow "x" }\nrule b { when fileName endsWith ".exe" deny "y" }',
    ["conflicting_rules @ b"],
  ],
  [
    "the same condition and action is not a conflict",
    'rule a { when fileName endsWith ".exe" deny "x" }\nrule b { when fileName endsWith ".exe" deny "y" }',
    [],
  ],
  [
    "different `unless` clauses",
    'rule a { when fileName endsWith ".exe" allow "x" }\nrule b { when fileName endsWith ".exe" unless vendor.verified deny "y" }',
    [],
  ],
];

const regexes: Case[] = [
  [
    "an empty class",
    'rule r { when fileName matches /a[]/ deny "x" }',
    ["regex_never_matches @ /a[]/"],
  ],
  [
    "a set and its complement, negated",
    'rule r { when fileName matches /[^\\s\\S]/ deny "x" }',
    ["regex_never_matches @ /[^\\s\\S]/"],
  ],
  [
    "text after `$`",
    'rule r { when fileName matches /exe$x/ deny "x" }',
    ["regex_never_matches @ /exe$x/"],
  ],
  [
    "text before `^`",
    'rule r { when fileName matches /a^b/ deny "x" }',
    ["regex_never_matches @ /a^b/"],
  ],
  // negatives
  ["`$` in multiline mode", 'rule r { when fileName matches /a$\\nb/m deny "x" }', []],
  ["an optional empty class", 'rule r { when fileName matches /a[]?/ deny "x" }', []],
  ["one alternative can match", 'rule r { when fileName matches /a^b|c/ deny "x" }', []],
  ["an anchor after an optional part", 'rule r { when fileName matches /a?^b/ deny "x" }', []],
];

describe("rule_never_matches", () => {
  it.each(neverMatches)("%s", (_, rules, expected) => {
    expect(findings(rules)).toEqual(expected);
  });
});

describe("unless_never_applies", () => {
  it.each(unlessNeverApplies)("%s", (_, rules, expected) => {
    expect(findings(rules)).toEqual(expected);
  });
});

describe("rule_shadowed", () => {
  it.each(shadowed)("%s", (title, rules, expected) => {
    const head = `${firstMatch.has(title) ? "strategy first-match\n" : ""}default review "no rule matched"`;
    expect(findings(rules, head)).toEqual(expected);
  });

  it("gives an example input and names the shadowing rule", () => {
    const [d] = diagnosticsOf(
      'default review "none"\nrule d { when verdict == "high_risk" deny "x" }\nrule a { when verdict == "high_risk" and trustScore < 5 allow "y" }',
    ).filter((x) => x.code === "rule_shadowed");
    expect(d?.message).toBe(
      "rule `a` never decides: `d` (`deny`) matches everything it matches and wins",
    );
    expect(d?.help).toBe(
      'when `trustScore` is 4 and `verdict` is "high_risk", both match and `d` decides `deny`; narrow the other rule, or remove this one',
    );
  });

  it("stays quiet on the same action under first-match", () => {
    expect(
      findings(
        'rule a { when verdict == "clean" deny "x" }\nrule b { when verdict == "clean" and trustScore > 5 deny "y" }',
        'strategy first-match\ndefault review "none"',
      ),
    ).toEqual([]);
  });
});

describe("conflicting_rules", () => {
  it.each(conflicting)("%s", (_, rules, expected) => {
    expect(findings(rules)).toEqual(expected);
  });
});

describe("regex_never_matches", () => {
  it.each(regexes)("%s", (_, rules, expected) => {
    expect(findings(rules)).toEqual(expected);
  });
});

describe("the analyser and errors", () => {
  it("says nothing while the rule set has errors", () => {
    const codes = diagnosticsOf(
      'default review "none"\nrule r { when trustScore > 50 and trustScore < 10 and trustscore > 1 deny "x" }',
    ).map((d) => d.code);
    expect(codes).toEqual(["unknown_field"]);
  });
});
