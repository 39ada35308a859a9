import type { Ast, CompiledRegex, Expr, Program, Resolution, Template, Type } from "@clearance/dsl";
import { compileRegex, DEFAULT_LIMITS } from "@clearance/dsl";
import type { ListValues, LoopBody } from "./codegen.js";
import {
  Budget,
  divide,
  formatValue,
  member,
  type PreparedContext,
  readBuiltin,
  readContext,
  remainder,
  toTimestamp,
} from "./runtime.js";

/**
 * A tree-walking evaluator with the same semantics as the compiled code. It serves twice:
 * as the reference the compiled evaluator is property-tested against, and as the explainer,
 * recording every condition's value and the field values it saw.
 */

/** `true`, `false` or `null` for unknown. */
export type Truth = boolean | null;

export interface ConditionTrace {
  /** the condition's source text */
  expr: string;
  value: Truth;
  /** field paths this condition read, with the values seen (timestamps as RFC 3339) */
  fields?: Record<string, unknown>;
  /** field paths that were absent, making the condition unknown */
  missing?: string[];
  children?: ConditionTrace[];
  /**
   * for `any` / `all`: the index of the list item that decided, or, when the result is unknown,
   * of the first item that left it unknown (its trace, in `children`, names what was missing)
   */
  item?: number;
  /** for `any` / `all` whose result is unknown: how many items left it unknown */
  unknownItems?: number;
  /**
   * where the condition is in its rule file; only when `decide` was asked for `conditions`
   * (condition coverage tells apart two conditions of the same text by it)
   */
  span?: Ast.Node["span"];
}

interface PathInfo {
  res: Resolution;
  /** segments to follow from the root value */
  rest: readonly string[];
  name: string;
  isTimestamp: boolean;
  /** recorded in traces */
  recorded: boolean;
  /** a named list's items, as an array, for uses other than `in` */
  listValues: unknown[] | undefined;
}

interface Env {
  r: Record<string, unknown>;
  c: PreparedContext;
  n: number;
  vars: unknown[];
  /** the trace being filled, when explaining */
  trace: ConditionTrace | undefined;
  /**
   * when explaining for condition coverage: every operand of `and`, `or` and `not` is traced,
   * calls and boolean fields included, and each trace node carries its span
   */
  atoms?: boolean;
}

export class Interpreter {
  private readonly regexes = new Map<Ast.MatchExpr, CompiledRegex>();
  /** per-node strings computed once: explaining is on the hot path of `explain: true` */
  private readonly texts = new Map<Expr, string>();
  private readonly paths = new Map<Ast.PathExpr, PathInfo>();

  constructor(
    private readonly program: Program,
    private readonly values: ListValues,
    private readonly sourceText: (span: Ast.Node["span"]) => string = () => "",
    /**
     * Compiled loop bodies. The explainer passes them so that each list item is evaluated at
     * compiled speed (only the deciding item is traced); the reference interpreter does not.
     */
    private readonly loopBodies?: ReadonlyMap<Ast.QuantifierExpr | Ast.CountExpr, LoopBody>,
    /**
     * The evaluation budget loops charge, as the compiled loops do; the explainer shares the
     * compiled program's. Reset `used` before each decision.
     */
    readonly budget: Budget = new Budget(DEFAULT_LIMITS.maxEvaluationSteps),
  ) {}

  /** The rule's match: `when` and not any `unless`. */
  ruleTest(rule: Ast.RuleDecl, r: Record<string, unknown>, c: PreparedContext, n: number): Truth {
    const env: Env = { r, c, n, vars: [], trace: undefined };
    let acc: Truth = rule.when ? this.truth(this.eval(rule.when, env)) : null;
    for (const u of rule.unless) {
      if (acc === false) break;
      const v = this.truth(this.eval(u, env));
      acc = and3(acc, v === null ? null : !v);
    }
    return acc;
  }

  /**
   * Like ruleTest, with a trace of `when` and each `unless` that was evaluated. With `atoms`, the
   * trace also holds every operand of `and`, `or` and `not`, each with its span (see Env.atoms).
   */
  explainRule(
    rule: Ast.RuleDecl,
    r: Record<string, unknown>,
    c: PreparedContext,
    n: number,
    atoms = false,
  ): { value: Truth; when?: ConditionTrace; unless: ConditionTrace[] } {
    const unless: ConditionTrace[] = [];
    let when: ConditionTrace | undefined;
    let acc: Truth = null;
    if (rule.when) {
      when = this.traced(rule.when, r, c, n, atoms);
      acc = when.value;
    }
    for (const u of rule.unless) {
      if (acc === false) break;
      const t = this.traced(u, r, c, n, atoms);
      unless.push(t);
      acc = and3(acc, t.value === null ? null : !t.value);
    }
    const out: { value: Truth; when?: ConditionTrace; unless: ConditionTrace[] } = {
      value: acc,
      unless,
    };
    if (when) out.when = when;
    return out;
  }

  private text(e: Expr): string {
    let t = this.texts.get(e);
    if (t === undefined) {
      t = this.sourceText(e.span);
      this.texts.set(e, t);
    }
    return t;
  }

  private traced(
    e: Expr,
    r: Record<string, unknown>,
    c: PreparedContext,
    n: number,
    atoms: boolean,
  ): ConditionTrace {
    const trace: ConditionTrace = { expr: this.text(e), value: null };
    const env: Env = { r, c, n, vars: [], trace };
    if (atoms) {
      env.atoms = true;
      trace.span = e.span;
    }
    trace.value = this.truth(this.eval(e, env));
    return trace;
  }

  reason(t: Template, r: Record<string, unknown>, c: PreparedContext, n: number): string {
    const env: Env = { r, c, n, vars: [], trace: undefined };
    let out = "";
    for (const p of t.parts) {
      out +=
        typeof p === "string"
          ? p
          : formatValue(this.eval(p, env), this.program.types.get(p) as Type);
    }
    return out;
  }

  private truth(v: unknown): Truth {
    return v == null ? null : (v as boolean);
  }

  /** Evaluates a sub-condition as its own trace node, when tracing. */
  private child(e: Expr, env: Env): unknown {
    const parent = env.trace;
    if (!parent) return this.eval(e, env);
    const node: ConditionTrace = { expr: this.text(e), value: null };
    if (env.atoms) node.span = e.span;
    (parent.children ??= []).push(node);
    env.trace = node;
    try {
      const v = this.eval(e, env);
      node.value = this.truth(v);
      return v;
    } finally {
      env.trace = parent;
    }
  }

  eval(e: Expr, env: Env): unknown {
    switch (e.kind) {
      case "literal":
        return e.value;
      case "list":
        return e.items.map((i) => this.eval(i, env));
      case "path":
        return this.path(e, env, true);
      case "unary": {
        if (e.op === "not") {
          const v =
            env.trace && (env.atoms || isCondition(e.operand))
              ? this.child(e.operand, env)
              : this.eval(e.operand, env);
          return v == null ? undefined : !v;
        }
        const v = this.eval(e.operand, env);
        return v == null ? undefined : -(v as number);
      }
      case "binary":
        return this.binary(e, env);
      case "match": {
        const v = this.eval(e.operand, env);
        if (v == null) return undefined;
        return this.regex(e).test(v as string);
      }
      case "quantifier":
      case "count":
        return this.loop(e, env);
      case "call":
        return this.call(e, env);
      case "error":
        throw new Error("cannot evaluate a rule set with errors");
    }
  }

  /** Everything about a path that does not depend on the input, computed once per node. */
  private pathInfo(e: Ast.PathExpr): PathInfo {
    let info = this.paths.get(e);
    if (info === undefined) {
      const res = this.program.resolutions.get(e) as Resolution;
      const rest =
        res.kind === "context" || res.kind === "builtin"
          ? res.path.slice(1)
          : res.kind === "list" || res.kind === "hashlist"
            ? []
            : res.path;
      info = {
        res,
        rest,
        name: e.segments.map((x) => x.name).join("."),
        isTimestamp:
          res.kind !== "list" && res.kind !== "hashlist" && res.type.kind === "timestamp",
        // A bare loop variable (`e`) is shown through its fields (`e.result`), not as a whole item.
        recorded: !(res.kind === "variable" && res.path.length === 0),
        listValues: res.kind === "list" ? [...(this.values.lists.get(res.name) ?? [])] : undefined,
      };
      this.paths.set(e, info);
    }
    return info;
  }

  private path(e: Ast.PathExpr, env: Env, convert: boolean): unknown {
    const info = this.pathInfo(e);
    const res = info.res;
    let v: unknown;
    switch (res.kind) {
      case "list":
        return info.listValues;
      case "hashlist":
        return this.values.hashlists.get(res.name);
      case "context":
        v = readContext(env.c, res.path[0]!);
        break;
      case "builtin":
        v = readBuiltin(env.c, res.root, res.path[0]!);
        break;
      case "variable":
        v = env.vars[res.depth];
        break;
      case "field":
        v = env.r;
        break;
    }
    const rest = info.rest;
    for (let i = 0; i < rest.length; i++) {
      if (v == null) break;
      v = (v as Record<string, unknown>)[rest[i]!];
    }
    if (v === null) v = undefined;
    if (convert && info.isTimestamp) v = toTimestamp(v, info.name);
    const trace = env.trace;
    if (trace !== undefined && info.recorded) {
      if (v === undefined) {
        if (!(trace.missing ??= []).includes(info.name)) trace.missing.push(info.name);
      } else (trace.fields ??= {})[info.name] = shown(v, info.isTimestamp);
    }
    return v;
  }

  private regex(e: Ast.MatchExpr): CompiledRegex {
    let re = this.regexes.get(e);
    if (!re) {
      re = compileRegex(
        e.regex.source,
        e.regex.flags,
        this.program.regexes.get(e) ?? { engine: "re2", reason: "" },
      );
      this.regexes.set(e, re);
    }
    return re;
  }

  private binary(e: Ast.BinaryExpr, env: Env): unknown {
    if (e.op === "and" || e.op === "or") {
      // A chain `a and b and c` is evaluated (and traced) as one list of operands, left to right,
      // stopping at the first that decides: the same operands the nested form evaluates.
      const operands: Expr[] = [];
      let x: Expr = e;
      while (x.kind === "binary" && x.op === e.op) {
        operands.push(x.right);
        x = x.left;
      }
      operands.push(x);
      operands.reverse();
      const decisive = e.op === "or";
      let unknown = false;
      for (const operand of operands) {
        const v = this.truth(
          env.trace && (env.atoms || isCondition(operand))
            ? this.child(operand, env)
            : this.eval(operand, env),
        );
        if (v === decisive) return decisive;
        if (v === null) unknown = true;
      }
      return unknown ? undefined : !decisive;
    }
    if (e.op === "in" || e.op === "not in") {
      const found = this.member(e, env);
      return e.op === "in" || found == null ? found : !found;
    }
    if (isArithmetic(e.op)) return this.arithmetic(e, env);
    const a = this.eval(e.left, env);
    if (a == null) return undefined;
    const b = this.eval(e.right, env);
    if (b == null) return undefined;
    switch (e.op) {
      case "==":
        return a === b;
      case "!=":
        return a !== b;
      case "<":
        return (a as number) < (b as number);
      case "<=":
        return (a as number) <= (b as number);
      case ">":
        return (a as number) > (b as number);
      case ">=":
        return (a as number) >= (b as number);
      case "contains":
        return (a as string).includes(b as string);
      case "startsWith":
        return (a as string).startsWith(b as string);
      case "endsWith":
        return (a as string).endsWith(b as string);
      default:
        throw new Error(`unexpected operator ${e.op}`);
    }
  }

  /**
   * `a + b - c * d ...`: a tree leaning left, as deep as the chain is long. The left spine is
   * walked with a loop into a running value; evaluation goes left to right and stops at the first
   * unknown operand, exactly as the nested form does.
   */
  private arithmetic(e: Ast.BinaryExpr, env: Env): unknown {
    const spine: Ast.BinaryExpr[] = [];
    let x: Expr = e;
    while (x.kind === "binary" && isArithmetic(x.op)) {
      spine.push(x);
      x = x.left;
    }
    let acc = this.eval(x, env);
    for (let i = spine.length - 1; i >= 0; i--) {
      if (acc == null) return undefined;
      const node = spine[i]!;
      const b = this.eval(node.right, env);
      if (b == null) return undefined;
      acc = applyArithmetic(node.op, acc as number, b as number);
    }
    return acc ?? undefined;
  }

  private member(e: Ast.BinaryExpr, env: Env): boolean | undefined {
    const a = this.eval(e.left, env);
    if (a == null) return undefined;
    const res = e.right.kind === "path" ? this.pathInfo(e.right).res : undefined;
    if (res?.kind === "hashlist")
      return (this.values.hashlists.get(res.name) ?? new Set()).has((a as string).toLowerCase());
    if (res?.kind === "list") return (this.values.lists.get(res.name) ?? new Set()).has(a);
    const list = this.eval(e.right, env);
    if (list == null) return undefined;
    return member(a, list as unknown[]);
  }

  private loop(e: Ast.QuantifierExpr | Ast.CountExpr, env: Env): unknown {
    const list = this.eval(e.collection, env) as unknown[] | undefined;
    if (list == null) return undefined;
    this.budget.charge(list.length);
    const depth = env.vars.length;
    const trace = env.trace;
    // Items are evaluated without a trace (compiled when a body is available); the deciding
    // item is traced afterwards.
    env.trace = undefined;
    const compiled = this.loopBodies?.get(e);
    const outer = compiled !== undefined && depth > 0 ? env.vars.slice(0, depth) : undefined;
    let result: unknown;
    let decidingItem = -1;
    let unknownItems = 0;
    let firstUnknown = -1;
    try {
      if (e.kind === "count") {
        let k = 0;
        for (let i = 0; i < list.length; i++)
          if (this.item(e, env, depth, list[i], compiled, outer) === true) k++;
        result = k;
      } else {
        const stopOn = e.quantifier === "any";
        result = !stopOn;
        for (let i = 0; i < list.length; i++) {
          const v = this.item(e, env, depth, list[i], compiled, outer);
          if (v === stopOn) {
            result = stopOn;
            decidingItem = i;
            break;
          }
          if (v == null) {
            if (unknownItems === 0) firstUnknown = i;
            unknownItems++;
          }
        }
        if (decidingItem < 0 && unknownItems > 0) result = undefined;
      }
    } finally {
      env.vars.length = depth;
      env.trace = trace;
    }
    // Unknown: the first item that made it so is traced, to name the fields it lacked.
    if (trace && decidingItem < 0 && unknownItems > 0) {
      decidingItem = firstUnknown;
      trace.unknownItems = unknownItems;
    }
    if (trace && decidingItem >= 0) {
      trace.item = decidingItem;
      env.vars[depth] = list[decidingItem];
      const node: ConditionTrace = { expr: this.text(e.body), value: null };
      if (env.atoms) node.span = e.body.span;
      (trace.children ??= []).push(node);
      env.trace = node;
      // The deciding item is evaluated again only to trace it: that replay was paid for above,
      // so it charges nothing (the explained decision spends what the plain one does).
      const { used, limit } = this.budget;
      this.budget.limit = Number.POSITIVE_INFINITY;
      try {
        node.value = this.truth(this.eval(e.body, env));
      } finally {
        env.trace = trace;
        env.vars.length = depth;
        this.budget.used = used;
        this.budget.limit = limit;
      }
    }
    return result;
  }

  /** One list item of a loop: by the compiled body when there is one, else interpreted. */
  private item(
    e: Ast.QuantifierExpr | Ast.CountExpr,
    env: Env,
    depth: number,
    item: unknown,
    compiled: LoopBody | undefined,
    outer: unknown[] | undefined,
  ): unknown {
    if (compiled !== undefined) {
      return outer === undefined
        ? compiled(env.r, env.c, env.n, item)
        : compiled(env.r, env.c, env.n, ...outer, item);
    }
    env.vars[depth] = item;
    return this.eval(e.body, env);
  }

  private call(e: Ast.CallExpr, env: Env): unknown {
    const name = e.callee.name;
    if (name === "now") return env.n;
    const arg = e.args[0]!;
    if (name === "exists") {
      const res = this.program.resolutions.get(arg as Ast.PathExpr);
      if (!res || res.kind === "list" || res.kind === "hashlist") return true;
      return this.path(arg as Ast.PathExpr, env, false) != null;
    }
    const a = this.eval(arg, env);
    if (a == null) return undefined;
    switch (name) {
      case "age":
        return env.n - (a as number);
      case "lower":
        return (a as string).toLowerCase();
      case "upper":
        return (a as string).toUpperCase();
      case "len":
        return (a as string | unknown[]).length;
      default:
        throw new Error(`unknown function ${name}`);
    }
  }
}

/** How a value seen by a condition is recorded: timestamps readable, long lists summarised. */
function shown(v: unknown, isTimestamp: boolean): unknown {
  if (isTimestamp && typeof v === "number") return new Date(v).toISOString();
  if (Array.isArray(v) && v.length > 10) return `(${v.length} items)`;
  return v;
}

function isArithmetic(op: Ast.BinaryOp): boolean {
  return op === "+" || op === "-" || op === "*" || op === "/" || op === "%";
}

function applyArithmetic(op: Ast.BinaryOp, a: number, b: number): number {
  switch (op) {
    case "+":
      return a + b;
    case "-":
      return a - b;
    case "*":
      return a * b;
    case "/":
      return divide(a, b, "/");
    case "%":
      return remainder(a, b, "%");
    default:
      throw new Error(`unexpected operator ${op}`);
  }
}

function isCondition(e: Expr): boolean {
  return e.kind === "binary" || e.kind === "unary" || e.kind === "match" || e.kind === "quantifier";
}

/** Kleene conjunction. */
export function and3(a: Truth, b: Truth): Truth {
  if (a === false || b === false) return false;
  if (a === null || b === null) return null;
  return true;
}

export function or3(a: Truth, b: Truth): Truth {
  if (a === true || b === true) return true;
  if (a === null || b === null) return null;
  return false;
}
