#!/usr/bin/env node
// The platform-client benchmark: `PlatformClient.upload` of a large file to the simulator on
// loopback, against `sha256sum` of the same file plus a raw streamed PUT measured in the same
// run; then `listFiles` over 100,000 files in pages.
//
//   node bench/client/run.js [--quick] [--rounds 3] [--size-mib 1024] [--files 100000]
//        [--limit 1000] [--no-upload] [--no-list] [--profile] [--wait-quiet] [--json out.json]
//
// 1. writes bench/out/client/upload-<size>MiB.bin once (random bytes; reused when present):
//    1 GiB, --quick 256 MiB;
// 2. runs interleaved rounds (3; the order rotates every round), each step in a process of its own:
//    - `sha256sum <file>` (coreutils, timed from spawn to exit);
//    - the client's `hashFile` (for information: Node's SHA-256 against coreutils');
//    - a raw streamed PUT: POST /v1/upload for an upload URL, then undici `request` with a
//      `fs.createReadStream` body and content-length (timed: both requests), reading 1 MiB at a
//      time as the client does; and the same with Node's default 64 KiB (for information: slower
//      here, so not the baseline);
//    - for information, the same by hand in one process: node:crypto over a stream, then the PUT;
//    - `client.upload(file)`: hash, GET /v1/files/{sha256}, POST /v1/upload, PUT, complete;
//    - the same with `onProgress` (its calls split the time: before the PUT, the PUT, after);
//    every PUT goes to a simulator started for it alone (bench/client/sim.js, its own process,
//    127.0.0.1, analysisDelayMs 0), so the client never finds the file known and skips it. The
//    baseline is sha256sum + raw PUT (the client must hash, then send); throughput = bytes / time.
//    The upload processes report their peak RSS (`process.resourceUsage().maxRSS`);
// 3. starts a simulator seeded with 100,000 completed files (--quick: 20,000) and times
//    `for await (const f of client.listFiles({limit: 1000}))` over all of them in another process
//    (bench/client/list.js): results/s, pages, where a page's time goes (the simulator's own time
//    per request, measured in the simulator's process); checks the count and that no file repeats;
//    then again with the client's result cache off (`cache: false`), to show what the cache holds;
// 4. prints Markdown with PASS/MISS for the targets (client >= 80% of the baseline's throughput,
//    client peak RSS < 150 MB). Exits 1 when a run is wrong (a hash, a count), not for a MISS.
//
// --profile: one more client upload under `node --cpu-prof`, and the listFiles process under it
// too, with the functions that took the most time (profiles in bench/out/client/prof/).
// --wait-quiet: first waits (up to 10 minutes) for a 1-minute load average below 1.0.

import { spawn } from "node:child_process";
import { randomFillSync } from "node:crypto";
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from "node:fs";
import { cpus, loadavg } from "node:os";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import {
  BENCH_DIR,
  environment,
  fmtMs,
  fmtRate,
  median,
  outDir,
  table,
  writeJson,
} from "../lib/harness.js";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    rounds: { type: "string", default: "3" },
    "size-mib": { type: "string" },
    files: { type: "string" },
    limit: { type: "string", default: "1000" },
    "no-upload": { type: "boolean", default: false },
    "no-list": { type: "boolean", default: false },
    profile: { type: "boolean", default: false },
    "wait-quiet": { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const ROUNDS = Number(args.rounds);
const SIZE_MIB = Number(args["size-mib"] ?? (args.quick ? 256 : 1024));
const FILES = Number(args.files ?? (args.quick ? 20_000 : 100_000));
const LIMIT = Number(args.limit);
const TARGET_RATIO = 0.8;
const TARGET_RSS_MB = 150;
const verdict = (pass) => (pass ? "PASS" : "MISS");

const log = (...xs) => console.log(...xs);
const note = (s) => process.stderr.write(`[client bench] ${s}\n`);
const int = (n) => n.toLocaleString("en");
const mb = (kb) => kb / 1024;
const mbps = (bytes, ms) => bytes / 1e6 / (ms / 1000);

const HERE = resolve(BENCH_DIR, "client");
const SIM = resolve(HERE, "sim.js");
const UPLOAD = resolve(HERE, "upload.js");
const LIST = resolve(HERE, "list.js");
const OUT = outDir("client");
const PROF_DIR = resolve(OUT, "prof");
for (const pkg of ["client", "platform-sim"]) {
  const dist = resolve(BENCH_DIR, "..", "packages", pkg, "dist/index.js");
  if (!existsSync(dist)) {
    console.error(`${dist} is missing: run \`pnpm build\``);
    process.exit(1);
  }
}
const problems = [];

// ---------------------------------------------------------------- quiet machine
const load1 = () => loadavg()[0];
const loadBefore = loadavg();
let waitedQuietMs = 0;
if (args["wait-quiet"]) {
  const t0 = performance.now();
  while (load1() >= 1.0 && performance.now() - t0 < 600_000) {
    note(`waiting for a quiet machine: 1-minute load ${load1().toFixed(2)}`);
    await new Promise((r) => setTimeout(r, 15_000));
  }
  waitedQuietMs = performance.now() - t0;
}
const loadAtStart = loadavg();

// ---------------------------------------------------------------- processes
/** Runs a process to its end: {code, ms (spawn to exit), stdout, stderr}. */
function runProcess(cmd, argv) {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s) => (stderr += s));
    child.on("error", fail);
    child.on("close", (code, signal) =>
      done({ code, signal, ms: performance.now() - t0, stdout, stderr }),
    );
  });
}

/** Runs a node script that prints one JSON line; throws with its stderr if it fails. */
async function runJson(script, argv, nodeArgs = []) {
  const r = await runProcess(process.execPath, [...nodeArgs, script, ...argv]);
  const last = r.stdout.trim().split("\n").at(-1);
  if (r.code !== 0 || !last) {
    throw new Error(
      `${script} ${argv.join(" ")}: ${r.signal ?? `exit ${r.code}`}\n${r.stderr.trim()}`,
    );
  }
  return { ...JSON.parse(last), wallMs: r.ms };
}

/**
 * Starts bench/client/sim.js; resolves once it listens. `stats()` resolves with its figures so far
 * (and restarts its per-route counts); `stop()` with its final figures.
 */
function startSim(extra = []) {
  return new Promise((ready, fail) => {
    const child = spawn(process.execPath, [SIM, ...extra], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const lines = createInterface({ input: child.stdout });
    let started = false;
    let finalLine;
    let waiting;
    lines.on("line", (line) => {
      const msg = JSON.parse(line);
      if (!started) {
        started = true;
        ready({
          url: msg.url,
          startMs: msg.startMs,
          stats() {
            return new Promise((got) => {
              waiting = got;
              child.stdin.write("stats\n");
            });
          },
          stop() {
            return new Promise((stopped) => {
              child.on("close", () => stopped(finalLine ?? {}));
              child.stdin.end();
            });
          },
        });
      } else if (msg.done) finalLine = msg;
      else if (msg.stats && waiting) {
        waiting(msg);
        waiting = undefined;
      }
    });
    child.on("error", fail);
    child.on("exit", (code) => {
      if (!started) fail(new Error(`the simulator exited (${code}) before listening`));
    });
  });
}

// ---------------------------------------------------------------- the file
function ensureFile(mib) {
  const file = resolve(OUT, `upload-${mib}MiB.bin`);
  const bytes = mib * 1024 * 1024;
  if (existsSync(file) && statSync(file).size === bytes) return { file, bytes, generatedMs: 0 };
  note(`writing ${mib} MiB of random bytes to ${file}...`);
  const t0 = performance.now();
  const part = `${file}.part`;
  const fd = openSync(part, "w");
  const chunk = Buffer.allocUnsafe(8 * 1024 * 1024);
  try {
    for (let left = bytes; left > 0; left -= chunk.length) {
      const n = Math.min(left, chunk.length);
      randomFillSync(chunk, 0, n);
      writeSync(fd, chunk, 0, n);
    }
  } finally {
    closeSync(fd);
  }
  renameSync(part, file);
  return { file, bytes, generatedMs: performance.now() - t0 };
}

// ---------------------------------------------------------------- CPU profiles
/** The functions with the most self time in a .cpuprofile: [{name, ms, share}]. */
function topFunctions(path, n = 12) {
  const prof = JSON.parse(readFileSync(path, "utf8"));
  const byId = new Map(prof.nodes.map((node) => [node.id, node]));
  const self = new Map();
  const deltas = prof.timeDeltas;
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = (deltas[i + 1] ?? 0) / 1000;
    const node = byId.get(prof.samples[i]);
    const cf = node.callFrame;
    const where = cf.url
      ? `${cf.url.replace(/^.*\/(node_modules|packages)\//, "")}:${cf.lineNumber + 1}`
      : "";
    const key = `${cf.functionName || "(anonymous)"}${where ? ` ${where}` : ""}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, ms]) => ({ name, ms, share: ms / total }));
}

function newestProfile(prefix) {
  const files = readdirSync(PROF_DIR)
    .filter((f) => f.startsWith(prefix) && f.endsWith(".cpuprofile"))
    .map((f) => ({ f, t: statSync(resolve(PROF_DIR, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  return files[0] && resolve(PROF_DIR, files[0].f);
}

function profileArgs(name) {
  return [
    "--cpu-prof",
    "--cpu-prof-dir",
    PROF_DIR,
    "--cpu-prof-name",
    `${name}-${Date.now()}.cpuprofile`,
  ];
}

// ---------------------------------------------------------------- upload rounds
const STEPS = ["sha256sum", "hash", "raw", "raw64", "hashraw", "client", "progress"];
const runs = Object.fromEntries(STEPS.map((s) => [s, []]));
let data;
let expectedSha;
let uploadProfile;

async function step(name) {
  if (name === "sha256sum") {
    const r = await runProcess("sha256sum", [data.file]);
    const sha = r.stdout.split(/\s/)[0];
    if (r.code !== 0 || sha !== expectedSha) problems.push(`sha256sum answered ${r.stdout}`);
    return { ms: r.ms };
  }
  if (name === "hash") {
    const r = await runJson(UPLOAD, ["--mode", "hash", "--file", data.file]);
    if (r.sha256 !== expectedSha) problems.push(`hashFile answered ${r.sha256}`);
    return r;
  }
  const sim = await startSim();
  try {
    const mode = name === "raw64" ? "raw" : name;
    const argv = ["--mode", mode, "--url", sim.url, "--file", data.file];
    // The baseline reads the file in 1 MiB chunks, as the client does (faster than Node's 64 KiB
    // default on this machine); raw64 keeps the default, for information.
    if (name === "raw") argv.push("--sha256", expectedSha, "--read-chunk", String(1024 * 1024));
    if (name === "raw64") argv.push("--sha256", expectedSha);
    const r = await runJson(UPLOAD, argv);
    if (mode === "hashraw" && r.sha256 !== expectedSha)
      problems.push(`hashraw: hashed ${r.sha256}`);
    if (
      (mode === "client" || mode === "progress") &&
      (r.result?.sha256 !== expectedSha || r.result?.size !== data.bytes)
    )
      problems.push(`${name}: the upload answered ${JSON.stringify(r.result)}`);
    return { ...r, sim: await sim.stop() };
  } catch (error) {
    await sim.stop();
    throw error;
  }
}

if (!args["no-upload"]) {
  data = ensureFile(SIZE_MIB);
  // Reads the file once (into the page cache, like every later read) and gives the hash to check.
  note("sha256sum (warm-up)...");
  const warm = await runProcess("sha256sum", [data.file]);
  expectedSha = warm.stdout.split(/\s/)[0];
  note("client upload (warm-up)...");
  await step("client");
  for (let round = 0; round < ROUNDS; round++) {
    const order = STEPS.map((_, i) => STEPS[(i + round) % STEPS.length]);
    for (const name of order) {
      note(`round ${round + 1}/${ROUNDS}: ${name}...`);
      runs[name].push(await step(name));
    }
  }
  if (args.profile) {
    note("client upload under --cpu-prof...");
    const sim = await startSim();
    try {
      const r = await runJson(
        UPLOAD,
        ["--mode", "client", "--url", sim.url, "--file", data.file],
        profileArgs("upload"),
      );
      uploadProfile = { ms: r.ms, top: topFunctions(newestProfile("upload")) };
    } finally {
      await sim.stop();
    }
  }
}

// ---------------------------------------------------------------- listFiles
/** Two passes on one simulator: the client's defaults, then `cache: false` (for information). */
const listPasses = [];
let listSim;
let listProfile;
if (!args["no-list"]) {
  note(`starting a simulator seeded with ${int(FILES)} files...`);
  const sim = await startSim(["--seed-files", String(FILES)]);
  try {
    for (const pass of [
      { id: "default", label: "client defaults (result cache of 10,000)", argv: [] },
      { id: "nocache", label: "`cache: false`", argv: ["--cache-max", "0"] },
    ]) {
      note(`listFiles({limit: ${LIMIT}}) over ${int(FILES)} files, ${pass.id}...`);
      await sim.stats();
      const r = await runJson(
        LIST,
        ["--url", sim.url, "--limit", String(LIMIT), ...pass.argv],
        args.profile && pass.id === "default" ? profileArgs("list") : [],
      );
      const simStats = await sim.stats();
      listPasses.push({ ...pass, ...r, sim: simStats });
      if (r.count !== FILES) problems.push(`listFiles (${pass.id}) gave ${r.count}, not ${FILES}`);
      if (r.distinct !== r.count)
        problems.push(`listFiles (${pass.id}) repeated ${r.count - r.distinct} files`);
      if (r.incomplete || r.invalid)
        problems.push(
          `listFiles (${pass.id}): ${r.incomplete} not completed, ${r.invalid} not canonical`,
        );
    }
    if (args.profile) listProfile = { top: topFunctions(newestProfile("list")) };
  } finally {
    listSim = { startMs: sim.startMs, ...(await sim.stop()) };
  }
}
const loadAtEnd = loadavg();

// ---------------------------------------------------------------- report
const env = environment();
const profileTable = (top) =>
  table(
    ["function", "self ms", "share"],
    top.map((t) => [`\`${t.name}\``, t.ms.toFixed(0), `${(t.share * 100).toFixed(1)}%`]),
    "lrr",
  );
log("# Client benchmark");
log("");
log(
  `${env.cpu}, ${cpus().length} cores, Node ${process.version}, ${env.date.slice(0, 10)}. ` +
    `Load average (1, 5, 15 min) ${loadAtStart.map((x) => x.toFixed(2)).join(", ")} at the start` +
    `${args["wait-quiet"] ? ` (after waiting ${fmtMs(waitedQuietMs)} for the 1-minute figure to fall below 1.0; it was ${loadBefore[0].toFixed(2)})` : ""}, ` +
    `${loadAtEnd.map((x) => x.toFixed(2)).join(", ")} at the end (this benchmark itself keeps both cores busy).`,
);

const targets = [];
let uploadSummary;
if (!args["no-upload"]) {
  const B = data.bytes;
  const baseline = runs.sha256sum.map((s, i) => s.ms + runs.raw[i].ms);
  const parts = runs.hash.map((h, i) => h.ms + runs.raw[i].ms);
  const med = (name) => median(runs[name].map((r) => r.ms));
  const cpu = (name) => median(runs[name].map((r) => r.cpuUserMs + r.cpuSystemMs));
  const simPut = (name) =>
    median(runs[name].map((r) => r.sim?.held?.["PUT /uploads/:id"]?.totalMs ?? Number.NaN));
  const simCpu = (name) => median(runs[name].map((r) => r.sim.cpuUserMs + r.sim.cpuSystemMs));
  const peak = (name) => mb(Math.max(...runs[name].map((r) => r.maxRssKb)));
  const loaded = (name) => mb(median(runs[name].map((r) => r.importRssKb)));
  const rows = [];
  const row = (label, times, name) =>
    rows.push([
      label,
      fmtMs(median(times)),
      mbps(B, median(times)).toFixed(0),
      `${mbps(B, Math.max(...times)).toFixed(0)} – ${mbps(B, Math.min(...times)).toFixed(0)}`,
      name === undefined || runs[name][0].cpuUserMs === undefined ? "" : fmtMs(cpu(name)),
      name === undefined || runs[name][0].maxRssKb === undefined
        ? ""
        : `${peak(name).toFixed(0)} MB (${loaded(name).toFixed(0)})`,
    ]);
  const times = (name) => runs[name].map((r) => r.ms);
  row("`sha256sum` (coreutils 9.1, child process)", times("sha256sum"));
  row(
    "raw streamed PUT: POST /v1/upload, then undici `request`, `fs.createReadStream` body in 1 MiB chunks, content-length",
    times("raw"),
    "raw",
  );
  row("**baseline: `sha256sum` + raw PUT**", baseline);
  row(
    "**`client.upload(path)`**: hash, GET, POST /v1/upload, PUT, complete",
    times("client"),
    "client",
  );
  row("`client.upload(path, {onProgress})`", times("progress"), "progress");
  row("for information: client `hashFile` alone", times("hash"), "hash");
  row("for information: `hashFile` + raw PUT (separate processes)", parts);
  row(
    "for information: by hand in one process, `node:crypto` hash then the raw PUT",
    times("hashraw"),
    "hashraw",
  );
  row("for information: raw PUT with Node's default 64 KiB chunks", times("raw64"), "raw64");

  const ratio = median(baseline) / med("client");
  const perRoundRatio = median(runs.client.map((r, i) => baseline[i] / r.ms));
  const ratioProgress = median(baseline) / med("progress");
  const ratioParts = median(parts) / med("client");
  const ratioByHand = med("hashraw") / med("client");
  const clientRss = Math.max(peak("client"), peak("progress"));

  log("");
  log(
    `## Upload of ${int(B)} bytes (${SIZE_MIB} MiB of random bytes in \`bench/out/client/\`) to the simulator on 127.0.0.1`,
  );
  log("");
  log(
    `Medians of ${ROUNDS} interleaved rounds, after one warm-up upload (the file is in the page cache throughout). ` +
      "MB/s = 10^6 bytes a second. Each step runs in a process of its own, and every PUT goes to a " +
      "simulator started for it alone in another process (analysisDelayMs 0). Times are the call " +
      "alone, without Node's start-up or module loading, except `sha256sum`'s (spawn to exit). CPU: " +
      "user + system of the upload process during the call. Peak RSS: `process.resourceUsage().maxRSS` " +
      "of the upload process, highest of the rounds (in brackets: once its modules are loaded, before the call).",
  );
  log("");
  log(
    table(
      ["run", "median time", "MB/s", "MB/s min – max", "CPU", "peak RSS (loaded)"],
      rows,
      "lrrrrr",
    ),
  );
  log("");
  const split = (key) => median(runs.progress.map(key));
  const before = split((r) => r.putStartMs);
  const put = split((r) => r.putEndMs - r.putStartMs);
  const after = split((r) => r.ms - r.putEndMs);
  log(
    `Where the client's time goes (\`onProgress\` runs, medians): ${fmtMs(before)} before the first byte is ` +
      `sent (hashing, GET /v1/files/{sha256}, POST /v1/upload; \`hashFile\` alone takes ${fmtMs(med("hash"))}), ` +
      `${fmtMs(put)} sending the bytes, ${fmtMs(after)} after the last one (the simulator's answer, ` +
      `then POST /v1/upload/complete). The simulator held the PUT (from the request to its answer) ` +
      `${fmtMs(simPut("client"))} for the client, ${fmtMs(simPut("raw"))} for the raw PUT and ` +
      `${fmtMs(simPut("hashraw"))} for the one by hand; the simulator's CPU over its whole life ` +
      `(start-up included): ${fmtMs(simCpu("client"))}, ${fmtMs(simCpu("raw"))} and ${fmtMs(simCpu("hashraw"))}.`,
  );
  targets.push(
    {
      name: "`client.upload` throughput >= 80% of `sha256sum` + raw PUT",
      measured:
        `${(ratio * 100).toFixed(0)}%: ${mbps(B, med("client")).toFixed(0)} against ${mbps(B, median(baseline)).toFixed(0)} MB/s ` +
        `(median of the per-round ratios ${(perRoundRatio * 100).toFixed(0)}%; with onProgress ${(ratioProgress * 100).toFixed(0)}%; ` +
        `for information, against \`hashFile\` + raw PUT ${(ratioParts * 100).toFixed(0)}%, against the same by hand in one process ${(ratioByHand * 100).toFixed(0)}%)`,
      pass: ratio >= TARGET_RATIO,
    },
    {
      name: "client peak RSS < 150 MB during the upload",
      measured:
        `${clientRss.toFixed(0)} MB, highest of ${ROUNDS * 2} uploads (${loaded("client").toFixed(0)} MB once \`@clearance/client\` is loaded, before uploading); ` +
        `raw PUT process ${peak("raw").toFixed(0)} MB (${loaded("raw").toFixed(0)} MB with undici loaded), by hand in one process ${peak("hashraw").toFixed(0)} MB`,
      pass: clientRss < TARGET_RSS_MB,
    },
  );
  uploadSummary = {
    ratio,
    perRoundRatio,
    ratioProgress,
    ratioParts,
    ratioByHand,
    clientRssMb: clientRss,
    clientLoadedMb: loaded("client"),
    before,
    put,
    after,
  };
  if (uploadProfile) {
    log("");
    log(
      `CPU profile of one more client upload (\`--cpu-prof\`, ${fmtMs(uploadProfile.ms)}; the whole process, module loading included), self time:`,
    );
    log("");
    log(profileTable(uploadProfile.top));
  }
}

if (listPasses.length > 0) {
  log("");
  log(
    `## \`listFiles({limit: ${LIMIT}})\` over ${int(FILES)} completed files (a simulator seeded at its start, in ${fmtMs(listSim.startMs)})`,
  );
  log("");
  const listRows = listPasses.map((p) => {
    const held = p.sim.held?.["GET /v1/files"];
    const simPerPage = held ? held.totalMs / held.count : Number.NaN;
    const waitPerPage = p.pageWaits.reduce((a, b) => a + b, 0) / p.pageWaits.length;
    Object.assign(p, { simPerPage, waitPerPage });
    return [
      p.label,
      `${int(p.count)} (${int(p.distinct)})`,
      int(p.pages),
      fmtMs(p.totalMs),
      fmtRate((p.count / p.totalMs) * 1000),
      fmtMs(waitPerPage),
      fmtMs(simPerPage),
      fmtMs(waitPerPage - simPerPage),
      `${mb(p.maxRssKb).toFixed(0)} MB`,
    ];
  });
  log(
    table(
      [
        "client",
        "files (distinct)",
        "pages",
        "total time",
        "results/s",
        "wait per page",
        "simulator per page",
        "rest per page (transfer, client)",
        "peak RSS",
      ],
      listRows,
      "lrrrrrrrr",
    ),
  );
  log("");
  const first = listPasses[0];
  const s = listPasses.flatMap((p) => p.samples);
  const parse = median(s.map((x) => x.parseMs));
  const canonical = median(s.map((x) => x.canonicalMs));
  const pageBytes = median(s.map((x) => x.bytes));
  log(
    `A page of ${LIMIT} files is ${(pageBytes / 1e6).toFixed(1)} MB of JSON. "Wait per page": the step of the ` +
      "iteration that fetches a page; the other steps hand out files already converted " +
      `(${fmtMs(first.otherStepsMs)} in all). "Simulator per page": measured in the simulator's process, from ` +
      "the request to the answer handed to the socket; it builds every file object on each request " +
      `(${((first.simPerPage / LIMIT) * 1000).toFixed(0)} µs a file). On the client's side, measured apart ` +
      `on ${s.length} pages: JSON.parse ${fmtMs(parse)} a page, \`toCanonical\` ${fmtMs(canonical)} ` +
      `a page (${((canonical / LIMIT) * 1000).toFixed(0)} µs a file). The client asks for a page only ` +
      "when the caller has taken every file of the one before, so the simulator and the client never work at once. " +
      "The two passes run one after the other on the same simulator (the defaults first), so their total times " +
      "differ by the simulator's speed too: compare their peak RSS and the rest per page.",
  );
  targets.push({
    name: `listFiles yields each of the ${int(FILES)} files exactly once`,
    measured: listPasses
      .map((p) => `${int(p.count)} files, ${int(p.distinct)} distinct, ${int(p.pages)} pages`)
      .join("; "),
    pass: listPasses.every((p) => p.count === FILES && p.distinct === FILES),
  });
  if (listProfile) {
    log("");
    log("CPU profile of the first listFiles process (`--cpu-prof`), self time:");
    log("");
    log(profileTable(listProfile.top));
  }
}

log("");
log(
  table(
    ["target", "measured", "result"],
    targets.map((t) => [t.name, t.measured, verdict(t.pass)]),
    "lrl",
  ),
);
for (const p of problems) log(`\n**problem**: ${p}`);

if (args.json) {
  const file = writeJson(args.json, {
    benchmark: "client",
    environment: env,
    config: { rounds: ROUNDS, sizeMib: SIZE_MIB, files: FILES, limit: LIMIT, file: data?.file },
    load: { before: loadBefore, start: loadAtStart, end: loadAtEnd, waitedQuietMs },
    runs,
    uploadSummary,
    listPasses,
    listSim,
    uploadProfile,
    listProfile,
    targets,
    problems,
  });
  log(`\nwrote ${file}`);
}
process.exitCode = problems.length > 0 ? 1 : 0;
