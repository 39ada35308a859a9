/**
 * `clearance fmt`: the canonical layout of a rule file, printed from the AST.
 *
 * A file with syntax errors is never formatted: `format` returns no text and the parse diagnostics.
 * The output parses back to the same AST (spans aside): literals, templates and regexes print
 * their source text, and parentheses are kept exactly where the tree needs them, so even
 * `a and (b and c)` keeps its parentheses.
 *
 * Layout:
 * - one declaration a line, in their original order; blank lines between declarations are kept,
 *   at most one; exactly one blank line before and after each `rule` block; one final newline;
 * - a rule reads `rule name priority N monitor expires DATE overrides ACTION forbid-approval {`,
 *   then `when`, each `unless` and the outcome, indented 2 spaces, then `}`;
 * - a `when`/`unless` line longer than the line width whose expression is an `and`/`or` chain
 *   breaks before each top-level `and`/`or`, continuation lines indented 4 spaces;
 * - `list x = [...]` and `context {...}` that do not fit, or hold comments, take one entry a
 *   line with a trailing comma.
 *
 * Comments (each one is kept, its text as written, trailing whitespace trimmed):
 * - a comment on its own line stays before the declaration, clause, list entry or context field
 *   that follows it, at that line's indentation; after the last clause of a rule (or the last
 *   entry of a broken list) it stays before the closing bracket; after the last declaration it
 *   stays at the end of the file;
 * - a comment at the end of a line stays at the end of the last line of the declaration, clause
 *   or entry that precedes it, one space after the code;
 * - a comment between the top-level operands of a `when`/`unless` chain (`a and b and c`) keeps
 *   its place: the chain is broken one operand a line, and the comment stays before (own line)
 *   or after (end of line) the operand it stood by;
 * - a comment inside any other construct printed on one line (an operand, a list, a call) moves
 *   to its own line just before that construct: expressions are laid out from the tree, so they
 *   have no place to keep it.
 */
import type * as A from "./ast.js";
import { type Diagnostic, diagnostic } from "./diagnostics.js";
import { lex } from "./lexer.js";
import { parseFile } from "./parse.js";
import type { SourceFile } from "./source.js";
import * as t from "./tokens.js";

export interface FormatterOptions {
  /** columns a line may take before it is broken (where it can be); default 100 */
  lineWidth?: number;
}

export interface FormatResult {
  /** the formatted file; undefined when the file has errors */
  text: string | undefined;
  diagnostics: Diagnostic[];
}

export const DEFAULT_LINE_WIDTH = 100;

const INDENT = "  ";
const CONTINUATION = "    ";

export function format(file: SourceFile, options: FormatterOptions = {}): FormatResult {
  const { ast, diagnostics } = parseFile(file);
  if (diagnostics.some((d) => d.severity === "error")) return { text: undefined, diagnostics };
  try {
    const lineWidth = options.lineWidth ?? DEFAULT_LINE_WIDTH;
    return { text: new Formatter(file.text, ast, lineWidth).run(), diagnostics };
  } catch (error) {
    // An AST the printer cannot handle is a bug in Clearance; report it rather than print a guess.
    return {
      text: undefined,
      diagnostics: [
        ...diagnostics,
        diagnostic(
          "syntax_error",
          `the formatter failed: ${(error as Error).message}`,
          { file: file.path, start: 0, end: 0 },
          { help: "this is a bug in Clearance; please report it with the file" },
        ),
      ],
    };
  }
}

// ---------- expressions ----------

/** One expression in canonical form, on one line, e.g. for messages and tools. */
export function formatExpression(e: A.Expr): string {
  return printExpr(e);
}

/** Binding strength, loosest first: the levels of the grammar in parser.ts. */
const Prec = {
  Or: 1,
  And: 2,
  Not: 3,
  Comparison: 4,
  Additive: 5,
  Multiplicative: 6,
  Unary: 7,
  Primary: 8,
} as const;
type Prec = number;

function binaryPrec(op: A.BinaryOp): Prec {
  switch (op) {
    case "or":
      return Prec.Or;
    case "and":
      return Prec.And;
    case "+":
    case "-":
      return Prec.Additive;
    case "*":
    case "/":
    case "%":
      return Prec.Multiplicative;
    default:
      return Prec.Comparison;
  }
}

function precOf(e: A.Expr): Prec {
  switch (e.kind) {
    case "binary":
      return binaryPrec(e.op);
    case "unary":
      return e.op === "not" ? Prec.Not : Prec.Unary;
    case "quantifier":
      return Prec.Not;
    case "match":
      return Prec.Comparison;
    case "literal":
      // `-5` is a literal, folded from `-` `5`: it reads as a unary minus.
      return e.raw.startsWith("-") ? Prec.Unary : Prec.Primary;
    default:
      return Prec.Primary;
  }
}

/**
 * Prints `e` where the grammar wants at least `min`. `rightmost` says nothing follows it before a
 * closing bracket, a comma or the end of the clause: a quantifier's body extends as far right as
 * it can, so a quantifier anywhere else needs parentheses.
 */
function printExpr(e: A.Expr, min: Prec = Prec.Or, rightmost = true): string {
  if (precOf(e) < min || (e.kind === "quantifier" && !rightmost)) return `(${bare(e, true)})`;
  return bare(e, rightmost);
}

function bare(e: A.Expr, rightmost: boolean): string {
  switch (e.kind) {
    case "literal":
      return e.raw;
    case "path":
      return e.segments.map((s) => s.name).join(".");
    case "list":
      return `[${e.items.map((item) => printExpr(item)).join(", ")}]`;
    case "call":
      return `${e.callee.name}(${e.args.map((arg) => printExpr(arg)).join(", ")})`;
    case "count":
      return `count(${e.variable.name} in ${printExpr(e.collection, Prec.Additive, false)} where ${printExpr(e.body)})`;
    case "unary":
      if (e.op === "neg") return `-${printExpr(e.operand, Prec.Unary, false)}`;
      // `not any x in L: c` parses, but `not (any x in L: c)` reads unambiguously.
      if (e.operand.kind === "quantifier") return `not (${bare(e.operand, true)})`;
      return `not ${printExpr(e.operand, Prec.Not, rightmost)}`;
    case "match":
      return `${printExpr(e.operand, Prec.Additive, false)} matches /${e.regex.source}/${e.regex.flags}`;
    case "quantifier":
      return `${e.quantifier} ${e.variable.name} in ${printExpr(e.collection, Prec.Additive, false)}: ${printExpr(e.body, Prec.Or, rightmost)}`;
    case "binary": {
      if (binaryPrec(e.op) === Prec.Comparison) {
        // comparisons do not chain: both operands are additive
        const left = printExpr(e.left, Prec.Additive, false);
        return `${left} ${e.op} ${printExpr(e.right, Prec.Additive, rightmost)}`;
      }
      const [first, ...rest] = chainOperands(e, rightmost);
      return first!.text + rest.map((o) => ` ${o.op} ${o.text}`).join("");
    }
    case "error":
      throw new Error("an error node in a file without errors");
  }
}

/**
 * `a and b and c` -> "a", "and b", "and c": the operands of a left-leaning chain of operators of
 * one precedence (`a - b + c` too). A loop, not recursion, so that long chains cannot overflow.
 */
function chainOperands(
  e: A.BinaryExpr,
  rightmost: boolean,
): { op: string; text: string; node: A.Expr }[] {
  const p = binaryPrec(e.op);
  const rights: A.BinaryExpr[] = [];
  let left: A.Expr = e;
  while (left.kind === "binary" && binaryPrec(left.op) === p) {
    rights.push(left);
    left = left.left;
  }
  rights.reverse();
  return [
    { op: "", text: printExpr(left, p, false), node: left },
    ...rights.map((b, i) => ({
      op: b.op,
      text: printExpr(b.right, p + 1, i === rights.length - 1 ? rightmost : false),
      node: b.right,
    })),
  ];
}

function printType(type: A.TypeRef): string {
  return type.element ? `${type.name}<${printType(type.element)}>` : type.name;
}

// ---------- layout ----------

/** A piece of output with the source range it came from; comments attach to units. */
interface Unit {
  start: number;
  end: number;
  /** printed lines, indentation included */
  lines: string[];
  /** indentation of the comments printed before it */
  indent: string;
  leading: A.Comment[];
  trailing?: A.Comment;
}

interface Block {
  item: A.Item;
  /** in output order; the first is the item's first line */
  units: Unit[];
}

interface Token {
  start: number;
  end: number;
  type: unknown;
}

class Formatter {
  private readonly tokens: Token[];

  constructor(
    private readonly text: string,
    private readonly ast: A.RuleFile,
    private readonly width: number,
  ) {
    this.tokens = lex({ path: ast.path, text }).tokens.map((tk) => ({
      start: tk.startOffset,
      end: tk.startOffset + tk.image.length,
      type: tk.tokenType,
    }));
  }

  run(): string {
    const blocks = this.ast.items.map((item) => this.block(item));
    const end = this.text.length;
    const eof: Unit = { start: end, end, lines: [], indent: "", leading: [] };
    const units = [...blocks.flatMap((b) => b.units), eof].sort((a, b) => a.start - b.start);
    for (const c of this.ast.comments) this.attach(c, units);
    return this.render(blocks, eof);
  }

  // ----- tokens -----

  /** Index of the first token that starts at or after `offset`. */
  private tokenAt(offset: number): number {
    let lo = 0;
    let hi = this.tokens.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.tokens[mid]!.start < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The tokens of a span. */
  private range(span: { start: number; end: number }): [first: number, last: number] {
    return [this.tokenAt(span.start), this.tokenAt(span.end) - 1];
  }

  private source(i: number): string {
    const tk = this.tokens[i]!;
    return this.text.slice(tk.start, tk.end);
  }

  private unit(start: number, end: number, lines: string[], indent = ""): Unit {
    return { start, end, lines, indent, leading: [] };
  }

  // ----- items -----

  private block(item: A.Item): Block {
    const [first, last] = this.range(item.span);
    const line = (text: string): Block => ({
      item,
      units: [this.unit(item.span.start, item.span.end, [text])],
    });
    switch (item.kind) {
      case "ruleset":
        return line(`ruleset ${this.source(last)}`);
      case "strategy":
        return line(`strategy ${item.strategy}`);
      case "default":
        return line(`default ${item.action} ${item.reason.raw}`);
      case "on-error":
        return line(`on-error ${item.onError}`);
      case "inputs":
        return line(`inputs ${item.inputs.map((i) => i.name).join(", ")}`);
      case "hashlist":
        return line(`hashlist ${item.name.name} from ${this.source(last)}`);
      case "list": {
        const head = `list ${item.name.name}`;
        if (!item.items) return line(`${head} from ${this.source(last)}`);
        const entries = this.listEntries(first + 3, last, item.items.items);
        return this.sequence(item, `${head} = [`, "]", entries, first + 3, last, false);
      }
      case "context": {
        const entries = item.fields.map((f) => {
          const [, fieldLast] = this.range(f.span);
          const comma = this.tokens[fieldLast + 1]?.type === t.Comma;
          return {
            start: f.span.start,
            end: comma ? this.tokens[fieldLast + 1]!.end : f.span.end,
            text: `${f.name.name}: ${printType(f.type)}`,
          };
        });
        return this.sequence(item, "context {", "}", entries, first + 1, last, true);
      }
      case "rule":
        return this.rule(item, first, last);
    }
  }

  /** The entries of a list literal between the brackets at `open` and `close`, split at top-level commas. */
  private listEntries(
    open: number,
    close: number,
    items: A.Expr[],
  ): { start: number; end: number; text: string }[] {
    const entries: { start: number; end: number; text: string }[] = [];
    let depth = 0;
    let from = open + 1;
    for (let i = open + 1; i < close; i++) {
      const type = this.tokens[i]!.type;
      if (type === t.LParen || type === t.LBracket) depth++;
      else if (type === t.RParen || type === t.RBracket) depth--;
      const isLast = i === close - 1;
      if ((depth === 0 && type === t.Comma) || isLast) {
        const expr = items[entries.length];
        if (!expr) throw new Error("a list entry without an expression");
        entries.push({
          start: this.tokens[from]!.start,
          end: this.tokens[i]!.end,
          text: printExpr(expr),
        });
        from = i + 1;
      }
    }
    if (entries.length !== items.length) throw new Error("list entries do not match the AST");
    return entries;
  }

  /** `list x = [...]` and `context {...}`: one line if it fits and holds no comment, else one entry a line. */
  private sequence(
    item: A.Item,
    head: string,
    closer: string,
    entries: { start: number; end: number; text: string }[],
    open: number,
    close: number,
    spaced: boolean,
  ): Block {
    const inner = entries.map((e) => e.text).join(", ");
    const flat =
      entries.length === 0
        ? `${head}${closer}`
        : spaced
          ? `${head} ${inner} ${closer}`
          : `${head}${inner}${closer}`;
    const openTk = this.tokens[open]!;
    const closeTk = this.tokens[close]!;
    const commented = this.hasCommentBetween(openTk.start, closeTk.start);
    if (flat.length <= this.width && !commented) {
      return { item, units: [this.unit(item.span.start, item.span.end, [flat])] };
    }
    return {
      item,
      units: [
        this.unit(item.span.start, openTk.end, [head]),
        ...entries.map((e) => this.unit(e.start, e.end, [`${INDENT}${e.text},`], INDENT)),
        this.unit(closeTk.start, closeTk.end, [closer], INDENT),
      ],
    };
  }

  private rule(rule: A.RuleDecl, first: number, last: number): Block {
    let brace = first;
    while (this.tokens[brace]!.type !== t.LBrace) brace++;
    let head = `rule ${rule.name.name}`;
    if (rule.priority) {
      const p = rule.priority.value;
      head += ` priority ${Object.is(p, -0) ? "-0" : String(p)}`;
    }
    if (rule.monitor) head += " monitor";
    if (rule.expires) head += ` expires ${rule.expires.raw}`;
    if (rule.overrides) head += ` overrides ${rule.overrides.action}`;
    if (rule.forbidApproval) head += " forbid-approval";
    const header = this.unit(rule.span.start, this.tokens[brace]!.end, [`${head} {`]);

    // Clauses in source order: each starts at `when`, `unless` or an outcome keyword (keywords
    // inside an expression only ever follow a `.`).
    const starts: number[] = [];
    for (let i = brace + 1; i < last; i++) {
      const type = this.tokens[i]!.type;
      const clauseKeyword =
        type === t.When ||
        type === t.Unless ||
        type === t.Allow ||
        type === t.Deny ||
        type === t.Review;
      if (clauseKeyword && this.tokens[i - 1]!.type !== t.Dot) starts.push(i);
    }
    let when: Unit[] | undefined;
    const unless: Unit[][] = [];
    let outcome: Unit | undefined;
    starts.forEach((s, k) => {
      const end = this.tokens[(starts[k + 1] ?? last) - 1]!.end;
      const start = this.tokens[s]!.start;
      const type = this.tokens[s]!.type;
      if (type === t.When) {
        if (!rule.when) throw new Error("a `when` clause missing from the AST");
        when = this.condition("when", rule.when, start, end);
      } else if (type === t.Unless) {
        const expr = rule.unless[unless.length];
        if (!expr) throw new Error("an `unless` clause missing from the AST");
        unless.push(this.condition("unless", expr, start, end));
      } else {
        if (!rule.outcome) throw new Error("an outcome missing from the AST");
        const o = rule.outcome;
        outcome = this.unit(start, end, [`${INDENT}${o.action} ${o.reason.raw}`], INDENT);
      }
    });
    const closeTk = this.tokens[last]!;
    const close = this.unit(closeTk.start, closeTk.end, ["}"], INDENT);
    const clauses = [...(when ?? []), ...unless.flat(), outcome].filter(
      (u): u is Unit => u !== undefined,
    );
    return { item: rule, units: [header, ...clauses, close] };
  }

  /**
   * `when`/`unless` lines: broken before each top-level `and`/`or` when too long, or when a
   * comment stands between two of those operands. Broken, each operand line is a unit of its
   * own, so a comment between operands stays there (own line: before the operand that follows;
   * end of line: after the one it ends).
   */
  private condition(keyword: string, expr: A.Expr, start: number, end: number): Unit[] {
    const flat = `${INDENT}${keyword} ${printExpr(expr)}`;
    if (expr.kind !== "binary" || (expr.op !== "and" && expr.op !== "or"))
      return [this.unit(start, end, [flat], INDENT)];
    const operands = chainOperands(expr, true);
    // only a comment between operands breaks the chain: one inside an operand moves before the
    // clause, and the clause must then format the same the second time
    const between = operands.some(
      (o, i) => i > 0 && this.hasCommentBetween(operands[i - 1]!.node.span.end, o.node.span.start),
    );
    if (flat.length <= this.width && !between) return [this.unit(start, end, [flat], INDENT)];
    return operands.map((o, i) => {
      const from = i === 0 ? start : o.node.span.start;
      const to = i === operands.length - 1 ? end : o.node.span.end;
      return i === 0
        ? this.unit(from, to, [`${INDENT}${keyword} ${o.text}`], INDENT)
        : this.unit(from, to, [`${CONTINUATION}${o.op} ${o.text}`], CONTINUATION);
    });
  }

  // ----- comments -----

  /** Whether a comment starts strictly between two offsets (comments are in source order). */
  private hasCommentBetween(from: number, to: number): boolean {
    const comments = this.ast.comments;
    let lo = 0;
    let hi = comments.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (comments[mid]!.span.start <= from) lo = mid + 1;
      else hi = mid;
    }
    const next = comments[lo];
    return next !== undefined && next.span.start < to;
  }

  private ownLine(c: A.Comment): boolean {
    const lineStart = this.text.lastIndexOf("\n", c.span.start - 1) + 1;
    return this.text.slice(lineStart, c.span.start).trim() === "";
  }

  /** `units` sorted by start, not overlapping, the end-of-file unit last. */
  private attach(c: A.Comment, units: Unit[]): void {
    const at = c.span.start;
    // the last unit that starts before the comment
    let lo = 0;
    let hi = units.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (units[mid]!.start < at) lo = mid + 1;
      else hi = mid;
    }
    const before = units[lo - 1];
    const after = units[lo]!;
    if (before && at < before.end) {
      before.leading.push(c); // inside: moved before the construct
    } else if (before && !this.ownLine(c) && before.trailing === undefined) {
      before.trailing = c;
    } else {
      after.leading.push(c);
    }
  }

  /** Whether the source has a blank line between two offsets. */
  private blankBetween(from: number, to: number): boolean {
    if (to <= from) return false;
    const lines = this.text.slice(from, to).split("\n");
    return lines.slice(1, -1).some((l) => l.trim() === "");
  }

  private render(blocks: Block[], eof: Unit): string {
    const out: string[] = [];
    const blank = (): void => {
      if (out.length > 0 && out[out.length - 1] !== "") out.push("");
    };
    const emitUnit = (u: Unit): void => {
      u.lines.forEach((l, i) => {
        out.push(i === u.lines.length - 1 && u.trailing ? `${l} ${u.trailing.text}` : l);
      });
    };
    /** Leading comments at the top level, keeping a blank line where the source has one. */
    const topLevel = (comments: A.Comment[], nextStart?: number): void => {
      comments.forEach((c, i) => {
        if (i > 0 && this.blankBetween(comments[i - 1]!.span.end, c.span.start)) blank();
        out.push(c.text);
      });
      const lastComment = comments[comments.length - 1];
      if (
        lastComment &&
        nextStart !== undefined &&
        this.blankBetween(lastComment.span.end, nextStart)
      )
        blank();
    };

    let previous: A.Item | undefined;
    for (const block of blocks) {
      const [first, ...rest] = block.units as [Unit, ...Unit[]];
      if (previous) {
        const firstStart = first.leading[0]?.span.start ?? first.start;
        if (
          previous.kind === "rule" ||
          block.item.kind === "rule" ||
          this.blankBetween(previous.span.end, firstStart)
        )
          blank();
      }
      topLevel(first.leading, first.start);
      emitUnit(first);
      for (const u of rest) {
        for (const c of u.leading) out.push(`${u.indent}${c.text}`);
        emitUnit(u);
      }
      previous = block.item;
    }
    if (eof.leading.length > 0) {
      if (previous) {
        if (
          previous.kind === "rule" ||
          this.blankBetween(previous.span.end, eof.leading[0]!.span.start)
        )
          blank();
      }
      topLevel(eof.leading);
    }
    return out.length === 0 ? "" : `${out.join("\n")}\n`;
  }
}
