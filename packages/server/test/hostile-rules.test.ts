import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { example, makeApp, REPO, RULES, tempDir, waitFor } from "./helpers.js";

/*
 * Hostile rule files against a running server (issue 10, finding 1): a reason with a million holes
 * threw a RangeError while compiling. A reload by file watch or SIGHUP then killed the server, which
 * could not start again while the file was there, and POST /v1/ruleset/reload answered 500. Now each
 * path reports the diagnostic and the server goes on serving the rules it had.
 */

const HOSTILE = `rule hostile { when fileSize > 1 deny "${"{fileSize}".repeat(1_000_000)}" }\n`;
const STACK_FRAME = /\n\s+at /;

function hostileCopy(): { dir: string; remove(): void } {
  const tmp = tempDir();
  cpSync(RULES, join(tmp.dir, "rules"), { recursive: true });
  return { dir: join(tmp.dir, "rules"), remove: tmp.remove };
}

describe("a reload that meets a reason with a million holes", () => {
  test("POST /v1/ruleset/reload answers 422 with the diagnostic; the old rules keep serving", async () => {
    const rules = hostileCopy();
    const t = await makeApp({ rules: { dir: rules.dir } });
    try {
      const before = t.services.rules.ruleset.revision;
      writeFileSync(join(rules.dir, "hostile.rules"), HOSTILE);
      const res = await t.app.inject({ method: "POST", url: "/v1/ruleset/reload" });
      expect(res.statusCode).toBe(422);
      expect(res.json()).toMatchObject({ code: "reload_failed" });
      expect(res.json().detail).toMatch(
        /hostile\.rules:1:1040: error\[too_many_holes\]: a reason has more than 100 `\{\}` holes/,
      );
      const still = await t.app.inject({
        method: "POST",
        url: "/v1/decisions",
        payload: { result: example("malware") },
      });
      expect(still.statusCode).toBe(200);
      expect(still.json().ruleset.revision).toBe(before);
    } finally {
      await t.close();
      rules.remove();
    }
  });

  test("by file watch: the error is recorded, the server keeps deciding with the old rules", async () => {
    const rules = hostileCopy();
    const t = await makeApp({ rules: { dir: rules.dir, watch: true, debounceMs: 20 } });
    try {
      const before = t.services.rules.ruleset.revision;
      writeFileSync(join(rules.dir, "hostile.rules"), HOSTILE);
      await waitFor(() => t.services.rules.status().lastError !== null, 20_000);
      expect(t.services.rules.status().lastError!.messages[0]).toContain("too_many_holes");
      const still = await t.app.inject({
        method: "POST",
        url: "/v1/decisions",
        payload: { result: example("malware") },
      });
      expect(still.json()).toMatchObject({ decision: "deny", ruleset: { revision: before } });
    } finally {
      await t.close();
      rules.remove();
    }
  });
});

describe("a quadratic rule (finding 8)", () => {
  test("over 10,000 engines the decision ends with the budget error, its code in `errors`", async () => {
    const rules = hostileCopy();
    writeFileSync(
      join(rules.dir, "pairs.rules"),
      `rule pairs {
  when any e in engines: any f in engines: e.engine != f.engine and e.result == f.result
  deny "two engines agree"
}\n`,
    );
    const t = await makeApp({ rules: { dir: rules.dir } });
    try {
      const engines = Array.from({ length: 10_000 }, (_, i) => ({
        engine: `e${i}`,
        result: `r${i}`,
      }));
      const res = await t.app.inject({
        method: "POST",
        url: "/v1/decisions",
        payload: { result: { ...example("signed-microsoft"), engines } },
      });
      expect(res.statusCode).toBe(200);
      const d = res.json();
      expect(d).toMatchObject({ decision: "review", rule: "pairs" });
      // the rule that spent the budget, then every later rule with a loop (the shipped ones have some)
      expect(d.errors[0]).toEqual({
        rule: "pairs",
        code: "evaluation_budget_exceeded",
        message:
          "evaluation budget exceeded: more than 1000000 list items gone over by `any`, `all` and `count` in one decision",
        monitor: false,
      });
    } finally {
      await t.close();
      rules.remove();
    }
  });
});

const BIN = join(REPO, "packages/cli/dist/bin.js");

/** `clearance serve` in its own process, on a configuration naming `rules`; its log and messages. */
function serve(rules: string, dir: string): { child: ChildProcess; output: () => string } {
  const config = join(dir, "clearance.yaml");
  writeFileSync(
    config,
    [
      "server: { port: 0, logLevel: info }",
      `rules: { dir: ${JSON.stringify(rules)}, watch: false }`,
      `audit: { sqlite: { path: ${JSON.stringify(join(dir, "audit.db"))} } }`,
      "",
    ].join("\n"),
  );
  const child = spawn(process.execPath, [BIN, "serve", "--config", config], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"],
  });
  // the log goes to standard output, the CLI's own messages to standard error
  let output = "";
  const append = (d: Buffer) => {
    output += d.toString();
  };
  child.stdout!.on("data", append);
  child.stderr!.on("data", append);
  return { child, output: () => output };
}

describe.skipIf(!existsSync(BIN))("the server process (built CLI)", () => {
  if (!existsSync(BIN)) console.warn(`process tests skipped: ${BIN} is missing (run pnpm build)`);

  test("SIGHUP with a hostile file: the server logs the diagnostic and keeps serving", async () => {
    const rules = hostileCopy();
    const s = serve(rules.dir, join(rules.dir, ".."));
    try {
      // the last line printed before the signal handlers are installed, in the same tick
      await waitFor(() => /curl -s \S+\/v1\/audit/.test(s.output()), 20_000).catch((e) => {
        throw new Error(`${e}\n${s.output()}`);
      });
      const url = / on (http:\/\/127\.0\.0\.1:\d+)/.exec(s.output())![1]!;
      writeFileSync(join(rules.dir, "hostile.rules"), HOSTILE);
      s.child.kill("SIGHUP");
      await waitFor(() => s.output().includes("still serving the previous rules"), 20_000).catch(
        (e) => {
          throw new Error(`${e}\n${s.output()}`);
        },
      );
      expect(s.output()).toContain("too_many_holes");
      expect(s.child.exitCode).toBeNull();
      const res = await fetch(`${url}/v1/decisions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ result: example("malware") }),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { decision: string }).decision).toBe("deny");
    } finally {
      s.child.kill("SIGKILL");
      await new Promise((r) => (s.child.exitCode === null ? s.child.once("exit", r) : r(null)));
      rules.remove();
    }
  }, 60_000);

  test("SIGHUP while the server starts is held, then reloads: it never ends the process", async () => {
    const rules = hostileCopy();
    // a hash list big enough that loading the rules takes a while
    const lines: string[] = [];
    for (let i = 0; i < 300_000; i++) lines.push(i.toString(16).padStart(64, "0"));
    writeFileSync(join(rules.dir, "big.sha256"), `${lines.join("\n")}\n`);
    writeFileSync(
      join(rules.dir, "big.rules"),
      'hashlist big from "big.sha256"\nrule big_list { when sha256 in big deny "listed" }\n',
    );
    const s = serve(rules.dir, join(rules.dir, ".."));
    try {
      await waitFor(() => s.output().includes("starting: loading the rules"), 20_000);
      s.child.kill("SIGHUP");
      await waitFor(() => s.output().includes("SIGHUP: reloading rules"), 30_000).catch((e) => {
        throw new Error(`${e}\n${s.output()}`);
      });
      await waitFor(() => s.output().includes('"rules reloaded"'), 30_000);
      expect(s.child.exitCode).toBeNull();
      expect(s.child.signalCode).toBeNull();
    } finally {
      s.child.kill("SIGKILL");
      await new Promise((r) => (s.child.exitCode === null ? s.child.once("exit", r) : r(null)));
      rules.remove();
    }
  }, 60_000);

  test("start-up with a hostile file: a clear message and exit code 1", async () => {
    const rules = hostileCopy();
    writeFileSync(join(rules.dir, "hostile.rules"), HOSTILE);
    const s = serve(rules.dir, join(rules.dir, ".."));
    try {
      const code = await new Promise<number | null>((r) => s.child.once("exit", r));
      expect(code).toBe(1);
      expect(s.output()).toContain(`error: the rules in \`${rules.dir}\` do not compile`);
      expect(s.output()).toContain("error[too_many_holes]");
      expect(s.output()).not.toMatch(STACK_FRAME);
      expect(readFileSync(join(rules.dir, "hostile.rules"), "utf8")).toBe(HOSTILE);
    } finally {
      rules.remove();
    }
  }, 60_000);
});
