/**
 * Emission, the second stage of code generation (codegen.ts): rule conditions and reasons written
 * as JavaScript source text. This file only writes text; codegen.ts evaluates it once with
 * `new Function("K", "H", "B", ...)`, K being the constants array below, H the helpers of
 * runtime.ts and B the evaluation budget.
 *
 * No text from a rule file ever reaches that source as code: keys and strings are emitted through
 * JSON.stringify, numbers only when finite, and everything else (regexes, sets, lists) lives in
 * the constants array that the code indexes by number. Function names are derived from rule names
 * by `functionName`: a fixed prefix, then the name with anything but `A-Z a-z 0-9 _` replaced. A
 * property test (test/codegen-safety.test.ts) feeds hostile rule text through this path.
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
import { compileRegex } from "@clearance/dsl";
import type { ListValues } from "./codegen.js";

/**
 * The JavaScript name of a function generated for a rule: `prefix_name`, where `name` keeps only
 * the characters an identifier may hold anywhere. Stack traces and debuggers show it; the prefix
 * keeps it clear of reserved words and of the names the generated code uses (K, H, B, r, c, n...).
 */
export function functionName(prefix: "rule" | "reason", ruleName: string): string {
  return `${prefix}_${ruleName.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

/** The name of the default reason's function. */
export const DEFAULT_REASON_NAME = "default_reason";

export interface Emitted {
  code: string;
  /** may evaluate to unknown */
  nullable: boolean;
}

/** Code that cannot throw and has no effects: it may be evaluated out of order. */
function isSimple(code: string): boolean {
  return /^(?:K\[\d+\]|n|r\["sha256"\]|true|false|\(?-?[\d.e+]+\)?|"(?:[^"\\]|\\.)*")$/.test(code);
}

/** Writes the functions of one rule set, sharing its constants and hoisted loops. */
export class Emitter {
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

  /** Wraps a function body with its temporaries declared; `name` may be empty. */
  private fn(name: string, params: string, build: () => string): string {
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
    return `function ${name}(${params}) { ${decl}return ${expr}; }`;
  }

  /**
   * The source of a `new Function("K", "H", "B", ...)` body that returns one rule's test, for a
   * rule that lost its index after the rule set's code was generated.
   */
  standaloneSource(decl: RuleDecl): string {
    const hoistedBefore = this.hoisted.length;
    const bodiesBefore = this.bodies.length;
    const fn = this.ruleFunction(decl);
    const hoisted = this.hoisted.splice(hoistedBefore);
    // These loop bodies live only inside this function; the explainer interprets them.
    this.bodies.splice(bodiesBefore);
    return `"use strict";\n${hoisted.join("\n")}\nreturn ${fn};`;
  }

  /** `function rule_<name>(r, c, n)`: the rule's `when` and not any `unless`. */
  ruleFunction(decl: RuleDecl): string {
    return this.fn(functionName("rule", decl.name.name), "r, c, n", () => {
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

  /** `function <name>(r, c, n)`: a reason with `{holes}`, as text. */
  reasonFunction(name: string, t: Template): string {
    return this.fn(name, "r, c, n", () => {
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
      case "builtin":
        return this.timestamp(this.walkBuiltin(res), res.type, e);
      case "variable":
        return this.timestamp(this.walk(`v${res.depth}`, res.path, true), res.type, e);
      case "field":
        return this.timestamp(this.walkField(res.path), res.type, e);
    }
  }

  /** `exception.x` / `case.x`: read through the helper that raises the input's run-time error. */
  private walkBuiltin(res: Extract<Resolution, { kind: "builtin" }>): Emitted {
    const [first, ...rest] = res.path;
    const base = `H.readBuiltin(c, ${JSON.stringify(res.root)}, ${JSON.stringify(first)})`;
    return this.walk(base, rest, true);
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
    // anonymous: V8 names it after the constant it is assigned to (`q0b`)
    const body = this.fn(
      "",
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
      } else if (res.kind === "builtin") raw = this.walkBuiltin(res);
      else if (res.kind === "variable") raw = this.walk(`v${res.depth}`, res.path, true);
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
