import {
  type Action,
  checkProgram,
  DEFAULT_LIMITS,
  formatDiagnostic,
  hasErrors,
  type Program,
  parseFile,
  typeFromJsonSchema,
} from "@clearance/dsl";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  compile,
  type DecideOptions,
  type Decision,
  RESULT_SCHEMA,
  type Ruleset,
  validateResult,
} from "../src/index.js";
import {
  Budget,
  compileProgram,
  EMPTY_CONTEXT,
  Interpreter,
  type ListValues,
  PreparedBuiltin,
  prepareContext,
} from "../src/testing.js";
import {
  caseValue,
  contextValue,
  DECLARATIONS,
  exceptionValue,
  HASHLIST_FILES,
  HASHLIST_VALUES,
  indexedBlock,
  inputRecord,
  longChains,
  nowValue,
  ruleSet,
} from "./arbitraries.js";
import { NOW } from "./helpers.js";

/*
 * Three evaluators must agree on every decision: the compiled fast path, the explaining path, and
 * a reference built here from the tree-walking interpreter (no compiled loop bodies) and a
 * combiner written from the documented semantics, evaluating every rule in declaration order.
 */

const INPUT_TYPE = typeFromJsonSchema(RESULT_SCHEMA as never);
const SEVERITY: Record<Action, number> = { allow: 1, review: 2, deny: 3 };

interface Reference {
  program: Program;
  values: ListValues;
  interpreter: Interpreter;
  /** each rule's source text, by declaration index */
  texts: string[];
}

function compileBoth(
  text: string,
  maxEvaluationSteps = DEFAULT_LIMITS.maxEvaluationSteps,
): { ruleset: Ruleset; ref: Reference } {
  const compiled = compile([{ path: "test.rules", text }], {
    now: NOW,
    loadList: (path) => HASHLIST_FILES[path] ?? "",
    limits: { maxEvaluationSteps },
  });
  if (!compiled.ruleset) {
    const printed = compiled.diagnostics
      .map((d) => formatDiagnostic(d, (p) => compiled.files.get(p)))
      .join("\n");
    throw new Error(`generated rules did not compile:\n${printed}\n---\n${text}`);
  }
  // The reference's own program, from the same steps as compile.ts: parse, check, list values.
  const parsed = parseFile({ path: "test.rules", text });
  const checked = checkProgram([parsed.ast], INPUT_TYPE, { now: NOW });
  expect(hasErrors([...parsed.diagnostics, ...checked.diagnostics])).toBe(false);
  const program = checked.program;
  const lists = new Map<string, Set<unknown>>();
  for (const [name, info] of program.lists) lists.set(name, new Set(info.values ?? []));
  const hashlists = new Map<string, Set<string>>();
  for (const name of program.hashlists.keys()) hashlists.set(name, HASHLIST_VALUES);
  const values: ListValues = { lists, hashlists };
  return {
    ruleset: compiled.ruleset,
    ref: {
      program,
      values,
      texts: program.rules.map((d) => text.slice(d.span.start, d.span.end)),
      interpreter: new Interpreter(
        program,
        values,
        undefined,
        undefined,
        new Budget(maxEvaluationSteps),
      ),
    },
  };
}

function message(error: unknown): string {
  if (error instanceof Error && error.name === "RuleRuntimeError") return error.message;
  return `unexpected data: ${error instanceof Error ? error.message : String(error)}`;
}

function code(error: unknown): Decision["errors"][number]["code"] {
  return error instanceof Error && error.name === "RuleRuntimeError"
    ? (error as Error & { code: Decision["errors"][number]["code"] }).code
    : "unexpected_data";
}

/** The decision the documented semantics give, from the reference interpreter. */
function referenceDecide(
  ref: Reference,
  r: Record<string, unknown>,
  inputs: { context: unknown; exception: unknown; case: unknown },
  now: number,
  revision: string,
): Decision {
  const { program, interpreter } = ref;
  const context =
    inputs.context == null ? EMPTY_CONTEXT : prepareContext(inputs.context, program.context);
  const exception = PreparedBuiltin.of("exception", inputs.exception);
  const reviewCase = PreparedBuiltin.of("case", inputs.case);
  const c = {
    ...context,
    ...(exception ? { exception } : {}),
    ...(reviewCase ? { case: reviewCase } : {}),
  };
  // one evaluation budget per decision, charged by the loops as the compiled code charges it
  interpreter.budget.used = 0;
  interface Hit {
    index: number;
    name: string;
    action: Action;
    priority: number;
    overrides: "review" | "deny" | undefined;
    forbid: boolean;
  }
  const hits: Hit[] = [];
  const matched: string[] = [];
  const monitored: string[] = [];
  const errors: Decision["errors"] = [];
  program.rules.forEach((decl, index) => {
    // expired rules are skipped: `expires` is the first instant the rule no longer applies
    if (decl.expires !== undefined && now >= decl.expires.at) return;
    const monitor = decl.monitor !== undefined;
    let value: boolean | null;
    try {
      value = interpreter.ruleTest(decl, r, c, now);
    } catch (error) {
      errors.push({ rule: decl.name.name, code: code(error), message: message(error), monitor });
      return;
    }
    if (value !== true) return;
    if (monitor) {
      monitored.push(decl.name.name);
      return;
    }
    matched.push(decl.name.name);
    hits.push({
      index,
      name: decl.name.name,
      action: decl.outcome!.action,
      priority: decl.priority?.value ?? 0,
      overrides: decl.overrides?.action,
      forbid: decl.forbidApproval !== undefined,
    });
  });
  const approvalForbiddenBy = hits.filter((h) => h.forbid).map((h) => h.name);
  // deny-overrides: most severe, then higher priority, then earlier; first-match: priority, then earlier
  const ranked = [...hits].sort(
    (a, b) =>
      (program.strategy === "deny-overrides" ? SEVERITY[b.action] - SEVERITY[a.action] : 0) ||
      b.priority - a.priority ||
      a.index - b.index,
  );
  let winner = ranked[0];
  // deny-overrides: an allow rule with `overrides review` (or `deny`) beats the review (or deny)
  // that would decide, unless a matched rule forbids approval; by priority, then declaration
  if (
    program.strategy === "deny-overrides" &&
    approvalForbiddenBy.length === 0 &&
    winner !== undefined &&
    winner.action !== "allow"
  ) {
    const over = hits
      .filter(
        (h) =>
          h.action === "allow" &&
          (winner!.action === "review" ? h.overrides !== undefined : h.overrides === "deny"),
      )
      .sort((a, b) => b.priority - a.priority || a.index - b.index)[0];
    if (over) winner = over;
  }
  let decision: Action = winner?.action ?? program.defaultOutcome.action;
  let rule: string | null = winner?.name ?? null;
  // the deciding rule's (or the default's) reason first: a reason that fails is a run-time error
  const template = winner
    ? program.rules[winner.index]!.outcome!.reason
    : program.defaultOutcome.reason;
  let reason: string;
  try {
    reason = interpreter.reason(template, r, c, now);
  } catch (error) {
    reason = template.raw.slice(1, -1);
    errors.push(
      winner
        ? {
            rule: winner.name,
            code: code(error),
            message: `in its reason: ${message(error)}`,
            monitor: false,
          }
        : {
            rule: "default",
            code: code(error),
            message: `in the default reason: ${message(error)}`,
            monitor: false,
          },
    );
  }
  // the exception's id when the deciding rule's text reads `exception.`
  const id = exception?.id;
  let exceptionId =
    winner && ref.texts[winner.index]!.includes("exception.") && typeof id === "string" ? id : null;
  // on-error after combining, as a floor; monitor rules' errors are never enforced
  const failed = errors.find((e) => !e.monitor);
  if (failed && program.onError !== "ignore") {
    const floor: Action = program.onError;
    if (SEVERITY[decision] < SEVERITY[floor]) {
      decision = floor;
      rule = failed.rule;
      reason = `rule \`${failed.rule}\` failed at run time: ${failed.message}`;
      exceptionId = null;
    }
  }
  return {
    decision,
    reason,
    rule,
    matched,
    monitored,
    approvalForbiddenBy,
    exception: exceptionId,
    errors,
    revision,
  };
}

const tally = {
  decisions: 0,
  allow: 0,
  deny: 0,
  review: 0,
  withErrors: 0,
  decidedByError: 0,
  byDefault: 0,
  byException: 0,
  approvalForbidden: 0,
};

afterAll(() => {
  const pct = (n: number) => `${((100 * n) / tally.decisions).toFixed(1)}%`;
  console.log(
    `agreement: ${tally.decisions} decisions: allow ${pct(tally.allow)}, deny ${pct(tally.deny)}, review ${pct(tally.review)}; ` +
      `with run-time errors ${pct(tally.withErrors)}, decided by an error ${pct(tally.decidedByError)}, by the default ${pct(tally.byDefault)}, ` +
      `by a rule reading the exception ${pct(tally.byException)}, with approval forbidden ${pct(tally.approvalForbidden)}`,
  );
});

const cases = fc.array(fc.tuple(inputRecord, contextValue, nowValue, exceptionValue, caseValue), {
  minLength: 1,
  maxLength: 6,
});

/** Decides every input three ways and checks they agree; returns the fast decisions and explanations. */
function agree(
  ruleset: Ruleset,
  ref: Reference,
  inputs: [Record<string, unknown>, unknown, number, unknown, unknown][],
): { fast: Decision; explain: NonNullable<Decision["explain"]> }[] {
  return inputs.map(([raw, context, now, exception, reviewCase]) => {
    const v = validateResult(raw);
    if (!v.ok) throw new Error(`generator made an invalid input: ${JSON.stringify(v.problems)}`);
    const r = v.result as Record<string, unknown>;
    // malformed exceptions and cases on purpose: decide checks them at run time
    const options = { now, context, exception, case: reviewCase } as DecideOptions;
    const fast = ruleset.decide(r, options);
    const { explain, ...slow } = ruleset.decide(r, { ...options, explain: true });
    expect(explain).toBeDefined();
    expect(slow, "explain path").toEqual(fast);
    // Tracing every atomic condition for coverage changes neither the decision nor any rule's
    // outcome or clause values: it only adds trace nodes.
    const { explain: atoms, ...covered } = ruleset.decide(r, {
      ...options,
      explain: true,
      conditions: true,
    });
    expect(covered, "explain path with conditions").toEqual(fast);
    const outcomes = (x: NonNullable<Decision["explain"]>) =>
      x.rules.map((e) => [e.rule, e.outcome, e.when?.value, e.unless?.map((u) => u.value)]);
    expect(outcomes(atoms!), "rule outcomes with conditions").toEqual(outcomes(explain!));
    expect(fast, "reference interpreter").toEqual(
      referenceDecide(ref, r, { context, exception, case: reviewCase }, now, ruleset.revision),
    );
    return { fast, explain: explain! };
  });
}

describe("the compiled evaluator, the explainer and the reference interpreter agree", () => {
  it("on random well-typed rule sets, inputs with missing fields, contexts and times", () => {
    fc.assert(
      fc.property(ruleSet(true), cases, (text, inputs) => {
        const { ruleset, ref } = compileBoth(text);
        for (const { fast, explain } of agree(ruleset, ref, inputs)) {
          tally.decisions++;
          tally[fast.decision]++;
          if (fast.errors.length > 0) tally.withErrors++;
          if (explain.decidedBy === "error") tally.decidedByError++;
          if (explain.decidedBy === "default") tally.byDefault++;
          if (fast.exception !== null) tally.byException++;
          if (fast.approvalForbiddenBy.length > 0) tally.approvalForbidden++;
        }
      }),
      { numRuns: Number(process.env.AGREEMENT_RUNS ?? 300) },
    );
    // the generator exercises every outcome
    for (const k of ["allow", "deny", "review", "withErrors", "byDefault"] as const)
      expect(tally[k] / tally.decisions, k).toBeGreaterThan(0.05);
    expect(tally.decidedByError / tally.decisions, "decidedByError").toBeGreaterThan(0.01);
    for (const k of ["byException", "approvalForbidden"] as const)
      expect(tally[k] / tally.decisions, k).toBeGreaterThan(0.005);
  });
});

describe("the three evaluators agree on the edges of issue 10", () => {
  it("on long chains of `and` / `or`, many `unless` clauses and long sums in reasons", () => {
    fc.assert(
      fc.property(longChains(), cases, (text, inputs) => {
        const { ruleset, ref } = compileBoth(text);
        agree(ruleset, ref, inputs);
      }),
      { numRuns: Number(process.env.AGREEMENT_RUNS ?? 300) / 10 },
    );
  });

  it("with a small evaluation budget, running out where the others run out", () => {
    let exceeded = 0;
    let decisions = 0;
    fc.assert(
      fc.property(ruleSet(true), fc.integer({ min: 1, max: 4 }), cases, (text, limit, inputs) => {
        const { ruleset, ref } = compileBoth(text, limit);
        for (const { fast } of agree(ruleset, ref, inputs)) {
          decisions++;
          if (fast.errors.some((e) => e.code === "evaluation_budget_exceeded")) exceeded++;
        }
      }),
      { numRuns: Number(process.env.AGREEMENT_RUNS ?? 300) / 2 },
    );
    // the budget really runs out in a good share of the decisions
    console.log(`agreement: the budget ran out in ${exceeded} of ${decisions} decisions`);
    expect(exceeded / decisions).toBeGreaterThan(0.03);
  });
});

describe("the generator", () => {
  it("makes blocks the engine really indexes (so the property covers the indexed path)", () => {
    // Rules whose conditions can fail at run time (division, context, loops) are never indexed, so a
    // block is indexed when at least 16 of its rules cannot fail: most samples.
    let indexedBlocks = 0;
    for (const block of fc.sample(indexedBlock(false), { numRuns: 10, seed: 42 })) {
      const { ref } = compileBoth(
        `${DECLARATIONS}${block.join("\n")}\nrule other { when trustScore > 1 deny "o" }`,
      );
      const compiled = compileProgram(ref.program, ref.values);
      if (compiled.indexes.length === 0) continue;
      indexedBlocks++;
      expect(compiled.indexes.map((i) => i.path)).toEqual([["sha256"]]);
      expect(compiled.unindexed).toContain(block.length);
    }
    expect(indexedBlocks).toBeGreaterThanOrEqual(5);
  });
});

/*
 * REGRESSION, fixed (rule index skips run-time errors). When 16 or more rules test one field against
 * constants (`sha256 == "..."`, `vendor.name in [...]`), codegen.ts builds an index, and the fast
 * path (ruleset.ts `candidates`) evaluates only the rules whose indexed value the input has. A
 * skipped rule never reports the errors its other conditions raise, although the semantics
 * (and the explain path, which evaluates every rule of a small rule set) evaluate `and` left to
 * right and go on after an unknown operand. With `on-error review` the fast path then allows what
 * the explain path, the reference and the same rule alone send to review:
 *   1. an erroring condition before the indexed one: `fileSize / 0 > 1 and sha256 == "ff..."`;
 *   2. the indexed field absent (unknown), an erroring condition after it:
 *      `vendor.name == "Evil Corp" and fileSize / 0 > 1` on an input without `vendor`.
 * The property above keeps clear of these shapes (see indexedBlock in arbitraries.ts).
 */
describe("the rule index and run-time errors (rules that can fail are not indexed)", () => {
  const others = (field: (i: number) => string) =>
    Array.from({ length: 16 }, (_, i) => `rule k${i} { when ${field(i)} deny "k${i}" }`).join("\n");
  const expected = {
    decision: "review",
    rule: "broken",
    reason: "rule `broken` failed at run time: division by zero in `/`",
    errors: [
      {
        rule: "broken",
        code: "division_by_zero",
        message: "division by zero in `/`",
        monitor: false,
      },
    ],
  };
  const cases: [string, string, Record<string, unknown>][] = [
    [
      "an erroring condition before the indexed one",
      `rule broken { when fileSize / 0 > 1 and sha256 == "${"f".repeat(64)}" deny "x" }\n${others((i) => `sha256 == "${i.toString(16).padStart(64, "0")}"`)}`,
      { fileSize: 10 },
    ],
    [
      "the indexed field absent, an erroring condition after it",
      `rule broken { when vendor.name == "Evil Corp" and fileSize / 0 > 1 deny "x" }\n${others((i) => `vendor.name == "v${i}"`)}`,
      { fileSize: 10 },
    ],
  ];
  const check = (text: string, input: Record<string, unknown>) => {
    const { ruleset } = compileBoth(`on-error review\ndefault allow "ok"\n${text}`);
    const r = validateResult({ sha256: HASHLIST_VALUES.values().next().value, ...input });
    if (!r.ok) throw new Error("bad input");
    const res = r.result as Record<string, unknown>;
    return {
      fast: ruleset.decide(res, { now: NOW }),
      slow: ruleset.decide(res, { now: NOW, explain: true }),
    };
  };

  it.each(cases)("%s: the explain path and the rule alone give review", (_name, text, input) => {
    const alone = text.split("\n")[0]!;
    expect(check(alone, input).fast).toMatchObject(expected);
    expect(check(text, input).slow).toMatchObject(expected);
  });

  it.each(cases)("%s: the fast path agrees (actual: allow, no errors)", (_name, text, input) => {
    expect(check(text, input).fast).toMatchObject(expected);
  });
});
