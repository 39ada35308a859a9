#!/usr/bin/env node
// Reads of the audit log beside decisions: the latency of `POST /v1/decisions` alone (the floor),
// then while `GET /v1/audit/export` runs over and over, then while `POST /v1/audit/verify` does,
// against one server (SQLite, the defaults: a writer thread and two reader threads) on a log of
// `--entries` entries. Reports p50, p99 and the slowest decision of each phase, and their ratios
// to the floor: issue 10 found one export blocking decisions for 9.2 s, one verification 3.3 s.
//
//   node bench/server/reads.js [--entries 200000] [--duration 10] [--clients 4] [--quick]
//        [--json out.json]
//
// The server runs in a process of its own (bench/server/serve.js), the export's client in another
// (it reads some 100 MB a pass), the decision clients and the verification requests here.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { AuditLog, newId, SqliteBackend } from "@clearance/server";
import { decisionRecord } from "@clearance/server/testing";
import {
  BENCH_DIR,
  environment,
  fmtMs,
  fmtRate,
  fmtRatio,
  outDir,
  table,
  writeJson,
} from "../lib/harness.js";

const { values: args } = parseArgs({
  options: {
    entries: { type: "string" },
    duration: { type: "string" },
    clients: { type: "string", default: "4" },
    quick: { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const ENTRIES = Number(args.entries ?? (args.quick ? 50_000 : 200_000));
const DURATION_S = Number(args.duration ?? (args.quick ? 3 : 10));
const CLIENTS = Number(args.clients);
const KEY = "bench-reads-hmac-key";
const CHAIN = "bench";
const REPO = resolve(BENCH_DIR, "..");
const SERVE = resolve(BENCH_DIR, "server/serve.js");
const progress = (s) => process.stderr.isTTY && process.stderr.write(`${s}\x1b[K\r`);

// ---------------------------------------------------------------- the log
/** A log of `count` entries, made once through the public API and kept in bench/out/server/. */
async function logOf(count) {
  const file = resolve(outDir("server"), `reads-${count}.db`);
  if (existsSync(file)) return file;
  const part = `${file}.part`;
  rmSync(part, { force: true });
  const log = new AuditLog(new SqliteBackend({ path: part, synchronous: "normal" }), {
    chain: CHAIN,
    hmacSecret: KEY,
    maxBatch: 10_000,
  });
  await log.open();
  const inputs = Array.from({ length: 256 }, (_, i) =>
    JSON.stringify({ result: { sha256: i.toString(16).padStart(64, "0"), pad: "x".repeat(800) } }),
  );
  const start = Date.now() - count;
  for (let i = 0; i < count; i += 5_000) {
    progress(`writing the log: ${i.toLocaleString("en")} of ${count.toLocaleString("en")}`);
    const wave = [];
    for (let j = i; j < Math.min(count, i + 5_000); j++) {
      const ms = start + j;
      wave.push(
        log.append(
          decisionRecord({
            id: newId(ms),
            time: new Date(ms).toISOString(),
            sha256: j.toString(16).padStart(64, "0"),
            fileName: `file-${j}.exe`,
            decision: ["allow", "deny", "review"][j % 3],
            rule: j % 2 ? "malware" : null,
            reason: "generated for bench/server/reads.js",
            ruleset: { revision: "bench", commit: null, dirty: false },
            latencyUs: 3,
          }),
          inputs[j % inputs.length],
        ),
      );
    }
    await Promise.all(wave);
  }
  await log.close();
  for (const suffix of ["-wal", "-shm"]) rmSync(`${part}${suffix}`, { force: true });
  renameSync(part, file);
  return file;
}

// ---------------------------------------------------------------- the server
function startServerProcess(path) {
  const config = {
    server: { port: 0, logLevel: "error" },
    rules: { dir: resolve(REPO, "rules"), watch: false },
    audit: { chain: CHAIN, hmacSecret: KEY, sqlite: { path } },
  };
  const child = spawn(process.execPath, [SERVE, JSON.stringify({ kind: "clearance", config })], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolveUrl, reject) => {
    child.once("exit", (code) => reject(new Error(`the server exited (${code})`)));
    // the server's log is on stdout too: the line with `url` is serve.js's
    createInterface({ input: child.stdout }).on("line", (line) => {
      const { url } = JSON.parse(line);
      if (url) resolveUrl({ child, url });
    });
  });
}

// ---------------------------------------------------------------- load
const RESULT = JSON.parse(readFileSync(resolve(REPO, "examples/results/malware.json"), "utf8"));

/** `CLIENTS` clients asking for decisions back to back for `seconds`: every latency, in ms. */
async function decisions(url, seconds) {
  const latencies = [];
  let failures = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < end) {
        const body = JSON.stringify({
          result: { ...RESULT, sha256: randomBytes(32).toString("hex") },
        });
        const t0 = performance.now();
        const res = await fetch(`${url}/v1/decisions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
        await res.arrayBuffer();
        if (res.status === 200) latencies.push(performance.now() - t0);
        else failures++;
      }
    }),
  );
  return { latencies, failures };
}

/** Exports in a loop, in a process of its own, until stopped; reports lines read. */
function exportLoop(url) {
  const script = `
    let lines = 0;
    process.on("SIGTERM", () => { console.log(lines); process.exit(0); });
    for (;;) {
      const res = await fetch(process.argv[1]);
      for await (const chunk of res.body)
        for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
    }`;
  const child = spawn(
    process.execPath,
    ["--input-type=module", "-e", script, `${url}/v1/audit/export`],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  return {
    async stop() {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      return Number(out.trim());
    },
  };
}

/** Verifies in a loop until stopped; reports entries checked. */
function verifyLoop(url) {
  let stopped = false;
  let entries = 0;
  let broken = 0;
  const running = (async () => {
    while (!stopped) {
      const report = await (await fetch(`${url}/v1/audit/verify`, { method: "POST" })).json();
      entries += report.entries;
      if (!report.ok) broken++;
    }
  })();
  return {
    async stop() {
      stopped = true;
      await running;
      return { entries, broken };
    },
  };
}

function quantile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] : NaN;
}

function summary(name, { latencies, failures }, seconds) {
  const s = [...latencies].sort((a, b) => a - b);
  return {
    phase: name,
    decisions: s.length,
    failures,
    rate: s.length / seconds,
    p50: quantile(s, 0.5),
    p99: quantile(s, 0.99),
    max: s.at(-1) ?? NaN,
  };
}

// ---------------------------------------------------------------- run
const source = await logOf(ENTRIES);
const runDir = outDir("server", `reads-run-${process.pid}`);
const path = resolve(runDir, "audit.db");
copyFileSync(source, path);
const { child, url } = await startServerProcess(path);
const phases = [];
let exportRate = NaN;
let verifyRate = NaN;
try {
  progress("warming up");
  await decisions(url, 1);
  progress("decisions alone");
  phases.push(summary("alone", await decisions(url, DURATION_S), DURATION_S));

  progress("decisions during exports");
  const exporting = exportLoop(url);
  const t0 = performance.now();
  const duringExport = await decisions(url, DURATION_S);
  const lines = await exporting.stop();
  exportRate = lines / ((performance.now() - t0) / 1000);
  phases.push(summary("during exports", duringExport, DURATION_S));

  progress("decisions during verifications");
  const verifying = verifyLoop(url);
  const t1 = performance.now();
  const duringVerify = await decisions(url, DURATION_S);
  const checked = await verifying.stop();
  verifyRate = checked.entries / ((performance.now() - t1) / 1000);
  if (checked.broken > 0)
    throw new Error(`verification found the log broken ${checked.broken} times`);
  phases.push(summary("during verifications", duringVerify, DURATION_S));

  progress("decisions alone again");
  phases.push(summary("alone, after", await decisions(url, DURATION_S), DURATION_S));
} finally {
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
  rmSync(runDir, { recursive: true, force: true });
}
progress("");

const floor = phases[0];
const failed = phases.reduce((n, p) => n + p.failures, 0);
console.log(`## Reads beside decisions (SQLite, ${ENTRIES.toLocaleString("en")} entries)\n`);
console.log(
  `${CLIENTS} clients asking for decisions back to back for ${DURATION_S} s per phase; exports and verifications of the whole log in a loop beside them. Ratios are to the decisions alone.\n`,
);
console.log(
  table(
    ["phase", "decisions/s", "p50", "p99", "slowest", "p50 ratio", "p99 ratio"],
    phases.map((p) => [
      p.phase,
      fmtRate(p.rate),
      fmtMs(p.p50),
      fmtMs(p.p99),
      fmtMs(p.max),
      fmtRatio(p.p50 / floor.p50),
      fmtRatio(p.p99 / floor.p99),
    ]),
    "lrrrrrr",
  ),
);
console.log(
  `\nexport: ${fmtRate(exportRate)} entries/s; verification: ${fmtRate(verifyRate)} entries/s; decisions refused: ${failed}`,
);
if (args.json)
  writeJson(args.json, {
    benchmark: "reads",
    environment: environment(),
    entries: ENTRIES,
    clients: CLIENTS,
    durationSeconds: DURATION_S,
    phases,
    exportEntriesPerSecond: exportRate,
    verifyEntriesPerSecond: verifyRate,
  });
if (failed > 0) {
  console.error(`${failed} decisions were refused`);
  process.exit(1);
}
