import { describe, expect, it } from "vitest";
import { checkProgram } from "../src/check.js";
import { parseFile } from "../src/parse.js";
import { typeFromJsonSchema } from "../src/types.js";

/*
 * The checker's input profiles with a table of its own: the dsl knows no input, the caller (the
 * engine, with `INPUT_PROFILES` of @clearance/result) says which exist and what they carry.
 */
const INPUT = typeFromJsonSchema({
  type: "object",
  properties: {
    score: { type: "number" },
    name: { type: "string" },
    items: { type: "array", items: { type: "object", properties: { v: { type: "number" } } } },
  },
});

const PROFILES = {
  full: new Set(["score", "name", "items", "items[].v"]),
  noScore: new Set(["name", "items", "items[].v"]),
  bare: new Set(["name"]),
};

function check(text: string, inputProfiles?: Record<string, ReadonlySet<string>>) {
  const { ast, diagnostics } = parseFile({ path: "t.rules", text });
  expect(diagnostics).toEqual([]);
  const options = inputProfiles === undefined ? {} : { inputProfiles };
  return checkProgram([ast], INPUT, options).diagnostics.map((d) => ({
    code: d.code,
    message: d.message,
    at: text.slice(d.span.start, d.span.end),
    related: d.related?.map((r) => text.slice(r.span.start, r.span.end)),
  }));
}

describe("input profiles given by the caller", () => {
  it("names every declared input that lacks the field, in the order declared", () => {
    expect(
      check('inputs bare, full, noScore\nrule r { when score > 1 deny "x" }\n', PROFILES),
    ).toEqual([
      {
        code: "rule_never_fires_on_input",
        message:
          "rule `r` can never fire on `bare` or `noScore` input: it needs `score`, which those inputs never carry",
        at: "score",
        related: ["bare", "noScore"],
      },
    ]);
  });

  it("reads list items through the loop variable", () => {
    expect(
      check('inputs bare\nrule r { when any i in items: i.v > 1 deny "x" }\n', PROFILES)
        .filter((d) => d.code === "rule_never_fires_on_input")
        .map((d) => [d.at, d.message.replace(/.*needs `([^`]+)`.*/, "$1")]),
    ).toEqual([["i.v", "items[].v"]]); // the list it lies in is not named again
  });

  it("knows no input without a table, and suggests from the table it has", () => {
    expect(check('inputs full\nrule r { when true deny "x" }\n')).toMatchObject([
      { code: "unknown_input", at: "full" },
    ]);
    expect(check('inputs nosCore\nrule r { when true deny "x" }\n', PROFILES)).toMatchObject([
      { code: "unknown_input", at: "nosCore" },
    ]);
  });
});

describe("an inputs declaration with a syntax error", () => {
  // found by CI's fuzz run: recovery made up a name with no text and no place, which the checker
  // then reported as an unknown input with a null span
  it.each([["inputs full ,,\n  noScore\n"], ["inputs ,\n"], ["inputs full,\n"]])(
    "%j: every diagnostic has a place, and none is about a made-up name",
    (decl) => {
      const text = `${decl}rule r { when name == "a" deny "x" }\n`;
      const parsed = parseFile({ path: "t.rules", text });
      expect(parsed.diagnostics.map((d) => d.code)).toContain("syntax_error");
      const all = [
        ...parsed.diagnostics,
        ...checkProgram([parsed.ast], INPUT, { inputProfiles: PROFILES }).diagnostics,
      ];
      for (const d of all) expect(d.span.start <= d.span.end && d.span.start >= 0).toBe(true);
      expect(all.map((d) => d.message)).not.toContain("unknown input ``");
    },
  );
});
