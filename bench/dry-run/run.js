#!/usr/bin/env node
// The dry-run benchmark: `dryRun` against the floor (reading and parsing the same NDJSON file with
// nothing else), in one process, then the CLI's peak memory on a stream of records.
//
//   node bench/dry-run/run.js [--count 200000] [--seed 7] [--rounds 5] [--quick] [--full]
//        [--mem-count 200000] [--mem-workers 1,2] [--no-memory] [--json out.json]
//
// 1. generates bench/out/dry-run/history-<count>-s<seed>.ndjson once (reused when present):
//    200,000 records, about 1 GB, so that a run lasts several seconds and the start-up of two
//    workers (about 1 s on 2 cores) weighs little; --quick: 50,000 records and 3 rounds;
// 2. runs, in interleaved rounds (the order rotates every round; a warm-up on 5,000 records first):
//    - floor: readline over a file stream + JSON.parse per line;
//    - candidate: dryRun({rules: "rules"}), 1 worker (in this thread);
//    - baseline: dryRun({rules: "examples/rules-tightened", baseline: "rules"}), 1 worker;
//    - baseline, 2 workers: the same with `workers: 2` (worker start-up included: each worker
//      loads the engine and compiles both rule sets);
//    - pair (the control): two 1-worker runs with the baseline, in two processes at once
//      (bench/dry-run/solo.js), counting the records of both: what the machine gives two threads
//      that share nothing;
//    and checks that every run read and decided every record and that the runs agree;
// 3. pipes `gen-history --out -` into `clearance dry-run --from -` (200,000 records; 1,000,000 with
//    --full), never writing the records to disk, with 1 then 2 workers, and reads the dry-run's
//    peak RSS;
// 4. prints the medians, the ratios the dry-run issue sets as targets, and PASS/FAIL.
// Exits 1 when a run is wrong (records lost, runs disagreeing, the CLI failing), not for a FAIL.

import { spawn } from "node:child_process";
import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { cpus } from "node:os";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { dryRun } from "@clearance/dryrun";
import { loadRuleset } from "@clearance/engine";
import { HISTORY_NOW, NOW } from "@clearance/testdata";
import {
  BENCH_DIR,
  environment,
  fmtMs,
  fmtRate,
  fmtRatio,
  GEN_HISTORY,
  generateHistory,
  median,
  outDir,
  table,
  verdict,
  writeJson,
} from "../lib/harness.js";
import { measurePipeMemory } from "./memory.js";

const { values: args } = parseArgs({
  options: {
    count: { type: "string" },
    seed: { type: "string", default: "7" },
    rounds: { type: "string" },
    quick: { type: "boolean", default: false },
    full: { type: "boolean", default: false },
    "mem-count": { type: "string" },
    "mem-workers": { type: "string", default: "1,2" },
    "no-memory": { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const COUNT = Number(args.count ?? (args.quick ? 50_000 : 200_000));
const SEED = Number(args.seed);
const ROUNDS = Number(args.rounds ?? (args.quick ? 3 : 5));
const MEM_COUNT = Number(
  args["mem-count"] ?? (args.full ? 1_000_000 : args.quick ? 100_000 : 200_000),
);
const MEM_WORKERS = args["mem-workers"].split(",").map(Number);
const WARMUP_COUNT = 5000;

const log = (...xs) => console.log(...xs);
const progress = (s) => process.stderr.isTTY && process.stderr.write(`${s}\x1b[K\r`);
const int = (n) => n.toLocaleString("en");

const REPO = resolve(BENCH_DIR, "..");
const CLI = resolve(REPO, "packages/cli/dist/bin.js");
const GEN = GEN_HISTORY;
const SOLO = resolve(BENCH_DIR, "dry-run/solo.js");
const RULES = resolve(REPO, "rules");
const TIGHTENED = resolve(REPO, "examples/rules-tightened");
for (const f of [CLI, GEN]) {
  if (!existsSync(f)) {
    console.error(`${f} is missing: run \`pnpm build\``);
    process.exit(1);
  }
}

// ---------------------------------------------------------------- data
/** Generates `count` records (seed) into bench/out/dry-run/ unless the file is there already. */
function historyFile(count, seed) {
  const file = resolve(outDir("dry-run"), `history-${count}-s${seed}.ndjson`);
  if (existsSync(file)) return { file, generated: false, ms: 0 };
  progress(`generating ${int(count)} records...`);
  return { file, generated: true, ms: generateHistory(count, seed, file) };
}

const data = historyFile(COUNT, SEED);
const tiny = historyFile(100, SEED);
const warmup = historyFile(WARMUP_COUNT, SEED);
const FILE = data.file;
const BYTES = statSync(FILE).size;

log("# Dry-run benchmark");
log("");
log(
  `${int(COUNT)} generated records (seed ${SEED}, ${(BYTES / 1e6).toFixed(0)} MB of NDJSON, ` +
    `${(BYTES / COUNT / 1000).toFixed(1)} kB a line) in \`bench/out/dry-run/\`` +
    `${data.generated ? ` (generated in ${fmtMs(data.ms)})` : " (reused)"}; ` +
    `${environment().cpu}, ${cpus().length} cores, Node ${process.version}.`,
);
log("");

// ---------------------------------------------------------------- variants
async function floor(file) {
  const lines = createInterface({
    input: createReadStream(file),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let n = 0;
  let sink = 0;
  for await (const line of lines) {
    if (line === "") continue;
    const v = JSON.parse(line);
    sink += v.sha256.length;
    n++;
  }
  if (sink === 0) throw new Error("nothing parsed");
  return { read: n, decided: n, totals: { read: n } };
}

/** A dryRun; `firstAt`: when its first decisions were counted (after compiling and start-up). */
function dry(options) {
  return async (file) => {
    let firstAt;
    let firstDecided = 0;
    const onProgress = (p) => {
      if (firstAt === undefined && p.decided > 0) {
        firstAt = performance.now();
        firstDecided = p.decided;
      }
    };
    const report = await dryRun({ ...options, from: [file], now: NOW, onProgress });
    const t = report.totals;
    return {
      read: t.read,
      decided: t.decided,
      totals: t,
      outcomes: report.outcomes,
      changed: report.changed,
      firstAt,
      firstDecided,
    };
  };
}

const variants = [
  {
    id: "floor",
    label: "floor: readline + JSON.parse per line",
    run: floor,
  },
  {
    id: "candidate",
    label: "`dryRun`, candidate `rules/`, 1 worker",
    run: dry({ rules: RULES }),
  },
  {
    id: "baseline",
    label: "`dryRun`, `examples/rules-tightened` against baseline `rules/`, 1 worker",
    run: dry({ rules: TIGHTENED, baseline: RULES }),
  },
  {
    id: "baseline-2w",
    label: "the same, `workers: 2`",
    run: dry({ rules: TIGHTENED, baseline: RULES, workers: 2 }),
  },
  {
    id: "pair",
    label:
      "control: two independent 1-worker runs with a baseline, one process each, at once (records of both)",
    run: pair,
    records: 2,
  },
];

/**
 * What the machine gives two threads that share nothing: two processes each running the 1-worker
 * dry-run over the file at once. No code of ours can make two workers beat this; "2 workers ÷
 * pair" is the share of it the dry-run's own parallelism keeps.
 */
async function pair(file) {
  const one = () =>
    new Promise((resolvePromise, reject) => {
      const child = spawn(process.execPath, [SOLO, file], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
      });
      child.on("error", reject);
      child.on("exit", (code) =>
        code === 0 ? resolvePromise(JSON.parse(out)) : reject(new Error(`solo run exit ${code}`)),
      );
    });
  const [a, b] = await Promise.all([one(), one()]);
  return {
    read: a.read + b.read,
    decided: a.decided + b.decided,
    totals: { read: a.read + b.read },
  };
}

/** One timed run: wall time, CPU time of the whole process (every thread) and the totals. */
async function measure(v, file) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const { firstAt, firstDecided, ...out } = await v.run(file);
  const end = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const ms = end - t0;
  // From the first decisions on: the rate without the fixed costs (compiling, start-up).
  const steadyRate =
    firstAt === undefined || firstAt >= end || out.decided <= firstDecided
      ? out.decided / (ms / 1000)
      : (out.decided - firstDecided) / ((end - firstAt) / 1000);
  return {
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    firstMs: firstAt === undefined ? 0 : firstAt - t0,
    steadyRate,
    ...out,
  };
}

// Fixed costs: compiling the rule sets, and a whole run over 100 records (what a run costs
// besides the records: compiling in this thread and, with workers, starting them).
function timed(fn) {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}
const compileMs = {
  rules: median([0, 1, 2].map(() => timed(() => loadRuleset(RULES, { now: NOW })))),
  tightened: median([0, 1, 2].map(() => timed(() => loadRuleset(TIGHTENED, { now: NOW })))),
};
const fixedMs = {};
for (const v of variants.slice(1).filter((x) => x.id !== "pair")) {
  progress(`fixed costs: ${v.id}`);
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push((await measure(v, tiny.file)).ms);
  fixedMs[v.id] = median(runs);
}

// ---------------------------------------------------------------- interleaved rounds
const results = new Map(variants.map((v) => [v.id, []]));
const problems = [];
for (const v of variants) {
  progress(`warm-up: ${v.id}`);
  await measure(v, warmup.file);
}
for (let round = 0; round < ROUNDS; round++) {
  for (let k = 0; k < variants.length; k++) {
    const v = variants[(k + round) % variants.length];
    progress(`round ${round + 1}/${ROUNDS}: ${v.id}`);
    const r = await measure(v, FILE);
    const expected = COUNT * (v.records ?? 1);
    if (r.read !== expected || r.decided !== expected) {
      problems.push(`${v.id}: read ${r.read}, decided ${r.decided} of ${expected} records`);
    }
    results.get(v.id).push(r);
  }
}
progress("");

// The runs must agree: 1 and 2 workers on everything they count, and `rules/` alone with
// `rules/` as the baseline.
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const last = (id) => results.get(id).at(-1);
if (!same(last("baseline").outcomes, last("baseline-2w").outcomes)) {
  problems.push("1 and 2 workers give different outcomes");
}
if (last("baseline").changed !== last("baseline-2w").changed) {
  problems.push("1 and 2 workers count different changes");
}
if (!same(last("candidate").outcomes.candidate, last("baseline").outcomes.baseline)) {
  problems.push("`rules/` decides differently as the candidate and as the baseline");
}

// ---------------------------------------------------------------- report
const rows = variants.map((v) => {
  const rs = results.get(v.id);
  const rates = rs.map((r) => (COUNT * (v.records ?? 1)) / (r.ms / 1000));
  const m = median(rates);
  return {
    id: v.id,
    label: v.label,
    median: m,
    min: Math.min(...rates),
    max: Math.max(...rates),
    mbPerS: (m * BYTES) / COUNT / 1e6,
    medianMs: median(rs.map((r) => r.ms)),
    cpuPerWall: median(rs.map((r) => r.cpuMs / r.ms)),
    fixedMs: fixedMs[v.id] ?? 0,
    firstMs: median(rs.map((r) => r.firstMs)),
    steady: median(rs.map((r) => r.steadyRate)),
    rates,
    // Ratios within each round, then their median: less sensitive to one slow round.
    roundRatioToFloor: rs.map((r, i) => results.get("floor")[i].ms / r.ms),
  };
});
const row = (id) => rows.find((r) => r.id === id);
const floorRate = row("floor").median;
const dash = (r, text) => (r.id === "floor" || r.id === "pair" ? "" : text);
log(
  table(
    [
      "run",
      "median records/s",
      "MB/s",
      "÷ floor",
      "min – max records/s",
      "CPU ÷ wall",
      "run on 100 records",
      "first decisions at",
      "records/s from then",
    ],
    rows.map((r) => [
      r.label,
      fmtRate(r.median),
      r.mbPerS.toFixed(0),
      `${((r.median / floorRate) * 100).toFixed(0)}%`,
      `${fmtRate(r.min)} – ${fmtRate(r.max)}`,
      // the control's CPU is its children's, not this process's
      r.id === "pair" ? "" : r.cpuPerWall.toFixed(2),
      dash(r, fmtMs(r.fixedMs)),
      dash(r, fmtMs(r.firstMs)),
      dash(r, fmtRate(r.steady)),
    ]),
    "lrrrrrrrr",
  ),
);
log("");
const w2 = row("baseline-2w");
log(
  `Medians of ${ROUNDS} interleaved rounds (order rotating, after a warm-up on ${int(WARMUP_COUNT)} ` +
    `records), each run over the whole file (${fmtMs(row("floor").medianMs)} for the floor, ` +
    `${fmtMs(w2.medianMs)} with 2 workers). "CPU ÷ wall": the process's CPU time (all threads) ` +
    "over the run's wall time. Every run includes its fixed costs: compiling the rules in this " +
    `thread (\`rules/\` ${fmtMs(compileMs.rules)}, \`examples/rules-tightened\` ` +
    `${fmtMs(compileMs.tightened)}) and, with workers, starting them (each loads the engine and ` +
    `compiles both rule sets): "run on 100 records" is that cost, ` +
    `${((w2.fixedMs / w2.medianMs) * 100).toFixed(0)}% of a 2-worker run on this file. ` +
    '"First decisions at": when the first decisions were counted (in this thread after 4,096 ' +
    'records, with workers when the first batch comes back); "records/s from then": the rate ' +
    "after that point, without the fixed costs (2 workers ÷ 1 worker there: " +
    `${fmtRatio(w2.steady / row("baseline").steady)}).`,
);
log("");

const roundMedian = (id) => median(row(id).roundRatioToFloor);
const targets = [
  {
    name: "1 worker >= 85% of the floor",
    value: row("candidate").median / floorRate,
    min: 0.85,
    show: (v) =>
      `${(v * 100).toFixed(0)}% (median of per-round ratios ${(roundMedian("candidate") * 100).toFixed(0)}%)`,
  },
  {
    name: "with a baseline, 1 worker >= 75% of the floor",
    value: row("baseline").median / floorRate,
    min: 0.75,
    show: (v) =>
      `${(v * 100).toFixed(0)}% (median of per-round ratios ${(roundMedian("baseline") * 100).toFixed(0)}%)`,
  },
  {
    name: "with a baseline, 2 workers >= 1.6x 1 worker",
    value: w2.median / row("baseline").median,
    min: 1.6,
    show: (v) =>
      `${fmtRatio(v)} (start-up included; ${fmtRatio(w2.steady / row("baseline").steady)} after the first decisions)`,
  },
];
const pairRow = row("pair");
log(
  `The control: two 1-worker runs in two processes at once reach ${fmtRatio(pairRow.median / row("baseline").median)} ` +
    `one run's rate (median of per-round ratios ${fmtRatio(median(pairRow.rates.map((p, i) => p / row("baseline").rates[i])))}); ` +
    `\`workers: 2\` reaches ${((w2.median / pairRow.median) * 100).toFixed(0)}% of the control ` +
    `(median of per-round ratios ${(median(w2.rates.map((p, i) => p / pairRow.rates[i])) * 100).toFixed(0)}%).`,
);
log("");

const memory = [];
if (!args["no-memory"]) {
  const mb = (kb) => (kb / 1024).toFixed(0);
  for (const workers of MEM_WORKERS) {
    progress(`memory: ${int(MEM_COUNT)} records through a pipe, ${workers} worker(s)...`);
    const m = await measurePipeMemory({
      gen: GEN,
      cli: CLI,
      cwd: REPO,
      count: MEM_COUNT,
      seed: SEED,
      args: [
        "--rules",
        "examples/rules-tightened",
        "--baseline",
        "rules",
        "--now",
        HISTORY_NOW,
        "--no-progress",
        ...(workers > 1 ? ["--workers", String(workers)] : []),
      ],
    });
    progress("");
    m.workers = workers;
    if (m.code !== 0 || m.genCode !== 0) {
      problems.push(
        `memory run (${workers} workers): dry-run exit ${m.code ?? m.signal}, gen-history exit ${m.genCode}` +
          (m.stderr ? `: ${m.stderr.split("\n")[0]}` : ""),
      );
    } else if (m.read !== MEM_COUNT || m.decided !== MEM_COUNT) {
      problems.push(
        `memory run (${workers} workers): read ${m.read}, decided ${m.decided} of ${MEM_COUNT}`,
      );
    }
    const rss = m.samples.map((x) => x.rssKb);
    const at = (q) => rss[Math.min(rss.length - 1, Math.floor((rss.length * q) / 4))];
    m.summary =
      rss.length > 0
        ? `${[1, 2, 3, 4].map((q) => mb(at(q))).join(", ")} MB at 1/4, 1/2, 3/4 and the end`
        : "no RSS samples";
    memory.push(m);
  }
  log(
    table(
      ["memory run", "records", "wall time", "records/s", "peak RSS", "RSS during the run"],
      memory.map((m) => [
        "`gen-history --out -` piped into `clearance dry-run --from -` with a baseline, " +
          `${m.workers} worker${m.workers > 1 ? "s" : ""}`,
        int(MEM_COUNT),
        fmtMs(m.ms),
        fmtRate(MEM_COUNT / (m.ms / 1000)),
        `${mb(m.peakKb)} MB`,
        m.summary,
      ]),
      "lrrrrl",
    ),
  );
  log("");
  log(
    `Peak RSS of the dry-run process alone (all its threads), from ${memory[0]?.peakSource}. The ` +
      "generator runs in its own process and the records pass through this one, so the records/s " +
      `here are not the dry-run's.${args.full ? "" : " 1,000,000 records with `--full`."}`,
  );
  log("");
  for (const m of memory) {
    targets.push({
      name: `peak RSS < 300 MB, ${m.workers} worker${m.workers > 1 ? "s" : ""} (${int(MEM_COUNT)} records${MEM_COUNT < 1_000_000 ? "; 1,000,000 with --full" : ""})`,
      value: m.peakKb / 1024,
      max: 300,
      show: (v) => `${v.toFixed(0)} MB`,
    });
  }
}

for (const t of targets) {
  if (!Number.isFinite(t.value)) t.pass = undefined;
  else t.pass = t.min !== undefined ? t.value >= t.min : t.value < t.max;
}
log(
  table(
    ["target", "measured", "result"],
    targets.map((t) => [
      t.name,
      Number.isFinite(t.value) ? t.show(t.value) : "n/a",
      verdict(t.pass),
    ]),
    "lrl",
  ),
);
log("");

function loadAverage() {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ")[0];
  } catch {
    return "?";
  }
}
log(
  `The machine is shared and noisy (±10-20% between runs; load average ${loadAverage()} at the ` +
    "end): compare the ratios within this run, not absolute figures across runs.",
);
for (const p of problems) log(`\n**problem**: ${p}`);

if (args.json) {
  const file = writeJson(args.json, {
    benchmark: "dry-run",
    environment: environment(),
    config: {
      count: COUNT,
      seed: SEED,
      rounds: ROUNDS,
      file: FILE,
      bytes: BYTES,
      warmupCount: WARMUP_COUNT,
      memCount: MEM_COUNT,
      memWorkers: MEM_WORKERS,
    },
    compileMs,
    fixedMs,
    rows,
    runs: Object.fromEntries(
      [...results].map(([id, rs]) => [
        id,
        rs.map(({ ms, cpuMs, firstMs, steadyRate, totals }) => ({
          ms,
          cpuMs,
          firstMs,
          steadyRate,
          totals,
        })),
      ]),
    ),
    memory,
    targets: targets.map(({ name, value, min, max, pass }) => ({
      name,
      value,
      min: min ?? null,
      max: max ?? null,
      pass: pass ?? null,
    })),
    problems,
  });
  log(`\nwrote ${file}`);
}
process.exitCode = problems.length > 0 ? 1 : 0;
