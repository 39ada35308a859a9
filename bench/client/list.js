// `client.listFiles` over every file of a seeded simulator, in a process of its own, for
// bench/client/run.js.
//
//   node bench/client/list.js --url URL [--limit 1000] [--sample-pages 3] [--cache-max N]
//
// Iterates `for await (const f of client.listFiles({limit}))` and times each step of the iteration:
// the step that starts a page waits for the request, the simulator building the page, the
// transfer, JSON.parse and the client's checks of every file on it (`platformToCanonical`, the
// cache); the other steps hand out files already converted. Counts the files and their distinct
// SHA-256s.
// Then, to split the client's own share, re-reads `--sample-pages` pages with a bare undici GET and
// times JSON.parse and `platformToCanonical` (what the client runs on each file) on them.
//
// Prints one JSON line.

import { parseArgs } from "node:util";
import { PlatformClient } from "@clearance/client";
import { platformToCanonical } from "@clearance/platform";
import { request } from "undici";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    limit: { type: "string", default: "1000" },
    "sample-pages": { type: "string", default: "3" },
    /** the client's result cache: its default (10,000 entries), or N entries, 0 for none */
    "cache-max": { type: "string" },
  },
});
const url = args.url;
const limit = Number(args.limit);
const KEY = "sim_key_full";

const cacheMax = args["cache-max"] === undefined ? undefined : Number(args["cache-max"]);
const client = new PlatformClient({
  baseUrl: url,
  apiKey: KEY,
  ...(cacheMax === undefined ? {} : { cache: cacheMax === 0 ? false : { max: cacheMax } }),
});
const pageWaits = [];
let otherStepsMs = 0;
let count = 0;
let incomplete = 0;
let invalid = 0;
const seen = new Set();
const t0 = performance.now();
const it = client.listFiles({ limit })[Symbol.asyncIterator]();
for (;;) {
  const s = performance.now();
  const step = await it.next();
  const ms = performance.now() - s;
  if (step.done) {
    otherStepsMs += ms;
    break;
  }
  if (count % limit === 0) pageWaits.push(ms);
  else otherStepsMs += ms;
  count++;
  const { file, result } = step.value;
  seen.add(file.sha256);
  if (file.status !== "completed") incomplete++;
  if (!result.ok) invalid++;
}
const totalMs = performance.now() - t0;
const afterList = process.resourceUsage();
await client.close();

// The client's own share of a page, measured apart on a few pages.
const samples = [];
let cursor;
for (let p = 0; p < Number(args["sample-pages"]); p++) {
  const q = new URLSearchParams({ limit: String(limit) });
  if (cursor) q.set("cursor", cursor);
  const s = performance.now();
  const res = await request(`${url}/v1/files?${q}`, {
    headers: { authorization: `Bearer ${KEY}`, accept: "application/json" },
  });
  const headersMs = performance.now() - s;
  const text = await res.body.text();
  const bodyMs = performance.now() - s - headersMs;
  const p0 = performance.now();
  const page = JSON.parse(text);
  const parseMs = performance.now() - p0;
  const c0 = performance.now();
  for (const f of page.data) platformToCanonical(f);
  const canonicalMs = performance.now() - c0;
  samples.push({ headersMs, bodyMs, bytes: Buffer.byteLength(text), parseMs, canonicalMs });
  cursor = page.nextCursor;
  if (!cursor) break;
}

process.stdout.write(
  `${JSON.stringify({
    count,
    distinct: seen.size,
    incomplete,
    invalid,
    pages: pageWaits.length,
    totalMs,
    pageWaits,
    otherStepsMs,
    maxRssKb: afterList.maxRSS,
    cacheSize: client.cache?.size ?? 0,
    cpuUserMs: afterList.userCPUTime / 1000,
    cpuSystemMs: afterList.systemCPUTime / 1000,
    samples,
  })}\n`,
);
