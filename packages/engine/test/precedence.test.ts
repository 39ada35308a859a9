import { checkProgram, parseFile, type RuleDecl, typeFromJsonSchema } from "@clearance/dsl";
import { describe, expect, it } from "vitest";
import { RESULT_SCHEMA } from "../src/index.js";
import { Interpreter, type ListValues, prepareContext } from "../src/testing.js";
import { NOW, result, rules } from "./helpers.js";

/*
 * Operator precedence, checked by value: each expression is evaluated by the compiled code, the
 * explaining interpreter and the reference interpreter, and each must give the value of the
 * grouping the language documents (docs/language.md), which every row picks its inputs to tell
 * apart from the other groupings (given in the comment). A parse-shape test would pass with a
 * right tree and a wrong evaluator; these do not.
 *
 * Single-letter names stand for context fields (`a` is `context.a`): booleans a, b, c; numbers
 * x, y, z, d, e, f; the string s. A field left out is unknown. `tags` is the result's field.
 */

const CONTEXT =
  "context { a: bool, b: bool, c: bool, s: string, x: number, y: number, z: number, d: number, e: number, f: number }";

function withContext(expr: string): string {
  return expr.replace(/(?<![.\w"])([abcdefsxyz])(?![\w"])/g, "context.$1");
}

type Row = [expr: string, values: Record<string, unknown>, value: boolean | null | number];

const LOGIC: Row[] = [
  // `and` binds tighter than `or`
  ["a or b and c", { a: true, b: false, c: false }, true], // (a or b) and c: false
  ["a or b and c", { b: true, c: false }, null], // (a or b) and c: false
  ["a or b and c", { a: false, b: true, c: true }, true],
  ["a and b or c", { a: false, b: false, c: true }, true], // a and (b or c): false
  ["a and b and c or a", { a: true, b: false, c: true }, true], // a and b and (c or a): false
  ["a or b and c or a and c", { a: false, b: true, c: false }, false],
  // `not` binds tighter than `and` and `or`
  ["not a and b", { a: false, b: false }, false], // not (a and b): true
  ["not a and b", { a: false, b: true }, true],
  ["not a or b", { a: true, b: true }, true], // not (a or b): false
  ["not not a", { a: true }, true],
  ["not a", {}, null],
];

const COMPARISONS: Row[] = [
  // arithmetic binds tighter than comparison, comparison tighter than `not`, `and`, `or`
  ["x + y * 2 > 10", { x: 4, y: 3 }, false], // (x + y) * 2 > 10: true
  ["x * 2 == y + 4", { x: 3, y: 2 }, true],
  ["x - 1 < y and a", { x: 2, y: 2, a: true }, true],
  ["not x > 5", { x: 3 }, true],
  ["not x > 5 and y > 1", { x: 3, y: 0 }, false], // not (x > 5 and y > 1): true
  ["x > 5 or y > 5 and x < 0", { x: 10, y: 10 }, true], // (x > 5 or y > 5) and x < 0: false
  ["x + y * z > 0", { x: 1, z: 3 }, null],
  // `in` and `not in` take whole arithmetic operands, and bind tighter than `not`, `and`, `or`
  ["x + 1 in [3, 4]", { x: 2 }, true],
  ["x * 2 not in [4, 6]", { x: 2 }, false],
  ["x * 2 not in [4, 6]", { x: 5 }, true],
  ["not x in [1, 2]", { x: 1 }, false],
  ["x not in [1, 2] or a", { x: 1, a: true }, true],
  ["x in [1, 2] and a", { x: 1, a: false }, false],
  ['s in ["p", "q"] and not a', { s: "p", a: false }, true],
  ['s not in ["p"] and a', { a: true }, null],
];

const QUANTIFIERS: Row[] = [
  // a quantifier's body runs to the end of its clause or bracket
  ['any t in tags: t == "x" or x > 5', { tags: [], x: 10 }, false], // (any ...) or x > 5: true
  ['all t in tags: t == "x" and x > 5', { tags: [], x: 0 }, true], // (all ...) and x > 5: false
  ['(any t in tags: t == "x") or x > 5', { tags: [], x: 10 }, true],
  ['x > 5 and any t in tags: t == "a" or a', { tags: [], x: 10, a: true }, false], // (... and any) or a: true
  ['not any t in tags: t == "a" and x > 5', { tags: ["a"], x: 0 }, true], // (not any ...) and x > 5: false
  ["any t in [1, 2, 3]: t > 2 and t < 3", {}, false],
  ['count(t in tags where t == "a" or x > 5) == 2', { tags: ["a", "b"], x: 10 }, true],
];

const ARITHMETIC: Row[] = [
  // `* / %` bind tighter than `+ -`; each level is left-associative
  ["x + y * z", { x: 1, y: 2, z: 3 }, 7], // (x + y) * z: 9
  ["x + y * z - d / e % f", { x: 1, y: 2, z: 3, d: 20, e: 4, f: 3 }, 5], // left to right: -2.75
  ["x - y - z", { x: 10, y: 3, z: 2 }, 5], // x - (y - z): 9
  ["d / e / f", { d: 24, e: 4, f: 3 }, 2], // d / (e / f): 18
  ["d % e * f", { d: 20, e: 6, f: 3 }, 6], // d % (e * f): 2
  ["d / e * f", { d: 12, e: 4, f: 3 }, 9], // d / (e * f): 1
  ["x * (y + z)", { x: 2, y: 3, z: 4 }, 14],
  // unary minus binds tightest
  ["-x * y", { x: 3, y: 5 }, -15],
  ["-x + y", { x: 3, y: 5 }, 2], // -(x + y): -8
  ["x - -y", { x: 3, y: 5 }, 8],
  ["-x * -y", { x: 2, y: 3 }, 6],
  ["-(x + y) * 2", { x: 1, y: 2 }, -6],
];

const INPUT_TYPE = typeFromJsonSchema(RESULT_SCHEMA as never);
const NO_LISTS: ListValues = { lists: new Map(), hashlists: new Map() };

/** Evaluates a row three ways; returns each evaluator's truth of the condition and reasons. */
function evaluate(expr: string, values: Record<string, unknown>, value: Row[2]) {
  const e = withContext(expr);
  const numeric = typeof value === "number";
  // a number is checked with `==` on the expression in brackets, and printed by the reason
  const condition = numeric ? `(${e}) == ${value}` : e;
  const text = `${CONTEXT}
default allow "none"
rule t { when ${condition} review ${numeric ? `"{${e}}"` : '"t"'} }
rule f monitor { when not (${condition}) review "f" }
`;
  const { tags, ...context } = values;
  const input = result(tags === undefined ? {} : { tags });

  // compiled: `t` matched is true, `f` matched is false, neither is unknown
  const rs = rules(text);
  const fast = rs.decide(input, { context, now: NOW });
  expect(fast.errors).toEqual([]);
  const compiled = fast.rule === "t" ? true : fast.monitored.includes("f") ? false : null;

  // explained: the trace of `t`'s condition
  const slow = rs.decide(input, { context, now: NOW, explain: true });
  const explained = slow.explain!.rules.find((r) => r.rule === "t")!.when!.value;

  // reference: the tree-walking interpreter on the checked program
  const parsed = parseFile({ path: "test.rules", text });
  const checked = checkProgram([parsed.ast], INPUT_TYPE, { now: NOW });
  const interpreter = new Interpreter(checked.program, NO_LISTS);
  const decl = checked.program.rules.find((r) => r.name.name === "t") as RuleDecl;
  const c = prepareContext(context, checked.program.context);
  const reference = interpreter.ruleTest(decl, input, c, NOW);

  return {
    truths: { compiled, explained, reference },
    reasons: {
      compiled: fast.reason,
      explained: slow.reason,
      reference: interpreter.reason(decl.outcome!.reason, input, c, NOW),
    },
  };
}

describe.each([
  ["and, or, not", LOGIC],
  ["comparison and membership against arithmetic and logic", COMPARISONS],
  ["the extent of a quantifier's body", QUANTIFIERS],
])("precedence: %s", (_what, rows) => {
  it.each(rows)("`%s` with %j is %s", (expr, values, value) => {
    const { truths } = evaluate(expr, values, value);
    expect(truths).toEqual({ compiled: value, explained: value, reference: value });
  });
});

describe("precedence: arithmetic", () => {
  it.each(ARITHMETIC)("`%s` with %j is %s", (expr, values, value) => {
    const { truths, reasons } = evaluate(expr, values, value);
    expect(truths).toEqual({ compiled: true, explained: true, reference: true });
    const printed = String(value);
    expect(reasons).toEqual({ compiled: printed, explained: printed, reference: printed });
  });
});
