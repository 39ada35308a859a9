/**
 * Reading a rule's regex (`fileName matches /re/flags`), for regex-analysis.ts and
 * regex-translation.ts: the pattern parsed by regexpp, its syntax errors in the words of
 * docs/diagnostics.md, and the flags as a mode.
 */
import { type AST, RegExpParser, RegExpSyntaxError } from "@eslint-community/regexpp";

export interface RegexProblem {
  code: "invalid_regex" | "unsafe_regex" | "regex_too_long";
  message: string;
  help: string;
  /** Offset of the offending construct inside the pattern source, when known. */
  offset?: number;
  /** Its length, with `offset`. */
  length?: number;
}

export function invalid(
  message: string,
  help: string,
  offset?: number,
  length?: number,
): RegexProblem {
  const p: RegexProblem = { code: "invalid_regex", message, help };
  if (offset !== undefined) {
    p.offset = offset;
    p.length = length ?? 0;
  }
  return p;
}

export const GENERIC_SYNTAX_HELP =
  "check the pattern; to match a special character such as `(`, `[`, `*` or `.` literally, escape it with `\\`";

/** The pattern parsed by regexpp, or its syntax error as a problem. */
export function parsePattern(source: string, unicode: boolean): AST.Pattern | RegexProblem {
  try {
    return new RegExpParser({ ecmaVersion: 2022 }).parsePattern(source, 0, source.length, {
      unicode,
    });
  } catch (e) {
    if (!(e instanceof RegExpSyntaxError)) throw e;
    return syntaxProblem(source, e);
  }
}

/** regexpp's "Invalid regular expression: /src/flags: Unterminated group" → our style. */
export function reword(raw: string): string {
  const at = raw.lastIndexOf(": ");
  let m = at >= 0 ? raw.slice(at + 2) : raw;
  m = m
    .replace(/'([^']*)'/g, "`$1`")
    .replace(/^\\ at end/, "`\\` at end")
    .replace(/ \{\} /, " `{}` ")
    .replace(/\.$/, "");
  return m.charAt(0).toLowerCase() + m.slice(1);
}

function syntaxProblem(source: string, e: RegExpSyntaxError): RegexProblem {
  const message = reword(e.message);
  const index = Math.min(Math.max(e.index, 0), source.length);
  let offset = index;
  let length = index < source.length ? 1 : 0;
  let help = GENERIC_SYNTAX_HELP;
  if (message.startsWith("invalid property name")) {
    const escapeAt = Math.max(source.lastIndexOf("\\p", index), source.lastIndexOf("\\P", index));
    if (escapeAt >= 0) [offset, length] = [escapeAt, index - escapeAt];
    help =
      "use a property V8 knows, such as `\\p{L}`, `\\p{Lu}`, `\\p{Script=Greek}` or `\\p{ASCII}`";
  } else if (message.startsWith("unterminated character class")) {
    offset = unclosed(source).bracket ?? offset;
    length = 1;
    help = "close the class with `]`, or write `\\[` to match a literal `[`";
  } else if (message.startsWith("unterminated group")) {
    offset = unclosed(source).paren ?? offset;
    length = 1;
    help = "close the group with `)`, or write `\\(` to match a literal `(`";
  } else if (message.startsWith("unmatched `)`")) {
    help = "remove it, or write `\\)` to match a literal `)`";
  } else if (message.startsWith("numbers out of order")) {
    const brace = source.lastIndexOf("{", index - 1);
    if (brace >= 0) [offset, length] = [brace, index - brace];
    help = "put the smaller number first, as in `{1,3}`";
  } else if (message.startsWith("nothing to repeat")) {
    const last = source.charAt(index - 1);
    const start = last === "}" ? source.lastIndexOf("{", index - 1) : index - 1;
    if (start >= 0) [offset, length] = [start, index - start];
    help =
      "a quantifier (`*`, `+`, `?`, `{n}`) must follow something it repeats; escape it with `\\` to match it literally";
  }
  return invalid(message, help, offset, length);
}

/** The innermost `(` and the `[` left open at the end of a pattern, for syntax errors. */
function unclosed(source: string): { paren?: number; bracket?: number } {
  const parens: number[] = [];
  let bracket: number | undefined;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") i++;
    else if (bracket !== undefined) {
      if (c === "]") bracket = undefined;
    } else if (c === "[") bracket = i;
    else if (c === "(") parens.push(i);
    else if (c === ")") parens.pop();
  }
  const out: { paren?: number; bracket?: number } = {};
  if (parens.length > 0) out.paren = parens[parens.length - 1]!;
  if (bracket !== undefined) out.bracket = bracket;
  return out;
}

export function snippet(raw: string): string {
  return raw.length <= 40 ? raw : `${raw.slice(0, 37)}...`;
}

/** The flags that change what a pattern matches. */
export interface Mode {
  unicode: boolean;
  ignoreCase: boolean;
  dotAll: boolean;
  multiline: boolean;
}

export function modeOf(flags: string): Mode {
  return {
    unicode: flags.includes("u"),
    ignoreCase: flags.includes("i"),
    dotAll: flags.includes("s"),
    multiline: flags.includes("m"),
  };
}
