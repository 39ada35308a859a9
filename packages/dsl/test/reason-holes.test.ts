import { afterEach, describe, expect, it } from "vitest";
import type { Expr, RuleDecl } from "../src/ast.js";
import { parseFile } from "../src/parse.js";
import { parser } from "../src/parser.js";

/*
 * The `{holes}` of a reason are expressions, parsed by the same (single) parser as the file.
 * The front end is one-way: the AST builder collects the holes' text and offsets, and parse.ts
 * parses them once their declaration is built, so the parser is never called from inside the
 * builder, and needs no state saved and restored around a hole.
 */

const original = { file: parser.file, expression: parser.expression };
afterEach(() => {
  parser.file = original.file;
  parser.expression = original.expression;
});

/** The stacks the parser's two entry points were called from, during `run`. */
function parserCalls(run: () => void): { rule: string; stack: string }[] {
  const calls: { rule: string; stack: string }[] = [];
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 200;
  // Only calls from outside count: a subrule calls the rule's `coreRule`, copied over unwrapped.
  const spy = <F extends (...args: never[]) => unknown>(rule: string, f: F): F =>
    Object.assign((...args: Parameters<F>) => {
      calls.push({ rule, stack: new Error().stack ?? "" });
      return f.apply(parser, args);
    }, f) as F;
  parser.file = spy("file", original.file);
  parser.expression = spy("expression", original.expression);
  try {
    run();
  } finally {
    Error.stackTraceLimit = limit;
    parser.file = original.file;
    parser.expression = original.expression;
  }
  return calls;
}

const TEXT = `rule a { when true deny "{fileName} by {vendor.name}" }
default allow "{trustScore + 1}"
rule b { when false review "x {len(tags)}" }`;

describe("reason holes", () => {
  it("are parsed after their declaration is built, never from inside the AST builder", () => {
    const calls = parserCalls(() => {
      expect(parseFile({ path: "a.rules", text: TEXT }).diagnostics).toEqual([]);
    });
    expect(calls.map((c) => c.rule)).toEqual([
      "file",
      "expression",
      "expression",
      "file",
      "expression",
      "file",
      "expression",
    ]);
    for (const call of calls) expect(call.stack).not.toMatch(/build-ast\.[jt]s/);
  });

  it("are filled in with their expressions and spans", () => {
    const { ast } = parseFile({ path: "a.rules", text: TEXT });
    const rule = ast.items[0] as RuleDecl;
    const [first, text, second] = rule.outcome!.reason.parts as [Expr, string, Expr];
    expect(text).toBe(" by ");
    expect(first).toMatchObject({ kind: "path", segments: [{ name: "fileName" }] });
    expect(TEXT.slice(first.span.start, first.span.end)).toBe("fileName");
    expect(second).toMatchObject({ kind: "path" });
    expect(TEXT.slice(second.span.start, second.span.end)).toBe("vendor.name");
  });

  it("keep their diagnostics in source order with the declaration's", () => {
    // a hole's syntax error, then an escape problem later in the same reason, then the next hole's
    const text = 'rule a { when true deny "{1 +} \\q {(}" }';
    const { diagnostics } = parseFile({ path: "a.rules", text });
    expect(diagnostics.map((d) => [d.code, text.slice(d.span.start, d.span.end)])).toEqual([
      ["syntax_error", ""],
      ["invalid_escape", "\\q"],
      ["syntax_error", ""],
    ]);
    expect(diagnostics.map((d) => d.span.start)).toEqual([29, 31, 36]);
  });
});
