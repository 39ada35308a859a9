#!/usr/bin/env node
// The HTTP server benchmark: `POST /v1/decisions` (and the batch route) against a bare fastify
// app that parses the same body and answers a constant, with the load in another process.
//
//   node bench/server/run.js [--rounds 3] [--duration 10] [--connections 50] [--batch 100]
//        [--count 1000] [--seed 7] [--sizes 3500-4500] [--reuse-inputs] [--scenarios a,b]
//        [--cpu-prof] [--keep] [--quick] [--json out.json]
//
// 1. generates 1,000 canonical results (`gen-history --count 1000 --seed 7`, cached in
//    bench/out/server/) and writes the request bodies: `{"result": ...}` each, and
//    `{"items": [...]}` of 100 of them for the batch route; `--sizes 3500-4500` keeps only results
//    whose JSON is within that many bytes (from a larger generated pool);
// 2. starts one server process per scenario (bench/server/serve.js):
//    - ceiling: bare fastify, `POST /ceiling` answering `{"ok":true}`;
//    - appended (a control): the same route, appending each body to a plain file with one
//      fdatasync per group of requests before answering: the cheapest durable record;
//    - logged (a control): the same route, recording each body in Clearance's audit log (SQLite,
//      synchronous full, the writer thread) before answering: no validation, rules or metrics;
//      logged-pg: the same with the PostgreSQL backend (with CLEARANCE_BENCH_PG);
//    - sqlite-full / sqlite-normal: `POST /v1/decisions`, SQLite audit log, `synchronous` full
//      (the default) / normal;
//    - batch: `POST /v1/decisions/batch`, 100 results a request, SQLite (full);
//    - postgres: `POST /v1/decisions`, PostgreSQL audit log in a fresh schema (dropped at the end),
//      only when CLEARANCE_BENCH_PG (or CLEARANCE_TEST_PG) names a database;
// 3. runs the load (bench/server/load.js: autocannon, 50 connections, in its own process) against
//    each: a calibration and a warm-up, then interleaved rounds of about `--duration` seconds
//    (the order rotates every round). Each round sends a fixed number of requests, estimated from
//    the rate so far, so that every request sent is answered before the round ends; every result
//    gets a fresh sha256 (a new input for the audit log to store) unless --reuse-inputs;
// 4. checks every run: no socket error, no timeout, no answer other than 2xx; then asks each
//    Clearance server to verify its audit log (`POST /v1/audit/verify`): the chain must be intact
//    and hold exactly as many entries as decisions were answered with 2xx, plus the review-case
//    entries (an enforced `review` opens a case: an entry beside its decision; counted from
//    `/metrics`);
// 5. prints medians, ratios to the ceiling, and PASS/MISS for the issue's targets.
// Exits 1 when a run is wrong (errors, non-2xx answers, audit entries missing or extra), not for
// a missed target.

import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  BENCH_DIR,
  environment,
  fmtMs,
  fmtRate,
  GEN_HISTORY,
  generateHistory,
  median,
  outDir,
  table,
  writeJson,
} from "../lib/harness.js";
import {
  autocannonVersion,
  exitIfFailed,
  groupCommits,
  loadProblems,
  OPTIONS,
  post,
  reportProblems,
  runLoad as runLoadProcess,
  SERVER_DIST,
  startServer,
  stopServers,
  wantedScenarios,
} from "./processes.js";

const { values: args } = parseArgs({
  options: {
    ...OPTIONS,
    batch: { type: "string", default: "100" },
    count: { type: "string", default: "1000" },
    seed: { type: "string", default: "7" },
    sizes: { type: "string" },
    "reuse-inputs": { type: "boolean", default: false },
  },
});
const ROUNDS = Number(args.rounds ?? 3);
const DURATION_S = Number(args.duration ?? (args.quick ? 3 : 10));
const WARMUP_S = Number(args.warmup ?? (args.quick ? 1 : 3));
const CONNECTIONS = Number(args.connections);
const BATCH = Number(args.batch);
const COUNT = Number(args.count);
const SEED = Number(args.seed);
const UNIQUE = !args["reuse-inputs"];
const SIZES = args.sizes?.split("-").map(Number);
const PG_URL = process.env.CLEARANCE_BENCH_PG || process.env.CLEARANCE_TEST_PG || undefined;

const TARGETS = {
  sqliteRatio: 0.6,
  // the journal's issue: p99 at most this many times the ceiling's, measured in the same run
  sqliteP99Ceilings: 3,
  sqliteP99Ms: 10,
  batchDecisions: 50_000,
  pgRatio: 0.4,
};

const log = (...xs) => console.log(...xs);
const progress = (s) => process.stderr.isTTY && process.stderr.write(`${s}\x1b[K\r`);
const int = (n) => Math.round(n).toLocaleString("en");
const ms = (x) => (Number.isFinite(x) ? x.toFixed(x >= 10 ? 1 : 2) : "n/a");
const pct = (x) => `${(x * 100).toFixed(0)}%`;

const REPO = resolve(BENCH_DIR, "..");
const GEN = GEN_HISTORY;
for (const f of [GEN, SERVER_DIST]) {
  if (!existsSync(f)) {
    console.error(`${f} is missing: run \`pnpm build\``);
    process.exit(1);
  }
}
const DIR = outDir("server");
const RUN_DIR = outDir("server", `run-${process.pid}`);
const PROF_DIR = resolve(DIR, "prof");

// ---------------------------------------------------------------- data
function generate(count, seed, file) {
  if (!existsSync(file)) progress(`generating ${int(count)} results...`);
  generateHistory(count, seed, file);
}

/** `count` results as JSON lines: the first ones generated, or the first within `SIZES`. */
function results() {
  if (!SIZES) {
    const file = resolve(DIR, `results-${COUNT}-s${SEED}.ndjson`);
    generate(COUNT, SEED, file);
    return { lines: readFileSync(file, "utf8").split("\n").filter(Boolean), pool: COUNT };
  }
  const [lo, hi] = SIZES;
  const pool = COUNT * 100;
  const file = resolve(DIR, `results-${pool}-s${SEED}.ndjson`);
  generate(pool, SEED, file);
  const all = readFileSync(file, "utf8").split("\n").filter(Boolean);
  const lines = all.filter((l) => Buffer.byteLength(l) >= lo && Buffer.byteLength(l) <= hi);
  if (lines.length < COUNT) {
    console.error(`only ${lines.length} of ${int(pool)} results are ${lo}-${hi} bytes`);
    process.exit(1);
  }
  return { lines: lines.slice(0, COUNT), pool };
}

const data = results();
const singles = data.lines.map((line) => `{"result":${line}}`);
for (const body of singles) {
  if (!body.startsWith('{"result":{"sha256":"'))
    throw new Error("a result does not start with sha256");
}
const batches = [];
for (let i = 0; i + BATCH <= singles.length; i += BATCH) {
  batches.push(`{"items":[${singles.slice(i, i + BATCH).join(",")}]}`);
}
if (batches.length === 0) throw new Error(`--count ${COUNT} is smaller than --batch ${BATCH}`);
const tag = `${COUNT}-s${SEED}${SIZES ? `-${SIZES.join("-")}` : ""}`;
const SINGLE_FILE = resolve(DIR, `bodies-${tag}.ndjson`);
const BATCH_FILE = resolve(DIR, `batch-${BATCH}-${tag}.ndjson`);
writeFileSync(SINGLE_FILE, `${singles.join("\n")}\n`);
writeFileSync(BATCH_FILE, `${batches.join("\n")}\n`);
const sizes = singles.map((b) => Buffer.byteLength(b));
const meanBody = sizes.reduce((a, b) => a + b, 0) / sizes.length;
const meanBatch = batches.reduce((a, b) => a + Buffer.byteLength(b), 0) / batches.length;

// ---------------------------------------------------------------- scenarios
const pgSchema = `bench_${Date.now().toString(36)}_${process.pid}`;
function clearance(id, audit) {
  return {
    kind: "clearance",
    config: {
      server: { host: "127.0.0.1", port: 0, logLevel: "silent", batchLimit: Math.max(BATCH, 1000) },
      rules: { dir: resolve(REPO, "rules"), watch: false },
      audit: audit ?? { backend: "sqlite", sqlite: { path: resolve(RUN_DIR, `${id}.db`) } },
    },
  };
}
const ALL = [
  {
    id: "ceiling",
    label: "ceiling: bare fastify, `POST` parsing the body, answering `{ok:true}`",
    server: { kind: "ceiling" },
    path: "/ceiling",
    bodies: SINGLE_FILE,
    items: 1,
    constant: true,
  },
  {
    id: "appended",
    label:
      "control: the bare route, also appending each body to a plain file (one fdatasync a group) before answering",
    server: { kind: "appended-ceiling", path: resolve(RUN_DIR, "appended.ndjson") },
    path: "/ceiling",
    bodies: SINGLE_FILE,
    items: 1,
    constant: true,
  },
  {
    id: "logged",
    label:
      "control: the bare route, also recording each body in the audit log (SQLite, full) before answering",
    server: { kind: "logged-ceiling", path: resolve(RUN_DIR, "logged.db") },
    path: "/ceiling",
    bodies: SINGLE_FILE,
    items: 1,
    constant: true,
  },
  {
    id: "journaled",
    label:
      "control: the bare route, also recording each body in the audit log's journal (SQLite indexing it behind) before answering",
    server: { kind: "logged-ceiling", path: resolve(RUN_DIR, "journaled.db"), journal: true },
    path: "/ceiling",
    bodies: SINGLE_FILE,
    items: 1,
    constant: true,
  },
  {
    id: "sqlite-full",
    label: "`POST /v1/decisions`, SQLite with its journal, synchronous full (default)",
    server: clearance("sqlite-full"),
    path: "/v1/decisions",
    bodies: SINGLE_FILE,
    items: 1,
  },
  {
    id: "sqlite-only",
    label: "`POST /v1/decisions`, SQLite without a journal (`audit.sqlite.journal.enabled: false`)",
    server: clearance("sqlite-only", {
      backend: "sqlite",
      sqlite: { path: resolve(RUN_DIR, "sqlite-only.db"), journal: { enabled: false } },
    }),
    path: "/v1/decisions",
    bodies: SINGLE_FILE,
    items: 1,
  },
  {
    id: "sqlite-normal",
    label: "`POST /v1/decisions`, SQLite, synchronous normal",
    server: clearance("sqlite-normal", {
      backend: "sqlite",
      sqlite: { path: resolve(RUN_DIR, "sqlite-normal.db"), synchronous: "normal" },
    }),
    path: "/v1/decisions",
    bodies: SINGLE_FILE,
    items: 1,
  },
  {
    id: "batch",
    label: `\`POST /v1/decisions/batch\`, ${BATCH} results a request, SQLite (full)`,
    server: clearance("batch"),
    path: "/v1/decisions/batch",
    bodies: BATCH_FILE,
    items: BATCH,
  },
  {
    id: "logged-pg",
    label: "control: the bare route, also recording each body in the audit log (PostgreSQL)",
    server: PG_URL
      ? { kind: "logged-ceiling", postgres: { url: PG_URL, schema: `${pgSchema}_control` } }
      : undefined,
    path: "/ceiling",
    bodies: SINGLE_FILE,
    items: 1,
    constant: true,
  },
  {
    id: "postgres",
    label: "`POST /v1/decisions`, PostgreSQL",
    server: PG_URL
      ? clearance("postgres", { backend: "postgres", postgres: { url: PG_URL, schema: pgSchema } })
      : undefined,
    path: "/v1/decisions",
    bodies: SINGLE_FILE,
    items: 1,
  },
];
const wanted = wantedScenarios(ALL, args.scenarios);
const chosen = ALL.filter((s) => !wanted || wanted.includes(s.id) || s.id === "ceiling");
const scenarios = chosen.filter((s) => s.server);
const pgSkipped = chosen.some((s) => s.id === "postgres" && !s.server);

// ---------------------------------------------------------------- processes
/** Newlines in a file, read in blocks (it may be larger than a string can be). */
function countLines(path) {
  const fd = openSync(path, "r");
  const block = Buffer.alloc(1 << 20);
  let lines = 0;
  try {
    for (let n = readSync(fd, block); n > 0; n = readSync(fd, block))
      for (let at = block.indexOf(10); at !== -1 && at < n; at = block.indexOf(10, at + 1)) lines++;
  } finally {
    closeSync(fd);
  }
  return lines;
}

/**
 * The review-case entries in a Clearance server's log, from `GET /metrics`: an enforced `review`
 * opens a case (an entry beside the decision), a case closed has a second entry.
 */
async function caseEntries(s) {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const open = Number(/^clearance_review_cases_open (\S+)$/m.exec(text)?.[1] ?? 0);
  let closed = 0;
  for (const m of text.matchAll(/^clearance_review_cases_closed_total\{[^}]*\} (\S+)$/gm))
    closed += Number(m[1]);
  return { open, closed, entries: open + 2 * closed };
}

/** The audit log's group-commit counters from `GET /metrics` (Clearance servers only). */
async function commitCounters(s) {
  if (s.server.kind !== "clearance") return undefined;
  return groupCommits(await (await fetch(`${s.url}/metrics`)).text());
}

/** One load run of `amount` requests against scenario `s`; returns load.js's figures. */
async function runLoad(s, amount) {
  const spec = {
    url: s.url,
    path: s.path,
    bodies: s.bodies,
    items: s.items,
    connections: CONNECTIONS,
    amount,
    unique: UNIQUE,
  };
  const counters0 = await commitCounters(s);
  const r = await runLoadProcess(s, spec);
  const counters1 = await commitCounters(s);
  if (counters0 && counters1) {
    r.commits = counters1.commits - counters0.commits;
    r.commitEntries = counters1.entries - counters0.entries;
    r.commitSeconds = counters1.seconds - counters0.seconds;
  }
  return r;
}

const problems = [];
/** Records what is wrong with a load run; returns the decisions it got answered. */
function check(s, r, what) {
  const wrong = loadProblems(r);
  if (wrong.length) problems.push(`${s.id}, ${what}: ${wrong.join(", ")}`);
  return r.ok * s.items;
}

/** Requests for about `seconds` at `rate` req/s: a multiple of the connections. */
const amountFor = (rate, seconds) =>
  Math.max(2, Math.round((rate * seconds) / CONNECTIONS)) * CONNECTIONS;

// ---------------------------------------------------------------- run
const env = environment();
const load0 = loadavg();
const mix = {};
const verified = [];
let fatal;
try {
  for (const s of scenarios) {
    progress(`starting ${s.id}...`);
    const profDir = args["cpu-prof"] ? PROF_DIR : undefined;
    Object.assign(s, await startServer(s.id, s.server, { profDir }), { decided: 0, runs: [] });
    // sanity: the route answers as expected (and these decisions are recorded too)
    const bodies = s.items === 1 ? singles : batches;
    const n = s.id === "sqlite-full" ? bodies.length : Math.min(bodies.length, 10);
    for (const body of bodies.slice(0, n)) {
      const { status, json } = await post(`${s.url}${s.path}`, body);
      const answers = s.constant ? [] : s.items === 1 ? [json] : json.items;
      const bad =
        status !== 200 ||
        (s.constant
          ? json.ok !== true
          : answers.length !== s.items ||
            answers.some((a) => !["allow", "deny", "review"].includes(a.decision)));
      if (bad) throw new Error(`${s.id}: unexpected answer ${status} ${JSON.stringify(json)}`);
      if (s.id === "sqlite-full")
        for (const a of answers) mix[a.decision] = (mix[a.decision] ?? 0) + 1;
      if (s.id !== "ceiling") s.decided += s.items;
    }
  }

  const versions = new Set(scenarios.map((s) => s.fastify));
  if (versions.size !== 1)
    throw new Error(`the servers run different fastify versions: ${[...versions].join(", ")}`);

  // calibration and warm-up
  for (const s of scenarios) {
    progress(`warm-up: ${s.id}`);
    const first = await runLoad(s, CONNECTIONS * (s.items === 1 ? 20 : 2));
    s.decided += check(s, first, "calibration");
    const warm = await runLoad(s, amountFor(first.rps, WARMUP_S));
    s.decided += check(s, warm, "warm-up");
    s.rate = warm.rps;
  }

  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < scenarios.length; k++) {
      const s = scenarios[(k + round) % scenarios.length];
      progress(`round ${round + 1}/${ROUNDS}: ${s.id}`);
      const r = await runLoad(s, amountFor(s.rate, DURATION_S));
      s.decided += check(s, r, `round ${round + 1}`);
      s.runs.push(r);
      s.rate = median(s.runs.map((x) => x.rps));
    }
  }

  // the audit logs: intact, and exactly one entry per decision answered
  for (const s of scenarios) {
    if (s.id === "ceiling") continue;
    if (s.server.kind === "appended-ceiling") {
      // closed first, so that every append is flushed: one line per request answered
      s.child.kill("SIGTERM");
      await s.exited;
      const lines = countLines(s.server.path);
      verified.push({
        id: s.id,
        decided: s.decided,
        cases: 0,
        ok: true,
        entries: lines,
        verifyMs: 0,
      });
      if (lines !== s.decided)
        problems.push(`${s.id}: the file holds ${int(lines)} lines for ${int(s.decided)} answers`);
      continue;
    }
    progress(`verifying the audit log of ${s.id}...`);
    const t0 = performance.now();
    const { status, json } = await post(`${s.url}/v1/audit/verify`);
    const verifyMs = performance.now() - t0;
    const cases =
      s.server.kind === "clearance" ? await caseEntries(s) : { open: 0, closed: 0, entries: 0 };
    verified.push({
      id: s.id,
      decided: s.decided,
      cases: cases.open + cases.closed,
      status,
      ...json,
      verifyMs,
    });
    if (status !== 200 || json.ok !== true)
      problems.push(`${s.id}: the audit log does not verify (${status} ${JSON.stringify(json)})`);
    else if (json.entries !== s.decided + cases.entries)
      problems.push(
        `${s.id}: the audit log holds ${int(json.entries)} entries for ${int(s.decided)} decisions answered with 2xx and ${int(cases.entries)} review-case entries`,
      );
  }
} catch (error) {
  fatal = error;
} finally {
  await stopServers(scenarios, problems);
  if (PG_URL && scenarios.some((s) => s.id === "postgres" || s.id === "logged-pg")) {
    try {
      const { default: pg } = await import("pg");
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${pgSchema} CASCADE`);
      await client.query(`DROP SCHEMA IF EXISTS ${pgSchema}_control CASCADE`);
      await client.end();
    } catch (error) {
      problems.push(`could not drop the PostgreSQL schema ${pgSchema}: ${error.message}`);
    }
  }
  if (!args.keep) rmSync(RUN_DIR, { recursive: true, force: true });
  progress("");
}
const load1 = loadavg();
exitIfFailed(fatal, problems);

// ---------------------------------------------------------------- report
const acVersion = autocannonVersion();
const byId = Object.fromEntries(scenarios.map((s) => [s.id, s]));
const ceiling = byId.ceiling;
const ceilingRps = median(ceiling.runs.map((r) => r.rps));
const rows = scenarios.map((s) => {
  const rps = s.runs.map((r) => r.rps);
  const m = median(rps);
  const wall = (r) => r.elapsedMs;
  return {
    id: s.id,
    label: s.label,
    rps: m,
    decisions: m * s.items,
    min: Math.min(...rps),
    max: Math.max(...rps),
    ratio: m / ceilingRps,
    roundRatio: median(s.runs.map((r, i) => r.rps / ceiling.runs[i].rps)),
    p50: median(s.runs.map((r) => r.latency.p50)),
    p99: median(s.runs.map((r) => r.latency.p99)),
    p99max: Math.max(...s.runs.map((r) => r.latency.p99)),
    seconds: median(s.runs.map(wall)) / 1000,
    serverCpu: median(s.runs.map((r) => r.serverCpuMs / wall(r))),
    loadCpu: median(s.runs.map((r) => r.cpuMs / wall(r))),
    errors: s.runs.reduce((n, r) => n + r.errors + r.timeouts + r.non2xx, 0),
    perCommit: median(s.runs.map((r) => r.commitEntries / r.commits)),
    msPerCommit: median(s.runs.map((r) => (r.commitSeconds * 1000) / r.commits)),
    commitShare: median(s.runs.map((r) => (r.commitSeconds * 1000) / wall(r))),
  };
});
const row = (id) => rows.find((r) => r.id === id);

log("# Server benchmark: HTTP decisions with the audit log");
log("");
log(
  `${int(COUNT)} generated results (\`gen-history --count ${COUNT} --seed ${SEED}\`` +
    `${SIZES ? `, the first ${int(COUNT)} of ${int(data.pool)} whose JSON is ${SIZES[0]}-${SIZES[1]} bytes` : ""}), ` +
    `request bodies of ${(meanBody / 1000).toFixed(2)} kB on average ` +
    `(${(Math.min(...sizes) / 1000).toFixed(1)}-${(Math.max(...sizes) / 1000).toFixed(1)} kB), ` +
    `batch bodies of ${BATCH} results ${(meanBatch / 1000).toFixed(0)} kB; ` +
    (UNIQUE
      ? "every result in every request with a fresh sha256 (a new input for the audit log). "
      : "the same 1,000 inputs repeated (the audit log stores each input once). ") +
    `Load: autocannon ${acVersion}, ${CONNECTIONS} connections, in its own process; each server in ` +
    `its own process (fastify ${ceiling.fastify}). ${env.cpu}, ${env.cores} cores, Node ` +
    `${process.version}; load average ${load0[0].toFixed(1)} before, ${load1[0].toFixed(1)} after. ` +
    `Medians of ${ROUNDS} interleaved rounds of about ${DURATION_S} s (order rotating, after a ` +
    `${WARMUP_S} s warm-up each).`,
);
log("");
log(
  `Decisions of the ${int(singles.length)} results (live \`rules/\`): ` +
    Object.entries(mix)
      .sort()
      .map(([d, n]) => `${d} ${int(n)}`)
      .join(", ") +
    ".",
);
log("");
log(
  table(
    [
      "scenario",
      "req/s",
      "decisions/s",
      "÷ ceiling",
      "p50 ms",
      "p99 ms",
      "min – max req/s",
      "server CPU",
      "load CPU",
      "errors + non-2xx",
    ],
    rows.map((r) => [
      r.label,
      fmtRate(r.rps),
      byId[r.id].constant ? "" : fmtRate(r.decisions),
      r.id === "batch" ? "" : pct(r.ratio),
      ms(r.p50),
      ms(r.p99),
      `${fmtRate(r.min)} – ${fmtRate(r.max)}`,
      pct(r.serverCpu),
      pct(r.loadCpu),
      String(r.errors),
    ]),
    "lrrrrrrrrr",
  ),
);
log("");
if (pgSkipped)
  log(
    "PostgreSQL: skipped (set CLEARANCE_BENCH_PG=postgres://postgres@127.0.0.1:5432/test to run it).",
  );
log(
  `Latencies are measured by the load process from each request written to its answer parsed ` +
    `(all rounds' medians; worst round's p99 for SQLite full: ${ms(row("sqlite-full")?.p99max)} ms). ` +
    `"server CPU", "load CPU": CPU time of that process over the round's wall time (100% = one ` +
    "core; the machine has " +
    `${env.cores}).`,
);
log("");
const logged = row("logged");
const appended = row("appended");
const sq0 = row("sqlite-full");
if (appended)
  log(
    `The \`appended\` control records each body durably in the cheapest way there is (a plain file, ` +
      `one write and one fdatasync per group of requests): ${pct(appended.ratio)} of the ceiling ` +
      `(per round ${pct(appended.roundRatio)}).`,
  );
if (logged)
  log(
    `The control (\`logged\`) is the bare route plus only what any server keeping this audit log ` +
      "must do per request: record the body durably (the same SQLite schema and writer thread, " +
      "synchronous full, group commits) before answering; no validation, rules, metrics or " +
      `decision answer. It reaches ${pct(logged.ratio)} of the ceiling (per round ` +
      `${pct(logged.roundRatio)}): the most a server recording every request in this log can reach ` +
      `on this machine.${sq0 ? ` \`POST /v1/decisions\` reaches ${pct(sq0.rps / logged.rps)} of the control.` : ""}`,
  );
const loggedPg = row("logged-pg");
const pg0 = row("postgres");
if (loggedPg)
  log(
    `With PostgreSQL the same control (\`logged-pg\`) reaches ${pct(loggedPg.ratio)} of the ceiling ` +
      `(per round ${pct(loggedPg.roundRatio)})` +
      `${pg0 ? `, and \`POST /v1/decisions\` on PostgreSQL ${pct(pg0.rps / loggedPg.rps)} of it` : ""}.`,
  );
log("");
const audited = rows.filter((r) => r.id !== "ceiling");
const commitRow = (id) => audited.find((r) => r.id === id);
log(
  table(
    [
      "audit log",
      "decisions answered 2xx",
      "review cases opened",
      "entries (verify)",
      "chain",
      "verify took",
      "entries per group commit",
      "ms per group commit",
      "group commits ÷ wall time",
    ],
    verified.map((v) => {
      const c = commitRow(v.id);
      return [
        v.id,
        int(v.decided),
        int(v.cases),
        Number.isFinite(v.entries) ? int(v.entries) : "n/a",
        v.ok ? "intact" : "BROKEN",
        fmtMs(v.verifyMs),
        c && Number.isFinite(c.perCommit) ? c.perCommit.toFixed(1) : "",
        c && Number.isFinite(c.msPerCommit) ? ms(c.msPerCommit) : "",
        c && Number.isFinite(c.commitShare) ? pct(c.commitShare) : "",
      ];
    }),
    "lrrrlrrrr",
  ),
);
log("");
log(
  "Group commits (from the server's `/metrics`, medians of the rounds): the entries that arrived " +
    "while the previous transaction ran are written together in the next, one transaction at a " +
    "time. With SQLite the writer thread seals and commits them, off the event loop: the share of " +
    "the wall time is how busy that thread is. With PostgreSQL the log seals on the event loop and " +
    "one writer connection commits: the share is how busy that connection is.",
);
log("");

const verdict = (pass) => (pass === undefined ? "n/a" : pass ? "PASS" : "MISS");
const targets = [];
const sq = row("sqlite-full");
if (sq) {
  targets.push([
    `decisions with SQLite ≥ ${pct(TARGETS.sqliteRatio)} of the ceiling`,
    `${pct(sq.ratio)} (median of per-round ratios ${pct(sq.roundRatio)})`,
    verdict(sq.ratio >= TARGETS.sqliteRatio),
  ]);
  const ceilingP99 = row("ceiling").p99;
  targets.push([
    `decisions with SQLite: p99 ≤ ${TARGETS.sqliteP99Ceilings}× the ceiling's p99`,
    `${ms(sq.p99)} ms, ${(sq.p99 / ceilingP99).toFixed(2)}× the ceiling's ${ms(ceilingP99)} ms`,
    verdict(sq.p99 <= TARGETS.sqliteP99Ceilings * ceilingP99),
  ]);
  targets.push([
    `decisions with SQLite: p99 < ${TARGETS.sqliteP99Ms} ms`,
    `${ms(sq.p99)} ms`,
    verdict(sq.p99 < TARGETS.sqliteP99Ms),
  ]);
}
const b = row("batch");
if (b)
  targets.push([
    `batch of ${BATCH} ≥ ${int(TARGETS.batchDecisions)} decisions/s`,
    `${int(b.decisions)}/s`,
    verdict(b.decisions >= TARGETS.batchDecisions),
  ]);
const p = row("postgres");
if (p || pgSkipped)
  targets.push([
    `PostgreSQL ≥ ${pct(TARGETS.pgRatio)} of the ceiling`,
    p ? `${pct(p.ratio)} (median of per-round ratios ${pct(p.roundRatio)})` : "skipped",
    p ? verdict(p.ratio >= TARGETS.pgRatio) : "n/a",
  ]);
log(table(["target", "measured", "result"], targets, "lrl"));

if (args["cpu-prof"]) log(`\nCPU profiles of the servers: ${PROF_DIR}/`);
reportProblems(problems);

if (args.json) {
  writeJson(args.json, {
    count: COUNT,
    seed: SEED,
    sizes: SIZES ?? null,
    unique: UNIQUE,
    meanBodyBytes: meanBody,
    meanBatchBytes: meanBatch,
    connections: CONNECTIONS,
    rounds: ROUNDS,
    durationS: DURATION_S,
    autocannon: acVersion,
    fastify: ceiling.fastify,
    mix,
    scenarios: scenarios.map((s) => ({ id: s.id, label: s.label, items: s.items, runs: s.runs })),
    summary: rows,
    audit: verified,
    problems,
    loadavg: { before: load0, after: load1 },
    environment: env,
  });
}
