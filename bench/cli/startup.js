#!/usr/bin/env node
// How long a `clearance` command takes from process start to exit, against a bare Node start
// (`node -e 0`), the floor every command pays. Targets from issue 11: `--version` and `--help`
// at most 3x the floor, `check rules` and `eval` of one result at most 6x.
//
//   node bench/cli/startup.js [--rounds 15] [--quick] [--json out.json]
//
// The commands run interleaved, one process each per round, and the medians are compared, so a
// machine that slows down during the run slows every row alike.

import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  BENCH_DIR,
  environment,
  fmtMs,
  fmtRatio,
  median,
  table,
  verdict,
  writeJson,
} from "../lib/harness.js";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "15" },
    quick: { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const ROUNDS = args.quick ? 5 : Number(args.rounds);
const ROOT = resolve(BENCH_DIR, "..");
const BIN = resolve(ROOT, "packages/cli/dist/bin.js");

const variants = [
  { name: "node -e 0 (the floor)", argv: ["-e", "0"] },
  { name: "clearance --version", argv: [BIN, "--version"], target: 3 },
  { name: "clearance --help", argv: [BIN, "--help"], target: 3 },
  { name: "clearance check rules", argv: [BIN, "check", "rules"], target: 6 },
  {
    name: "clearance eval -i examples/results/malware.json",
    argv: [BIN, "eval", "-i", "examples/results/malware.json"],
    target: 6,
  },
];

const times = variants.map(() => []);
for (let round = 0; round < ROUNDS + 1; round++) {
  variants.forEach((v, i) => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, v.argv, { cwd: ROOT, stdio: "pipe" });
    const ms = performance.now() - t0;
    if (r.status !== 0) {
      console.error(`${v.name} failed (exit ${r.status}): ${r.stderr}`);
      process.exit(1);
    }
    // The first round warms the file-system cache and is not counted.
    if (round > 0) times[i].push(ms);
  });
}

const floor = median(times[0]);
const rows = variants.map((v, i) => {
  const m = median(times[i]);
  const ratio = m / floor;
  return {
    name: v.name,
    medianMs: m,
    ratio,
    target: v.target,
    pass: v.target === undefined ? undefined : ratio <= v.target,
  };
});

console.log(`## CLI start-up: ${ROUNDS} interleaved rounds, medians\n`);
console.log(
  table(
    ["command", "median", "÷ node -e 0", "target", "result"],
    rows.map((r) => [
      `\`${r.name}\``,
      fmtMs(r.medianMs),
      fmtRatio(r.ratio),
      r.target === undefined ? "" : `≤ ${r.target}x`,
      verdict(r.pass),
    ]),
    "lrrrl",
  ),
);
if (args.json) writeJson(args.json, { environment: environment(), rounds: ROUNDS, rows });
