// The platform simulator in a process of its own, for bench/client/run.js: its hashing of the
// uploaded bytes and its building of file objects must not share the client's event loop or count
// in the client's memory.
//
//   node bench/client/sim.js [--seed-files N]
//
// Listens on 127.0.0.1 (a free port), analyses complete at once (analysisDelayMs 0), no useful
// rate limit. Prints one JSON line once listening: {"url", "startMs"}. Stops when its stdin ends
// (the parent closing it, or dying), then prints one more JSON line: its own resource usage and,
// per route, how long the server held each request (from the `request` event to the response's
// `finish`: reading the body, the handler, serialising and handing the answer to the socket).
// A line `stats` on its stdin prints the same figures at once and restarts the per-route counts.

import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { startSimulator } from "@clearance/platform-sim";

const { values: args } = parseArgs({
  options: { "seed-files": { type: "string", default: "0" } },
});

const t0 = performance.now();
const sim = await startSimulator({
  port: 0,
  analysisDelayMs: 0,
  seedFiles: Number(args["seed-files"]),
  rateLimit: { limit: 1_000_000_000, windowMs: 60_000 },
});
const startMs = performance.now() - t0;

/** route -> {count, totalMs, maxMs} */
const held = new Map();
sim.app.server.on("request", (req, res) => {
  const start = performance.now();
  const q = req.url.indexOf("?");
  const path = q === -1 ? req.url : req.url.slice(0, q);
  const route = `${req.method} ${path.startsWith("/uploads/") ? "/uploads/:id" : path.startsWith("/v1/files/") ? "/v1/files/:sha256" : path}`;
  res.on("finish", () => {
    const ms = performance.now() - start;
    const r = held.get(route) ?? { count: 0, totalMs: 0, maxMs: 0 };
    r.count++;
    r.totalMs += ms;
    r.maxMs = Math.max(r.maxMs, ms);
    held.set(route, r);
  });
});

process.stdout.write(`${JSON.stringify({ url: sim.url, startMs })}\n`);

function usage() {
  const u = process.resourceUsage();
  return {
    maxRssKb: u.maxRSS,
    cpuUserMs: u.userCPUTime / 1000,
    cpuSystemMs: u.systemCPUTime / 1000,
    held: Object.fromEntries(held),
  };
}

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await sim.close();
  process.stdout.write(`${JSON.stringify({ done: true, ...usage() })}\n`);
  process.exit(0);
}
// A line `stats` on stdin: print the figures so far, then start counting the requests afresh.
createInterface({ input: process.stdin })
  .on("line", (line) => {
    if (line.trim() !== "stats") return;
    process.stdout.write(`${JSON.stringify({ stats: true, ...usage() })}\n`);
    held.clear();
  })
  .on("close", stop);
process.stdin.on("error", stop);
process.on("SIGTERM", stop);
