// Bad `clearance serve` flags are usage errors in the diagnostics style, through the real binary:
// a message and a hint on standard error, exit 1, never a stack trace.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { root } from "./helpers.js";

const bin = join(root, "packages", "cli", "dist", "bin.js");
let dir: string;
let config: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "clearance-serve-flags-"));
  config = join(dir, "clearance.yaml");
  writeFileSync(
    config,
    `server: { port: 0, logLevel: silent }\nrules: { dir: ${JSON.stringify(join(root, "rules"))}, watch: false }\naudit: { sqlite: { path: audit.db } }\n`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the binary; a server that starts by mistake is stopped after 10 s. */
function cli(...args: string[]): Promise<{ code: number | null; err: string }> {
  const child = spawn(process.execPath, [bin, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, CLEARANCE_PLATFORM_KEY: "" },
  });
  let err = "";
  child.stderr.on("data", (d) => {
    err += d;
  });
  const timer = setTimeout(() => child.kill("SIGTERM"), 10_000);
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, err });
    }),
  );
}

test.each([
  ["--host", "", "error: `--host` must not be empty", "hint: pass a listen address"],
  ["--host", "  ", "error: `--host` must not be empty", "hint: pass a listen address"],
  ["--rules", "", "error: `--rules` must not be empty", "hint: pass a rule directory"],
  ["--platform", "", "error: `--platform` must not be empty", "hint: pass the platform's URL"],
  [
    "--platform",
    "http://127.0.0.1:9090",
    "error: `--platform` needs the platform's API key",
    "hint: set `platform.apiKey` in the configuration, or export CLEARANCE_PLATFORM_KEY",
  ],
])("serve %s %j: exit 1 with the message, no stack trace", async (flag, value, message, hint) => {
  const r = await cli("serve", "--config", config, flag, value);
  expect(r.code).toBe(1);
  expect(r.err.trim().split("\n")).toEqual([message, expect.stringContaining(hint)]);
  expect(r.err).not.toMatch(/ConfigError|\n\s+at /);
});
