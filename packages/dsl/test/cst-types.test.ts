import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { AstBuilder } from "../src/build-ast.js";
import { generateCstDts } from "../src/chevrotain.js";
import { DEFAULT_LIMITS } from "../src/options.js";
import { parser } from "../src/parser.js";

/*
 * src/cst-types.ts holds the TypeScript types of the concrete syntax tree, generated from the
 * grammar by Chevrotain: the AST builder reads the tree through them, so renaming a rule or a
 * token in the grammar breaks the build instead of reading `undefined`. This test is their
 * generator: it fails when the committed file is stale, and UPDATE_GOLDEN=1 rewrites it.
 */

const UPDATE = process.env.UPDATE_GOLDEN === "1";
const FILE = new URL("../src/cst-types.ts", import.meta.url);

const HEADER = `// Generated from the grammar in parser.ts by packages/dsl/test/cst-types.test.ts: do not edit.
// After changing the grammar, regenerate it:
//   UPDATE_GOLDEN=1 pnpm exec vitest run packages/dsl/test/cst-types.test.ts
//
// Chevrotain's \`generateCstDts\`, with every child optional: error recovery may leave out any of
// them, even one the grammar requires.
`;

/** The file as it should be, from the grammar the parser was built with. */
function cstTypes(): string {
  const dts = generateCstDts(parser.getGAstProductions(), {
    visitorInterfaceName: "RulesCstVisitor",
  });
  let inChildren = false;
  const lines = dts.split("\n").map((line) => {
    if (/^export type \w+CstChildren = \{$/.test(line)) inChildren = true;
    else if (line === "};") inChildren = false;
    else if (inChildren) line = line.replace(/^( {2}\w+): /, "$1?: ");
    // `(IToken)[]` -> `IToken[]`, as the formatter writes it
    return line.replace(/\((\w+)\)\[\]/g, "$1[]");
  });
  return `${HEADER}${lines.join("\n").trimEnd()}\n`;
}

describe("the generated CST types", () => {
  it("match the grammar (UPDATE_GOLDEN=1 regenerates src/cst-types.ts)", () => {
    const expected = cstTypes();
    if (UPDATE) writeFileSync(FILE, expected);
    expect(
      readFileSync(FILE, "utf8"),
      "src/cst-types.ts is out of date: run `UPDATE_GOLDEN=1 pnpm exec vitest run packages/dsl/test/cst-types.test.ts` and commit it",
    ).toBe(expected);
  });

  it("name every rule of the grammar, and the AST builder visits each", () => {
    const rules = Object.keys(parser.getGAstProductions()).sort();
    const generated = [...readFileSync(FILE, "utf8").matchAll(/^ {2}(\w+)\(children: /gm)]
      .map((m) => m[1])
      .sort();
    expect(generated).toEqual(rules);
    // Chevrotain's own check: a method for every rule of the parser
    expect(() => new AstBuilder("x.rules", DEFAULT_LIMITS).validateVisitor()).not.toThrow();
  });
});
