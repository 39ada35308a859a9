/**
 * Code generation: a checked program becomes JavaScript, in two stages and a link step.
 *
 * 1. Rule-index selection (rule-index.ts): which rules a lookup of the input's value reaches.
 * 2. Emission (emit-js.ts): each rule's condition and reason as the source of a named function
 *    (`rule_<name>`, `reason_<name>`); the safety notes on what may reach that source are there.
 * 3. Here: all of them in one `new Function` for the rule set, evaluated once, whose source names
 *    the rule set's revision (`//# sourceURL=clearance:<revision>/rules.js`), so stack traces
 *    and debuggers say which rule set and which rule they are in. `generatedCode` prints it.
 */
import type { Ast, CompiledRegex, Expr, Program, RuleDecl, Template } from "@clearance/dsl";
import { DEFAULT_LIMITS, someExpr } from "@clearance/dsl";
import { DEFAULT_REASON_NAME, Emitter, functionName } from "./emit-js.js";
import { indexKeyOf, type RuleIndex, RuleIndexes } from "./rule-index.js";
import {
  Budget,
  divide,
  formatValue,
  member,
  overBudget,
  type PreparedContext,
  readBuiltin,
  readContext,
  remainder,
  toTimestamp,
} from "./runtime.js";

export type { RuleIndex } from "./rule-index.js";

export type RuleTest = (
  r: Record<string, unknown>,
  c: PreparedContext,
  n: number,
) => boolean | undefined;
export type ReasonFn = (r: Record<string, unknown>, c: PreparedContext, n: number) => string;

export interface CompiledRule {
  index: number;
  name: string;
  decl: RuleDecl;
  action: Ast.Action;
  monitor: boolean;
  priority: number;
  expiresAt: number | undefined;
  /** `overrides review` / `overrides deny` (allow rules only) */
  overrides: "review" | "deny" | undefined;
  /** `forbid-approval` (review rules only): when it matches, no `overrides` rule wins */
  forbidsApproval: boolean;
  /** its conditions or reason read an `exception.*` field: when it decides, the exception did */
  readsException: boolean;
  /** `when` and not any `unless`: true matches, false or unknown (undefined) does not */
  test: RuleTest;
  reason: ReasonFn;
}

export interface CompiledProgram {
  rules: CompiledRule[];
  defaultReason: ReasonFn;
  indexes: RuleIndex[];
  /** rules no index covers, in declaration order: evaluated for every input */
  unindexed: Int32Array;
  /** compiled bodies of `any` / `all` / `count`, by node: (r, c, n, ...loop variables) -> truth */
  loopBodies: ReadonlyMap<Ast.QuantifierExpr | Ast.CountExpr, LoopBody>;
  /** the budget the compiled loops charge: reset it before each decision */
  budget: Budget;
  /** the JavaScript the rules run as, with a legend of its constants (`clearance check --emit-js`) */
  generatedCode(): string;
}

export type LoopBody = (
  r: Record<string, unknown>,
  c: PreparedContext,
  n: number,
  ...vars: unknown[]
) => unknown;

export interface ListValues {
  lists: ReadonlyMap<string, ReadonlySet<unknown>>;
  hashlists: ReadonlyMap<string, ReadonlySet<string>>;
}

export interface CodegenOptions {
  /** the budget the compiled loops charge (default: `maxEvaluationSteps` of DEFAULT_LIMITS) */
  budget?: Budget;
  /** the rule set's revision (`sha256:...`), named in the generated code's sourceURL */
  revision?: string;
}

/** The `H` of the generated code. */
const helpers = {
  toTimestamp,
  divide,
  remainder,
  readContext,
  readBuiltin,
  formatValue,
  member,
  overBudget,
};

/** Thrown when one rule cannot be compiled, so the caller can say which. */
export class RuleCompileError extends Error {
  override name = "RuleCompileError";
  constructor(
    readonly rule: RuleDecl,
    readonly failure: unknown,
  ) {
    super(
      `rule \`${rule.name.name}\`: ${failure instanceof Error ? failure.message : String(failure)}`,
    );
  }
}

type Factory = (k: unknown[], h: typeof helpers, b: Budget) => unknown;

/** A function made with `new Function`, and what it holds. */
interface Generated {
  what: string;
  factory: Factory;
}

export function compileProgram(
  program: Program,
  values: ListValues,
  options: CodegenOptions = {},
): CompiledProgram {
  const budget = options.budget ?? new Budget(DEFAULT_LIMITS.maxEvaluationSteps);
  const origin = sourceOrigin(options.revision);
  const emitter = new Emitter(program, values);
  const rules: CompiledRule[] = [];
  const indexes = new RuleIndexes();
  const pending: { rule: CompiledRule; test?: string; reason?: string }[] = [];

  program.rules.forEach((decl, index) => {
    try {
      compileRule(decl, index);
    } catch (error) {
      throw new RuleCompileError(decl, error);
    }
  });

  function compileRule(decl: RuleDecl, index: number): void {
    const rule: CompiledRule = {
      index,
      name: decl.name.name,
      decl,
      action: decl.outcome?.action ?? "review",
      monitor: decl.monitor !== undefined,
      priority: decl.priority?.value ?? 0,
      expiresAt: decl.expires?.at,
      overrides: decl.overrides?.action,
      forbidsApproval: decl.forbidApproval !== undefined,
      readsException: readsException(decl, program),
      test: alwaysTrue,
      reason: constantReason(decl.outcome?.reason),
    };
    rules.push(rule);
    const key = indexKeyOf(decl, program, values);
    if (key) indexes.add(index, key);
    // A rule whose whole condition is its index lookup needs no code: reaching it means it matched.
    const fullyIndexed = key?.whole && decl.unless.length === 0;
    const entry: { rule: CompiledRule; test?: string; reason?: string } = { rule };
    if (!fullyIndexed) entry.test = emitter.ruleFunction(decl);
    if (decl.outcome && !isConstant(decl.outcome.reason))
      entry.reason = emitter.reasonFunction(
        functionName("reason", decl.name.name),
        decl.outcome.reason,
      );
    if (entry.test !== undefined || entry.reason !== undefined) pending.push(entry);
  }

  const defaultTemplate = program.defaultOutcome.reason;
  const defaultReasonCode = isConstant(defaultTemplate)
    ? undefined
    : emitter.reasonFunction(DEFAULT_REASON_NAME, defaultTemplate);

  // One Function for the whole rule set: V8 compiles each inner function lazily, on first call.
  const body: string[] = ['"use strict";', ...emitter.hoisted, "return ["];
  for (const p of pending) body.push(`${p.test ?? "null"}, ${p.reason ?? "null"},`);
  body.push(`${defaultReasonCode ?? "null"},`);
  // Loop bodies last: the explainer runs them per list item instead of interpreting each item.
  body.push(`${emitter.bodies.map((b) => b.name).join(", ")}];`);
  body.push(`//# sourceURL=${origin}/rules.js`);
  const factory = new Function("K", "H", "B", body.join("\n")) as Factory;
  const generated: Generated[] = [{ what: "the rule set", factory }];
  const made = factory(emitter.constants, helpers, budget) as (RuleTest | ReasonFn | null)[];
  pending.forEach((p, i) => {
    const test = made[2 * i] as RuleTest | null;
    const reason = made[2 * i + 1] as ReasonFn | null;
    if (test) p.rule.test = test;
    if (reason) p.rule.reason = reason;
  });
  const defaultFn = made[2 * pending.length] as ReasonFn | null;
  const loopBodies = new Map<Ast.QuantifierExpr | Ast.CountExpr, LoopBody>();
  emitter.bodies.forEach((b, i) => {
    loopBodies.set(b.node, made[2 * pending.length + 1 + i] as unknown as LoopBody);
  });
  for (const i of indexes.dropSmall()) {
    // Fully indexed rules were given no code: give them their condition back.
    const rule = rules[i]!;
    if (rule.test !== alwaysTrue || !rule.decl.when) continue;
    const url = `${origin}/${functionName("rule", rule.name)}.js`;
    const standalone = new Function(
      "K",
      "H",
      "B",
      `${emitter.standaloneSource(rule.decl)}\n//# sourceURL=${url}`,
    ) as Factory;
    generated.push({
      what: `rule \`${oneLine(rule.name)}\`, on its own (its index was too small to keep)`,
      factory: standalone,
    });
    rule.test = standalone(emitter.constants, helpers, budget) as RuleTest;
  }
  const constants = emitter.constants;
  return {
    rules,
    defaultReason: defaultFn ?? constantReason(defaultTemplate),
    loopBodies,
    indexes: indexes.indexes,
    unindexed: indexes.unindexed(rules.length),
    budget,
    generatedCode: () => describeGenerated(origin, generated, constants),
  };
}

const alwaysTrue: RuleTest = () => true;

/** Whether the rule's conditions or reason read a field of `exception`. */
function readsException(decl: RuleDecl, program: Program): boolean {
  const roots: Expr[] = [...(decl.when ? [decl.when] : []), ...decl.unless];
  for (const p of decl.outcome?.reason.parts ?? []) if (typeof p !== "string") roots.push(p);
  return someExpr(roots, (e) => {
    if (e.kind !== "path") return false;
    const res = program.resolutions.get(e);
    return res?.kind === "builtin" && res.root === "exception";
  });
}

function isConstant(t: Template): boolean {
  return t.parts.every((p) => typeof p === "string");
}

function constantReason(t: Template | undefined): ReasonFn {
  const text = t ? t.parts.filter((p): p is string => typeof p === "string").join("") : "";
  return () => text;
}

/**
 * `clearance:<revision>`, the start of the generated code's sourceURL. The revision is computed
 * by compile.ts (`sha256:` and hex), but it ends a `//` comment in code: anything that could end
 * the comment or the URL is replaced.
 */
function sourceOrigin(revision: string | undefined): string {
  return `clearance:${(revision ?? "unrevised").replace(/[^A-Za-z0-9:._-]/g, "_")}`;
}

/**
 * The generated functions' source as V8 holds it (`Function.prototype.toString`, so nothing is
 * kept twice), after a legend of the constants `K[i]` the code refers to.
 */
function describeGenerated(origin: string, generated: Generated[], constants: unknown[]): string {
  const lines = [
    `// ${origin}: the rule set as JavaScript.`,
    "// Each function below is called once, with K (the constants), H (the helpers of",
    "// packages/engine/src/runtime.ts) and B (the evaluation budget), and returns the rules' functions.",
  ];
  constants.forEach((value, i) => {
    lines.push(`// K[${i}] = ${describeConstant(value)}`);
  });
  const functions = generated.map((g) => `// ${g.what}\n${g.factory.toString()}`);
  return `${lines.join("\n")}\n\n${functions.join("\n\n")}\n`;
}

/** One line, at most 100 characters, that cannot end the `//` comment it is printed in. */
function describeConstant(value: unknown): string {
  let text: string;
  if (value instanceof Set) {
    const items = [...value].slice(0, 5).map((v) => JSON.stringify(v));
    text = `Set(${value.size}) {${items.join(", ")}${value.size > 5 ? ", ..." : ""}}`;
  } else if (isCompiledRegex(value)) {
    text = `/${value.source}/${value.flags} (${value.engine})`;
  } else {
    text = JSON.stringify(value) ?? String(value);
  }
  text = oneLine(text);
  return text.length > 100 ? `${text.slice(0, 97)}...` : text;
}

/** `text` with the characters that end a line (and so a `//` comment) escaped. */
function oneLine(text: string): string {
  return text.replace(
    /[\n\r\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

function isCompiledRegex(value: unknown): value is CompiledRegex {
  return (
    typeof value === "object" &&
    value !== null &&
    "engine" in value &&
    "source" in value &&
    typeof (value as CompiledRegex).test === "function"
  );
}
