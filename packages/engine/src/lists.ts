import { type Diagnostic, diagnostic, type Span } from "@clearance/dsl";
import { type Program, pauseStep, runSync } from "./steps.js";

/** Reports at most this many bad lines per list file, then one summary line. */
const MAX_BAD_LINES = 20;
/** A bad line is shown up to this many characters: enough to recognise it, not to copy a file. */
const EXCERPT_CHARS = 40;
/** Lines parsed between two pause points of `hashlistParser`. */
const LINES_PER_SLICE = 4096;

export interface ParsedHashlist {
  hashes: Set<string>;
  diagnostics: Diagnostic[];
}

/**
 * One SHA-256 a line (lower or upper case hex); blank lines and `#` comments are skipped, and
 * `sha256sum` output (`<hash>  <file name>`) is accepted. Every other line is an error with its
 * line number: a bad list never loads half silently.
 */
export function parseHashlist(path: string, text: string, maxEntries: number): ParsedHashlist {
  return runSync(hashlistParser(path, text, maxEntries));
}

/** `parseHashlist` with a pause point every few thousand lines, for a run that shares the thread. */
export function* hashlistParser(
  path: string,
  text: string,
  maxEntries: number,
): Program<ParsedHashlist> {
  const hashes = new Set<string>();
  const diagnostics: Diagnostic[] = [];
  let bad = 0;
  let lineStart = 0;
  let linesInSlice = 0;
  const length = text.length;
  while (lineStart <= length) {
    if (++linesInSlice === LINES_PER_SLICE) {
      linesInSlice = 0;
      yield* pauseStep();
    }
    let lineEnd = text.indexOf("\n", lineStart);
    if (lineEnd < 0) lineEnd = length;
    let s = lineStart;
    let e = lineEnd;
    while (s < e && isSpace(text.charCodeAt(s))) s++;
    while (e > s && isSpace(text.charCodeAt(e - 1))) e--;
    if (s < e && text.charCodeAt(s) !== 35 /* # */) {
      let hashEnd = s;
      while (hashEnd < e && !isSpace(text.charCodeAt(hashEnd))) hashEnd++;
      const hex = hashEnd - s === 64 ? hexCase(text, s, hashEnd) : NOT_HEX;
      if (hex !== NOT_HEX) {
        if (hashes.size >= maxEntries) {
          diagnostics.push(
            diagnostic(
              "list_file_too_large",
              `hash list has more than ${maxEntries} entr${maxEntries === 1 ? "y" : "ies"}`,
              { file: path, start: s, end: e },
              {
                help: "split the list, or raise the `maxHashlistEntries` limit",
              },
            ),
          );
          break;
        }
        const hash = text.slice(s, hashEnd);
        // most lists are lower case already: lower-casing only when needed saves a copy a line
        hashes.add(hex === LOWER_HEX ? hash : hash.toLowerCase());
      } else {
        bad++;
        if (bad <= MAX_BAD_LINES) {
          diagnostics.push(
            diagnostic(
              "list_file_bad_line",
              `line is not a SHA-256: \`${excerpt(text, s, e)}\``,
              { file: path, start: s, end: e },
              {
                help: "each line holds 64 hexadecimal digits; comments start with `#`",
              },
            ),
          );
        }
      }
    }
    lineStart = lineEnd + 1;
  }
  if (bad > MAX_BAD_LINES) {
    diagnostics.push(
      diagnostic(
        "list_file_bad_line",
        `${bad - MAX_BAD_LINES} more lines are not SHA-256 hashes`,
        { file: path, start: 0, end: 0 },
        {
          help: "fix the lines reported above, then check again",
        },
      ),
    );
  }
  return { hashes, diagnostics };
}

/** One string a line; blank lines and `#` comments skipped; surrounding spaces trimmed. */
export function parseStringList(
  path: string,
  text: string,
  maxEntries: number,
  declared: Span,
): { values: Set<string>; diagnostics: Diagnostic[] } {
  const values = new Set<string>();
  const diagnostics: Diagnostic[] = [];
  let lineStart = 0;
  // line by line rather than split(): a long file stops costing at the limit
  while (lineStart <= text.length) {
    let lineEnd = text.indexOf("\n", lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    const line = text.slice(lineStart, lineEnd).trim();
    lineStart = lineEnd + 1;
    if (line === "" || line.startsWith("#")) continue;
    if (values.size >= maxEntries) {
      diagnostics.push(
        diagnostic(
          "list_too_long",
          `list file \`${path}\` has more than ${maxEntries} entr${maxEntries === 1 ? "y" : "ies"}`,
          declared,
          {
            help: "use a `hashlist` for hashes, or raise the `maxListLength` limit",
          },
        ),
      );
      break;
    }
    values.add(line);
  }
  return { values, diagnostics };
}

/** The start of a bad line, shortened with `...`, without backticks that would break the quote. */
function excerpt(text: string, start: number, end: number): string {
  const shown = text.slice(start, Math.min(end, start + EXCERPT_CHARS)).replaceAll("`", "'");
  return end - start > EXCERPT_CHARS ? `${shown}...` : shown;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 0xfeff;
}

const NOT_HEX = 0;
const LOWER_HEX = 1;
const MIXED_HEX = 2;

/** Whether text[start, end) is hexadecimal, and if so whether it has upper-case digits. */
function hexCase(text: string, start: number, end: number): number {
  let result = LOWER_HEX;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (c >= 97 && c <= 102)) continue;
    if (c >= 65 && c <= 70) result = MIXED_HEX;
    else return NOT_HEX;
  }
  return result;
}
