import type { Diagnostic } from "@clearance/dsl";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compile, type Ruleset } from "../src/index.js";
import { NOW, result } from "./helpers.js";

/*
 * The analyser is sound where it says "never": small rule sets over a few fields (numbers, enums,
 * strings, bools, nested and absent fields, and conditions it cannot model) are generated with
 * inputs, decided by the real engine, and no input may contradict a finding:
 * - `rule_never_matches`: the rule never matches;
 * - `unless_never_applies`: whenever the `when` is true, that `unless` is false (it never blocks);
 * - `rule_shadowed`: the rule never decides;
 * - `conflicting_rules`: the two rules match exactly the same inputs.
 * What "matches" and "applies" mean is read from the engine, never recomputed: every rule is also
 * compiled as monitor rules of a probe rule set (`when W`, the whole rule, and `when W unless U`
 * for each `unless`), and `monitored` says which matched. An `unless` applies when `when W`
 * matches and `when W unless U` does not (U is true or unknown).
 */

const RUNS = Number(process.env.ANALYSER_RUNS ?? 300);

const comparison = fc.constantFrom("==", "!=", "<", "<=", ">", ">=");

const atom: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(comparison, fc.constantFrom(0, 5, 10, 20, 50, 51, 100), fc.boolean())
    .map(([op, n, mirrored]) => (mirrored ? `${n} ${op} trustScore` : `trustScore ${op} ${n}`)),
  fc
    .tuple(comparison, fc.constantFrom(0, 1, 2, 5))
    .map(([op, n]) => `detections.malicious ${op} ${n}`),
  fc
    .tuple(fc.constantFrom("==", "!="), fc.constantFrom("clean", "caution", "high_risk"))
    .map(([op, v]) => `verdict ${op} "${v}"`),
  fc
    .tuple(
      fc.constantFrom("in", "not in"),
      fc.subarray(["clean", "caution", "high_risk"], { minLength: 1 }),
    )
    .map(([op, vs]) => `verdict ${op} [${vs.map((v) => `"${v}"`).join(", ")}]`),
  fc
    .tuple(fc.constantFrom("==", "!="), fc.constantFrom("valid", "unsigned", "invalid"))
    .map(([op, v]) => `signature.status ${op} "${v}"`),
  fc
    .tuple(fc.constantFrom("==", "!=", "in", "not in"), fc.constantFrom("a.exe", "b.msi"))
    .map(([op, v]) =>
      op.includes("in") ? `fileName ${op} ["${v}", "c"]` : `fileName ${op} "${v}"`,
    ),
  fc.constantFrom(
    "vendor.verified",
    "vendor.verified == false",
    "exists(trustScore)",
    "exists(vendor)",
    "exists(vendor.verified)",
    "exists(signature)",
    "exists(detections.malicious)",
    "exists(fileName)",
    "true",
    "false",
    // what the analyser cannot model
    'fileName endsWith ".exe"',
    'lower(fileName) == "a.exe"',
    "len(fileName) > 4",
    "trustScore + detections.malicious > 50",
  ),
);

const condition: fc.Arbitrary<string> = fc.letrec<{ c: string }>((tie) => ({
  c: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    atom,
    fc.tuple(tie("c"), tie("c")).map(([a, b]) => `(${a}) and (${b})`),
    fc.tuple(tie("c"), tie("c")).map(([a, b]) => `(${a}) or (${b})`),
    tie("c").map((a) => `not (${a})`),
  ),
})).c;

interface GenRule {
  name: string;
  when: string;
  unless: string[];
  action: "allow" | "deny" | "review";
  priority: number | undefined;
  monitor: boolean;
}

const rule = (name: string): fc.Arbitrary<GenRule> =>
  fc.record({
    name: fc.constant(name),
    when: condition,
    unless: fc.array(condition, { maxLength: 2 }),
    action: fc.constantFrom("allow", "deny", "review"),
    priority: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
    monitor: fc.boolean().map((b) => b && Math.random() < 0.2),
  });

const ruleSet = fc
  .record({
    strategy: fc.constantFrom("deny-overrides", "first-match"),
    rules: fc
      .integer({ min: 1, max: 5 })
      .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => rule(`r${i}`)))),
    // the last rule repeats the first one's condition, so that same conditions occur at all
    repeat: fc.boolean(),
  })
  .map(({ strategy, rules, repeat }) => {
    const out = [...rules];
    if (repeat && out.length > 1)
      out[out.length - 1] = { ...out.at(-1)!, when: out[0]!.when, unless: out[0]!.unless };
    return { strategy, rules: out };
  });

const input = fc.record(
  {
    trustScore: fc.constantFrom(0, 4, 5, 6, 10, 20, 49, 50, 51, 99, 100),
    verdict: fc.constantFrom("clean", "caution", "high_risk"),
    fileName: fc.constantFrom("a.exe", "b.msi", "A.EXE", "c", "xx.exe"),
    vendor: fc.oneof(
      fc.constant({}),
      fc.boolean().map((verified) => ({ verified })),
    ),
    signature: fc
      .constantFrom("valid", "unsigned", "invalid", "expired")
      .map((status) => ({ status })),
    detections: fc.oneof(
      fc.constant({}),
      fc.constantFrom(0, 1, 2, 5, 6).map((malicious) => ({ malicious })),
    ),
  },
  { requiredKeys: [] },
);

/** The text of a rule set, and where each rule's `unless` clauses start. */
function render(
  strategy: string,
  rules: readonly GenRule[],
): { text: string; unlessAt: Map<string, number[]> } {
  let text = `strategy ${strategy}\ndefault review "none"\n`;
  const unlessAt = new Map<string, number[]>();
  for (const r of rules) {
    const mods = `${r.priority === undefined ? "" : ` priority ${r.priority}`}${r.monitor ? " monitor" : ""}`;
    text += `rule ${r.name}${mods} {\n  when ${r.when}\n`;
    const at: number[] = [];
    for (const u of r.unless) {
      text += "  unless ";
      at.push(text.length);
      text += `${u}\n`;
    }
    unlessAt.set(r.name, at);
    text += `  ${r.action} "${r.name}"\n}\n`;
  }
  return { text, unlessAt };
}

/** The probe rule set: for each rule, its `when`, the rule itself, and `when` with each `unless`. */
function probe(rules: readonly GenRule[]): string {
  let text = 'default review "none"\n';
  for (const r of rules) {
    text += `rule ${r.name}_when monitor { when ${r.when} review "w" }\n`;
    text += `rule ${r.name}_full monitor { when ${r.when}${r.unless.map((u) => ` unless ${u}`).join("")} review "f" }\n`;
    r.unless.forEach((u, i) => {
      text += `rule ${r.name}_u${i} monitor { when ${r.when} unless ${u} review "u" }\n`;
    });
  }
  return text;
}

function compiled(text: string): { ruleset: Ruleset; diagnostics: Diagnostic[] } {
  const out = compile([{ path: "gen.rules", text }], { now: NOW });
  if (!out.ruleset)
    throw new Error(`did not compile:\n${text}\n${JSON.stringify(out.diagnostics)}`);
  return { ruleset: out.ruleset, diagnostics: out.diagnostics };
}

/** How often each code was found, so the test can tell it exercised them. */
const seen: Record<string, number> = {};

describe("the analyser's soundness", () => {
  it("no input contradicts a finding", () => {
    fc.assert(
      fc.property(ruleSet, fc.array(input, { minLength: 20, maxLength: 40 }), (set, inputs) => {
        const { text, unlessAt } = render(set.strategy, set.rules);
        const real = compiled(text);
        const probes = compiled(probe(set.rules)).ruleset;
        const never = new Set<string>();
        const idle: [string, number][] = [];
        const shadowed = new Set<string>();
        const same: [string, string][] = [];
        for (const d of real.diagnostics) {
          seen[d.code] = (seen[d.code] ?? 0) + 1;
          if (d.code === "rule_never_matches") never.add(/rule `(\w+)`/.exec(d.message)![1]!);
          if (d.code === "unless_never_applies") {
            const name = /rule `(\w+)`/.exec(d.message)![1]!;
            const at = unlessAt.get(name)!;
            idle.push([name, at.filter((start) => start <= d.span.start).length - 1]);
          }
          if (d.code === "rule_shadowed") shadowed.add(/rule `(\w+)`/.exec(d.message)![1]!);
          if (d.code === "conflicting_rules") {
            const m = /rules `(\w+)` and `(\w+)`/.exec(d.message)!;
            same.push([m[1]!, m[2]!]);
          }
        }
        for (const fields of inputs) {
          const valid = result(fields);
          const monitored = new Set(probes.decide(valid, { now: NOW }).monitored);
          const decision = real.ruleset.decide(valid, { now: NOW });
          const show = `${text}\ninput ${JSON.stringify(fields)}`;
          for (const name of never) expect(monitored.has(`${name}_full`), show).toBe(false);
          for (const [name, i] of idle)
            expect(monitored.has(`${name}_when`) && !monitored.has(`${name}_u${i}`), show).toBe(
              false,
            );
          for (const name of shadowed) expect(decision.rule, show).not.toBe(name);
          for (const [a, b] of same)
            expect(monitored.has(`${a}_full`), show).toBe(monitored.has(`${b}_full`));
        }
      }),
      { numRuns: RUNS },
    );
    // the generator reaches every finding the property is about
    for (const code of [
      "rule_never_matches",
      "unless_never_applies",
      "rule_shadowed",
      "conflicting_rules",
    ])
      expect(seen[code] ?? 0, code).toBeGreaterThan(0);
  });
});

describe("regex_never_matches is sound", () => {
  const piece = fc.constantFrom(
    "a",
    "b?",
    "$",
    "^",
    "[]",
    "[^\\s\\S]",
    "[^\\d]",
    "(a|$)",
    "x*",
    ".",
    "\\n",
  );
  const pattern = fc
    .tuple(fc.array(piece, { minLength: 1, maxLength: 4 }), fc.array(piece, { maxLength: 3 }))
    .map(([a, b]) => (b.length > 0 ? `${a.join("")}|${b.join("")}` : a.join("")));
  const strings = ["", "a", "ab", "a\nb", "\n", "x", "ba", "a\n", "\na", "1"];

  it("a regex it flags matches no string", () => {
    let flagged = 0;
    fc.assert(
      fc.property(pattern, fc.constantFrom("", "m", "i"), (source, flags) => {
        const out = compile(
          [
            {
              path: "re.rules",
              text: `default review "none"\nrule r { when fileName matches /${source}/${flags} deny "x" }\n`,
            },
          ],
          { now: NOW },
        );
        if (!out.diagnostics.some((d) => d.code === "regex_never_matches")) return;
        flagged++;
        const re = new RegExp(source, flags);
        for (const s of strings)
          expect(re.test(s), `/${source}/${flags} on ${JSON.stringify(s)}`).toBe(false);
      }),
      { numRuns: RUNS },
    );
    expect(flagged).toBeGreaterThan(0);
  });
});
