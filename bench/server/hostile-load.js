#!/usr/bin/env node
// The hostile client of bench/server/hostile.js, in its own process: until SIGTERM (or
// `durationS`), one loop posts deeply nested bodies and another valid batches, each waiting for
// its answer before sending again.
//
//   node bench/server/hostile-load.js '{"url": ..., "deepBytes": 16000000, "batchItems": 1000, "durationS": 60}'
//
// deep bodies   `{"items":[[[[...]]]]}` of `deepBytes` bytes, to POST /v1/decisions/batch
// batches       `batchItems` copies of examples/results/malware.json, each with its own sha256 (new
//               in every batch, so that each one is decided and recorded)
//
// Prints one JSON object on stdout when it stops: for each loop, the answers by status.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { BENCH_DIR } from "../lib/harness.js";

const spec = JSON.parse(process.argv[2] ?? "{}");
const result = JSON.parse(
  readFileSync(resolve(BENCH_DIR, "../examples/results/malware.json"), "utf8"),
);
const half = Math.floor((spec.deepBytes - 12) / 2);
const deep = Buffer.from(`{"items":[${"[".repeat(half)}${"]".repeat(half)}]}`);
// one batch text; every round writes a fresh round number into each sha256 in place
const template = Buffer.from(
  JSON.stringify({
    items: Array.from({ length: spec.batchItems }, (_, i) => ({
      result: { ...result, sha256: `${"0".repeat(8)}${i.toString(16).padStart(56, "0")}` },
    })),
  }),
);
const stamps = [];
for (
  let at = template.indexOf('"sha256":"');
  at !== -1;
  at = template.indexOf('"sha256":"', at + 1)
)
  stamps.push(at + 10);

let stopping = false;
process.once("SIGTERM", () => {
  stopping = true;
});
const until = Date.now() + (spec.durationS ?? 60) * 1000;
const counts = { deep: {}, batch: {}, errors: 0 };

async function loop(name, body) {
  for (let round = 1; !stopping && Date.now() < until; round++) {
    try {
      const res = await fetch(`${spec.url}/v1/decisions/batch`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: body(round),
      });
      await res.arrayBuffer();
      counts[name][res.status] = (counts[name][res.status] ?? 0) + 1;
    } catch {
      counts.errors++;
    }
  }
}

await Promise.all([
  loop("deep", () => deep),
  loop("batch", (round) => {
    const stamp = (process.pid * 100_000 + round).toString(16).padStart(8, "0").slice(-8);
    for (const at of stamps) template.write(stamp, at, "latin1");
    return template;
  }),
]);
process.stdout.write(`${JSON.stringify(counts)}\n`);
