#!/usr/bin/env node
// Scale benchmark for Clearance: big rule sets and big hash lists.
//
//   node bench/engine/scale.js [--loads 3] [--rounds 5] [--time 300] [--quick] [--json out.json]
//
// (a) 100,000 per-hash rules plus the 20 bench rules: load (parse+check+compile) time, and decide
//     time over the 1,000 results against the 20 rules alone;
// (b) a 1,000,000-line hash list loaded through a `hashlist ... from` declaration: load time;
// (c) 10,000 ordinary rules with varied conditions: parse+check+compile time.
// Generated files go under bench/out/scale/ (git-ignored) and are reused when already there.

import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  environment,
  fmtMs,
  fmtRate,
  fmtRatio,
  median,
  outDir,
  table,
  verdict,
  writeJson,
} from "../lib/harness.js";
import {
  BENCH_RULES,
  formatDiagnostics,
  listLoader,
  loadClearance,
  writeHashList,
} from "./clearance.js";
import { generateResults, knownBadHashes, mulberry32, NOW } from "./data.js";

const { values: args } = parseArgs({
  options: {
    loads: { type: "string", default: "3" },
    rounds: { type: "string", default: "5" },
    time: { type: "string", default: "300" },
    quick: { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const LOADS = args.quick ? 1 : Number(args.loads);
const ROUNDS = args.quick ? 3 : Number(args.rounds);
const BUDGET_MS = args.quick ? 150 : Number(args.time);
const log = (...xs) => console.log(...xs);

const HASH_RULES = 100_000;
const LIST_LINES = 1_000_000;
const ORDINARY_RULES = 10_000;

const sha = (s) => createHash("sha256").update(s).digest("hex");
const results = generateResults(1000, 42);
const knownBad = knownBadHashes(results);
const benchText = readFileSync(BENCH_RULES, "utf8");

// ---------------------------------------------------------------- generated inputs
/** (a) the 20 bench rules followed by 100,000 one-hash rules; 1% of the results' hashes among them */
function hashRulesFile() {
  const dir = outDir("scale", "hash-rules");
  const path = resolve(dir, "bench.rules");
  const hashes = [];
  for (let i = 0; i < results.length; i += 100) hashes.push(results[i].sha256);
  for (let i = hashes.length; i < HASH_RULES; i++) hashes.push(sha(`hash-rule-${i}`));
  const lines = hashes.map(
    (h, i) =>
      `rule h${String(i + 1).padStart(6, "0")} { when sha256 == "${h}" deny "blocked hash" }`,
  );
  const text = `${benchText}\n# ${HASH_RULES} per-hash rules\n${lines.join("\n")}\n`;
  writeFileSync(path, text);
  writeHashList(resolve(dir, "known-bad.sha256"), knownBad);
  return { dir, path, text, listed: new Set(hashes) };
}

/** (b) a 1,000,000-line hash list and a rule file declaring it */
function bigListFile() {
  const dir = outDir("scale", "hashlist");
  const list = resolve(dir, "big.sha256");
  const size = LIST_LINES * 65;
  if (!existsSync(list) || statSync(list).size !== size) {
    const lines = new Array(LIST_LINES);
    for (let i = 0; i < LIST_LINES; i++) lines[i] = sha(`big-${i}`);
    writeFileSync(list, `${lines.join("\n")}\n`);
  }
  const path = resolve(dir, "big.rules");
  const text = `ruleset "big"
strategy deny-overrides
default review "no rule matched"

hashlist x from "big.sha256"

rule big_list {
  when sha256 in x
  deny "listed in big.sha256"
}
`;
  writeFileSync(path, text);
  return { dir, path, text, member: sha(`big-${LIST_LINES >> 1}`) };
}

/** (c) 10,000 ordinary rules with varied conditions on trustScore, vendor, fileName, detections... */
function ordinaryRulesFile() {
  const dir = outDir("scale", "many-rules");
  const path = resolve(dir, "many.rules");
  const rnd = mulberry32(2026);
  const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
  const vendors = [
    "Microsoft Corporation",
    "Google LLC",
    "Adobe Inc.",
    "ACME Utilities Ltd",
    "PDF Wizard LLC",
    "Freeware Hub",
  ];
  const exts = [".exe", ".dll", ".msi", ".scr", ".ps1", ".zip"];
  const words = ["setup", "crack", "keygen", "update", "driver", "launcher", "installer"];
  const statuses = ["valid", "expired", "self_signed", "unsigned", "invalid"];
  const categories = ["browser", "development tool", "utility", "game", "driver", "installer"];
  const engines = [
    "Kaspersky",
    "BitDefender",
    "ESET-NOD32",
    "Microsoft",
    "Sophos",
    "Avast",
    "Fortinet",
  ];
  const tags = ["pua", "packed", "overlay", "installer", "signed"];
  const templates = [
    () => `trustScore < ${int(10, 90)} and vendor.name == "${pick(vendors)}"`,
    () => `fileName endsWith "${pick(exts)}" and detections.malicious >= ${int(1, 10)}`,
    () =>
      `vendor.name in trusted_vendors and trustScore >= ${int(50, 95)}\n  unless fileName endsWith ".scr"`,
    () => `lower(fileName) contains "${pick(words)}"`,
    () => `signature.status == "${pick(statuses)}" and category == "${pick(categories)}"`,
    () => `any e in engines: e.engine == "${pick(engines)}" and e.category == "malicious"`,
    () =>
      `count(e in engines where e.category == "suspicious") >= ${int(1, 6)} and trustScore < ${int(40, 90)}`,
    () =>
      `detections.malicious + detections.suspicious > ${int(2, 20)} or trustScore < ${int(5, 40)}`,
    () =>
      `vendor.name startsWith "${pick(vendors).slice(0, int(3, 8))}" and not (signature.status == "valid")`,
    () => `age(firstSeen) < ${int(1, 30)}d and trustScore < ${int(30, 90)}`,
    () => `tags contains "${pick(tags)}" and fileName endsWith "${pick(exts)}"`,
    () =>
      `category in ["${pick(categories)}", "${pick(categories)}"] and trustScore >= ${int(0, 50)} and trustScore < ${int(51, 100)}`,
  ];
  const effects = ["deny", "review", "allow"];
  const rules = [];
  for (let i = 1; i <= ORDINARY_RULES; i++) {
    const effect = pick(effects);
    const message = rnd() < 0.3 ? `rule ${i}: trust score {trustScore}` : `rule ${i}`;
    rules.push(
      `rule r${String(i).padStart(5, "0")} {\n  when ${pick(templates)()}\n  ${effect} "${message}"\n}`,
    );
  }
  const text = `ruleset "many"
strategy deny-overrides
default review "no rule matched"

list trusted_vendors = ["Microsoft Corporation", "Google LLC", "Apple Inc."]

${rules.join("\n\n")}
`;
  writeFileSync(path, text);
  return { dir, path, text };
}

// ---------------------------------------------------------------- measurement helpers
function load(engine, file) {
  const times = [];
  let out;
  for (let i = 0; i < LOADS; i++) {
    out = undefined;
    globalThis.gc?.();
    const t0 = performance.now();
    out = engine.compile([{ path: file.path, text: file.text }], {
      loadList: listLoader(file.dir),
    });
    times.push(performance.now() - t0);
  }
  if (!out.ruleset) {
    log(`compile failed for ${file.path}:\n${formatDiagnostics(out.diagnostics.slice(0, 10))}`);
  }
  return { ruleset: out.ruleset, first: times[0], median: median(times), times };
}

function decideRate(ruleset, inputs, budgetMs) {
  let passes = 0;
  let elapsed = 0;
  let denies = 0;
  const opts = { now: NOW };
  const t0 = performance.now();
  do {
    for (const r of inputs) if (ruleset.decide(r, opts).decision === "deny") denies++;
    passes++;
    elapsed = performance.now() - t0;
  } while (elapsed < budgetMs);
  return { rate: (passes * inputs.length * 1000) / elapsed, denies };
}

// ---------------------------------------------------------------- run
log("# Scale benchmark");
log("");
const t0 = performance.now();
const fa = hashRulesFile();
const fb = bigListFile();
const fc = ordinaryRulesFile();
log(
  `Inputs generated in ${fmtMs(performance.now() - t0)} under bench/out/scale/ ` +
    `(${(fa.text.length / 1e6).toFixed(1)} MB of hash rules, ${(statSync(resolve(fb.dir, "big.sha256")).size / 1e6).toFixed(0)} MB hash list, ` +
    `${(fc.text.length / 1e6).toFixed(1)} MB of ordinary rules); ${environment().cpu}, ${environment().cores} cores, Node ${process.version}`,
);
log("");

const clearance = await loadClearance();
if (clearance.module !== "@clearance/engine") log(`Clearance: measuring ${clearance.module}\n`);
const report = {
  benchmark: "scale",
  environment: environment(),
  clearance: { available: Boolean(clearance.engine), note: clearance.note },
  rows: [],
};
const rows = [];
const add = (row) => {
  rows.push(row);
  report.rows.push(row);
};

if (!clearance.engine) {
  log(`> **Skipped**: ${clearance.note}.`);
} else {
  const engine = clearance.engine;
  const canonical = results.map((raw) => {
    const c = engine.toCanonical(raw);
    if (!c.ok) throw new Error(`toCanonical rejected ${raw.sha256}: ${JSON.stringify(c.problems)}`);
    return c.result;
  });

  // (a)
  const small = load(engine, {
    dir: fa.dir,
    path: resolve(fa.dir, "bench-20.rules"),
    text: benchText,
  });
  const big = load(engine, fa);
  add({
    id: "hash-rules-load",
    name: `(a) load ${HASH_RULES.toLocaleString("en")} hash rules + 20 rules`,
    ms: big.median,
    firstMs: big.first,
    target: "< 3 s",
    pass: big.ruleset ? big.median < 3000 : false,
    shown: `${fmtMs(big.median)} (first ${fmtMs(big.first)})`,
  });
  if (big.ruleset && small.ruleset) {
    let wrong = 0;
    for (const r of canonical) {
      if (fa.listed.has(r.sha256) && big.ruleset.decide(r, { now: NOW }).decision !== "deny")
        wrong++;
    }
    if (wrong) log(`warning: ${wrong} results listed in the hash rules were not denied`);
    const rates = { small: [], big: [] };
    for (const rs of [small.ruleset, big.ruleset]) decideRate(rs, canonical, 100);
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? ["big", "small"] : ["small", "big"];
      for (const k of order) {
        rates[k].push(
          decideRate(k === "big" ? big.ruleset : small.ruleset, canonical, BUDGET_MS).rate,
        );
      }
    }
    const rs = median(rates.small);
    const rb = median(rates.big);
    add({
      id: "hash-rules-decide",
      name: `(a) decide with ${HASH_RULES.toLocaleString("en")} + 20 rules vs 20 rules`,
      ratio: rs / rb,
      smallRate: rs,
      bigRate: rb,
      target: "within 2x",
      pass: rs / rb <= 2,
      shown: `${fmtRate(rb)}/s vs ${fmtRate(rs)}/s: ${fmtRatio(rs / rb)} slower`,
    });
  }

  // (b)
  const bl = load(engine, fb);
  add({
    id: "hashlist-load",
    name: `(b) load a ${LIST_LINES.toLocaleString("en")}-line hash list`,
    ms: bl.median,
    firstMs: bl.first,
    target: "< 2 s",
    pass: bl.ruleset ? bl.median < 2000 : false,
    shown: `${fmtMs(bl.median)} (first ${fmtMs(bl.first)})`,
  });
  if (bl.ruleset) {
    const listed = engine.toCanonical({ ...results[0], sha256: fb.member });
    const inList = bl.ruleset.decide(listed.result, { now: NOW }).decision;
    const notInList = bl.ruleset.decide(canonical[0], { now: NOW }).decision;
    if (inList !== "deny" || notInList !== "review") {
      log(
        `warning: big hash list lookup: listed -> ${inList} (want deny), unlisted -> ${notInList} (want review)`,
      );
    }
  }

  // (c)
  const oc = load(engine, fc);
  add({
    id: "ordinary-rules-load",
    name: `(c) parse+check+compile ${ORDINARY_RULES.toLocaleString("en")} ordinary rules`,
    ms: oc.median,
    firstMs: oc.first,
    target: "< 2 s",
    pass: oc.ruleset ? oc.median < 2000 : false,
    shown: `${fmtMs(oc.median)} (first ${fmtMs(oc.first)})`,
  });
  if (oc.ruleset) {
    decideRate(oc.ruleset, canonical, 100);
    const rate = decideRate(oc.ruleset, canonical, BUDGET_MS).rate;
    add({
      id: "ordinary-rules-decide",
      name: `(c) decide with ${ORDINARY_RULES.toLocaleString("en")} ordinary rules`,
      rate,
      target: "(for information)",
      shown: `${fmtRate(rate)}/s`,
    });
  }

  log(
    table(
      ["scenario", "measured", "target", "result"],
      rows.map((r) => [r.name, r.shown, r.target, r.pass === undefined ? "—" : verdict(r.pass)]),
      "lrll",
    ),
  );
  log("");
  log(
    `Load times: median of ${LOADS} compile() calls (the hash list is read from disk inside each); ` +
      `decide: medians of ${ROUNDS} interleaved rounds of ~${BUDGET_MS} ms over the 1,000 results.`,
  );
}

if (args.json) log(`\nwrote ${writeJson(args.json, report)}`);
