// What the HTTP benchmarks that put each server and each load run in a process of their own
// (bench/server/run.js, bench/server/reviews.js) share: their common options and the choice of
// scenarios, starting a server (serve.js), running a load (load.js) and reading its figures, the
// CPU time a process has used, the checks every load run must pass, the audit log's group-commit
// counters, stopping the servers, and how a failed or wrong run is told. What each benchmark
// measures, checks beyond these and prints stays in its own file.

import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { BENCH_DIR } from "../lib/harness.js";

const SERVE = resolve(BENCH_DIR, "server/serve.js");
const LOAD = resolve(BENCH_DIR, "server/load.js");
/** The built server that serve.js runs: benchmarks check that it is there before starting. */
export const SERVER_DIST = resolve(BENCH_DIR, "../packages/server/dist/index.js");

// ---------------------------------------------------------------- options
/**
 * The `parseArgs` options of every such benchmark, each adding its own: `--rounds`, `--duration`,
 * `--warmup` (defaults of its own), `--connections` (50), `--scenarios a,b`, `--cpu-prof`,
 * `--keep` (the run's files), `--quick`, `--json <file>`.
 */
export const OPTIONS = {
  rounds: { type: "string" },
  duration: { type: "string" },
  warmup: { type: "string" },
  connections: { type: "string", default: "50" },
  scenarios: { type: "string" },
  "cpu-prof": { type: "boolean", default: false },
  keep: { type: "boolean", default: false },
  quick: { type: "boolean", default: false },
  json: { type: "string" },
};

/**
 * The ids named by `--scenarios a,b` (`list`), or undefined when it is not given; exits 2 naming
 * the known ids when one of `all` has no such id.
 */
export function wantedScenarios(all, list) {
  const wanted = list?.split(",").filter(Boolean);
  const unknown = wanted?.filter((w) => !all.some((s) => s.id === w)) ?? [];
  if (unknown.length) {
    console.error(
      `unknown scenario: ${unknown.join(", ")} (known: ${all.map((s) => s.id).join(", ")})`,
    );
    process.exit(2);
  }
  return wanted;
}

// ---------------------------------------------------------------- CPU time
const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;

/** CPU time (user + system) of process `pid` so far, in ms. */
export function cpuMsOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** CPU time of the whole machine (every core, every process, kernel included), in ms. */
export function machineCpuMs() {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0];
  // cpu user nice system idle iowait irq softirq steal ...: all but idle and iowait
  const t = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = t.reduce((a, b) => a + b, 0) - t[3] - (t[4] ?? 0);
  return (busy * 1000) / CLK_TCK;
}

/** The pid of a running process whose command is `name` (Linux `/proc`), or undefined. */
export function pidOf(name) {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === name) return Number(entry);
    } catch {}
  }
  return undefined;
}

// ---------------------------------------------------------------- children
/** The processes started here and still running: killed when this process exits, however. */
const children = new Set();
let cleanup = false;

/** Keeps `child` in `children` until it exits. */
function track(child) {
  if (!cleanup) {
    cleanup = true;
    process.on("exit", () => {
      for (const c of children) c.kill("SIGKILL");
    });
  }
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

// ---------------------------------------------------------------- servers
/**
 * Starts a server process (serve.js with `spec`) and resolves once it listens, with the child, its
 * `pid`, a promise of its exit (`exited`: `{code, signal}`) and serve.js's line (`url`, `fastify`).
 * `id` names it in errors and in the profile's file name; `profDir`, when given, is where
 * `--cpu-prof` writes.
 */
export function startServer(id, spec, { profDir } = {}) {
  const nodeArgs = profDir
    ? [
        "--cpu-prof",
        "--cpu-prof-dir",
        profDir,
        "--cpu-prof-name",
        `${id}-${process.pid}.cpuprofile`,
      ]
    : [];
  const child = track(
    spawn(process.execPath, [...nodeArgs, SERVE, JSON.stringify(spec)], {
      stdio: ["ignore", "pipe", "inherit"],
    }),
  );
  const exited = new Promise((done) => child.on("exit", (code, signal) => done({ code, signal })));
  return new Promise((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`${id}: the server did not start`)), 30_000);
    createInterface({ input: child.stdout }).once("line", (line) => {
      clearTimeout(timer);
      ready({ child, pid: child.pid, exited, ...JSON.parse(line) });
    });
    exited.then(({ code, signal }) => fail(new Error(`${id}: exited (${code ?? signal})`)));
  });
}

/**
 * Stops the servers of `scenarios` still running (`s.child`, `s.exited`) with SIGTERM, so that
 * they finish their requests and flush their logs; adds to `problems` each that does not exit 0.
 */
export async function stopServers(scenarios, problems) {
  for (const s of scenarios) {
    if (!s.child || s.child.exitCode !== null || s.child.signalCode !== null) continue;
    s.child.kill("SIGTERM");
    const { code, signal } = await s.exited;
    if (code !== 0) problems.push(`${s.id}: the server exited ${code ?? signal} on SIGTERM`);
  }
}

// ---------------------------------------------------------------- load
let loads = 0;
/**
 * One load run (load.js with `spec`, given a `stampBase` of its own and a 30 s timeout) against
 * the server of scenario `s` (`s.id`, `s.pid`): load.js's figures, plus `serverCpuMs` (the
 * server's CPU time during the run), `machineCpuMs` (the whole machine's), `peerCpuMs` (that of
 * `s.peers`, pids of servers it talks to, when given) and `amount` (the requests sent,
 * `spec.amount`).
 */
export async function runLoad(s, spec) {
  const full = { ...spec, stampBase: ++loads * 2 ** 32, timeoutS: 30 };
  const cpu0 = cpuMsOf(s.pid);
  const machine0 = machineCpuMs();
  const peers0 = (s.peers ?? []).map(cpuMsOf);
  return await new Promise((done, fail) => {
    const child = track(
      spawn(process.execPath, [LOAD, JSON.stringify(full)], {
        stdio: ["ignore", "pipe", "inherit"],
      }),
    );
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
    child.on("error", fail);
    child.on("exit", (code) => {
      if (code !== 0) return fail(new Error(`${s.id}: the load process exited ${code}`));
      const r = JSON.parse(out);
      r.serverCpuMs = cpuMsOf(s.pid) - cpu0;
      r.machineCpuMs = machineCpuMs() - machine0;
      r.peerCpuMs = (s.peers ?? []).reduce((sum, pid, i) => sum + cpuMsOf(pid) - peers0[i], 0);
      r.amount = spec.amount;
      done(r);
    });
  });
}

/**
 * What is wrong with load run `r` whatever the benchmark: socket errors, timeouts, answers other
 * than 2xx, fewer or more answers than requests. Each benchmark adds its own checks.
 */
export function loadProblems(r) {
  const wrong = [];
  if (r.errors) wrong.push(`${r.errors} errors`);
  if (r.timeouts) wrong.push(`${r.timeouts} timeouts`);
  if (r.non2xx) wrong.push(`${r.non2xx} non-2xx answers (${JSON.stringify(r.statuses)})`);
  if (r.requests !== r.amount) wrong.push(`${r.requests} answers to ${r.amount} requests`);
  return wrong;
}

// ---------------------------------------------------------------- the server's figures
/** The value of the metric `name` (no labels) in the text of `GET /metrics`, or NaN. */
export function metric(text, name) {
  return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
}

/**
 * The audit log's group commits so far, from the text of a Clearance server's `GET /metrics`:
 * `commits`, the `entries` they wrote and the `seconds` they took.
 */
export function groupCommits(text) {
  return {
    commits: metric(text, "clearance_audit_batch_entries_count"),
    entries: metric(text, "clearance_audit_batch_entries_sum"),
    seconds: metric(text, "clearance_audit_write_duration_seconds_sum"),
  };
}

// ---------------------------------------------------------------- other requests
/** `POST url` with a JSON `body` (or none): the status and the parsed answer. */
export async function post(url, body) {
  const res = await fetch(url, {
    method: "POST",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body,
  });
  return { status: res.status, json: await res.json() };
}

/** The version of autocannon that load.js runs, for the report. */
export function autocannonVersion() {
  return JSON.parse(
    readFileSync(resolve(BENCH_DIR, "node_modules/autocannon/package.json"), "utf8"),
  ).version;
}

// ---------------------------------------------------------------- outcome
/** When the run failed (`fatal`): tells it and the `problems` found so far, and exits 1. */
export function exitIfFailed(fatal, problems) {
  if (!fatal) return;
  console.error(`\nTHE BENCHMARK FAILED: ${fatal.stack ?? fatal}`);
  for (const p of problems) console.error(`  - ${p}`);
  process.exit(1);
}

/** When a run was wrong: tells the `problems` and sets the exit code to 1. */
export function reportProblems(problems) {
  if (!problems.length) return;
  console.error("\nTHE BENCHMARK IS WRONG:");
  for (const p of problems) console.error(`  - ${p}`);
  process.exitCode = 1;
}
