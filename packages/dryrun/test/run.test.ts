import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { RulesError } from "../src/baseline.js";
import { StrictError } from "../src/process.js";
import type { DryRunReport } from "../src/report.js";
import { dryRun } from "../src/run.js";

const NOW = Date.parse("2026-11-26T12:00:00Z");
const hex = (i: number) => i.toString(16).padStart(64, "0");

const BASE_RULES = `
default review "no rule matched"
rule low { when trustScore < 30 deny "low {trustScore}" }
rule trusted { when vendor.name == "Good" and trustScore >= 70 allow "good vendor" }
rule never { when trustScore > 1000 deny "impossible" }
`;
// The candidate tightens `trusted` to 80 and adds a rule.
const CANDIDATE_RULES = BASE_RULES.replace("trustScore >= 70", "trustScore >= 80").concat(
  'rule scr { when fileName endsWith ".scr" deny "screensaver" }\n',
);

let dir: string;
let records: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "clearance-dryrun-"));
  const lines: string[] = [];
  for (let i = 0; i < 300; i++) {
    lines.push(
      JSON.stringify({
        sha256: hex(i),
        fileName: i % 50 === 0 ? `f${i}.scr` : `f${i}.exe`,
        trustScore: i % 100,
        vendor: { name: i % 2 ? "Good" : "Other" },
      }),
    );
  }
  lines.push("{not json");
  lines.push(JSON.stringify({ sha256: "nope", trustScore: 500 }));
  lines.push("");
  records = join(dir, "history.ndjson");
  writeFileSync(records, `${lines.join("\n")}\n`);
  // A git repository whose HEAD holds the baseline and whose work tree holds the candidate.
  const repo = join(dir, "repo");
  cpSync(
    join(import.meta.dirname, "..", "..", "..", "rules", "lists"),
    join(repo, "rules", "lists"),
    { recursive: true },
  );
  writeFileSync(join(repo, "rules", "a.rules"), BASE_RULES);
  const git = (...args: string[]) => execFileSync("git", ["-C", repo, ...args], { stdio: "pipe" });
  git("init", "-q");
  git("-c", "user.email=t@example.com", "-c", "user.name=t", "add", ".");
  git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "baseline");
  writeFileSync(join(repo, "rules", "a.rules"), CANDIDATE_RULES);
  writeFileSync(join(dir, "base.rules.d"), "");
});

const expectTotals = (r: DryRunReport) => {
  expect(r.totals.read).toBe(r.totals.decided + r.totals.invalid + r.totals.malformed);
  expect(r.outcomes.candidate.allow + r.outcomes.candidate.deny + r.outcomes.candidate.review).toBe(
    r.totals.decided,
  );
};

describe("dry-run", () => {
  it("counts, decides and reports rules without a baseline", async () => {
    const r = await dryRun({ rules: join(dir, "repo", "rules"), from: [records], now: NOW });
    expectTotals(r);
    expect(r.totals).toMatchObject({ read: 302, decided: 300, invalid: 1, malformed: 1 });
    expect(r.malformed[0]).toMatchObject({ source: records, line: 301 });
    expect(r.invalid[0]!.problems.map((p) => p.pointer)).toEqual(
      expect.arrayContaining(["/sha256", "/trustScore"]),
    );
    expect(r.neverMatched).toEqual(["never"]);
    expect(r.rules.find((x) => x.rule === "low")).toMatchObject({ matched: 90, deciding: 90 });
    expect(r.transitions).toEqual([]);
  });

  it("against a git ref: the same records decided twice, transitions with examples", async () => {
    const rulesDir = join(dir, "repo", "rules");
    const decisions: string[] = [];
    const r = await dryRun({
      rules: rulesDir,
      from: [records],
      baseline: "HEAD",
      now: NOW,
      failOn: [
        { from: "allow", to: "review" },
        { from: "deny", to: "allow" },
      ],
      decisions: { format: "ndjson", write: (l) => decisions.push(...l) },
    });
    expectTotals(r);
    expect(r.baseline).toMatchObject({ source: `${rulesDir} @ HEAD` });
    expect(r.baseline!.commit!.dirty).toBe(false);
    const at = (from: string, to: string) =>
      r.transitions.find((t) => t.from === from && t.to === to)!.count;
    // odd i (vendor Good) with trust 70..79 went from allow to review: 5 per hundred, 3 hundreds
    expect(at("allow", "review")).toBe(15);
    // screensavers (i % 50 == 0) that were not already denied (trust 0 is low): i = 50, 150, 250
    expect(at("review", "deny") + at("allow", "deny")).toBe(3);
    expect(r.changed).toBe(18);
    expect(r.changes).toHaveLength(18);
    expect(
      r.transitions.find((t) => t.from === "allow" && t.to === "review")!.examples[0],
    ).toMatchObject({
      baseline: { decision: "allow", rule: "trusted" },
      candidate: { decision: "review", rule: null },
    });
    expect(r.failOn.triggered).toEqual([{ from: "allow", to: "review", count: 15 }]);
    expect(decisions).toHaveLength(300);
    expect(JSON.parse(decisions[0]!)).toMatchObject({
      sha256: hex(0),
      decision: "deny",
      baseline: { decision: "deny" },
    });
  });

  it("a baseline directory gives the same answer as the git ref", async () => {
    const base = join(dir, "base");
    cpSync(join(dir, "repo", "rules"), base, { recursive: true });
    writeFileSync(join(base, "a.rules"), BASE_RULES);
    const a = await dryRun({
      rules: join(dir, "repo", "rules"),
      from: [records],
      baseline: base,
      now: NOW,
    });
    const b = await dryRun({
      rules: join(dir, "repo", "rules"),
      from: [records],
      baseline: "HEAD",
      now: NOW,
    });
    expect(a.transitions).toEqual(b.transitions);
  });

  it("--limit and --strict", async () => {
    const r = await dryRun({
      rules: join(dir, "repo", "rules"),
      from: [records],
      now: NOW,
      limit: 10,
    });
    expect(r.totals.read).toBe(10);
    await expect(
      dryRun({ rules: join(dir, "repo", "rules"), from: [records], now: NOW, strict: true }),
    ).rejects.toThrow(StrictError);
  });

  it("a baseline ref that does not exist, and rules that do not compile, are errors", async () => {
    await expect(
      dryRun({
        rules: join(dir, "repo", "rules"),
        from: [records],
        baseline: "no-such-ref",
        now: NOW,
      }),
    ).rejects.toThrow(RulesError);
    const bad = mkdtempSync(join(tmpdir(), "clearance-badrules-"));
    writeFileSync(join(bad, "a.rules"), 'rule x { when nope deny "x" }');
    await expect(dryRun({ rules: bad, from: [records], now: NOW })).rejects.toThrow(
      /do not compile/,
    );
  });

  it("an unreadable source is an error naming it", async () => {
    await expect(
      dryRun({ rules: join(dir, "repo", "rules"), from: [join(dir, "missing.ndjson")], now: NOW }),
    ).rejects.toThrow(/missing\.ndjson/);
  });

  it("CSV decisions escape and defuse spreadsheet formulas", async () => {
    const file = join(dir, "weird.ndjson");
    writeFileSync(
      file,
      `${JSON.stringify({ sha256: hex(1), fileName: '=cmd|"a,b"', trustScore: 5 })}\n`,
    );
    const lines: string[] = [];
    await dryRun({
      rules: join(dir, "repo", "rules"),
      from: [file],
      now: NOW,
      decisions: { format: "csv", write: (l) => lines.push(...l) },
    });
    expect(lines[0]).toContain(`"'=cmd|""a,b"""`);
    expect(readFileSync(file, "utf8")).toContain("=cmd");
  });
});
