#!/usr/bin/env node
// Reload benchmark: the shipped rules/ plus a 1,000,000-line hash list, reloaded as the server
// does (RulesetLoader.load: asynchronous reads, list files cached, big lists parsed in slices).
//
//   node bench/engine/reload.js [--rounds 5] [--quick] [--json out.json]
//
// Side by side, in one run:
//   floor        read the list's bytes and hash them (SHA-256): what any reload that looks at
//                the content must pay; no parse
//   cold         a first load (a new loader): everything read and parsed
//   warm         a reload after a comment-only edit of a rule file (the list unchanged)
//   changed      a reload after one line of the list changed (same size): read, hashed, parsed
//   blocking     the same changed-list reload with the synchronous loader (loadRuleset's path),
//                which holds the event loop for all of it
// For `changed` and `blocking`, the longest event-loop stall during the reload
// (perf_hooks.monitorEventLoopDelay, 10 ms resolution) beside the reload's own time.
// Generated files go under bench/out/reload/ (git-ignored) and are reused when already there.

import { createHash } from "node:crypto";
import {
  closeSync,
  cpSync,
  existsSync,
  openSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { BENCH_DIR, environment, fmtMs, median, outDir, table, writeJson } from "../lib/harness.js";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    quick: { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const ROUNDS = args.quick ? 2 : Number(args.rounds);
const LINES = 1_000_000;
const LINE_BYTES = 65;
const log = (...xs) => console.log(...xs);

const specifier = process.env.BENCH_CLEARANCE_MODULE || "@clearance/engine";
let engine;
try {
  engine = await import(specifier);
} catch (e) {
  log(
    `> **Skipped**: ${specifier} cannot be imported (${e.message.split("\n")[0]}); run \`pnpm build\`.`,
  );
  process.exit(0);
}
if (typeof engine.RulesetLoader !== "function") {
  log(`> **Skipped**: ${specifier} has no RulesetLoader (not built: \`pnpm build\`).`);
  process.exit(0);
}

// ---------------------------------------------------------------- the rule directory
const base = outDir("reload");
const dir = join(base, "rules");
const list = join(dir, "lists", "big.sha256");
const bigRules = join(dir, "big.rules");
const listCopy = join(base, "big.sha256");
const sha = (s) => createHash("sha256").update(s).digest("hex");

const t0 = performance.now();
if (!existsSync(listCopy) || statSync(listCopy).size !== LINES * LINE_BYTES) {
  const lines = new Array(LINES);
  for (let i = 0; i < LINES; i++) lines[i] = sha(`big-${i}`);
  writeFileSync(listCopy, `${lines.join("\n")}\n`);
}
rmSync(dir, { recursive: true, force: true });
cpSync(resolve(BENCH_DIR, "../rules"), dir, { recursive: true });
cpSync(listCopy, list);
const rulesText = (comment) =>
  `# ${comment}\nhashlist big from "lists/big.sha256"\nrule big_list { when sha256 in big deny "on the big list" }\n`;
writeFileSync(bigRules, rulesText("generation 0"));
log("# Reload benchmark");
log("");
log(
  `rules/ plus a ${LINES.toLocaleString("en")}-line hash list (${(statSync(list).size / 1e6).toFixed(0)} MB), ` +
    `prepared in ${fmtMs(performance.now() - t0)}; ${environment().cpu}, ${environment().cores} cores, Node ${process.version}`,
);
log("");

let generation = 0;
const editComment = () => writeFileSync(bigRules, rulesText(`generation ${++generation}`));
/** Changes line 8 of the list in place (same size): a different hash each time. */
const editList = () => {
  const fd = openSync(list, "r+");
  writeSync(fd, sha(`changed-${++generation}`), 7 * LINE_BYTES, "latin1");
  closeSync(fd);
};
/** Waits past the cache's 2 s timestamp margin, so the warm case is the steady state. */
const settle = () => new Promise((r) => setTimeout(r, 2_100));
const check = (result, what) => {
  if (!result.ruleset) {
    const first = result.diagnostics.find((d) => d.severity === "error");
    throw new Error(`${what}: the rules did not compile: ${first?.code} ${first?.message}`);
  }
  return result;
};

/** Runs `fn` and reports its time and the longest event-loop stall while it ran. */
async function withDelay(fn) {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  // the monitor's timer starts with the next turn of the loop, and records a stall after it
  await new Promise((r) => setTimeout(r, 30));
  const start = performance.now();
  const value = await fn();
  const ms = performance.now() - start;
  await new Promise((r) => setTimeout(r, 30));
  delay.disable();
  return { value, ms, maxDelayMs: delay.max / 1e6 };
}

const samples = {
  floor: [],
  cold: [],
  warm: [],
  changed: [],
  changedDelay: [],
  blocking: [],
  blockingDelay: [],
};
for (let round = 0; round < ROUNDS; round++) {
  globalThis.gc?.();
  // floor: the bytes read and hashed
  {
    const start = performance.now();
    const bytes = await readFile(list);
    createHash("sha256").update(bytes).digest("hex");
    samples.floor.push(performance.now() - start);
  }
  // cold: a new loader
  const loader = new engine.RulesetLoader(dir, { git: false });
  {
    globalThis.gc?.();
    const start = performance.now();
    check(await loader.load(), "cold");
    samples.cold.push(performance.now() - start);
  }
  await settle();
  await loader.load(); // the list was written just before the cold load: verified once
  // warm: a comment-only edit
  {
    editComment();
    const parses = loader.lists.counts.parses;
    globalThis.gc?.();
    const start = performance.now();
    check(await loader.load(), "warm");
    samples.warm.push(performance.now() - start);
    if (loader.lists.counts.parses !== parses) throw new Error("warm: the list was parsed again");
  }
  // changed: one line of the list
  {
    editList();
    const parses = loader.lists.counts.parses;
    globalThis.gc?.();
    const r = await withDelay(() => loader.load());
    check(r.value, "changed");
    if (loader.lists.counts.parses !== parses + 1)
      throw new Error("changed: the list was not parsed");
    samples.changed.push(r.ms);
    samples.changedDelay.push(r.maxDelayMs);
  }
  // blocking: the same with the synchronous loader
  {
    editList();
    const sync = new engine.RulesetLoader(dir, { git: false });
    globalThis.gc?.();
    const r = await withDelay(async () => sync.loadSync());
    check(r.value, "blocking");
    samples.blocking.push(r.ms);
    samples.blockingDelay.push(r.maxDelayMs);
  }
}

const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
const max = (xs) => Math.max(...xs);
const rows = [
  ["floor: read + SHA-256 of the list's bytes", fmtMs(m.floor), "—", "1.0x"],
  ["cold load (everything parsed)", fmtMs(m.cold), "—", `${(m.cold / m.floor).toFixed(1)}x`],
  [
    "warm reload: comment-only edit of a rule file",
    fmtMs(m.warm),
    "—",
    `${(m.warm / m.floor).toFixed(2)}x`,
  ],
  [
    "reload after one list line changed (async, sliced)",
    fmtMs(m.changed),
    `${fmtMs(m.changedDelay)} (max ${fmtMs(max(samples.changedDelay))})`,
    `${(m.changed / m.floor).toFixed(1)}x`,
  ],
  [
    "the same, synchronous loader (the blocking reference)",
    fmtMs(m.blocking),
    `${fmtMs(m.blockingDelay)} (max ${fmtMs(max(samples.blockingDelay))})`,
    `${(m.blocking / m.floor).toFixed(1)}x`,
  ],
];
log(
  table(
    ["scenario", "time (median)", "longest event-loop stall (median)", "vs floor"],
    rows,
    "lrrr",
  ),
);
log("");
log(
  `Medians of ${ROUNDS} rounds; each round builds a new loader. The warm reload runs after the list ` +
    "has been left alone for more than the cache's 2 s timestamp margin (the steady state of a server).",
);

if (args.json)
  log(
    `\nwrote ${writeJson(args.json, {
      benchmark: "reload",
      environment: environment(),
      lines: LINES,
      rounds: ROUNDS,
      medians: m,
      samples,
    })}`,
  );
