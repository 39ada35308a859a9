import { checkProgram, parseFile, typeFromJsonSchema } from "@clearance/dsl";
import { describe, expect, it } from "vitest";
import { functionName } from "../src/emit-js.js";
import { RESULT_SCHEMA } from "../src/index.js";
import { compileProgram, EMPTY_CONTEXT, type ListValues } from "../src/testing.js";
import { NOW, result, rules, SHA } from "./helpers.js";

/*
 * Compiled rules are code a maintainer can read and a debugger can name: the rule set's source is
 * named `clearance:<revision>/rules.js` (a sourceURL), each rule's function `rule_<name>` and each
 * reason's `reason_<name>`, and `Ruleset.generatedCode()` (`clearance check --emit-js`) prints it.
 */

const INPUT_TYPE = typeFromJsonSchema(RESULT_SCHEMA as never);
const NO_LISTS: ListValues = { lists: new Map(), hashlists: new Map() };

/** compileProgram on its own, with a revision of the test's choosing. */
function compileWithRevision(text: string, revision: string) {
  const parsed = parseFile({ path: "test.rules", text });
  const checked = checkProgram([parsed.ast], INPUT_TYPE, { now: NOW });
  expect([...parsed.diagnostics, ...checked.diagnostics]).toEqual([]);
  return compileProgram(checked.program, NO_LISTS, { revision });
}

/** The error `run` throws. */
function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a throw");
}

describe("generated code", () => {
  it("names each rule's and reason's function after the rule", () => {
    const compiled = compileWithRevision(
      `default allow "default for {fileName}"
rule big_file { when fileSize > 100 review "big: {fileSize}" }
rule named_vendor { when vendor.name == "x" deny "plain" }`,
      "sha256:0123456789abcdef",
    );
    expect(compiled.rules.map((r) => [r.test.name, r.reason.name])).toEqual([
      ["rule_big_file", "reason_big_file"],
      // a reason without holes is a constant, not generated code
      ["rule_named_vendor", ""],
    ]);
    expect(compiled.defaultReason.name).toBe("default_reason");
  });

  it("puts the rule set's revision and the rule in a run-time error's stack", () => {
    const compiled = compileWithRevision(
      'rule halves { when fileSize / 0 > 1 deny "x" }',
      "sha256:0123456789abcdef",
    );
    const error = thrown(() =>
      compiled.rules[0]!.test(result({ fileSize: 4 }), EMPTY_CONTEXT, NOW),
    );
    expect(error.message).toBe("division by zero in `/`");
    expect(error.stack).toMatch(
      /\n\s+at (?:Object\.)?rule_halves (?:\[as test\] )?\(clearance:sha256:0123456789abcdef\/rules\.js:\d+:\d+\)/,
    );
  });

  it("names a rule compiled on its own after its index was dropped", () => {
    const compiled = compileWithRevision(
      `rule known_bad { when sha256 == "${SHA}" deny "known" }`,
      "sha256:0123456789abcdef",
    );
    expect(compiled.indexes).toEqual([]);
    expect(compiled.rules[0]!.test.name).toBe("rule_known_bad");
    expect(compiled.generatedCode()).toContain(
      "//# sourceURL=clearance:sha256:0123456789abcdef/rule_known_bad.js",
    );
  });

  it("prints the source the rules run as, with a legend of its constants", () => {
    const rs = rules(`list vendors = ["Acme", "Initech"]
rule trusted { when vendor.name in vendors and fileName matches /^setup/i allow "ok {fileName}" }`);
    const code = rs.generatedCode();
    expect(code).toMatch(
      new RegExp(`^// clearance:${rs.revision}: the rule set as JavaScript\\.\\n`),
    );
    expect(code).toContain('// K[0] = Set(2) {"Acme", "Initech"}');
    expect(code).toContain("// K[1] = /^setup/i (v8)");
    expect(code).toContain("function rule_trusted(r, c, n) {");
    expect(code).toContain("function reason_trusted(r, c, n) {");
    expect(code).toContain(`//# sourceURL=clearance:${rs.revision}/rules.js\n}`);
    // function declarations after comments: it parses (it is not run here)
    expect(() => new Function(code)).not.toThrow();
  });

  it("keeps the revision from ending the sourceURL comment", () => {
    const g = globalThis as { __pwned?: unknown };
    const compiled = compileWithRevision(
      'rule a { when fileSize > 1 deny "x" }',
      "sha256:00\nglobalThis.__pwned = 1; //\u2028x",
    );
    expect(g.__pwned).toBeUndefined();
    expect(compiled.generatedCode()).toContain(
      "//# sourceURL=clearance:sha256:00_globalThis.__pwned___1_____x/rules.js\n}",
    );
  });
});

describe("functionName", () => {
  it.each([
    ["trusted_publisher", "rule_trusted_publisher"],
    ["H", "rule_H"],
    ["delete", "rule_delete"],
    ["eval", "rule_eval"],
    ["a-b c", "rule_a_b_c"],
    ['"); globalThis.__pwned = 1; //', "rule_____globalThis___pwned___1____"],
    ["é\u2028😀", "rule_____"],
    ["", "rule_"],
  ])("`%s` -> `%s`, an identifier", (name, expected) => {
    const fn = functionName("rule", name);
    expect(fn).toBe(expected);
    expect(() => new Function(`"use strict"; return function ${fn}() {};`)).not.toThrow();
  });
});
