import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "./helpers.js";

/**
 * `clearance test --coverage`: condition coverage, counted from the engine's explanations.
 * The table checks the counting rules (short-circuits, three-valued logic, `not`, loops, `unless`,
 * conditions of the same text); the goldens check the report as printed and as JSON; the gate
 * tests check `--min-condition-coverage` failing and passing.
 */

const HASH = "1111111111111111111111111111111111111111111111111111111111111111";

/** A rule directory in a fresh temporary directory: `a.rules` and `tests/a.test.yaml`. */
function ruleDir(rules: string, cases: object[]): string {
  const dir = mkdtempSync(join(tmpdir(), "clearance-coverage-"));
  mkdirSync(join(dir, "tests"));
  writeFileSync(join(dir, "a.rules"), rules);
  writeFileSync(
    join(dir, "tests", "a.test.yaml"),
    JSON.stringify({ now: "2026-11-26T12:00:00Z", cases }, null, 2),
  );
  return dir;
}

/** A case: the input is a valid result with `fields`, the expectation only the decision. */
const c = (decision: string, fields: object = {}) => ({
  name: `${decision} ${JSON.stringify(fields)}`,
  input: { sha256: HASH, ...fields },
  expect: { decision },
});

interface Detail {
  rule: string;
  expr: string;
  clause: string;
  true: number;
  false: number;
  unknown: number;
  missing: string[];
}

const TABLE: {
  name: string;
  rules: string;
  cases: object[];
  /** per condition, in declaration order: `rule: expr` -> [true, false, unknown] */
  counts: Record<string, [number, number, number]>;
}[] = [
  {
    name: "an `and` that is already false does not evaluate what follows",
    rules: 'rule r { when trustScore >= 70 and verdict == "clean" allow "x" }',
    cases: [c("allow", { trustScore: 80, verdict: "clean" }), c("review", { trustScore: 50 })],
    counts: { "r: trustScore >= 70": [1, 1, 0], 'r: verdict == "clean"': [1, 0, 0] },
  },
  {
    name: "an absent field makes a comparison unknown, not false",
    rules: 'rule r { when trustScore >= 70 or verdict == "clean" allow "x" }',
    cases: [c("review", {}), c("allow", { trustScore: 90 })],
    counts: { "r: trustScore >= 70": [1, 0, 1], 'r: verdict == "clean"': [0, 0, 1] },
  },
  {
    name: "`not` is seen through: the condition under it is counted",
    rules: 'rule r { when not exists(fileName) deny "x" }',
    cases: [c("deny", {}), c("review", { fileName: "a.exe" })],
    counts: { "r: exists(fileName)": [1, 1, 0] },
  },
  {
    name: "an `unless` is evaluated only when `when` held",
    rules: 'rule r { when verdict == "clean" unless fileName endsWith ".scr" allow "x" }',
    cases: [c("review", { verdict: "high_risk" })],
    counts: { 'r: verdict == "clean"': [0, 1, 0], 'r: fileName endsWith ".scr"': [0, 0, 0] },
  },
  {
    name: "a loop is one condition",
    rules:
      'rule r { when any s in virustotal.sandboxVerdicts: s.category == "malicious" and s.sandbox != "x" deny "x" }',
    cases: [
      c("deny", { virustotal: { sandboxVerdicts: [{ sandbox: "a", category: "malicious" }] } }),
      c("review", { virustotal: { sandboxVerdicts: [{ sandbox: "a", category: "harmless" }] } }),
    ],
    counts: {
      'r: any s in virustotal.sandboxVerdicts: s.category == "malicious" and s.sandbox != "x"': [
        1, 1, 0,
      ],
    },
  },
  {
    name: "conditions of the same text in two rules are counted apart",
    rules: `rule a { when trustScore >= 70 and verdict == "clean" allow "x" }
rule b { when verdict == "high_risk" and trustScore >= 70 deny "y" }`,
    cases: [c("allow", { trustScore: 80, verdict: "clean" })],
    counts: {
      "a: trustScore >= 70": [1, 0, 0],
      'a: verdict == "clean"': [1, 0, 0],
      'b: verdict == "high_risk"': [0, 1, 0],
      "b: trustScore >= 70": [0, 0, 0],
    },
  },
  {
    name: "boolean fields and literals are conditions too",
    rules: 'rule r { when vendor.verified or false allow "x" }',
    cases: [
      c("allow", { vendor: { name: "v", verified: true } }),
      c("review", { vendor: { name: "v", verified: false } }),
    ],
    counts: { "r: vendor.verified": [1, 1, 0], "r: false": [0, 1, 0] },
  },
];

describe("condition coverage counts", () => {
  for (const row of TABLE) {
    it(row.name, async () => {
      const dir = ruleDir(row.rules, row.cases);
      const r = await run("test", dir, "--coverage", "--json");
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      const details: Detail[] = JSON.parse(r.out).coverage.conditions.details;
      const counts = Object.fromEntries(
        details.map((d) => [`${d.rule}: ${d.expr}`, [d.true, d.false, d.unknown]]),
      );
      expect(counts).toEqual(row.counts);
      // `missing` and the totals follow from the counts
      for (const d of details)
        expect(d.missing).toEqual(
          [d.true === 0 ? "true" : [], d.false === 0 ? "false" : []].flat(),
        );
      const { covered, outcomes, conditions } = JSON.parse(r.out).coverage.conditions;
      expect(conditions).toBe(details.length);
      expect(outcomes).toBe(2 * details.length);
      expect(covered).toBe(details.reduce((k, d) => k + 2 - d.missing.length, 0));
    });
  }
});

// The golden rule directory is copied so that the paths printed are the same wherever it runs.
const GOLDEN = join(import.meta.dirname, "golden", "condition-coverage");
const update = process.env.UPDATE_GOLDEN === "1";

function goldenRules(): { dir: string; relative: (s: string) => string } {
  const work = mkdtempSync(join(tmpdir(), "clearance-coverage-golden-"));
  cpSync(join(GOLDEN, "rules"), join(work, "rules"), { recursive: true });
  const dir = join(work, "rules");
  return { dir, relative: (s) => s.replaceAll(`${work}/`, "") };
}

function golden(name: string, actual: string): void {
  const path = join(GOLDEN, name);
  if (update) writeFileSync(path, actual);
  expect(actual).toBe(readFileSync(path, "utf8"));
}

describe("condition coverage report", () => {
  it("prints each condition never true or never false with a code frame (golden)", async () => {
    const { dir, relative } = goldenRules();
    const r = await run("test", dir, "--coverage");
    expect(r.code).toBe(0);
    golden("report.text.golden", `${relative(r.out)}\n`);
  });

  it("gives every condition, placed and counted, as JSON (golden)", async () => {
    const { dir, relative } = goldenRules();
    const r = await run("test", dir, "--coverage", "--json");
    expect(r.code).toBe(0);
    golden("report.json.golden", `${relative(r.out)}\n`);
  });

  it("is left out without --coverage: the report is as before", async () => {
    const { dir } = goldenRules();
    const text = await run("test", dir);
    expect(text.out).not.toContain("condition coverage");
    const json = await run("test", dir, "--json");
    expect(JSON.parse(json.out).coverage.conditions).toBeUndefined();
  });
});

describe("a failing case under --coverage", () => {
  it("prints the same explanation as without it, and still counts its conditions", async () => {
    const { dir } = goldenRules();
    const file = join(dir, "tests", "a.test.yaml");
    // the unknown vendor becomes a trusted one without a trust score, and the case expects the
    // wrong decision: `trusted` evaluates `not exists(trustScore)` before `flagged` denies
    writeFileSync(
      file,
      readFileSync(file, "utf8")
        .replace("vendor: { name: Nobody, verified: false }", "vendor: { name: Google LLC }")
        .replace("{ decision: deny, rule: flagged }", "{ decision: allow }"),
    );
    const plain = await run("test", dir);
    const covered = await run("test", dir, "--coverage", "--json");
    expect(plain.code).toBe(1);
    expect(plain.err).toContain("decision: expected allow, got deny");
    expect(plain.err).toContain("not exists(trustScore) -> true");
    // the coverage trace has a node for `exists(...)` under the `not`; the printed one does not
    expect(plain.err).not.toMatch(/^ +exists\(trustScore\) ->/m);
    expect(covered.err).toBe(plain.err);
    const details: Detail[] = JSON.parse(covered.out).coverage.conditions.details;
    expect(details.find((d) => d.expr === "exists(trustScore)")).toMatchObject({ false: 1 });
  });
});

describe("--min-condition-coverage", () => {
  // The golden rules' tests see 7 of 16 outcomes: 43.7%.
  it("fails below the threshold, naming it, and shows what is missing", async () => {
    const { dir } = goldenRules();
    const r = await run("test", dir, "--min-condition-coverage", "50");
    expect(r.code).toBe(1);
    expect(r.err).toBe("condition coverage 43.7% is below --min-condition-coverage 50%");
    // the gate implies the report: the author sees which conditions to test
    expect(r.out).toContain('never true: `fileName endsWith ".scr"` in rule trusted');
  });

  it("passes at or above the threshold", async () => {
    const { dir } = goldenRules();
    const r = await run("test", dir, "--min-condition-coverage", "43.7");
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
  });

  it("is independent of --min-coverage (rules): each gate fails on its own", async () => {
    const { dir } = goldenRules();
    // 2 of 3 rules are matched (66.6%)
    const rules = await run("test", dir, "--min-coverage", "60", "--min-condition-coverage", "90");
    expect(rules.code).toBe(1);
    expect(rules.err).not.toContain("--min-coverage");
    expect(rules.err).toContain("--min-condition-coverage 90%");
    const conditions = await run(
      "test",
      dir,
      "--min-coverage",
      "90",
      "--min-condition-coverage",
      "40",
    );
    expect(conditions.code).toBe(1);
    expect(conditions.err).toBe("coverage 66.6% is below --min-coverage 90%");
  });

  it("with --json, fails the same way and the report says why", async () => {
    const { dir } = goldenRules();
    const r = await run("test", dir, "--json", "--min-condition-coverage", "50");
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).coverage.conditions.percent).toBe(43.7);
  });
});
