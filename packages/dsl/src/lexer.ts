import type { IToken } from "chevrotain";
import { Lexer } from "./chevrotain.js";
import { type Diagnostic, DiagnosticCollector, diagnostic } from "./diagnostics.js";
import type { SourceFile } from "./source.js";
import { allTokens, UnterminatedString } from "./tokens.js";

/** One lexer for the process: Chevrotain's performance guide asks for reuse. */
const lexer = new Lexer(allTokens, {
  positionTracking: "full",
  ensureOptimizations: false,
});

export interface LexResult {
  tokens: IToken[];
  comments: IToken[];
  diagnostics: Diagnostic[];
  /** diagnostics beyond `maxDiagnostics`, counted but not kept */
  omitted: number;
}

export function lex(file: SourceFile, maxDiagnostics = Number.POSITIVE_INFINITY): LexResult {
  const result = lexer.tokenize(file.text);
  const collected = new DiagnosticCollector(maxDiagnostics);
  // Runs of characters no token starts with come as `Unexpected` tokens; Chevrotain's own errors
  // should not occur any more, and are reported the same way if they do.
  const unexpected = [
    ...(result.groups.unexpected ?? []).map((tk) => ({
      offset: tk.startOffset,
      length: tk.image.length,
    })),
    ...result.errors,
  ];
  for (const error of unexpected) {
    if (collected.list.length >= maxDiagnostics) {
      collected.omitted++;
      continue;
    }
    const start = error.offset;
    const ch = file.text.codePointAt(start) ?? 0;
    const shown = String.fromCodePoint(ch);
    const printable = ch >= 0x20 && ch !== 0x7f;
    collected.add(
      diagnostic(
        "unexpected_character",
        printable
          ? `unexpected character \`${shown}\``
          : `unexpected character U+${ch.toString(16).toUpperCase().padStart(4, "0")}`,
        { file: file.path, start, end: start + Math.max(1, error.length) },
        { help: characterHelp(shown) },
      ),
    );
  }
  for (const token of result.tokens) {
    if (token.tokenType === UnterminatedString) {
      collected.add(
        diagnostic(
          "unterminated_string",
          "unterminated string",
          {
            file: file.path,
            start: token.startOffset,
            end: token.startOffset + token.image.length,
          },
          { help: 'close the string with `"` on the same line' },
        ),
      );
    }
  }
  return {
    tokens: result.tokens,
    comments: result.groups.comments ?? [],
    diagnostics: collected.list,
    omitted: collected.omitted,
  };
}

function characterHelp(ch: string): string {
  switch (ch) {
    case "&":
      return "write `and` instead of `&&`";
    case "|":
      return "write `or` instead of `||`";
    case "!":
      return "write `not` for negation, or `!=` for inequality";
    case "'":
      return 'strings use double quotes: "text"';
    case "/":
      return "a regular expression is written after `matches`: `fileName matches /re/i`";
    case "\u201c":
    case "\u201d":
      return 'use straight double quotes `"`, not typographic quotes';
    default:
      return "remove it, or put it inside a string";
  }
}
