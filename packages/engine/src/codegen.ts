import type {
  Ast,
  CompiledRegex,
  Expr,
  Program,
  Resolution,
  RuleDecl,
  Template,
  Type,
} from "@clearance/dsl";
import { compileRegex, DEFAULT_LIMITS } from "@clearance/dsl";
import {
  Budget,
  divide,
  formatValue,
  member,
  overBudget,
  type PreparedContext,
  readContext,
  remainder,
  toTimestamp,
} from "./runtime.js";

/*
 * Rules compile to JavaScript source evaluated once with `new Function`. No text from a rule file
 * ever reaches that source as code: names, keys and strings are emitted through JSON.stringify,
 * numbers only when finite, and everything else (regexes, sets, lists) lives in a constants array
 * that the code indexes by number. A property test feeds hostile rule text through this path.
 *
 * Values at run time: strings, numbers, booleans, lists; timestamps and durations as milliseconds;
 * `undefined` or `null` is *unknown* (a missing field), and logic is three-valued (Kleene).
 *
 * The emitted code is flat whatever the rule: a chain `a and b and c ...` (or `1 + 2 + 3 ...`) is
 * one `||`-chain (or comma chain) of the same depth for 3 operands or 300,000, because V8 parses
 * nested conditionals recursively and a 900-operand `and` written as nested ternaries overflowed
 * its stack. The emitter walks such chains with loops too.
 *
 * Loops charge the decision's evaluation budget (`B`, see Budget in runtime.ts) when they start.
 */

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
  /** `when` and not any `unless`: true matches, false or unknown (undefined) does not */
  test: RuleTest;
  reason: ReasonFn;
}

/** `field == constant` and `field in constants` conjuncts: rules reachable through a lookup. */
export interface RuleIndex {
  /** field path, e.g. ["sha256"] or ["vendor", "name"] */
  path: readonly string[];
  buckets: Map<unknown, number[]>;
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

interface Emitted {
  code: string;
  /** may evaluate to unknown */
  nullable: boolean;
}

const helpers = { toTimestamp, divide, remainder, readContext, formatValue, member, overBudget };

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

export function compileProgram(
  program: Program,
  values: ListValues,
  budget: Budget = new Budget(DEFAULT_LIMITS.maxEvaluationSteps),
): CompiledProgram {
  const emitter = new Emitter(program, values, budget);
  const rules: CompiledRule[] = [];
  const indexes = new Map<string, RuleIndex>();
  const indexed = new Set<number>();
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
      test: alwaysTrue,
      reason: constantReason(decl.outcome?.reason),
    };
    rules.push(rule);
    // Skipping a rule through the index must never hide a run-time error it would have raised.
    const key = canFail(decl, program) ? undefined : indexKey(decl.when, program, values);
    if (key) {
      const id = key.path.join("\0");
      let idx = indexes.get(id);
      if (!idx) {
        idx = { path: key.path, buckets: new Map() };
        indexes.set(id, idx);
      }
      for (const v of key.values) {
        const bucket = idx.buckets.get(v);
        if (bucket) {
          if (bucket[bucket.length - 1] !== index) bucket.push(index);
        } else idx.buckets.set(v, [index]);
      }
      indexed.add(index);
    }
    // A rule whose whole condition is its index lookup needs no code: reaching it means it matched.
    const fullyIndexed = key?.whole && decl.unless.length === 0;
    const entry: { rule: CompiledRule; test?: string; reason?: string } = { rule };
    if (!fullyIndexed) entry.test = emitter.ruleFunction(decl);
    if (decl.outcome && !isConstant(decl.outcome.reason))
      entry.reason = emitter.reasonFunction(decl.outcome.reason);
    if (entry.test !== undefined || entry.reason !== undefined) pending.push(entry);
  }

  const defaultTemplate = program.defaultOutcome.reason;
  const defaultReasonCode = isConstant(defaultTemplate)
    ? undefined
    : emitter.reasonFunction(defaultTemplate);

  // One Function for the whole rule set: V8 compiles each inner function lazily, on first call.
  const body: string[] = ['"use strict";', ...emitter.hoisted, "return ["];
  for (const p of pending) body.push(`${p.test ?? "null"}, ${p.reason ?? "null"},`);
  body.push(`${defaultReasonCode ?? "null"},`);
  // Loop bodies last: the explainer runs them per list item instead of interpreting each item.
  body.push(`${emitter.bodies.map((b) => b.name).join(", ")}];`);
  const factory = new Function("K", "H", "B", body.join("\n")) as (
    k: unknown[],
    h: typeof helpers,
    b: Budget,
  ) => (RuleTest | ReasonFn | null)[];
  const made = factory(emitter.constants, helpers, budget);
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
  // An index pays for its lookup only when it spares many rules: small groups stay unindexed.
  for (const [id, idx] of indexes) {
    const members = new Set<number>();
    for (const bucket of idx.buckets.values()) for (const i of bucket) members.add(i);
    if (members.size >= MIN_INDEXED_RULES) continue;
    indexes.delete(id);
    for (const i of members) {
      indexed.delete(i);
      // Fully indexed rules were given no code: give them their condition back.
      const rule = rules[i]!;
      if (rule.test === alwaysTrue && rule.decl.when) rule.test = emitter.standalone(rule.decl);
    }
  }
  const unindexed = rules.filter((r) => !indexed.has(r.index)).map((r) => r.index);
  return {
    rules,
    defaultReason: defaultFn ?? constantReason(defaultTemplate),
    loopBodies,
    indexes: [...indexes.values()],
    unindexed: Int32Array.from(unindexed),
    budget,
  };
}

const alwaysTrue: RuleTest = () => true;

/** Fewer rules than this on one field are not worth an index lookup per decision. */
const MIN_INDEXED_RULES = 16;

/** Code that cannot throw and has no effects: it may be evaluated out of order. */
function isSimple(code: string): boolean {
  return /^(?:K\[\d+\]|n|r\["sha256"\]|true|false|\(?-?[\d.e+]+\)?|"(?:[^"\\]|\\.)*")$/.test(code);
}

function isConstant(t: Template): boolean {
  return t.parts.every((p) => typeof p === "string");
}

function constantReason(t: Template | undefined): ReasonFn {
  const text = t ? t.parts.filter((p): p is string => typeof p === "string").join("") : "";
  return () => text;
}

/**
 * Whether evaluating the rule's conditions can raise a run-time error on validated input:
 * division and remainder (by zero), context fields (of the wrong type) and loops (over the
 * evaluation budget). A work list, not recursion: a condition may be a very long chain.
 */
function canFail(decl: RuleDecl, program: Program): boolean {
  const pending: Expr[] = decl.when ? [decl.when, ...decl.unless] : [...decl.unless];
  for (let e = pending.pop(); e !== undefined; e = pending.pop()) {
    switch (e.kind) {
      case "binary":
        if (e.op === "/" || e.op === "%") return true;
        pending.push(e.left, e.right);
        break;
      case "unary":
        pending.push(e.operand);
        break;
      case "match":
        pending.push(e.operand);
        break;
      case "list":
        for (const item of e.items) pending.push(item);
        break;
      case "call":
        for (const arg of e.args) pending.push(arg);
        break;
      case "quantifier":
      case "count":
        return true;
      case "path":
        if (program.resolutions.get(e)?.kind === "context") return true;
        break;
      default:
        break;
    }
  }
  return false;
}

/**
 * The first conjunct of `when` usable as an index: a field compared with a constant by `==`,
 * or tested with `in` against constants. `whole` when that conjunct is the entire condition.
 */
function indexKey(
  when: Expr | undefined,
  program: Program,
  values: ListValues,
): { path: readonly string[]; values: unknown[]; whole: boolean } | undefined {
  if (!when) return undefined;
  // The top-level `and` operands, in order; a stack instead of recursion (chains can be long).
  const conjuncts: Expr[] = [];
  const stack: Expr[] = [when];
  for (let e = stack.pop(); e !== undefined; e = stack.pop()) {
    if (e.kind === "binary" && e.op === "and") stack.push(e.right, e.left);
    else conjuncts.push(e);
  }
  for (const c of conjuncts) {
    if (c.kind !== "binary") continue;
    const field = (e: Expr): readonly string[] | undefined => {
      if (e.kind !== "path") return undefined;
      const res = program.resolutions.get(e);
      if (res?.kind !== "field") return undefined;
      const k = res.type.kind;
      return k === "string" || k === "number" || k === "bool" ? res.path : undefined;
    };
    const constant = (e: Expr): unknown[] | undefined =>
      e.kind === "literal" && (e.type === "string" || e.type === "number" || e.type === "bool")
        ? [e.value]
        : undefined;
    let key: { path: readonly string[]; values: unknown[] } | undefined;
    if (c.op === "==") {
      const lp = field(c.left);
      const rp = field(c.right);
      const lv = constant(c.left);
      const rv = constant(c.right);
      if (lp && rv) key = { path: lp, values: rv };
      else if (rp && lv) key = { path: rp, values: lv };
    } else if (c.op === "in") {
      const lp = field(c.left);
      if (lp && c.right.kind === "list" && c.right.items.every((i) => constant(i))) {
        key = { path: lp, values: c.right.items.map((i) => (i as Ast.Literal).value) };
      } else if (lp && c.right.kind === "path") {
        const res = program.resolutions.get(c.right);
        if (res?.kind === "list")
          key = { path: lp, values: [...(values.lists.get(res.name) ?? [])] };
      }
    }
    if (key) return { ...key, whole: conjuncts.length === 1 };
  }
  return undefined;
}

class Emitter {
  readonly constants: unknown[] = [];
  readonly hoisted: string[] = [];
  readonly bodies: { node: Ast.QuantifierExpr | Ast.CountExpr; name: string }[] = [];
  private temps = 0;
  private maxTemps = 0;
  private hoistCount = 0;
  private readonly constantIndex = new Map<unknown, number>();

  constructor(
    private readonly program: Program,
    private readonly values: ListValues,
    private readonly budget: Budget,
  ) {}

  private constant(value: unknown): string {
    let i = this.constantIndex.get(value);
    if (i === undefined) {
      i = this.constants.length;
      this.constants.push(value);
      this.constantIndex.set(value, i);
    }
    return `K[${i}]`;
  }

  private temp(): string {
    const name = `t${this.temps++}`;
    if (this.temps > this.maxTemps) this.maxTemps = this.temps;
    return name;
  }

  /** Wraps a function body with its temporaries declared. */
  private fn(params: string, build: () => string): string {
    const savedTemps = this.temps;
    const savedMax = this.maxTemps;
    this.temps = 0;
    this.maxTemps = 0;
    const expr = build();
    const decl =
      this.maxTemps > 0
        ? `let ${Array.from({ length: this.maxTemps }, (_, i) => `t${i}`).join(", ")}; `
        : "";
    this.temps = savedTemps;
    this.maxTemps = savedMax;
    return `function (${params}) { ${decl}return ${expr}; }`;
  }

  /** Compiles one rule on its own, for a rule that lost its index after code generation. */
  standalone(decl: RuleDecl): RuleTest {
    const hoistedBefore = this.hoisted.length;
    const bodiesBefore = this.bodies.length;
    const fn = this.ruleFunction(decl);
    const hoisted = this.hoisted.splice(hoistedBefore);
    // These loop bodies live only inside this function; the explainer interprets them.
    this.bodies.splice(bodiesBefore);
    const source = `"use strict";\n${hoisted.join("\n")}\nreturn ${fn};`;
    return new Function("K", "H", "B", source)(this.constants, helpers, this.budget) as RuleTest;
  }

  ruleFunction(decl: RuleDecl): string {
    return this.fn("r, c, n", () => {
      const when = decl.when;
      if (!when) return "undefined";
      // when and not u1 and not u2 ...
      if (decl.unless.length + 1 < FLAT_CHAIN_MIN) {
        let acc = this.expr(when, 0);
        for (const u of decl.unless) acc = this.and(acc, this.not(this.expr(u, 0)));
        return acc.code;
      }
      // one flat chain, however many `unless` clauses
      const operands = [
        () => this.expr(when, 0),
        ...decl.unless.map((u) => () => this.not(this.expr(u, 0))),
      ];
      return this.logicalChain("and", operands).code;
    });
  }

  reasonFunction(t: Template): string {
    return this.fn("r, c, n", () => {
      // `"text" + H.formatValue(...) + ...` is one flat `+` chain; each hole's temporaries are
      // dead once its value is formatted, so the next hole reuses them.
      const base = this.temps;
      let high = base;
      const parts = t.parts.map((p) => {
        if (typeof p === "string") return JSON.stringify(p);
        this.temps = base;
        const e = this.expr(p, 0);
        high = Math.max(high, this.temps);
        return `H.formatValue(${e.code}, ${this.constant(this.program.types.get(p))})`;
      });
      this.temps = high;
      return parts.length === 0 ? '""' : parts.join(" + ");
    });
  }

  // ---------- expressions ----------

  expr(e: Expr, depth: number): Emitted {
    switch (e.kind) {
      case "literal":
        return { code: this.literal(e.value), nullable: false };
      case "list": {
        if (e.items.every((i) => i.kind === "literal")) {
          return {
            code: this.constant(e.items.map((i) => (i as Ast.Literal).value)),
            nullable: false,
          };
        }
        const items = e.items.map((i) => this.expr(i, depth));
        return { code: `[${items.map((i) => i.code).join(", ")}]`, nullable: false };
      }
      case "path":
        return this.path(e);
      case "unary": {
        const operand = this.expr(e.operand, depth);
        if (e.op === "not") return this.not(operand);
        return this.strict([operand], ([a]) => `(-${a})`);
      }
      case "binary":
        return this.binary(e, depth);
      case "match": {
        const operand = this.expr(e.operand, depth);
        const plan = this.program.regexes.get(e);
        const regex: CompiledRegex = compileRegex(
          e.regex.source,
          e.regex.flags,
          plan ?? { engine: "re2", reason: "" },
        );
        const k = this.constant(regex);
        return this.strict([operand], ([a]) => `${k}.test(${a})`);
      }
      case "quantifier":
      case "count":
        return this.loop(e, depth);
      case "call":
        return this.call(e, depth);
      case "error":
        throw new Error("cannot compile a rule set with errors");
    }
  }

  private literal(value: string | number | boolean): string {
    if (typeof value === "number") {
      if (!Number.isFinite(value)) throw new Error("non-finite number literal");
      return value < 0 || Object.is(value, -0) ? `(${value})` : String(value);
    }
    return typeof value === "string" ? JSON.stringify(value) : value ? "true" : "false";
  }

  private path(e: Ast.PathExpr): Emitted {
    const res = this.program.resolutions.get(e) as Resolution;
    switch (res.kind) {
      case "list":
        return {
          code: this.constant([...(this.values.lists.get(res.name) ?? [])]),
          nullable: false,
        };
      case "hashlist":
        throw new Error("a hash list is only used with `in`");
      case "context": {
        const [first, ...rest] = res.path;
        const base = `H.readContext(c, ${JSON.stringify(first)})`;
        return this.timestamp(this.walk(base, rest, true), res.type, e);
      }
      case "variable":
        return this.timestamp(this.walk(`v${res.depth}`, res.path, true), res.type, e);
      case "field":
        return this.timestamp(this.walkField(res.path), res.type, e);
    }
  }

  /** `r.a.b` guarded against missing intermediate objects; the fields the schema requires need no guard. */
  private walkField(path: readonly string[]): Emitted {
    const walked = this.walk("r", path, false);
    // sha256 is required and validated; every other field may be absent.
    return { code: walked.code, nullable: !(path.length === 1 && path[0] === "sha256") };
  }

  private walk(base: string, rest: readonly string[], nullable: boolean): Emitted {
    let code = base;
    for (const seg of rest) {
      const key = JSON.stringify(seg);
      if (nullable) {
        const t = this.temp();
        code = `((${t} = ${code}) == null ? undefined : ${t}[${key}])`;
      } else code = `${code}[${key}]`;
      nullable = true;
    }
    return { code, nullable: true };
  }

  private timestamp(value: Emitted, type: Type, e: Ast.PathExpr): Emitted {
    if (type.kind !== "timestamp") return value;
    const what = JSON.stringify(e.segments.map((s) => s.name).join("."));
    return { code: `H.toTimestamp(${value.code}, ${what})`, nullable: true };
  }

  /**
   * Emits `op(a, b, ...)` when every operand is known, else unknown. Operands are evaluated left to
   * right and evaluation stops at the first unknown one, exactly as the reference interpreter does,
   * so both agree even on which run-time errors are raised.
   */
  private strict(operands: Emitted[], op: (codes: string[]) => string): Emitted {
    const checks: string[] = [];
    let nullable = false;
    const codes = operands.map((o) => {
      if (isSimple(o.code)) return o.code;
      const t = this.temp();
      if (o.nullable) {
        checks.push(`(${t} = ${o.code}) == null`);
        nullable = true;
      } else checks.push(`(${t} = ${o.code}, false)`);
      return t;
    });
    if (checks.length === 0) return { code: op(codes), nullable: false };
    return { code: `(${checks.join(" || ")} ? undefined : ${op(codes)})`, nullable };
  }

  private not(a: Emitted): Emitted {
    if (!a.nullable) return { code: `!${a.code}`, nullable: false };
    const t = this.temp();
    return { code: `((${t} = ${a.code}) == null ? undefined : !${t})`, nullable: true };
  }

  /**
   * `o1 and o2 and ...` (or `or`) as one flat chain, for any number of operands: evaluated left to
   * right, stopping at the first that decides (false for `and`, true for `or`), and unknown when
   * none decided and some operand was unknown, exactly as the nested form. With a nullable operand:
   *
   *     ((u = false, (t = o1) === false || t == null && (u = true) && false || ...) ? false : u ? undefined : true)
   *
   * Each operand's temporaries are dead once its value is in `t`: the next operand reuses them.
   */
  private logicalChain(op: "and" | "or", operands: readonly (() => Emitted)[]): Emitted {
    const decisive = op === "and" ? "false" : "true";
    const t = this.temp();
    const u = this.temp();
    const base = this.temps;
    let high = base;
    const plain: string[] = [];
    const tests: string[] = [];
    let nullable = false;
    for (const emit of operands) {
      this.temps = base;
      const o = emit();
      high = Math.max(high, this.temps);
      plain.push(o.code);
      if (o.nullable) {
        nullable = true;
        tests.push(`(${t} = ${o.code}) === ${decisive} || ${t} == null && (${u} = true) && false`);
      } else tests.push(`${o.code} === ${decisive}`);
    }
    this.temps = high;
    if (!nullable)
      return { code: `(${plain.join(op === "and" ? " && " : " || ")})`, nullable: false };
    const otherwise = op === "and" ? "true" : "false";
    return {
      code: `((${u} = false, ${tests.join(" || ")}) ? ${decisive} : ${u} ? undefined : ${otherwise})`,
      nullable: true,
    };
  }

  /**
   * A chain of `+ - * / %` leaning left (`a + b - c * d`): its left spine walked with a loop into
   * an accumulator, left to right, stopping at the first unknown operand as the nested form does:
   *
   *     (((a = o1) == null || (x = o2) == null || (a = a + x, false) || ...) ? undefined : a)
   */
  private arithmeticChain(e: Ast.BinaryExpr, depth: number): Emitted {
    const spine: Ast.BinaryExpr[] = [];
    let x: Expr = e;
    while (x.kind === "binary" && isArithmetic(x.op)) {
      spine.push(x);
      x = x.left;
    }
    const acc = this.temp();
    const operand = this.temp();
    const base = this.temps;
    let high = base;
    const emit = (node: Expr): Emitted => {
      this.temps = base;
      const o = this.expr(node, depth);
      high = Math.max(high, this.temps);
      return o;
    };
    const first = emit(x);
    let nullable = first.nullable;
    const steps = [
      first.nullable ? `(${acc} = ${first.code}) == null` : `(${acc} = ${first.code}, false)`,
    ];
    for (let i = spine.length - 1; i >= 0; i--) {
      const node = spine[i]!;
      const o = emit(node.right);
      const apply = (b: string): string =>
        node.op === "/"
          ? `H.divide(${acc}, ${b}, "/")`
          : node.op === "%"
            ? `H.remainder(${acc}, ${b}, "%")`
            : `${acc} ${node.op} ${b}`;
      if (o.nullable) {
        nullable = true;
        steps.push(`(${operand} = ${o.code}) == null || (${acc} = ${apply(operand)}, false)`);
      } else steps.push(`(${acc} = ${apply(o.code)}, false)`);
    }
    this.temps = high;
    return { code: `(${steps.join(" || ")} ? undefined : ${acc})`, nullable };
  }

  private and(a: Emitted, b: Emitted): Emitted {
    if (!a.nullable && !b.nullable) return { code: `(${a.code} && ${b.code})`, nullable: false };
    const x = this.temp();
    const y = this.temp();
    // false wins over unknown; unknown wins over true
    return {
      code: `((${x} = ${a.code}) === false ? false : (${y} = ${b.code}) === false ? false : ${x} == null || ${y} == null ? undefined : true)`,
      nullable: true,
    };
  }

  private or(a: Emitted, b: Emitted): Emitted {
    if (!a.nullable && !b.nullable) return { code: `(${a.code} || ${b.code})`, nullable: false };
    const x = this.temp();
    const y = this.temp();
    // true wins over unknown; unknown wins over false
    return {
      code: `((${x} = ${a.code}) === true ? true : (${y} = ${b.code}) === true ? true : ${x} == null || ${y} == null ? undefined : false)`,
      nullable: true,
    };
  }

  private binary(e: Ast.BinaryExpr, depth: number): Emitted {
    if (e.op === "and" || e.op === "or") {
      const op = e.op;
      const operands: Expr[] = [];
      let x: Expr = e;
      while (x.kind === "binary" && x.op === op) {
        operands.push(x.right);
        x = x.left;
      }
      operands.push(x);
      operands.reverse();
      if (operands.length >= FLAT_CHAIN_MIN)
        return this.logicalChain(
          op,
          operands.map((o) => () => this.expr(o, depth)),
        );
      // Short chains keep the nested form, folded left as the tree is.
      const pair = (a: Emitted, b: Emitted) => (op === "and" ? this.and(a, b) : this.or(a, b));
      let acc = this.expr(operands[0]!, depth);
      for (let i = 1; i < operands.length; i++) acc = pair(acc, this.expr(operands[i]!, depth));
      return acc;
    }
    if (isArithmetic(e.op) && arithmeticOperands(e) >= FLAT_CHAIN_MIN)
      return this.arithmeticChain(e, depth);
    if (e.op === "in" || e.op === "not in") {
      const found = this.membership(e, depth);
      return e.op === "in" ? found : this.not(found);
    }
    const l = this.expr(e.left, depth);
    const r = this.expr(e.right, depth);
    const what = JSON.stringify(e.op);
    switch (e.op) {
      case "==":
        return this.strict([l, r], ([a, b]) => `(${a} === ${b})`);
      case "!=":
        return this.strict([l, r], ([a, b]) => `(${a} !== ${b})`);
      case "<":
      case "<=":
      case ">":
      case ">=":
        return this.strict([l, r], ([a, b]) => `(${a} ${e.op} ${b})`);
      case "contains":
        return this.strict([l, r], ([a, b]) => `${a}.includes(${b})`);
      case "startsWith":
        return this.strict([l, r], ([a, b]) => `${a}.startsWith(${b})`);
      case "endsWith":
        return this.strict([l, r], ([a, b]) => `${a}.endsWith(${b})`);
      case "+":
      case "-":
      case "*":
        return this.strict([l, r], ([a, b]) => `(${a} ${e.op} ${b})`);
      case "/":
        return this.strict([l, r], ([a, b]) => `H.divide(${a}, ${b}, ${what})`);
      case "%":
        return this.strict([l, r], ([a, b]) => `H.remainder(${a}, ${b}, ${what})`);
      default:
        throw new Error(`unexpected operator ${e.op}`);
    }
  }

  private membership(e: Ast.BinaryExpr, depth: number): Emitted {
    const l = this.expr(e.left, depth);
    const right = e.right;
    const res = right.kind === "path" ? this.program.resolutions.get(right) : undefined;
    if (res?.kind === "hashlist") {
      const set = this.constant(this.values.hashlists.get(res.name) ?? new Set());
      // Hash lists hold lower-case hex; sha256 itself is normalised by validation.
      const isSha =
        e.left.kind === "path" &&
        e.left.segments.length === 1 &&
        e.left.segments[0]!.name === "sha256" &&
        this.program.resolutions.get(e.left)?.kind === "field";
      return this.strict([l], ([a]) =>
        isSha ? `${set}.has(${a})` : `${set}.has(${a}.toLowerCase())`,
      );
    }
    if (res?.kind === "list") {
      const set = this.constant(this.values.lists.get(res.name) ?? new Set());
      return this.strict([l], ([a]) => `${set}.has(${a})`);
    }
    if (right.kind === "list" && right.items.every((i) => i.kind === "literal")) {
      const set = this.constant(new Set(right.items.map((i) => (i as Ast.Literal).value)));
      return this.strict([l], ([a]) => `${set}.has(${a})`);
    }
    const r = this.expr(right, depth);
    // A miss in a list with an unknown item is unknown, whatever the operands' nullability.
    return { code: this.strict([l, r], ([a, b]) => `H.member(${a}, ${b})`).code, nullable: true };
  }

  private loop(e: Ast.QuantifierExpr | Ast.CountExpr, depth: number): Emitted {
    const coll = this.expr(e.collection, depth);
    const vars = Array.from({ length: depth + 1 }, (_, i) => `v${i}`);
    const name = `q${this.hoistCount++}`;
    // The body becomes its own function; the loop calls it per item, the item being v<depth>.
    const bodyName = `${name}b`;
    const body = this.fn(
      ["r", "c", "n", ...vars].join(", "),
      () => this.expr(e.body, depth + 1).code,
    );
    this.hoisted.push(`const ${bodyName} = ${body};`);
    this.bodies.push({ node: e, name: bodyName });
    const args = ["r", "c", "n", ...vars.slice(0, depth)].join(", ");
    const call = (item: string) => `${bodyName}(${args}, ${item})`;
    // The budget is charged once per loop, for all its items, before the first.
    const charge = "if ((B.used += L.length) > B.limit) H.overBudget(B);";
    let loop: string;
    if (e.kind === "count") {
      loop = `function ${name}(L, ${args}) { ${charge} let k = 0; for (let i = 0; i < L.length; i++) if (${call("L[i]")} === true) k++; return k; }`;
    } else if (e.quantifier === "any") {
      loop = `function ${name}(L, ${args}) { ${charge} let u = false; for (let i = 0; i < L.length; i++) { const x = ${call("L[i]")}; if (x === true) return true; if (x == null) u = true; } return u ? undefined : false; }`;
    } else {
      loop = `function ${name}(L, ${args}) { ${charge} let u = false; for (let i = 0; i < L.length; i++) { const x = ${call("L[i]")}; if (x === false) return false; if (x == null) u = true; } return u ? undefined : true; }`;
    }
    this.hoisted.push(loop);
    const result = this.strict([coll], ([list]) => `${name}(${list}, ${args})`);
    return { code: result.code, nullable: e.kind === "count" ? result.nullable : true };
  }

  private call(e: Ast.CallExpr, depth: number): Emitted {
    const name = e.callee.name;
    if (name === "now") return { code: "n", nullable: false };
    const arg = e.args[0]!;
    if (name === "exists") {
      // Presence only: no timestamp conversion, so a malformed date still "exists".
      const res = this.program.resolutions.get(arg as Ast.PathExpr) as Resolution;
      let raw: Emitted;
      if (res.kind === "field") raw = this.walkField(res.path);
      else if (res.kind === "context") {
        const [first, ...rest] = res.path;
        raw = this.walk(`H.readContext(c, ${JSON.stringify(first)})`, rest, true);
      } else if (res.kind === "variable") raw = this.walk(`v${res.depth}`, res.path, true);
      else return { code: "true", nullable: false };
      return { code: `(${raw.code} != null)`, nullable: false };
    }
    const a = this.expr(arg, depth);
    switch (name) {
      case "age":
        return this.strict([a], ([x]) => `(n - ${x})`);
      case "lower":
        return this.strict([a], ([x]) => `${x}.toLowerCase()`);
      case "upper":
        return this.strict([a], ([x]) => `${x}.toUpperCase()`);
      case "len":
        return this.strict([a], ([x]) => `${x}.length`);
      default:
        throw new Error(`unknown function ${name}`);
    }
  }
}

/**
 * Chains of this many operands or more are emitted flat; shorter ones keep the nested form, whose
 * depth is then at most this, and which V8 runs a little faster.
 */
const FLAT_CHAIN_MIN = 5;

/** The number of operands of the arithmetic chain whose last operator is `e`'s. */
function arithmeticOperands(e: Ast.BinaryExpr): number {
  let n = 1;
  for (let x: Expr = e; x.kind === "binary" && isArithmetic(x.op); x = x.left) n++;
  return n;
}

function isArithmetic(op: Ast.BinaryOp): boolean {
  return op === "+" || op === "-" || op === "*" || op === "/" || op === "%";
}
