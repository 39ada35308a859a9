import type { IToken, TokenType } from "chevrotain";
import { createToken, Lexer } from "./chevrotain.js";

/*
 * The token list, in the order the lexer tries them. The order matters:
 * - whitespace and comments first (comments go to their own group so the formatter keeps them);
 * - hyphenated keywords (`deny-overrides`) before the plain keyword they start with (`deny`);
 * - every keyword before Identifier, each with `longer_alt: Identifier` so `denyList` is a name;
 * - Timestamp and Duration before Number, since both start with digits;
 * - Regex before Slash: it matches only right after `matches`, where division cannot appear;
 * - two-character operators before their one-character prefixes.
 */

export const WhiteSpace = createToken({
  name: "WhiteSpace",
  pattern: /[ \t\r\n\uFEFF]+/,
  group: Lexer.SKIPPED,
});
export const Comment = createToken({ name: "Comment", pattern: /#[^\n]*/, group: "comments" });

/** Any identifier or keyword: property names after `.` may be keywords (`e.result`, `x.count`). */
export const Name = createToken({ name: "Name", pattern: Lexer.NA });
export const Identifier = createToken({
  name: "Identifier",
  pattern: /[A-Za-z_][A-Za-z0-9_]*/,
  categories: [Name],
  label: "a name",
});

/** `allow` / `deny` / `review`: a rule's outcome. */
export const Action = createToken({
  name: "Action",
  pattern: Lexer.NA,
  label: "`allow`, `deny` or `review`",
});
/** `and` / `or`: one flat chain in the grammar; the AST builder gives `and` the higher precedence. */
export const LogicalOperator = createToken({ name: "LogicalOperator", pattern: Lexer.NA });
/** `+ - * / %`: one flat chain in the grammar; the AST builder gives `* / %` the higher precedence. */
export const ArithmeticOperator = createToken({ name: "ArithmeticOperator", pattern: Lexer.NA });

const keywords: TokenType[] = [];
function keyword(word: string, name: string, extraCategories: TokenType[] = []): TokenType {
  const escaped = word.replace(/-/g, "\\-");
  const token = createToken({
    name,
    pattern: new RegExp(escaped),
    longer_alt: Identifier,
    categories: [Name, ...extraCategories],
    label: `\`${word}\``,
  });
  keywords.push(token);
  return token;
}

// declarations
export const Ruleset = keyword("ruleset", "Ruleset");
export const Strategy = keyword("strategy", "Strategy");
export const DenyOverrides = keyword("deny-overrides", "DenyOverrides");
export const FirstMatch = keyword("first-match", "FirstMatch");
export const Default = keyword("default", "Default");
export const OnError = keyword("on-error", "OnError");
export const Ignore = keyword("ignore", "Ignore");
export const List = keyword("list", "List");
export const Hashlist = keyword("hashlist", "Hashlist");
export const From = keyword("from", "From");
export const Context = keyword("context", "Context");
// before `in` below: `inputs` must not lex as `in` followed by `puts`
export const Inputs = keyword("inputs", "Inputs");
export const Rule = keyword("rule", "Rule");
export const Priority = keyword("priority", "Priority");
export const Monitor = keyword("monitor", "Monitor");
export const Expires = keyword("expires", "Expires");
export const Overrides = keyword("overrides", "Overrides");
export const ForbidApproval = keyword("forbid-approval", "ForbidApproval");
export const When = keyword("when", "When");
export const Unless = keyword("unless", "Unless");
// outcomes
export const Allow = keyword("allow", "Allow", [Action]);
export const Deny = keyword("deny", "Deny", [Action]);
export const Review = keyword("review", "Review", [Action]);
// expressions
export const And = keyword("and", "And", [LogicalOperator]);
export const Or = keyword("or", "Or", [LogicalOperator]);
export const Not = keyword("not", "Not");
export const In = keyword("in", "In");
export const Contains = keyword("contains", "Contains");
export const StartsWith = keyword("startsWith", "StartsWith");
export const EndsWith = keyword("endsWith", "EndsWith");
export const Matches = keyword("matches", "Matches");
export const Any = keyword("any", "Any");
export const All = keyword("all", "All");
export const Count = keyword("count", "Count");
export const Where = keyword("where", "Where");
export const True = keyword("true", "True");
export const False = keyword("false", "False");
// built-in inputs beside the result and the context (docs/language.md, "Exceptions and review cases")
export const Exception = keyword("exception", "Exception");
export const Case = keyword("case", "Case");

export const KEYWORDS: ReadonlySet<string> = new Set(
  keywords.map((k) => (k.PATTERN as RegExp).source.replace(/\\-/g, "-")),
);

/*
 * Strings, durations and regexes are matched by hand-written scanners, not regexes: V8 matches
 * `(?:a|b)*` with a backtracking stack that grows with the input, so a string of a few million
 * characters (a reason with a million `{}` holes, a million escapes) overflowed it and crashed the
 * lexer. Each scanner accepts exactly what the regex in its comment accepts, in one linear pass.
 */

/** A match in the shape Chevrotain expects from a custom pattern. */
function matched(text: string, start: number, end: number): RegExpExecArray {
  return [text.slice(start, end)] as unknown as RegExpExecArray;
}

/** What `.` matches without the `s` flag: anything but a line terminator. */
function escapable(code: number): boolean {
  return code !== 0x0a && code !== 0x0d && code !== 0x2028 && code !== 0x2029;
}

/**
 * The end of a string's body starting after the `"` at `offset`: the offset of the first character
 * that `(?:[^"\\\n\r]|\\.)*` does not take.
 */
function stringBodyEnd(text: string, offset: number): number {
  let i = offset + 1;
  for (;;) {
    const code = text.charCodeAt(i);
    if (Number.isNaN(code) || code === 0x22 || code === 0x0a || code === 0x0d) return i;
    if (code === 0x5c) {
      if (i + 1 >= text.length || !escapable(text.charCodeAt(i + 1))) return i;
      i += 2;
    } else i++;
  }
}

export const StringLiteral = createToken({
  name: "StringLiteral",
  // /"(?:[^"\\\n\r]|\\.)*"/
  pattern: {
    exec: (text: string, offset: number): RegExpExecArray | null => {
      if (text.charCodeAt(offset) !== 0x22) return null;
      const end = stringBodyEnd(text, offset);
      return text.charCodeAt(end) === 0x22 ? matched(text, offset, end + 1) : null;
    },
  },
  line_breaks: false,
  start_chars_hint: ['"'],
  label: "a string",
});
/** A string without its closing quote: lexed so the parser can go on, reported as unterminated_string. */
export const UnterminatedString = createToken({
  name: "UnterminatedString",
  // /"(?:[^"\\\n\r]|\\.)*/, tried after StringLiteral
  pattern: {
    exec: (text: string, offset: number): RegExpExecArray | null =>
      text.charCodeAt(offset) === 0x22 ? matched(text, offset, stringBodyEnd(text, offset)) : null,
  },
  line_breaks: false,
  start_chars_hint: ['"'],
  categories: [StringLiteral],
  label: "a string",
});
export const Timestamp = createToken({
  name: "Timestamp",
  pattern: /\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?)?/,
  label: "a timestamp",
});
const durationPart = /\d+(?:ms|[smhdw])/y;
const wordCharacter = /[A-Za-z0-9_]/;
export const Duration = createToken({
  name: "Duration",
  // /\d+(?:ms|[smhdw])(?:\d+(?:ms|[smhdw]))*(?![A-Za-z0-9_])/: the parts one at a time. Taking `ms`
  // over `m` whenever it can loses nothing: `m` then `s` leaves a letter, which the end test refuses.
  pattern: {
    exec: (text: string, offset: number): RegExpExecArray | null => {
      let end = offset;
      for (;;) {
        durationPart.lastIndex = end;
        if (!durationPart.test(text)) break;
        end = durationPart.lastIndex;
      }
      if (end === offset || wordCharacter.test(text.charAt(end))) return null;
      return matched(text, offset, end);
    },
  },
  line_breaks: false,
  start_chars_hint: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
  label: "a duration",
});
export const NumberLiteral = createToken({
  name: "NumberLiteral",
  pattern: /\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/,
  label: "a number",
});

/**
 * The end of `/re/flags` starting at `offset`, or -1: what
 * `/\/((?:[^/\\\n\r[]|\\[^\n\r]|\[(?:[^\]\\\n\r]|\\[^\n\r])*\])+)\/([A-Za-z]*)/y` matches.
 */
function regexEnd(text: string, offset: number): number {
  if (text.charCodeAt(offset) !== 0x2f) return -1;
  const lineBreak = (code: number) => code === 0x0a || code === 0x0d;
  let i = offset + 1;
  let inClass = false;
  for (;;) {
    const code = text.charCodeAt(i);
    if (Number.isNaN(code) || lineBreak(code)) return -1;
    if (code === 0x5c) {
      const next = text.charCodeAt(i + 1);
      if (Number.isNaN(next) || lineBreak(next)) return -1;
      i += 2;
    } else if (inClass) {
      if (code === 0x5d) inClass = false;
      i++;
    } else if (code === 0x5b) {
      inClass = true;
      i++;
    } else if (code === 0x2f) {
      if (i === offset + 1) return -1;
      i++;
      while (/[A-Za-z]/.test(text.charAt(i))) i++;
      return i;
    } else i++;
  }
}

/** `/re/flags`, recognised only right after `matches`, so `/` elsewhere is division. */
export const RegexLiteral = createToken({
  name: "RegexLiteral",
  pattern: {
    exec: (text: string, offset: number, tokens: IToken[]): RegExpExecArray | null => {
      const previous = tokens[tokens.length - 1];
      if (previous === undefined || previous.tokenType !== Matches) return null;
      const end = regexEnd(text, offset);
      return end < 0 ? null : matched(text, offset, end);
    },
  },
  line_breaks: false,
  start_chars_hint: ["/"],
  label: "a regular expression",
});

export const LBrace = createToken({ name: "LBrace", pattern: /\{/, label: "`{`" });
export const RBrace = createToken({ name: "RBrace", pattern: /\}/, label: "`}`" });
export const LParen = createToken({ name: "LParen", pattern: /\(/, label: "`(`" });
export const RParen = createToken({ name: "RParen", pattern: /\)/, label: "`)`" });
export const LBracket = createToken({ name: "LBracket", pattern: /\[/, label: "`[`" });
export const RBracket = createToken({ name: "RBracket", pattern: /\]/, label: "`]`" });
export const Comma = createToken({ name: "Comma", pattern: /,/, label: "`,`" });
export const Colon = createToken({ name: "Colon", pattern: /:/, label: "`:`" });
export const Dot = createToken({ name: "Dot", pattern: /\./, label: "`.`" });

export const ComparisonOperator = createToken({ name: "ComparisonOperator", pattern: Lexer.NA });
export const EqEq = createToken({
  name: "EqEq",
  pattern: /==/,
  categories: [ComparisonOperator],
  label: "`==`",
});
export const NotEq = createToken({
  name: "NotEq",
  pattern: /!=/,
  categories: [ComparisonOperator],
  label: "`!=`",
});
export const LtEq = createToken({
  name: "LtEq",
  pattern: /<=/,
  categories: [ComparisonOperator],
  label: "`<=`",
});
export const GtEq = createToken({
  name: "GtEq",
  pattern: />=/,
  categories: [ComparisonOperator],
  label: "`>=`",
});
export const Lt = createToken({
  name: "Lt",
  pattern: /</,
  categories: [ComparisonOperator],
  label: "`<`",
});
export const Gt = createToken({
  name: "Gt",
  pattern: />/,
  categories: [ComparisonOperator],
  label: "`>`",
});
export const Assign = createToken({ name: "Assign", pattern: /=/, label: "`=`" });

export const AdditiveOperator = createToken({ name: "AdditiveOperator", pattern: Lexer.NA });
export const Plus = createToken({
  name: "Plus",
  pattern: /\+/,
  categories: [AdditiveOperator, ArithmeticOperator],
  label: "`+`",
});
export const Minus = createToken({
  name: "Minus",
  pattern: /-/,
  categories: [AdditiveOperator, ArithmeticOperator],
  label: "`-`",
});
export const MultiplicativeOperator = createToken({
  name: "MultiplicativeOperator",
  pattern: Lexer.NA,
});
export const Star = createToken({
  name: "Star",
  pattern: /\*/,
  categories: [MultiplicativeOperator, ArithmeticOperator],
  label: "`*`",
});
export const Slash = createToken({
  name: "Slash",
  pattern: /\//,
  categories: [MultiplicativeOperator, ArithmeticOperator],
  label: "`/`",
});
export const Percent = createToken({
  name: "Percent",
  pattern: /%/,
  categories: [MultiplicativeOperator, ArithmeticOperator],
  label: "`%`",
});

/** ASCII characters that start some token; `!` only when `=` follows. */
const TOKEN_START = new Uint8Array(128);
for (const ch of ' \t\r\n#_"{}()[],:.=<>+-*/%0123456789') TOKEN_START[ch.charCodeAt(0)] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN_START[c] = TOKEN_START[c + 0x20] = 1;

/** Whether no token can start at `i`: the lexer would report an unexpected character there. */
function startsNoToken(text: string, i: number): boolean {
  const code = text.charCodeAt(i);
  if (Number.isNaN(code)) return false;
  if (code === 0x21) return text.charCodeAt(i + 1) !== 0x3d;
  if (code < 0x80) return TOKEN_START[code] === 0;
  return code !== 0xfeff;
}

/** Every character code class the lexer's first-character table distinguishes, for the hint. */
const NO_TOKEN_START_HINT: number[] = [];
for (let c = 0; c < 0x100; c++)
  if (c === 0x21 || startsNoToken(String.fromCharCode(c), 0)) NO_TOKEN_START_HINT.push(c);
for (let c = 0x100; c <= 0xffff; c += 0xff) NO_TOKEN_START_HINT.push(c);
NO_TOKEN_START_HINT.push(0xffff);

/**
 * A run of characters that start no token (`&&`, `'`, control characters): matched in one pass and
 * reported as unexpected_character. Left to Chevrotain's error recovery, which tries every token
 * at every character of the run, a 15 MB run took 30 seconds to lex.
 */
export const Unexpected = createToken({
  name: "Unexpected",
  pattern: {
    exec: (text: string, offset: number): RegExpExecArray | null => {
      let end = offset;
      while (startsNoToken(text, end)) end++;
      return end === offset ? null : matched(text, offset, end);
    },
  },
  line_breaks: false,
  start_chars_hint: NO_TOKEN_START_HINT,
  group: "unexpected",
  label: "an unexpected character",
});

export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  // hyphenated keywords first: `deny-overrides` must not lex as `deny` `-` `overrides`
  DenyOverrides,
  FirstMatch,
  OnError,
  ForbidApproval,
  ...keywords.filter(
    (k) => k !== DenyOverrides && k !== FirstMatch && k !== OnError && k !== ForbidApproval,
  ),
  Identifier,
  StringLiteral,
  UnterminatedString,
  Timestamp,
  Duration,
  NumberLiteral,
  RegexLiteral,
  LBrace,
  RBrace,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Comma,
  Colon,
  Dot,
  EqEq,
  NotEq,
  LtEq,
  GtEq,
  Lt,
  Gt,
  Assign,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  // characters no token starts with: tried last, and only where nothing else can match
  Unexpected,
  // categories last: they match nothing themselves
  Name,
  Action,
  LogicalOperator,
  ArithmeticOperator,
  ComparisonOperator,
  AdditiveOperator,
  MultiplicativeOperator,
];
