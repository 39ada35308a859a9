import type { IRecognitionException, IToken, TokenType } from "chevrotain";
import type { Expr, Item, RuleFile } from "./ast.js";
import { AstBuilder } from "./build-ast.js";
import type * as Cst from "./cst-types.js";
import { type Diagnostic, DiagnosticCollector, diagnostic, failureMessage } from "./diagnostics.js";
import { lex } from "./lexer.js";
import { DEFAULT_LIMITS, type LanguageLimits } from "./options.js";
import { parser, TooManyErrors } from "./parser.js";
import type { SourceFile } from "./source.js";
import { didYouMean } from "./suggest.js";
import * as t from "./tokens.js";

export interface ParseResult {
  ast: RuleFile;
  diagnostics: Diagnostic[];
  /** diagnostics found beyond `maxDiagnostics` of one severity, counted but not kept */
  omitted: number;
}

/**
 * Source text -> AST and diagnostics. Never throws: every problem is a located diagnostic,
 * and the parser recovers to report the problems after the first one too.
 */
export function parseFile(file: SourceFile, limits: LanguageLimits = DEFAULT_LIMITS): ParseResult {
  const empty: RuleFile = { path: file.path, items: [], comments: [] };
  if (Buffer.byteLength(file.text, "utf8") > limits.maxFileBytes) {
    return {
      ast: empty,
      omitted: 0,
      diagnostics: [
        diagnostic(
          "file_too_large",
          `file is larger than the limit of ${limits.maxFileBytes} bytes`,
          { file: file.path, start: 0, end: 0 },
          {
            help: "split the rules over several files, or move long lists to a `hashlist`",
          },
        ),
      ],
    };
  }
  const lexed = lex(file, limits.maxDiagnostics);
  const collected = new DiagnosticCollector(limits.maxDiagnostics);
  collected.addAll(lexed.diagnostics);
  collected.omitted += lexed.omitted;
  const done = (ast: RuleFile): ParseResult => ({
    ast,
    diagnostics: collected.list,
    omitted: collected.omitted,
  });
  const tooDeep = nestingProblem(lexed.tokens, file.path, limits);
  if (tooDeep) {
    collected.add(tooDeep);
    return done({ ...empty, comments: [] });
  }
  try {
    const builder = new AstBuilder(file.path, limits);
    const items: Item[] = [];
    /** offsets of the declarations that had syntax errors */
    const erroneous: { start: number; end: number }[] = [];
    // Parse one top-level declaration at a time: each concrete syntax tree becomes garbage as
    // soon as its AST is built, instead of a whole file's tree staying alive (100,000 rules
    // parsed in one go spent 40% of the time in the garbage collector). A syntax error is also
    // contained in its declaration.
    // Recovering from a syntax error costs the parser about a millisecond: a file of errors is
    // not parsed to its end once more errors were found than can be shown.
    const stopAt = (token: IToken): void => {
      const start = Number.isNaN(token.startOffset) ? file.text.length : token.startOffset;
      collected.add(
        diagnostic(
          "syntax_error",
          "too many errors: the rest of the file is not parsed",
          { file: file.path, start, end: start + token.image.length },
          { help: "fix the errors above and check again" },
        ),
      );
    };
    for (const chunk of topLevelChunks(lexed.tokens)) {
      const budget = limits.maxDiagnostics - collected.list.length - builder.diagnostics.length;
      if (budget <= 0) {
        stopAt(chunk[0]!);
        break;
      }
      if (chunk.length > limits.maxDeclarationTokens) {
        const first = chunk[0]!;
        const last = chunk[chunk.length - 1]!;
        // marked at its first token: the declaration itself may be megabytes long
        const end = first.startOffset + first.image.length;
        collected.add(
          tooManyTokens(file.path, first.startOffset, end, chunk.length, limits, "declaration"),
        );
        erroneous.push({ start: first.startOffset, end: last.endOffset! });
        continue;
      }
      parser.input = chunk;
      parser.errorLimit = budget;
      let cst: Cst.FileCstNode;
      try {
        cst = parser.file() as Cst.FileCstNode;
      } catch (error) {
        if (!(error instanceof TooManyErrors)) throw error;
        const errors = parser.errors;
        for (const e of errors) collected.add(parseError(e, file.path, file.text.length, chunk));
        stopAt(errors[errors.length - 1]!.token);
        break;
      } finally {
        parser.errorLimit = Number.POSITIVE_INFINITY;
      }
      for (const e of parser.errors)
        collected.add(parseError(e, file.path, file.text.length, chunk));
      if (parser.errors.length > 0 && chunk.length > 0)
        erroneous.push({ start: chunk[0]!.startOffset, end: chunk[chunk.length - 1]!.endOffset! });
      for (const item of builder.file(cst.children, { node: cst, depth: 0 })) items.push(item);
      // The parser is done with this declaration: now its reasons' `{holes}` are parsed, one by
      // one: the builder never calls the parser, and no parse is ever interrupted by another.
      builder.fillHoles(
        builder.pendingHoles.map((h) => parseHole(file.path, h.text, h.base, limits)),
      );
    }
    // A rule with a syntax error lacks what the error hid (`wen ...` is no `when`): saying so too
    // would only repeat it, and first, since the rule's name comes before the error.
    collected.addAll(
      builder.diagnostics.filter(
        (d) =>
          !FOLLOW_ON.has(d.code) ||
          !erroneous.some((c) => c.start <= d.span.start && d.span.start <= c.end),
      ),
    );
    collected.omitted += builder.omitted;
    return done({ path: file.path, items, comments: builder.comments(lexed.comments) });
  } catch (error) {
    // Defence in depth: the token pre-scan bounds recursion, but a parser bug must not crash a caller.
    collected.add(
      diagnostic(
        "compile_failed",
        `the file cannot be parsed: ${failureMessage(error)}`,
        { file: file.path, start: 0, end: 0 },
        { help: PARSE_FAILED_HELP },
      ),
    );
    return done(empty);
  }
}

/** Parses one expression, e.g. the text of a `{hole}` in a reason; `base` is its offset in the file. */
export function parseExpression(
  path: string,
  text: string,
  base = 0,
  limits: LanguageLimits = DEFAULT_LIMITS,
): { expr: Expr; diagnostics: Diagnostic[] } {
  return parseHole(path, text, base, limits);
}

function parseHole(
  path: string,
  text: string,
  base: number,
  limits: LanguageLimits,
): { expr: Expr; diagnostics: Diagnostic[] } {
  const span = { file: path, start: base, end: base + text.length };
  const lexed = lex({ path, text }, limits.maxDiagnostics);
  const shift = (d: Diagnostic): Diagnostic => ({
    ...d,
    span: { ...d.span, start: d.span.start + base, end: d.span.end + base },
  });
  const diagnostics = lexed.diagnostics.map(shift);
  if (lexed.tokens.length > limits.maxDeclarationTokens)
    return {
      expr: { kind: "error", span },
      diagnostics: [
        ...diagnostics,
        tooManyTokens(path, span.start, span.end, lexed.tokens.length, limits, "reason hole"),
      ],
    };
  const tooDeep = nestingProblem(lexed.tokens, path, limits);
  if (tooDeep)
    return { expr: { kind: "error", span }, diagnostics: [...diagnostics, shift(tooDeep)] };
  try {
    parser.input = lexed.tokens;
    parser.errorLimit = limits.maxDiagnostics;
    let cst: Cst.ExpressionCstNode | undefined;
    try {
      cst = parser.expression() as Cst.ExpressionCstNode;
    } catch (error) {
      // a hole of nothing but errors: those found so far are reported
      if (!(error instanceof TooManyErrors)) throw error;
    }
    const errors = parser.errors.map((e) => {
      const d = shift(parseError(e, path, text.length));
      if (e.name === "NotAllInputParsedException")
        d.message = `unexpected \`${e.token.image}\` after the expression`;
      return d;
    });
    if (cst === undefined)
      return { expr: { kind: "error", span }, diagnostics: [...diagnostics, ...errors] };
    const builder = new AstBuilder(path, limits, base);
    const expr = builder.expression(cst.children, { node: cst, depth: 0 });
    return { expr, diagnostics: [...diagnostics, ...errors, ...builder.diagnostics] };
  } catch (error) {
    return {
      expr: { kind: "error", span },
      diagnostics: [
        ...diagnostics,
        diagnostic(
          "compile_failed",
          `the reason cannot be parsed: ${failureMessage(error)}`,
          span,
          {
            help: PARSE_FAILED_HELP,
          },
        ),
      ],
    };
  } finally {
    parser.errorLimit = Number.POSITIVE_INFINITY;
  }
}

const PARSE_FAILED_HELP =
  "split long or deeply nested conditions into smaller rules; if the file is small, this is a bug in Clearance: please report it";

function parseError(
  e: IRecognitionException,
  path: string,
  length: number,
  chunk: readonly IToken[] = [],
): Diagnostic {
  const token = e.token;
  const atEnd =
    token.tokenType === undefined || token.image === "" || Number.isNaN(token.startOffset);
  const previous = (e as IRecognitionException & { previousToken?: IToken }).previousToken;
  const start = atEnd
    ? previous && !Number.isNaN(previous.startOffset)
      ? previous.startOffset + previous.image.length
      : length
    : token.startOffset;
  const end = atEnd ? start : start + token.image.length;
  const span = { file: path, start, end };
  const rules = e.context?.ruleStack ?? [];
  const inRule = rules.includes("ruleDecl");
  // a rule whose `}` is missing: the chunk ends where the next rule starts (`topLevelChunks`)
  const last = chunk[chunk.length - 1];
  if (
    inRule &&
    atEnd &&
    e.message.startsWith("expected `}`") &&
    chunk[0]?.tokenType === t.Rule &&
    last !== undefined &&
    last.endOffset !== undefined &&
    last.endOffset + 1 < length
  ) {
    const name = chunk[1]?.tokenType === t.Identifier ? chunk[1].image : undefined;
    return diagnostic(
      "syntax_error",
      `rule${name ? ` \`${name}\`` : ""} is not closed: expected \`}\` before the next rule`,
      span,
      {
        help: "end the rule with `}` after its outcome",
        related: [
          {
            message: "the rule starts here",
            span: { file: path, start: chunk[0].startOffset, end: chunk[0].startOffset + 4 },
          },
        ],
      },
    );
  }
  // an identifier where a keyword belongs: most often a misspelt keyword
  if (!atEnd && token.tokenType === t.Identifier) {
    const candidates = inRule
      ? rules.includes("ruleClause") || e.message.startsWith("expected `}`")
        ? CLAUSE_KEYWORDS
        : [...MODIFIER_KEYWORDS, ...CLAUSE_KEYWORDS]
      : rules.length <= 1
        ? DECLARATION_KEYWORDS
        : [];
    const suggestion = didYouMean(token.image, candidates);
    if (suggestion !== undefined)
      return diagnostic("unknown_keyword", `unknown keyword \`${token.image}\``, span, {
        help: suggestion,
      });
  }
  return diagnostic("syntax_error", e.message, span, { help: syntaxHelp(e) });
}

/** Diagnostics of a declaration's structure that a syntax error in it makes redundant. */
const FOLLOW_ON = new Set(["missing_when", "missing_outcome"]);

/** What may start a clause of a rule, its modifiers, and a declaration: for did-you-mean. */
const CLAUSE_KEYWORDS = ["when", "unless", "allow", "deny", "review"];
const MODIFIER_KEYWORDS = ["priority", "monitor", "expires", "overrides", "forbid-approval"];
const DECLARATION_KEYWORDS = [
  "ruleset",
  "strategy",
  "default",
  "on-error",
  "list",
  "hashlist",
  "context",
  "inputs",
  "rule",
];

function syntaxHelp(e: IRecognitionException): string | undefined {
  const image = e.token.image;
  const rules = e.context?.ruleStack ?? [];
  if (image === "=") return "compare with `==`; `=` only names a list: `list name = [...]`";
  if (
    (e as IRecognitionException & { previousToken?: IToken }).previousToken?.tokenType ===
    t.Overrides
  )
    return "write `overrides review` or `overrides deny`: the matched rules of that action this allow rule wins over";
  if (rules.includes("inputsDecl"))
    return "name the inputs the rule set will see, separated by `,`: `inputs canonical, virustotal`";
  if (image === "&&" || image === "&") return "write `and`";
  if (image === "||") return "write `or`";
  if (e.message.startsWith("expected a regular expression"))
    return "write the pattern between slashes after `matches`: `fileName matches /setup.*\\.exe$/i`";
  if (rules.includes("ruleDecl") && e.message.includes("`}`"))
    return "a rule holds `when`, optional `unless`, and one outcome";
  if (rules.includes("ruleDecl"))
    return 'a rule reads: rule name { when <condition> deny "reason" }';
  return undefined;
}

const DECLARATION_STARTS = new Set([
  t.Ruleset,
  t.Strategy,
  t.Default,
  t.OnError,
  t.List,
  t.Hashlist,
  t.Context,
  t.Inputs,
  t.Rule,
]);

/**
 * Splits the tokens before each declaration keyword that stands outside any brackets, and before
 * `rule <name>` that stands only inside braces: no rule body holds a rule, so that is the next
 * rule after one whose `}` is missing. The open rule is then reported where its `}` belongs, and
 * the next one is parsed on its own instead of being swallowed by the error.
 */
function* topLevelChunks(tokens: IToken[]): Generator<IToken[]> {
  const open: TokenType[] = [];
  let start = 0;
  for (let i = 0; i < tokens.length; i++) {
    const type = tokens[i]!.tokenType;
    if (type === t.LParen || type === t.LBracket || type === t.LBrace) open.push(type);
    else if (type === t.RParen || type === t.RBracket || type === t.RBrace) open.pop();
    else if (i > start && DECLARATION_STARTS.has(type) && startsDeclaration(tokens, i, open)) {
      yield tokens.slice(start, i);
      start = i;
      open.length = 0;
    }
  }
  if (start < tokens.length || tokens.length === 0) yield tokens.slice(start);
}

function startsDeclaration(tokens: IToken[], i: number, open: readonly TokenType[]): boolean {
  if (open.length === 0) return true;
  return (
    tokens[i]!.tokenType === t.Rule &&
    tokens[i + 1]?.tokenType === t.Identifier &&
    tokens[i - 1]?.tokenType !== t.Dot &&
    open.every((b) => b === t.LBrace)
  );
}

/** A declaration or hole too long to parse: its syntax tree would not fit in memory. */
function tooManyTokens(
  file: string,
  start: number,
  end: number,
  tokens: number,
  limits: LanguageLimits,
  what: "declaration" | "reason hole",
): Diagnostic {
  return diagnostic(
    "declaration_too_large",
    `this ${what} has ${tokens} tokens, more than the limit of ${limits.maxDeclarationTokens}; it is not parsed`,
    { file, start, end },
    {
      help:
        what === "declaration"
          ? "split the rule, or move long lists of values to a `list` or `hashlist` file"
          : "compute less in the reason: a hole shows a field or a short expression",
    },
  );
}

/**
 * Rejects nesting beyond the limit before parsing: the parser is recursive, and a file of ten
 * thousand `(` must produce a diagnostic, not a stack overflow.
 */
function nestingProblem(
  tokens: IToken[],
  path: string,
  limits: LanguageLimits,
): Diagnostic | undefined {
  // Brackets nest; so do `not` / `-` runs, and a quantifier's body, which runs to the end of its
  // bracket or clause. Braces of rule and context bodies are not expression nesting.
  let brackets = 0;
  const quantifiers: number[] = [0];
  let prefixRun = 0;
  // `list<list<...>>` in a context declaration nests too (the parser and checker recurse on it)
  let inContext = false;
  let typeArguments = 0;
  for (const tk of tokens) {
    const type = tk.tokenType;
    if (type === t.Context) inContext = true;
    else if (type === t.RBrace) {
      inContext = false;
      typeArguments = 0;
    } else if (inContext && type === t.Lt) typeArguments++;
    else if (inContext && type === t.Gt) typeArguments = Math.max(0, typeArguments - 1);
    if (type === t.LParen || type === t.LBracket) {
      brackets++;
      quantifiers.push(0);
    } else if (type === t.RParen || type === t.RBracket) {
      if (brackets > 0) {
        brackets--;
        quantifiers.pop();
      }
    } else if (
      type === t.When ||
      type === t.Unless ||
      type === t.Rule ||
      type === t.Action ||
      type === t.RBrace
    ) {
      brackets = 0;
      quantifiers.length = 1;
      quantifiers[0] = 0;
    } else if (type === t.Any || type === t.All) {
      quantifiers[quantifiers.length - 1]!++;
    }
    prefixRun = type === t.Not || type === t.Minus ? prefixRun + 1 : 0;
    let open = 0;
    for (const q of quantifiers) open += q;
    if (brackets + open + prefixRun + typeArguments > limits.maxNestingDepth) {
      return diagnostic(
        "nesting_too_deep",
        `expression nests deeper than ${limits.maxNestingDepth} levels`,
        { file: path, start: tk.startOffset, end: tk.startOffset + tk.image.length },
        { help: "split the condition into smaller rules or named lists" },
      );
    }
  }
  return undefined;
}
