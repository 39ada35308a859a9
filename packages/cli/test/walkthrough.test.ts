/**
 * docs/platform.md's "Try it on one machine", run as written: the `sh` block is split into its
 * terminals (`# 1.`, `# 2.`, `# 3.`), each terminal's `export` lines are its environment, the last
 * command of terminals 1 and 2 keeps running (the simulator, the server), and terminal 3's commands
 * must succeed one after the other. `pnpm start` runs beside them, as the page says it may.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { root } from "./helpers.js";

const DOC = join(root, "docs", "platform.md");
const BUILT = existsSync(join(root, "packages", "cli", "dist", "bin.js"));

interface Terminal {
  env: Record<string, string>;
  commands: string[];
}

/** The walkthrough's terminals, from the first `sh` block after its heading. */
function terminals(): Terminal[] {
  const text = readFileSync(DOC, "utf8");
  const section = text.slice(text.indexOf("## Try it on one machine"));
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  const out: Terminal[] = [];
  for (const line of block.split("\n")) {
    if (/^# \d+\./.test(line)) out.push({ env: {}, commands: [] });
    else if (line.startsWith("export ")) {
      for (const pair of line.slice("export ".length).trim().split(/\s+/)) {
        const [name, value] = pair.split("=");
        out.at(-1)!.env[name!] = value!;
      }
    } else if (line.trim() !== "" && !line.startsWith("#")) out.at(-1)!.commands.push(line.trim());
  }
  return out;
}

const running: ChildProcess[] = [];
afterAll(() => {
  for (const child of running) {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      // already gone
    }
  }
});

/** A long-running command in its own process group; resolves once `ready` appears in its output. */
function start(command: string, env: Record<string, string>, ready: RegExp): Promise<string> {
  const child = spawn("bash", ["-c", command], {
    cwd: root,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.push(child);
  let seen = "";
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (ready.test(seen)) resolve(seen);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => reject(new Error(`\`${command}\` exited ${code}:\n${seen}`)));
  });
}

function run(command: string, env: Record<string, string>): Promise<{ code: number; out: string }> {
  const child = spawn("bash", ["-c", command], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    out += d;
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, out })));
}

test.skipIf(!BUILT)(
  "docs/platform.md's walkthrough runs as written beside `pnpm start`",
  async () => {
    const [sim, server, client] = terminals();
    expect(sim?.commands).toHaveLength(1);
    expect(server?.commands).toHaveLength(1);
    expect(client!.commands.length).toBeGreaterThanOrEqual(2);
    rmSync(join(root, "data", "with-sim.db"), { force: true });

    // `pnpm start` on its defaults (8080, data/audit.db); one may already run on this machine
    await start("pnpm start", {}, /Clearance\S* serving|already being written|already in use/);
    await start(sim!.commands[0]!, sim!.env, /Platform simulator on http/);
    await start(server!.commands[0]!, server!.env, /serving .* on http:\/\/127\.0\.0\.1:8081/);

    const [gate, ...rest] = client!.commands;
    const gated = await run(gate!, client!.env);
    // 0 allow, 2 deny, 3 review: decided; 1 would be a failure
    expect([0, 2, 3], gated.out).toContain(gated.code);
    expect(gated.out).toMatch(/README\.md/);
    for (const command of rest) {
      // the simulator's webhook for the same analysis arrives on its own time
      let last = { code: -1, out: "" };
      for (let i = 0; i < 40; i++) {
        last = await run(command, client!.env);
        if (last.code === 0 && /webhook/.test(last.out) && /gate/.test(last.out)) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(last.code, last.out).toBe(0);
      expect(last.out).toMatch(/gate/);
      expect(last.out).toMatch(/webhook/);
    }
  },
  120_000,
);
