/**
 * The CLI as a user outside this repository gets it: `scripts/pack-cli.mjs` makes one tarball,
 * `npm install -g --prefix <empty dir>` installs it with npm alone (third-party dependencies from
 * the registry, better-sqlite3 built for this machine), and the installed `clearance` runs check,
 * eval, dry-run, serve (with its web console), sim and gate from a directory that is not the
 * repository.
 *
 * The install takes a minute or two (better-sqlite3 compiles where no prebuilt binary can be
 * downloaded), so the test runs when CLEARANCE_TEST_PACK=1, as `.ci/run` sets; elsewhere it is
 * skipped and says so.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { root } from "./helpers.js";

const ENABLED = process.env.CLEARANCE_TEST_PACK === "1";
const SKIP_REASON = "set CLEARANCE_TEST_PACK=1 to pack the CLI and install it with npm (1-2 min)";
if (!ENABLED) console.warn(`pack.test.ts skipped: ${SKIP_REASON}`);

describe.skipIf(!ENABLED)(
  `the packed CLI, installed with npm into an empty prefix${ENABLED ? "" : ` (skipped: ${SKIP_REASON})`}`,
  () => {
    let dir = "";
    let bin = "";
    let work = "";
    const children: ChildProcess[] = [];

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "clearance-pack-test-"));
      const tarball = execFileSync("node", [join(root, "scripts/pack-cli.mjs"), "--out", dir], {
        encoding: "utf8",
      })
        .trim()
        .split("\n")
        .pop()!;
      const prefix = join(dir, "prefix");
      execFileSync(
        "npm",
        ["install", "-g", "--prefix", prefix, "--allow-scripts=better-sqlite3", tarball],
        {
          stdio: ["ignore", "ignore", "pipe"],
          env: { ...process.env, npm_config_loglevel: "error", npm_config_fund: "false" },
        },
      );
      bin = join(prefix, "bin", "clearance");
      // A user's directory: their rules and examples, no node_modules, no pnpm.
      work = join(dir, "work");
      cpSync(join(root, "rules"), join(work, "rules"), { recursive: true });
      cpSync(join(root, "examples"), join(work, "examples"), { recursive: true });
    }, 600_000);

    afterAll(() => {
      for (const child of children) child.kill("SIGKILL");
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    function run(...args: string[]): { code: number; out: string; err: string } {
      return runEnv({}, ...args);
    }

    function runEnv(
      env: Record<string, string>,
      ...args: string[]
    ): { code: number; out: string; err: string } {
      try {
        const out = execFileSync(bin, args, {
          cwd: work,
          encoding: "utf8",
          stdio: "pipe",
          env: { ...process.env, ...env },
        });
        return { code: 0, out, err: "" };
      } catch (error) {
        const e = error as { status: number; stdout: string; stderr: string };
        return { code: e.status, out: e.stdout, err: e.stderr };
      }
    }

    /** Starts a long-running command and resolves with the first URL it prints. */
    function start(...args: string[]): Promise<string> {
      const child = spawn(bin, args, { cwd: work, stdio: ["ignore", "pipe", "pipe"] });
      children.push(child);
      return new Promise((resolve, reject) => {
        let seen = "";
        const onData = (chunk: Buffer) => {
          seen += chunk.toString();
          const url = /http:\/\/127\.0\.0\.1:\d+/.exec(seen)?.[0];
          if (url) resolve(url);
        };
        child.stdout!.on("data", onData);
        child.stderr!.on("data", onData);
        child.on("exit", (code) => reject(new Error(`${args[0]} exited ${code}: ${seen}`)));
      });
    }

    it("prints its version and checks, evaluates and dry-runs rules", () => {
      expect(run("--version").out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
      const check = run("check", "rules");
      expect(check.code).toBe(0);
      expect(check.out).toContain("18 rules in 4 files");
      const evaluated = JSON.parse(
        run("eval", "--input", "examples/results/malware.json", "--json").out,
      ) as { decision: string; rule: string };
      expect(evaluated).toMatchObject({ decision: "deny", rule: "malware" });
      const dry = run("dry-run", "--rules", "rules", "--from", "examples/history");
      expect(dry.code).toBe(0);
      expect(dry.out).toContain("decided");
    });

    it("serves decisions with its audit log, and gates a file through the simulator", async () => {
      const server = await start("serve", "--port", "0");
      const body = readFileSync(join(work, "examples/requests/malware.json"));
      const answer = (await (
        await fetch(`${server}/v1/decisions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        })
      ).json()) as { decision: string; decisionId: string };
      expect(answer.decision).toBe("deny");
      expect(answer.decisionId).toMatch(/^[0-9a-f-]{36}$/);

      // the web console ships inside the tarball: its page and the script it names are served
      const page = await fetch(`${server}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
      const html = await page.text();
      const script = /<script type="module" crossorigin src="(\/assets\/[^"]+\.js)"/.exec(
        html,
      )?.[1];
      expect(script).toBeDefined();
      const js = await fetch(`${server}${script}`);
      expect(js.status).toBe(200);
      expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");

      const sim = await start("sim", "--port", "0", "--delay", "50");
      const gate = runEnv(
        { CLEARANCE_PLATFORM_URL: sim, CLEARANCE_PLATFORM_KEY: "sim_key_full" },
        "gate",
        "examples/results/malware.json",
        "--rules",
        "rules",
        "--json",
      );
      const report = JSON.parse(gate.out) as {
        exitCode: number;
        files: { decision: string; error: string | null }[];
      };
      expect(report.files).toHaveLength(1);
      expect(report.files[0]!.error).toBeNull();
      expect(["allow", "deny", "review"]).toContain(report.files[0]!.decision);
      expect(gate.code).toBe(report.exitCode);
    }, 60_000);
  },
);
