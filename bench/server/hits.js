#!/usr/bin/env node
// `GET /v1/ruleset/hits` on a large log: the aggregate read that counts each rule's decisions,
// matches, monitor matches and shadow disagreements per bucket (`EntryStore.hits`), on an SQLite
// log of `--entries` decisions spread evenly over 30 days, for the console's three ranges (24 h
// in hours, 7 days in 6 hours, 30 days in days). Beside each, its floor: counting the same range's
// entries by id (the index range alone, no body read) and reading each body's `matched` list once
// (one JSON parse per entry), so the ratio says what the counting adds to reading the range.
//
//   node bench/server/hits.js [--entries 1000000] [--rounds 5] [--quick] [--json out.json]
//
// The log is written once through the public API (AuditLog) and kept in bench/out/server/.

import { existsSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { AuditLog, newId, SqliteBackend } from "@clearance/server";
import { decisionRecord } from "@clearance/server/testing";
import { environment, fmtMs, fmtRatio, median, outDir, table, writeJson } from "../lib/harness.js";

const { values: args } = parseArgs({
  options: {
    entries: { type: "string" },
    rounds: { type: "string" },
    quick: { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const ENTRIES = Number(args.entries ?? (args.quick ? 100_000 : 1_000_000));
const ROUNDS = Number(args.rounds ?? (args.quick ? 3 : 5));
const DAY = 86_400_000;
const SPAN = 30 * DAY;
// a fixed end, so the kept log and the ranges agree from one run to the next
const END = Date.parse("2026-12-01T00:00:00.000Z");
const progress = (s) => process.stderr.isTTY && process.stderr.write(`${s}\x1b[K\r`);

// The shipped rules' names, in the shapes decisions take: the deciding rule among what matched.
const SHAPES = [
  {
    decision: "deny",
    rule: "malware",
    matched: ["any_malicious_detection", "malware", "low_trust", "many_detections"],
  },
  { decision: "allow", rule: "trusted_publisher", matched: ["trusted_publisher"] },
  { decision: "review", rule: "expired_signature", matched: ["expired_signature"] },
  { decision: "deny", rule: "low_trust", matched: ["low_trust"] },
  { decision: "review", rule: null, matched: [] },
];

async function logOf(count) {
  const file = resolve(outDir("server"), `hits-${count}.db`);
  if (existsSync(file)) return file;
  const part = `${file}.part`;
  rmSync(part, { force: true });
  const log = new AuditLog(new SqliteBackend({ path: part, synchronous: "normal" }), {
    chain: "bench",
    hmacSecret: null,
    maxBatch: 10_000,
  });
  await log.open();
  const input = JSON.stringify({ result: { sha256: "0".repeat(64), pad: "x".repeat(400) } });
  const step = SPAN / count;
  for (let i = 0; i < count; i += 5_000) {
    progress(`writing the log: ${i.toLocaleString("en")} of ${count.toLocaleString("en")}`);
    const wave = [];
    for (let j = i; j < Math.min(count, i + 5_000); j++) {
      const ms = Math.floor(END - SPAN + j * step);
      const shape = SHAPES[j % SHAPES.length];
      wave.push(
        log.append(
          decisionRecord({
            id: newId(ms),
            time: new Date(ms).toISOString(),
            sha256: j.toString(16).padStart(64, "0"),
            fileName: `file-${j}.exe`,
            decision: shape.decision,
            rule: shape.rule,
            matched: shape.matched,
            monitored: j % 7 === 0 ? ["fresh_files"] : [],
            shadow:
              j % 3 === 0
                ? {
                    decision: j % 11 === 0 ? "review" : shape.decision,
                    rule: shape.rule,
                    revision: "next",
                  }
                : null,
            reason: "generated for bench/server/hits.js",
            ruleset: { revision: "bench", commit: null, dirty: false },
            latencyUs: 3,
          }),
          input,
        ),
      );
    }
    await Promise.all(wave);
  }
  await log.close();
  for (const suffix of ["-wal", "-shm"]) rmSync(`${part}${suffix}`, { force: true });
  renameSync(part, file);
  return file;
}

const RANGES = [
  { name: "24 hours, 1 h buckets", ms: DAY, bucketSeconds: 3600 },
  { name: "7 days, 6 h buckets", ms: 7 * DAY, bucketSeconds: 6 * 3600 },
  { name: "30 days, 1 d buckets", ms: 30 * DAY, bucketSeconds: 86400 },
];

const path = await logOf(ENTRIES);
const backend = new SqliteBackend({ path, readonly: true });
await backend.open();
// the floors, on a connection of their own (better-sqlite3 as the server package resolves it)
const require = createRequire(createRequire(import.meta.url).resolve("@clearance/server"));
const Database = require("better-sqlite3");
const db = new Database(path, { readonly: true });

/** The smallest UUIDv7 of a millisecond, as the stores bound a time range (`audit/ids.ts`). */
function idFloor(ms) {
  const h = ms.toString(16).padStart(12, "0");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-7000-8000-000000000000`;
}

function timed(fn) {
  const times = [];
  let value;
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    value = fn();
    times.push(performance.now() - t);
  }
  return { ms: median(times), value };
}

async function timedAsync(fn) {
  const times = [];
  let value;
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    value = await fn();
    times.push(performance.now() - t);
  }
  return { ms: median(times), value };
}

const rows = [];
const results = [];
for (const range of RANGES) {
  const from = new Date(END - range.ms).toISOString();
  const to = new Date(END).toISOString();
  const ids = [idFloor(END - range.ms), idFloor(END + 1)];
  progress(`counting ${range.name}`);
  const count = timed(
    () => db.prepare("SELECT COUNT(*) AS n FROM entries WHERE id >= ? AND id < ?").get(...ids).n,
  );
  const parse = timed(
    () =>
      db
        .prepare(
          "SELECT SUM(json_array_length(body, '$.matched')) AS n FROM entries WHERE id >= ? AND id < ?",
        )
        .get(...ids).n,
  );
  const hits = await timedAsync(() =>
    backend.entries.hits({ from, to, bucketSeconds: range.bucketSeconds }),
  );
  const matched = hits.value.filter((c) => c.kind === "matched").reduce((n, c) => n + c.count, 0);
  if (matched !== parse.value)
    throw new Error(`hits counted ${matched} matches, the floor read ${parse.value}`);
  results.push({
    range: range.name,
    entries: count.value,
    hitsMs: hits.ms,
    countMs: count.ms,
    parseMs: parse.ms,
  });
  rows.push([
    range.name,
    count.value.toLocaleString("en"),
    fmtMs(hits.ms),
    `${((hits.ms * 1000) / Math.max(1, count.value)).toFixed(2)} µs`,
    fmtMs(count.ms),
    fmtMs(parse.ms),
    fmtRatio(hits.ms / parse.ms),
  ]);
}
db.close();
await backend.close();

console.log(
  `## hits: per-rule counts per bucket on ${ENTRIES.toLocaleString("en")} decisions over 30 days (SQLite)\n`,
);
console.log(
  table(
    [
      "range",
      "entries in range",
      "hits",
      "per entry",
      "floor: count by id",
      "floor: parse `matched` once",
      "hits / parse floor",
    ],
    rows,
    "lrrrrrr",
  ),
);
console.log(
  `\nMedian of ${ROUNDS} rounds each, read inline on one connection (the server reads on a reader thread).`,
);
if (args.json) writeJson(args.json, { environment: environment(), entries: ENTRIES, results });
