import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DIAGNOSTIC_CODES, format } from "@clearance/dsl";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compile, type Ruleset, validateResult } from "../src/index.js";
import { NOW, SHA } from "./helpers.js";

/*
 * The fuzz target over rule text (issue 10): rule files arrive from many authors, and no text may
 * crash or hang the compiler. Seeded from the shipped rules (rules/, examples/), the rules examples
 * of docs/*.md and the golden test corpus, the mutations splice tokens of one seed into another,
 * duplicate runs of tokens, nest, build long chains and insert huge literals. Parsing, checking,
 * compiling, formatting and deciding must never throw, and every case must end.
 *
 * Runs for CLEARANCE_FUZZ_SECONDS (default 8) inside `pnpm test`; `.ci/run` runs it longer.
 * CLEARANCE_FUZZ_SEED replays a run (fast-check prints the seed and path of a failure).
 */

const REPO = join(import.meta.dirname, "..", "..", "..");
const OUT = join(REPO, "out", "fuzz");
const SECONDS = Number(process.env.CLEARANCE_FUZZ_SECONDS ?? 8);
const SEED = process.env.CLEARANCE_FUZZ_SEED;

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(join(REPO, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(suffix))
    .map((f) => readFileSync(join(REPO, dir, f), "utf8"));
}

const SEEDS: readonly string[] = [
  ...filesUnder("rules", ".rules"),
  ...filesUnder("examples", ".rules"),
  ...filesUnder("packages/dsl/test/golden", ".rules"),
  ...filesUnder("packages/engine/test/golden", ".rules"),
  ...readdirSync(join(REPO, "docs"))
    .filter((f) => f.endsWith(".md"))
    .flatMap((f) =>
      [...readFileSync(join(REPO, "docs", f), "utf8").matchAll(/```rules\n([\s\S]*?)```/g)].map(
        (m) => m[1]!,
      ),
    ),
];

/** A rough tokenizer, good enough to cut rule text at token boundaries. */
const TOKEN =
  /"[^"\n]*"?|\/[^/\n]*\/[a-z]*|\d[\w.:+-]*|[A-Za-z_][\w-]*|==|!=|<=|>=|#[^\n]*|\s+|[\s\S]/gu;
const TOKENS: readonly string[][] = SEEDS.map((s) => s.match(TOKEN) ?? []);

const seed = fc.integer({ min: 0, max: TOKENS.length - 1 }).map((i) => TOKENS[i]!);

/** A range of a token list: [start, end). */
const range = (tokens: readonly string[]) =>
  fc
    .tuple(fc.nat(tokens.length), fc.nat(Math.min(40, tokens.length)))
    .map(([a, n]) => [Math.min(a, tokens.length), Math.min(a + n, tokens.length)] as const);

type Mutation = (tokens: string[]) => fc.Arbitrary<string[]>;

const hugeText = fc
  .tuple(
    fc.constantFrom("a", "{fileSize}", "\\n", "\\q", "{", "}", "é", "\\u{1F600}", "😀"),
    fc.nat(300_000),
  )
  .map(([piece, n]) => piece.repeat(n));

const MUTATIONS: Mutation[] = [
  // splice a range of another seed in place of a range of this one
  (t) =>
    fc
      .tuple(range(t), seed)
      .chain(([[a, b], other]) =>
        range(other).map(([c, d]) => [...t.slice(0, a), ...other.slice(c, d), ...t.slice(b)]),
      ),
  // duplicate a range many times
  (t) =>
    fc.tuple(range(t), fc.integer({ min: 2, max: 3000 })).map(([[a, b], k]) => {
      const piece = t.slice(a, b);
      const size = piece.reduce((n, x) => n + x.length, 0);
      const copies = Math.min(k, Math.floor(MAX_CHARACTERS / Math.max(1, size)));
      return [
        ...t.slice(0, b),
        ...Array.from({ length: copies }, () => piece).flat(),
        ...t.slice(b),
      ];
    }),
  // nest a range in parentheses, `not`, unary minus or brackets
  (t) =>
    fc
      .tuple(
        range(t),
        fc.constantFrom(["(", ")"], ["not ", ""], ["- ", ""], ["[", "]"], ["any x in tags: ", ""]),
        fc.integer({ min: 1, max: 200 }),
      )
      .map(([[a, b], [open, close], d]) => [
        ...t.slice(0, a),
        open.repeat(d),
        ...t.slice(a, b),
        close.repeat(d),
        ...t.slice(b),
      ]),
  // a long chain after a token
  (t) =>
    fc
      .tuple(
        fc.nat(t.length),
        fc.constantFrom(
          " and fileSize > 1",
          ' or vendor.name == "x"',
          " + 1",
          " * trustScore",
          " - -1",
          ' unless fileName == "a"',
          ' and any e in engines: e.result == "x"',
        ),
        fc.integer({ min: 1, max: 5000 }),
      )
      .map(([i, link, k]) => [...t.slice(0, i), link.repeat(k), ...t.slice(i)]),
  // a huge literal: a string, a number, a name, a regex or a comment
  (t) =>
    fc
      .tuple(fc.nat(t.length), hugeText, fc.constantFrom('"', "", "/", "# ", "9"))
      .map(([i, text, kind]) => {
        const literal =
          kind === '"'
            ? `"${text}"`
            : kind === "/"
              ? ` matches /${text}/i`
              : kind === "9"
                ? "9".repeat(text.length + 1)
                : `${kind}${text.replace(/[^\w]/g, "_")}`;
        return [...t.slice(0, i), literal, ...t.slice(i)];
      }),
  // delete a range
  (t) => range(t).map(([a, b]) => [...t.slice(0, a), ...t.slice(b)]),
  // insert a few arbitrary characters
  (t) =>
    fc
      .tuple(fc.nat(t.length), fc.string({ unit: "binary", maxLength: 8 }))
      .map(([i, s]) => [...t.slice(0, i), s, ...t.slice(i)]),
];

/**
 * Files stay under 2 million characters, the rest cut off: compile time grows with the size of a
 * file (about a second a megabyte of garbage), and a fuzz case should take seconds at most.
 * stack-limits.test.ts covers chains of a hundred thousand operands.
 */
const MAX_CHARACTERS = 2_000_000;
function capped(tokens: string[]): string[] {
  let total = 0;
  for (let i = 0; i < tokens.length; i++) {
    total += tokens[i]!.length;
    if (total > MAX_CHARACTERS) return tokens.slice(0, i);
  }
  return tokens;
}

const mutated: fc.Arbitrary<string> = seed
  .chain((tokens) =>
    fc
      .array(fc.integer({ min: 0, max: MUTATIONS.length - 1 }), { minLength: 1, maxLength: 3 })
      .chain((which) =>
        which.reduce<fc.Arbitrary<string[]>>(
          (acc, m) => acc.chain((t) => MUTATIONS[m]!(t).map(capped)),
          fc.constant([...tokens]),
        ),
      ),
  )
  .map((tokens) => tokens.join(""));

const INPUTS = [
  { sha256: SHA },
  {
    sha256: SHA,
    fileName: "setup.exe",
    fileSize: 2048,
    trustScore: 40,
    verdict: "high_risk",
    engines: [{ engine: "A", category: "malicious", result: "Ransom.Locky" }],
    tags: ["installer"],
    vendor: { name: "Google LLC", verified: true },
    signature: { status: "valid" },
    firstSeen: "2026-11-25T00:00:00Z",
  },
].map((i) => validateResult(i).result as Record<string, unknown>);

/** Everything a rule author's text goes through; returns how long it took. */
function exercise(text: string): number {
  const started = performance.now();
  const file = { path: "fuzz.rules", text };
  const result = compile([file], { now: NOW, loadList: () => "" });
  for (const d of result.diagnostics) {
    expect(Object.hasOwn(DIAGNOSTIC_CODES, d.code), d.code).toBe(true);
    expect(d.span.start >= 0 && d.span.start <= d.span.end, JSON.stringify(d.span)).toBe(true);
  }
  const ruleset: Ruleset | undefined = result.ruleset;
  if (ruleset) {
    for (const r of INPUTS) {
      ruleset.decide(r, { now: NOW, context: { group: "finance" } });
      ruleset.decide(r, { now: NOW, explain: true });
    }
  }
  format(file);
  return performance.now() - started;
}

describe("fuzzing rule text", () => {
  it("has seeds from rules/, examples/, the docs and the golden corpus", () => {
    expect(SEEDS.length).toBeGreaterThan(50);
    for (const s of SEEDS.slice(0, 4)) expect(s).toMatch(/\brule\b/);
  });

  it(
    `never throws and always ends (${SECONDS} s of mutated rule files)`,
    () => {
      let cases = 0;
      let slowest = { ms: 0, text: "" };
      fc.assert(
        fc.property(mutated, (text) => {
          const ms = exercise(text);
          if (ms > slowest.ms) slowest = { ms, text };
          cases++;
        }),
        {
          interruptAfterTimeLimit: SECONDS * 1000,
          markInterruptAsFailure: false,
          numRuns: Number.MAX_SAFE_INTEGER,
          ...(SEED === undefined ? {} : { seed: Number(SEED) }),
        },
      );
      // the slowest case is kept to replay: a slow one that is not simply large is a finding
      mkdirSync(OUT, { recursive: true });
      writeFileSync(join(OUT, "slowest.rules"), slowest.text);
      const megabytes = Buffer.byteLength(slowest.text) / 1e6;
      console.log(
        `fuzz: ${cases} mutated rule files in ${SECONDS} s, slowest ${slowest.ms.toFixed(0)} ms for ${megabytes.toFixed(2)} MB (${(slowest.ms / Math.max(megabytes, 0.001)).toFixed(0)} ms/MB), kept in out/fuzz/slowest.rules`,
      );
      expect(cases).toBeGreaterThan(0);
    },
    SECONDS * 1000 + 120_000,
  );
});
