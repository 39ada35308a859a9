#!/usr/bin/env node
// Mapping a VirusTotal v3 report to a canonical result, against its floor: `JSON.parse` of the
// same text. The report is the real one under examples/virustotal/ closest to 40 KB (issue 14's
// target: mapping costs at most 2x its `JSON.parse`), or `--input <file>`. Measured in one run,
// interleaved: parse alone; `toCanonical` (detect, adapt, validate) of the parsed object alone;
// and both, as a server does with a request body.
//
//   node bench/engine/virustotal.js [--input report.json] [--rounds 9] [--time 300] [--quick] [--json out.json]

import { readdirSync, readFileSync, statSync } from "node:fs";
import { relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { toCanonical } from "@clearance/engine";
import {
  BENCH_DIR,
  environment,
  fmtRate,
  fmtRatio,
  median,
  table,
  verdict,
  writeJson,
} from "../lib/harness.js";

const { values: args } = parseArgs({
  options: {
    input: { type: "string" },
    rounds: { type: "string", default: "9" },
    time: { type: "string", default: "300" },
    quick: { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const ROUNDS = args.quick ? 3 : Number(args.rounds);
const BUDGET_MS = args.quick ? 120 : Number(args.time);
const TARGET = 2;
const WANTED_BYTES = 40 * 1024;

/** Every JSON file under examples/virustotal/, real reports first. */
function reports() {
  const root = resolve(BENCH_DIR, "../examples/virustotal");
  const files = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir, { withFileTypes: true })) {
      const path = resolve(dir, name.name);
      if (name.isDirectory()) walk(path);
      else if (name.name.endsWith(".json")) files.push(path);
    }
  };
  walk(root);
  return files;
}

const input =
  args.input ??
  reports()
    .map((path) => ({ path, size: statSync(path).size }))
    .sort((a, b) => Math.abs(a.size - WANTED_BYTES) - Math.abs(b.size - WANTED_BYTES))[0]?.path;
if (!input) {
  console.error("no VirusTotal report found under examples/virustotal/: pass --input");
  process.exit(1);
}
const text = readFileSync(input, "utf8");
const bytes = Buffer.byteLength(text);
const parsed = JSON.parse(text);
const check = toCanonical(parsed);
if (!check.ok || check.format !== "virustotal") {
  console.error(
    `${input} is not a VirusTotal report the adapter maps: ${check.ok ? `read as ${check.format}` : check.problems[0]?.message}`,
  );
  process.exit(1);
}

let sink = 0;
const parse = () => {
  sink += JSON.parse(text) === null ? 0 : 1;
};
const map = () => {
  sink += toCanonical(parsed).ok ? 1 : 0;
};
const both = () => {
  sink += toCanonical(JSON.parse(text)).ok ? 1 : 0;
};

/** Runs per second of `fn`, for about BUDGET_MS. */
function rate(fn) {
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < BUDGET_MS) {
    for (let i = 0; i < 16; i++) fn();
    n += 16;
    elapsed = performance.now() - start;
  }
  return (n / elapsed) * 1000;
}

for (let i = 0; i < 200; i++) {
  parse();
  map();
  both();
}
const runs = { parse: parse, map: map, both: both };
const rates = { parse: [], map: [], both: [] };
const mapRatios = [];
const bothRatios = [];
for (let round = 0; round < ROUNDS; round++) {
  const order = Object.keys(runs);
  if (round % 2 === 1) order.reverse();
  const got = {};
  for (const which of order) got[which] = rate(runs[which]);
  for (const which of order) rates[which].push(got[which]);
  // cost ratios: how many parses one mapping costs
  mapRatios.push(got.parse / got.map);
  bothRatios.push(got.parse / got.both);
}
const mapCost = median(mapRatios);
const bothCost = median(bothRatios);

const env = environment();
console.log("# Mapping a VirusTotal report");
console.log("");
console.log(
  `\`${relative(resolve(BENCH_DIR, ".."), input)}\` (${(bytes / 1024).toFixed(1)} KiB${check.warnings?.length ? `, ${check.warnings.length} adapter warnings` : ""}). ${env.cpu}, ${env.cores} cores, Node ${process.version}. Medians of ${ROUNDS} interleaved rounds of ${BUDGET_MS} ms each.`,
);
console.log("");
console.log(
  table(
    ["run", "reports/s", "cost ÷ `JSON.parse`"],
    [
      ["`JSON.parse` of the text (the floor)", fmtRate(median(rates.parse)), "1.00x"],
      [
        "`toCanonical` of the parsed report (detect, map, validate)",
        fmtRate(median(rates.map)),
        fmtRatio(mapCost),
      ],
      ["both, as a request body is read", fmtRate(median(rates.both)), fmtRatio(bothCost)],
    ],
    "lrr",
  ),
);
console.log("");
console.log(
  table(
    ["target", "measured", "result"],
    [
      [
        "mapping a ~40 KB real report ≤ 2x its `JSON.parse`",
        `${fmtRatio(mapCost)} (median of per-round ratios)`,
        verdict(mapCost <= TARGET),
      ],
    ],
    "lrl",
  ),
);
if (sink < 0) console.log(sink);
if (args.json)
  writeJson(args.json, {
    input: relative(resolve(BENCH_DIR, ".."), input),
    bytes,
    rates,
    mapRatios,
    bothRatios,
    mapCost,
    bothCost,
    target: TARGET,
  });
