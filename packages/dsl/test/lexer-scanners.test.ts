import type { IToken } from "chevrotain";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Lexer } from "../src/chevrotain.js";
import { lex } from "../src/lexer.js";
import {
  allTokens,
  Duration,
  Matches,
  RegexLiteral,
  StringLiteral,
  Unexpected,
  UnterminatedString,
} from "../src/tokens.js";

/*
 * Strings, durations and regex literals are lexed by hand-written scanners instead of the regexes
 * they replace, because V8's backtracking stack overflowed on long strings (a reason with a million
 * `{}` holes crashed the lexer). The scanners must accept exactly what the regexes accepted: this
 * compares them on random text, then checks that very long tokens lex. Runs of characters that
 * start no token are one `Unexpected` token each, in the runs Chevrotain's error recovery found.
 */

const REFERENCE = {
  string: /"(?:[^"\\\n\r]|\\.)*"/y,
  unterminated: /"(?:[^"\\\n\r]|\\.)*/y,
  duration: /\d+(?:ms|[smhdw])(?:\d+(?:ms|[smhdw]))*(?![A-Za-z0-9_])/y,
  regex: /\/((?:[^/\\\n\r[]|\\[^\n\r]|\[(?:[^\]\\\n\r]|\\[^\n\r])*\])+)\/([A-Za-z]*)/y,
} as const;

type Exec = (text: string, offset: number, tokens: IToken[]) => RegExpExecArray | null;
const execOf = (pattern: unknown): Exec => (pattern as { exec: Exec }).exec;
const afterMatches = [{ tokenType: Matches } as unknown as IToken];

function reference(re: RegExp, text: string, offset: number): string | null {
  re.lastIndex = offset;
  return re.exec(text)?.[0] ?? null;
}

const SCANNERS: [keyof typeof REFERENCE, Exec][] = [
  ["string", execOf(StringLiteral.PATTERN)],
  ["unterminated", execOf(UnterminatedString.PATTERN)],
  ["duration", execOf(Duration.PATTERN)],
  ["regex", execOf(RegexLiteral.PATTERN)],
];

// Characters that matter to one of the four token shapes, and a few that do not.
const piece = fc.constantFrom(
  '"',
  "\\",
  "/",
  "[",
  "]",
  "\n",
  "\r",
  "\u2028",
  "a",
  "x",
  "ms",
  "m",
  "s",
  "h",
  "d",
  "w",
  "1",
  "42",
  "{",
  "}",
  " ",
  "i",
  "é",
  "😀",
);
const text = fc.array(piece, { maxLength: 24 }).map((xs) => xs.join(""));

describe("the lexer's scanners match what their regexes matched", () => {
  it.each(SCANNERS)("%s, on random text at every offset", (kind, exec) => {
    fc.assert(
      fc.property(text, (s) => {
        for (let offset = 0; offset <= s.length; offset++) {
          const got = exec(s, offset, afterMatches)?.[0] ?? null;
          expect(got, `${kind} at ${offset} of ${JSON.stringify(s)}`).toBe(
            reference(REFERENCE[kind], s, offset),
          );
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("a regex literal is only recognised right after `matches`", () => {
    expect(execOf(RegexLiteral.PATTERN)("/a/", 0, [])).toBeNull();
  });
});

describe("characters no token starts with", () => {
  // The lexer as it was: Chevrotain's error recovery finds the runs of such characters itself.
  const plain = new Lexer(
    allTokens.filter((t) => t !== Unexpected),
    { positionTracking: "full", ensureOptimizations: false },
  );
  const garbage = fc
    .array(
      fc.oneof(piece, fc.constantFrom("&", "|", "!", "!=", "'", "\u0000", "\u2028", "@", "~", "é")),
      {
        maxLength: 30,
      },
    )
    .map((xs) => xs.join(""));

  it("are reported in the runs Chevrotain's error recovery found, and the other tokens are the same", () => {
    fc.assert(
      fc.property(garbage, (text) => {
        const before = plain.tokenize(text);
        const now = lex({ path: "t.rules", text });
        const image = (ts: IToken[]) => ts.map((t) => [t.tokenType.name, t.startOffset, t.image]);
        expect(image(now.tokens)).toEqual(image(before.tokens));
        const runs = now.diagnostics
          .filter((d) => d.code === "unexpected_character")
          .map((d) => [d.span.start, d.span.end - d.span.start]);
        expect(runs).toEqual(before.errors.map((e) => [e.offset, Math.max(1, e.length)]));
      }),
      { numRuns: 2000 },
    );
  });

  it("a run of fifteen million is one diagnostic, lexed at once", () => {
    const { tokens, diagnostics } = lex({ path: "t.rules", text: `a ${"&".repeat(15_000_000)} b` });
    expect(tokens.map((t) => t.image)).toEqual(["a", "b"]);
    expect(diagnostics.map((d) => [d.code, d.span.start, d.span.end])).toEqual([
      ["unexpected_character", 2, 15_000_002],
    ]);
  });
});

describe("long tokens lex in one pass, without a stack overflow", () => {
  // Sizes under the 16 MiB file limit at which the replaced regexes overflowed V8's stack.
  const holes = "{fileSize}".repeat(1_000_000);
  const cases: [string, string, string][] = [
    ["a string of a million `{}` holes", `"${holes}"`, "StringLiteral"],
    ["an unterminated string of a million `{}` holes", `"${holes}`, "UnterminatedString"],
    ["a string of five million escapes", `"${"\\n".repeat(5_000_000)}"`, "StringLiteral"],
    ["a duration of four million parts", "1s".repeat(4_000_000), "Duration"],
  ];
  it.each(cases)("%s", (_name, source, type) => {
    const { tokens, diagnostics } = lex({ path: "t.rules", text: source });
    expect(tokens.map((t) => t.tokenType.name)).toEqual([type]);
    expect(tokens[0]!.image.length).toBe(source.length);
    expect(diagnostics.map((d) => d.code)).toEqual(
      type === "UnterminatedString" ? ["unterminated_string"] : [],
    );
  });

  it.each([
    ["twelve million letters", "a".repeat(12_000_000)],
    ["two million escapes and classes", "\\/[/]a".repeat(2_000_000)],
  ])("a regex literal of %s", (_name, pattern) => {
    const { tokens } = lex({ path: "t.rules", text: `fileName matches /${pattern}/i` });
    expect(tokens.map((t) => t.tokenType.name)).toEqual(["Identifier", "Matches", "RegexLiteral"]);
    expect(tokens[2]!.image.length).toBe(pattern.length + 3);
  });
});
