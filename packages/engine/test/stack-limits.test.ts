import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { checkProgram, parseFile, typeFromJsonSchema } from "@clearance/dsl";
import { describe, expect, it } from "vitest";
import { compile, RESULT_SCHEMA, validateResult } from "../src/index.js";
import { EMPTY_CONTEXT, Interpreter, type ListValues } from "../src/testing.js";
import { NOW, SHA } from "./helpers.js";

/*
 * Hostile rule sets against the compiler's stack (issue 10, finding 1). A 900-operand `and`, a
 * 3,000-operand `or`, a 100,000-term sum or a reason with a million holes threw an uncaught
 * RangeError while compiling. Each generated rule set must now compile to a rule set or to a
 * located diagnostic, never throw; and a rule set that compiles must decide as the reference
 * interpreter does (the explaining path is checked too: it evaluates conditions by interpreting).
 */

const PREAMBLE = 'default allow "none"\non-error review\n';
const INPUT_TYPE = typeFromJsonSchema(RESULT_SCHEMA as never);
const hash = (i: number) => i.toString(16).padStart(64, "0");
const join_ = (n: number, item: (i: number) => string, op: string) =>
  Array.from({ length: n }, (_, i) => item(i)).join(` ${op} `);

/** A sum of small terms with every operator, and its value as JavaScript computes it (same precedence). */
const MIXED_TERMS = 30_000;
const mixedArithmetic = (() => {
  const ops = ["+", "*", "-", "/", "+", "%", "+"];
  let text = "1000000";
  for (let i = 1; i < MIXED_TERMS; i++) text += ` ${ops[i % ops.length]} ${(i % 7) + 1}`;
  return { text, value: new Function(`return ${text};`)() as number };
})();

/** `and` / `or` chain over known fields, and its truth value for one input, by JavaScript. */
const MIXED_LOGIC = 10_000;
const mixedLogic = (() => {
  const ops = ["and", "or", "and", "and", "or"];
  const cond = (i: number) => (i % 2 === 0 ? `fileSize > ${i % 97}` : `trustScore < ${i % 89}`);
  let text = cond(0);
  for (let i = 1; i < MIXED_LOGIC; i++) text += ` ${ops[i % ops.length]} ${cond(i)}`;
  const truth = (fileSize: number, trustScore: number) =>
    new Function(
      "fileSize",
      "trustScore",
      `return ${text.replaceAll(" and ", " && ").replaceAll(" or ", " || ")};`,
    )(fileSize, trustScore) as boolean;
  return { text, truth };
})();

interface Decides {
  text: string;
  /** inputs (merged into a minimal result) and the decision each must get */
  inputs: [Record<string, unknown>, "deny" | "allow" | "review", string?][];
}
interface Refused {
  text: string;
  code: string;
  /** the text the diagnostic underlines */
  at: string;
}

const cases: [string, () => Decides | Refused][] = [
  [
    "900 `and`",
    () => ({
      text: `rule r { when ${join_(900, (i) => `fileSize > ${i}`, "and")} deny "x" }`,
      inputs: [
        [{ fileSize: 900 }, "deny"],
        [{ fileSize: 899 }, "allow"],
        [{}, "allow"],
      ],
    }),
  ],
  [
    "3,000 `or` of `sha256 ==`",
    () => ({
      text: `rule r { when ${join_(3000, (i) => `sha256 == "${hash(i)}"`, "or")} deny "x" }`,
      inputs: [
        [{ sha256: hash(2999) }, "deny"],
        [{ sha256: hash(0) }, "deny"],
        [{ sha256: SHA }, "allow"],
      ],
    }),
  ],
  [
    "a 100,000-term `+`",
    () => ({
      text: `rule r { when fileSize > ${join_(100_000, () => "1", "+")} deny "x" }`,
      inputs: [
        [{ fileSize: 100_001 }, "deny"],
        [{ fileSize: 100_000 }, "allow"],
        [{}, "allow"],
      ],
    }),
  ],
  [
    "a 30,000-term `-`",
    () => ({
      text: `rule r { when fileSize > 60000 - ${join_(30_000, () => "1", "-")} deny "x" }`,
      inputs: [
        [{ fileSize: 30_001 }, "deny"],
        [{ fileSize: 30_000 }, "allow"],
      ],
    }),
  ],
  [
    `a ${MIXED_TERMS}-term chain of \`+ - * / %\``,
    () => ({
      text: `rule r { when fileSize > ${mixedArithmetic.text} deny "x" }`,
      inputs: [
        [{ fileSize: Math.floor(mixedArithmetic.value) + 1 }, "deny"],
        [{ fileSize: Math.ceil(mixedArithmetic.value) - 1 }, "allow"],
      ],
    }),
  ],
  [
    `a ${MIXED_LOGIC}-operand chain of \`and\` and \`or\``,
    () => ({
      text: `rule r { when ${mixedLogic.text} deny "x" }`,
      inputs: (
        [
          [0, 0],
          [50, 50],
          [96, 1],
          [1000, 100],
        ] as const
      ).map(([fileSize, trustScore]) => [
        { fileSize, trustScore },
        mixedLogic.truth(fileSize, trustScore) ? "deny" : "allow",
      ]),
    }),
  ],
  [
    "5,000 `unless` clauses",
    () => ({
      text: `rule r { when true ${join_(5000, (i) => `unless fileSize == ${i}`, "")} deny "x" }`,
      inputs: [
        [{ fileSize: 5000 }, "deny"],
        [{ fileSize: 17 }, "allow"],
        [{}, "allow"],
      ],
    }),
  ],
  [
    "a 3,000-operand `or` inside `any`",
    () => ({
      text: `rule r { when any e in engines: ${join_(3000, (i) => `e.result == "r${i}"`, "or")} deny "x" }`,
      inputs: [
        [{ engines: [{ engine: "A", result: "r2999" }] }, "deny"],
        [{ engines: [{ engine: "A", result: "x" }] }, "allow"],
      ],
    }),
  ],
  [
    "a 50,000-term sum in a reason",
    () => ({
      text: `rule r { when true deny "sum {${join_(50_000, () => "1", "+")}}" }`,
      inputs: [[{}, "deny", "sum 50000"]],
    }),
  ],
  [
    "a reason with a million holes",
    () => ({
      text: `rule r { when true deny "${"{fileSize}".repeat(1_000_000)}" }`,
      code: "too_many_holes",
      at: "{fileSize}",
    }),
  ],
  [
    "10,000 nested `not`",
    () => ({
      text: `rule r { when ${"not ".repeat(10_000)}true deny "x" }`,
      code: "nesting_too_deep",
      at: "not",
    }),
  ],
  [
    "10,000 nested parentheses",
    () => ({
      text: `rule r { when ${"(".repeat(10_000)}true${")".repeat(10_000)} deny "x" }`,
      code: "nesting_too_deep",
      at: "(",
    }),
  ],
  [
    "a run of 10,000 unary `-`",
    () => ({
      text: `rule r { when fileSize > ${"- ".repeat(10_000)}1 deny "x" }`,
      code: "nesting_too_deep",
      at: "-",
    }),
  ],
];

/** The rule's value by the reference interpreter, as `decide` would act on it. */
function reference(text: string, r: Record<string, unknown>): "deny" | "allow" | "review" {
  const parsed = parseFile({ path: "test.rules", text });
  const { program } = checkProgram([parsed.ast], INPUT_TYPE, { now: NOW });
  const values: ListValues = { lists: new Map(), hashlists: new Map() };
  const interpreter = new Interpreter(program, values);
  try {
    return interpreter.ruleTest(program.rules[0]!, r, EMPTY_CONTEXT, NOW) === true
      ? "deny"
      : "allow";
  } catch {
    return "review";
  }
}

describe("rule sets generated against the stack limits compile or are refused, never throw", () => {
  it.each(cases)("%s", (_name, make) => {
    const c = make();
    const text = `${PREAMBLE}${c.text}`;
    let result: ReturnType<typeof compile> | undefined;
    expect(() => {
      result = compile([{ path: "test.rules", text }], { now: NOW });
    }).not.toThrow();
    const errors = result!.diagnostics.filter((d) => d.severity === "error");
    if ("code" in c) {
      expect(result!.ruleset).toBeUndefined();
      expect(errors.map((d) => d.code)).toEqual([c.code]);
      const d = errors[0]!;
      expect(text.slice(d.span.start, d.span.end)).toBe(c.at);
      return;
    }
    expect(errors).toEqual([]);
    const ruleset = result!.ruleset!;
    for (const [fields, decision, reason] of c.inputs) {
      const v = validateResult({ sha256: SHA, ...fields });
      if (!v.ok) throw new Error(`bad test input ${JSON.stringify(v.problems)}`);
      const r = v.result as Record<string, unknown>;
      const fast = ruleset.decide(r, { now: NOW });
      const { explain, ...slow } = ruleset.decide(r, { now: NOW, explain: true });
      expect(fast.decision, JSON.stringify(fields)).toBe(decision);
      if (reason !== undefined) expect(fast.reason).toBe(reason);
      expect(fast.errors).toEqual([]);
      expect(slow, "the explaining path").toEqual(fast);
      expect(reference(text, r), "the reference interpreter").toBe(decision);
    }
  });
});

describe("compile() returns a diagnostic, whatever a pass throws", () => {
  it("a list loader that returns something unreadable: compile_failed naming the pass", () => {
    const text = 'list names from "names.txt"\nrule r { when fileName in names deny "x" }';
    // a value that throws whatever is asked of it
    const unreadable = new Proxy(
      {},
      {
        get() {
          throw new Error("the disk is on fire");
        },
      },
    ) as Uint8Array;
    let result: ReturnType<typeof compile> | undefined;
    expect(() => {
      result = compile([{ path: "test.rules", text }], { now: NOW, loadList: () => unreadable });
    }).not.toThrow();
    expect(result!.ruleset).toBeUndefined();
    expect(result!.diagnostics).toMatchObject([
      {
        code: "compile_failed",
        severity: "error",
        span: { file: "test.rules", start: 0, end: 0 },
        message: expect.stringMatching(
          /^the rules cannot be compiled \(in the `load lists` pass\): /,
        ),
      },
    ]);
  });
});

/*
 * The stack a compile needs does not grow with the length of a chain: a Worker with a 1 MB stack
 * compiles, decides and explains a 1,000-operand and a 30,000-operand `and` alike (the nested
 * code generated before overflowed V8's parser from about 900 operands on a default stack).
 */
const ENGINE = join(import.meta.dirname, "..", "dist", "index.js");

describe.skipIf(!existsSync(ENGINE))(
  "stack use does not grow with chain length (built engine)",
  () => {
    if (!existsSync(ENGINE))
      console.warn(`worker test skipped: ${ENGINE} is missing (run pnpm build)`);

    const worker = `
const { parentPort, workerData } = require("node:worker_threads");
import(workerData.engine).then(({ compile, validateResult }) => {
  try {
    const r = compile([{ path: "t.rules", text: workerData.text }], { now: workerData.now });
    if (!r.ruleset) return parentPort.postMessage({ codes: r.diagnostics.map((d) => d.code) });
    const input = validateResult({ sha256: "0".repeat(64), fileSize: workerData.fileSize }).result;
    const fast = r.ruleset.decide(input, { now: workerData.now });
    const slow = r.ruleset.decide(input, { now: workerData.now, explain: true });
    parentPort.postMessage({ decision: fast.decision, explained: slow.decision });
  } catch (error) {
    parentPort.postMessage({ threw: String(error) });
  }
});`;

    const inWorker = (text: string, fileSize: number) =>
      new Promise<unknown>((resolve, reject) => {
        const w = new Worker(worker, {
          eval: true,
          workerData: { engine: pathToFileURL(ENGINE).href, text, fileSize, now: NOW },
          resourceLimits: { stackSizeMb: 1 },
          // not vitest's `--conditions @clearance/source`: the worker runs the built JavaScript
          execArgv: [],
        });
        w.once("message", (m) => {
          resolve(m);
          void w.terminate();
        });
        w.once("error", reject);
      });

    it.each([
      ["`and`", 1_000, "and", (i: number) => `fileSize > ${i}`],
      ["`and`", 30_000, "and", (i: number) => `fileSize > ${i}`],
      ["`+`", 1_000, "+", () => "1"],
      ["`+`", 100_000, "+", () => "1"],
    ])("a %s chain of %i operands", async (_op, n, op, item) => {
      const chain = join_(n, item, op);
      const condition = op === "and" ? chain : `fileSize > ${chain}`;
      const text = `${PREAMBLE}rule r { when ${condition} deny "x" }`;
      expect(await inWorker(text, n + 1)).toEqual({ decision: "deny", explained: "deny" });
    });
  },
);
