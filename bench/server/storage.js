#!/usr/bin/env node
// What one audit-log entry costs to store, with no HTTP: the floor under `bench/server`'s decision
// routes. An AuditLog over an SQLite backend written inline (this thread), fed waves of 20
// concurrent appends (a group commit each) of the server benchmark's 5 kB request bodies, each
// with a fresh sha256. Reports CPU and wall time per entry: SQLite written alone (synchronous full
// and normal), and the journal (appended and synced, its index applied at once on the same thread).
// Then the journal's index is deleted and rebuilt at the next open, beside its floor: reading every
// segment and checking its records' CRC-32s.
//
//   node bench/server/storage.js [--entries 20000] [--rounds 3] [--quick] [--json out.json]

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { crc32 } from "node:zlib";
import { AuditLog, SqliteBackend } from "@clearance/server";
import { decisionRecord } from "@clearance/server/testing";
import { environment, generateHistory, median, outDir, table, writeJson } from "../lib/harness.js";

const { values: args } = parseArgs({
  options: {
    entries: { type: "string" },
    rounds: { type: "string" },
    quick: { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const ENTRIES = Number(args.entries ?? (args.quick ? 5_000 : 20_000));
const ROUNDS = Number(args.rounds ?? (args.quick ? 1 : 3));
const WAVE = 20;

// the server benchmark's request bodies: its 1,000 results (`gen-history --count 1000 --seed 7`),
// generated here when that benchmark has not run yet
const resultsFile = resolve(outDir("server"), "results-1000-s7.ndjson");
if (!existsSync(resultsFile)) generateHistory(1000, 7, resultsFile);
const bodies = readFileSync(resultsFile, "utf8")
  .split("\n")
  .filter(Boolean)
  .map((line) => `{"result":${line}}`);
const SHA = /"sha256":"[0-9a-f]{12}/;
const bodyFor = (n) =>
  bodies[n % bodies.length].replace(SHA, `"sha256":"${n.toString(16).padStart(12, "0")}`);

function recordFor(n) {
  return decisionRecord({
    sha256: n.toString(16).padStart(64, "0"),
    fileName: "setup.exe",
    decision: "review",
    rule: "unsigned_new",
    reason: "unsigned and first seen less than 7 days ago",
    matched: ["unsigned_new"],
    ruleset: { revision: "bench", commit: null, dirty: false },
    latencyUs: 3,
  });
}

/** Appends ENTRIES entries in waves of WAVE; returns µs of CPU and of wall time per entry. */
async function run(dir, synchronous, journal) {
  const path = join(dir, "a.db");
  const log = new AuditLog(new SqliteBackend({ path, synchronous, journal }), {
    chain: "bench",
    hmacSecret: null,
    maxBatch: 1000,
  });
  await log.open();
  let n = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (n < ENTRIES) {
    const wave = [];
    for (let i = 0; i < WAVE; i++, n++) wave.push(log.append(recordFor(n), bodyFor(n)));
    await Promise.all(wave);
  }
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const report = await log.verify();
  await log.close();
  if (!report.ok || report.entries !== ENTRIES)
    throw new Error(`the log does not hold ${ENTRIES} verified entries`);
  const result = { cpuUs: (cpu.user + cpu.system) / ENTRIES, wallUs: (wall * 1000) / ENTRIES };
  if (journal) Object.assign(result, await rebuild(path));
  return result;
}

/**
 * The index deleted and rebuilt from the journal by the next open, and the floor beside it:
 * reading every segment and checking the CRC-32 of each record (length, CRC, type, payload).
 */
function rebuild(path) {
  const dir = `${path}.journal`;
  const t0 = performance.now();
  let records = 0;
  for (const name of readdirSync(dir).filter((n) => n.endsWith(".seg"))) {
    const data = readFileSync(join(dir, name));
    for (let at = 32; at + 8 <= data.length; ) {
      const length = data.readUInt32LE(at);
      if (crc32(data.subarray(at + 8, at + 8 + length)) !== data.readUInt32LE(at + 4))
        throw new Error(`${name}: a record fails its checksum`);
      records++;
      at += 8 + length;
    }
  }
  const floorMs = performance.now() - t0;
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
  const t1 = performance.now();
  return new SqliteBackend({ path, synchronous: "full", journal: true })
    .open()
    .then(() => ({ rebuildMs: performance.now() - t1, floorMs, records }));
}

const scenarios = [
  {
    id: "full",
    label: "audit log, SQLite alone inline, synchronous full",
    synchronous: "full",
    journal: false,
  },
  {
    id: "normal",
    label: "audit log, SQLite alone inline, synchronous normal",
    synchronous: "normal",
    journal: false,
  },
  {
    id: "journal",
    label: "audit log, journal inline (appended, synced, then indexed on this thread)",
    synchronous: "full",
    journal: true,
  },
];
const results = Object.fromEntries(scenarios.map((s) => [s.id, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const s of scenarios) {
    const dir = mkdtempSync(join(tmpdir(), "clearance-storage-"));
    try {
      results[s.id].push(await run(dir, s.synchronous, s.journal));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

const env = environment();
console.log("# Audit storage: one entry, no HTTP");
console.log("");
console.log(
  `${ENTRIES.toLocaleString("en")} entries a run in group commits of ${WAVE}, each with a 5 kB ` +
    `input of its own (the server benchmark's request bodies), sealed and written on this ` +
    `thread; medians of ${ROUNDS} rounds. ${env.cpu}, ${env.cores} cores, Node ${process.version}.`,
);
console.log("");
const rows = scenarios.map((s) => {
  const cpu = median(results[s.id].map((r) => r.cpuUs));
  const wall = median(results[s.id].map((r) => r.wallUs));
  return { id: s.id, label: s.label, cpu, wall, perCore: 1e6 / cpu };
});
console.log(
  table(
    ["storage", "CPU µs / entry", "wall µs / entry", "entries/s for one busy core"],
    rows.map((r) => [
      r.label,
      r.cpu.toFixed(0),
      r.wall.toFixed(0),
      Math.round(r.perCore).toLocaleString("en"),
    ]),
    "lrrr",
  ),
);
console.log("");
console.log(
  "CPU covers sealing (input and chain hashes, the canonical body) and SQLite's work; the " +
    "server's writer thread does the same per entry, beside the event loop (with the journal, " +
    "its writer thread appends and syncs, and its follower thread indexes).",
);
const journalRuns = results.journal;
const rebuildMs = median(journalRuns.map((r) => r.rebuildMs));
const floorMs = median(journalRuns.map((r) => r.floorMs));
const rebuilt = {
  records: journalRuns[0].records,
  rebuildMs,
  floorMs,
  ratio: rebuildMs / floorMs,
  entriesPerSecond: (ENTRIES * 1000) / rebuildMs,
};
console.log("");
console.log(
  table(
    ["the journal's index deleted", "ms", "entries/s", "÷ floor"],
    [
      ["floor: every segment read, every record's CRC-32 checked", floorMs.toFixed(0), "", "1.00x"],
      [
        "rebuilt by the next open (every record applied to a new index)",
        rebuildMs.toFixed(0),
        Math.round(rebuilt.entriesPerSecond).toLocaleString("en"),
        `${rebuilt.ratio.toFixed(1)}x`,
      ],
    ],
    "lrrr",
  ),
);
if (args.json)
  writeJson(args.json, {
    benchmark: "storage",
    environment: env,
    entries: ENTRIES,
    rows,
    rebuilt,
  });
