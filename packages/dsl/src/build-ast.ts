import type { CstElement, CstNode, IToken } from "chevrotain";
import type * as A from "./ast.js";
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
import * as t from "./tokens.js";

type Children = Record<string, CstElement[] | undefined>;

function isToken(e: CstElement | undefined): e is IToken {
  return e !== undefined && (e as IToken).image !== undefined;
}

/**
 * Turns the concrete syntax tree into the AST. Tolerates the holes that error recovery leaves:
 * a missing piece becomes an `error` node, and the parser has already reported it.
 */
export class AstBuilder {
  readonly collected: DiagnosticCollector;

  constructor(
    private readonly path: string,
    private readonly limits: LanguageLimits,
    /** offset of the parsed text inside the file, for expressions parsed out of a reason template */
    private readonly base = 0,
    /** parses the expression of a template hole; supplied by parse.ts to avoid a module cycle */
    private readonly parseHole?: (
      text: string,
      base: number,
    ) => { expr: A.Expr; diagnostics: Diagnostic[] },
  ) {
    this.collected = new DiagnosticCollector(limits.maxDiagnostics);
  }

  get diagnostics(): readonly Diagnostic[] {
    return this.collected.list;
  }

  private report(d: Diagnostic): void {
    this.collected.add(d);
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

  private tok(ch: Children, key: string, index = 0): IToken | undefined {
    const e = ch[key]?.[index];
    return isToken(e) && !e.isInsertedInRecovery && !Number.isNaN(e.startOffset) ? e : undefined;
  }

  private node(ch: Children, key: string, index = 0): CstNode | undefined {
    const e = ch[key]?.[index];
    return e !== undefined && !isToken(e) ? e : undefined;
  }

  private nodes(ch: Children, key: string): CstNode[] {
    return (ch[key] ?? []).filter((e): e is CstNode => !isToken(e));
  }

  private name(token: IToken): A.Name {
    return { name: token.image, span: this.tokenSpan(token) };
  }

  // ---------- file and declarations ----------

  /** Appends the declarations of one parsed chunk of the file, in source order. */
  items(cst: CstNode, into: A.Item[]): void {
    // The CST groups declarations by kind; the AST keeps them in source order.
    const decls: CstNode[] = [];
    for (const list of Object.values(cst.children)) {
      for (const e of list) if (!isToken(e)) decls.push(e);
    }
    if (decls.length > 1)
      decls.sort((a, b) => (a.location?.startOffset ?? 0) - (b.location?.startOffset ?? 0));
    for (const decl of decls) {
      const item = this.item(decl);
      if (item) into.push(item);
    }
  }

  comments(comments: IToken[]): A.Comment[] {
    return comments.map((c) => ({ text: c.image.replace(/\s+$/, ""), span: this.tokenSpan(c) }));
  }

  private item(node: CstNode): A.Item | undefined {
    const ch = node.children;
    const span = this.nodeSpan(node);
    switch (node.name) {
      case "rulesetDecl": {
        const s = this.tok(ch, "StringLiteral");
        return s && { kind: "ruleset", name: this.plainString(s), span };
      }
      case "strategyDecl": {
        const strategy: A.Strategy | undefined = this.tok(ch, "DenyOverrides")
          ? "deny-overrides"
          : this.tok(ch, "FirstMatch")
            ? "first-match"
            : undefined;
        return strategy && { kind: "strategy", strategy, span };
      }
      case "defaultDecl": {
        const action = this.action(ch);
        const s = this.tok(ch, "StringLiteral");
        return action && s && { kind: "default", action, reason: this.template(s), span };
      }
      case "onErrorDecl": {
        const onError: A.OnError | undefined = this.tok(ch, "Review")
          ? "review"
          : this.tok(ch, "Deny")
            ? "deny"
            : this.tok(ch, "Ignore")
              ? "ignore"
              : undefined;
        return onError && { kind: "on-error", onError, span };
      }
      case "listDecl": {
        const id = this.tok(ch, "Identifier");
        if (!id) return undefined;
        const listNode = this.node(ch, "listLiteral");
        if (listNode)
          return { kind: "list", name: this.name(id), items: this.listLiteral(listNode, 0), span };
        const from = this.tok(ch, "StringLiteral");
        return (
          from && {
            kind: "list",
            name: this.name(id),
            from: { path: this.plainString(from), span: this.tokenSpan(from) },
            span,
          }
        );
      }
      case "hashlistDecl": {
        const id = this.tok(ch, "Identifier");
        const from = this.tok(ch, "StringLiteral");
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
      case "contextDecl": {
        const fields: A.ContextField[] = [];
        const fieldNodes = this.nodes(ch, "contextField");
        if (fieldNodes.length > 1 && (ch.Comma ?? []).length < fieldNodes.length - 1) {
          this.report(
            diagnostic("syntax_error", "context fields are separated by `,`", span, {
              help: "add the missing commas",
            }),
          );
        }
        for (const f of fieldNodes) {
          const id = this.tok(f.children, "Identifier");
          const typeNode = this.node(f.children, "typeRef");
          const type = typeNode && this.typeRef(typeNode);
          if (id && type) fields.push({ name: this.name(id), type, span: this.nodeSpan(f) });
        }
        return { kind: "context", fields, span };
      }
      case "ruleDecl":
        return this.rule(node, span);
      default:
        return undefined;
    }
  }

  private typeRef(node: CstNode): A.TypeRef | undefined {
    const nameTok = this.tok(node.children, "Name");
    if (!nameTok) return undefined;
    const inner = this.node(node.children, "typeRef");
    const element = inner ? this.typeRef(inner) : undefined;
    const ref: A.TypeRef = { name: nameTok.image, span: this.nodeSpan(node) };
    if (element) ref.element = element;
    return ref;
  }

  private action(ch: Children): A.Action | undefined {
    const tk = this.tok(ch, "Action");
    return tk ? (tk.image as A.Action) : undefined;
  }

  private rule(node: CstNode, span: Span): A.RuleDecl | undefined {
    const ch = node.children;
    const id = this.tok(ch, "Identifier");
    if (!id) return undefined;
    const rule: A.RuleDecl = { kind: "rule", name: this.name(id), unless: [], span };
    const seenModifier = new Map<string, Span>();
    for (const m of this.nodes(ch, "ruleModifier")) {
      const mch = m.children;
      const mspan = this.nodeSpan(m);
      const key = mch.Priority ? "priority" : mch.Monitor ? "monitor" : "expires";
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
      if (key === "priority") {
        const num = this.tok(mch, "NumberLiteral");
        if (!num) continue;
        const value = mch.Minus ? 0 - Number(num.image) || 0 : Number(num.image);
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
      } else if (key === "monitor") {
        rule.monitor = mspan;
      } else {
        const ts = this.tok(mch, "Timestamp");
        if (!ts) continue;
        const at = parseTimestamp(ts.image);
        if (at === undefined) {
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
          at: isDateOnly(ts.image) ? at + 86_400_000 : at,
          raw: ts.image,
          span: mspan,
        };
      }
    }
    let whenSpan: Span | undefined;
    let outcomeSpan: Span | undefined;
    for (const clause of this.nodes(ch, "ruleClause")) {
      const cch = clause.children;
      const cspan = this.nodeSpan(clause);
      const exprNode = this.node(cch, "expression");
      if (cch.When) {
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
        rule.when = exprNode ? this.expression(exprNode, 0) : { kind: "error", span: cspan };
      } else if (cch.Unless) {
        rule.unless.push(exprNode ? this.expression(exprNode, 0) : { kind: "error", span: cspan });
      } else {
        const action = this.action(cch);
        const s = this.tok(cch, "StringLiteral");
        if (!action || !s) continue;
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
        rule.outcome = { action, reason: this.template(s), span: cspan };
      }
    }
    const nameSpan = rule.name.span;
    const recovered = node.recoveredNode === true || !this.tok(ch, "RBrace");
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

  /** A reason: `{expr}` holes are parsed as expressions; `\{` and `\}` are literal braces. */
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
      } else if (this.parseHole) {
        const hole = this.parseHole(inner, contentStart + i + 1);
        this.collected.addAll(hole.diagnostics);
        parts.push(hole.expr);
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

  expression(node: CstNode, depth: number): A.Expr {
    const span = this.nodeSpan(node);
    if (this.tooDeep(span, depth)) return { kind: "error", span };
    return this.precedence(node, "notExpr", "LogicalOperator", LOGICAL_PRECEDENCE, (n) =>
      this.notExpr(n, depth),
    );
  }

  /**
   * Builds a left-associative tree from a flat chain `x op x op x`, binding higher-precedence
   * operators first (`and` before `or`; `* / %` before `+ -`).
   */
  private precedence(
    node: CstNode,
    childKey: string,
    opKey: string,
    levels: Readonly<Record<string, number>>,
    build: (n: CstNode) => A.Expr,
  ): A.Expr {
    const operands = this.nodes(node.children, childKey);
    if (operands.length === 0) return { kind: "error", span: this.nodeSpan(node) };
    const first = build(operands[0]!);
    if (operands.length === 1) return first;
    const ops = (node.children[opKey] ?? []).filter(isToken);
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

  private notExpr(node: CstNode, depth: number): A.Expr {
    const ch = node.children;
    const span = this.nodeSpan(node);
    const inner = this.node(ch, "notExpr");
    if (ch.Not && inner) {
      if (this.tooDeep(span, depth + 1)) return { kind: "error", span };
      return { kind: "unary", op: "not", operand: this.notExpr(inner, depth + 1), span };
    }
    const q = this.node(ch, "quantifier");
    if (q) return this.quantifier(q, depth + 1);
    const c = this.node(ch, "comparison");
    if (c) return this.comparison(c, depth);
    return { kind: "error", span };
  }

  private quantifier(node: CstNode, depth: number): A.Expr {
    const ch = node.children;
    const span = this.nodeSpan(node);
    const id = this.tok(ch, "Identifier");
    const coll = this.node(ch, "arith");
    const body = this.node(ch, "expression");
    if (!id || !coll || !body || this.tooDeep(span, depth)) return { kind: "error", span };
    return {
      kind: "quantifier",
      quantifier: this.tok(ch, "All") ? "all" : "any",
      variable: this.name(id),
      collection: this.arith(coll, depth),
      body: this.expression(body, depth + 1),
      span,
    };
  }

  private comparison(node: CstNode, depth: number): A.Expr {
    const ch = node.children;
    const operands = this.nodes(ch, "arith");
    if (operands.length === 0) return { kind: "error", span: this.nodeSpan(node) };
    const left = this.arith(operands[0]!, depth);
    const regexTok = this.tok(ch, "RegexLiteral");
    const matchesTok = this.tok(ch, "Matches");
    if (matchesTok) {
      if (!regexTok) return { kind: "error", span: this.nodeSpan(node) };
      const m = /^\/(.*)\/([A-Za-z]*)$/s.exec(regexTok.image)!;
      return {
        kind: "match",
        operand: left,
        regex: { source: m[1]!, flags: m[2]!, span: this.tokenSpan(regexTok) },
        span: this.join(left.span, this.tokenSpan(regexTok)),
      };
    }
    if (operands.length < 2) return left;
    const right = this.arith(operands[1]!, depth);
    let op: A.BinaryOp;
    let opSpan: Span;
    const cmp = this.tok(ch, "ComparisonOperator");
    const inTok = this.tok(ch, "In");
    if (cmp) {
      op = cmp.image as A.ComparisonOp;
      opSpan = this.tokenSpan(cmp);
    } else if (inTok) {
      const notTok = this.tok(ch, "Not");
      op = notTok ? "not in" : "in";
      opSpan = notTok
        ? this.join(this.tokenSpan(notTok), this.tokenSpan(inTok))
        : this.tokenSpan(inTok);
    } else {
      const s = this.tok(ch, "Contains") ?? this.tok(ch, "StartsWith") ?? this.tok(ch, "EndsWith");
      if (!s) return { kind: "error", span: this.nodeSpan(node) };
      op = s.image as A.StringOp;
      opSpan = this.tokenSpan(s);
    }
    return { kind: "binary", op, left, right, opSpan, span: this.join(left.span, right.span) };
  }

  private arith(node: CstNode, depth: number): A.Expr {
    return this.precedence(node, "unary", "ArithmeticOperator", ARITHMETIC_PRECEDENCE, (n) =>
      this.unary(n, depth),
    );
  }

  private unary(node: CstNode, depth: number): A.Expr {
    const ch = node.children;
    const span = this.nodeSpan(node);
    const inner = this.node(ch, "unary");
    if (ch.Minus && inner) {
      if (this.tooDeep(span, depth + 1)) return { kind: "error", span };
      const operand = this.unary(inner, depth + 1);
      // Fold `-5` into a literal so that fmt and the checker see a number, not an operation.
      if (
        operand.kind === "literal" &&
        (operand.type === "number" || operand.type === "duration")
      ) {
        return { ...operand, value: -(operand.value as number), raw: `-${operand.raw}`, span };
      }
      return { kind: "unary", op: "neg", operand, span };
    }
    return this.postfix(node, depth);
  }

  private postfix(node: CstNode, depth: number): A.Expr {
    const ch = node.children;
    const primaryNode = this.node(ch, "primary");
    if (!primaryNode) return { kind: "error", span: this.nodeSpan(node) };
    const base = this.primary(primaryNode, depth);
    const names = (ch.Name ?? [])
      .filter(isToken)
      .filter((tk) => !tk.isInsertedInRecovery && !Number.isNaN(tk.startOffset));
    if (names.length === 0) return base;
    if (base.kind !== "path") {
      // `(x).y` or `f().y`: only paths have fields.
      if (base.kind === "error") return base;
      const span = this.nodeSpan(node);
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

  private primary(node: CstNode, depth: number): A.Expr {
    const ch = node.children;
    const span = this.nodeSpan(node);
    const lit = this.literalToken(ch);
    if (lit) return this.literal(lit);
    const list = this.node(ch, "listLiteral");
    if (list) return this.listLiteral(list, depth + 1);
    const count = this.node(ch, "countExpr");
    if (count) {
      const cch = count.children;
      const id = this.tok(cch, "Identifier");
      const coll = this.node(cch, "arith");
      const body = this.node(cch, "expression");
      if (!id || !coll || !body || this.tooDeep(span, depth + 1)) return { kind: "error", span };
      return {
        kind: "count",
        variable: this.name(id),
        collection: this.arith(coll, depth + 1),
        body: this.expression(body, depth + 2),
        span: this.nodeSpan(count),
      };
    }
    const id = this.tok(ch, "Identifier");
    if (id) {
      if (ch.LParen) {
        const args = this.nodes(ch, "expression").map((e) => this.expression(e, depth + 1));
        return { kind: "call", callee: this.name(id), args, span };
      }
      return { kind: "path", segments: [this.name(id)], span };
    }
    const ctx = this.tok(ch, "Context");
    if (ctx) return { kind: "path", segments: [this.name(ctx)], span };
    const inner = this.node(ch, "expression");
    if (inner) {
      if (this.tooDeep(span, depth + 1)) return { kind: "error", span };
      return this.expression(inner, depth + 1);
    }
    return { kind: "error", span };
  }

  private listLiteral(node: CstNode, depth: number): A.ListExpr {
    const span = this.nodeSpan(node);
    const elements = this.nodes(node.children, "expression");
    const commas = (node.children.Comma ?? []).length;
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
    return { kind: "list", items: elements.map((e) => this.expression(e, depth + 1)), span };
  }

  private literalToken(ch: Children): IToken | undefined {
    for (const key of LITERAL_KEYS) {
      const e = ch[key]?.[0];
      if (isToken(e)) return e;
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
] as const;

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
