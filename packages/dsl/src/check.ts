import { analyseProgram } from "./analyse.js";
import type * as A from "./ast.js";
import {
  type Diagnostic,
  DiagnosticCollector,
  diagnostic,
  failureMessage,
  type RelatedInformation,
  type Span,
} from "./diagnostics.js";
import { DEFAULT_LIMITS, type LanguageLimits } from "./options.js";
import { checkInputProfiles, type DeclaredInput } from "./profiles.js";
import { analyzeRegex, type RegexPlan } from "./regex-analysis.js";
import { didYouMean, listOf } from "./suggest.js";
import {
  BUILTINS,
  type BuiltinName,
  type Field,
  sameType,
  T,
  type Type,
  typeFromName,
  typeName,
} from "./types.js";
import { someExpr } from "./walk.js";

/** What a path expression refers to, decided once here so the compiler never guesses. */
export type Resolution =
  | { kind: "field"; path: readonly string[]; type: Type; optional: boolean }
  | { kind: "context"; path: readonly string[]; type: Type; optional: boolean }
  /** `exception.x` or `case.x`: `path` starts with the built-in's field */
  | { kind: "builtin"; root: BuiltinName; path: readonly string[]; type: Type; optional: boolean }
  | {
      kind: "variable";
      name: string;
      depth: number;
      path: readonly string[];
      type: Type;
      optional: boolean;
    }
  | { kind: "list"; name: string; type: Type }
  | { kind: "hashlist"; name: string };

export interface ListInfo {
  name: string;
  decl: A.ListDecl;
  elementType: Type;
  /** inline values; lists read from files get theirs at load time */
  values?: (string | number | boolean)[];
}

export interface HashlistInfo {
  name: string;
  decl: A.HashlistDecl;
}

/** A checked, resolved rule set: what the engine compiles. */
export interface Program {
  name?: string;
  strategy: A.Strategy;
  defaultOutcome: { action: A.Action; reason: A.Template };
  onError: A.OnError;
  lists: ReadonlyMap<string, ListInfo>;
  hashlists: ReadonlyMap<string, HashlistInfo>;
  context: ReadonlyMap<string, Field>;
  /** the inputs declared with `inputs`, in the order written; absent without a declaration */
  inputs?: readonly string[];
  /** in declaration order: files by path, then position */
  rules: readonly A.RuleDecl[];
  types: ReadonlyMap<A.Expr, Type>;
  resolutions: ReadonlyMap<A.PathExpr, Resolution>;
  regexes: ReadonlyMap<A.MatchExpr, RegexPlan>;
  files: readonly A.RuleFile[];
}

/** Rules and exceptions expiring within this window (14 days) are warned about. */
export const EXPIRY_WARNING_MS = 14 * 86_400_000;

export interface CheckOptions {
  limits?: LanguageLimits;
  /** the instant expiry warnings are computed against; defaults to the current time */
  now?: number;
  /** warn about rules expiring within this many milliseconds (14 days) */
  expiryWarningMs?: number;
  /**
   * The inputs `inputs` may name, each with the field paths it can ever carry (`signature.status`,
   * `engines[].result`): the engine passes `INPUT_PROFILES` of `@clearance/result`.
   */
  inputProfiles?: Readonly<Record<string, ReadonlySet<string>>>;
}

export const FUNCTIONS: Readonly<Record<string, string>> = Object.freeze({
  age: "age(timestamp) -> duration: how long ago",
  now: "now() -> timestamp: the evaluation time",
  lower: "lower(string) -> string",
  upper: "upper(string) -> string",
  len: "len(string | list) -> number",
  exists: "exists(path) -> bool: whether an optional field is present",
});

const DEFAULT_REASON: A.Template = {
  parts: ["no rule matched"],
  raw: '"no rule matched"',
  span: { file: "<default>", start: 0, end: 0 },
};

interface Scope {
  name: string;
  type: Type;
  span: Span;
  depth: number;
}

interface Typed {
  type: Type;
  /** may be unknown at run time (an optional field somewhere on the way) */
  optional: boolean;
}

/**
 * The checker: names, types, enum values and regexes, against the input schema and the declared
 * context. Collects every problem; never throws.
 */
export function checkProgram(
  files: readonly A.RuleFile[],
  input: Type,
  options: CheckOptions = {},
): { program: Program; diagnostics: Diagnostic[]; omitted: number } {
  return new Checker(input, options).run(files);
}

class Checker {
  private readonly collected: DiagnosticCollector;
  private readonly types = new Map<A.Expr, Type>();
  private readonly resolutions = new Map<A.PathExpr, Resolution>();
  private readonly regexes = new Map<A.MatchExpr, RegexPlan>();
  private readonly lists = new Map<string, ListInfo>();
  private readonly hashlists = new Map<string, HashlistInfo>();
  private readonly listSpans = new Map<string, Span>();
  private readonly usedLists = new Set<string>();
  private context = new Map<string, Field>();
  private contextDeclared = false;
  private strategy: A.Strategy = "deny-overrides";
  private readonly limits: LanguageLimits;
  private readonly now: number;
  private readonly expiryWarningMs: number;
  private readonly inputFields: ReadonlyMap<string, Field>;
  private readonly inputProfiles: Readonly<Record<string, ReadonlySet<string>>>;
  private readonly declaredInputs: DeclaredInput[] = [];

  constructor(input: Type, options: CheckOptions) {
    this.inputProfiles = options.inputProfiles ?? {};
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.collected = new DiagnosticCollector(this.limits.maxDiagnostics);
    this.now = options.now ?? Date.now();
    this.expiryWarningMs = options.expiryWarningMs ?? EXPIRY_WARNING_MS;
    this.inputFields = input.kind === "object" ? input.fields : new Map();
  }

  private report(
    code: Parameters<typeof diagnostic>[0],
    message: string,
    span: Span,
    help?: string,
    related?: RelatedInformation[],
  ): void {
    this.collected.add(
      diagnostic(code, message, span, {
        ...(help ? { help } : {}),
        ...(related ? { related } : {}),
      }),
    );
  }

  run(files: readonly A.RuleFile[]): {
    program: Program;
    diagnostics: Diagnostic[];
    omitted: number;
  } {
    let name: string | undefined;
    let strategy: A.Strategy = "deny-overrides";
    let defaultOutcome = { action: "review" as A.Action, reason: DEFAULT_REASON };
    let onError: A.OnError = "review";
    const declared = new Map<string, Span>();
    const once = (key: string, span: Span): boolean => {
      const first = declared.get(key);
      if (first) {
        this.report(
          "duplicate_declaration",
          `\`${key}\` is declared more than once`,
          span,
          "keep one declaration for the whole rule set",
          [{ message: "first declared here", span: first }],
        );
        return false;
      }
      declared.set(key, span);
      return true;
    };

    // Pass 1: declarations, so rules in any file may use lists declared in any other.
    for (const file of files) {
      for (const item of file.items) {
        switch (item.kind) {
          case "ruleset":
            if (once("ruleset", item.span)) name = item.name;
            break;
          case "strategy":
            if (once("strategy", item.span)) strategy = item.strategy;
            break;
          case "default":
            if (once("default", item.span))
              defaultOutcome = { action: item.action, reason: item.reason };
            break;
          case "on-error":
            if (once("on-error", item.span)) onError = item.onError;
            break;
          case "context":
            if (once("context", item.span)) this.declareContext(item);
            break;
          case "inputs":
            if (once("inputs", item.span)) this.declareInputs(item);
            break;
          case "list":
          case "hashlist":
            this.declareList(item);
            break;
          default:
            break;
        }
      }
    }

    this.strategy = strategy;
    // Pass 2: templates of the default, and the rules.
    this.template(defaultOutcome.reason, []);
    const rules: A.RuleDecl[] = [];
    const ruleSpans = new Map<string, Span>();
    for (const file of files) {
      for (const item of file.items) {
        if (item.kind !== "rule") continue;
        const first = ruleSpans.get(item.name.name);
        if (first) {
          this.report(
            "duplicate_rule",
            `rule \`${item.name.name}\` is defined more than once`,
            item.name.span,
            "rule names are global across all files: rename one",
            [{ message: "first defined here", span: first }],
          );
          continue;
        }
        ruleSpans.set(item.name.name, item.name.span);
        rules.push(item);
        try {
          this.rule(item);
        } catch (error) {
          // Defence in depth: the checker walks chains with loops and nesting is limited, but a rule
          // it cannot check must fail to compile with a diagnostic, never crash the caller.
          this.report(
            "compile_failed",
            `rule \`${item.name.name}\` cannot be checked: ${failureMessage(error)}`,
            item.name.span,
            "split the rule into smaller ones; if it is small, this is a bug in Clearance: please report it",
          );
        }
      }
    }
    if (rules.length > this.limits.maxRules) {
      const r = rules[this.limits.maxRules]!;
      this.report(
        "too_many_rules",
        `the rule set has ${rules.length} rules, more than the limit of ${this.limits.maxRules}`,
        r.name.span,
        "move per-hash rules into a `hashlist`",
      );
    }
    if (
      rules.length === 0 &&
      files.length > 0 &&
      !this.collected.list.some((d) => d.severity === "error")
    ) {
      this.report(
        "no_rules",
        "the rule set has no rules: every file gets the default decision",
        { file: files[0]!.path, start: 0, end: 0 },
        'add a rule: rule name { when <condition> deny "reason" }',
      );
    }
    // expired rules no longer apply (and have `rule_expired` of their own)
    const live = rules.filter((r) => r.expires === undefined || r.expires.at > this.now);
    for (const d of checkInputProfiles(live, this.resolutions, this.declaredInputs)) {
      this.collected.add(d);
    }
    for (const [listName, span] of this.listSpans) {
      if (!this.usedLists.has(listName)) {
        this.report(
          "unused_list",
          `list \`${listName}\` is never used`,
          span,
          "use it in a rule with `in`, or remove it",
        );
      }
    }
    const program: Program = {
      strategy,
      defaultOutcome,
      onError,
      lists: this.lists,
      hashlists: this.hashlists,
      context: this.context,
      rules,
      types: this.types,
      resolutions: this.resolutions,
      regexes: this.regexes,
      files,
    };
    if (name !== undefined) program.name = name;
    if (declared.has("inputs")) program.inputs = this.declaredInputs.map((i) => i.name);
    // The analyser reasons about what rules mean: only once they type-check, so that an error is
    // never buried under warnings it caused.
    if (!this.collected.list.some((d) => d.severity === "error"))
      this.collected.addAll(analyseProgram(program, this.now, this.declaredInputs));
    return { program, diagnostics: this.collected.list, omitted: this.collected.omitted };
  }

  // ---------- declarations ----------

  private declareContext(decl: A.ContextDecl): void {
    this.contextDeclared = true;
    const fields = new Map<string, Field>();
    const spans = new Map<string, Span>();
    for (const f of decl.fields) {
      const first = spans.get(f.name.name);
      if (first) {
        this.report(
          "duplicate_context_field",
          `context field \`${f.name.name}\` is declared twice`,
          f.name.span,
          "keep one",
          [{ message: "first declared here", span: first }],
        );
        continue;
      }
      spans.set(f.name.name, f.name.span);
      const type = this.typeRef(f.type);
      fields.set(f.name.name, { type: type ?? T.error, optional: true });
    }
    this.context = fields;
  }

  /** `inputs a, b`: each name must be a known input, listed once. */
  private declareInputs(decl: A.InputsDecl): void {
    const known = Object.keys(this.inputProfiles);
    const spans = new Map<string, Span>();
    for (const input of decl.inputs) {
      const first = spans.get(input.name);
      if (first) {
        this.report(
          "duplicate_input",
          `input \`${input.name}\` is listed twice`,
          input.span,
          "keep one",
          [{ message: "first listed here", span: first }],
        );
        continue;
      }
      spans.set(input.name, input.span);
      if (!Object.hasOwn(this.inputProfiles, input.name)) {
        this.report(
          "unknown_input",
          `unknown input \`${input.name}\``,
          input.span,
          didYouMean(input.name, known) ??
            (known.length > 0 ? `inputs are ${listOf(known)}` : "this checker knows no inputs"),
        );
        continue;
      }
      this.declaredInputs.push({
        name: input.name,
        span: input.span,
        fields: this.inputProfiles[input.name]!,
      });
    }
  }

  private typeRef(ref: A.TypeRef): Type | undefined {
    const element = ref.element ? this.typeRef(ref.element) : undefined;
    if (ref.element && !element) return undefined;
    const type = typeFromName(ref.name, element);
    if (!type) {
      this.report(
        "unknown_type",
        ref.name === "list" ? "`list` needs an element type" : `unknown type \`${ref.name}\``,
        ref.span,
        ref.name === "list"
          ? "write `list<string>`"
          : `types are ${listOf(["string", "number", "bool", "timestamp", "duration", "list<T>"])}`,
      );
    }
    return type;
  }

  private declareList(decl: A.ListDecl | A.HashlistDecl): void {
    const name = decl.name.name;
    const first = this.listSpans.get(name);
    if (first) {
      this.report(
        "duplicate_list",
        `list \`${name}\` is declared more than once`,
        decl.name.span,
        "list names are global across all files: rename one",
        [{ message: "first declared here", span: first }],
      );
      return;
    }
    if (this.inputFields.has(name) || name === "context" || Object.hasOwn(FUNCTIONS, name)) {
      this.report(
        "name_conflict",
        `list name \`${name}\` is already the name of ${name === "context" ? "the request context" : this.inputFields.has(name) ? "a field" : "a function"}`,
        decl.name.span,
        "choose another name",
      );
      return;
    }
    this.listSpans.set(name, decl.name.span);
    if (decl.kind === "hashlist") {
      this.hashlists.set(name, { name, decl });
      return;
    }
    if (!decl.items) {
      this.lists.set(name, { name, decl, elementType: T.string });
      return;
    }
    const values: (string | number | boolean)[] = [];
    let elementType: Type | undefined;
    for (const item of decl.items.items) {
      if (item.kind === "error") continue;
      if (item.kind !== "literal" || item.type === "duration" || item.type === "timestamp") {
        this.report(
          "type_mismatch",
          "a named list holds strings, numbers or booleans written out",
          item.span,
          'write the value itself, such as `"Google LLC"`',
        );
        continue;
      }
      const t = item.type === "string" ? T.string : item.type === "number" ? T.number : T.bool;
      if (elementType && !sameType(elementType, t)) {
        this.report(
          "type_mismatch",
          `list \`${name}\` mixes ${typeName(elementType)} and ${typeName(t)} items`,
          item.span,
          "keep every item the same type",
        );
        continue;
      }
      elementType = t;
      values.push(item.value);
    }
    this.lists.set(name, { name, decl, elementType: elementType ?? T.string, values });
  }

  // ---------- rules ----------

  private rule(rule: A.RuleDecl): void {
    this.modifiers(rule);
    if (rule.when) this.condition(rule.when, [], "`when`");
    for (const u of rule.unless) this.condition(u, [], "`unless`");
    if (rule.outcome) this.template(rule.outcome.reason, []);
    if (rule.expires) {
      const left = rule.expires.at - this.now;
      if (left <= 0) {
        this.report(
          "rule_expired",
          `rule \`${rule.name.name}\` expired on ${rule.expires.raw} and no longer applies`,
          rule.expires.span,
          "remove the rule, or move its expiry date",
        );
      } else if (left <= this.expiryWarningMs) {
        const days = Math.ceil(left / 86_400_000);
        this.report(
          "rule_expiring_soon",
          `rule \`${rule.name.name}\` expires in ${days} day${days === 1 ? "" : "s"} (${rule.expires.raw})`,
          rule.expires.span,
          "renew it by moving the date, or plan its removal",
        );
      }
    }
  }

  /** `overrides` belongs on allow rules and `forbid-approval` on review rules. */
  private modifiers(rule: A.RuleDecl): void {
    const action = rule.outcome?.action;
    const name = rule.name.name;
    if (rule.overrides && action !== undefined && action !== "allow") {
      this.report(
        "misplaced_modifier",
        `\`overrides\` is for allow rules, but rule \`${name}\` ends in \`${action}\``,
        rule.overrides.span,
        "an allow rule with `overrides review` wins over matched review rules; remove it here",
      );
    } else if (rule.overrides && this.strategy === "first-match") {
      this.report(
        "overrides_under_first_match",
        `\`overrides\` has no effect under \`first-match\`: priority decides which rule wins`,
        rule.overrides.span,
        "give the rule a higher `priority`, or use `strategy deny-overrides`",
      );
    }
    if (rule.forbidApproval && action !== undefined && action !== "review") {
      this.report(
        "misplaced_modifier",
        `\`forbid-approval\` is for review rules, but rule \`${name}\` ends in \`${action}\``,
        rule.forbidApproval,
        "a review rule with `forbid-approval` can be reviewed but never approved; remove it here",
      );
    }
  }

  private template(t: A.Template, scope: Scope[]): void {
    for (const part of t.parts) {
      if (typeof part === "string") continue;
      const typed = this.expr(part, scope);
      if (typed.type.kind === "object" || typed.type.kind === "hashlist") {
        this.report(
          "type_mismatch",
          `a reason cannot show a whole ${typeName(typed.type)}`,
          part.span,
          "show one of its fields, such as `{vendor.name}`",
        );
      }
    }
  }

  private condition(e: A.Expr, scope: Scope[], where: string): void {
    const typed = this.expr(e, scope);
    this.expectBool(e, typed.type, where);
  }

  private expectBool(e: A.Expr, type: Type, where: string): void {
    if (type.kind !== "bool" && type.kind !== "error") {
      this.report(
        "condition_not_boolean",
        `${where} needs a condition, but this is a ${typeName(type)}`,
        e.span,
        conditionHelp(type),
      );
    }
  }

  // ---------- expressions ----------

  private set(e: A.Expr, type: Type, optional: boolean): Typed {
    this.types.set(e, type);
    return { type, optional };
  }

  private expr(e: A.Expr, scope: Scope[]): Typed {
    switch (e.kind) {
      case "error":
        return this.set(e, T.error, false);
      case "literal":
        return this.set(
          e,
          e.type === "string"
            ? T.string
            : e.type === "number"
              ? T.number
              : e.type === "bool"
                ? T.bool
                : e.type === "duration"
                  ? T.duration
                  : T.timestamp,
          false,
        );
      case "list":
        return this.listLiteral(e, scope);
      case "path":
        return this.path(e, scope);
      case "unary": {
        const operand = this.expr(e.operand, scope);
        if (e.op === "not") {
          this.expectBool(e.operand, operand.type, "`not`");
          return this.set(e, T.bool, operand.optional);
        }
        if (
          operand.type.kind !== "number" &&
          operand.type.kind !== "duration" &&
          operand.type.kind !== "error"
        ) {
          this.report(
            "type_mismatch",
            `cannot negate a ${typeName(operand.type)}`,
            e.span,
            "only numbers and durations have a sign",
          );
          return this.set(e, T.error, operand.optional);
        }
        return this.set(e, operand.type, operand.optional);
      }
      case "binary": {
        // A chain `a and b and c ...` (or `1 + 2 + 3 ...`) is a tree as deep as the chain is
        // long, leaning left: walk that spine with a loop, so the stack grows with real nesting
        // (parentheses, bounded by maxNestingDepth), never with the length of a chain.
        const spine: A.BinaryExpr[] = [];
        let x: A.Expr = e;
        while (x.kind === "binary") {
          spine.push(x);
          x = x.left;
        }
        let typed = this.expr(x, scope);
        for (let i = spine.length - 1; i >= 0; i--) typed = this.binary(spine[i]!, typed, scope);
        return typed;
      }
      case "match": {
        const operand = this.expr(e.operand, scope);
        this.expectString(e.operand, operand.type, "`matches`");
        this.regex(e);
        return this.set(e, T.bool, operand.optional);
      }
      case "quantifier":
      case "count": {
        const coll = this.expr(e.collection, scope);
        let element: Type = T.error;
        if (coll.type.kind === "list") element = coll.type.element;
        else if (coll.type.kind !== "error") {
          this.report(
            "type_mismatch",
            `\`${e.kind === "count" ? "count" : e.quantifier}\` goes over a list, but this is a ${typeName(coll.type)}`,
            e.collection.span,
            "use a list field such as `engines` or `tags`",
          );
        }
        if (
          scope.some((s) => s.name === e.variable.name) ||
          this.inputFields.has(e.variable.name)
        ) {
          this.report(
            "shadowed_variable",
            `\`${e.variable.name}\` hides ${this.inputFields.has(e.variable.name) ? "a field" : "an outer variable"} of the same name`,
            e.variable.span,
            "choose another name, such as `e` or `item`",
          );
        }
        const inner: Scope[] = [
          ...scope,
          { name: e.variable.name, type: element, span: e.variable.span, depth: scope.length },
        ];
        const body = this.expr(e.body, inner);
        this.expectBool(e.body, body.type, e.kind === "count" ? "`where`" : `\`${e.quantifier}\``);
        if (e.kind === "quantifier") {
          this.unguardedElementField(e, scope.length);
          this.quantifierBodyExtends(e, scope.length);
        }
        return this.set(e, e.kind === "count" ? T.number : T.bool, coll.optional);
      }
      case "call":
        return this.call(e, scope);
    }
  }

  /**
   * Warns when the body of `any`/`all` is an unparenthesised `and`/`or` chain that starts with a
   * test of the item and goes on with an operand that does not read it: `any e in engines:
   * e.category == "malicious" or trustScore < 10` reads the whole `or` as the body (the body runs
   * as far right as possible), so the second operand is never seen for an empty list. What was
   * meant is nearly always `(any e in engines: ...) or ...`; a body meant whole is written in
   * parentheses, which ends the warning.
   */
  private quantifierBodyExtends(q: A.QuantifierExpr, depth: number): void {
    const body = q.body;
    if (body.kind !== "binary" || (body.op !== "and" && body.op !== "or")) return;
    // a parenthesised body spans its `(`, which its first operand does not
    if (body.left.span.start > body.span.start) return;
    const operands: A.Expr[] = [];
    let x: A.Expr = body;
    while (x.kind === "binary" && x.op === body.op && x.left.span.start === body.span.start) {
      operands.push(x.right);
      x = x.left;
    }
    operands.push(x);
    operands.reverse();
    const readsItem = (e: A.Expr) =>
      someExpr([e], (n) => {
        if (n.kind !== "path") return false;
        const res = this.resolutions.get(n);
        return res?.kind === "variable" && res.depth === depth;
      });
    if (!readsItem(operands[0]!)) return;
    const stray = operands.find((operand, i) => i > 0 && !readsItem(operand));
    if (stray === undefined) return;
    const name = q.variable.name;
    this.report(
      "quantifier_body_extends",
      `the body of \`${q.quantifier}\` runs to the end of this \`${body.op}\`: this operand does not read \`${name}\`, yet it is tested for each item of ${printable(q.collection)}, and never for an empty list`,
      stray.span,
      `end the quantifier with parentheses: \`(${q.quantifier} ${name} in ...: ...) ${body.op} ...\`; or, if the whole is meant, put the body in parentheses: \`${q.quantifier} ${name} in ...: (... ${body.op} ...)\``,
    );
  }

  /**
   * Warns when the body of `any`/`all` reads a field of its item that may be missing, without
   * testing it first. For such an item the body is unknown, and so is the quantifier when no item
   * decides it: `any e in engines: e.result matches /ransom/` is unknown, not false, for a file
   * whose clean engines have no `result`. Three-valued logic stays (an `unless any ...` of an
   * allow rule must not let a file through on missing data), but the author is told, and shown the
   * guard that gives the answer they meant. `count` needs none: it counts only true items.
   */
  private unguardedElementField(q: A.QuantifierExpr, depth: number): void {
    const stack: { e: A.Expr; guarded: ReadonlySet<string> }[] = [
      { e: q.body, guarded: new Set() },
    ];
    while (stack.length > 0) {
      const { e, guarded } = stack.pop()!;
      switch (e.kind) {
        case "path": {
          const res = this.resolutions.get(e);
          if (res?.kind !== "variable" || res.depth !== depth || !res.optional) break;
          const text = e.segments.map((s) => s.name).join(".");
          if (guarded.has(text)) break;
          const list = printable(q.collection);
          this.report(
            "unguarded_element_field",
            `\`${text}\` may be missing from items of ${list}: for those the body is unknown, so \`${q.quantifier}\` is unknown, not ${q.quantifier === "any" ? "false" : "true"}, when no item decides it`,
            e.span,
            `test it first: \`exists(${text}) and ...\`${q.quantifier === "any" ? `, or count the items that match: \`count(${q.variable.name} in ${list.replaceAll("`", "")} where ...) > 0\`` : ""}`,
          );
          return; // one warning a quantifier
        }
        case "binary": {
          if (e.op === "and") {
            // `exists(p) and ... p ...`: the operands after the test read p safely
            const operands: A.Expr[] = [];
            let x: A.Expr = e;
            while (x.kind === "binary" && x.op === "and") {
              operands.push(x.right);
              x = x.left;
            }
            operands.push(x);
            operands.reverse();
            const seen = new Set(guarded);
            const pending: { e: A.Expr; guarded: ReadonlySet<string> }[] = [];
            for (const operand of operands) {
              pending.push({ e: operand, guarded: new Set(seen) });
              const tested = existsPath(operand);
              if (tested !== undefined) seen.add(tested);
            }
            for (let i = pending.length - 1; i >= 0; i--) stack.push(pending[i]!);
          } else {
            stack.push({ e: e.right, guarded }, { e: e.left, guarded });
          }
          break;
        }
        case "unary":
          stack.push({ e: e.operand, guarded });
          break;
        case "match":
          stack.push({ e: e.operand, guarded });
          break;
        case "list":
          for (let i = e.items.length - 1; i >= 0; i--) stack.push({ e: e.items[i]!, guarded });
          break;
        case "call":
          // `exists(p)` is never unknown
          if (e.callee.name !== "exists")
            for (let i = e.args.length - 1; i >= 0; i--) stack.push({ e: e.args[i]!, guarded });
          break;
        case "quantifier":
          stack.push({ e: e.body, guarded }, { e: e.collection, guarded });
          break;
        case "count":
          // an unknown item is not counted: the count itself is never unknown because of it
          stack.push({ e: e.collection, guarded });
          break;
        default:
          break;
      }
    }
  }

  private listLiteral(e: A.ListExpr, scope: Scope[]): Typed {
    let element: Type | undefined;
    let optional = false;
    for (const item of e.items) {
      const t = this.expr(item, scope);
      optional ||= t.optional;
      if (t.type.kind === "error") continue;
      if (element === undefined || element.kind === "error") element = t.type;
      else if (!sameType(element, t.type)) {
        this.report(
          "type_mismatch",
          `list items must have one type: ${typeName(element)} and ${typeName(t.type)} are mixed`,
          item.span,
          "keep every item the same type",
        );
      }
    }
    return this.set(e, T.list(element ?? T.error), optional);
  }

  private path(e: A.PathExpr, scope: Scope[]): Typed {
    const [head, ...rest] = e.segments;
    if (!head) return this.set(e, T.error, false);
    // Innermost variable first, then the context, then named lists, then the input's fields.
    for (let i = scope.length - 1; i >= 0; i--) {
      const s = scope[i]!;
      if (s.name !== head.name) continue;
      const walked = this.walk(s.type, rest, head.name, false);
      if (!walked) return this.set(e, T.error, false);
      this.resolutions.set(e, {
        kind: "variable",
        name: s.name,
        depth: s.depth,
        path: rest.map((r) => r.name),
        type: walked.type,
        optional: walked.optional,
      });
      return this.set(e, walked.type, walked.optional);
    }
    if (head.name === "exception" || head.name === "case") {
      const root: BuiltinName = head.name;
      const fields = BUILTINS.get(root)!;
      if (rest.length === 0) {
        this.report(
          "type_mismatch",
          `\`${root}\` is an object; use one of its fields`,
          e.span,
          `fields: ${listOf([...fields.keys()])}`,
        );
        return this.set(e, T.error, false);
      }
      const walked = this.walk({ kind: "object", fields }, rest, root, true);
      if (!walked) return this.set(e, T.error, false);
      this.resolutions.set(e, {
        kind: "builtin",
        root,
        path: rest.map((r) => r.name),
        type: walked.type,
        optional: true,
      });
      return this.set(e, walked.type, true);
    }
    if (head.name === "context") {
      if (!this.contextDeclared) {
        this.report(
          "unknown_field",
          "no request context is declared",
          e.span,
          "declare the fields callers send: `context { group: string }`",
        );
        return this.set(e, T.error, false);
      }
      if (rest.length === 0) {
        this.report(
          "type_mismatch",
          "`context` is an object; use one of its fields",
          e.span,
          `fields: ${listOf([...this.context.keys()])}`,
        );
        return this.set(e, T.error, false);
      }
      const walked = this.walk({ kind: "object", fields: this.context }, rest, "context", false);
      if (!walked) return this.set(e, T.error, false);
      this.resolutions.set(e, {
        kind: "context",
        path: rest.map((r) => r.name),
        type: walked.type,
        optional: true,
      });
      return this.set(e, walked.type, true);
    }
    if (rest.length === 0) {
      const list = this.lists.get(head.name);
      if (list) {
        this.usedLists.add(head.name);
        const type = T.list(list.elementType);
        this.resolutions.set(e, { kind: "list", name: head.name, type });
        return this.set(e, type, false);
      }
      if (this.hashlists.has(head.name)) {
        this.usedLists.add(head.name);
        this.resolutions.set(e, { kind: "hashlist", name: head.name });
        return this.set(e, T.hashlist, false);
      }
    }
    const root: Type = { kind: "object", fields: this.inputFields };
    if (!this.inputFields.has(head.name)) {
      const candidates = [
        ...this.inputFields.keys(),
        ...scope.map((s) => s.name),
        ...this.listSpans.keys(),
        "context",
        ...BUILTINS.keys(),
      ];
      this.report(
        "unknown_field",
        `unknown field \`${head.name}\``,
        head.span,
        didYouMean(head.name, candidates) ?? `fields: ${listOf([...this.inputFields.keys()])}`,
      );
      return this.set(e, T.error, false);
    }
    const walked = this.walk(root, e.segments, "", false);
    if (!walked) return this.set(e, T.error, false);
    this.resolutions.set(e, {
      kind: "field",
      path: e.segments.map((s) => s.name),
      type: walked.type,
      optional: walked.optional,
    });
    return this.set(e, walked.type, walked.optional);
  }

  /** Follows `.name` segments through object types, reporting the first unknown one. */
  private walk(
    start: Type,
    segments: readonly A.Name[],
    prefix: string,
    optional: boolean,
  ): Typed | undefined {
    let type = start;
    let path = prefix;
    for (const seg of segments) {
      if (type.kind === "error") return { type, optional };
      if (type.kind !== "object") {
        this.report(
          "type_mismatch",
          `\`${path}\` is a ${typeName(type)} and has no field \`${seg.name}\``,
          seg.span,
          type.kind === "list"
            ? "go over the list with `any x in list: x.field == ...`"
            : undefined,
        );
        return undefined;
      }
      const field = type.fields.get(seg.name);
      if (!field) {
        const known = [...type.fields.keys()];
        this.report(
          "unknown_field",
          `unknown field \`${seg.name}\`${path ? ` in \`${path}\`` : ""}`,
          seg.span,
          didYouMean(seg.name, known) ?? (known.length ? `fields: ${listOf(known)}` : undefined),
        );
        return undefined;
      }
      optional ||= field.optional;
      type = field.type;
      path = path ? `${path}.${seg.name}` : seg.name;
    }
    return { type, optional };
  }

  /** Types `e` given its left operand's type, already computed. */
  private binary(e: A.BinaryExpr, l: Typed, scope: Scope[]): Typed {
    // A bare name after `in` that names nothing is a list the author meant to declare.
    const r =
      (e.op === "in" || e.op === "not in") && this.namesNothing(e.right, scope)
        ? this.unknownList(e.right as A.PathExpr)
        : this.expr(e.right, scope);
    const optional = l.optional || r.optional;
    const lt = l.type;
    const rt = r.type;
    const anyError = lt.kind === "error" || rt.kind === "error";
    this.noWholeObject(e.left, lt);
    this.noWholeObject(e.right, rt);
    if (e.op !== "in" && e.op !== "not in") {
      this.noHashlist(e.left, lt);
      this.noHashlist(e.right, rt);
    }
    switch (e.op) {
      case "and":
      case "or":
        this.expectBool(e.left, lt, `\`${e.op}\``);
        this.expectBool(e.right, rt, `\`${e.op}\``);
        return this.set(e, T.bool, optional);
      case "==":
      case "!=":
        if (!anyError && (lt.kind === "list" || rt.kind === "list")) {
          this.report(
            "type_mismatch",
            `lists cannot be compared with \`${e.op}\``,
            e.opSpan,
            "test an item with `contains` or `any x in list: ...`, or the size with `len(list)`",
          );
        } else if (!anyError && !sameType(lt, rt)) this.mismatch(e, lt, rt);
        else {
          this.enumCheck(lt, e.right, e.left);
          this.enumCheck(rt, e.left, e.right);
        }
        return this.set(e, T.bool, optional);
      case "<":
      case "<=":
      case ">":
      case ">=":
        if (!anyError && !sameType(lt, rt)) this.mismatch(e, lt, rt);
        else if (
          !anyError &&
          lt.kind !== "number" &&
          lt.kind !== "duration" &&
          lt.kind !== "timestamp"
        ) {
          this.report(
            "unordered_comparison",
            `\`${e.op}\` compares numbers, durations or timestamps, not ${typeName(lt)}s`,
            e.opSpan,
            lt.kind === "string"
              ? "compare strings with `==`, `startsWith` or `matches`"
              : undefined,
          );
        }
        return this.set(e, T.bool, optional);
      case "in":
      case "not in": {
        if (rt.kind === "hashlist") {
          if (lt.kind !== "string" && lt.kind !== "error")
            this.report(
              "type_mismatch",
              `a hash list holds SHA-256 strings, but this is a ${typeName(lt)}`,
              e.left.span,
              "test a hash: `sha256 in known_bad`",
            );
        } else if (rt.kind === "list") {
          if (!anyError && rt.element.kind !== "error" && !sameType(lt, rt.element)) {
            this.report(
              "type_mismatch",
              `\`${e.op}\` looks for a ${typeName(lt)} in a list of ${typeName(rt.element)}`,
              e.opSpan,
              lt.kind === "list"
                ? "to test a list field, use `any x in field: x in list`"
                : undefined,
            );
          } else this.enumCheck(lt, e.right, e.left);
        } else if (rt.kind !== "error") {
          this.report(
            "type_mismatch",
            `\`${e.op}\` needs a list on its right, but this is a ${typeName(rt)}`,
            e.right.span,
            rt.kind === "string"
              ? "to find text in a string, use `contains`"
              : "write a list `[...]` or the name of a list",
          );
        }
        return this.set(e, T.bool, optional);
      }
      case "contains":
        if (lt.kind === "list") {
          if (lt.element.kind !== "error" && rt.kind !== "error" && !sameType(lt.element, rt)) {
            this.report(
              "type_mismatch",
              `\`contains\` looks for a ${typeName(rt)} in a list of ${typeName(lt.element)}`,
              e.right.span,
            );
          } else this.enumCheck(lt.element, e.right, e.left);
        } else {
          this.expectString(e.left, lt, "`contains`");
          this.expectString(e.right, rt, "`contains`");
        }
        return this.set(e, T.bool, optional);
      case "startsWith":
      case "endsWith":
        this.expectString(e.left, lt, `\`${e.op}\``);
        this.expectString(e.right, rt, `\`${e.op}\``);
        return this.set(e, T.bool, optional);
      default:
        return this.set(e, this.arithmetic(e, lt, rt), optional);
    }
  }

  /** A single name that is no loop variable, list, field or `context`. */
  private namesNothing(e: A.Expr, scope: Scope[]): boolean {
    if (e.kind !== "path" || e.segments.length !== 1) return false;
    const name = e.segments[0]!.name;
    return (
      name !== "context" &&
      name !== "exception" &&
      name !== "case" &&
      !scope.some((s) => s.name === name) &&
      !this.lists.has(name) &&
      !this.hashlists.has(name) &&
      !this.inputFields.has(name)
    );
  }

  private unknownList(e: A.PathExpr): Typed {
    const name = e.segments[0]!;
    const lists = [...this.listSpans.keys()];
    this.report(
      "unknown_list",
      `unknown list \`${name.name}\``,
      name.span,
      didYouMean(name.name, lists) ??
        (lists.length
          ? `lists: ${listOf(lists)}`
          : 'declare it: `list name = ["a", "b"]` or `hashlist name from "file"`'),
    );
    return this.set(e, T.error, false);
  }

  private arithmetic(e: A.BinaryExpr, lt: Type, rt: Type): Type {
    if (lt.kind === "error" || rt.kind === "error") return T.error;
    const k = `${lt.kind} ${e.op} ${rt.kind}`;
    const table: Record<string, Type> = {
      "number + number": T.number,
      "number - number": T.number,
      "number * number": T.number,
      "number / number": T.number,
      "number % number": T.number,
      "duration + duration": T.duration,
      "duration - duration": T.duration,
      "duration * number": T.duration,
      "number * duration": T.duration,
      "duration / number": T.duration,
      "duration / duration": T.number,
      "timestamp + duration": T.timestamp,
      "duration + timestamp": T.timestamp,
      "timestamp - duration": T.timestamp,
      "timestamp - timestamp": T.duration,
    };
    const result = table[k];
    if (result) return result;
    this.report(
      "type_mismatch",
      `cannot compute ${typeName(lt)} \`${e.op}\` ${typeName(rt)}`,
      e.opSpan,
      "arithmetic works on numbers, and on durations and timestamps (`now() - 7d`, `age(firstSeen) / 1h`)",
    );
    return T.error;
  }

  private call(e: A.CallExpr, scope: Scope[]): Typed {
    const name = e.callee.name;
    if (!Object.hasOwn(FUNCTIONS, name)) {
      for (const a of e.args) this.expr(a, scope);
      this.report(
        "unknown_function",
        `unknown function \`${name}\``,
        e.callee.span,
        didYouMean(name, Object.keys(FUNCTIONS)) ?? `functions: ${listOf(Object.keys(FUNCTIONS))}`,
      );
      return this.set(e, T.error, false);
    }
    const arity = name === "now" ? 0 : 1;
    if (e.args.length !== arity) {
      for (const a of e.args) this.expr(a, scope);
      this.report(
        "wrong_argument_count",
        `\`${name}\` takes ${arity === 0 ? "no arguments" : "one argument"}, got ${e.args.length}`,
        e.span,
        FUNCTIONS[name],
      );
      return this.set(e, T.error, false);
    }
    if (name === "now") return this.set(e, T.timestamp, false);
    const arg = e.args[0]!;
    if (name === "exists") {
      if (arg.kind !== "path") {
        this.expr(arg, scope);
        this.report(
          "exists_needs_path",
          "`exists` takes a field path",
          arg.span,
          "write `exists(signature.signer)`",
        );
        return this.set(e, T.error, false);
      }
      this.expr(arg, scope);
      const res = this.resolutions.get(arg);
      if (res && (res.kind === "list" || res.kind === "hashlist")) {
        this.report(
          "exists_needs_path",
          `\`${arg.segments[0]!.name}\` is a named list, which always exists`,
          arg.span,
          "`exists` tests an optional field of the input or the context",
        );
      }
      return this.set(e, T.bool, false);
    }
    const a = this.expr(arg, scope);
    switch (name) {
      case "age":
        if (a.type.kind !== "timestamp" && a.type.kind !== "error")
          this.report(
            "type_mismatch",
            `\`age\` takes a timestamp, but this is a ${typeName(a.type)}`,
            arg.span,
            "pass a date field such as `firstSeen`",
          );
        return this.set(e, T.duration, a.optional);
      case "lower":
      case "upper":
        this.expectString(arg, a.type, `\`${name}\``);
        return this.set(e, T.string, a.optional);
      default:
        if (a.type.kind !== "string" && a.type.kind !== "list" && a.type.kind !== "error") {
          this.report(
            "type_mismatch",
            `\`len\` takes a string or a list, but this is a ${typeName(a.type)}`,
            arg.span,
          );
        }
        return this.set(e, T.number, a.optional);
    }
  }

  private regex(e: A.MatchExpr): void {
    const { plan, problems } = analyzeRegex(
      e.regex.source,
      e.regex.flags,
      this.limits.maxRegexLength,
    );
    for (const p of problems) {
      // The pattern starts one character after the span's start (the opening `/`).
      const span: Span =
        p.offset === undefined
          ? e.regex.span
          : {
              file: e.regex.span.file,
              start: e.regex.span.start + 1 + p.offset,
              end: e.regex.span.start + 1 + p.offset + Math.max(1, p.length ?? 1),
            };
      this.report(p.code, p.message, span, p.help);
    }
    if (plan && problems.length === 0) this.regexes.set(e, plan);
  }

  // ---------- helpers ----------

  private mismatch(e: A.BinaryExpr, lt: Type, rt: Type): void {
    this.report(
      "type_mismatch",
      `cannot compare ${typeName(lt)} with ${typeName(rt)}`,
      e.span,
      comparisonHelp(lt, rt),
    );
  }

  private expectString(e: A.Expr, type: Type, where: string): void {
    if (
      type.kind !== "string" &&
      type.kind !== "error" &&
      type.kind !== "object" &&
      type.kind !== "hashlist"
    ) {
      this.report(
        "type_mismatch",
        `${where} works on strings, but this is a ${typeName(type)}`,
        e.span,
        type.kind === "list" ? "go over the list with `any x in list: ...`" : undefined,
      );
    }
  }

  private noWholeObject(e: A.Expr, type: Type): void {
    if (type.kind !== "object") return;
    const fields = [...type.fields.keys()];
    this.report(
      "type_mismatch",
      `\`${e.span && e.kind === "path" ? e.segments.map((s) => s.name).join(".") : "this"}\` is an object; use one of its fields`,
      e.span,
      `fields: ${listOf(fields)}`,
    );
  }

  private noHashlist(e: A.Expr, type: Type): void {
    if (type.kind === "hashlist") {
      this.report(
        "hashlist_misuse",
        "a hash list can only be tested with `in` or `not in`",
        e.span,
        "write `sha256 in list_name`",
      );
    }
  }

  /** A string literal compared with an enum-typed field must be one of its values. */
  private enumCheck(fieldType: Type, other: A.Expr, field: A.Expr): void {
    if (fieldType.kind !== "string" || !fieldType.enum) return;
    const allowed = fieldType.enum;
    const literals =
      other.kind === "literal"
        ? [other]
        : other.kind === "list"
          ? other.items.filter((i): i is A.Literal => i.kind === "literal")
          : [];
    for (const lit of literals) {
      if (lit.type !== "string" || allowed.includes(lit.value as string)) continue;
      const hint = didYouMean(lit.value as string, allowed);
      this.report(
        "unknown_enum_value",
        `\`${lit.value as string}\` is not a possible value${field.kind === "path" ? ` of \`${field.segments.map((x) => x.name).join(".")}\`` : " here"}`,
        lit.span,
        `${hint ? `${hint} ` : ""}allowed: ${listOf([...allowed], 12)}`,
      );
    }
  }
}

function conditionHelp(type: Type): string | undefined {
  if (type.kind === "number") return "compare it: `trustScore >= 70`";
  if (type.kind === "string") return 'compare it: `verdict == "clean"`';
  if (type.kind === "list") return "test it: `any x in list: ...` or `list contains value`";
  return undefined;
}

function comparisonHelp(lt: Type, rt: Type): string | undefined {
  const kinds = new Set([lt.kind, rt.kind]);
  if (kinds.has("string") && kinds.has("number"))
    return "numbers are written without quotes: `trustScore >= 70`";
  if (kinds.has("duration") && kinds.has("number"))
    return "write a duration with a unit: `24h`, `7d`";
  if (kinds.has("timestamp") && kinds.has("duration"))
    return "compare an age with a duration: `age(firstSeen) < 24h`";
  if (kinds.has("timestamp") && kinds.has("string"))
    return "write dates without quotes: `firstSeen < 2026-01-01`";
  return undefined;
}

/** The path `p` of `exists(p)`, as text. */
function existsPath(e: A.Expr): string | undefined {
  if (e.kind !== "call" || e.callee.name !== "exists") return undefined;
  const arg = e.args[0];
  return arg?.kind === "path" ? arg.segments.map((s) => s.name).join(".") : undefined;
}

/** A short name for a quantifier's list in a message: its path, or "the list". */
function printable(e: A.Expr): string {
  return e.kind === "path" ? `\`${e.segments.map((s) => s.name).join(".")}\`` : "the list";
}
