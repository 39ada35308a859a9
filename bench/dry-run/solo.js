#!/usr/bin/env node
// One 1-worker dry-run with a baseline, in a process of its own: bench/dry-run/run.js starts two of
// these at once to measure what the machine gives two independent threads (the control for the
// 2-worker run). Prints {read, decided, ms} as JSON.
//
//   node bench/dry-run/solo.js <file.ndjson>

import { resolve } from "node:path";
import { dryRun } from "@clearance/dryrun";
import { NOW } from "@clearance/testdata";
import { BENCH_DIR } from "../lib/harness.js";

const REPO = resolve(BENCH_DIR, "..");
const file = process.argv[2];
const t0 = performance.now();
const report = await dryRun({
  rules: resolve(REPO, "examples/rules-tightened"),
  baseline: resolve(REPO, "rules"),
  from: [file],
  now: NOW,
});
process.stdout.write(
  `${JSON.stringify({ read: report.totals.read, decided: report.totals.decided, ms: performance.now() - t0 })}\n`,
);
