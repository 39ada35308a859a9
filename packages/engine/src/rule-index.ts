/**
 * Rule-index selection, the first stage of code generation (codegen.ts): which rules a decision
 * reaches through a lookup of the input's value instead of evaluating them. A rule is indexed by
 * the first conjunct of its `when` that compares a field with constants (`sha256 == "..."`,
 * `vendor.name in [...]`, `fileName in some_list`); `decide` then evaluates only the rules in the
 * buckets of the input's values, and the rules no index covers.
 */
import type { Ast, Expr, Program, RuleDecl } from "@clearance/dsl";
import { someExpr } from "@clearance/dsl";
import type { ListValues } from "./codegen.js";

/** `field == constant` and `field in constants` conjuncts: rules reachable through a lookup. */
export interface RuleIndex {
  /** field path, e.g. ["sha256"] or ["vendor", "name"] */
  path: readonly string[];
  buckets: Map<unknown, number[]>;
}

/** The lookup that reaches a rule: the field, and the values that may match it. */
export interface IndexKey {
  path: readonly string[];
  values: unknown[];
  /** the lookup is the rule's whole condition: reaching the rule means it matched */
  whole: boolean;
}

/** Fewer rules than this on one field are not worth an index lookup per decision. */
const MIN_INDEXED_RULES = 16;

/**
 * The key that indexes a rule, if any. Skipping a rule through the index must never hide a
 * run-time error it would have raised: a rule that can fail is never indexed.
 */
export function indexKeyOf(
  decl: RuleDecl,
  program: Program,
  values: ListValues,
): IndexKey | undefined {
  return canFail(decl, program) ? undefined : indexKey(decl.when, program, values);
}

/** The indexes of a rule set, built one rule at a time. */
export class RuleIndexes {
  private readonly byField = new Map<string, RuleIndex>();
  private readonly indexed = new Set<number>();

  /** Puts rule `index` in the buckets of `key`'s values. */
  add(index: number, key: IndexKey): void {
    const id = key.path.join("\0");
    let idx = this.byField.get(id);
    if (!idx) {
      idx = { path: key.path, buckets: new Map() };
      this.byField.set(id, idx);
    }
    for (const v of key.values) {
      const bucket = idx.buckets.get(v);
      if (bucket) {
        if (bucket[bucket.length - 1] !== index) bucket.push(index);
      } else idx.buckets.set(v, [index]);
    }
    this.indexed.add(index);
  }

  /**
   * An index pays for its lookup only when it spares many rules: drops those of fewer than
   * MIN_INDEXED_RULES rules, and returns their rules, now evaluated for every input.
   */
  dropSmall(): number[] {
    const dropped: number[] = [];
    for (const [id, idx] of this.byField) {
      const members = new Set<number>();
      for (const bucket of idx.buckets.values()) for (const i of bucket) members.add(i);
      if (members.size >= MIN_INDEXED_RULES) continue;
      this.byField.delete(id);
      for (const i of members) {
        this.indexed.delete(i);
        dropped.push(i);
      }
    }
    return dropped;
  }

  get indexes(): RuleIndex[] {
    return [...this.byField.values()];
  }

  /** The rules of `0 .. ruleCount - 1` no index covers, in declaration order. */
  unindexed(ruleCount: number): Int32Array {
    const out: number[] = [];
    for (let i = 0; i < ruleCount; i++) if (!this.indexed.has(i)) out.push(i);
    return Int32Array.from(out);
  }
}

/**
 * Whether evaluating the rule's conditions can raise a run-time error on validated input:
 * division and remainder (by zero), context, exception and case fields (of the wrong type) and
 * loops (over the evaluation budget).
 */
function canFail(decl: RuleDecl, program: Program): boolean {
  return someExpr([...(decl.when ? [decl.when] : []), ...decl.unless], (e) => {
    switch (e.kind) {
      case "binary":
        return e.op === "/" || e.op === "%";
      case "quantifier":
      case "count":
        return true;
      case "path": {
        const kind = program.resolutions.get(e)?.kind;
        return kind === "context" || kind === "builtin";
      }
      default:
        return false;
    }
  });
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
