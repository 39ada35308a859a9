// `clearance check` on the shipped rules, with `inputs canonical, virustotal` added to a copy: the
// 5 enforced rules that read `trustScore` or `verdict` can never fire on VirusTotal input, and the
// check says so, rule by rule, while still passing (warnings only). rules/ itself is not changed.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { root, run } from "./helpers.js";

let dir: string;
beforeAll(() => {
  dir = join(mkdtempSync(join(tmpdir(), "clearance-inputs-")), "rules");
  cpSync(join(root, "rules"), dir, { recursive: true });
  const governance = join(dir, "governance.rules");
  writeFileSync(governance, `inputs canonical, virustotal\n${readFileSync(governance, "utf8")}`);
});

const EXPECTED = [
  ["trusted_publisher", "trustScore", "publishers.rules:4:75"],
  ["self_signed_tool", "trustScore", "publishers.rules:15:81"],
  ["finance_strict", "trustScore", "teams.rules:4:39"],
  ["malware", "verdict", "threats.rules:9:8"],
  ["low_trust", "trustScore", "threats.rules:19:8"],
];

describe("clearance check with declared inputs", () => {
  it("warns about each rule that can never fire on VirusTotal input, and passes", async () => {
    const r = await run("check", dir);
    expect(r.code).toBe(0);
    for (const [rule, field, at] of EXPECTED) {
      const message = `warning[rule_never_fires_on_input]: rule \`${rule}\` can never fire on \`virustotal\` input: it needs \`${field}\`, which that input never carries`;
      // the message, then the location of the field's use (the arrow is indented to the line numbers)
      const where = r.err.indexOf(message);
      expect(where, message).toBeGreaterThanOrEqual(0);
      expect(
        r.err
          .slice(where + message.length)
          .split("\n")[1]!
          .trim(),
      ).toBe(`--> ${join(dir, at!)}`);
    }
    expect(r.err.match(/warning\[rule_never_fires_on_input\]/g)).toHaveLength(5);
    expect(r.err).toContain("= note: `virustotal` declared here");
    expect(r.out).toMatch(
      /✓ .*: 16 rules in 4 files, revision sha256:[0-9a-f]{16}; 0 errors, 5 warnings/,
    );
  });

  it("gives the same warnings as data with --format json", async () => {
    const r = await run("check", dir, "--format", "json");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as {
      ok: boolean;
      ruleset: { inputs: string[] | null };
      diagnostics: { code: string; severity: string; message: string; span: { file: string } }[];
    };
    expect(report.ok).toBe(true);
    expect(report.ruleset.inputs).toEqual(["canonical", "virustotal"]);
    const warnings = report.diagnostics.filter((d) => d.code === "rule_never_fires_on_input");
    expect(
      warnings.map((d) => [
        /rule `(\w+)`/.exec(d.message)![1],
        /needs `(\w+)`/.exec(d.message)![1],
        d.span.file.slice(dir.length + 1),
        d.severity,
      ]),
    ).toEqual(EXPECTED.map(([rule, field, at]) => [rule, field, at!.split(":")[0], "warning"]));
  });

  it("says nothing about inputs on the shipped rules, which declare none", async () => {
    const r = await run("check", join(root, "rules"));
    expect(r.code).toBe(0);
    expect(r.err).not.toContain("rule_never_fires_on_input");
    const json = JSON.parse((await run("check", join(root, "rules"), "--format", "json")).out);
    expect(json.ruleset.inputs).toBeNull();
  });
});
