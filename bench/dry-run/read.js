#!/usr/bin/env node
// Reading throughput of the dry-run's record sources against the floor the dry-run issue names
// (readline + JSON.parse on one core), on the same generated NDJSON file.
//
//   node bench/dry-run/read.js [--count 50000] [--seed 7] [--rounds 3] [--quick] [--json out.json]
//
// Variants, interleaved round by round (medians reported):
//   floor     readline over fs.createReadStream, JSON.parse of every line
//   ndjson    openSource() + JSON.parse of every record text
//   gzip      the same file gzip-compressed, openSource() + JSON.parse
//   array     the same records as one JSON array, openSource() + JSON.parse
//   parse     openSource() + parseRecord() (JSON.parse, format detection and schema validation)

import { createReadStream, createWriteStream, existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { createGzip } from "node:zlib";
import { openSource, parseRecord } from "@clearance/dryrun";
import { historyLines } from "@clearance/testdata";
import {
  environment,
  fmtRate,
  fmtRatio,
  median,
  outDir,
  table,
  writeJson,
} from "../lib/harness.js";

const { values: args } = parseArgs({
  options: {
    count: { type: "string", default: "50000" },
    seed: { type: "string", default: "7" },
    rounds: { type: "string", default: "3" },
    quick: { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const COUNT = args.quick ? 10_000 : Number(args.count);
const SEED = Number(args.seed);
const ROUNDS = args.quick ? 2 : Number(args.rounds);

// ---------------------------------------------------------------- data (cached in bench/out)
const dir = outDir("dry-run");
const base = join(dir, `history-${COUNT}-${SEED}`);
const files = { ndjson: `${base}.ndjson`, gzip: `${base}.ndjson.gz`, array: `${base}.json` };

async function writeLines(path, make) {
  const out = createWriteStream(path);
  let batch = "";
  for (const piece of make()) {
    batch += piece;
    if (batch.length > 1 << 20) {
      if (!out.write(batch)) await new Promise((r) => out.once("drain", r));
      batch = "";
    }
  }
  out.end(batch);
  await new Promise((r, j) => out.on("finish", r).on("error", j));
}

if (!existsSync(files.ndjson)) {
  await writeLines(files.ndjson, function* () {
    for (const line of historyLines(COUNT, SEED)) yield `${line}\n`;
  });
}
if (!existsSync(files.gzip)) {
  await pipeline(createReadStream(files.ndjson), createGzip(), createWriteStream(files.gzip));
}
if (!existsSync(files.array)) {
  await writeLines(files.array, function* () {
    let k = 0;
    yield "[\n";
    for (const line of historyLines(COUNT, SEED)) yield `${k++ === 0 ? "" : ",\n"}${line}`;
    yield "\n]\n";
  });
}
const bytes = statSync(files.ndjson).size;

// ---------------------------------------------------------------- variants
async function floor() {
  const lines = createInterface({ input: createReadStream(files.ndjson), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    if (line === "") continue;
    JSON.parse(line);
    n++;
  }
  return n;
}

async function reader(path) {
  let n = 0;
  for await (const record of openSource(path)) {
    JSON.parse(record.text);
    n++;
  }
  return n;
}

async function parsed() {
  let n = 0;
  for await (const record of openSource(files.ndjson)) {
    if (parseRecord(record).kind === "valid") n++;
  }
  return n;
}

const variants = [
  { id: "floor", label: "readline + JSON.parse (the floor)", run: floor },
  { id: "ndjson", label: "openSource NDJSON + JSON.parse", run: () => reader(files.ndjson) },
  { id: "gzip", label: "openSource NDJSON .gz + JSON.parse", run: () => reader(files.gzip) },
  { id: "array", label: "openSource JSON array + JSON.parse", run: () => reader(files.array) },
  { id: "parse", label: "openSource NDJSON + parseRecord (validates)", run: parsed },
];

// ---------------------------------------------------------------- measure
const rates = Object.fromEntries(variants.map((v) => [v.id, []]));
let peakRss = 0;
await floor(); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (const v of variants) {
    const t0 = performance.now();
    const n = await v.run();
    const seconds = (performance.now() - t0) / 1000;
    if (n !== COUNT) throw new Error(`${v.id}: read ${n} records, expected ${COUNT}`);
    rates[v.id].push(n / seconds);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
}

const env = environment();
const floorRate = median(rates.floor);
const recordBytes = bytes / COUNT;
console.log("# Dry-run record sources: reading throughput");
console.log("");
console.log(
  `${COUNT} generated records (seed ${SEED}, ${(recordBytes / 1024).toFixed(1)} KB each, ` +
    `${(bytes / 1e6).toFixed(0)} MB of NDJSON); ${env.cpu}, ${env.cores} cores, Node ${process.version}; ` +
    `medians of ${ROUNDS} interleaved rounds, one core.`,
);
console.log("");
const rows = variants.map((v) => {
  const rate = median(rates[v.id]);
  return [
    v.label,
    `${fmtRate(rate)}/s`,
    `${((rate * recordBytes) / 1e6).toFixed(0)} MB/s`,
    fmtRatio(rate / floorRate),
  ];
});
console.log(table(["variant", "records/s", "NDJSON MB/s", "÷ floor"], rows, "lrrr"));
console.log("");
const ratio = median(rates.ndjson) / floorRate;
console.log(
  `| target | measured | result |\n| --- | ---: | --- |\n` +
    `| NDJSON reader not slower than readline + JSON.parse | ${fmtRatio(ratio)} | ${ratio >= 0.97 ? "PASS" : "FAIL"} |`,
);
console.log("");
console.log(`Peak RSS over all rounds: ${(peakRss / 1048576).toFixed(0)} MB.`);

if (args.json) {
  writeJson(args.json, {
    count: COUNT,
    seed: SEED,
    bytes,
    rounds: ROUNDS,
    rates,
    medians: Object.fromEntries(variants.map((v) => [v.id, median(rates[v.id])])),
    peakRss,
    environment: env,
  });
}
if (ratio < 0.97) process.exitCode = 1;
