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
export const Rule = keyword("rule", "Rule");
export const Priority = keyword("priority", "Priority");
export const Monitor = keyword("monitor", "Monitor");
export const Expires = keyword("expires", "Expires");
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

export const KEYWORDS: ReadonlySet<string> = new Set(
  keywords.map((k) => (k.PATTERN as RegExp).source.replace(/\\-/g, "-")),
);

export const StringLiteral = createToken({
  name: "StringLiteral",
  pattern: /"(?:[^"\\\n\r]|\\.)*"/,
  label: "a string",
});
/** A string without its closing quote: lexed so the parser can go on, reported as unterminated_string. */
export const UnterminatedString = createToken({
  name: "UnterminatedString",
  pattern: /"(?:[^"\\\n\r]|\\.)*/,
  categories: [StringLiteral],
  label: "a string",
});
export const Timestamp = createToken({
  name: "Timestamp",
  pattern: /\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?)?/,
  label: "a timestamp",
});
export const Duration = createToken({
  name: "Duration",
  pattern: /\d+(?:ms|[smhdw])(?:\d+(?:ms|[smhdw]))*(?![A-Za-z0-9_])/,
  label: "a duration",
});
export const NumberLiteral = createToken({
  name: "NumberLiteral",
  pattern: /\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/,
  label: "a number",
});

const regexBody = /\/((?:[^/\\\n\r[]|\\[^\n\r]|\[(?:[^\]\\\n\r]|\\[^\n\r])*\])+)\/([A-Za-z]*)/y;
/** `/re/flags`, recognised only right after `matches`, so `/` elsewhere is division. */
export const RegexLiteral = createToken({
  name: "RegexLiteral",
  pattern: {
    exec: (text: string, offset: number, tokens: IToken[]): RegExpExecArray | null => {
      const previous = tokens[tokens.length - 1];
      if (previous === undefined || previous.tokenType !== Matches) return null;
      regexBody.lastIndex = offset;
      return regexBody.exec(text);
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

export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  // hyphenated keywords first: `deny-overrides` must not lex as `deny` `-` `overrides`
  DenyOverrides,
  FirstMatch,
  OnError,
  ...keywords.filter((k) => k !== DenyOverrides && k !== FirstMatch && k !== OnError),
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
  // categories last: they match nothing themselves
  Name,
  Action,
  LogicalOperator,
  ArithmeticOperator,
  ComparisonOperator,
  AdditiveOperator,
  MultiplicativeOperator,
];
