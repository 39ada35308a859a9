import type * as A from "./ast.js";
import type { Resolution } from "./check.js";
import { type Diagnostic, diagnostic, type Span } from "./diagnostics.js";

/*
 * Input profiles: the fields a rule needs, against the fields each declared input can carry.
 *
 * A field is *needed* by a rule when its absence keeps the rule from matching, whatever the other
 * fields hold. Missing fields are unknown and logic is three-valued (docs/language.md, "Three-valued
 * logic"), so the analysis tracks two sets for each condition:
 * - `T(e)`: fields whose absence makes `e` anything but true (false or unknown);
 * - `F(e)`: fields whose absence makes `e` anything but false (true or unknown).
 * A comparison, `in`, `matches`, ... is unknown when an operand is, so both sets are the fields its
 * operands read. Then `T(a and b) = T(a) ∪ T(b)`, `T(a or b) = T(a) ∩ T(b)`, `F` the dual, and
 * `not` swaps them. `exists(f)` is false when `f` is absent: `T = {f}`, `F = {}`. A rule matches
 * when its `when` is true and every `unless` is false, so it needs `T(when)` and each `F(unless)`.
 *
 * Fields are written as in the profile table (`@clearance/result`, `INPUT_PROFILES`):
 * `signature.status`, and `engines[].result` for a field of each item of a list.
 */

/** The fields an expression needs, each with the span of its first use. */
type Needs = Map<string, Span>;

const NONE: Needs = new Map();

function union(a: Needs, b: Needs): Needs {
  if (b.size === 0) return a;
  if (a.size === 0) return b;
  const out = new Map(a);
  for (const [field, span] of b) if (!out.has(field)) out.set(field, span);
  return out;
}

function intersection(a: Needs, b: Needs): Needs {
  if (a.size === 0 || b.size === 0) return NONE;
  const out: Needs = new Map();
  for (const [field, span] of a) if (b.has(field)) out.set(field, span);
  return out;
}

/**
 * A field and every field it lies in: `virustotal.sigmaMatches[].level` is absent when
 * `virustotal.sigmaMatches` or `virustotal` is. Keeping the ancestors lets `a or b` see what both
 * branches need when they read different fields of one object: `(any m in virustotal.sigmaMatches:
 * ...) or (any a in virustotal.idsAlerts: ...)` needs `virustotal`.
 */
function withAncestors(field: string, span: Span): Needs {
  const out: Needs = new Map([[field, span]]);
  for (let path = parentOf(field); path !== undefined; path = parentOf(path)) out.set(path, span);
  return out;
}

/** `a.b[].c` -> `a.b`, `a.b` -> `a`, `a` -> undefined. */
function parentOf(field: string): string | undefined {
  const cut = field.lastIndexOf(".");
  return cut < 0 ? undefined : field.slice(0, cut).replace(/\[\]$/, "");
}

/** The needed fields with no needed field inside them: the most specific of each chain. */
function mostSpecific(needs: Needs): Needs {
  const ancestors = new Set<string>();
  for (const field of needs.keys())
    for (let path = parentOf(field); path !== undefined; path = parentOf(path)) ancestors.add(path);
  return new Map([...needs].filter(([field]) => !ancestors.has(field)));
}

interface Both {
  /** absence makes it not true */
  t: Needs;
  /** absence makes it not false */
  f: Needs;
}

/** A quantifier's variable and the field path of its list's items (`engines[]`), if it is a field. */
interface Binding {
  name: string;
  items: string | undefined;
}

class NeedsAnalysis {
  private readonly scope: Binding[] = [];

  constructor(private readonly resolutions: ReadonlyMap<A.PathExpr, Resolution>) {}

  /** The input field a path reads, if it reads one. */
  private field(e: A.PathExpr): string | undefined {
    const r = this.resolutions.get(e);
    if (!r) return undefined;
    if (r.kind === "field") return r.path.join(".");
    if (r.kind !== "variable" || r.path.length === 0) return undefined;
    for (let i = this.scope.length - 1; i >= 0; i--) {
      const b = this.scope[i]!;
      if (b.name !== r.name) continue;
      return b.items === undefined ? undefined : `${b.items}.${r.path.join(".")}`;
    }
    return undefined;
  }

  /** Fields whose absence makes the value of `e` unknown. */
  value(e: A.Expr): Needs {
    switch (e.kind) {
      case "literal":
      case "error":
      // an unknown item of a list literal is an absent item: the list itself is never unknown
      case "list":
        return NONE;
      case "path": {
        const field = this.field(e);
        return field === undefined ? NONE : withAncestors(field, e.span);
      }
      case "unary":
        return e.op === "neg" ? this.value(e.operand) : this.both(e).t;
      case "binary":
        if (e.op === "and" || e.op === "or") return this.both(e).t;
        return this.chainValue(e);
      case "match":
        return this.value(e.operand);
      case "count":
        return this.value(e.collection);
      case "quantifier":
        return this.both(e).t;
      case "call": {
        if (e.callee.name === "exists") return NONE;
        let out = NONE;
        for (const arg of e.args) out = union(out, this.value(arg));
        return out;
      }
    }
  }

  /** Arithmetic and comparisons: unknown when any operand is. A work list: chains may be long. */
  private chainValue(e: A.BinaryExpr): Needs {
    let out = NONE;
    const pending: A.Expr[] = [e];
    for (let x = pending.pop(); x !== undefined; x = pending.pop()) {
      if (x.kind === "binary" && x.op !== "and" && x.op !== "or") pending.push(x.right, x.left);
      else out = union(out, this.value(x));
    }
    return out;
  }

  /** Both sets of a condition. */
  both(e: A.Expr): Both {
    switch (e.kind) {
      case "binary": {
        if (e.op !== "and" && e.op !== "or") {
          const v = this.chainValue(e);
          return { t: v, f: v };
        }
        // `a and b and c ...` is a chain of thousands of operands at most: flatten it, no recursion
        const operands: A.Expr[] = [];
        const pending: A.Expr[] = [e];
        for (let x = pending.pop(); x !== undefined; x = pending.pop()) {
          if (x.kind === "binary" && x.op === e.op) pending.push(x.right, x.left);
          else operands.push(x);
        }
        let t: Needs | undefined;
        let f: Needs | undefined;
        for (const operand of operands) {
          const b = this.both(operand);
          if (e.op === "and") {
            t = t === undefined ? b.t : union(t, b.t);
            f = f === undefined ? b.f : intersection(f, b.f);
          } else {
            t = t === undefined ? b.t : intersection(t, b.t);
            f = f === undefined ? b.f : union(f, b.f);
          }
        }
        return { t: t ?? NONE, f: f ?? NONE };
      }
      case "unary": {
        if (e.op === "neg") {
          const v = this.value(e.operand);
          return { t: v, f: v };
        }
        const b = this.both(e.operand);
        return { t: b.f, f: b.t };
      }
      case "call":
        if (e.callee.name === "exists") {
          // false, never unknown, when the field is absent
          const arg = e.args[0];
          const field = arg?.kind === "path" ? this.field(arg) : undefined;
          return { t: field === undefined ? NONE : withAncestors(field, arg!.span), f: NONE };
        }
        break;
      case "quantifier": {
        const list = this.value(e.collection);
        let items: string | undefined;
        if (e.collection.kind === "path") items = this.field(e.collection);
        this.scope.push({
          name: e.variable.name,
          items: items === undefined ? undefined : `${items}[]`,
        });
        let body: Both;
        try {
          body = this.both(e.body);
        } finally {
          this.scope.pop();
        }
        // `any` over an empty list is false and `all` true, whatever the body needs
        return e.quantifier === "any"
          ? { t: union(list, body.t), f: list }
          : { t: list, f: union(list, body.f) };
      }
      case "literal":
        return { t: NONE, f: NONE };
      default:
        break;
    }
    const v = this.value(e);
    return { t: v, f: v };
  }
}

/** The fields a rule needs to match, each with the span of its first use. */
export function ruleNeeds(
  rule: A.RuleDecl,
  resolutions: ReadonlyMap<A.PathExpr, Resolution>,
): Needs {
  const analysis = new NeedsAnalysis(resolutions);
  let needs = rule.when ? analysis.both(rule.when).t : NONE;
  for (const u of rule.unless) needs = union(needs, analysis.both(u).f);
  return needs;
}

/**
 * Both needs sets of one condition: `t`, the fields whose absence keeps it from being true, and
 * `f`, the fields whose absence keeps it from being false. The rule-set analyser (analyse.ts)
 * uses them as the presence an unmodelled condition still guarantees.
 */
export function conditionNeeds(
  e: A.Expr,
  resolutions: ReadonlyMap<A.PathExpr, Resolution>,
): { t: ReadonlyMap<string, Span>; f: ReadonlyMap<string, Span> } {
  return new NeedsAnalysis(resolutions).both(e);
}

/** A declared input: its name, where it is declared, and the fields it can carry. */
export interface DeclaredInput {
  name: string;
  span: Span;
  fields: ReadonlySet<string>;
}

/**
 * `rule_never_fires_on_input` for each enforced rule and each field it needs that some declared
 * input never carries: one warning per rule and field, naming every such input.
 */
export function checkInputProfiles(
  rules: readonly A.RuleDecl[],
  resolutions: ReadonlyMap<A.PathExpr, Resolution>,
  inputs: readonly DeclaredInput[],
): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (inputs.length === 0) return out;
  for (const rule of rules) {
    if (rule.monitor) continue; // not enforced: it never decides anything
    for (const [field, span] of mostSpecific(ruleNeeds(rule, resolutions))) {
      const lacking = inputs.filter((input) => !input.fields.has(field));
      if (lacking.length === 0) continue;
      const names = lacking.map((i) => `\`${i.name}\``);
      const which =
        names.length === 1 ? names[0]! : `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
      out.push(
        diagnostic(
          "rule_never_fires_on_input",
          `rule \`${rule.name.name}\` can never fire on ${which} input: it needs \`${field}\`, which ${lacking.length === 1 ? "that input never carries" : "those inputs never carry"}`,
          span,
          {
            help: `give ${which} input a rule on fields it carries, or remove it from \`inputs\``,
            related: lacking.map((i) => ({ message: `\`${i.name}\` declared here`, span: i.span })),
          },
        ),
      );
    }
  }
  return out;
}
