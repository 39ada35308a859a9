// `clearance check` and declared inputs. The shipped rules declare `inputs canonical, virustotal`
// and are written to make sense on both, so the check is clean. Declaring `platform` too names
// the two rules that read only what VirusTotal has; and a rule set written for the platform's
// trust score alone (the shipped rules before they were rewritten) gets one warning per rule that
// can never fire on VirusTotal input. rules/ itself is never changed.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { root, run } from "./helpers.js";

/** A copy of rules/ with `edit` applied to each file's text. */
function copyOfRules(edit: (file: string, text: string) => string): string {
  const dir = join(mkdtempSync(join(tmpdir(), "clearance-inputs-")), "rules");
  cpSync(join(root, "rules"), dir, { recursive: true });
  for (const file of ["governance", "publishers", "teams", "threats", "reviews"]) {
    const path = join(dir, `${file}.rules`);
    writeFileSync(path, edit(file, readFileSync(path, "utf8")));
  }
  return dir;
}

function replaced(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`rules/ no longer holds ${JSON.stringify(from)}`);
  return text.replace(from, to);
}

const warningOf = (rule: string, field: string, input: string) =>
  `warning[rule_never_fires_on_input]: rule \`${rule}\` can never fire on \`${input}\` input: it needs \`${field}\`, which that input never carries`;

/** `file:line:column` of the first use of `field` on the line of `dir`/`file` holding `text`. */
function at(dir: string, file: string, text: string, field: string): string {
  const lines = readFileSync(join(dir, file), "utf8").split("\n");
  const line = lines.findIndex((l) => l.includes(text));
  if (line < 0) throw new Error(`rules/${file} no longer holds ${JSON.stringify(text)}`);
  return `${file}:${line + 1}:${lines[line]!.indexOf(field) + 1}`;
}

/** The location printed under a warning: the arrow line after the message. */
function locationAfter(err: string, message: string): string | undefined {
  const where = err.indexOf(message);
  return where < 0
    ? undefined
    : err
        .slice(where + message.length)
        .split("\n")[1]
        ?.trim();
}

describe("clearance check with declared inputs", () => {
  it("is clean on the shipped rules, which declare canonical and VirusTotal input", async () => {
    const r = await run("check", join(root, "rules"));
    expect(r.code).toBe(0);
    expect(r.err).not.toContain("rule_never_fires_on_input");
    expect(r.out).toMatch(/0 errors, 0 warnings/);
    const json = JSON.parse((await run("check", join(root, "rules"), "--format", "json")).out);
    expect(json.ruleset.inputs).toEqual(["canonical", "virustotal"]);
  });

  it("names the rules that read only what VirusTotal has when platform input is declared too", async () => {
    const dir = copyOfRules((file, text) =>
      file === "governance"
        ? replaced(text, "inputs canonical, virustotal", "inputs canonical, platform, virustotal")
        : text,
    );
    const r = await run("check", dir);
    expect(r.code).toBe(0);
    const expected: [string, string, string][] = [
      [
        "sandbox_malware",
        "virustotal.sandboxVerdicts",
        at(dir, "threats.rules", "when count(s in virustotal.sandboxVerdicts", "virustotal"),
      ],
      // its branches read two lists of the VirusTotal section: both need the section
      [
        "flagged_by_crowdsourced_rules",
        "virustotal",
        at(dir, "threats.rules", "(any m in virustotal.sigmaMatches", "virustotal"),
      ],
    ];
    for (const [rule, field, at] of expected) {
      const message = warningOf(rule, field, "platform");
      expect(r.err, message).toContain(message);
      expect(locationAfter(r.err, message)).toBe(`--> ${join(dir, at)}`);
    }
    // a rule with a branch for each input (trusted_publisher, low_trust, finance_strict) is fine
    expect(r.err.match(/warning\[rule_never_fires_on_input\]/g)).toHaveLength(2);
    expect(r.out).toMatch(/; 0 errors, 2 warnings/);
  });

  it("warns about each rule written for the trust score alone, and passes", async () => {
    const dir = copyOfRules((file, text) => {
      if (file === "publishers")
        return replaced(
          text,
          "(trustScore >= 70 or virustotal.reputation >= 0)",
          "trustScore >= 70",
        );
      if (file === "teams")
        return replaced(text, "(trustScore < 90 or not exists(trustScore))", "trustScore < 90");
      if (file === "threats")
        return replaced(text, "trustScore < 30 or virustotal.reputation < -10", "trustScore < 30");
      return text;
    });
    const trustScoreOnly: [string, string, string][] = [
      [
        "trusted_publisher",
        "trustScore",
        at(dir, "publishers.rules", "trustScore >= 70", "trustScore"),
      ],
      ["finance_strict", "trustScore", at(dir, "teams.rules", "trustScore < 90", "trustScore")],
      ["low_trust", "trustScore", at(dir, "threats.rules", "when trustScore < 30", "trustScore")],
    ];
    const r = await run("check", dir);
    expect(r.code).toBe(0);
    for (const [rule, field, at] of trustScoreOnly) {
      const message = warningOf(rule, field, "virustotal");
      expect(r.err, message).toContain(message);
      expect(locationAfter(r.err, message)).toBe(`--> ${join(dir, at)}`);
    }
    expect(r.err.match(/warning\[rule_never_fires_on_input\]/g)).toHaveLength(3);
    expect(r.err).toContain("= note: `virustotal` declared here");

    const json = JSON.parse((await run("check", dir, "--format", "json")).out) as {
      ok: boolean;
      diagnostics: { code: string; severity: string; message: string; span: { file: string } }[];
    };
    expect(json.ok).toBe(true);
    expect(
      json.diagnostics
        .filter((d) => d.code === "rule_never_fires_on_input")
        .map((d) => [
          /rule `(\w+)`/.exec(d.message)![1],
          d.span.file.slice(dir.length + 1),
          d.severity,
        ]),
    ).toEqual(trustScoreOnly.map(([rule, , at]) => [rule, at.split(":")[0], "warning"]));
  });
});
