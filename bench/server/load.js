#!/usr/bin/env node
// The load generator of the server benchmark: autocannon's programmatic API, in its own process so
// that it never shares an event loop with the server under test.
//
//   node bench/server/load.js '<spec as JSON>'
//
// spec: {url, path, bodies, items, connections, amount, unique, repeat, window, stampBase, timeoutS}
//   bodies      an NDJSON file: one whole request body a line; the requests cycle through them
//   items       analysis results in each body (1, or the batch size)
//   amount      requests to send; every one is answered before the run ends (autocannon's
//               `duration` mode drops the requests in flight when time is up, and the server may
//               still record those: the audit log could then not be checked exactly)
//   unique      give every result in every request its own sha256 (the last 12 hex digits become a
//               counter from `stampBase`), so that each request carries a new input, as in use,
//               instead of the 1,000 inputs the audit log would store once and then recognise
//   repeat      with `unique`, ask each file (each sha256) this many times instead of once: the
//               requests go through `window` files at a time, each asked once per pass, `repeat`
//               passes, then the next `window` files; so a file's requests are `window` requests
//               apart (with `window` above `connections`, never two of one file in flight), and a
//               file's body is always the same one (`bodies[file % bodies.length]`)
//
// Prints one JSON object on stdout: counts by status, errors, timeouts, the elapsed time (first
// request to last answer), req/s and latency percentiles in milliseconds. Latencies are recorded
// from autocannon's `response` events at full resolution (its own histogram keeps whole ms).

import { readFileSync } from "node:fs";
import autocannon from "autocannon";

const spec = JSON.parse(process.argv[2] ?? "{}");
const PREFIX = Buffer.from('{"result":{"sha256":"');
const HEX = Buffer.from("0123456789abcdef");
const STAMP_DIGITS = 12;

/** Offsets of the last 12 hex digits of every result's sha256 in `buf`. */
function stampOffsets(buf) {
  const offsets = [];
  for (let at = buf.indexOf(PREFIX); at !== -1; at = buf.indexOf(PREFIX, at + 1)) {
    offsets.push(at + PREFIX.length + 64 - STAMP_DIGITS);
  }
  return offsets;
}

let next = spec.stampBase ?? 0;
/**
 * Writes a counter value at each offset (in place: autocannon copies the body at once): a fresh
 * one each, or `file` (added to `stampBase`) for every offset when given.
 */
function stamp(buf, offsets, file) {
  for (const o of offsets) {
    let n = file === undefined ? next++ : (spec.stampBase ?? 0) + file;
    for (let i = STAMP_DIGITS - 1; i >= 0; i--) {
      buf[o + i] = HEX[n % 16];
      n = Math.floor(n / 16);
    }
  }
}

const bodies = readFileSync(spec.bodies, "utf8")
  .split("\n")
  .filter(Boolean)
  .map((line) => Buffer.from(line));
const offsets = bodies.map((body) => {
  const found = stampOffsets(body);
  if (found.length !== spec.items)
    throw new Error(`a body holds ${found.length} results where ${spec.items} were expected`);
  return found;
});
// One request whose body is set just before it is built: the bodies are held once, not copied
// into every connection (autocannon deep-copies its options, `requests` included, per connection).
let k = 0;
const REPEAT = spec.repeat ?? 1;
const WINDOW = spec.window ?? 1;
/** The file asked by request `n` when each is asked `REPEAT` times (see `repeat` above). */
const fileOf = (n) => Math.floor(n / (REPEAT * WINDOW)) * WINDOW + (n % WINDOW);
let files = 0;
const requests = [
  {
    method: "POST",
    path: spec.path,
    setupRequest(req) {
      if (spec.unique && REPEAT > 1) {
        const file = fileOf(k++);
        files = Math.max(files, file + 1);
        const i = file % bodies.length;
        stamp(bodies[i], offsets[i], file);
        req.body = bodies[i];
        return req;
      }
      const i = k++ % bodies.length;
      if (spec.unique) stamp(bodies[i], offsets[i]);
      req.body = bodies[i];
      return req;
    },
  },
];

let latencies = new Float64Array(1 << 16);
let count = 0;
const statuses = {};
let lastAt = 0;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const instance = autocannon({
  url: spec.url,
  connections: spec.connections,
  amount: spec.amount,
  timeout: spec.timeoutS ?? 10,
  headers: { "content-type": "application/json" },
  requests,
  sampleInt: 100,
});
instance.on("response", (_client, statusCode, _bytes, responseTime) => {
  lastAt = performance.now();
  if (count === latencies.length) {
    const grown = new Float64Array(count * 2);
    grown.set(latencies);
    latencies = grown;
  }
  latencies[count++] = responseTime;
  statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
});
const result = await instance;
const cpu = process.cpuUsage(cpu0);

const sorted = latencies.subarray(0, count).sort();
const pct = (p) => (count === 0 ? Number.NaN : sorted[Math.min(count - 1, Math.floor(p * count))]);
let sum = 0;
for (const v of sorted) sum += v;
const elapsedMs = lastAt - t0;
const ok = Object.entries(statuses)
  .filter(([s]) => s >= 200 && s < 300)
  .reduce((n, [, c]) => n + c, 0);
process.stdout.write(
  `${JSON.stringify({
    requests: count,
    ok,
    non2xx: count - ok,
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    elapsedMs,
    rps: ok / (elapsedMs / 1000),
    latency: {
      mean: sum / count,
      p50: pct(0.5),
      p90: pct(0.9),
      p99: pct(0.99),
      p999: pct(0.999),
      max: sorted[count - 1],
    },
    autocannon: { p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx },
    cpuMs: (cpu.user + cpu.system) / 1000,
    stampedUpTo: next,
    files: REPEAT > 1 ? files : undefined,
  })}\n`,
);
