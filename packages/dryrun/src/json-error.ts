/**
 * Where JSON text is malformed, and why. `JSON.parse` says why but not always where (V8 reports
 * "Unexpected token" with a snippet, no position), so malformed records are run through this
 * small validator, on the slow path only, to report a position for every syntax error.
 *
 * It accepts exactly what `JSON.parse` accepts (a property test checks it) and reports the first
 * offending UTF-16 offset, which is the position V8 reports when it reports one.
 */

export interface JsonSyntaxError {
  /** UTF-16 offset of the first offending character; the text's length for an unexpected end. */
  offset: number;
  /** Lower case, no trailing period. */
  message: string;
}

const WS_SPACE = 0x20;
const WS_TAB = 0x09;
const WS_LF = 0x0a;
const WS_CR = 0x0d;

function isWs(c: number): boolean {
  return c === WS_SPACE || c === WS_TAB || c === WS_LF || c === WS_CR;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function show(text: string, offset: number): string {
  const code = text.codePointAt(offset)!;
  if (code < 0x20 || code === 0x7f) return `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
  return `\`${String.fromCodePoint(code)}\``;
}

/** What a container expects next. */
type Expect = "value" | "key" | "colon" | "comma_or_close";

/**
 * The first syntax error in `text`, or undefined when `JSON.parse(text)` succeeds. Iterative: no
 * recursion, so deep nesting cannot overflow the stack.
 */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  const n = text.length;
  /** Open containers: `{` or `[`. */
  const stack: number[] = [];
  let expect: Expect = "value";
  let i = 0;
  const end = (what: string): JsonSyntaxError => ({
    offset: n,
    message: `unexpected end of input: expected ${what}`,
  });
  const got = (what: string): JsonSyntaxError => ({
    offset: i,
    message: `expected ${what}, got ${show(text, i)}`,
  });

  for (;;) {
    while (i < n && isWs(text.charCodeAt(i))) i++;
    const top = stack[stack.length - 1];
    if (expect === "comma_or_close") {
      if (top === undefined) {
        if (i < n)
          return { offset: i, message: `unexpected ${show(text, i)} after the JSON value` };
        return undefined;
      }
      const close = top === 0x7b ? "}" : "]";
      if (i >= n) return end(`\`,\` or \`${close}\``);
      const c = text.charCodeAt(i);
      if (c === 0x2c) {
        i++;
        expect = top === 0x7b ? "key" : "value";
        continue;
      }
      if ((top === 0x7b && c === 0x7d) || (top === 0x5b && c === 0x5d)) {
        i++;
        stack.pop();
        continue;
      }
      return got(`\`,\` or \`${close}\``);
    }
    if (expect === "colon") {
      if (i >= n) return end("`:`");
      if (text.charCodeAt(i) !== 0x3a) return got("`:` after a property name");
      i++;
      expect = "value";
      continue;
    }
    if (expect === "key") {
      if (i >= n) return end("a property name");
      if (text.charCodeAt(i) !== 0x22) return got("a double-quoted property name");
      const error = scanString();
      if (error !== undefined) return error;
      expect = "colon";
      continue;
    }
    // A value.
    if (i >= n) return end("a value");
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) {
      stack.push(c);
      i++;
      while (i < n && isWs(text.charCodeAt(i))) i++;
      const close = c === 0x7b ? 0x7d : 0x5d;
      if (i < n && text.charCodeAt(i) === close) {
        i++;
        stack.pop();
        expect = "comma_or_close";
      } else {
        expect = c === 0x7b ? "key" : "value";
      }
      continue;
    }
    let error: JsonSyntaxError | undefined;
    if (c === 0x22) error = scanString();
    else if (c === 0x2d || isDigit(c)) error = scanNumber();
    else if (c === 0x74) error = scanWord("true");
    else if (c === 0x66) error = scanWord("false");
    else if (c === 0x6e) error = scanWord("null");
    else return got("a value");
    if (error !== undefined) return error;
    expect = "comma_or_close";
  }

  function scanString(): JsonSyntaxError | undefined {
    i++; // the opening quote
    for (;;) {
      if (i >= n) return end('a closing `"`');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return undefined;
      }
      if (c < 0x20) {
        return { offset: i, message: `control character ${show(text, i)} in a string` };
      }
      if (c === 0x5c) {
        i++;
        if (i >= n) return end("an escape sequence");
        const e = text.charCodeAt(i);
        if (e === 0x75) {
          for (let k = 1; k <= 4; k++) {
            if (i + k >= n) return end("four hexadecimal digits after `\\u`");
            if (!isHex(text.charCodeAt(i + k))) {
              i += k;
              return {
                offset: i,
                message: `bad \`\\u\` escape: ${show(text, i)} is not hexadecimal`,
              };
            }
          }
          i += 5;
          continue;
        }
        // " \ / b f n r t
        if (
          e === 0x22 ||
          e === 0x5c ||
          e === 0x2f ||
          e === 0x62 ||
          e === 0x66 ||
          e === 0x6e ||
          e === 0x72 ||
          e === 0x74
        ) {
          i++;
          continue;
        }
        return {
          offset: i,
          message: `bad escape \`\\${String.fromCodePoint(text.codePointAt(i)!)}\``,
        };
      }
      i++;
    }
  }

  function scanNumber(): JsonSyntaxError | undefined {
    if (text.charCodeAt(i) === 0x2d) i++;
    if (i >= n) return end("a digit");
    if (text.charCodeAt(i) === 0x30) i++;
    else if (isDigit(text.charCodeAt(i))) while (i < n && isDigit(text.charCodeAt(i))) i++;
    else return got("a digit");
    if (i < n && text.charCodeAt(i) === 0x2e) {
      i++;
      if (i >= n) return end("a digit after `.`");
      if (!isDigit(text.charCodeAt(i))) return got("a digit after `.`");
      while (i < n && isDigit(text.charCodeAt(i))) i++;
    }
    if (i < n && (text.charCodeAt(i) === 0x65 || text.charCodeAt(i) === 0x45)) {
      i++;
      if (i < n && (text.charCodeAt(i) === 0x2b || text.charCodeAt(i) === 0x2d)) i++;
      if (i >= n) return end("a digit in the exponent");
      if (!isDigit(text.charCodeAt(i))) return got("a digit in the exponent");
      while (i < n && isDigit(text.charCodeAt(i))) i++;
    }
    return undefined;
  }

  function scanWord(word: string): JsonSyntaxError | undefined {
    for (let k = 0; k < word.length; k++, i++) {
      if (i >= n) return end(`\`${word}\``);
      if (text.charCodeAt(i) !== word.charCodeAt(k)) return got(`\`${word}\``);
    }
    return undefined;
  }
}

/** 1-based line and column (UTF-16 units) of `offset` in `text`. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = text.indexOf("\n"); k !== -1 && k < offset; k = text.indexOf("\n", k + 1)) {
    line++;
    lineStart = k + 1;
  }
  return { line, column: offset - lineStart + 1 };
}
