import { describe, expect, it } from "vitest";
import type { ConditionTrace } from "../src/index.js";
import { decide, rules } from "./helpers.js";

/**
 * What condition coverage (`clearance test --coverage`) reads from the engine: the atomic
 * conditions of each rule, and explanations that trace every one evaluated under its span.
 */

const RULES = `context { group: string }
list vendors = ["A", "B"]
rule r {
  when trustScore >= 70 and (vendor.name in vendors or not exists(fileName))
    and any e in virustotal.sandboxVerdicts: e.category == "malicious" and e.sandbox != "x"
  unless context.group == "finance" or vendor.verified
  unless fileName endsWith ".scr"
  deny "x"
}
rule plain { when true allow "y" }
`;

/** Every traced node with a span, as `text -> value`, depth first. */
function atoms(node: ConditionTrace | undefined, out: string[] = []): string[] {
  if (!node) return out;
  if (node.span) out.push(`${node.expr} -> ${node.value}`);
  for (const c of node.children ?? []) atoms(c, out);
  return out;
}

describe("Ruleset.conditions", () => {
  it("lists the operands of and, or and not of each when and unless, a loop as one", () => {
    const rs = rules(RULES);
    const sites = rs.conditions();
    expect(sites.map((s) => [s.rule, s.clause, s.unless, s.expr])).toEqual([
      ["r", "when", undefined, "trustScore >= 70"],
      ["r", "when", undefined, "vendor.name in vendors"],
      ["r", "when", undefined, "exists(fileName)"],
      [
        "r",
        "when",
        undefined,
        'any e in virustotal.sandboxVerdicts: e.category == "malicious" and e.sandbox != "x"',
      ],
      ["r", "unless", 0, 'context.group == "finance"'],
      ["r", "unless", 0, "vendor.verified"],
      ["r", "unless", 1, 'fileName endsWith ".scr"'],
      ["plain", "when", undefined, "true"],
    ]);
    // spans are offsets into the file: the text under each is the condition
    for (const s of sites)
      expect(RULES.slice(s.span.start, s.span.end).replace(/\s*\n\s*/g, " ")).toBe(s.expr);
  });
});

describe("decide with conditions", () => {
  const input = {
    trustScore: 80,
    vendor: { name: "C", verified: false },
    virustotal: { sandboxVerdicts: [{ sandbox: "y", category: "malicious" }] },
  };

  it("traces every evaluated atom, calls and boolean fields included, each with its span", () => {
    const rs = rules(RULES);
    const d = decide(rs, input, { explain: true, conditions: true, context: { group: "it" } });
    const r = d.explain!.rules[0]!;
    expect(atoms(r.when)).toContain("trustScore >= 70 -> true");
    expect(atoms(r.when)).toContain("vendor.name in vendors -> false");
    // `exists(...)` under `not` is not a comparison: only the coverage trace has it
    expect(atoms(r.when)).toContain("exists(fileName) -> false");
    expect(atoms(r.when)).toContain("not exists(fileName) -> true");
    // `or` did not stop at `context.group == ...`: the boolean field was evaluated too
    expect(atoms(r.unless?.[0])).toEqual([
      'context.group == "finance" or vendor.verified -> false',
      'context.group == "finance" -> false',
      "vendor.verified -> false",
    ]);
    // three-valued: a condition over an absent field is traced as unknown
    expect(atoms(r.unless?.[1])).toEqual(['fileName endsWith ".scr" -> null']);
    const sites = new Map(rs.conditions().map((s) => [`${s.span.start}:${s.span.end}`, s.expr]));
    const exists = r.when!.children![1]!.children![1]!.children![0]!;
    expect(sites.get(`${exists.span!.start}:${exists.span!.end}`)).toBe("exists(fileName)");
  });

  it("decides as without it, and a plain explanation carries no spans", () => {
    const rs = rules(RULES);
    const plain = decide(rs, input, { explain: true, context: { group: "it" } });
    const traced = decide(rs, input, { explain: true, conditions: true, context: { group: "it" } });
    const { explain: a, ...decisionA } = plain;
    const { explain: b, ...decisionB } = traced;
    expect(decisionB).toEqual(decisionA);
    expect(JSON.stringify(a)).not.toContain('"span"');
    expect(a!.rules.map((x) => x.outcome)).toEqual(b!.rules.map((x) => x.outcome));
  });
});
