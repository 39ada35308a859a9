import { describe, expect, it } from "vitest";
import { diagnosticsOf } from "./helpers.js";

const rule = (cond: string) => `rule r {\n  when ${cond}\n  deny "x"\n}\n`;

// condition -> [code, underlined text, help (substring)]
const typeErrors: [string, string, string, string | undefined][] = [
  ["trustscore >= 70", "unknown_field", "trustscore", "did you mean `trustScore`?"],
  ['vendor.nme == "x"', "unknown_field", "nme", "did you mean `name`?"],
  [
    'verdict == "malicous"',
    "unknown_enum_value",
    '"malicous"',
    "allowed: `clean`, `caution`, `high_risk`",
  ],
  ['signature.status in ["valid", "revoked"]', "unknown_enum_value", '"revoked"', "allowed:"],
  [
    'trustScore == "70"',
    "type_mismatch",
    'trustScore == "70"',
    "numbers are written without quotes",
  ],
  ["trustScore matches /7/", "type_mismatch", "trustScore", undefined],
  ["vendor.name in nosuchlist", "unknown_list", "nosuchlist", "declare it"],
  ['tags == ["a"]', "type_mismatch", "==", "contains"],
  ["firstSeen < 2026-11-26T06:00", "invalid_timestamp", "2026-11-26T06:00", "add `Z`"],
  ["age(firstSeen) < 1h1h", "invalid_duration", "1h1h", "largest to smallest"],
  ['fileName < "b"', "unordered_comparison", "<", "compare strings with"],
  ["trustScore", "condition_not_boolean", "trustScore", "compare it"],
  ["agee(firstSeen) < 1h", "unknown_function", "agee", "did you mean `age`?"],
  ["age(firstSeen, 1) < 1h", "wrong_argument_count", "age(firstSeen, 1)", undefined],
  ["age(trustScore) < 1h", "type_mismatch", "trustScore", undefined],
  ["age(firstSeen) < 24", "type_mismatch", "age(firstSeen) < 24", "write a duration with a unit"],
  ["exists(1)", "exists_needs_path", "1", undefined],
  ['vendor == "x"', "type_mismatch", "vendor", "fields: `name`"],
  ["trustScore.x == 1", "type_mismatch", "x", undefined],
  ["any e in trustScore: true", "type_mismatch", "trustScore", undefined],
  ['engines.engine == "x"', "type_mismatch", "engine", "go over the list"],
  ['context.group == "x"', "unknown_field", "context.group", "declare the fields"],
  ['fileName in "abc"', "type_mismatch", '"abc"', "use `contains`"],
  ["fileName + 1 == 2", "type_mismatch", "+", undefined],
  ["fileName matches /(a)\\1/", "unsafe_regex", "\\1", undefined],
  ["fileName matches /a(/", "invalid_regex", undefined as unknown as string, undefined],
  ["fileName matches /[/", "syntax_error", "/", "between slashes"],
  ["fileName matches /a/g", "invalid_regex", undefined as unknown as string, "drop"],
  ["any trustScore in tags: true", "shadowed_variable", "trustScore", undefined],
  // the built-in `exception` and `case`: typed like input fields, enums checked
  ['exception.status == "aproved"', "unknown_enum_value", '"aproved"', "did you mean `approved`?"],
  ['exception.kind == "hash"', "unknown_enum_value", '"hash"', "allowed: `file`, `signer`"],
  ['exception.stauts == "approved"', "unknown_field", "stauts", "did you mean `status`?"],
  ['exception == "x"', "type_mismatch", "exception", "fields: `id`"],
  ['exception.approvers == "alice"', "type_mismatch", "==", "contains"],
  ["exception.expires < 30d", "type_mismatch", "exception.expires < 30d", undefined],
  ['case.status == "closed"', "unknown_enum_value", '"closed"', "allowed: `open`, `expired`"],
  ['case.requests == "3"', "type_mismatch", 'case.requests == "3"', "without quotes"],
  ["exceptoin.id == 1", "unknown_field", "exceptoin", "did you mean `exception`?"],
];

describe("type errors: code, span and help", () => {
  it.each(typeErrors)("%s -> %s", (cond, code, at, help) => {
    const ds = diagnosticsOf(rule(cond));
    const d = ds.find((x) => x.code === code);
    expect(d, JSON.stringify(ds)).toBeDefined();
    if (at !== undefined) expect(d!.at).toBe(at);
    if (help !== undefined) expect(d!.help).toContain(help);
  });
});

describe("unguarded_element_field: a body of any/all that reads an item's missing field", () => {
  const code = "unguarded_element_field";
  it.each([
    ["any e in engines: e.result matches /x/", "e.result", "`any` is unknown, not false"],
    ['all e in engines: e.result == "clean"', "e.result", "`all` is unknown, not true"],
    ["any e in engines: not (e.result matches /x/)", "e.result", "exists(e.result) and ..."],
    ['any e in engines: e.engine == "Alpha" or e.result matches /x/', "e.result", "count("],
    // the schema makes `category` optional too
    ['any e in engines: e.category == "malicious"', "e.category", "exists(e.category)"],
    [
      "any e in engines: any t in tags: e.result == t",
      "e.result",
      "may be missing from items of `engines`",
    ],
  ])("%s warns at %s", (cond, at, help) => {
    const d = diagnosticsOf(rule(cond)).find((x) => x.code === code);
    expect(d?.severity).toBe("warning");
    expect(d?.at).toBe(at);
    expect(`${d?.message} ${d?.help}`).toContain(help);
  });
  it.each([
    "any e in engines: exists(e.result) and e.result matches /x/",
    'any e in engines: e.engine == "Alpha" and exists(e.result) and e.result matches /x/',
    'any e in engines: exists(e.category) and exists(e.result) and e.category == "malicious" and e.result matches /x/',
    "count(e in engines where e.result matches /x/) > 0",
    'any e in engines: e.engine == "Alpha"',
    "any t in tags: t == fileName",
  ])("%s does not warn", (cond) => {
    expect(diagnosticsOf(rule(cond)).map((x) => x.code)).not.toContain(code);
  });
});

describe("quantifier_body_extends: an `and`/`or` that runs on past the item's test", () => {
  const code = "quantifier_body_extends";
  it.each([
    [
      'any e in engines: e.engine == "A" or trustScore < 10',
      "trustScore < 10",
      "runs to the end of this `or`",
    ],
    ['all e in engines: e.engine == "A" and trustScore < 10', "trustScore < 10", "`all` runs"],
    // the trap the example rules fell into: a second quantifier swallowed by the first
    [
      'any e in engines: e.engine == "A" or any t in tags: t == "x"',
      'any t in tags: t == "x"',
      "does not read `e`",
    ],
    [
      'any e in engines: e.engine == "A" or fileName == "b" or e.engine == "C"',
      'fileName == "b"',
      "(any e in ...: ...) or ...",
    ],
    ['any e in engines: (e.engine == "A") or trustScore < 10', "trustScore < 10", "`or`"],
  ])("%s warns at %s", (cond, at, text) => {
    const d = diagnosticsOf(rule(cond)).find((x) => x.code === code);
    expect(d?.severity).toBe("warning");
    expect(d?.at).toBe(at);
    expect(`${d?.message} ${d?.help}`).toContain(text);
  });
  it.each([
    '(any e in engines: e.engine == "A") or trustScore < 10',
    'any e in engines: (e.engine == "A" or trustScore < 10)',
    "any e in engines: exists(e.result) and e.result matches /x/",
    // an operand that does not start with the item is not a test of the item cut short
    'any e in engines: trustScore < 10 or e.engine == "A"',
    'any e in engines: e.engine == "A"',
  ])("%s does not warn", (cond) => {
    expect(diagnosticsOf(rule(cond)).map((x) => x.code)).not.toContain(code);
  });
});

describe("structure", () => {
  it("duplicate rules point at both places", () => {
    const ds = diagnosticsOf(`${rule("true")}${rule("false")}`);
    expect(ds).toEqual([
      expect.objectContaining({
        code: "duplicate_rule",
        at: "r",
        message: "rule `r` is defined more than once",
      }),
    ]);
  });
  it.each([
    ['rule r { deny "x" }', "missing_when", "r"],
    ["rule r { when true }", "missing_outcome", "r"],
    ['rule r { when true when false deny "x" }', "duplicate_clause", "when false"],
    ['rule r { when true deny "x" allow "y" }', "duplicate_clause", 'allow "y"'],
    ['rule r monitor monitor { when true deny "x" }', "duplicate_modifier", "monitor"],
    [
      'strategy first-match\nstrategy deny-overrides\nrule r { when true deny "x" }',
      "duplicate_declaration",
      "strategy deny-overrides",
    ],
    [
      'list a = ["x"]\nlist a = ["y"]\nrule r { when fileName in a deny "x" }',
      "duplicate_list",
      "a",
    ],
    ['list trustScore = [1]\nrule r { when true deny "x" }', "name_conflict", "trustScore"],
    ['list a = ["x", 1]\nrule r { when fileName in a deny "x" }', "type_mismatch", "1"],
    ['context { a: strin }\nrule r { when true deny "x" }', "unknown_type", "strin"],
    [
      'context { a: string, a: number }\nrule r { when true deny "x" }',
      "duplicate_context_field",
      "a",
    ],
    ['list unused = ["x"]\nrule r { when true deny "x" }', "unused_list", "unused"],
    ["", "no_rules", ""],
    ['rule r expires 2026-11-01 { when true deny "x" }', "rule_expired", "expires 2026-11-01"],
    [
      'rule r expires 2026-12-01 { when true deny "x" }',
      "rule_expiring_soon",
      "expires 2026-12-01",
    ],
    ['rule r expires 2026-02-30 { when true deny "x" }', "invalid_timestamp", "2026-02-30"],
    ['rule r { when true deny "a {nope} b" }', "unknown_field", "nope"],
    ['rule r { when true deny "a {vendor} b" }', "type_mismatch", "vendor"],
    ['rule r { when true deny "a {x" }', "invalid_template", "{x"],
    ['rule r { when true deny "bad \\q" }', "invalid_escape", "\\q"],
    ['rule r overrides review { when true deny "x" }', "misplaced_modifier", "overrides review"],
    ['rule r forbid-approval { when true allow "x" }', "misplaced_modifier", "forbid-approval"],
    [
      'strategy first-match\nrule r overrides deny { when true allow "x" }',
      "overrides_under_first_match",
      "overrides deny",
    ],
    [
      'rule r overrides review overrides deny { when true allow "x" }',
      "duplicate_modifier",
      "overrides deny",
    ],
    ['rule r overrides allow { when true allow "x" }', "syntax_error", "allow"],
  ])("%s -> %s", (text, code, at) => {
    const ds = diagnosticsOf(text);
    const d = ds.find((x) => x.code === code);
    expect(d, JSON.stringify(ds)).toBeDefined();
    expect(d!.at).toBe(at);
  });
  it("after `overrides`, the error names the two actions it takes", () => {
    expect(diagnosticsOf('rule r overrides allow { when true allow "x" }')[0]).toMatchObject({
      message: "expected `review` or `deny`, found `allow`",
      help: expect.stringContaining("`overrides review` or `overrides deny`"),
    });
  });
  it("warnings do not block compilation", () => {
    const ds = diagnosticsOf('rule r expires 2026-12-01 { when true deny "x" }');
    expect(ds.every((d) => d.severity !== "error")).toBe(true);
  });
});

describe("syntax errors are collected, located and recovered from", () => {
  it("reports problems in several rules of one file", () => {
    const ds = diagnosticsOf(`rule a { when trustScore >= deny "x" }
rule b { when trustScore = 3 deny "y" }
rule c { when true && false deny "z" }
rule d { when trustScore >= 1 deny "ok" }`);
    const codes = ds.map((d) => d.code);
    expect(codes.filter((c) => c === "syntax_error").length).toBeGreaterThanOrEqual(2);
    expect(ds.find((d) => d.at === "=")?.help).toContain("compare with `==`");
    expect(ds.find((d) => d.at === "&&")?.help).toContain("write `and`");
    // no follow-on type errors from the broken rules
    expect(codes).not.toContain("condition_not_boolean");
  });
  it("an unterminated string", () => {
    expect(
      diagnosticsOf('rule r { when fileName == "abc\n deny "x" }').map((d) => d.code),
    ).toContain("unterminated_string");
  });
  it("deep nesting is a diagnostic, not a stack overflow", () => {
    const ds = diagnosticsOf(rule(`${"(".repeat(5000)}true${")".repeat(5000)}`));
    expect(ds.map((d) => d.code)).toContain("nesting_too_deep");
    const nots = diagnosticsOf(rule(`${"not ".repeat(5000)}true`));
    expect(nots.map((d) => d.code)).toContain("nesting_too_deep");
  });
});
