import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import {
  environMarker,
  HOSTILE_CASES,
  makeRuleDir,
  OUTSIDE_SECRET,
  passwdLine,
  type RuleDir,
  usesList,
  write,
} from "@clearance/engine/testing";
import { afterAll, describe, expect, it } from "vitest";
import { NOW, root, run } from "./helpers.js";

const made: RuleDir[] = [];
const ruleDir = () => {
  const d = makeRuleDir();
  made.push(d);
  return d;
};
afterAll(() => {
  for (const d of made) d.remove();
});

function expectNoOutsideContent(text: string): void {
  expect(text).not.toContain(OUTSIDE_SECRET);
  expect(text).not.toContain(passwdLine());
  expect(text).not.toContain(environMarker());
}

describe("clearance check refuses rule files that reach outside their directory", () => {
  // `check` runs with the default limits: the cases that lower a limit are the engine's
  const cases = HOSTILE_CASES.filter((c) => c.limits === undefined);

  it.each(cases)("$name", async (c) => {
    const d = ruleDir();
    c.setup(d);
    const r = await run("check", d.root, "--now", NOW);
    expect(r.code).toBe(1);
    for (const want of c.expect) {
      expect(r.err).toContain(`error[${want.code}]`);
      if (want.at) expect(r.err).toContain(want.at);
      if (want.file) expect(r.err).toContain(`--> ${want.file(d)}`);
    }
    expectNoOutsideContent(`${r.out}\n${r.err}`);
    const json = await run("check", d.root, "--now", NOW, "--format", "json");
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out).ok).toBe(false);
    expectNoOutsideContent(json.out);
  });

  it("clearance test does not print the runner's environment through a list", async () => {
    const d = ruleDir();
    write(
      join(d.root, "a.rules"),
      'list env from "/proc/self/environ"\nrule leak { when true deny "{env}" }\n',
    );
    write(
      join(d.root, "a.test.yaml"),
      'cases:\n  - name: leak\n    input: { sha256: "4444444444444444444444444444444444444444444444444444444444444444" }\n    expect: { decision: allow }\n',
    );
    const r = await run("test", d.root);
    expect(r.code).toBe(1);
    expect(r.err).toContain("error[list_path_absolute]");
    expectNoOutsideContent(`${r.out}\n${r.err}`);
  });
});

describe("the revision does not depend on how the rule directory is named", () => {
  const base = mkdtempSync(join(tmpdir(), "clearance-spelling-"));
  const rules = join(base, "rules");
  cpSync(join(root, "rules"), rules, { recursive: true });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  const revisionOf = (out: string) => JSON.parse(out).ruleset.revision as string;

  it("`check rules`, `./rules`, `$PWD/rules`, `cd rules && check .`, a copy, a symlink", async () => {
    const copy = join(base, "elsewhere", "copy");
    cpSync(rules, copy, { recursive: true });
    symlinkSync(rules, join(base, "link"));
    const rel = relative(process.cwd(), rules);
    const revisions = new Set<string>();
    for (const dir of [rules, `${rules}/`, rel, `./${rel}`, copy, join(base, "link")]) {
      const r = await run("check", dir, "--format", "json", "--now", NOW);
      expect(r.code, dir).toBe(0);
      revisions.add(revisionOf(r.out));
    }
    // the shipped binary, run from inside the directory
    const bin = join(root, "packages", "cli", "dist", "bin.js");
    for (const [cwd, dir] of [
      [rules, "."],
      [base, "rules"],
    ] as const) {
      const child = spawnSync(process.execPath, [bin, "check", dir, "--format", "json"], {
        cwd,
        encoding: "utf8",
      });
      expect(child.status, child.stderr).toBe(0);
      revisions.add(revisionOf(child.stdout));
    }
    expect([...revisions]).toHaveLength(1);
    // and the shipped rules in the repository have that revision too
    const shipped = await run("check", join(root, "rules"), "--format", "json", "--now", NOW);
    expect(revisionOf(shipped.out)).toBe([...revisions][0]);
  });

  it("diagnostics keep naming files as the user gave them", async () => {
    const d = ruleDir();
    write(join(d.root, "teams", "a.rules"), usesList("../../outside/secret.txt"));
    const rel = relative(process.cwd(), d.root);
    const r = await run("check", rel, "--now", NOW);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`--> ${join(rel, "teams", "a.rules")}:1:13`);
  });
});

describe("clearance test reads inputs only from the repository that holds the rules", () => {
  // base/secret.json (outside) and base/repo, a git work tree with rules/ and examples/
  const base = mkdtempSync(join(tmpdir(), "clearance-test-inputs-"));
  const repo = join(base, "repo");
  const rules = join(repo, "rules");
  cpSync(join(root, "rules"), rules, { recursive: true });
  rmSync(join(rules, "tests"), { recursive: true, force: true });
  cpSync(join(root, "examples", "results"), join(repo, "examples"), { recursive: true });
  spawnSync("git", ["init", "-q", repo]);
  write(join(base, "secret.json"), `{"sha256": "${OUTSIDE_SECRET}"}\n`);
  symlinkSync(join(base, "secret.json"), join(repo, "examples", "linked.json"));
  spawnSync("mkfifo", [join(repo, "examples", "fifo.json")]);
  write(join(repo, "examples", "huge.json"), `{"pad": "${"x".repeat(1_100_000)}"}`);
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  const testWith = (input: string) =>
    write(
      join(rules, "tests", "inputs.test.yaml"),
      `cases:\n  - name: the input\n    input: ${input}\n    expect: { decision: deny }\n`,
    );

  it.each([
    ["/proc/self/environ", "is outside"],
    ["/etc/passwd", "is outside"],
    ["../../../secret.json", "is outside"],
    ["../../examples/linked.json", "is outside"],
    ["../../examples/fifo.json", "is not a regular file"],
    ["../../examples/huge.json", "is over the limit of 1048576 bytes"],
  ])("%s: %s", async (input, message) => {
    testWith(input);
    const r = await run("test", rules);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`test input \`${resolve(rules, "tests", input)}\``);
    expect(r.err).toContain(message);
    expectNoOutsideContent(`${r.out}\n${r.err}`);
  });

  it("an input inside the repository is read", async () => {
    testWith("../../examples/malware.json");
    const r = await run("test", rules);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("1 passed, 0 failed");
  });
});
