import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DEFAULT_LIMITS,
  type Diagnostic,
  formatDiagnostic,
  type LanguageLimits,
  resolveLimits,
} from "@clearance/dsl";
import { afterAll, describe, expect, it } from "vitest";
import { compile, loadRuleset, parseResultJson, validateResult } from "../src/index.js";
import { decide, NOW, rules, SHA } from "./helpers.js";

/*
 * One test per limit: a rule set or input exactly at the limit is accepted, one just over it is
 * rejected with a diagnostic of the right code (language limits) or a problem located by a JSON
 * Pointer (input limits). Small overrides keep the tests fast.
 */

function compileWith(
  text: string,
  limits: Partial<LanguageLimits>,
  files: Record<string, string> = {},
): { ok: boolean; diagnostics: Diagnostic[]; codes: string[]; printed: string } {
  const result = compile([{ path: "test.rules", text }], {
    now: NOW,
    limits,
    loadList: (path) => {
      const content = files[path];
      if (content === undefined) throw new Error("no such file");
      return content;
    },
  });
  const printed = result.diagnostics
    .map((d) => formatDiagnostic(d, (p) => result.files.get(p)))
    .join("\n");
  return {
    ok: result.ruleset !== undefined,
    diagnostics: result.diagnostics,
    codes: result.diagnostics.map((d) => d.code),
    printed,
  };
}

const errorCodes = (r: { diagnostics: Diagnostic[] }) =>
  r.diagnostics.filter((d) => d.severity === "error").map((d) => d.code);

describe("language limits: at the limit accepted, just over it a diagnostic", () => {
  it("maxFileBytes counts UTF-8 bytes", () => {
    const limit = 200;
    const base = 'rule t { when true deny "x" }\n#';
    // `é` is two bytes: pad to exactly `limit` bytes
    const pad = (bytes: number) => "é".repeat(Math.floor(bytes / 2)) + "a".repeat(bytes % 2);
    const atLimit = base + pad(limit - Buffer.byteLength(base));
    expect(Buffer.byteLength(atLimit)).toBe(limit);
    expect(atLimit.length).toBeLessThan(limit);
    expect(compileWith(atLimit, { maxFileBytes: limit }).ok).toBe(true);
    const over = compileWith(`${atLimit}a`, { maxFileBytes: limit });
    expect(over.ok).toBe(false);
    expect(errorCodes(over)).toEqual(["file_too_large"]);
    expect(over.diagnostics[0]!.message).toContain(`${limit} bytes`);
  });

  describe("maxNestingDepth", () => {
    const limit = 5;
    const parens = (n: number, inner = "true") => `${"(".repeat(n)}${inner}${")".repeat(n)}`;

    it("in a reason's `{}` hole: N nested parentheses accepted, N + 1 rejected", () => {
      const at = compileWith(`rule t { when true deny "{${parens(limit, "1")}}" }`, {
        maxNestingDepth: limit,
      });
      expect(at.printed).toBe("");
      expect(at.ok).toBe(true);
      const over = compileWith(`rule t { when true deny "{${parens(limit + 1, "1")}}" }`, {
        maxNestingDepth: limit,
      });
      expect(errorCodes(over)).toEqual(["nesting_too_deep"]);
      expect(over.diagnostics[0]!.message).toBe(`expression nests deeper than ${limit} levels`);
    });

    it("in a condition: N + 1 nested parentheses or `not`s are rejected", () => {
      for (const cond of [parens(limit + 1), `${"not ".repeat(limit + 1)}true`]) {
        const over = compileWith(`rule t { when ${cond} deny "x" }`, { maxNestingDepth: limit });
        expect(over.ok, cond).toBe(false);
        expect(errorCodes(over), cond).toEqual(["nesting_too_deep"]);
      }
    });

    it("in a condition: N - 1 nested parentheses are accepted", () => {
      const at = compileWith(`rule t { when ${parens(limit - 1)} deny "x" }`, {
        maxNestingDepth: limit,
      });
      expect(at.ok).toBe(true);
    });

    /*
     * REGRESSION, fixed (off by one). parse.ts `nestingProblem` counts the rule's own `{` as a nesting
     * level, so in a `when` the limit is one lower than in a reason hole, and lower than the AST
     * builder's own check (build-ast.ts `tooDeep`), which accepts N levels.
     * Input: `rule t { when ((((( true ))))) deny "x" }` with maxNestingDepth 5.
     * Expected: accepted (5 levels). Actual: nesting_too_deep "expression nests deeper than 5 levels".
     */
    it("in a condition: N nested parentheses are accepted", () => {
      const at = compileWith(`rule t { when ${parens(limit)} deny "x" }`, {
        maxNestingDepth: limit,
      });
      expect(at.printed).toBe("");
    });

    /*
     * REGRESSION, fixed (false positive). `nestingProblem` adds up every `not`, `any`, `all` and `count`
     * of a clause and never subtracts, so a flat chain of conditions hits the limit although it
     * nests one level deep. With the default limit (64):
     * Input: `rule t { when not vendor.verified and not vendor.verified and ... (70 times) deny "x" }`
     * Expected: accepted. Actual: nesting_too_deep "expression nests deeper than 64 levels".
     * The same for `(any t in tags: t == "0") or (any t in tags: t == "1") or ...` (70 times).
     */
    it("a long flat chain of `not` conditions is not deep", () => {
      const chain = Array.from({ length: 70 }, () => "not vendor.verified").join(" and ");
      const r = compileWith(`rule t { when ${chain} deny "x" }`, {});
      expect(r.printed).toBe("");
      expect(r.ok).toBe(true);
    });

    it("in a context field's type: N nested `list<...>` accepted, N + 1 rejected", () => {
      const type = (n: number) => `${"list<".repeat(n)}string${">".repeat(n)}`;
      const text = (n: number) =>
        `context { teams: ${type(n)} }\nrule t { when exists(context.teams) deny "x" }`;
      expect(compileWith(text(limit), { maxNestingDepth: limit }).printed).toBe("");
      const over = compileWith(text(limit + 1), { maxNestingDepth: limit });
      expect(errorCodes(over)).toEqual(["nesting_too_deep"]);
      // twenty thousand levels: the same diagnostic, not a parser that runs out of stack
      expect(errorCodes(compileWith(text(20_000), {}))).toEqual(["nesting_too_deep"]);
    });

    it("the default limit is explicit", () => {
      expect(DEFAULT_LIMITS.maxNestingDepth).toBe(64);
    });
  });

  it("maxListLength: list literals, named lists and list files", () => {
    const limit = 3;
    const items = (n: number) => Array.from({ length: n }, (_, i) => `"v${i}"`).join(", ");
    for (const [where, make] of [
      ["literal", (n: number) => `rule t { when fileName in [${items(n)}] deny "x" }`],
      ["named", (n: number) => `list l = [${items(n)}]\nrule t { when fileName in l deny "x" }`],
    ] as const) {
      expect(compileWith(make(limit), { maxListLength: limit }).ok, where).toBe(true);
      const over = compileWith(make(limit + 1), { maxListLength: limit });
      expect(errorCodes(over), where).toEqual(["list_too_long"]);
      expect(over.diagnostics[0]!.message, where).toContain(`more than the limit of ${limit}`);
    }
    const text = 'list l from "names.txt"\nrule t { when fileName in l deny "x" }';
    const lines = (n: number) =>
      `# names\n${Array.from({ length: n }, (_, i) => `v${i}`).join("\n")}\n`;
    expect(compileWith(text, { maxListLength: limit }, { "names.txt": lines(limit) }).ok).toBe(
      true,
    );
    const over = compileWith(text, { maxListLength: limit }, { "names.txt": lines(limit + 1) });
    expect(errorCodes(over)).toEqual(["list_too_long"]);
  });

  it("maxRegexLength counts the pattern's characters", () => {
    const limit = 10;
    const re = (n: number) => `rule t { when fileName matches /${"a".repeat(n)}/i deny "x" }`;
    expect(compileWith(re(limit), { maxRegexLength: limit }).ok).toBe(true);
    const over = compileWith(re(limit + 1), { maxRegexLength: limit });
    expect(errorCodes(over)).toEqual(["regex_too_long"]);
    expect(over.diagnostics[0]!.message).toContain(`${limit + 1} characters long`);
  });

  it("maxRules counts the rules of the whole rule set", () => {
    const limit = 3;
    const text = (n: number) =>
      Array.from({ length: n }, (_, i) => `rule r${i} { when true deny "x" }`).join("\n");
    expect(compileWith(text(limit), { maxRules: limit }).ok).toBe(true);
    const over = compileWith(text(limit + 1), { maxRules: limit });
    expect(errorCodes(over)).toEqual(["too_many_rules"]);
    // located at the first rule over the limit
    expect(over.printed).toContain("test.rules:4:6");
  });

  it("maxHashlistEntries counts the hashes of a list file", () => {
    const limit = 3;
    const text = 'hashlist bad from "bad.sha256"\nrule t { when sha256 in bad deny "x" }';
    const file = (n: number) =>
      `# hashes\n${Array.from({ length: n }, (_, i) => i.toString(16).padStart(64, "0")).join("\n")}\n`;
    expect(compileWith(text, { maxHashlistEntries: limit }, { "bad.sha256": file(limit) }).ok).toBe(
      true,
    );
    const over = compileWith(
      text,
      { maxHashlistEntries: limit },
      { "bad.sha256": file(limit + 1) },
    );
    expect(errorCodes(over)).toEqual(["list_file_too_large"]);
    // the first entry over the limit, on line limit + 2 (after the comment)
    expect(over.printed).toContain(`bad.sha256:${limit + 2}:1`);
  });

  it("maxListFileBytes counts the bytes of one list file, from a loader or on disk", () => {
    const limit = 20;
    const text = 'list l from "names.txt"\nrule t { when fileName in l deny "x" }';
    const file = (bytes: number) =>
      `${"é".repeat((bytes - 1) >> 1)}${"a".repeat((bytes - 1) & 1)}\n`;
    expect(Buffer.byteLength(file(limit))).toBe(limit);
    expect(compileWith(text, { maxListFileBytes: limit }, { "names.txt": file(limit) }).ok).toBe(
      true,
    );
    const over = compileWith(text, { maxListFileBytes: limit }, { "names.txt": file(limit + 1) });
    expect(errorCodes(over)).toEqual(["list_file_too_large"]);
    expect(over.diagnostics[0]!.message).toBe(
      `list file \`names.txt\` is larger than the limit of ${limit} bytes`,
    );
    const dir = mkdtempSync(join(tmpdir(), "clearance-limits-"));
    try {
      writeFileSync(join(dir, "a.rules"), text);
      writeFileSync(join(dir, "names.txt"), file(limit));
      const options = { git: false, now: NOW, limits: { maxListFileBytes: limit } };
      expect(loadRuleset(dir, options).diagnostics).toEqual([]);
      writeFileSync(join(dir, "names.txt"), file(limit + 1));
      expect(errorCodes(loadRuleset(dir, options))).toEqual(["list_file_too_large"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(DEFAULT_LIMITS.maxListFileBytes).toBe(256 * 1024 * 1024);
  });

  it("maxRulesetBytes counts rule files and list files together", () => {
    const text = 'list l from "names.txt"\nrule t { when fileName in l deny "x" }';
    const names = "setup.exe\n";
    const limit = Buffer.byteLength(text) + Buffer.byteLength(names);
    expect(compileWith(text, { maxRulesetBytes: limit }, { "names.txt": names }).ok).toBe(true);
    const over = compileWith(text, { maxRulesetBytes: limit - 1 }, { "names.txt": names });
    expect(errorCodes(over)).toEqual(["ruleset_too_large"]);
    expect(over.diagnostics[0]!.message).toBe(
      `list file \`names.txt\` takes the rule set over the limit of ${limit - 1} bytes`,
    );
    // the rule files alone
    const rulesOnly = compileWith(text, { maxRulesetBytes: Buffer.byteLength(text) - 1 }, {});
    expect(errorCodes(rulesOnly)).toEqual(["ruleset_too_large"]);
    expect(DEFAULT_LIMITS.maxRulesetBytes).toBe(512 * 1024 * 1024);
  });

  it("maxDiagnostics: the rest are summarised in one too_many_diagnostics", () => {
    const limit = 3;
    const text = (n: number) =>
      Array.from({ length: n }, (_, i) => `rule r${i} { when nope${i} == 1 deny "x" }`).join("\n");
    const at = compileWith(text(limit), { maxDiagnostics: limit });
    expect(at.codes).toEqual(["unknown_field", "unknown_field", "unknown_field"]);
    const over = compileWith(text(limit + 2), { maxDiagnostics: limit });
    expect(over.codes).toEqual([
      "unknown_field",
      "unknown_field",
      "unknown_field",
      "too_many_diagnostics",
    ]);
    const summary = over.diagnostics[limit]!;
    expect(summary).toMatchObject({ severity: "info", message: "2 more diagnostics not shown" });
  });

  it("maxTemplateHoles: the hole over the limit is underlined", () => {
    const limit = 3;
    const text = (n: number) => `rule t { when true deny "${"{fileSize} ".repeat(n)}" }`;
    const at = compileWith(text(limit), { maxTemplateHoles: limit });
    expect(at.printed).toBe("");
    const over = compileWith(text(limit + 1), { maxTemplateHoles: limit });
    expect(errorCodes(over)).toEqual(["too_many_holes"]);
    const d = over.diagnostics[0]!;
    expect(d.message).toBe(`a reason has more than ${limit} \`{}\` holes`);
    const source = text(limit + 1);
    expect(source.slice(d.span.start, d.span.end)).toBe("{fileSize}");
    expect(d.span.start).toBe(source.lastIndexOf("{fileSize}"));
    expect(DEFAULT_LIMITS.maxTemplateHoles).toBe(100);
  });

  it("maxDeclarationTokens: a declaration over it is not parsed, and the next one is", () => {
    // `rule t { when fileSize > 1 deny "x" }` is 10 tokens; each `and fileSize > 1` adds 4
    const rule = (name: string, ands: number) =>
      `rule ${name} { when fileSize > 1${" and fileSize > 1".repeat(ands)} deny "x" }`;
    const limit = 10 + 4 * 3;
    expect(compileWith(rule("t", 3), { maxDeclarationTokens: limit }).printed).toBe("");
    const source = `${rule("t", 3)}\n${rule("u", 0)} \nrule v { when nosuch == 1 deny "y" }`;
    const over = compileWith(source, { maxDeclarationTokens: limit - 1 });
    expect(errorCodes(over)).toEqual(["declaration_too_large", "unknown_field"]);
    const d = over.diagnostics[0]!;
    expect(d.message).toBe(
      `this declaration has ${limit} tokens, more than the limit of ${limit - 1}; it is not parsed`,
    );
    // marked at its first token, not underlined for megabytes
    expect(source.slice(d.span.start, d.span.end)).toBe("rule");
    expect(d.span.start).toBe(0);
    // no follow-on noise about the rule it hid (`t` has no outcome, ...)
    expect(over.codes).not.toContain("missing_outcome");
    expect(DEFAULT_LIMITS.maxDeclarationTokens).toBe(250_000);
  });

  it("maxDeclarationTokens bounds a reason's `{}` hole too", () => {
    // the rule is 8 tokens; the hole `{1+1+1+1+1+1}` is 11
    const text = 'rule t { when true deny "sum {1+1+1+1+1+1}" }';
    expect(compileWith(text, { maxDeclarationTokens: 11 }).printed).toBe("");
    const over = compileWith(text, { maxDeclarationTokens: 10 });
    expect(errorCodes(over)).toEqual(["declaration_too_large"]);
    const d = over.diagnostics[0]!;
    expect(d.message).toBe(
      "this reason hole has 11 tokens, more than the limit of 10; it is not parsed",
    );
    expect(text.slice(d.span.start, d.span.end)).toBe("1+1+1+1+1+1");
  });

  it("maxEvaluationSteps: a loop over N items costs N; over the budget the rule fails", () => {
    const limit = 4;
    const text =
      'on-error review\ndefault allow "fine"\nrule t { when count(e in engines where true) > 0 deny "x" }';
    const engines = (n: number) => Array.from({ length: n }, (_, i) => ({ engine: `e${i}` }));
    const decideWith = (n: number) =>
      decide(rules(text, { limits: { maxEvaluationSteps: limit } }), { engines: engines(n) });
    expect(decideWith(limit)).toMatchObject({ decision: "deny", rule: "t", errors: [] });
    expect(decideWith(limit + 1)).toMatchObject({
      decision: "review",
      rule: "t",
      errors: [{ rule: "t", code: "evaluation_budget_exceeded" }],
    });
    expect(DEFAULT_LIMITS.maxEvaluationSteps).toBe(1_000_000);
  });

  describe("resolveLimits", () => {
    it("merges overrides and freezes the result", () => {
      const limits = resolveLimits({ maxRules: 7 });
      expect(limits).toEqual({ ...DEFAULT_LIMITS, maxRules: 7 });
      expect(Object.isFrozen(limits)).toBe(true);
    });
    it.each(Object.keys(DEFAULT_LIMITS))("rejects a non-positive or non-integer `%s`", (key) => {
      for (const value of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "3", null]) {
        expect(() => resolveLimits({ [key]: value } as never), String(value)).toThrow(TypeError);
        expect(() => resolveLimits({ [key]: value } as never)).toThrow(`\`${key}\``);
      }
      expect(resolveLimits({ [key]: 1 })[key as keyof LanguageLimits]).toBe(1);
    });
    it("rejects an unknown key, naming it, also through compile", () => {
      expect(() => resolveLimits({ maxFileSize: 3 } as never)).toThrow(TypeError);
      expect(() => resolveLimits({ maxFileSize: 3 } as never)).toThrow("`maxFileSize`");
      expect(() =>
        compile([{ path: "a.rules", text: "" }], { limits: { maxDepth: 3 } as never }),
      ).toThrow(/`maxDepth`/);
    });
  });
});

describe("input limits: at the limit accepted, just over it a problem with a JSON Pointer", () => {
  const ok = (input: unknown, limits: object) => {
    const v = validateResult(input, limits);
    expect(v.ok ? [] : v.problems).toEqual([]);
  };
  const problems = (input: unknown, limits: object) => {
    const v = validateResult(input, limits);
    expect(v.ok).toBe(false);
    return v.ok ? [] : v.problems;
  };

  it("maxDepth (the root object is depth 1)", () => {
    const input = { sha256: SHA, engines: [{ engine: "a", result: null }] };
    ok(input, { maxDepth: 3 });
    expect(problems(input, { maxDepth: 2 })).toEqual([
      { pointer: "/engines/0", message: "nesting depth exceeds the limit of 2" },
    ]);
  });

  it("maxArrayLength", () => {
    const input = { sha256: SHA, tags: ["a", "b", "c"] };
    ok(input, { maxArrayLength: 3 });
    expect(problems({ ...input, tags: ["a", "b", "c", "d"] }, { maxArrayLength: 3 })).toEqual([
      { pointer: "/tags", message: "array has 4 items, more than the limit of 3" },
    ]);
  });

  it("maxStringLength, for values and property names (escaped in the pointer)", () => {
    const limit = 64; // sha256 itself is 64 characters
    ok({ sha256: SHA, fileName: "x".repeat(limit) }, { maxStringLength: limit });
    expect(
      problems({ sha256: SHA, fileName: "x".repeat(limit + 1) }, { maxStringLength: limit }),
    ).toEqual([
      { pointer: "/fileName", message: "string has 65 characters, more than the limit of 64" },
    ]);
    const key = `a/b~${"k".repeat(limit - 4)}`;
    ok({ sha256: SHA, vendor: { [key]: 1 } }, { maxStringLength: limit });
    const longKey = `${key}k`;
    expect(problems({ sha256: SHA, vendor: { [longKey]: 1 } }, { maxStringLength: limit })).toEqual(
      [
        {
          pointer: `/vendor/${longKey.replace("~", "~0").replace("/", "~1")}`,
          message: "property name has 65 characters, more than the limit of 64",
        },
      ],
    );
  });

  it("maxKeys", () => {
    ok({ sha256: SHA, vendor: { name: "a", verified: true } }, { maxKeys: 2 });
    expect(
      problems(
        { sha256: SHA, vendor: { name: "a", verified: true, product: "p" } },
        { maxKeys: 2 },
      ),
    ).toEqual([
      { pointer: "/vendor", message: "object has 3 properties, more than the limit of 2" },
    ]);
  });

  it("maxBytes counts UTF-8 bytes of the JSON text (a BOM aside)", () => {
    const text = JSON.stringify({ sha256: SHA, fileName: "é😀" });
    const bytes = Buffer.byteLength(text);
    expect(bytes).toBeGreaterThan(text.length);
    expect(parseResultJson(text, { maxBytes: bytes }).ok).toBe(true);
    expect(parseResultJson(`\ufeff${text}`, { maxBytes: bytes }).ok).toBe(true);
    const over = parseResultJson(text, { maxBytes: bytes - 1 });
    expect(over).toEqual({
      ok: false,
      problems: [
        { pointer: "", message: `input is ${bytes} bytes, more than the limit of ${bytes - 1}` },
      ],
    });
  });

  it("the other limits apply to parsed JSON text too", () => {
    const text = JSON.stringify({ sha256: SHA, tags: ["a", "b"] });
    expect(parseResultJson(text, { maxArrayLength: 2 }).ok).toBe(true);
    expect(parseResultJson(text, { maxArrayLength: 1 })).toMatchObject({
      ok: false,
      problems: [{ pointer: "/tags" }],
    });
  });

  it("unknown input limits and bad values are TypeErrors naming the limit", () => {
    expect(() => validateResult({ sha256: SHA }, { depth: 1 } as never)).toThrow(/`depth`/);
    expect(() => validateResult({ sha256: SHA }, { maxKeys: -1 })).toThrow(/`maxKeys`/);
    expect(() => parseResultJson("{}", { maxBytes: 1.5 })).toThrow(/`maxBytes`/);
  });
});

describe("list files", () => {
  it("every bad hash line is reported with its line number, 20 at most, then a summary", () => {
    const good = SHA;
    const lines = ["# known bad"];
    const badLines: number[] = [];
    for (let i = 0; i < 50; i++) {
      if (i % 2 === 0) lines.push(i % 4 === 0 ? good.toUpperCase() : `${good}  file${i}.exe`);
      else {
        lines.push(i % 3 === 0 ? `  not-a-hash-${i}` : `${good.slice(1)}\t`);
        badLines.push(lines.length);
      }
    }
    lines.push("", "# end");
    for (const eol of ["\n", "\r\n"]) {
      const r = compileWith(
        'hashlist bad from "bad.sha256"\nrule t { when sha256 in bad deny "x" }',
        {},
        { "bad.sha256": lines.join(eol) },
      );
      expect(r.ok).toBe(false);
      const bad = r.diagnostics.filter((d) => d.code === "list_file_bad_line");
      expect(bad).toHaveLength(21);
      expect(r.codes.filter((c) => c !== "list_file_bad_line")).toEqual([]);
      const printed = bad.map((d) =>
        formatDiagnostic(d, (p) =>
          p === "bad.sha256" ? { path: p, text: lines.join(eol) } : undefined,
        ),
      );
      const summary = bad.find((d) => d.message.startsWith(`${badLines.length - 20} more lines`));
      expect(summary, "summary").toBeDefined();
      const located = bad.filter((d) => d !== summary);
      expect(located).toHaveLength(20);
      const shownLines = printed
        .filter((_, i) => bad[i] !== summary)
        .map((text) => Number(/bad\.sha256:(\d+):/.exec(text)?.[1]));
      expect(shownLines).toEqual(badLines.slice(0, 20));
      for (const text of printed) expect(text).toMatch(/bad\.sha256:\d+:\d+/);
    }
  });

  describe("on disk", () => {
    const dirs: string[] = [];
    const tempDir = () => {
      const dir = mkdtempSync(join(tmpdir(), "clearance-limits-"));
      dirs.push(dir);
      return dir;
    };
    afterAll(() => {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    it("a rule file that is not UTF-8 gives invalid_utf8", () => {
      const dir = tempDir();
      writeFileSync(
        join(dir, "bad.rules"),
        Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('rule t { when true deny "x" }')]),
      );
      writeFileSync(join(dir, "good.rules"), 'rule u { when true deny "y" }\n');
      const result = loadRuleset(dir, { git: false });
      expect(result.ruleset).toBeUndefined();
      expect(result.diagnostics).toHaveLength(1);
      expect(result.diagnostics[0]).toMatchObject({
        code: "invalid_utf8",
        severity: "error",
        span: { file: join(dir, "bad.rules"), start: 0, end: 0 },
      });
      expect(result.diagnostics[0]!.message).toContain("byte 0");
    });

    it("a list file that is not UTF-8 gives invalid_utf8", () => {
      const dir = tempDir();
      writeFileSync(
        join(dir, "a.rules"),
        'list names from "names.txt"\nrule t { when fileName in names deny "x" }\n',
      );
      writeFileSync(join(dir, "names.txt"), Buffer.from([0x61, 0x0a, 0xc3, 0x28]));
      const result = loadRuleset(dir, { git: false });
      expect(result.ruleset).toBeUndefined();
      expect(result.diagnostics.map((d) => d.code)).toEqual(["invalid_utf8"]);
      expect(result.diagnostics[0]!.message).toContain("byte 2");
    });

    it("a 1,000,000-line hash list loads and every hash in it is found", () => {
      const dir = tempDir();
      const n = 1_000_000;
      const hash = (i: number) => i.toString(16).padStart(64, "0");
      const lines = new Array<string>(n);
      for (let i = 0; i < n; i++) lines[i] = i % 7 === 0 ? hash(i).toUpperCase() : hash(i);
      writeFileSync(join(dir, "big.sha256"), `${lines.join("\n")}\n`);
      writeFileSync(
        join(dir, "a.rules"),
        'hashlist big from "big.sha256"\ndefault allow "ok"\nrule t { when sha256 in big deny "listed" }\n',
      );
      const result = loadRuleset(dir, { git: false });
      expect(result.diagnostics).toEqual([]);
      const rs = result.ruleset!;
      for (const i of [0, 1, 7, 123_456, n - 1])
        expect(rs.decide({ sha256: hash(i) }, { now: NOW }).decision, String(i)).toBe("deny");
      expect(rs.decide({ sha256: hash(n) }, { now: NOW }).decision).toBe("allow");
      expect(rs.decide({ sha256: SHA }, { now: NOW }).decision).toBe("allow");
    });
  });
});

describe("limits do not change decisions", () => {
  it("a rule set compiled with tight limits decides like one with the defaults", () => {
    const text =
      'list l = ["a", "b"]\nrule t { when fileName in l and ((trustScore > 1)) deny "x" }';
    const tight = rules(text, {
      limits: { maxListLength: 2, maxNestingDepth: 4, maxRules: 1, maxFileBytes: text.length },
    });
    const loose = rules(text);
    for (const input of [{ fileName: "a", trustScore: 5 }, { fileName: "c" }, {}]) {
      const { revision: _a, ...a } = decide(tight, input);
      const { revision: _b, ...b } = decide(loose, input);
      expect(a).toEqual(b);
    }
  });
});
