import type { Span } from "./diagnostics.js";

/** Every node carries a span (offsets into its file). */
export interface Node {
  span: Span;
}

export interface Name extends Node {
  name: string;
}

export type Action = "allow" | "deny" | "review";
export type Strategy = "deny-overrides" | "first-match";
export type OnError = "review" | "deny" | "ignore";

// ---------- expressions ----------

export type LiteralType = "string" | "number" | "bool" | "duration" | "timestamp";

export interface Literal extends Node {
  kind: "literal";
  type: LiteralType;
  /** strings and bools as is; numbers; durations in milliseconds; timestamps in epoch milliseconds */
  value: string | number | boolean;
  /** the source text, kept so `fmt` prints `24h` back as `24h` */
  raw: string;
}

export interface ListExpr extends Node {
  kind: "list";
  items: Expr[];
}

/** `a`, `a.b.c`: resolved by the checker to a field, a bound variable, a named list or the context. */
export interface PathExpr extends Node {
  kind: "path";
  segments: Name[];
}

export interface UnaryExpr extends Node {
  kind: "unary";
  op: "not" | "neg";
  operand: Expr;
}

export type LogicalOp = "and" | "or";
export type ComparisonOp = "==" | "!=" | "<" | "<=" | ">" | ">=";
export type MembershipOp = "in" | "not in";
export type StringOp = "contains" | "startsWith" | "endsWith";
export type ArithmeticOp = "+" | "-" | "*" | "/" | "%";
export type BinaryOp = LogicalOp | ComparisonOp | MembershipOp | StringOp | ArithmeticOp;

export interface BinaryExpr extends Node {
  kind: "binary";
  op: BinaryOp;
  left: Expr;
  right: Expr;
  opSpan: Span;
}

export interface MatchExpr extends Node {
  kind: "match";
  operand: Expr;
  regex: RegexLiteral;
}

export interface RegexLiteral extends Node {
  source: string;
  flags: string;
}

/** `any x in L: cond`, `all x in L: cond` */
export interface QuantifierExpr extends Node {
  kind: "quantifier";
  quantifier: "any" | "all";
  variable: Name;
  collection: Expr;
  body: Expr;
}

/** `count(x in L where cond)` */
export interface CountExpr extends Node {
  kind: "count";
  variable: Name;
  collection: Expr;
  body: Expr;
}

export interface CallExpr extends Node {
  kind: "call";
  callee: Name;
  args: Expr[];
}

/** Stands where the parser recovered from a syntax error; the checker stays silent about it. */
export interface ErrorExpr extends Node {
  kind: "error";
}

export type Expr =
  | Literal
  | ListExpr
  | PathExpr
  | UnaryExpr
  | BinaryExpr
  | MatchExpr
  | QuantifierExpr
  | CountExpr
  | CallExpr
  | ErrorExpr;

/** A reason: literal text with `{expr}` holes. */
export interface Template extends Node {
  parts: (string | Expr)[];
  /** the string literal as written, quotes included */
  raw: string;
}

// ---------- declarations ----------

export interface RulesetDecl extends Node {
  kind: "ruleset";
  name: string;
}
export interface StrategyDecl extends Node {
  kind: "strategy";
  strategy: Strategy;
}
export interface DefaultDecl extends Node {
  kind: "default";
  action: Action;
  reason: Template;
}
export interface OnErrorDecl extends Node {
  kind: "on-error";
  onError: OnError;
}
export interface ListDecl extends Node {
  kind: "list";
  name: Name;
  /** inline items, or a file of one string a line */
  items?: ListExpr;
  from?: { path: string; span: Span };
}
export interface HashlistDecl extends Node {
  kind: "hashlist";
  name: Name;
  from: { path: string; span: Span };
}
export interface TypeRef extends Node {
  name: string;
  element?: TypeRef;
}
export interface ContextField extends Node {
  name: Name;
  type: TypeRef;
}
export interface ContextDecl extends Node {
  kind: "context";
  fields: ContextField[];
}

/** `inputs canonical, virustotal`: the inputs the rule set will see, for the checker's profile checks. */
export interface InputsDecl extends Node {
  kind: "inputs";
  inputs: Name[];
}

export interface Outcome extends Node {
  action: Action;
  reason: Template;
}

export interface RuleDecl extends Node {
  kind: "rule";
  name: Name;
  priority?: { value: number; span: Span };
  monitor?: Span;
  /** the instant the rule stops applying (a date expires at the end of that day, UTC) */
  expires?: { at: number; raw: string; span: Span };
  /** `overrides review` / `overrides deny`: this allow rule wins over matched rules of that action */
  overrides?: { action: "review" | "deny"; span: Span };
  /** `forbid-approval`: when this review rule matches, no `overrides` rule may win over it */
  forbidApproval?: Span;
  when?: Expr;
  unless: Expr[];
  outcome?: Outcome;
}

export type Item =
  | RulesetDecl
  | StrategyDecl
  | DefaultDecl
  | OnErrorDecl
  | ListDecl
  | HashlistDecl
  | ContextDecl
  | InputsDecl
  | RuleDecl;

export interface Comment {
  text: string;
  span: Span;
}

export interface RuleFile {
  path: string;
  items: Item[];
  comments: Comment[];
}
