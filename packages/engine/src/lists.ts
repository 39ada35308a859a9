import { type Diagnostic, diagnostic, type Span } from "@clearance/dsl";

/** Reports at most this many bad lines per list file, then one summary line. */
const MAX_BAD_LINES = 20;

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
  const hashes = new Set<string>();
  const diagnostics: Diagnostic[] = [];
  let bad = 0;
  let lineStart = 0;
  const length = text.length;
  while (lineStart <= length) {
    let lineEnd = text.indexOf("\n", lineStart);
    if (lineEnd < 0) lineEnd = length;
    let s = lineStart;
    let e = lineEnd;
    while (s < e && isSpace(text.charCodeAt(s))) s++;
    while (e > s && isSpace(text.charCodeAt(e - 1))) e--;
    if (s < e && text.charCodeAt(s) !== 35 /* # */) {
      let hashEnd = s;
      while (hashEnd < e && !isSpace(text.charCodeAt(hashEnd))) hashEnd++;
      if (hashEnd - s === 64 && isHex(text, s, hashEnd)) {
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
        hashes.add(text.slice(s, hashEnd).toLowerCase());
      } else {
        bad++;
        if (bad <= MAX_BAD_LINES) {
          const shown = text.slice(s, Math.min(e, s + 80));
          diagnostics.push(
            diagnostic(
              "list_file_bad_line",
              `line is not a SHA-256: \`${shown}\``,
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
  for (const raw of text.split("\n")) {
    const line = raw.trim();
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

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 0xfeff;
}

function isHex(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) return false;
  }
  return true;
}
