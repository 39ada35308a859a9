#!/usr/bin/env node
// `pnpm bench`: runs the benchmarks one after the other, each in its own Node process.
//
//   pnpm bench                          all benchmarks
//   pnpm bench --only engine            one (or --only engine,scale)
//   pnpm bench --list                   list the benchmarks
//   pnpm bench --quick                  shorter runs (passed on to each benchmark)
//   pnpm bench --json-dir bench/out     each benchmark writes <dir>/<name>.json
//   pnpm bench --only engine -- --rounds 11   arguments after `--` go to every selected benchmark
//
// To add a benchmark (dry-run, server, client...), add an entry to BENCHMARKS: a script under
// bench/ that prints Markdown to stdout, accepts --quick and --json <file>, and exits non-zero on
// failure.

import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { BENCH_DIR, fmtMs } from "./lib/harness.js";

/** @type {{name: string, script: string, description: string, nodeArgs?: string[]}[]} */
const BENCHMARKS = [
  {
    name: "engine",
    script: "engine/run.js",
    description: "decide() against hand-written JS, cel-js, json-rules-engine and cedar-wasm",
  },
  {
    name: "scale",
    script: "engine/scale.js",
    description: "100,000 hash rules, a 1,000,000-line hash list, 10,000 ordinary rules",
    nodeArgs: ["--max-old-space-size=8192", "--expose-gc"],
  },
  {
    name: "exceptions",
    script: "engine/exceptions.js",
    description:
      "decide over rules/ with 100,000 exceptions (ExceptionSet.find + decide) against deciding with none",
  },
  {
    name: "virustotal",
    script: "engine/virustotal.js",
    description:
      "map a ~40 KB real VirusTotal report to a canonical result (toCanonical) against JSON.parse of its text",
  },
  {
    name: "reload",
    script: "engine/reload.js",
    description:
      "reload of rules/ + a 1,000,000-line hash list: cold, warm (comment-only edit), changed list with the event-loop stall, against read+hash and a blocking reload",
    nodeArgs: ["--expose-gc"],
  },
  {
    name: "dry-run",
    script: "dry-run/run.js",
    description:
      "dryRun against readline + JSON.parse (1 and 2 workers, with a baseline); CLI peak RSS (--full: 1M records)",
  },
  {
    name: "sources",
    script: "dry-run/read.js",
    description: "record sources (NDJSON, gzip, JSON array) against readline + JSON.parse",
  },
  {
    name: "storage",
    script: "server/storage.js",
    description:
      "one audit-log entry stored, no HTTP: SQLite alone and the journal, CPU and wall time per entry; the journal's index rebuilt against reading its segments",
  },
  {
    name: "server",
    script: "server/run.js",
    description:
      "POST /v1/decisions (SQLite, batch, PostgreSQL with CLEARANCE_BENCH_PG) against bare fastify, autocannon in another process",
  },
  {
    name: "hostile",
    script: "server/hostile.js",
    description:
      "a healthy client's decision latency alone and beside one posting 16 MB nested bodies and 1,000-item batches",
  },
  {
    name: "startup",
    script: "cli/startup.js",
    description:
      "clearance --version, --help, check and eval from process start, against node -e 0",
  },
  {
    name: "lsp",
    script: "lsp/latency.js",
    description:
      "clearance lsp on 10,000 rules: keystroke to publishDiagnostics over stdio, against parsing the changed file and checking it alone",
  },
  {
    name: "reads",
    script: "server/reads.js",
    description:
      "POST /v1/decisions alone, during exports and during verifications of a 200,000-entry SQLite log: p50/p99 ratios",
  },
  {
    name: "hits",
    script: "server/hits.js",
    description:
      "GET /v1/ruleset/hits' aggregate read on 1,000,000 decisions over 30 days (SQLite): 24 h, 7 d, 30 d against reading the range",
  },
  {
    name: "reviews",
    script: "server/reviews.js",
    description:
      "POST /v1/decisions deciding review (1 in 10 opening a case, or every request) against allow: req/s ratio, p99",
  },
  {
    name: "siem",
    script: "server/siem.js",
    description:
      "POST /v1/decisions with two SIEM sinks (OCSF to rotating files, ECS to NATS JetStream) against none: req/s ratio, p99, every event delivered",
  },
  {
    name: "santa",
    script: "server/santa.js",
    description:
      "Santa sync: a 100,000-rule clean download (5,000 and 20,000 a page) and 500-event uploads against bare routes serving the same bytes, and against /v1/decisions/batch",
  },
  {
    name: "search",
    script: "server/search.js",
    description:
      "GET /v1/audit searches on a 1,000,000-entry log (SQLite; PostgreSQL with CLEARANCE_BENCH_PG) beside the log without HTTP: p50/p95 against 100 ms",
  },
  {
    name: "console",
    script: "console/budgets.js",
    description:
      "the console's first-page JavaScript gzipped against 150 KB; first row of the Audit page in Chromium (cold and warm) against 1 s",
  },
  {
    name: "client",
    script: "client/run.js",
    description:
      "PlatformClient.upload of 1 GiB to the simulator (own process) against sha256sum + a raw PUT; listFiles over 100,000",
  },
];

// cedar-wasm crashes Node 20 in long runs without this flag; harmless for the others.
const NODE_ARGS = ["--no-turbo-inline-js-wasm-calls"];

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    only: { type: "string", multiple: true },
    list: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    "json-dir": { type: "string" },
  },
});

if (args.list) {
  for (const b of BENCHMARKS) console.log(`${b.name.padEnd(10)} ${b.description}`);
  process.exit(0);
}

const wanted = (args.only ?? []).flatMap((s) => s.split(",")).filter(Boolean);
const unknown = wanted.filter((w) => !BENCHMARKS.some((b) => b.name === w));
if (unknown.length) {
  console.error(
    `unknown benchmark: ${unknown.join(", ")} (known: ${BENCHMARKS.map((b) => b.name).join(", ")})`,
  );
  process.exit(2);
}
const selected = wanted.length ? BENCHMARKS.filter((b) => wanted.includes(b.name)) : BENCHMARKS;

function run(bench) {
  const extra = [...positionals];
  if (args.quick) extra.push("--quick");
  if (args["json-dir"]) extra.push("--json", resolve(args["json-dir"], `${bench.name}.json`));
  const argv = [
    ...NODE_ARGS,
    ...(bench.nodeArgs ?? []),
    resolve(BENCH_DIR, bench.script),
    ...extra,
  ];
  return new Promise((done) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, argv, { stdio: "inherit" });
    child.on("error", (error) => done({ code: 1, signal: null, ms: 0, error }));
    child.on("exit", (code, signal) => done({ code, signal, ms: performance.now() - t0 }));
  });
}

const outcomes = [];
for (const bench of selected) {
  console.log(`\n<!-- bench: ${bench.name} (${bench.script}) -->\n`);
  outcomes.push({ bench, ...(await run(bench)) });
}

console.log("");
let failed = 0;
for (const o of outcomes) {
  const ok = o.code === 0;
  if (!ok) failed++;
  const how = ok ? "ok" : o.signal ? `killed by ${o.signal}` : `exit ${o.code}`;
  console.log(`${o.bench.name}: ${how} (${fmtMs(o.ms)})${o.error ? ` ${o.error.message}` : ""}`);
}
process.exit(failed ? 1 : 0);
