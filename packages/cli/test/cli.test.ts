import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { NOW, root, run } from "./helpers.js";

let work: string;
beforeAll(() => {
  // A copy of the repository's rules and examples, so tests may break and rewrite them.
  work = mkdtempSync(join(tmpdir(), "clearance-cli-"));
  cpSync(join(root, "rules"), join(work, "rules"), { recursive: true });
  cpSync(join(root, "examples"), join(work, "examples"), { recursive: true });
  // a repository of its own: `clearance test` reads inputs only from the rules' work tree
  execFileSync("git", ["init", "-q", work]);
});

describe("clearance check", () => {
  it("passes on the shipped rules", async () => {
    const r = await run("check", join(root, "rules"));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/✓ .*rules: 18 rules in 4 files, revision sha256:[0-9a-f]{16}/);
  });
  it("prints located diagnostics and exits 1 on errors", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clearance-bad-"));
    writeFileSync(join(dir, "a.rules"), 'rule r {\n  when trustscore >= 70\n  deny "x"\n}\n');
    const r = await run("check", dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain("error[unknown_field]: unknown field `trustscore`");
    expect(r.err).toContain(`--> ${join(dir, "a.rules")}:2:8`);
    expect(r.err).toContain("= help: did you mean `trustScore`?");
    expect(r.err).toContain("1 error, 0 warnings");
  });
  it("--deny-warnings exits 1 on warnings, and only then", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clearance-warn-"));
    writeFileSync(
      join(dir, "a.rules"),
      'default review "none"\nrule r { when trustScore > 50 and trustScore < 10 deny "x" }\n',
    );
    const plain = await run("check", dir);
    expect(plain.code).toBe(0);
    expect(plain.err).toContain("warning[rule_never_matches]");
    const denied = await run("check", dir, "--deny-warnings");
    expect(denied.code).toBe(1);
    expect(denied.err).toContain("0 errors, 1 warning (warnings denied by --deny-warnings)");
    const json = await run("check", dir, "--deny-warnings", "--format", "json");
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out).ok).toBe(false);
    const clean = await run("check", join(root, "rules"), "--deny-warnings");
    expect(clean.code).toBe(0);
  });
  it("--format json gives the diagnostics and the rule set", async () => {
    const r = await run("check", join(root, "rules"), "--format", "json");
    const report = JSON.parse(r.out);
    expect(report.ok).toBe(true);
    expect(report.ruleset.rules.map((x: { name: string }) => x.name)).toContain(
      "trusted_publisher",
    );
  });
  it("--format json places every span and related span by line and column beside its offsets", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clearance-json-"));
    const a = join(dir, "a.rules");
    const b = join(dir, "b.rules");
    // The emoji is two UTF-16 code units: the column after it counts both, as editors do.
    writeFileSync(a, 'rule r {\n  when fileName == "😀" and trustscore >= 70\n  deny "x"\n}\n');
    writeFileSync(b, '\nrule r { when true deny "y" }\n');
    const r = await run("check", dir, "--format", "json");
    expect(r.code).toBe(1);
    const { diagnostics } = JSON.parse(r.out);
    const unknown = diagnostics.find((d: { code: string }) => d.code === "unknown_field");
    const at = 'rule r {\n  when fileName == "😀" and '.length;
    expect(unknown.span).toEqual({
      file: a,
      start: at,
      end: at + "trustscore".length,
      line: 2,
      column: 29,
      endLine: 2,
      endColumn: 39,
    });
    const duplicate = diagnostics.find((d: { code: string }) => d.code === "duplicate_rule");
    expect(duplicate.span).toEqual({
      file: b,
      start: 6,
      end: 7,
      line: 2,
      column: 6,
      endLine: 2,
      endColumn: 7,
    });
    expect(duplicate.related).toEqual([
      {
        message: "first defined here",
        span: { file: a, start: 5, end: 6, line: 1, column: 6, endLine: 1, endColumn: 7 },
      },
    ]);
    // the keys keep the order of the documented shape
    expect(Object.keys(duplicate)).toEqual([
      "code",
      "severity",
      "message",
      "span",
      "help",
      "related",
    ]);
  });
  it("--emit-js prints the generated JavaScript, naming the revision and every rule", async () => {
    const json = JSON.parse((await run("check", join(root, "rules"), "--format", "json")).out);
    const r = await run("check", join(root, "rules"), "--emit-js");
    expect(r.code).toBe(0);
    // standard output holds only the code; the summary goes to standard error
    expect(r.err).toMatch(/✓ .*rules: 18 rules in 4 files/);
    expect(r.out).toMatch(new RegExp(`^// clearance:${json.ruleset.revision}: the rule set`));
    expect(r.out).toContain(`//# sourceURL=clearance:${json.ruleset.revision}/rules.js`);
    for (const { name } of json.ruleset.rules) expect(r.out).toContain(`function rule_${name}(`);
    expect(r.out).toContain("function reason_trusted_publisher(");
    expect(r.out).toMatch(/^\/\/ K\[0\] = Set\(5\) \{"Microsoft Corporation", /m);
    // it is JavaScript: function declarations after comments (parsed here, not run)
    expect(() => new Function(r.out)).not.toThrow();
  });
  it("--emit-js prints no code for rules with errors, and is not JSON", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clearance-bad-"));
    writeFileSync(join(dir, "a.rules"), 'rule r { when trustscore >= 70 deny "x" }\n');
    const bad = await run("check", dir, "--emit-js");
    expect(bad.code).toBe(1);
    expect(bad.out).toBe("");
    const json = await run("check", join(root, "rules"), "--emit-js", "--format", "json");
    expect(json.code).toBe(1);
    expect(json.err).toContain("`--emit-js` prints JavaScript, not JSON");
  });
  it("a missing directory is a clear error", async () => {
    const r = await run("check", join(work, "nope"));
    expect(r.code).toBe(1);
    expect(r.err).toContain("cannot read rule directory");
  });
});

describe("clearance fmt", () => {
  it("the shipped rules are formatted", async () => {
    expect((await run("fmt", "--check", join(root, "rules"))).code).toBe(0);
  });
  it("--check lists a file that would change, fmt rewrites it, keeping comments", async () => {
    const file = join(work, "messy.rules");
    writeFileSync(file, 'rule   messy{when trustScore>=1   # why\ndeny "x"}\n');
    const check = await run("fmt", "--check", file);
    expect(check.code).toBe(1);
    expect(check.out).toContain("would reformat");
    expect((await run("fmt", file)).code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(
      'rule messy {\n  when trustScore >= 1 # why\n  deny "x"\n}\n',
    );
    expect((await run("fmt", "--check", file)).code).toBe(0);
  });
  it("refuses to format a file with syntax errors", async () => {
    const file = join(work, "broken.rules");
    writeFileSync(file, "rule x { when ( }\n");
    const r = await run("fmt", file);
    expect(r.code).toBe(1);
    expect(readFileSync(file, "utf8")).toBe("rule x { when ( }\n");
  });
});

describe("clearance eval", () => {
  it.each([
    [["eval", "--inptu", "x"], "error: unknown option '--inptu'\n(Did you mean --input?)"],
    [
      ["eval", "--explian", "-i", "x.json"],
      "error: unknown option '--explian'\n(Did you mean --explain?)",
    ],
    [["eval"], "error: required option '-i, --input <file>' not specified"],
    [
      ["keys", "create", "--scope", "decide"],
      "error: unknown option '--scope'\n(Did you mean --scopes?)",
    ],
    [["keys", "create"], "error: required option '--id <id>' not specified"],
    [["pull", "--since", "30d"], "error: required option '-o, --out <file>' not specified"],
  ])("%j: a misspelt option is named before a required one is missed", async (args, message) => {
    const r = await run(...args);
    expect(r.code).toBe(1);
    expect(r.err).toContain(message);
  });
  it("prints decision, rule and reason", async () => {
    const r = await run(
      "eval",
      "-r",
      join(root, "rules"),
      "-i",
      join(root, "examples/results/signed-microsoft.json"),
      "--now",
      NOW,
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ALLOW\s+procexp64\.exe/);
    expect(r.out).toContain("rule     trusted_publisher");
    expect(r.out).toContain("reason   signed by Microsoft Corporation");
  });
  it("--show-input prints the canonical record a VirusTotal report became, in text and JSON", async () => {
    const args = [
      "eval",
      "-r",
      join(root, "rules"),
      "-i",
      join(root, "examples/virustotal/malicious-unsigned.json"),
      "--now",
      NOW,
      "--show-input",
    ];
    const text = await run(...args);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/^input \(read as virustotal\):\n\{\n {2}"sha256": "[0-9a-f]{64}"/);
    expect(text.out).toMatch(/\n\n(DENY|REVIEW|ALLOW)\s/);
    const json = JSON.parse((await run(...args, "--json")).out);
    expect(json.input.format).toBe("virustotal");
    expect(json.input.result.sha256).toBe(json.sha256);
    expect(Array.isArray(json.input.warnings)).toBe(true);
    const plain = JSON.parse((await run(...args.slice(0, -1), "--json")).out);
    expect(plain.input).toBeUndefined();
  });
  it("an input over the size limit says so, and --max-input-bytes raises it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clearance-eval-size-"));
    const big = join(dir, "big.json");
    const result = JSON.parse(readFileSync(join(root, "examples/results/minimal.json"), "utf8"));
    // a real report's size: padding in a field the rules never read
    writeFileSync(big, JSON.stringify({ ...result, padding: "x".repeat(1_100_000) }));
    const refused = await run("eval", "-r", join(root, "rules"), "-i", big);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`input \`${big}\` is 1100`);
    expect(refused.err).toContain("bytes, over the limit of 1048576 bytes");
    expect(refused.err).toContain("raise it with --max-input-bytes");
    expect(refused.err).not.toContain("not valid JSON");
    const raised = await run(
      "eval",
      "-r",
      join(root, "rules"),
      "-i",
      big,
      "--max-input-bytes",
      "2000000",
    );
    expect(raised.err).not.toContain("over the limit");
  });
  it("a declared format the input plainly is not is an error, never a decision", async () => {
    const r = await run(
      "eval",
      "-r",
      join(root, "rules"),
      "-i",
      join(root, "examples/results/minimal.json"),
      "--format",
      "virustotal",
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain("the input was declared `virustotal` but reads as a canonical result");
  });
  it("--explain shows every condition and the values seen", async () => {
    const r = await run(
      "eval",
      "-r",
      join(root, "rules"),
      "-i",
      join(root, "examples/results/ransomware.json"),
      "--now",
      NOW,
      "--explain",
    );
    expect(r.out).toContain("✓ ransomware_names");
    expect(r.out).toContain("detections.malicious >= 3 -> true  [detections.malicious = 19]");
    expect(r.out).toContain('context.group == "finance" -> unknown missing: context.group');
  });
  it("--json for machines; VirusTotal detected; context applied", async () => {
    const vt = JSON.parse(
      (
        await run(
          "eval",
          "-r",
          join(root, "rules"),
          "-i",
          join(root, "examples/virustotal/malicious-unsigned.json"),
          "--now",
          NOW,
          "--json",
        )
      ).out,
    );
    expect(vt).toMatchObject({ decision: "deny", rule: "malware" });
    const fin = await run(
      "eval",
      "-r",
      join(work, "rules"),
      "-i",
      join(root, "examples/results/self-signed-tool.json"),
      "-c",
      join(root, "examples/contexts/finance.json"),
      "--now",
      NOW,
      "--json",
    );
    expect(JSON.parse(fin.out).matched).toContain("finance_strict");
  });
  it("an invalid result lists every problem by JSON Pointer and exits 1", async () => {
    const file = join(work, "bad.json");
    writeFileSync(file, JSON.stringify({ sha256: "xyz", trustScore: 300, verdict: "bad" }));
    const r = await run("eval", "-r", join(root, "rules"), "-i", file);
    expect(r.code).toBe(1);
    expect(r.err).toContain("is not a valid analysis result");
    for (const p of ["/sha256", "/trustScore", "/verdict"]) expect(r.err).toContain(`  ${p}: `);
  });
  it("malformed JSON names the file and the place", async () => {
    const file = join(work, "broken.json");
    writeFileSync(file, '{"sha256": ');
    const r = await run("eval", "-r", join(root, "rules"), "-i", file);
    expect(r.code).toBe(1);
    expect(r.err).toContain("is not valid JSON");
  });
});

describe("clearance test", () => {
  it("passes with full coverage on the shipped rules", async () => {
    const r = await run("test", join(root, "rules"), "--min-coverage", "100");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\b\d+ passed, 0 failed/);
    expect(r.out).toContain("coverage: 18/18 rules matched by a test (100%)");
  });
  it("a failing case prints what differs and the explanation", async () => {
    const dir = join(work, "rules");
    writeFileSync(
      join(dir, "tests", "wrong.test.yaml"),
      'cases:\n  - name: wrong on purpose\n    input: { sha256: "4444444444444444444444444444444444444444444444444444444444444444", trustScore: 12 }\n    expect: { decision: allow }\n',
    );
    const r = await run("test", dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain("FAIL");
    expect(r.err).toContain(
      "decision: expected allow, got deny (rule low_trust: too little trust (trust score 12, VirusTotal reputation unknown))",
    );
    expect(r.err).toContain("✓ low_trust");
  });
  it("below --min-coverage fails", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clearance-cov-"));
    writeFileSync(
      join(dir, "a.rules"),
      'rule a { when trustScore > 50 allow "a" }\nrule b { when trustScore < 10 deny "b" }\n',
    );
    writeFileSync(
      join(dir, "a.test.yaml"),
      'cases:\n  - name: a\n    input: { sha256: "4444444444444444444444444444444444444444444444444444444444444444", trustScore: 60 }\n    expect: { decision: allow, rule: a }\n',
    );
    const r = await run("test", dir, "--min-coverage", "100");
    expect(r.code).toBe(1);
    expect(r.out).toContain("never matched: b");
  });
  it("an unknown key in a test file is an error naming it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clearance-key-"));
    writeFileSync(join(dir, "a.rules"), 'rule a { when true allow "a" }\n');
    writeFileSync(
      join(dir, "a.test.yaml"),
      "cases:\n  - name: a\n    input: {}\n    expected: { decision: allow }\n",
    );
    const r = await run("test", dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain("unknown key `expected`");
  });
  it.each([
    [
      "exception: { id: x, status: aproved }",
      "/cases/0/exception/status: exception field `status` should be one of `approved`, `rejected`, got `aproved`",
    ],
    ["exception: { status: approved }", "/cases/0/exception: the exception has no `id`"],
    [
      "exception: { id: x, status: approved, approver: [alice] }",
      "/cases/0/exception/approver: unknown exception field `approver` (did you mean `approvers`?)",
    ],
    [
      "case: { id: c, status: expired, requests: many }",
      "/cases/0/case/requests: case field `requests` should be a number, got `many`",
    ],
    ["exception: approved", "/cases/0/exception: must be object"],
  ])("a malformed %s in a test case is an error naming it", async (yaml, message) => {
    const dir = mkdtempSync(join(tmpdir(), "clearance-exception-"));
    writeFileSync(join(dir, "a.rules"), 'rule a { when true allow "a" }\n');
    writeFileSync(
      join(dir, "a.test.yaml"),
      `cases:\n  - name: a\n    input: {}\n    ${yaml}\n    expect: { decision: allow }\n`,
    );
    const r = await run("test", dir);
    expect(r.code).toBe(1);
    expect(r.err).toContain(message);
  });
});

describe("clearance tour and help", () => {
  it("tour checks, tests and decides every example", async () => {
    const r = await run(
      "tour",
      "-r",
      join(root, "rules"),
      "-e",
      join(root, "examples"),
      "--now",
      NOW,
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /ALLOW\s+procexp64\.exe\s+trusted_publisher\s+signed by Microsoft Corporation/,
    );
    expect(r.out).toContain("14 files: 1 allow, 4 deny, 9 review");
  });
  it.each(["check", "fmt", "eval", "test", "tour"])(
    "%s --help has usage and examples",
    async (cmd) => {
      const r = await run(cmd, "--help");
      expect(r.code).toBe(0);
      expect(r.out).toContain(`Usage: clearance ${cmd}`);
    },
  );
  it("an unknown command exits 1", async () => {
    expect((await run("nope")).code).toBe(1);
  });
});

describe("the clearance binary", () => {
  it("exits quietly when its reader goes away (`| head`)", async () => {
    const { spawn } = await import("node:child_process");
    const bin = join(root, "packages", "cli", "dist", "bin.js");
    // Output far larger than a pipe's buffer, so writes go on after the reader is gone.
    const many = mkdtempSync(join(tmpdir(), "clearance-many-"));
    const rules = Array.from(
      { length: 3000 },
      (_, i) => `rule r${i} { when trustScore > ${i % 100} deny "r${i}" }`,
    );
    writeFileSync(join(many, "a.rules"), rules.join("\n"));
    const child = spawn(process.execPath, [bin, "check", many, "--format", "json"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    // Read one chunk, then close the pipe as `head -1` would.
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).not.toContain("EPIPE");
    expect(code).toBe(0);
  });
});
