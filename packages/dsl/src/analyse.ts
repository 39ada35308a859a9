import type { AST } from "@eslint-community/regexpp";
import type * as A from "./ast.js";
import type { Program } from "./check.js";
import { type Diagnostic, diagnostic, type Span } from "./diagnostics.js";
import { formatDuration } from "./literals.js";
import { conditionNeeds, type DeclaredInput } from "./profiles.js";
import { parsePattern } from "./regex-syntax.js";
import type { Type } from "./types.js";

/*
 * The rule-set analyser: rules that can never match, `unless` clauses that can never apply, rules
 * always shadowed under the strategy, rules with the same condition and different actions, and
 * regexes that can never match. Warnings only, and SOUND where they say "never": when in doubt it
 * says nothing.
 *
 * Each rule's condition is read into a conjunction of per-field constraints (`Conjunction`): for
 * numbers, timestamps and durations an interval; for strings, enums and bools a set of allowed
 * values and one of excluded values; and whether the field must be present or absent. What cannot
 * be modelled (functions, arithmetic, an `or` over more than one field, quantifiers, `matches`,
 * context, lists read from files) is "unknown": it constrains nothing but the presence it needs
 * (profiles.ts's `t`/`f` sets: a comparison on an absent field is unknown, never true), and makes
 * the conjunction inexact.
 *
 * Three-valued logic (docs/language.md): a rule matches when its `when` is TRUE and every `unless`
 * is FALSE. So the `when` is read for what must hold for it to be true, each `unless` for what must
 * hold for it to be false (`not (x < 3)` true means `x` present and `x >= 3`). An over-approximation
 * of the rule's matches: an empty one proves the rule never matches. Containment (`rule_shadowed`)
 * needs the shadowing rule to be exact: its conjunction is then precisely its matches.
 */

type Value = string | number | boolean;

/** How a field's values are modelled: ordered numbers (also timestamps and durations) or a finite
 * or open set of strings and bools. */
type Shape = "number" | "timestamp" | "duration" | "string" | "bool";

/** One constraint a condition puts on one field. */
interface Atom {
  field: string;
  span: Span;
  /**
   * `exists`: from `exists(f)` / `not exists(f)`, two-valued; `value`: a comparison with
   * constants, which needs the field present; `needs`: the presence an unmodelled condition needs.
   */
  kind: "exists" | "value" | "needs";
  present?: boolean;
  op?: "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in";
  values?: Value[];
  shape?: Shape;
  /** the values a field of this type can hold at all: enum values, `true` and `false` */
  universe?: readonly Value[];
}

/** The values of one field a conjunction allows. */
interface FieldDom {
  present?: boolean;
  shape?: Shape;
  lo: number;
  loIncl: boolean;
  hi: number;
  hiIncl: boolean;
  /** undefined: any value (of an open type) */
  allowed?: Value[];
  /** never changed in place, only replaced, so copies may share it */
  excluded: ReadonlySet<Value>;
  /** the first condition on this field, for related notes */
  first: Span;
  /** `settled`'s memo: the finite values, or null for infinitely many */
  settled: Value[] | null | undefined;
}

interface Conjunction {
  fields: Map<string, FieldDom>;
  /** every condition was modelled exactly: the conjunction holds exactly when they all do */
  exact: boolean;
  /** every atom added, for callers that need them one by one */
  sink?: Atom[];
  /** set when the constraints contradict: the condition that made them so, and the field's first */
  bottom?: { span: Span; field?: string; first?: Span };
}

const NEGATED: Record<string, NonNullable<Atom["op"]>> = {
  "==": "!=",
  "!=": "==",
  "<": ">=",
  "<=": ">",
  ">": "<=",
  ">=": "<",
  in: "not in",
  "not in": "in",
};
/** `5 < x` is `x > 5` */
const MIRRORED: Record<string, NonNullable<Atom["op"]>> = {
  "==": "==",
  "!=": "!=",
  "<": ">",
  "<=": ">=",
  ">": "<",
  ">=": "<=",
};

/** Most fields exclude nothing: one shared empty set spares 100,000 hash rules as many sets. */
const NO_VALUES: ReadonlySet<Value> = new Set();

function newDom(first: Span): FieldDom {
  return {
    lo: Number.NEGATIVE_INFINITY,
    loIncl: false,
    hi: Number.POSITIVE_INFINITY,
    hiIncl: false,
    excluded: NO_VALUES,
    first,
    settled: undefined,
  };
}

function copyDom(d: FieldDom): FieldDom {
  const out: FieldDom = { ...d, settled: undefined };
  if (d.allowed) out.allowed = [...d.allowed];
  return out;
}

/** Whether `v` is one of the values `d` allows (its presence aside). */
function admits(d: FieldDom, v: Value): boolean {
  if (d.excluded.has(v)) return false;
  if (d.allowed && !d.allowed.includes(v)) return false;
  if (typeof v === "number") {
    if (v < d.lo || (v === d.lo && !d.loIncl)) return false;
    if (v > d.hi || (v === d.hi && !d.hiIncl)) return false;
  }
  return true;
}

function hasValueConstraint(d: FieldDom): boolean {
  return (
    d.allowed !== undefined ||
    d.lo !== Number.NEGATIVE_INFINITY ||
    d.hi !== Number.POSITIVE_INFINITY ||
    d.excluded.size > 0
  );
}

/** Whether no present value satisfies `d`'s value constraints. */
function noValue(d: FieldDom): boolean {
  if (d.allowed) return !d.allowed.some((v) => admits(d, v));
  if (d.lo > d.hi || (d.lo === d.hi && !(d.loIncl && d.hiIncl))) return true;
  // an open set of strings or numbers: finitely many exclusions leave values
  return false;
}

/** Applies `atom` to `d` in place; false when `d` became empty. */
function apply(d: FieldDom, atom: Atom): boolean {
  if (atom.kind !== "value") {
    if (d.present !== undefined && d.present !== atom.present) return false;
    d.present = atom.present!;
    return !(d.present === false && hasValueConstraint(d));
  }
  if (d.present === false) return false;
  d.present = true;
  if (atom.shape) d.shape = atom.shape;
  if (d.allowed === undefined && atom.universe) d.allowed = [...atom.universe];
  const values = atom.values ?? [];
  switch (atom.op) {
    case "==":
    case "in":
      d.allowed = d.allowed ? d.allowed.filter((v) => values.includes(v)) : [...new Set(values)];
      break;
    case "!=":
    case "not in":
      d.excluded = new Set([...d.excluded, ...values]);
      break;
    case "<":
    case "<=": {
      const v = values[0] as number;
      if (v < d.hi || (v === d.hi && atom.op === "<")) {
        d.hi = v;
        d.hiIncl = atom.op === "<=";
      }
      break;
    }
    case ">":
    case ">=": {
      const v = values[0] as number;
      if (v > d.lo || (v === d.lo && atom.op === ">")) {
        d.lo = v;
        d.loIncl = atom.op === ">=";
      }
      break;
    }
    default:
      break;
  }
  return !noValue(d);
}

function add(c: Conjunction, atom: Atom): void {
  if (c.bottom) return;
  c.sink?.push(atom);
  let d = c.fields.get(atom.field);
  if (!d) {
    d = newDom(atom.span);
    c.fields.set(atom.field, d);
  }
  if (!apply(d, atom)) c.bottom = { span: atom.span, field: atom.field, first: d.first };
}

/** `a.b.c` -> `a.b`, `a`: a present field lies in present objects. */
function ancestors(field: string): string[] {
  const out: string[] = [];
  for (let cut = field.lastIndexOf("."); cut > 0; cut = field.lastIndexOf(".", cut - 1))
    out.push(field.slice(0, cut));
  return out;
}

function shapeOf(type: Type): { shape: Shape; universe?: readonly Value[] } | undefined {
  switch (type.kind) {
    case "number":
    case "timestamp":
    case "duration":
      return { shape: type.kind };
    case "string":
      return type.enum ? { shape: "string", universe: type.enum } : { shape: "string" };
    case "bool":
      return { shape: "bool", universe: [true, false] };
    default:
      return undefined;
  }
}

/** Flattens a chain of one logical operator without recursion: chains may be thousands long. */
function operands(e: A.Expr, op: "and" | "or"): A.Expr[] {
  const out: A.Expr[] = [];
  const pending: A.Expr[] = [e];
  for (let x = pending.pop(); x !== undefined; x = pending.pop()) {
    if (x.kind === "binary" && x.op === op) pending.push(x.right, x.left);
    else out.push(x);
  }
  return out;
}

class Reader {
  constructor(private readonly program: Program) {}

  /** The input field a path reads, with its shape, when it is a plain field (no list items). */
  field(e: A.Expr): { path: string; shape: Shape; universe?: readonly Value[] } | undefined {
    if (e.kind !== "path") return undefined;
    const r = this.program.resolutions.get(e);
    if (r?.kind !== "field") return undefined;
    const s = shapeOf(r.type);
    return s && { path: r.path.join("."), ...s };
  }

  /** The constant values of a list literal or an inline named list, if they are all constants. */
  private constants(e: A.Expr): Value[] | undefined {
    if (e.kind === "list") {
      const out: Value[] = [];
      for (const item of e.items) {
        if (item.kind !== "literal") return undefined;
        out.push(item.value);
      }
      return out;
    }
    if (e.kind === "path") {
      const r = this.program.resolutions.get(e);
      if (r?.kind === "list") return this.program.lists.get(r.name)?.values;
    }
    return undefined;
  }

  /**
   * Adds to `c` what must hold for `e` to be `polarity` (true or false) in three-valued logic.
   * Anything unmodelled adds only the presence it needs and makes `c` inexact.
   */
  read(e: A.Expr, polarity: boolean, c: Conjunction): void {
    // `a and b` true needs both true; `a or b` false needs both false
    const op = polarity ? "and" : "or";
    for (const x of operands(e, op)) {
      if (c.bottom) return;
      this.atom(x, polarity, c);
    }
  }

  private atom(e: A.Expr, polarity: boolean, c: Conjunction): void {
    switch (e.kind) {
      case "unary":
        if (e.op === "not") {
          this.read(e.operand, !polarity, c);
          return;
        }
        break;
      case "literal":
        if (e.type === "bool") {
          if (e.value !== polarity) c.bottom = { span: e.span };
          return;
        }
        break;
      case "path": {
        const f = this.field(e);
        if (f?.shape === "bool") {
          this.value(c, f, "==", [polarity], e.span);
          return;
        }
        break;
      }
      case "call": {
        const arg = e.args[0];
        if (e.callee.name === "exists" && e.args.length === 1 && arg?.kind === "path") {
          const r = this.program.resolutions.get(arg);
          if (r?.kind === "field") {
            const path = r.path.join(".");
            if (polarity) for (const p of ancestors(path)) this.presence(c, p, "needs", e.span);
            add(c, { field: path, span: e.span, kind: "exists", present: polarity });
            return;
          }
        }
        break;
      }
      case "binary": {
        const op = e.op;
        if (op === "or" && polarity && this.oneOf(e, c)) return;
        if (op === "in" || op === "not in") {
          const f = this.field(e.left);
          const values = this.constants(e.right);
          if (f && values) {
            const positive = op === "in" ? "in" : "not in";
            this.value(c, f, polarity ? positive : NEGATED[positive]!, values, e.span);
            return;
          }
        } else if (op in MIRRORED) {
          let f = this.field(e.left);
          let lit: A.Expr = e.right;
          let o = op as NonNullable<Atom["op"]>;
          if (!f) {
            f = this.field(e.right);
            lit = e.left;
            o = MIRRORED[o]!;
          }
          if (
            f &&
            lit.kind === "literal" &&
            (typeof lit.value !== "boolean") === (f.shape !== "bool")
          ) {
            const positive = o as NonNullable<Atom["op"]>;
            this.value(c, f, polarity ? positive : NEGATED[positive]!, [lit.value], e.span);
            return;
          }
        }
        break;
      }
      default:
        break;
    }
    this.unknown(e, polarity, c);
  }

  /**
   * `verdict == "clean" or verdict in ["caution"]`: an `or` whose branches each allow finitely many
   * values of one and the same field, exactly, is true exactly when the field holds one of their
   * union. Added to `c` as one `in`; false (nothing added) for any other `or`.
   */
  private oneOf(e: A.Expr, c: Conjunction): boolean {
    let field: { path: string; shape: Shape } | undefined;
    const union = new Set<Value>();
    for (const branch of operands(e, "or")) {
      const b = emptyConjunction();
      this.atom(branch, true, b);
      if (!b.exact || b.bottom) return false;
      // the one field the branch tests; the others are the objects it lies in
      const keys = [...b.fields.keys()];
      const leaves = keys.filter((f) => !keys.some((g) => g.startsWith(`${f}.`)));
      if (leaves.length !== 1) return false;
      const d = b.fields.get(leaves[0]!)!;
      const values = d.present === true && d.shape ? finiteValues(d) : undefined;
      if (!values || (field !== undefined && field.path !== leaves[0])) return false;
      field = { path: leaves[0]!, shape: d.shape! };
      for (const v of values) union.add(v);
    }
    if (!field) return false;
    this.value(c, field, "in", [...union], e.span);
    return true;
  }

  private value(
    c: Conjunction,
    f: { path: string; shape: Shape; universe?: readonly Value[] },
    op: NonNullable<Atom["op"]>,
    values: Value[],
    span: Span,
  ): void {
    for (const p of ancestors(f.path)) this.presence(c, p, "needs", span);
    const atom: Atom = { field: f.path, span, kind: "value", op, values, shape: f.shape };
    if (f.universe) atom.universe = f.universe;
    add(c, atom);
  }

  private presence(c: Conjunction, field: string, kind: "needs", span: Span): void {
    add(c, { field, span, kind, present: true });
  }

  private unknown(e: A.Expr, polarity: boolean, c: Conjunction): void {
    c.exact = false;
    const needs = conditionNeeds(e, this.program.resolutions);
    for (const [field, span] of polarity ? needs.t : needs.f) {
      // fields of list items (`engines[].result`) are not fields of the input itself
      if (!field.includes("[]")) this.presence(c, field, "needs", span);
    }
  }
}

function emptyConjunction(): Conjunction {
  return { fields: new Map(), exact: true };
}

function copyConjunction(c: Conjunction): Conjunction {
  const out: Conjunction = { fields: new Map(), exact: c.exact };
  for (const [k, d] of c.fields) out.fields.set(k, copyDom(d));
  if (c.bottom) out.bottom = c.bottom;
  return out;
}

/** The values `d` allows, when they are finitely many. */
function finiteValues(d: FieldDom): Value[] | undefined {
  return d.allowed?.filter((v) => admits(d, v));
}

/**
 * `finiteValues` of a domain that no longer changes, computed once and kept on it: shadowing
 * compares each rule with up to `MAX_CANDIDATES` others, and the copies would otherwise dominate.
 */
function settled(d: FieldDom): Value[] | undefined {
  if (d.settled === undefined) d.settled = finiteValues(d) ?? null;
  return d.settled ?? undefined;
}

/** Whether every state of the field `b` allows is one `a` allows (both settled: no longer changing). */
function included(b: FieldDom | undefined, a: FieldDom): boolean {
  if (a.present === false) return b?.present === false;
  if (a.present === true && b?.present !== true) return false;
  if (!hasValueConstraint(a)) return true;
  if (b?.present !== true) return false;
  const bs = settled(b);
  if (bs) return bs.every((v) => admits(a, v));
  if (a.allowed) return false;
  if (a.lo > b.lo || (a.lo === b.lo && !a.loIncl && b.loIncl)) return false;
  if (a.hi < b.hi || (a.hi === b.hi && !a.hiIncl && b.hiIncl)) return false;
  for (const v of a.excluded) if (admits(b, v)) return false;
  return true;
}

/** Whether every input `b` allows is one `a` allows (`a` read for its fields only). */
function contains(a: Conjunction, b: Conjunction): boolean {
  for (const [field, d] of a.fields) if (!included(b.fields.get(field), d)) return false;
  return true;
}

/** A canonical text of an exact conjunction: equal texts, equal sets of inputs. */
function canonical(c: Conjunction): string {
  const parts: string[] = [];
  for (const field of [...c.fields.keys()].sort()) {
    const d = c.fields.get(field)!;
    if (d.present === undefined) continue;
    if (!d.present) {
      parts.push(`${field}:absent`);
      continue;
    }
    const values = settled(d);
    // one value is the common case (`sha256 == "..."` in 100,000 rules): no array to encode
    if (values?.length === 1) parts.push(`${field}:=${JSON.stringify(values[0])}`);
    else if (values)
      parts.push(`${field}:in${JSON.stringify(values.map((v) => JSON.stringify(v)).sort())}`);
    else
      parts.push(
        `${field}:${d.loIncl ? "[" : "("}${d.lo},${d.hi}${d.hiIncl ? "]" : ")"}\\${JSON.stringify(
          [...d.excluded]
            .filter((v) => admits({ ...d, excluded: NO_VALUES }, v))
            .map(String)
            .sort(),
        )}`,
      );
  }
  return parts.join(" ");
}

function show(v: Value, shape: Shape | undefined): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" && shape === "timestamp") return new Date(v).toISOString();
  if (typeof v === "number" && shape === "duration") return formatDuration(v);
  return String(v);
}

/** A value `d` allows, if one is easy to name. */
function pick(d: FieldDom): Value | undefined {
  const values = finiteValues(d);
  if (values) return values[0];
  if (d.shape === "string") {
    for (let i = 0; i <= d.excluded.size; i++) {
      const v = i === 0 ? "example" : `example${i}`;
      if (admits(d, v)) return v;
    }
    return undefined;
  }
  const { lo, hi } = d;
  const candidates = [
    lo,
    hi,
    Number.isFinite(lo) && Number.isFinite(hi) ? (lo + hi) / 2 : Number.NaN,
    Number.isFinite(lo) ? lo + 1 : Number.NaN,
    Number.isFinite(hi) ? hi - 1 : Number.NaN,
    0,
  ];
  return candidates.find((v) => Number.isFinite(v) && admits(d, v));
}

/** An input an exact conjunction matches, in words: "`trustScore` is 20 and `x` is absent". */
function example(c: Conjunction): string | undefined {
  if (!c.exact || c.bottom) return undefined;
  const parts: string[] = [];
  for (const field of [...c.fields.keys()].sort()) {
    const d = c.fields.get(field)!;
    if (d.present === false) parts.push(`\`${field}\` is absent`);
    else if (d.present === true && hasValueConstraint(d)) {
      const v = pick(d);
      if (v === undefined) return undefined;
      parts.push(`\`${field}\` is ${show(v, d.shape)}`);
    } else if (d.present === true && ![...c.fields.keys()].some((k) => k.startsWith(`${field}.`)))
      parts.push(`\`${field}\` is present`);
  }
  return parts.length === 0 ? "any input" : parts.join(" and ");
}

// ---------- regexes ----------

function minLength(node: AST.Node): number {
  switch (node.type) {
    case "Character":
    case "CharacterClass":
    case "CharacterSet":
    case "ExpressionCharacterClass":
      return 1;
    case "Quantifier":
      return node.min * minLength(node.element);
    case "Group":
    case "CapturingGroup":
      return Math.min(
        ...node.alternatives.map((a) => a.elements.reduce((n, x) => n + minLength(x), 0)),
      );
    default:
      return 0;
  }
}

/** Why a regex node can never match, or undefined when it may. Conservative: unknown is "may". */
function neverMatches(node: AST.Node, multiline: boolean): string | undefined {
  switch (node.type) {
    case "Pattern":
    case "Group":
    case "CapturingGroup": {
      const reasons = node.alternatives.map((a) => neverMatches(a, multiline));
      return reasons.every((r) => r !== undefined) ? reasons[0] : undefined;
    }
    case "Alternative": {
      const el = node.elements;
      for (let i = 0; i < el.length; i++) {
        const x = el[i]!;
        const inner = neverMatches(x, multiline);
        if (inner) return inner;
        if (multiline || x.type !== "Assertion") continue;
        if (x.kind === "end" && el.slice(i + 1).some((y) => minLength(y) > 0))
          return "`$` is followed by text that would have to come after the end";
        if (x.kind === "start" && el.slice(0, i).some((y) => minLength(y) > 0))
          return "`^` follows text that would have to come before the start";
      }
      return undefined;
    }
    case "Quantifier":
      return node.min > 0 ? neverMatches(node.element, multiline) : undefined;
    case "CharacterClass": {
      if (node.unicodeSets) return undefined;
      if (!node.negate && node.elements.length === 0) return "`[]` matches no character";
      if (node.negate) {
        // `[^\s\S]`: a set and its complement leave no character out
        const sets = node.elements.filter((e) => e.type === "CharacterSet");
        for (const s of sets) {
          if (s.kind === "property") continue;
          if (sets.some((t) => t.kind === s.kind && t.negate !== s.negate))
            return "a negated class of a set and its complement matches no character";
        }
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

// ---------- the analysis ----------

interface RuleFacts {
  rule: A.RuleDecl;
  index: number;
  /** the rule's matches, over-approximated */
  matches: Conjunction;
  priority: number;
}

const SEVERITY: Readonly<Record<A.Action, number>> = { allow: 1, review: 2, deny: 3 };

/** Shadowing candidates compared per rule, at most: the analysis stays linear on large sets. */
const MAX_CANDIDATES = 64;
/** A rule whose field allows at most this many values is indexed under each of them. */
const MAX_INDEXED_VALUES = 32;

/**
 * The analyser's warnings for a checked program. `now` is the checker's: expired rules are skipped.
 * `inputs` are the declared inputs with the fields each can carry.
 */
export function analyseProgram(
  program: Program,
  now: number,
  inputs: readonly DeclaredInput[] = [],
): Diagnostic[] {
  const out: Diagnostic[] = [];
  // Fields no declared input ever carries (profiles.ts): rules needing them are
  // `rule_never_fires_on_input`'s; here they only tell that `exists` on them is false.
  const absent = (field: string): boolean =>
    inputs.length > 0 && inputs.every((i) => !i.fields.has(field));
  const reader = new Reader(program);
  analyseRegexes(program, out);
  const facts: RuleFacts[] = [];
  program.rules.forEach((rule, index) => {
    if (!rule.when || !rule.outcome) return;
    if (rule.expires !== undefined && rule.expires.at <= now) return;
    const name = rule.name.name;
    const when = emptyConjunction();
    reader.read(rule.when, true, when);
    if (when.bottom) {
      out.push(neverMatchesDiagnostic(name, when));
      return;
    }
    // the `when` is read again only by `unless` checks, which never change it: share it when none
    const matches = rule.unless.length === 0 ? when : copyConjunction(when);
    for (const u of rule.unless) {
      reader.read(u, false, matches);
      if (matches.bottom) {
        out.push(
          diagnostic(
            "rule_never_matches",
            `rule \`${name}\` can never match: whenever its \`when\` is true, this \`unless\` blocks it`,
            u.span,
            {
              help: "an `unless` blocks the rule when it is true or unknown: fix the condition, or remove the rule",
              related: [{ message: "the `when` it always blocks", span: rule.when.span }],
            },
          ),
        );
        return;
      }
    }
    for (const u of rule.unless) unlessNeverApplies(reader, name, when, u, absent, out);
    facts.push({ rule, index, matches, priority: rule.priority?.value ?? 0 });
  });
  const conflicts = sameCondition(facts, out);
  shadowing(program.strategy, facts, conflicts, out);
  return out;
}

function neverMatchesDiagnostic(name: string, c: Conjunction): Diagnostic {
  const b = c.bottom!;
  const related =
    b.first && b.field !== undefined && b.first !== b.span
      ? [{ message: `it contradicts this condition on \`${b.field}\``, span: b.first }]
      : [];
  return diagnostic(
    "rule_never_matches",
    `rule \`${name}\` can never match: its \`when\` can never be true`,
    b.span,
    {
      help:
        b.field !== undefined
          ? `the conditions on \`${b.field}\` cannot all hold: fix or remove one`
          : "a condition that is always false keeps the rule from ever matching: remove the rule",
      related,
    },
  );
}

/**
 * An `unless` never applies when, whenever the `when` is true, it is false (never true, never
 * unknown). Shown by one field on which its conditions and the `when`'s contradict, provided a
 * false value there is certain: the field is present whenever the `when` is true, or the
 * conditions are `exists`, which is never unknown. Conditions it cannot model count for nothing.
 */
function unlessNeverApplies(
  reader: Reader,
  name: string,
  when: Conjunction,
  u: A.Expr,
  absent: (field: string) => boolean,
  out: Diagnostic[],
): void {
  // what must hold for the `unless` to be true: one of these false makes it false
  const applies: Conjunction = { ...emptyConjunction(), sink: [] };
  reader.read(u, true, applies);
  if (applies.bottom && applies.bottom.field === undefined) {
    out.push(
      diagnostic(
        "unless_never_applies",
        `this \`unless\` of rule \`${name}\` can never apply: it is always false`,
        u.span,
        { help: "remove it" },
      ),
    );
    return;
  }
  const byField = new Map<string, Atom[]>();
  for (const atom of applies.sink!) {
    if (atom.kind === "needs") continue;
    const list = byField.get(atom.field) ?? [];
    list.push(atom);
    byField.set(atom.field, list);
  }
  for (const [field, atoms] of byField) {
    const w = when.fields.get(field);
    // a comparison on a field the `when` may leave absent is unknown there, and unknown blocks
    if (w?.present !== true && atoms.some((a) => a.kind === "value")) continue;
    const meet = w ? copyDom(w) : newDom(atoms[0]!.span);
    // a field no declared input carries is always absent: `exists` on it is always false
    const neverCarried = w?.present !== true && absent(field);
    if (neverCarried) meet.present = false;
    if (atoms.every((a) => apply(meet, a))) continue;
    if (neverCarried) {
      out.push(
        diagnostic(
          "unless_never_applies",
          `this \`unless\` of rule \`${name}\` can never apply: no declared input carries \`${field}\``,
          u.span,
          { help: "remove it, or declare an input that carries the field in `inputs`" },
        ),
      );
      return;
    }
    out.push(
      diagnostic(
        "unless_never_applies",
        `this \`unless\` of rule \`${name}\` can never apply: it is false whenever the \`when\` is true`,
        u.span,
        {
          help: w
            ? `the \`when\` already rules out what it tests on \`${field}\`: remove it, or fix the condition`
            : `its conditions on \`${field}\` contradict each other: remove it, or fix the condition`,
          related: w ? [{ message: `the \`when\` tests \`${field}\` here`, span: w.first }] : [],
        },
      ),
    );
    return;
  }
}

/** The rule's condition as text without positions: equal texts, the same condition. */
function conditionText(rule: A.RuleDecl): string {
  const out: string[] = [];
  const pending: (A.Expr | string)[] = [...rule.unless].reverse().flatMap((u) => [u, "unless"]);
  pending.push(rule.when!);
  for (let x = pending.pop(); x !== undefined; x = pending.pop()) {
    if (typeof x === "string") {
      out.push(x);
      continue;
    }
    switch (x.kind) {
      case "literal":
        out.push(`${x.type}:${JSON.stringify(x.value)}`);
        break;
      case "path":
        out.push(x.segments.map((s) => s.name).join("."));
        break;
      case "list":
        pending.push("]", ...[...x.items].reverse(), "[");
        break;
      case "unary":
        pending.push(")", x.operand, `(${x.op}`);
        break;
      case "binary":
        pending.push(")", x.right, x.op, x.left, "(");
        break;
      case "match":
        pending.push(`/${x.regex.source}/${x.regex.flags})`, x.operand, "(matches");
        break;
      case "quantifier":
        pending.push(")", x.body, x.collection, `(${x.quantifier} ${x.variable.name}`);
        break;
      case "count":
        pending.push(")", x.body, x.collection, `(count ${x.variable.name}`);
        break;
      case "call":
        pending.push(")", ...[...x.args].reverse(), `(${x.callee.name}`);
        break;
      case "error":
        out.push("(error)");
        break;
    }
  }
  return out.join(" ");
}

function enforced(f: RuleFacts): boolean {
  return f.rule.monitor === undefined;
}

/**
 * `conflicting_rules`: two enforced rules with the same condition and different actions. The same
 * condition is the same text (whatever it reads), or, for conditions modelled exactly, the same
 * set of inputs (`trustScore > 5` and `5 < trustScore`). Returns the pairs found, both ways round (`a\0b` and `b\0a`).
 */
function sameCondition(facts: readonly RuleFacts[], out: Diagnostic[]): Set<string> {
  const pairs = new Set<string>();
  const first = new Map<string, RuleFacts>();
  for (const f of facts) {
    if (!enforced(f)) continue;
    const key = f.matches.exact ? `=${canonical(f.matches)}` : `~${conditionText(f.rule)}`;
    const earlier = first.get(key);
    if (!earlier) {
      first.set(key, f);
      continue;
    }
    const a = earlier.rule.outcome!.action;
    const b = f.rule.outcome!.action;
    if (a === b) continue;
    pairs.add(`${f.rule.name.name}\0${earlier.rule.name.name}`);
    pairs.add(`${earlier.rule.name.name}\0${f.rule.name.name}`);
    const when = example(f.matches);
    out.push(
      diagnostic(
        "conflicting_rules",
        `rules \`${earlier.rule.name.name}\` and \`${f.rule.name.name}\` have the same condition but different actions (\`${a}\` and \`${b}\`)`,
        f.rule.name.span,
        {
          help: `${when ? `they both match when ${when}; ` : ""}keep one, or make the conditions differ`,
          related: [
            { message: `\`${earlier.rule.name.name}\` is here`, span: earlier.rule.name.span },
          ],
        },
      ),
    );
  }
  return pairs;
}

/** `field=value`, one key per pair: strings quoted, so `"1"` and `1` differ. */
function valueKey(field: string, v: Value): string {
  return typeof v === "string" ? `${field}="${v}` : `${field}=${v}`;
}

/**
 * The field and value keys a rule is indexed under as a possible shadower: one of its fields, by
 * each value it allows when they are few, or by the field alone.
 */
function indexKeys(c: Conjunction): string[] {
  let best: string[] | undefined;
  for (const [field, d] of c.fields) {
    if (d.present === undefined) continue;
    const values = d.present ? finiteValues(d) : undefined;
    if (values && values.length <= MAX_INDEXED_VALUES) return values.map((v) => valueKey(field, v));
    best ??= [field];
  }
  return best ?? [""];
}

/** The keys under which a rule's possible shadowers are indexed: the most selective first. */
function lookupKeys(c: Conjunction): string[] {
  const byValue: string[] = [];
  const byField: string[] = [];
  for (const [field, d] of c.fields) {
    if (d.present === undefined) continue;
    byField.push(field);
    const values = d.present ? finiteValues(d) : undefined;
    if (values && values.length > 0) byValue.push(valueKey(field, values[0]!));
  }
  return [...byValue, ...byField, ""];
}

/**
 * `rule_shadowed`: under first-match, an enforced rule that decides before this one (higher
 * priority, or the same and declared earlier) matches every input this one matches, with another
 * action. Under deny-overrides, a rule without `overrides` all of whose matches are also matched by
 * a rule of a more severe action. The shadower must be modelled exactly (its conjunction is then
 * exactly its matches), enforced and never expiring; the shadowed one is over-approximated, which
 * only makes containment harder to show.
 */
function shadowing(
  strategy: A.Strategy,
  facts: readonly RuleFacts[],
  conflicts: ReadonlySet<string>,
  out: Diagnostic[],
): void {
  const index = new Map<string, RuleFacts[]>();
  for (const f of facts) {
    if (!enforced(f) || !f.matches.exact || f.rule.expires !== undefined) continue;
    for (const key of indexKeys(f.matches)) {
      const list = index.get(key) ?? [];
      list.push(f);
      index.set(key, list);
    }
  }
  for (const b of facts) {
    if (!enforced(b)) continue;
    const action = b.rule.outcome!.action;
    if (strategy === "deny-overrides" && (b.rule.overrides || action === "deny")) continue;
    let compared = 0;
    let shadower: RuleFacts | undefined;
    search: for (const key of lookupKeys(b.matches)) {
      for (const a of index.get(key) ?? []) {
        // every candidate looked at counts, so a large bucket costs at most the cap
        if (++compared > MAX_CANDIDATES) break search;
        if (a === b) continue;
        const other = a.rule.outcome!.action;
        const beats =
          strategy === "first-match"
            ? other !== action &&
              (a.priority > b.priority || (a.priority === b.priority && a.index < b.index))
            : SEVERITY[other] > SEVERITY[action];
        if (!beats || !contains(a.matches, b.matches)) continue;
        if (!conflicts.has(`${b.rule.name.name}\0${a.rule.name.name}`)) {
          shadower = a;
          break search;
        }
      }
    }
    if (!shadower) continue;
    const when = example(b.matches);
    const other = shadower.rule.outcome!.action;
    out.push(
      diagnostic(
        "rule_shadowed",
        strategy === "first-match"
          ? `rule \`${b.rule.name.name}\` never decides: \`${shadower.rule.name.name}\` matches everything it matches and comes first`
          : `rule \`${b.rule.name.name}\` never decides: \`${shadower.rule.name.name}\` (\`${other}\`) matches everything it matches and wins`,
        b.rule.name.span,
        {
          help: `${when ? `when ${when}, both match and \`${shadower.rule.name.name}\` decides \`${other}\`; ` : ""}${
            strategy === "first-match"
              ? "give this rule a higher priority, narrow the other, or remove this one"
              : "narrow the other rule, or remove this one"
          }`,
          related: [{ message: "shadowed by this rule here", span: shadower.rule.name.span }],
        },
      ),
    );
  }
}

/** `regex_never_matches`: a regex no string matches, such as `/[]/` or `/a^b/`. */
function analyseRegexes(program: Program, out: Diagnostic[]): void {
  for (const m of program.regexes.keys()) {
    const parsed = parsePattern(m.regex.source, m.regex.flags.includes("u"));
    if (!("type" in parsed)) continue;
    const why = neverMatches(parsed, m.regex.flags.includes("m"));
    if (why)
      out.push(
        diagnostic("regex_never_matches", `this regex can never match: ${why}`, m.regex.span, {
          help: "a condition with it is never true: fix the pattern",
        }),
      );
  }
}
