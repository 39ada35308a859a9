import type { CstElement, CstNode, IToken } from "chevrotain";
import type * as A from "./ast.js";
import type * as Cst from "./cst-types.js";
import { type Diagnostic, DiagnosticCollector, diagnostic, type Span } from "./diagnostics.js";
import {
  isDateOnly,
  parseDuration,
  parseTimestamp,
  timestampProblem,
  type UnescapeProblem,
  unescapeString,
} from "./literals.js";
import type { LanguageLimits } from "./options.js";
import { parser } from "./parser.js";
import * as t from "./tokens.js";

/** Where a visitor method stands: its CST node (for the span) and the expression nesting depth. */
export interface Visit {
  readonly node: CstNode;
  readonly depth: number;
}

/** A `{hole}` of a reason, met while building and parsed after its declaration (see fillHoles). */
interface PendingHole {
  /** the expression's text and its offset in the file */
  text: string;
  base: number;
  /** the template's parts, and the index of the placeholder the expression replaces */
  parts: (string | A.Expr)[];
  index: number;
  /** how many diagnostics were deferred when the hole was met: the hole's come after them */
  after: number;
}

/** A hole's expression as parsed, with the diagnostics of its parse. */
export interface ParsedHole {
  expr: A.Expr;
  diagnostics: Diagnostic[];
}

/** The nodes a file holds: one type per declaration rule of the grammar. */
type DeclarationNode = NonNullable<Cst.FileCstChildren[keyof Cst.FileCstChildren]>[number];

/** A rule modifier, read but not yet checked: `ruleDecl` reports duplicates before values. */
type Modifier =
  | { key: "priority"; minus: boolean; number: IToken | undefined; span: Span }
  | { key: "monitor"; span: Span }
  | { key: "expires"; timestamp: IToken | undefined; span: Span }
  | { key: "overrides"; action: "review" | "deny" | undefined; span: Span }
  | { key: "forbid-approval"; span: Span };

/** A rule clause, read but not yet built: `ruleDecl` reports a duplicate instead of building it. */
type Clause =
  | { kind: "when"; expression: Cst.ExpressionCstNode | undefined; span: Span }
  | { kind: "unless"; expression: Cst.ExpressionCstNode | undefined; span: Span }
  | { kind: "outcome"; action: A.Action | undefined; reason: IToken | undefined; span: Span };

const BaseVisitor = parser.getBaseCstVisitorConstructor<Visit, unknown>();

/**
 * Turns the concrete syntax tree into the AST: one method per grammar rule, each reading its
 * node's children through the types generated from the grammar (cst-types.ts), so a renamed
 * rule or token breaks the build. Tolerates the holes that error recovery leaves: a missing
 * piece becomes an `error` node, and the parser has already reported it.
 *
 * It never calls the parser: the `{hole}` expressions of reasons are collected with their
 * offsets (`pendingHoles`), and parse.ts parses them after each declaration and hands them back
 * (`fillHoles`).
 */
export class AstBuilder extends BaseVisitor implements Cst.RulesCstVisitor<Visit, unknown> {
  private readonly collected: DiagnosticCollector;
  private readonly holes: PendingHole[] = [];
  /**
   * What is reported after the first hole not yet parsed: it is added to `collected` behind the
   * holes' own diagnostics, in the order a parse of each hole where it was met would have given.
   * That order decides which diagnostics are kept when there are more than `maxDiagnostics`.
   */
  private deferred: DiagnosticCollector | undefined;

  constructor(
    private readonly path: string,
    private readonly limits: LanguageLimits,
    /** offset of the parsed text inside the file, for expressions parsed out of a reason template */
    private readonly base = 0,
  ) {
    super();
    this.collected = new DiagnosticCollector(limits.maxDiagnostics);
  }

  get diagnostics(): readonly Diagnostic[] {
    return this.collected.list;
  }

  /** diagnostics found beyond `maxDiagnostics` of one severity, counted but not kept */
  get omitted(): number {
    return this.collected.omitted;
  }

  private report(d: Diagnostic): void {
    (this.deferred ?? this.collected).add(d);
  }

  /** The reason holes met since the last `fillHoles`, for the caller to parse. */
  get pendingHoles(): readonly { readonly text: string; readonly base: number }[] {
    return this.holes;
  }

  /**
   * Puts the expressions of `pendingHoles`, parsed in the same order, in their places; their
   * diagnostics join the others where the hole was met.
   */
  fillHoles(parsed: readonly ParsedHole[]): void {
    const deferred = this.deferred;
    if (!deferred) return;
    if (parsed.length !== this.holes.length) throw new Error("fillHoles: one result per hole");
    let next = 0;
    this.holes.forEach((hole, i) => {
      const { expr, diagnostics } = parsed[i]!;
      hole.parts[hole.index] = expr;
      while (next < hole.after) this.collected.add(deferred.list[next++]!);
      this.collected.addAll(diagnostics);
    });
    while (next < deferred.list.length) this.collected.add(deferred.list[next++]!);
    // what `deferred` dropped had `maxDiagnostics` of its severity before it: dropped either way
    this.collected.omitted += deferred.omitted;
    this.deferred = undefined;
    this.holes.length = 0;
  }

  // ---------- helpers ----------

  private tokenSpan(token: IToken): Span {
    const start = this.base + token.startOffset;
    return { file: this.path, start, end: start + token.image.length };
  }

  private nodeSpan(node: CstNode): Span {
    const loc = node.location;
    if (
      loc &&
      !Number.isNaN(loc.startOffset) &&
      loc.endOffset !== undefined &&
      !Number.isNaN(loc.endOffset)
    ) {
      return {
        file: this.path,
        start: this.base + loc.startOffset,
        end: this.base + loc.endOffset + 1,
      };
    }
    const first = firstToken(node);
    const last = lastToken(node);
    if (!first || !last) return { file: this.path, start: this.base, end: this.base };
    return {
      file: this.path,
      start: this.base + first.startOffset,
      end: this.base + last.startOffset + last.image.length,
    };
  }

  private join(a: Span, b: Span): Span {
    return { file: this.path, start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
  }

  /** The tokens of a child list that the source holds: not those error recovery inserted. */
  private real(tokens: readonly IToken[] | undefined): IToken[] {
    return (tokens ?? []).filter((tk) => !tk.isInsertedInRecovery && !Number.isNaN(tk.startOffset));
  }

  /** The `index`th token of a child list, unless error recovery inserted it. */
  private tok(tokens: readonly IToken[] | undefined, index = 0): IToken | undefined {
    const e = tokens?.[index];
    return e && !e.isInsertedInRecovery && !Number.isNaN(e.startOffset) ? e : undefined;
  }

  private name(token: IToken): A.Name {
    return { name: token.image, span: this.tokenSpan(token) };
  }

  // ---------- file and declarations ----------

  // file ::= (rulesetDecl | strategyDecl | ... | ruleDecl)*
  /** The declarations of one parsed chunk of the file, in source order. */
  file(ch: Cst.FileCstChildren, _at: Visit): A.Item[] {
    // The CST groups declarations by kind; the AST keeps them in source order.
    const decls: DeclarationNode[] = [];
    for (const list of Object.values(ch)) if (list) for (const d of list) decls.push(d);
    if (decls.length > 1)
      decls.sort((a, b) => (a.location?.startOffset ?? 0) - (b.location?.startOffset ?? 0));
    const items: A.Item[] = [];
    for (const decl of decls) {
      const item = this.declaration(decl);
      if (item) items.push(item);
    }
    return items;
  }

  comments(comments: IToken[]): A.Comment[] {
    return comments.map((c) => ({ text: c.image.replace(/\s+$/, ""), span: this.tokenSpan(c) }));
  }

  private declaration(decl: DeclarationNode): A.Item | undefined {
    const at: Visit = { node: decl, depth: 0 };
    switch (decl.name) {
      case "rulesetDecl":
        return this.rulesetDecl(decl.children, at);
      case "strategyDecl":
        return this.strategyDecl(decl.children, at);
      case "defaultDecl":
        return this.defaultDecl(decl.children, at);
      case "onErrorDecl":
        return this.onErrorDecl(decl.children, at);
      case "listDecl":
        return this.listDecl(decl.children, at);
      case "hashlistDecl":
        return this.hashlistDecl(decl.children, at);
      case "contextDecl":
        return this.contextDecl(decl.children, at);
      case "inputsDecl":
        return this.inputsDecl(decl.children, at);
      case "ruleDecl":
        return this.ruleDecl(decl.children, at);
      default:
        return unknownDeclaration(decl);
    }
  }

  // rulesetDecl ::= 'ruleset' String
  rulesetDecl(ch: Cst.RulesetDeclCstChildren, at: Visit): A.RulesetDecl | undefined {
    const span = this.nodeSpan(at.node);
    const s = this.tok(ch.StringLiteral);
    return s && { kind: "ruleset", name: this.plainString(s), span };
  }

  // strategyDecl ::= 'strategy' ('deny-overrides' | 'first-match')
  strategyDecl(ch: Cst.StrategyDeclCstChildren, at: Visit): A.StrategyDecl | undefined {
    const span = this.nodeSpan(at.node);
    const strategy: A.Strategy | undefined = this.tok(ch.DenyOverrides)
      ? "deny-overrides"
      : this.tok(ch.FirstMatch)
        ? "first-match"
        : undefined;
    return strategy && { kind: "strategy", strategy, span };
  }

  // defaultDecl ::= 'default' ('allow' | 'deny' | 'review') String
  defaultDecl(ch: Cst.DefaultDeclCstChildren, at: Visit): A.DefaultDecl | undefined {
    const span = this.nodeSpan(at.node);
    const action = this.action(ch.Action);
    const s = this.tok(ch.StringLiteral);
    return action && s && { kind: "default", action, reason: this.template(s), span };
  }

  // onErrorDecl ::= 'on-error' ('review' | 'deny' | 'ignore')
  onErrorDecl(ch: Cst.OnErrorDeclCstChildren, at: Visit): A.OnErrorDecl | undefined {
    const span = this.nodeSpan(at.node);
    const onError: A.OnError | undefined = this.tok(ch.Review)
      ? "review"
      : this.tok(ch.Deny)
        ? "deny"
        : this.tok(ch.Ignore)
          ? "ignore"
          : undefined;
    return onError && { kind: "on-error", onError, span };
  }

  // listDecl ::= 'list' Identifier ('=' listLiteral | 'from' String)
  listDecl(ch: Cst.ListDeclCstChildren, at: Visit): A.ListDecl | undefined {
    const span = this.nodeSpan(at.node);
    const id = this.tok(ch.Identifier);
    if (!id) return undefined;
    const listNode = ch.listLiteral?.[0];
    if (listNode) {
      const items = this.listLiteral(listNode.children, { node: listNode, depth: 0 });
      return { kind: "list", name: this.name(id), items, span };
    }
    const from = this.tok(ch.StringLiteral);
    return (
      from && {
        kind: "list",
        name: this.name(id),
        from: { path: this.plainString(from), span: this.tokenSpan(from) },
        span,
      }
    );
  }

  // hashlistDecl ::= 'hashlist' Identifier 'from' String
  hashlistDecl(ch: Cst.HashlistDeclCstChildren, at: Visit): A.HashlistDecl | undefined {
    const span = this.nodeSpan(at.node);
    const id = this.tok(ch.Identifier);
    const from = this.tok(ch.StringLiteral);
    return (
      id &&
      from && {
        kind: "hashlist",
        name: this.name(id),
        from: { path: this.plainString(from), span: this.tokenSpan(from) },
        span,
      }
    );
  }

  // contextDecl ::= 'context' '{' (contextField (',' contextField)* ','?)? '}'
  contextDecl(ch: Cst.ContextDeclCstChildren, at: Visit): A.ContextDecl {
    const span = this.nodeSpan(at.node);
    const fields: A.ContextField[] = [];
    const fieldNodes = ch.contextField ?? [];
    if (fieldNodes.length > 1 && (ch.Comma ?? []).length < fieldNodes.length - 1) {
      this.report(
        diagnostic("syntax_error", "context fields are separated by `,`", span, {
          help: "add the missing commas",
        }),
      );
    }
    for (const f of fieldNodes) {
      const field = this.contextField(f.children, { node: f, depth: 0 });
      if (field) fields.push(field);
    }
    return { kind: "context", fields, span };
  }

  // inputsDecl ::= 'inputs' Identifier (',' Identifier)*
  inputsDecl(ch: Cst.InputsDeclCstChildren, at: Visit): A.InputsDecl | undefined {
    const span = this.nodeSpan(at.node);
    // a name error recovery made up has no place and no text: the syntax error already says so
    const ids = this.real(ch.Identifier);
    if (ids.length === 0) return undefined;
    return { kind: "inputs", inputs: ids.map((id) => this.name(id)), span };
  }

  // contextField ::= Identifier ':' typeRef
  contextField(ch: Cst.ContextFieldCstChildren, at: Visit): A.ContextField | undefined {
    const id = this.tok(ch.Identifier);
    const typeNode = ch.typeRef?.[0];
    const type = typeNode && this.typeRef(typeNode.children, { node: typeNode, depth: 0 });
    return id && type && { name: this.name(id), type, span: this.nodeSpan(at.node) };
  }

  // typeRef ::= Name ('<' typeRef '>')?
  typeRef(ch: Cst.TypeRefCstChildren, at: Visit): A.TypeRef | undefined {
    const nameTok = this.tok(ch.Name);
    if (!nameTok) return undefined;
    const inner = ch.typeRef?.[0];
    const element = inner ? this.typeRef(inner.children, { node: inner, depth: 0 }) : undefined;
    const ref: A.TypeRef = { name: nameTok.image, span: this.nodeSpan(at.node) };
    if (element) ref.element = element;
    return ref;
  }

  private action(tokens: IToken[] | undefined): A.Action | undefined {
    const tk = this.tok(tokens);
    return tk ? (tk.image as A.Action) : undefined;
  }

  // ruleDecl ::= 'rule' Identifier ruleModifier* '{' ruleClause* '}'
  ruleDecl(ch: Cst.RuleDeclCstChildren, at: Visit): A.RuleDecl | undefined {
    const span = this.nodeSpan(at.node);
    const id = this.tok(ch.Identifier);
    if (!id) return undefined;
    const rule: A.RuleDecl = { kind: "rule", name: this.name(id), unless: [], span };
    const seenModifier = new Map<string, Span>();
    for (const m of ch.ruleModifier ?? []) {
      const modifier = this.ruleModifier(m.children, { node: m, depth: 0 });
      const mspan = modifier.span;
      const key = modifier.key;
      const previous = seenModifier.get(key);
      if (previous) {
        this.report(
          diagnostic("duplicate_modifier", `\`${key}\` is given twice`, mspan, {
            help: "keep one",
            related: [{ message: "first given here", span: previous }],
          }),
        );
        continue;
      }
      seenModifier.set(key, mspan);
      if (modifier.key === "priority") {
        const num = modifier.number;
        if (!num) continue;
        const value = modifier.minus ? 0 - Number(num.image) || 0 : Number(num.image);
        if (!Number.isSafeInteger(value)) {
          this.report(
            diagnostic(
              "invalid_number",
              `priority \`${num.image}\` is not a whole number`,
              this.tokenSpan(num),
              {
                help: "use a whole number such as `100`; higher runs first",
              },
            ),
          );
          continue;
        }
        rule.priority = { value, span: mspan };
      } else if (modifier.key === "monitor") {
        rule.monitor = mspan;
      } else if (modifier.key === "overrides") {
        if (modifier.action) rule.overrides = { action: modifier.action, span: mspan };
      } else if (modifier.key === "forbid-approval") {
        rule.forbidApproval = mspan;
      } else {
        const ts = modifier.timestamp;
        if (!ts) continue;
        const instant = parseTimestamp(ts.image);
        if (instant === undefined) {
          this.report(
            diagnostic(
              "invalid_timestamp",
              timestampProblem(ts.image).message,
              this.tokenSpan(ts),
              { help: timestampProblem(ts.image).help },
            ),
          );
          continue;
        }
        // A date expires at the end of that day: `expires 2027-01-31` still applies on the 31st.
        rule.expires = {
          at: isDateOnly(ts.image) ? instant + 86_400_000 : instant,
          raw: ts.image,
          span: mspan,
        };
      }
    }
    let whenSpan: Span | undefined;
    let outcomeSpan: Span | undefined;
    for (const c of ch.ruleClause ?? []) {
      const clause = this.ruleClause(c.children, { node: c, depth: 0 });
      const cspan = clause.span;
      if (clause.kind === "when") {
        if (whenSpan) {
          this.report(
            diagnostic("duplicate_clause", "a rule has one `when`", cspan, {
              help: "combine the conditions with `and` or `or`",
              related: [{ message: "first `when` here", span: whenSpan }],
            }),
          );
          continue;
        }
        whenSpan = cspan;
        rule.when = this.condition(clause.expression, cspan);
      } else if (clause.kind === "unless") {
        rule.unless.push(this.condition(clause.expression, cspan));
      } else {
        const { action, reason } = clause;
        if (!action || !reason) continue;
        if (outcomeSpan) {
          this.report(
            diagnostic("duplicate_clause", "a rule has one outcome", cspan, {
              help: "split it into two rules",
              related: [{ message: "first outcome here", span: outcomeSpan }],
            }),
          );
          continue;
        }
        outcomeSpan = cspan;
        rule.outcome = { action, reason: this.template(reason), span: cspan };
      }
    }
    const nameSpan = rule.name.span;
    const recovered = at.node.recoveredNode === true || !this.tok(ch.RBrace);
    if (!whenSpan && !recovered) {
      this.report(
        diagnostic(
          "missing_when",
          `rule \`${rule.name.name}\` has no \`when\` condition`,
          nameSpan,
          {
            help: "add a condition such as `when trustScore >= 80`",
          },
        ),
      );
    }
    if (!outcomeSpan && !recovered) {
      this.report(
        diagnostic("missing_outcome", `rule \`${rule.name.name}\` has no outcome`, nameSpan, {
          help: 'end the rule with `allow "reason"`, `deny "reason"` or `review "reason"`',
        }),
      );
    }
    return rule;
  }

  // ruleModifier ::= 'priority' '-'? Number | 'monitor' | 'expires' Timestamp
  //                | 'overrides' ('review' | 'deny') | 'forbid-approval'
  ruleModifier(ch: Cst.RuleModifierCstChildren, at: Visit): Modifier {
    const span = this.nodeSpan(at.node);
    if (ch.Priority)
      return { key: "priority", minus: !!ch.Minus, number: this.tok(ch.NumberLiteral), span };
    if (ch.Monitor) return { key: "monitor", span };
    if (ch.Overrides)
      return {
        key: "overrides",
        action: ch.Review ? "review" : ch.Deny ? "deny" : undefined,
        span,
      };
    if (ch.ForbidApproval) return { key: "forbid-approval", span };
    return { key: "expires", timestamp: this.tok(ch.Timestamp), span };
  }

  // ruleClause ::= 'when' expression | 'unless' expression | ('allow' | 'deny' | 'review') String
  ruleClause(ch: Cst.RuleClauseCstChildren, at: Visit): Clause {
    const span = this.nodeSpan(at.node);
    const expression = ch.expression?.[0];
    if (ch.When) return { kind: "when", expression, span };
    if (ch.Unless) return { kind: "unless", expression, span };
    return {
      kind: "outcome",
      action: this.action(ch.Action),
      reason: this.tok(ch.StringLiteral),
      span,
    };
  }

  /** The condition of a `when` or `unless` clause; an `error` node when recovery lost it. */
  private condition(node: Cst.ExpressionCstNode | undefined, clause: Span): A.Expr {
    return node
      ? this.expression(node.children, { node, depth: 0 })
      : { kind: "error", span: clause };
  }

  // ---------- strings ----------

  private plainString(token: IToken): string {
    const span = this.tokenSpan(token);
    const closed = token.tokenType !== t.UnterminatedString;
    const content = token.image.slice(1, closed ? -1 : undefined);
    const problems: UnescapeProblem[] = [];
    const value = unescapeString(content, problems, this.limits.maxDiagnostics);
    for (const p of problems) this.escapeProblem(p, span.start + 1);
    return value;
  }

  private escapeProblem(p: UnescapeProblem, contentStart: number): void {
    this.report(
      diagnostic(
        "invalid_escape",
        `unknown escape \`${p.sequence}\``,
        {
          file: this.path,
          start: contentStart + p.offset,
          end: contentStart + p.offset + p.length,
        },
        { help: 'escapes are `\\"`, `\\\\`, `\\n`, `\\t`, `\\r`, `\\{`, `\\}` and `\\u{1F600}`' },
      ),
    );
  }

  /**
   * A reason: `{expr}` holes are expressions, parsed once the declaration is built (fillHoles);
   * `\{` and `\}` are literal braces.
   */
  template(token: IToken): A.Template {
    const span = this.tokenSpan(token);
    const closed = token.tokenType !== t.UnterminatedString;
    const content = token.image.slice(1, closed ? -1 : undefined);
    const contentStart = span.start + 1;
    const parts: (string | A.Expr)[] = [];
    let text = "";
    let holes = 0;
    let i = 0;
    while (i < content.length) {
      const ch = content[i]!;
      if (ch === "\\") {
        const problems: UnescapeProblem[] = [];
        const seq = content.slice(i, content[i + 1] === "u" ? i + 12 : i + 2);
        const m = /^\\(?:u\{[0-9a-fA-F]{1,6}\}|u[0-9a-fA-F]{4}|.)/s.exec(seq);
        const piece = m ? m[0] : "\\";
        text += unescapeString(piece, problems);
        for (const p of problems) this.escapeProblem({ ...p, offset: p.offset + i }, contentStart);
        i += piece.length;
        continue;
      }
      if (ch === "}") {
        this.report(
          diagnostic(
            "invalid_template",
            "unmatched `}` in a reason",
            { file: this.path, start: contentStart + i, end: contentStart + i + 1 },
            {
              help: "write `\\}` for a literal brace",
            },
          ),
        );
        i++;
        continue;
      }
      if (ch !== "{") {
        text += ch;
        i++;
        continue;
      }
      const close = findClosingBrace(content, i + 1);
      if (close < 0) {
        this.report(
          diagnostic(
            "invalid_template",
            "`{` in a reason is not closed",
            { file: this.path, start: contentStart + i, end: contentStart + content.length },
            {
              help: "close the expression with `}`, or write `\\{` for a literal brace",
            },
          ),
        );
        text += content.slice(i);
        break;
      }
      const inner = content.slice(i + 1, close);
      if (text) parts.push(text);
      text = "";
      // Each hole is a parse of its own: a million of them must not cost a million parses.
      if (++holes > this.limits.maxTemplateHoles) {
        this.report(
          diagnostic(
            "too_many_holes",
            `a reason has more than ${this.limits.maxTemplateHoles} \`{}\` holes`,
            { file: this.path, start: contentStart + i, end: contentStart + close + 1 },
            {
              help: "show fewer values in the reason, or write `\\{` and `\\}` for literal braces",
            },
          ),
        );
        break;
      }
      if (inner.trim() === "") {
        this.report(
          diagnostic(
            "invalid_template",
            "empty `{}` in a reason",
            { file: this.path, start: contentStart + i, end: contentStart + close + 1 },
            {
              help: "put an expression inside, such as `{vendor.name}`",
            },
          ),
        );
      } else {
        // A placeholder until the hole is parsed, after the declaration (see fillHoles).
        const base = contentStart + i + 1;
        const index = parts.length;
        parts.push({
          kind: "error",
          span: { file: this.path, start: base, end: base + inner.length },
        });
        this.deferred ??= new DiagnosticCollector(this.limits.maxDiagnostics);
        this.holes.push({ text: inner, base, parts, index, after: this.deferred.list.length });
      }
      i = close + 1;
    }
    if (text) parts.push(text);
    return { parts, raw: token.image, span };
  }

  // ---------- expressions ----------

  private tooDeep(span: Span, depth: number): boolean {
    if (depth <= this.limits.maxNestingDepth) return false;
    this.report(
      diagnostic(
        "nesting_too_deep",
        `expression nests deeper than ${this.limits.maxNestingDepth} levels`,
        span,
        {
          help: "split the condition into smaller rules or named lists",
        },
      ),
    );
    return true;
  }

  // expression ::= notExpr (('and' | 'or') notExpr)*
  expression(ch: Cst.ExpressionCstChildren, at: Visit): A.Expr {
    const span = this.nodeSpan(at.node);
    if (this.tooDeep(span, at.depth)) return { kind: "error", span };
    return this.precedence(at.node, ch.notExpr, ch.LogicalOperator, LOGICAL_PRECEDENCE, (n) =>
      this.notExpr(n.children, { node: n, depth: at.depth }),
    );
  }

  /**
   * Builds a left-associative tree from a flat chain `x op x op x`, binding higher-precedence
   * operators first (`and` before `or`; `* / %` before `+ -`).
   */
  private precedence<N extends CstNode>(
    node: CstNode,
    operands: readonly N[] | undefined,
    operators: readonly IToken[] | undefined,
    levels: Readonly<Record<string, number>>,
    build: (n: N) => A.Expr,
  ): A.Expr {
    if (!operands || operands.length === 0) return { kind: "error", span: this.nodeSpan(node) };
    const first = build(operands[0]!);
    if (operands.length === 1) return first;
    const ops = operators ?? [];
    const values: A.Expr[] = [first];
    const pending: IToken[] = [];
    const reduce = (): void => {
      const opTok = pending.pop()!;
      const right = values.pop()!;
      const left = values.pop()!;
      values.push({
        kind: "binary",
        op: opTok.image as A.BinaryOp,
        left,
        right,
        opSpan: this.tokenSpan(opTok),
        span: this.join(left.span, right.span),
      });
    };
    for (let i = 1; i < operands.length; i++) {
      const opTok = ops[i - 1];
      if (!opTok) break;
      const level = levels[opTok.image] ?? 0;
      while (pending.length > 0 && (levels[pending[pending.length - 1]!.image] ?? 0) >= level)
        reduce();
      pending.push(opTok);
      values.push(build(operands[i]!));
    }
    while (pending.length > 0 && values.length > 1) reduce();
    return values[0]!;
  }

  // notExpr ::= 'not' notExpr | quantifier | comparison
  notExpr(ch: Cst.NotExprCstChildren, at: Visit): A.Expr {
    const { depth } = at;
    const span = this.nodeSpan(at.node);
    const inner = ch.notExpr?.[0];
    if (ch.Not && inner) {
      if (this.tooDeep(span, depth + 1)) return { kind: "error", span };
      const operand = this.notExpr(inner.children, { node: inner, depth: depth + 1 });
      return { kind: "unary", op: "not", operand, span };
    }
    const q = ch.quantifier?.[0];
    if (q) return this.quantifier(q.children, { node: q, depth: depth + 1 });
    const c = ch.comparison?.[0];
    if (c) return this.comparison(c.children, { node: c, depth });
    return { kind: "error", span };
  }

  // quantifier ::= ('any' | 'all') Identifier 'in' arith ':' expression
  quantifier(ch: Cst.QuantifierCstChildren, at: Visit): A.Expr {
    const { depth } = at;
    const span = this.nodeSpan(at.node);
    const id = this.tok(ch.Identifier);
    const coll = ch.arith?.[0];
    const body = ch.expression?.[0];
    if (!id || !coll || !body || this.tooDeep(span, depth)) return { kind: "error", span };
    return {
      kind: "quantifier",
      quantifier: this.tok(ch.All) ? "all" : "any",
      variable: this.name(id),
      collection: this.arith(coll.children, { node: coll, depth }),
      body: this.expression(body.children, { node: body, depth: depth + 1 }),
      span,
    };
  }

  // comparison ::= arith ( ComparisonOperator arith | 'not'? 'in' arith
  //                      | ('contains' | 'startsWith' | 'endsWith') arith | 'matches' Regex )?
  comparison(ch: Cst.ComparisonCstChildren, at: Visit): A.Expr {
    const { depth } = at;
    const operands = ch.arith ?? [];
    if (operands.length === 0) return { kind: "error", span: this.nodeSpan(at.node) };
    const leftNode = operands[0]!;
    const left = this.arith(leftNode.children, { node: leftNode, depth });
    const regexTok = this.tok(ch.RegexLiteral);
    const matchesTok = this.tok(ch.Matches);
    if (matchesTok) {
      if (!regexTok) return { kind: "error", span: this.nodeSpan(at.node) };
      const m = /^\/(.*)\/([A-Za-z]*)$/s.exec(regexTok.image)!;
      return {
        kind: "match",
        operand: left,
        regex: { source: m[1]!, flags: m[2]!, span: this.tokenSpan(regexTok) },
        span: this.join(left.span, this.tokenSpan(regexTok)),
      };
    }
    if (operands.length < 2) return left;
    const rightNode = operands[1]!;
    const right = this.arith(rightNode.children, { node: rightNode, depth });
    let op: A.BinaryOp;
    let opSpan: Span;
    const cmp = this.tok(ch.ComparisonOperator);
    const inTok = this.tok(ch.In);
    if (cmp) {
      op = cmp.image as A.ComparisonOp;
      opSpan = this.tokenSpan(cmp);
    } else if (inTok) {
      const notTok = this.tok(ch.Not);
      op = notTok ? "not in" : "in";
      opSpan = notTok
        ? this.join(this.tokenSpan(notTok), this.tokenSpan(inTok))
        : this.tokenSpan(inTok);
    } else {
      const s = this.tok(ch.Contains) ?? this.tok(ch.StartsWith) ?? this.tok(ch.EndsWith);
      if (!s) return { kind: "error", span: this.nodeSpan(at.node) };
      op = s.image as A.StringOp;
      opSpan = this.tokenSpan(s);
    }
    return { kind: "binary", op, left, right, opSpan, span: this.join(left.span, right.span) };
  }

  // arith ::= unary (('+' | '-' | '*' | '/' | '%') unary)*
  arith(ch: Cst.ArithCstChildren, at: Visit): A.Expr {
    return this.precedence(at.node, ch.unary, ch.ArithmeticOperator, ARITHMETIC_PRECEDENCE, (n) =>
      this.unary(n.children, { node: n, depth: at.depth }),
    );
  }

  // unary ::= '-' unary | primary ('.' Name)*
  unary(ch: Cst.UnaryCstChildren, at: Visit): A.Expr {
    const { depth } = at;
    const span = this.nodeSpan(at.node);
    const inner = ch.unary?.[0];
    if (ch.Minus && inner) {
      if (this.tooDeep(span, depth + 1)) return { kind: "error", span };
      const operand = this.unary(inner.children, { node: inner, depth: depth + 1 });
      // Fold `-5` into a literal so that fmt and the checker see a number, not an operation.
      if (
        operand.kind === "literal" &&
        (operand.type === "number" || operand.type === "duration")
      ) {
        return { ...operand, value: -(operand.value as number), raw: `-${operand.raw}`, span };
      }
      return { kind: "unary", op: "neg", operand, span };
    }
    return this.postfix(ch, at);
  }

  /** `primary ('.' Name)*`: a field path, or a problem when what precedes `.name` is no path. */
  private postfix(ch: Cst.UnaryCstChildren, at: Visit): A.Expr {
    const primaryNode = ch.primary?.[0];
    if (!primaryNode) return { kind: "error", span: this.nodeSpan(at.node) };
    const base = this.primary(primaryNode.children, { node: primaryNode, depth: at.depth });
    const names = this.real(ch.Name);
    if (names.length === 0) return base;
    if (base.kind !== "path") {
      // `(x).y` or `f().y`: only paths have fields.
      if (base.kind === "error") return base;
      const span = this.nodeSpan(at.node);
      this.report(
        diagnostic("syntax_error", "only a field path can be followed by `.name`", span, {
          help: "write the path directly, such as `vendor.name`",
        }),
      );
      return { kind: "error", span };
    }
    const segments = [...base.segments, ...names.map((n) => this.name(n))];
    return {
      kind: "path",
      segments,
      span: this.join(base.span, segments[segments.length - 1]!.span),
    };
  }

  // primary ::= String | Number | Duration | Timestamp | 'true' | 'false' | listLiteral
  //           | '(' expression ')' | countExpr | Identifier ('(' (expression (',' expression)*)? ')')? | 'context'
  primary(ch: Cst.PrimaryCstChildren, at: Visit): A.Expr {
    const { depth } = at;
    const span = this.nodeSpan(at.node);
    const lit = this.literalToken(ch);
    if (lit) return this.literal(lit);
    const list = ch.listLiteral?.[0];
    if (list) return this.listLiteral(list.children, { node: list, depth: depth + 1 });
    const count = ch.countExpr?.[0];
    if (count) return this.countExpr(count.children, { node: count, depth: depth + 1 });
    const id = this.tok(ch.Identifier);
    if (id) {
      if (ch.LParen) {
        const args = (ch.expression ?? []).map((e) =>
          this.expression(e.children, { node: e, depth: depth + 1 }),
        );
        return { kind: "call", callee: this.name(id), args, span };
      }
      return { kind: "path", segments: [this.name(id)], span };
    }
    const builtin = this.tok(ch.Context) ?? this.tok(ch.Exception) ?? this.tok(ch.Case);
    if (builtin) return { kind: "path", segments: [this.name(builtin)], span };
    const inner = ch.expression?.[0];
    if (inner) {
      if (this.tooDeep(span, depth + 1)) return { kind: "error", span };
      // the parentheses belong to the expression's span, so that `a and (b or c)` spans its `)`
      return { ...this.expression(inner.children, { node: inner, depth: depth + 1 }), span };
    }
    return { kind: "error", span };
  }

  // countExpr ::= 'count' '(' Identifier 'in' arith 'where' expression ')'
  countExpr(ch: Cst.CountExprCstChildren, at: Visit): A.Expr {
    const { depth } = at;
    const span = this.nodeSpan(at.node);
    const id = this.tok(ch.Identifier);
    const coll = ch.arith?.[0];
    const body = ch.expression?.[0];
    if (!id || !coll || !body || this.tooDeep(span, depth)) return { kind: "error", span };
    return {
      kind: "count",
      variable: this.name(id),
      collection: this.arith(coll.children, { node: coll, depth }),
      body: this.expression(body.children, { node: body, depth: depth + 1 }),
      span,
    };
  }

  // listLiteral ::= '[' (expression (',' expression)* ','?)? ']'
  listLiteral(ch: Cst.ListLiteralCstChildren, at: Visit): A.ListExpr {
    const { depth } = at;
    const span = this.nodeSpan(at.node);
    const elements = ch.expression ?? [];
    const commas = (ch.Comma ?? []).length;
    if (elements.length > 1 && commas < elements.length - 1) {
      this.report(
        diagnostic("syntax_error", "list items are separated by `,`", span, {
          help: "add the missing commas",
        }),
      );
    }
    if (elements.length > this.limits.maxListLength) {
      this.report(
        diagnostic(
          "list_too_long",
          `list has ${elements.length} items, more than the limit of ${this.limits.maxListLength}`,
          span,
          {
            help: 'move long lists to a file: `list name from "file.txt"` or a `hashlist`',
          },
        ),
      );
    }
    const items = elements.map((e) => this.expression(e.children, { node: e, depth: depth + 1 }));
    return { kind: "list", items, span };
  }

  private literalToken(ch: Cst.PrimaryCstChildren): IToken | undefined {
    for (const key of LITERAL_KEYS) {
      const e = ch[key]?.[0];
      if (e) return e;
    }
    return undefined;
  }

  private literal(token: IToken): A.Expr {
    if (token.isInsertedInRecovery || Number.isNaN(token.startOffset)) {
      return { kind: "error", span: { file: this.path, start: this.base, end: this.base } };
    }
    const span = this.tokenSpan(token);
    const raw = token.image;
    switch (token.tokenType) {
      case t.StringLiteral:
      case t.UnterminatedString:
        return { kind: "literal", type: "string", value: this.plainString(token), raw, span };
      case t.True:
        return { kind: "literal", type: "bool", value: true, raw, span };
      case t.False:
        return { kind: "literal", type: "bool", value: false, raw, span };
      case t.NumberLiteral: {
        const value = Number(raw);
        if (!Number.isFinite(value)) {
          this.report(
            diagnostic("invalid_number", `number \`${raw}\` is out of range`, span, {
              help: "use a smaller number",
            }),
          );
          return { kind: "error", span };
        }
        return { kind: "literal", type: "number", value, raw, span };
      }
      case t.Duration: {
        const value = parseDuration(raw);
        if (value === undefined) {
          this.report(
            diagnostic("invalid_duration", `\`${raw}\` is not a valid duration`, span, {
              help: "write units from largest to smallest, each once (`1h30m`), and keep it under 285,000 years",
            }),
          );
          return { kind: "error", span };
        }
        return { kind: "literal", type: "duration", value, raw, span };
      }
      case t.Timestamp: {
        const value = parseTimestamp(raw);
        if (value === undefined) {
          this.report(
            diagnostic("invalid_timestamp", timestampProblem(raw).message, span, {
              help: timestampProblem(raw).help,
            }),
          );
          return { kind: "error", span };
        }
        return { kind: "literal", type: "timestamp", value, raw, span };
      }
      default:
        return { kind: "error", span };
    }
  }
}

const LOGICAL_PRECEDENCE: Readonly<Record<string, number>> = Object.freeze({ or: 1, and: 2 });
const ARITHMETIC_PRECEDENCE: Readonly<Record<string, number>> = Object.freeze({
  "+": 1,
  "-": 1,
  "*": 2,
  "/": 2,
  "%": 2,
});
const LITERAL_KEYS = [
  "StringLiteral",
  "NumberLiteral",
  "Duration",
  "Timestamp",
  "True",
  "False",
] as const satisfies readonly (keyof Cst.PrimaryCstChildren)[];

/** Reached only if the grammar gains a declaration the builder does not know: a type error first. */
function unknownDeclaration(decl: never): undefined {
  void decl;
  return undefined;
}

/** Index of the `}` that closes a template hole, skipping braces inside string literals. */
function findClosingBrace(content: string, from: number): number {
  let depth = 0;
  for (let i = from; i < content.length; i++) {
    const ch = content[i];
    if (ch === "\\") {
      i++;
    } else if (ch === "{") {
      depth++;
    } else if (ch === "}") {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}

function isToken(e: CstElement): e is IToken {
  return (e as IToken).image !== undefined;
}

function firstToken(node: CstNode): IToken | undefined {
  let best: IToken | undefined;
  for (const list of Object.values(node.children)) {
    for (const e of list) {
      const tk = isToken(e) ? e : firstToken(e);
      if (
        tk &&
        !tk.isInsertedInRecovery &&
        !Number.isNaN(tk.startOffset) &&
        (!best || tk.startOffset < best.startOffset)
      )
        best = tk;
    }
  }
  return best;
}

function lastToken(node: CstNode): IToken | undefined {
  let best: IToken | undefined;
  for (const list of Object.values(node.children)) {
    for (const e of list) {
      const tk = isToken(e) ? e : lastToken(e);
      if (
        tk &&
        !tk.isInsertedInRecovery &&
        !Number.isNaN(tk.startOffset) &&
        (!best || tk.startOffset > best.startOffset)
      )
        best = tk;
    }
  }
  return best;
}
