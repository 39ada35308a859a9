import { describe, expect, it } from "vitest";
import type { Expr } from "../src/ast.js";
import { parseExpression } from "../src/parse.js";
import { someExpr } from "../src/walk.js";

const expr = (text: string): Expr => {
  const { expr, diagnostics } = parseExpression("t.rules", text);
  expect(diagnostics).toEqual([]);
  return expr;
};
const pathNamed = (name: string) => (e: Expr) =>
  e.kind === "path" && e.segments.some((s) => s.name === name);

describe("someExpr", () => {
  it.each([
    ["a == 1", "a", true],
    ["a == 1", "b", false],
    ["not (x > 1 and b)", "b", true],
    ['fileName matches /x/ or lower(b) == "q"', "b", true],
    ["c in [a, b]", "b", true],
    ["any e in engines: e.result == b", "b", true],
    ["count(e in engines where e.x == b) > 0", "b", true],
    ["len(engines) > 0", "b", false],
  ])("`%s` reads `%s`: %s", (text, name, found) => {
    expect(someExpr([expr(text)], pathNamed(name))).toBe(found);
  });

  it("does not look below an expression the test holds for", () => {
    const seen: string[] = [];
    someExpr([expr("not (a and b)")], (e) => {
      seen.push(e.kind);
      return e.kind === "unary";
    });
    expect(seen).toEqual(["unary"]);
  });

  it("walks a chain of 50,000 operands without recursion", () => {
    const text = Array.from({ length: 50_000 }, (_, i) => `x${i} == 1`).join(" or ");
    expect(someExpr([expr(text)], pathNamed("x49999"))).toBe(true);
    expect(someExpr([expr(text)], pathNamed("y"))).toBe(false);
  });
});
