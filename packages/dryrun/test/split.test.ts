import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findJsonSyntaxError } from "../src/json-error.js";
import type { RawRecord } from "../src/records.js";
import { JsonSplitter, LineSplitter, type Splitter } from "../src/split.js";

/** Feeds `bytes` to `splitter` cut at `cuts` (offsets), and returns every record. */
function split(splitter: Splitter, bytes: Buffer, cuts: number[]): RawRecord[] {
  const out: RawRecord[] = [];
  const offsets = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let start = 0;
  for (const offset of [...offsets, bytes.length]) {
    if (offset > start) splitter.push(bytes.subarray(start, offset), out);
    start = Math.max(start, offset);
  }
  splitter.end(out);
  return out;
}

const cuts = fc.array(fc.nat(), { maxLength: 12 });
const space = fc.constantFrom("", " ", "\n", "\r\n", "\t ", "  \n  ");
const jsonText = fc.json({ stringUnit: "binary", maxDepth: 4 });

describe("the JSON array splitter", () => {
  it("yields exactly the elements JSON.parse sees, whatever the chunks", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(space, jsonText, space), { maxLength: 8 }),
        space,
        cuts,
        (elements, inner, at) => {
          const text = `${inner}[${inner}${elements.map(([a, e, b]) => `${a}${e}${b}`).join(",")}]${inner}`;
          const expected = JSON.parse(text) as unknown[];
          const records = split(new JsonSplitter("t", 1 << 20, "array"), Buffer.from(text), at);
          expect(records.map((r) => r.error)).toEqual(expected.map(() => undefined));
          expect(records.map((r) => JSON.parse(r.text))).toEqual(expected);
          expect(records.map((r) => r.line)).toEqual(expected.map((_, i) => i));
        },
      ),
      { numRuns: 400 },
    );
  });

  it("yields the elements of any JSON array fast-check makes", () => {
    fc.assert(
      fc.property(
        jsonText.filter((t) => t.startsWith("[")),
        cuts,
        (text, at) => {
          const expected = JSON.parse(text) as unknown[];
          const records = split(new JsonSplitter("t", 1 << 20, "array"), Buffer.from(text), at);
          expect(records.map((r) => JSON.parse(r.text))).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("never throws and accounts for every element on any input", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'[]{},"\\ a1\n'.split("")), maxLength: 40 }),
        cuts,
        (body, at) => {
          const records = split(new JsonSplitter("t", 16, "array"), Buffer.from(`[${body}`), at);
          // Indexes run from 0 without gaps: nothing is silently dropped.
          expect(records.map((r) => r.line)).toEqual(records.map((_, i) => i));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("the JSON values splitter", () => {
  it("yields each top-level value and the line it starts on", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(space, jsonText), { minLength: 1, maxLength: 6 }),
        cuts,
        (values, at) => {
          // Values that run together need a separator: a scalar followed by a scalar does.
          const text = values.map(([s, v]) => `${s}${v}`).join("\n");
          const records = split(new JsonSplitter("t", 1 << 20, "values"), Buffer.from(text), at);
          expect(records.map((r) => JSON.parse(r.text))).toEqual(
            values.map(([, v]) => JSON.parse(v)),
          );
          let line = 1;
          const lines: number[] = [];
          values.forEach(([s, v], k) => {
            if (k > 0) line++;
            line += s.split("\n").length - 1;
            lines.push(line);
            line += v.split("\n").length - 1;
          });
          expect(records.map((r) => r.line)).toEqual(lines);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("the line splitter", () => {
  const lineText = fc.string({ unit: "binary", maxLength: 30 }).map((s) => s.replace(/\n/g, ""));
  it("yields every non-blank line with its number, whatever the chunks", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(lineText, fc.constantFrom("\n", "\r\n")), { maxLength: 10 }),
        fc.boolean(),
        cuts,
        (lines, finalBreak, at) => {
          const text = lines.map(([l, end], k) =>
            k < lines.length - 1 || finalBreak ? l + end : l,
          );
          const records = split(new LineSplitter("t", 1 << 20), Buffer.from(text.join("")), at);
          const expected = lines
            .map(([l, end], k) => {
              // A CR right before LF belongs to the ending; on the last line without a break too.
              const body =
                k === lines.length - 1 && !finalBreak ? l.replace(/\r$/, "") : l + end.slice(0, -1);
              return [k + 1, body.replace(/\r$/, "")] as const;
            })
            .filter(([, body]) => !/^[ \t\r\n]*$/.test(body));
          expect(records.map((r) => [r.line, r.text])).toEqual(expected);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe("findJsonSyntaxError", () => {
  const parses = (text: string) => {
    try {
      JSON.parse(text);
      return true;
    } catch {
      return false;
    }
  };
  const v8Position = (text: string) => {
    try {
      JSON.parse(text);
    } catch (error) {
      const m = /at position (\d+)/.exec((error as Error).message);
      return m ? Number(m[1]) : undefined;
    }
    return undefined;
  };
  // JSON texts with one character changed, added or removed, and JSON-flavoured noise.
  const mutated = fc
    .tuple(
      jsonText,
      fc.nat(),
      fc.constantFrom(...'{}[]",:\\ 0-1e.tfnu\u0001x'.split("")),
      fc.nat(2),
    )
    .map(([text, at, c, op]) => {
      const k = at % (text.length + 1);
      if (op === 0) return text.slice(0, k) + c + text.slice(k);
      if (op === 1) return text.slice(0, k) + c + text.slice(k + 1);
      return text.slice(0, k) + text.slice(k + 1);
    });
  const noise = fc.string({ unit: fc.constantFrom(...'{}[]",:\\ 0123-+eE.truefalsn\t'.split("")) });

  it("agrees with JSON.parse on what is JSON, and on V8's positions", () => {
    fc.assert(
      fc.property(fc.oneof(jsonText, mutated, noise), (text) => {
        const error = findJsonSyntaxError(text);
        expect(error === undefined).toBe(parses(text));
        const position = v8Position(text);
        if (position !== undefined) expect(error?.offset).toBe(position);
      }),
      { numRuns: 3000 },
    );
  });

  it.each([
    ['{"a":}', 5, "expected a value, got `}`"],
    ['{"a" 1}', 5, "expected `:` after a property name, got `1`"],
    ['{"a":1', 6, "unexpected end of input: expected `,` or `}`"],
    ['{"a":1}x', 7, "unexpected `x` after the JSON value"],
    ["[1,]", 3, "expected a value, got `]`"],
    ["", 0, "unexpected end of input: expected a value"],
    ['"a\nb"', 2, "control character U+000A in a string"],
    ['"\\x"', 2, "bad escape `\\x`"],
    ['"\\u12g4"', 5, "bad `\\u` escape: `g` is not hexadecimal"],
    ["01", 1, "unexpected `1` after the JSON value"],
    ["{a:1}", 1, "expected a double-quoted property name, got `a`"],
    ["tru", 3, "unexpected end of input: expected `true`"],
    ["-", 1, "unexpected end of input: expected a digit"],
    ["1.e5", 2, "expected a digit after `.`, got `e`"],
  ])("%j", (text, offset, message) => {
    expect(findJsonSyntaxError(text)).toEqual({ offset, message });
  });

  it("handles deep nesting without recursion", () => {
    expect(findJsonSyntaxError("[".repeat(100_000) + "]".repeat(100_000))).toBeUndefined();
    expect(findJsonSyntaxError("[".repeat(100_000))?.offset).toBe(100_000);
  });
});
