#!/usr/bin/env node
// One client must not stall the others: a healthy client's decision latency alone, and beside a
// hostile client, against one Clearance server.
//
//   node bench/server/hostile.js [--rounds 3] [--duration 10] [--every 20] [--deep-bytes 16000000]
//        [--batch-items 1000] [--quick] [--json out.json]
//
// The server (bench/server/serve.js: `startServer`, SQLite audit log, defaults otherwise) and the
// hostile client (bench/server/hostile-load.js: deeply nested 16 MB bodies and valid 1,000-item
// batches, each loop sending again as soon as it is answered) run in processes of their own; the
// healthy client runs here and posts one decision every `--every` ms on a fixed schedule, its
// latency counted from when the request was due (a stalled server cannot hide the requests it
// delayed). Each round measures the healthy client alone, then beside the hostile one; the table
// gives the medians over rounds and the ratio of beside to alone.
// Exits 1 when a run is wrong: a healthy request not answered 200, a deep body not refused with
// 400, a batch not decided (200), or a network error.

import { spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import {
  BENCH_DIR,
  environment,
  fmtMs,
  fmtRatio,
  median,
  outDir,
  table,
  writeJson,
} from "../lib/harness.js";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string" },
    duration: { type: "string" },
    every: { type: "string", default: "20" },
    "deep-bytes": { type: "string", default: "16000000" },
    "batch-items": { type: "string", default: "1000" },
    quick: { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const ROUNDS = Number(args.rounds ?? (args.quick ? 1 : 3));
const DURATION_S = Number(args.duration ?? (args.quick ? 4 : 10));
const EVERY_MS = Number(args.every);
const DEEP_BYTES = Number(args["deep-bytes"]);
const BATCH_ITEMS = Number(args["batch-items"]);
const REPO = resolve(BENCH_DIR, "..");
const RUN_DIR = outDir("server", `hostile-${process.pid}`);

const body = JSON.stringify({
  result: JSON.parse(readFileSync(resolve(REPO, "examples/results/signed-microsoft.json"), "utf8")),
});

/** Starts a process that prints one JSON line when ready; resolves with it and the child. */
function start(script, spec) {
  const child = spawn(process.execPath, [resolve(BENCH_DIR, script), JSON.stringify(spec)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const first = new Promise((resolveLine, reject) => {
    lines.once("line", (line) => resolveLine(JSON.parse(line)));
    child.once("exit", (code) => reject(new Error(`${script} exited ${code} before answering`)));
  });
  return { child, first };
}

function stop(child) {
  return new Promise((done) => {
    if (child.exitCode !== null) return done();
    child.once("exit", () => done());
    child.kill("SIGTERM");
  });
}

/** Latencies (ms, sorted) of decisions posted every EVERY_MS for DURATION_S; throws on a non-200. */
async function healthy(url, seconds) {
  const latencies = [];
  const sent = [];
  const start = performance.now();
  for (let i = 0; i * EVERY_MS < seconds * 1000; i++) {
    const due = start + i * EVERY_MS;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sent.push(
      fetch(`${url}/v1/decisions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      }).then(async (res) => {
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`a healthy request was answered ${res.status}`);
        latencies.push(performance.now() - due);
      }),
    );
  }
  await Promise.all(sent);
  return latencies.sort((a, b) => a - b);
}

/**
 * The server's own event-loop delay since the last call (prom-client's figures on `/metrics`,
 * reset by each scrape), in ms: how long the server held its loop, whoever was waiting.
 */
async function loopLag(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]) * 1000;
  return {
    p99: read("nodejs_eventloop_lag_p99_seconds"),
    max: read("nodejs_eventloop_lag_max_seconds"),
  };
}

const q = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

const server = start("server/serve.js", {
  kind: "clearance",
  config: {
    server: { host: "127.0.0.1", port: 0, logLevel: "silent" },
    rules: { dir: resolve(REPO, "rules"), watch: false },
    audit: { sqlite: { path: resolve(RUN_DIR, "audit.db") } },
  },
});
const { url } = await server.first;
const rounds = [];
let failure;
try {
  await healthy(url, 1); // warm up
  for (let r = 0; r < ROUNDS; r++) {
    process.stderr.isTTY && process.stderr.write(`round ${r + 1}/${ROUNDS}\x1b[K\r`);
    await loopLag(url);
    const alone = await healthy(url, DURATION_S);
    const aloneLag = await loopLag(url);
    const hostile = start("server/hostile-load.js", {
      url,
      deepBytes: DEEP_BYTES,
      batchItems: BATCH_ITEMS,
      durationS: DURATION_S * 3,
    });
    hostile.child.stdout.setEncoding("utf8");
    let report = "";
    hostile.child.stdout.on("data", (d) => {
      report += d;
    });
    await new Promise((r) => setTimeout(r, 1_000)); // its first requests are under way
    await loopLag(url);
    const beside = await healthy(url, DURATION_S);
    const besideLag = await loopLag(url);
    await stop(hostile.child);
    const counts = JSON.parse(report.trim() || "{}");
    const deepOk = Object.keys(counts.deep ?? {}).every((s) => s === "400");
    const batchOk = Object.keys(counts.batch ?? {}).every((s) => s === "200");
    if (!deepOk || !batchOk || counts.errors > 0 || !counts.batch?.["200"])
      throw new Error(`the hostile client was not answered as expected: ${JSON.stringify(counts)}`);
    rounds.push({
      alone: {
        n: alone.length,
        p50: q(alone, 0.5),
        p99: q(alone, 0.99),
        max: alone.at(-1),
        loopP99: aloneLag.p99,
        loopMax: aloneLag.max,
      },
      beside: {
        n: beside.length,
        p50: q(beside, 0.5),
        p99: q(beside, 0.99),
        max: beside.at(-1),
        loopP99: besideLag.p99,
        loopMax: besideLag.max,
      },
      hostile: { deepRefused: counts.deep["400"] ?? 0, batchesDecided: counts.batch["200"] },
    });
  }
} catch (error) {
  failure = error;
} finally {
  await stop(server.child);
  rmSync(RUN_DIR, { recursive: true, force: true });
}
if (failure) {
  console.error(`hostile: ${failure.message}`);
  process.exit(1);
}

const m = (phase, key) => median(rounds.map((r) => r[phase][key]));
const phase = (name) => ({
  p50: m(name, "p50"),
  p99: m(name, "p99"),
  max: m(name, "max"),
  loopP99: m(name, "loopP99"),
  loopMax: m(name, "loopMax"),
});
const summary = { alone: phase("alone"), beside: phase("beside") };
const perRound = (key) => median(rounds.map((r) => r.hostile[key]));

console.log("## Server: a healthy client beside a hostile one\n");
console.log(
  `One decision every ${EVERY_MS} ms for ${DURATION_S} s (latency from when it was due), alone and while another process posts ${(DEEP_BYTES / 1e6).toFixed(0)} MB bodies nested ${Math.floor((DEEP_BYTES - 12) / 2).toLocaleString("en")} deep and valid ${BATCH_ITEMS.toLocaleString("en")}-item batches to \`POST /v1/decisions/batch\` back to back; medians of ${ROUNDS} round(s). SQLite audit log, default limits.\n`,
);
console.log(
  table(
    ["healthy client", "p50", "p99", "max", "server loop delay p99", "server loop delay max"],
    [
      ["alone", ...["p50", "p99", "max", "loopP99", "loopMax"].map((k) => fmtMs(summary.alone[k]))],
      [
        "beside the hostile client",
        ...["p50", "p99", "max", "loopP99", "loopMax"].map((k) => fmtMs(summary.beside[k])),
      ],
      [
        "beside ÷ alone",
        ...["p50", "p99", "max", "loopP99", "loopMax"].map((k) =>
          fmtRatio(summary.beside[k] / summary.alone[k]),
        ),
      ],
    ],
    "lrrrrr",
  ),
);
console.log(
  `\nMeanwhile, per round, the hostile client had ${perRound("deepRefused")} deep bodies refused (\`400 json_too_deep\`) and ${perRound("batchesDecided")} batches decided (${(perRound("batchesDecided") * BATCH_ITEMS).toLocaleString("en")} decisions).`,
);
if (args.json)
  writeJson(args.json, {
    benchmark: "hostile",
    environment: environment(),
    options: {
      rounds: ROUNDS,
      durationS: DURATION_S,
      everyMs: EVERY_MS,
      deepBytes: DEEP_BYTES,
      batchItems: BATCH_ITEMS,
    },
    summary,
    rounds,
  });
