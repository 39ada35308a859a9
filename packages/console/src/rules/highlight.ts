// A small tokenizer for showing rule files with syntax highlighting. It only colours text: the
// server's compiler is the one that reads rules, so a construct this gets wrong is shown in the
// wrong colour, never misunderstood.

// the keyword list only: the package is side-effect free, so the editor stays out of this page
import { KEYWORDS } from "@clearance/codemirror-lang";

const KEYWORD_SET = new Set(KEYWORDS);
// hyphenated keywords first, as the DSL's lexer tries them before the plain word they start with
const HYPHENATED = KEYWORDS.filter((k) => k.includes("-"));

export type TokenKind = "keyword" | "string" | "number" | "comment" | "regex" | "name" | "text";

export interface Token {
  kind: TokenKind;
  text: string;
}

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
// timestamps, durations and numbers all read as numbers here
const NUMBER =
  /\d{4}-\d{2}-\d{2}(?:T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?)?|\d+(?:ms|[smhdw])(?:\d+(?:ms|[smhdw]))*|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

function stringEnd(line: string, at: number): number {
  let i = at + 1;
  while (i < line.length) {
    const c = line[i];
    if (c === "\\") i += 2;
    else if (c === '"') return i + 1;
    else i++;
  }
  return line.length;
}

/** `/re/flags` from `at`, as the DSL reads it after `matches`; -1 when there is none. */
function regexEnd(line: string, at: number): number {
  let i = at + 1;
  let inClass = false;
  while (i < line.length) {
    const c = line[i];
    if (c === "\\") i += 2;
    else if (inClass) {
      if (c === "]") inClass = false;
      i++;
    } else if (c === "[") {
      inClass = true;
      i++;
    } else if (c === "/") {
      if (i === at + 1) return -1;
      i++;
      while (i < line.length && /[A-Za-z]/.test(line[i]!)) i++;
      return i;
    } else i++;
  }
  return -1;
}

/**
 * One line's tokens (strings, comments and regexes never span lines in the DSL). `afterMatches`
 * carries whether the last word of the previous line was `matches`, which makes a `/` a regex.
 */
export function tokenizeLine(
  line: string,
  state: { afterMatches: boolean } = { afterMatches: false },
): Token[] {
  const out: Token[] = [];
  let text = "";
  const push = (kind: TokenKind, t: string) => {
    if (text) {
      out.push({ kind: "text", text });
      text = "";
    }
    out.push({ kind, text: t });
  };
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === "#") {
      push("comment", line.slice(i));
      break;
    }
    if (c === '"') {
      const end = stringEnd(line, i);
      push("string", line.slice(i, end));
      i = end;
      state.afterMatches = false;
      continue;
    }
    if (c === "/" && state.afterMatches) {
      const end = regexEnd(line, i);
      if (end > 0) {
        push("regex", line.slice(i, end));
        i = end;
        state.afterMatches = false;
        continue;
      }
    }
    const hyphenated = HYPHENATED.find(
      (k) => line.startsWith(k, i) && !/[A-Za-z0-9_]/.test(line[i + k.length] ?? ""),
    );
    NAME.lastIndex = i;
    const name = hyphenated ?? NAME.exec(line)?.[0];
    if (name !== undefined && (i === 0 || !/[A-Za-z0-9_]/.test(line[i - 1]!))) {
      // a keyword after `.` is a property name (`e.result`, `x.count`), as in the DSL
      const property = line[i - 1] === ".";
      push(KEYWORD_SET.has(name) && !property ? "keyword" : "name", name);
      state.afterMatches = name === "matches" && !property;
      i += name.length;
      continue;
    }
    NUMBER.lastIndex = i;
    const number = /\d/.test(c) ? NUMBER.exec(line)?.[0] : undefined;
    if (number !== undefined) {
      push("number", number);
      i += number.length;
      state.afterMatches = false;
      continue;
    }
    if (!/\s/.test(c)) state.afterMatches = false;
    text += c;
    i++;
  }
  if (text) out.push({ kind: "text", text });
  return out;
}

/** Every line of a file, tokenized. */
export function tokenize(source: string): Token[][] {
  const state = { afterMatches: false };
  return source.split(/\r?\n/).map((line) => tokenizeLine(line, state));
}
