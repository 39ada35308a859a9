import { describe, expect, it } from "vitest";
import { compile } from "../src/index.js";
import { diagnosticsOf, NOW } from "./helpers.js";

const CODE = "rule_never_fires_on_input";

/** The fields warned about (from the message) and the underlined text, for one rule `r`. */
function warned(inputs: string, clauses: string): { field: string; at: string }[] {
  const text = `${inputs}\nrule r {\n  ${clauses}\n  deny "x"\n}\n`;
  return diagnosticsOf(text)
    .filter((d) => d.code === CODE)
    .map((d) => ({ field: /it needs `([^`]+)`/.exec(d.message)![1]!, at: d.at }));
}

/*
 * `when` condition -> fields a rule with `inputs virustotal` is warned about. VirusTotal input
 * never has `trustScore`, `verdict` or `scoreBreakdown` (and its items' fields).
 */
const whenCases: [string, [string, string][]][] = [
  // a comparison needs what it reads
  ["trustScore < 30", [["trustScore", "trustScore"]]],
  ['verdict == "high_risk"', [["verdict", "verdict"]]],
  ["detections.malicious >= 5", []],
  ['signature.status == "valid"', []],
  // `and`: the union of both sides; `or`: only what both branches need
  [
    'verdict == "clean" and trustScore > 80',
    [
      ["verdict", "verdict"],
      ["trustScore", "trustScore"],
    ],
  ],
  ["trustScore < 30 or detections.malicious > 3", []],
  ['trustScore < 30 or verdict == "high_risk"', []],
  ["trustScore < 30 or trustScore > 90", [["trustScore", "trustScore"]]],
  [
    "(trustScore < 30 and fileSize > 1) or (trustScore > 90 and detections.malicious > 0)",
    [["trustScore", "trustScore"]],
  ],
  // `not` swaps the two sets: not (a or b) is not a and not b
  ["not (trustScore > 50)", [["trustScore", "trustScore"]]],
  [
    'not (trustScore > 50 or verdict == "clean")',
    [
      ["trustScore", "trustScore"],
      ["verdict", "verdict"],
    ],
  ],
  ['not (trustScore > 50 and verdict == "clean")', []],
  // `exists` is never unknown: false when the field is absent, so `exists(f)` needs `f`, `not` of it does not
  ["exists(trustScore)", [["trustScore", "trustScore"]]],
  ["not exists(trustScore)", []],
  ["not exists(trustScore) or trustScore < 30", []],
  // arithmetic and functions: unknown when an operand is
  ["trustScore * 2 > fileSize", [["trustScore", "trustScore"]]],
  ["-trustScore < -50", [["trustScore", "trustScore"]]],
  ["len(scoreBreakdown) > 2", [["scoreBreakdown", "scoreBreakdown"]]],
  // nested fields and list items
  ['vendor.name == "x" and signature.signer == "x"', []],
  // a field and the list or object it lies in: the most specific is named, once
  [
    'any s in scoreBreakdown: s.component == "threat"',
    [["scoreBreakdown[].component", "s.component"]],
  ],
  [
    'count(s in scoreBreakdown where s.component == "threat") > 0',
    [["scoreBreakdown", "scoreBreakdown"]],
  ],
  ["any e in engines: exists(e.result) and trustScore < 30", [["trustScore", "trustScore"]]],
  // `all` over an empty list is true: its body's needs do not count
  ["all e in engines: trustScore < 30", []],
  // `any` over an empty list is false: its body's needs do not make it false
  ["not (any e in engines: trustScore < 30)", []],
  ["not (all e in engines: trustScore < 30)", [["trustScore", "trustScore"]]],
  // the first use is underlined
  ["trustScore > 1 and trustScore < 90", [["trustScore", "trustScore"]]],
  // an unknown item of a list literal is an absent item: the list is never unknown
  ['"clean" in [verdict]', []],
  // the request context is not an input field
  ["context.strict", []],
];

describe("which fields a rule needs, with `inputs platform`", () => {
  // branches reading different fields of one object both need the object
  it.each([
    [
      '(any m in virustotal.sigmaMatches: m.level == "high") or (any a in virustotal.idsAlerts: a.severity == "high")',
      [["virustotal", "virustotal.sigmaMatches"]],
    ],
    [
      "virustotal.reputation < 0 or virustotal.votes.malicious > 3",
      [["virustotal", "virustotal.reputation"]],
    ],
    ["virustotal.reputation < 0 or trustScore < 30", []],
  ] as [string, [string, string][]][])("when %s", (cond, expected) => {
    expect(warned("inputs platform", `when ${cond}`)).toEqual(
      expected.map(([field, at]) => ({ field, at })),
    );
  });
});

describe("which fields a rule needs, with `inputs virustotal`", () => {
  it.each(whenCases)("when %s", (cond, expected) => {
    expect(warned("context { strict: bool }\ninputs virustotal", `when ${cond}`)).toEqual(
      expected.map(([field, at]) => ({ field, at })),
    );
  });

  // a rule matches only when every `unless` is false: an unknown `unless` blocks it
  it.each([
    ["when true unless trustScore < 10", [["trustScore", "trustScore"]]],
    [
      "when true unless trustScore < 10 or detections.malicious > 0",
      [["trustScore", "trustScore"]],
    ],
    ["when true unless trustScore < 10 and detections.malicious > 0", []],
    ["when true unless not exists(trustScore)", [["trustScore", "trustScore"]]],
    ["when true unless exists(trustScore)", []],
    [
      'when verdict == "clean" unless trustScore < 10',
      [
        ["verdict", "verdict"],
        ["trustScore", "trustScore"],
      ],
    ],
  ] as [string, [string, string][]][])("%s", (clauses, expected) => {
    expect(warned("inputs virustotal", clauses)).toEqual(
      expected.map(([field, at]) => ({ field, at })),
    );
  });
});

describe("inputs and the warning", () => {
  it("says nothing without an `inputs` declaration", () => {
    expect(warned("", "when trustScore < 30")).toEqual([]);
  });

  it("says nothing for inputs that carry every field", () => {
    expect(warned("inputs canonical, platform", "when trustScore < 30")).toEqual([]);
  });

  it("names the rule, the field and the input, with a note on the declaration", () => {
    const text = 'inputs canonical, virustotal\nrule low { when trustScore < 30 deny "x" }\n';
    const result = compile([{ path: "test.rules", text }], { now: NOW });
    expect(result.ruleset).toBeDefined(); // a warning: the rule set still compiles
    const d = result.diagnostics.find((x) => x.code === CODE)!;
    expect(d.severity).toBe("warning");
    expect(d.message).toBe(
      "rule `low` can never fire on `virustotal` input: it needs `trustScore`, which that input never carries",
    );
    expect(text.slice(d.span.start, d.span.end)).toBe("trustScore");
    expect(d.help).toBe(
      "give `virustotal` input a rule on fields it carries, or remove it from `inputs`",
    );
    expect(d.related?.map((r) => [r.message, text.slice(r.span.start, r.span.end)])).toEqual([
      ["`virustotal` declared here", "virustotal"],
    ]);
    expect(result.ruleset!.inputs).toEqual(["canonical", "virustotal"]);
  });

  it("warns once per rule and field, and is still a warning when no declared input has it", () => {
    const ds = diagnosticsOf(
      'inputs virustotal\nrule a { when trustScore < 30 and trustScore > 1 and verdict == "clean" deny "x" }\nrule b { when trustScore < 5 deny "x" }\n',
    ).filter((d) => d.code === CODE);
    expect(ds.map((d) => [d.severity, d.message.slice(0, 40)])).toEqual([
      ["warning", "rule `a` can never fire on `virustotal` "],
      ["warning", "rule `a` can never fire on `virustotal` "],
      ["warning", "rule `b` can never fire on `virustotal` "],
    ]);
  });

  it("leaves monitor rules alone: they are not enforced", () => {
    expect(
      diagnosticsOf('inputs virustotal\nrule m monitor { when trustScore < 30 review "x" }\n').map(
        (d) => d.code,
      ),
    ).not.toContain(CODE);
  });

  it("leaves expired rules alone: they no longer apply", () => {
    const codes = (expires: string) =>
      diagnosticsOf(
        `inputs virustotal\nrule e expires ${expires} { when trustScore < 30 deny "x" }\n`,
      ).map((d) => d.code);
    expect(codes("2026-01-01")).toEqual(["rule_expired"]);
    expect(codes("2027-06-01")).toEqual([CODE]);
  });

  it.each([
    ["inputs virusttotal", "unknown_input", "virusttotal", "did you mean `virustotal`?"],
    [
      "inputs canonical, nosuch",
      "unknown_input",
      "nosuch",
      "inputs are `canonical`, `platform`, `virustotal`",
    ],
    ["inputs virustotal, canonical, virustotal", "duplicate_input", "virustotal", "keep one"],
    [
      "inputs canonical\ninputs virustotal",
      "duplicate_declaration",
      "inputs virustotal",
      "keep one declaration",
    ],
  ])("%s -> %s", (decl, code, at, help) => {
    const ds = diagnosticsOf(`${decl}\nrule r { when trustScore < 30 deny "x" }\n`);
    const d = ds.find((x) => x.code === code);
    expect(d, JSON.stringify(ds)).toBeDefined();
    expect(d!.at).toBe(at);
    expect(d!.help).toContain(help);
  });

  it("points the duplicate at the second name, with a note on the first", () => {
    const text = 'inputs virustotal, virustotal\nrule r { when true deny "x" }\n';
    const d = compile([{ path: "test.rules", text }], { now: NOW }).diagnostics.find(
      (x) => x.code === "duplicate_input",
    )!;
    expect(d.span.start).toBe(text.lastIndexOf("virustotal"));
    expect(d.related?.[0]?.span.start).toBe(text.indexOf("virustotal"));
  });

  it("checks rules of every file against a declaration in another", () => {
    const result = compile(
      [
        { path: "a.rules", text: "inputs virustotal\n" },
        { path: "b.rules", text: 'rule low { when trustScore < 30 deny "x" }\n' },
      ],
      { now: NOW },
    );
    const d = result.diagnostics.find((x) => x.code === CODE)!;
    expect(d.span.file).toBe("b.rules");
    expect(d.related?.[0]?.span.file).toBe("a.rules");
  });

  it("walks a chain of thousands of operands without recursion", () => {
    const chain = Array.from({ length: 5000 }, (_, i) => `trustScore != ${i}`).join(" or ");
    expect(warned("inputs virustotal", `when ${chain}`)).toEqual([
      { field: "trustScore", at: "trustScore" },
    ]);
  });
});

describe("the `inputs` declaration's syntax", () => {
  it.each([
    ["inputs", "syntax_error", "expected a name, found the end of the file"],
    ["inputs canonical,", "syntax_error", "expected a name, found the end of the file"],
    ['inputs "virustotal"', "syntax_error", 'expected a name, found `"virustotal"`'],
    ["input canonical", "unknown_keyword", "unknown keyword `input`"],
  ])("%s -> %s", (decl, code, message) => {
    const ds = diagnosticsOf(`${decl}\nrule r { when true deny "x" }\n`);
    expect(ds[0], JSON.stringify(ds)).toMatchObject({ code, message });
    if (code === "syntax_error") expect(ds[0]!.help).toContain("`inputs canonical, virustotal`");
    else expect(ds[0]!.help).toBe("did you mean `inputs`?");
  });

  it("reserves `inputs` as a keyword but not the names of inputs", () => {
    // `virustotal` is also a field (the VirusTotal section), so only the other names are free
    expect(
      diagnosticsOf(
        'list canonical = ["x"]\nlist platform = ["y"]\nrule r { when fileName in canonical or fileName in platform deny "x" }\n',
      ),
    ).toEqual([]);
  });
});
