#!/usr/bin/env node
// Deciding with exceptions: `rules/` over 1,000 generated results, with no exceptions, and with
// 100,000 active ones in an ExceptionSet (file, signer and vendor scopes), where each decision
// first finds the exception that applies (`ExceptionSet.find`) and passes it to `decide`. About 1%
// of the results have one (approved or rejected). Issue 13's target: at most 1.2x the cost of
// deciding with none.
//
//   node bench/engine/exceptions.js [--rounds 7] [--time 400] [--quick] [--json out.json]

import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ExceptionSet, loadRuleset, toCanonical } from "@clearance/engine";
import {
  BENCH_DIR,
  environment,
  fmtRate,
  fmtRatio,
  median,
  table,
  verdict,
  writeJson,
} from "../lib/harness.js";
import { generateResults, mulberry32, NOW } from "./data.js";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "7" },
    time: { type: "string", default: "400" },
    quick: { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const ROUNDS = args.quick ? 3 : Number(args.rounds);
const BUDGET_MS = args.quick ? 150 : Number(args.time);
const EXCEPTIONS = 100_000;
const TARGET = 1.2;

const loaded = loadRuleset(resolve(BENCH_DIR, "../rules"), { now: NOW });
if (!loaded.ruleset) {
  console.error("rules/ does not compile: run `pnpm clearance check rules`");
  process.exit(1);
}
const ruleset = loaded.ruleset;
const results = generateResults(1000, 42).map((raw) => {
  const c = toCanonical(raw);
  if (!c.ok) throw new Error(`a generated result is invalid: ${c.problems[0]?.message}`);
  return c.result;
});

// 100,000 exceptions: 1% of the results' files (one in five rejected), the rest of them for
// files, signers and vendors no result has
const rnd = mulberry32(11);
const hex = (n) => Array.from({ length: n }, () => "0123456789abcdef"[(rnd() * 16) | 0]).join("");
const created = new Date(NOW - 86_400_000).toISOString();
const expires = new Date(NOW + 30 * 86_400_000).toISOString();
const records = [];
const exception = (scope, status = "approved") =>
  records.push({
    id: `exc-${records.length}`,
    status,
    scope,
    created,
    expires,
    approvers: ["alice", "bob"],
    justification: "benchmark",
    case: null,
  });
for (const r of results)
  if (rnd() < 0.01) exception({ sha256: r.sha256 }, rnd() < 0.2 ? "rejected" : "approved");
const hits = records.length;
while (records.length < EXCEPTIONS) {
  const k = rnd();
  if (k < 0.9) exception({ sha256: hex(64) });
  else if (k < 0.95) exception({ signer: hex(40) });
  else exception({ vendor: `Vendor ${hex(6)}`, product: `Product ${hex(4)}` });
}
const t0 = performance.now();
const set = new ExceptionSet(records);
const buildMs = performance.now() - t0;

const options = { now: NOW };
const plain = () => {
  let allow = 0;
  for (const r of results) if (ruleset.decide(r, options).decision === "allow") allow++;
  return allow;
};
const withExceptions = () => {
  let allow = 0;
  for (const r of results) {
    const found = set.find(r, undefined, NOW);
    const d = found
      ? ruleset.decide(r, { now: NOW, exception: found })
      : ruleset.decide(r, options);
    if (d.decision === "allow") allow++;
  }
  return allow;
};

/** Decisions per second of `fn` over the 1,000 results, for about BUDGET_MS. */
function rate(fn) {
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < BUDGET_MS) {
    fn();
    n += results.length;
    elapsed = performance.now() - start;
  }
  return (n / elapsed) * 1000;
}

const allowPlain = plain();
const allowWith = withExceptions();
// warm-up: both paths compiled and optimised before the first timed round
for (let i = 0; i < 3; i++) {
  plain();
  withExceptions();
}
const rates = { plain: [], with: [] };
const ratios = [];
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? ["plain", "with"] : ["with", "plain"];
  const got = {};
  for (const which of order) got[which] = rate(which === "plain" ? plain : withExceptions);
  rates.plain.push(got.plain);
  rates.with.push(got.with);
  ratios.push(got.plain / got.with);
}
const cost = median(ratios);

const env = environment();
console.log("# Deciding with exceptions");
console.log("");
console.log(
  `\`rules/\` (${ruleset.rules.length} rules) over 1,000 generated results (seed 42); ${EXCEPTIONS.toLocaleString("en")} exceptions in an \`ExceptionSet\` (built in ${buildMs.toFixed(0)} ms), ${hits} of them for files among the results. ${env.cpu}, ${env.cores} cores, Node ${process.version}. Medians of ${ROUNDS} interleaved rounds of ${BUDGET_MS} ms.`,
);
console.log("");
console.log(
  table(
    ["run", "decisions/s", "cost ÷ no exceptions", "allowed"],
    [
      ["`decide`, no exceptions", fmtRate(median(rates.plain)), "1.00x", String(allowPlain)],
      [
        `\`find\` + \`decide\`, ${EXCEPTIONS.toLocaleString("en")} exceptions`,
        fmtRate(median(rates.with)),
        fmtRatio(cost),
        String(allowWith),
      ],
    ],
    "lrrr",
  ),
);
console.log("");
console.log(
  table(
    ["target", "measured", "result"],
    [
      [
        `decide with ${EXCEPTIONS.toLocaleString("en")} exceptions ≤ ${TARGET}x with none`,
        `${fmtRatio(cost)} (median of per-round ratios)`,
        verdict(cost <= TARGET),
      ],
    ],
    "lrl",
  ),
);
if (args.json)
  writeJson(args.json, { rates, ratios, cost, target: TARGET, exceptions: EXCEPTIONS, hits });
