// Two `clearance serve` processes pointed at one SQLite log: the second is refused at start with a
// message naming the first (its process id), instead of both starting and then failing a third
// of decisions on duplicate sequence numbers. A killed holder leaves no lock behind.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { root } from "./helpers.js";

const bin = join(root, "packages", "cli", "dist", "bin.js");
let dir: string;
let config: string;
const children: ChildProcess[] = [];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "clearance-two-servers-"));
  config = join(dir, "clearance.yaml");
  writeFileSync(
    config,
    `server: { port: 0, logLevel: silent }\nrules: { dir: ${JSON.stringify(join(root, "rules"))}, watch: false }\naudit: { sqlite: { path: ${JSON.stringify(join(dir, "audit.db"))} } }\n`,
  );
});
afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `clearance serve`; resolves with its URL once it serves, or its exit and stderr. */
function serve(): Promise<
  { child: ChildProcess; url: string } | { code: number | null; err: string }
> {
  const child = spawn(process.execPath, [bin, "serve", "--config", config], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.push(child);
  let err = "";
  return new Promise((resolve) => {
    child.stderr!.on("data", (d) => {
      err += d;
      const url = / on (http:\/\/127\.0\.0\.1:\d+)/.exec(err)?.[1];
      if (url) resolve({ child, url });
    });
    child.on("close", (code) => resolve({ code, err }));
  });
}

test("a second server on the same SQLite log is refused, naming the first", async () => {
  const first = await serve();
  if (!("url" in first)) throw new Error(`the first server did not start: ${first.err}`);
  const second = await serve();
  if ("url" in second) throw new Error("the second server started on the same log");
  expect(second.code).toBe(1);
  expect(second.err).toContain(
    `error: the audit log \`${join(dir, "audit.db")}\` is already being written by process ${first.child.pid} on `,
  );
  expect(second.err).toContain("hint: stop the other server, or give this one a log of its own");
  expect(second.err).not.toMatch(/\n\s+at /);
  // the first is untouched
  const res = await fetch(`${first.url}/v1/decisions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ result: { sha256: "5".repeat(64), trustScore: 50 } }),
  });
  expect(res.status).toBe(200);

  // SIGKILL: the system releases the lock with the process
  first.child.kill("SIGKILL");
  await new Promise((r) => first.child.once("close", r));
  const third = await serve();
  if (!("url" in third))
    throw new Error(`no server could start after the holder died: ${third.err}`);
  (third.child as ChildProcess).kill("SIGTERM");
}, 60_000);
