#!/usr/bin/env node
// The dry-run benchmark: `dryRun` against the floor (reading and parsing the same NDJSON file with
// nothing else), in one process, then the CLI's peak memory on a stream of records.
//
//   node bench/dry-run/run.js [--count 50000] [--seed 7] [--rounds 5] [--quick] [--full]
//        [--mem-count 200000] [--mem-workers 1] [--no-memory] [--json out.json]
//
// 1. generates bench/out/dry-run/history-<count>-s<seed>.ndjson once (reused when present);
// 2. runs, in interleaved rounds (the order rotates every round; one warm-up round first):
//    - floor: readline over a file stream + JSON.parse per line;
//    - candidate: dryRun({rules: "rules"}), 1 worker (in this thread);
//    - baseline: dryRun({rules: "examples/rules-tightened", baseline: "rules"}), 1 worker;
//    - baseline, 2 workers: the same with `workers: 2` (worker start-up included: each worker
//      compiles both rule sets);
//    and checks that every run read every record and that 1 and 2 workers give the same totals;
// 3. pipes `gen-history --out -` into `clearance dry-run --from -` (200,000 records; 1,000,000 with
//    --full) and reads the dry-run's peak RSS;
// 4. prints the medians, the ratios the dry-run issue sets as targets, and PASS/FAIL.

import { spawnSync } from "node:child_process";
import { createReadStream, existsSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { cpus } from "node:os";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { dryRun, HISTORY_NOW, NOW } from "@clearance/dryrun";
import { loadRuleset } from "@clearance/engine";
import {
  BENCH_DIR,
  environment,
  fmtMs,
  fmtRate,
  fmtRatio,
  median,
  outDir,
  table,
  verdict,
  writeJson,
} from "../lib/harness.js";
import { measurePipeMemory } from "./memory.js";

const { values: args } = parseArgs({
  options: {
    count: { type: "string", default: "50000" },
    seed: { type: "string", default: "7" },
    rounds: { type: "string", default: "5" },
    quick: { type: "boolean", default: false },
    full: { type: "boolean", default: false },
    "mem-count": { type: "string" },
    "mem-workers": { type: "string", default: "1" },
    "no-memory": { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const COUNT = Number(args.count);
const SEED = Number(args.seed);
const ROUNDS = args.quick ? 3 : Number(args.rounds);
const MEM_COUNT = args["mem-count"]
  ? Number(args["mem-count"])
  : args.full
    ? 1_000_000
    : args.quick
      ? 100_000
      : 200_000;
const MEM_WORKERS = Number(args["mem-workers"]);

const log = (...xs) => console.log(...xs);
const progress = (s) => process.stderr.isTTY && process.stderr.write(`${s}\x1b[K\r`);

const REPO = resolve(BENCH_DIR, "..");
const CLI = resolve(REPO, "packages/cli/dist/bin.js");
const GEN = resolve(REPO, "packages/dryrun/dist/gen-history.js");
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
  const part = `${file}.part`;
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [GEN, "--count", String(count), "--seed", String(seed), "--out", part],
    { stdio: "inherit" },
  );
  if (r.status !== 0) {
    rmSync(part, { force: true });
    console.error(`gen-history failed (${r.error?.message ?? `exit ${r.status}`})`);
    process.exit(1);
  }
  renameSync(part, file);
  return { file, generated: true, ms: performance.now() - t0 };
}

progress("generating the history...");
const data = historyFile(COUNT, SEED);
const tiny = historyFile(100, SEED);
const FILE = data.file;
const BYTES = statSync(FILE).size;
const MB = BYTES / 1e6;

log("# Dry-run benchmark");
log("");
log(
  `${COUNT.toLocaleString("en")} generated records (seed ${SEED}, ${MB.toFixed(0)} MB of NDJSON, ` +
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

function dry(options) {
  return async (file) => {
    const report = await dryRun({ ...options, from: [file], now: NOW });
    const t = report.totals;
    return {
      read: t.read,
      decided: t.decided,
      totals: t,
      outcomes: report.outcomes,
      changed: report.changed,
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
    label: "`dryRun` candidate `rules/`, 1 worker",
    run: dry({ rules: RULES }),
  },
  {
    id: "baseline",
    label: "`dryRun` `examples/rules-tightened` vs baseline `rules/`, 1 worker",
    run: dry({ rules: TIGHTENED, baseline: RULES }),
  },
  {
    id: "baseline-2w",
    label: "the same, `workers: 2`",
    run: dry({ rules: TIGHTENED, baseline: RULES, workers: 2 }),
  },
];

/** One timed run: wall time, CPU time of the whole process (every thread) and the totals. */
async function measure(v, file) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const out = await v.run(file);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, ...out };
}

// Fixed costs: compiling the rule sets, and a whole run over 100 records (what a run costs
// besides the records: compiling in this thread and, with workers, starting them).
const compileMs = {
  rules: median([0, 1, 2].map(() => timed(() => loadRuleset(RULES, { now: NOW })))),
  tightened: median([0, 1, 2].map(() => timed(() => loadRuleset(TIGHTENED, { now: NOW })))),
};
function timed(fn) {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}
const fixedMs = {};
for (const v of variants.slice(1)) {
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push((await measure(v, tiny.file)).ms);
  fixedMs[v.id] = median(runs);
}

// ---------------------------------------------------------------- interleaved rounds
const results = new Map(variants.map((v) => [v.id, []]));
const problems = [];
for (let round = -1; round < ROUNDS; round++) {
  for (let k = 0; k < variants.length; k++) {
    const v = variants[(k + Math.max(round, 0)) % variants.length];
    progress(`${round < 0 ? "warm-up" : `round ${round + 1}/${ROUNDS}`}: ${v.id}`);
    const r = await measure(v, FILE);
    if (r.read !== COUNT || r.decided !== COUNT) {
      problems.push(`${v.id}: read ${r.read}, decided ${r.decided} of ${COUNT} records`);
    }
    if (round >= 0) results.get(v.id).push(r);
  }
}
progress("");

// 1 and 2 workers must agree on everything they count.
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const last = (id) => results.get(id).at(-1);
if (!same(last("baseline").outcomes, last("baseline-2w").outcomes)) {
  problems.push("1 and 2 workers give different outcomes");
}
if (last("baseline").changed !== last("baseline-2w").changed) {
  problems.push("1 and 2 workers count different changes");
}

// ---------------------------------------------------------------- report
const rows = variants.map((v) => {
  const rs = results.get(v.id);
  const rates = rs.map((r) => COUNT / (r.ms / 1000));
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
    rates,
    // Ratios within each round, then their median: less sensitive to a slow round.
    roundRatioToFloor: rs.map((r, i) => results.get("floor")[i].ms / r.ms),
  };
});
const row = (id) => rows.find((r) => r.id === id);
const floorRate = row("floor").median;
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
    ],
    rows.map((r) => [
      r.label,
      fmtRate(r.median),
      r.mbPerS.toFixed(0),
      `${((r.median / floorRate) * 100).toFixed(0)}%`,
      `${fmtRate(r.min)} – ${fmtRate(r.max)}`,
      r.cpuPerWall.toFixed(2),
      r.id === "floor" ? "" : fmtMs(r.fixedMs),
    ]),
    "lrrrrrr",
  ),
);
log("");
log(
  `Medians of ${ROUNDS} interleaved rounds (order rotating, after a warm-up round), each run over the ` +
    `whole file (${fmtMs(row("floor").medianMs)} for the floor). "CPU ÷ wall" is the process's CPU ` +
    "time (all threads) over the run's wall time. Every run includes its fixed costs: compiling the " +
    `rules in this thread (\`rules/\` ${fmtMs(compileMs.rules)}, \`examples/rules-tightened\` ` +
    `${fmtMs(compileMs.tightened)}) and, with workers, starting them (each compiles both rule sets ` +
    `again): "run on 100 records" shows that cost, ${((row("baseline-2w").fixedMs / row("baseline-2w").medianMs) * 100).toFixed(0)}% of a 2-worker run on this file.`,
);
log("");

const roundMedian = (id) => median(row(id).roundRatioToFloor);
const targets = [
  {
    name: "1 worker >= 85% of the floor",
    value: row("candidate").median / floorRate,
    min: 0.85,
    show: (v) =>
      `${(v * 100).toFixed(0)}% (per-round median ${(roundMedian("candidate") * 100).toFixed(0)}%)`,
  },
  {
    name: "with a baseline, 1 worker >= 75% of the floor",
    value: row("baseline").median / floorRate,
    min: 0.75,
    show: (v) =>
      `${(v * 100).toFixed(0)}% (per-round median ${(roundMedian("baseline") * 100).toFixed(0)}%)`,
  },
  {
    name: "with a baseline, 2 workers >= 1.6x 1 worker",
    value: row("baseline-2w").median / row("baseline").median,
    min: 1.6,
    show: (v) => fmtRatio(v),
  },
];

let memory;
if (!args["no-memory"]) {
  progress(`memory: ${MEM_COUNT.toLocaleString("en")} records through a pipe...`);
  memory = await measurePipeMemory({
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
      ...(MEM_WORKERS > 1 ? ["--workers", String(MEM_WORKERS)] : []),
    ],
  });
  progress("");
  if (memory.code !== 0 || memory.genCode !== 0) {
    problems.push(
      `memory run: dry-run exit ${memory.code ?? memory.signal}, gen-history exit ${memory.genCode}` +
        (memory.stderr ? `: ${memory.stderr.split("\n")[0]}` : ""),
    );
  } else if (memory.read !== MEM_COUNT || memory.decided !== MEM_COUNT) {
    problems.push(`memory run: read ${memory.read}, decided ${memory.decided} of ${MEM_COUNT}`);
  }
  const mb = (kb) => kb / 1024;
  const rss = memory.samples.map((s) => s.rssKb);
  const quarter = (q) => rss[Math.min(rss.length - 1, Math.floor((rss.length * q) / 4))];
  memory.summary =
    rss.length > 0
      ? `RSS at 1/4, 1/2, 3/4 and the end of the run: ${[1, 2, 3, 4].map((q) => `${mb(quarter(q)).toFixed(0)}`).join(", ")} MB`
      : "no RSS samples";
  log(
    table(
      ["memory run", "records", "wall time", "records/s", "peak RSS", "RSS over time"],
      [
        [
          `\`gen-history --out -\` piped into \`clearance dry-run --from -\` with a baseline, ${MEM_WORKERS} worker${MEM_WORKERS > 1 ? "s" : ""}`,
          MEM_COUNT.toLocaleString("en"),
          fmtMs(memory.ms),
          fmtRate(MEM_COUNT / (memory.ms / 1000)),
          `${mb(memory.peakKb).toFixed(0)} MB`,
          memory.summary,
        ],
      ],
      "lrrrrl",
    ),
  );
  log("");
  log(
    `Peak RSS of the dry-run process alone, from ${memory.peakSource}; the generator runs in its own ` +
      "process, so the records/s here are bounded by it." +
      (args.full ? "" : " 1,000,000 records with `--full`."),
  );
  log("");
  targets.push({
    name: `peak RSS < 300 MB (${MEM_COUNT.toLocaleString("en")} records${MEM_COUNT < 1_000_000 ? "; --full: 1,000,000" : ""})`,
    value: memory.peakKb / 1024,
    max: 300,
    show: (v) => `${v.toFixed(0)} MB`,
  });
}

for (const t of targets) {
  t.pass = Number.isFinite(t.value)
    ? t.min !== undefined
      ? t.value >= t.min
      : t.value < t.max
    : undefined;
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
log(
  `The machine is shared and noisy (±10-20% between runs; load average ${loadAverage()} at the end): compare the ratios, not the absolute figures.`,
);
function loadAverage() {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ")[0];
  } catch {
    return "?";
  }
}
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
      memCount: MEM_COUNT,
      memWorkers: MEM_WORKERS,
    },
    compileMs,
    fixedMs,
    rows: rows.map(({ roundRatioToFloor, ...r }) => ({ ...r, roundRatioToFloor })),
    runs: Object.fromEntries(
      [...results].map(([id, rs]) => [
        id,
        rs.map(({ ms, cpuMs, totals }) => ({ ms, cpuMs, totals })),
      ]),
    ),
    memory: memory ?? null,
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
