import type { Action, Ast, Expr, OnError, Program, SourceFile, Strategy } from "@clearance/dsl";
import { positionAt } from "@clearance/dsl";
import { type AnalysisResult, isValidated, type Problem, validateResult } from "@clearance/result";
import type { CompiledProgram, CompiledRule, ListValues } from "./codegen.js";
import {
  applyErrors,
  applyOverrides,
  type Combined,
  outranks,
  precedes,
  type RuleError,
} from "./combine.js";
import {
  type CaseInput,
  type ExceptionInput,
  type ExceptionRecord,
  ExceptionSet,
} from "./exceptions.js";
import { type ConditionTrace, Interpreter } from "./interpret.js";
import {
  builtinProblems,
  contextProblems,
  EMPTY_CONTEXT,
  PreparedBuiltin,
  type PreparedContext,
  prepareContext,
  RuleRuntimeError,
  type RuntimeErrorCode,
} from "./runtime.js";

export interface DecideOptions {
  /** request context: the fields declared with `context { ... }` */
  context?: unknown;
  /** evaluation time (Date, epoch ms or RFC 3339); defaults to the current time */
  now?: Date | number | string;
  /** record every rule's outcome and every condition's value */
  explain?: boolean;
  /**
   * With `explain`: the trace of each rule also holds every atomic condition (`conditions()`) that
   * was evaluated, calls such as `exists(x)` and boolean fields included, and every trace node its
   * `span`. For condition coverage (`clearance test --coverage`); an explanation shown to people
   * leaves it off.
   */
  conditions?: boolean;
  /**
   * the one exception that applies to this decision (`exception.*` in the rules; see
   * ExceptionSet.find); checked like the context: a malformed one fails the rules that read it
   */
  exception?: ExceptionInput;
  /** the review case of the file, when one exists (`case.*` in the rules) */
  case?: CaseInput;
}

export interface Decision {
  decision: Action;
  reason: string;
  /** the deciding rule; null when the default decided */
  rule: string | null;
  /** every enforced rule that matched, in declaration order */
  matched: string[];
  /** monitor rules that matched: reported, never enforced */
  monitored: string[];
  /** matched enforced `forbid-approval` rules, in declaration order: no `overrides` rule won */
  approvalForbiddenBy: string[];
  /** the id of the exception, when the deciding rule read an `exception.*` field; else null */
  exception: string | null;
  errors: RuleError[];
  revision: string;
  explain?: Explanation;
}

export interface Location {
  file: string;
  line: number;
  column: number;
}

export type RuleOutcome = "matched" | "not_matched" | "unknown" | "expired" | "error";

export interface RuleExplanation {
  rule: string;
  action: Action;
  monitor: boolean;
  priority: number;
  location: Location;
  outcome: RuleOutcome;
  when?: ConditionTrace;
  unless?: ConditionTrace[];
  /** the rule's reason, when it matched */
  reason?: string;
  error?: string;
  /** when the rule stopped applying, for expired rules */
  expiredAt?: string;
}

export interface Explanation {
  strategy: Strategy;
  onError: OnError;
  now: string;
  decidedBy: "rule" | "default" | "error";
  /** the rules evaluated for this input, in declaration order */
  rules: RuleExplanation[];
  /** rules skipped because their indexed condition (`sha256 == ...`) could not hold for this input */
  notApplicable: number;
}

/**
 * One atomic condition of a rule: an operand of the `and`, `or` and `not` that make up its `when` or
 * one of its `unless` clauses, itself none of those. A loop (`any`, `all`, a `count` compared) is
 * one condition: the explanation traces only the list item that decided it, not every item.
 */
export interface ConditionSite {
  rule: string;
  /** `when`, or the `unless` clause it is part of */
  clause: "when" | "unless";
  /** for `unless`: which of the rule's `unless` clauses, from 0 */
  unless?: number;
  /** the condition's source text, on one line */
  expr: string;
  span: Ast.Node["span"];
}

export interface RuleInfo {
  name: string;
  action: Action;
  monitor: boolean;
  priority: number;
  expires?: string;
  location: Location;
}

export interface Revision {
  /** content hash of every rule file and list */
  revision: string;
  /** the git commit of the rules' work tree, when there is one */
  commit?: { sha: string; dirty: boolean };
}

/** A result that failed validation: it is never evaluated. */
export class InvalidResultError extends Error {
  override name = "InvalidResultError";
  constructor(readonly problems: Problem[]) {
    super(
      `invalid analysis result: ${problems.map((p) => `${p.pointer || "/"}: ${p.message}`).join("; ")}`,
    );
  }
}

const NO_EXCEPTIONS: readonly ExceptionRecord[] = Object.freeze([]);

/** A compiled rule set. `decide` is synchronous, never throws for rule failures, and is safe to share. */
export class Ruleset {
  readonly name: string | undefined;
  readonly strategy: Strategy;
  /** the inputs declared with `inputs canonical, virustotal`; undefined without a declaration */
  readonly inputs: readonly string[] | undefined;
  readonly onError: OnError;
  readonly revision: string;
  readonly commit: { sha: string; dirty: boolean } | undefined;
  readonly rules: readonly RuleInfo[];
  /**
   * The exceptions kept with the rules (`exceptions.json` of the rule directory), validated and
   * frozen; empty when there is none. `decide` does not apply them by itself: a caller finds the
   * one that applies (`ruleset.exceptionSet.find(result, context, now)`) and passes it.
   */
  readonly exceptions: readonly ExceptionRecord[];
  private exceptionIndex: ExceptionSet | undefined;
  private readonly compiled: CompiledProgram;
  private readonly interpreter: Interpreter;
  private readonly defaultAction: Action;
  private readonly locations: Location[];
  private readonly allRules: Int32Array;
  private readonly sourceText: (span: Ast.Node["span"]) => string;

  constructor(
    private readonly program: Program,
    compiled: CompiledProgram,
    values: ListValues,
    files: ReadonlyMap<string, SourceFile>,
    revision: Revision,
    exceptions: readonly ExceptionRecord[] = NO_EXCEPTIONS,
  ) {
    this.name = program.name;
    this.exceptions = exceptions;
    this.strategy = program.strategy;
    this.inputs = program.inputs;
    this.onError = program.onError;
    this.revision = revision.revision;
    this.commit = revision.commit;
    this.compiled = compiled;
    this.allRules = Int32Array.from(compiled.rules.keys());
    this.defaultAction = program.defaultOutcome.action;
    // a condition written over several lines is explained on one
    const text = (span: Ast.Node["span"]) =>
      (files.get(span.file)?.text.slice(span.start, span.end) ?? "").replace(/\s*\n\s*/g, " ");
    this.sourceText = text;
    this.interpreter = new Interpreter(program, values, text, compiled.loopBodies, compiled.budget);
    this.locations = compiled.rules.map((r) => {
      const file = files.get(r.decl.span.file);
      const pos = file ? positionAt(file, r.decl.name.span.start) : { line: 0, column: 0 };
      return { file: r.decl.span.file, line: pos.line, column: pos.column };
    });
    this.rules = Object.freeze(
      compiled.rules.map((r, i) => {
        const info: RuleInfo = {
          name: r.name,
          action: r.action,
          monitor: r.monitor,
          priority: r.priority,
          location: this.locations[i]!,
        };
        if (r.decl.expires) info.expires = new Date(r.decl.expires.at).toISOString();
        return Object.freeze(info);
      }),
    );
  }

  /**
   * `exceptions` indexed for `find`, built on first use. The records were validated when the rule
   * set was loaded, with its options: the set accepts each of them again.
   */
  get exceptionSet(): ExceptionSet {
    this.exceptionIndex ??= new ExceptionSet(this.exceptions, { allowNoExpiry: true });
    return this.exceptionIndex;
  }

  /**
   * Every rule's atomic conditions, in declaration order and in the order they are written: what
   * condition coverage counts. `decide(..., {explain: true, conditions: true})` traces each one
   * that was evaluated under its `span`.
   */
  conditions(): ConditionSite[] {
    const out: ConditionSite[] = [];
    const atoms = (e: Expr, site: Omit<ConditionSite, "expr" | "span">) => {
      if (e.kind === "binary" && (e.op === "and" || e.op === "or")) {
        atoms(e.left, site);
        atoms(e.right, site);
      } else if (e.kind === "unary" && e.op === "not") atoms(e.operand, site);
      else out.push({ ...site, expr: this.sourceText(e.span), span: e.span });
    };
    for (const { decl } of this.compiled.rules) {
      if (decl.when) atoms(decl.when, { rule: decl.name.name, clause: "when" });
      decl.unless.forEach((u, i) => {
        atoms(u, { rule: decl.name.name, clause: "unless", unless: i });
      });
    }
    return out;
  }

  /** The context fields the rules declare (`context { ... }`), by name. */
  get contextFields(): readonly string[] {
    return [...this.program.context.keys()];
  }

  /**
   * Problems with a request context, as JSON Pointers into it: undeclared fields and wrong types.
   * `decide` itself tolerates them (only the rules that read a bad field fail).
   */
  checkContext(context: unknown): Problem[] {
    return contextProblems(context, this.program.context);
  }

  /**
   * Problems with a decision's `exception` or `case`, as JSON Pointers into it. `decide` itself
   * tolerates them (only the rules that read a bad field fail).
   */
  static checkBuiltin(root: "exception" | "case", value: unknown): Problem[] {
    return builtinProblems(root, value);
  }

  /**
   * The JavaScript the rules were compiled to, as it runs: one function per rule (`rule_<name>`),
   * the source named `clearance:<revision>/...` in stack traces. For `clearance check --emit-js`.
   */
  generatedCode(): string {
    return this.compiled.generatedCode();
  }

  /**
   * Decides one analysis result. A result that was not produced by `validateResult` / `toCanonical`
   * is validated first; an invalid one throws InvalidResultError and is never half-evaluated.
   */
  decide(result: AnalysisResult | Record<string, unknown>, options: DecideOptions = {}): Decision {
    let r = result as Record<string, unknown>;
    if (!isValidated(r)) {
      const v = validateResult(r);
      if (!v.ok) throw new InvalidResultError(v.problems);
      r = v.result as Record<string, unknown>;
    }
    const n = resolveNow(options.now);
    const c = this.prepare(options);
    // One budget per decision; `decide` is synchronous, so decisions never share it.
    this.compiled.budget.used = 0;
    if (options.explain === true) return this.explainDecide(r, c, n, options.conditions === true);

    const rules = this.compiled.rules;
    const order = this.candidates(r);
    const strategy = this.strategy;
    const matched: string[] = [];
    const monitored: string[] = [];
    let errors: RuleError[] | undefined;
    let best: CompiledRule | undefined;
    let overReview: CompiledRule | undefined;
    let overDeny: CompiledRule | undefined;
    let forbidden: string[] | undefined;
    for (let k = 0; k < order.length; k++) {
      const rule = rules[order[k]!]!;
      if (rule.expiresAt !== undefined && n >= rule.expiresAt) continue;
      let hit: boolean | undefined;
      try {
        hit = rule.test(r, c, n);
      } catch (error) {
        (errors ??= []).push(toRuleError(rule, error));
        continue;
      }
      if (hit !== true) continue;
      if (rule.monitor) {
        monitored.push(rule.name);
        continue;
      }
      matched.push(rule.name);
      if (best === undefined || outranks(strategy, rule, best)) best = rule;
      if (rule.overrides !== undefined) {
        if (precedes(rule, overReview)) overReview = rule;
        if (rule.overrides === "deny" && precedes(rule, overDeny)) overDeny = rule;
      }
      if (rule.forbidsApproval) (forbidden ??= []).push(rule.name);
    }
    best = applyOverrides(strategy, best, overReview, overDeny, forbidden !== undefined);
    return this.finish(r, c, n, best, matched, monitored, forbidden ?? [], errors ?? []);
  }

  /** The context (checked now), exception and case (checked as rules read them) of one decision. */
  private prepare(options: DecideOptions): PreparedContext {
    const context =
      options.context == null
        ? EMPTY_CONTEXT
        : prepareContext(options.context, this.program.context);
    if (options.exception == null && options.case == null) return context;
    const prepared: PreparedContext = { values: context.values, bad: context.bad };
    const exception = PreparedBuiltin.of("exception", options.exception);
    if (exception) prepared.exception = exception;
    const reviewCase = PreparedBuiltin.of("case", options.case);
    if (reviewCase) prepared.case = reviewCase;
    return prepared;
  }

  private finish(
    r: Record<string, unknown>,
    c: PreparedContext,
    n: number,
    best: CompiledRule | undefined,
    matched: string[],
    monitored: string[],
    approvalForbiddenBy: string[],
    errors: RuleError[],
    explanation?: Explanation,
    /** told the deciding rule's reason, when it rendered */
    rendered?: (reason: string) => void,
  ): Decision {
    // The deciding rule's (or the default's) reason is rendered before `on-error` applies: a
    // reason that fails is that rule's run-time error like any other.
    let reason = "";
    if (best) {
      try {
        reason = best.reason(r, c, n);
        rendered?.(reason);
      } catch (error) {
        reason = best.decl.outcome?.reason.raw.slice(1, -1) ?? "";
        errors.push({
          ...toRuleError(best, error),
          message: `in its reason: ${errorMessage(error)}`,
        });
      }
    } else {
      try {
        reason = this.compiled.defaultReason(r, c, n);
      } catch (error) {
        reason = this.program.defaultOutcome.reason.raw.slice(1, -1);
        errors.push({
          rule: "default",
          code: errorCode(error),
          message: `in the default reason: ${errorMessage(error)}`,
          monitor: false,
        });
      }
    }
    const initial: Combined = best
      ? { decision: best.action, rule: best.name, index: best.index }
      : { decision: this.defaultAction, rule: null, index: -1 };
    const applied = applyErrors(this.onError, initial, errors);
    const combined = applied.combined;
    if (applied.failedRule) {
      reason = `rule \`${applied.failedRule.rule}\` failed at run time: ${applied.failedRule.message}`;
    }
    // The exception decided when the deciding rule read it: its id, as the exception gave it.
    const id = best?.readsException && !applied.failedRule ? c.exception?.id : undefined;
    const decision: Decision = {
      decision: combined.decision,
      reason,
      rule: combined.rule,
      matched,
      monitored,
      approvalForbiddenBy,
      exception: id ?? null,
      errors,
      revision: this.revision,
    };
    if (explanation) {
      explanation.decidedBy = applied.failedRule ? "error" : best ? "rule" : "default";
      decision.explain = explanation;
    }
    return decision;
  }

  /** Rule indices to evaluate, in declaration order: the unindexed ones plus index hits. */
  private candidates(r: Record<string, unknown>): ArrayLike<number> {
    const indexes = this.compiled.indexes;
    if (indexes.length === 0) return this.compiled.unindexed;
    let hits: number[] | undefined;
    for (const idx of indexes) {
      let v: unknown = r;
      for (const seg of idx.path) {
        if (v == null) break;
        v = (v as Record<string, unknown>)[seg];
      }
      if (v == null) continue;
      const bucket = idx.buckets.get(v);
      if (bucket) hits = hits ? hits.concat(bucket) : bucket.slice();
    }
    if (!hits) return this.compiled.unindexed;
    hits.sort((a, b) => a - b);
    return mergeSorted(this.compiled.unindexed, hits);
  }

  private explainDecide(
    r: Record<string, unknown>,
    c: PreparedContext,
    n: number,
    atoms: boolean,
  ): Decision {
    const rules = this.compiled.rules;
    // Small rule sets explain every rule, including those the index would skip (they show which
    // field was missing); large ones (per-hash lists) explain the rules that could apply.
    const order = rules.length <= EXPLAIN_ALL_RULES ? this.allRules : this.candidates(r);
    const explanation: Explanation = {
      strategy: this.strategy,
      onError: this.onError,
      now: new Date(n).toISOString(),
      decidedBy: "default",
      rules: [],
      notApplicable: rules.length - order.length,
    };
    const matched: string[] = [];
    const monitored: string[] = [];
    const errors: RuleError[] = [];
    const reasons: { entry: RuleExplanation; rule: CompiledRule }[] = [];
    let best: CompiledRule | undefined;
    let overReview: CompiledRule | undefined;
    let overDeny: CompiledRule | undefined;
    const forbidden: string[] = [];
    for (let k = 0; k < order.length; k++) {
      const rule = rules[order[k]!]!;
      const entry: RuleExplanation = {
        rule: rule.name,
        action: rule.action,
        monitor: rule.monitor,
        priority: rule.priority,
        location: this.locations[rule.index]!,
        outcome: "not_matched",
      };
      explanation.rules.push(entry);
      if (rule.expiresAt !== undefined && n >= rule.expiresAt) {
        entry.outcome = "expired";
        entry.expiredAt = new Date(rule.expiresAt).toISOString();
        continue;
      }
      let hit: boolean | null;
      try {
        const traced = this.interpreter.explainRule(rule.decl, r, c, n, atoms);
        hit = traced.value;
        if (traced.when) entry.when = traced.when;
        if (traced.unless.length > 0) entry.unless = traced.unless;
      } catch (error) {
        const e = toRuleError(rule, error);
        errors.push(e);
        entry.outcome = "error";
        entry.error = e.message;
        continue;
      }
      if (hit !== true) {
        entry.outcome = hit === null ? "unknown" : "not_matched";
        continue;
      }
      entry.outcome = "matched";
      if (rule.decl.outcome) reasons.push({ entry, rule });
      if (rule.monitor) {
        monitored.push(rule.name);
        continue;
      }
      matched.push(rule.name);
      if (best === undefined || outranks(this.strategy, rule, best)) best = rule;
      if (rule.overrides !== undefined) {
        if (precedes(rule, overReview)) overReview = rule;
        if (rule.overrides === "deny" && precedes(rule, overDeny)) overDeny = rule;
      }
      if (rule.forbidsApproval) forbidden.push(rule.name);
    }
    best = applyOverrides(this.strategy, best, overReview, overDeny, forbidden.length > 0);
    let bestReason: string | undefined;
    const decision = this.finish(
      r,
      c,
      n,
      best,
      matched,
      monitored,
      forbidden,
      errors,
      explanation,
      (x) => {
        bestReason = x;
      },
    );
    // The reasons of the matched rules, for the explanation, once the decision is made: rendered
    // before, their loops would spend budget the plain decision does not, and the two could differ.
    for (const { entry, rule } of reasons) {
      if (rule === best) {
        if (bestReason !== undefined) entry.reason = bestReason;
        continue;
      }
      try {
        // The compiled reason: same text as the interpreter's (the agreement tests check the
        // deciding reason), at a fraction of the cost.
        entry.reason = rule.reason(r, c, n);
      } catch {
        // reported when it decides; an explanation still shows the rule matched
      }
    }
    return decision;
  }
}

/** Rule sets up to this size explain every rule; larger ones explain the rules their index selects. */
const EXPLAIN_ALL_RULES = 1_000;

function mergeSorted(a: ArrayLike<number>, b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  let last = -1;
  while (i < a.length || j < b.length) {
    const next = j >= b.length || (i < a.length && a[i]! <= b[j]!) ? a[i++]! : b[j++]!;
    if (next !== last) out.push(next);
    last = next;
  }
  return out;
}

function resolveNow(now: DecideOptions["now"]): number {
  if (now === undefined) return Date.now();
  const ms = now instanceof Date ? now.getTime() : typeof now === "number" ? now : Date.parse(now);
  if (!Number.isFinite(ms)) throw new TypeError(`\`now\` is not a valid time: \`${String(now)}\``);
  return ms;
}

function errorMessage(error: unknown): string {
  if (error instanceof RuleRuntimeError) return error.message;
  // Anything else is a type the schema should have excluded: say what broke, not a stack.
  return `unexpected data: ${error instanceof Error ? error.message : String(error)}`;
}

function errorCode(error: unknown): RuntimeErrorCode {
  return error instanceof RuleRuntimeError ? error.code : "unexpected_data";
}

function toRuleError(rule: CompiledRule, error: unknown): RuleError {
  return {
    rule: rule.name,
    code: errorCode(error),
    message: errorMessage(error),
    monitor: rule.monitor,
  };
}
