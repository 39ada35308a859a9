import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { format } from "../src/format.js";
import { parseFile } from "../src/parse.js";

/** Set UPDATE_GOLDEN=1 to rewrite the `.golden` files from the formatter's current output. */
const UPDATE = process.env.UPDATE_GOLDEN === "1";
const GOLDEN = new URL("./golden/format/", import.meta.url);

function fmt(text: string, lineWidth?: number): string | undefined {
  return format({ path: "test.rules", text }, lineWidth === undefined ? {} : { lineWidth }).text;
}

/** The AST without positions; comments as the sorted list of their texts. */
function shape(text: string): unknown {
  const { ast, diagnostics } = parseFile({ path: "test.rules", text });
  expect(diagnostics).toEqual([]);
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value === null || typeof value !== "object") return value;
    if ("file" in value && "start" in value && "end" in value) return "span"; // `monitor` is a bare span
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      if (key !== "span" && key !== "opSpan") out[key] = strip(v);
    }
    return out;
  };
  return { items: strip(ast.items), comments: ast.comments.map((c) => c.text).sort() };
}

describe("golden files", () => {
  const inputs = readdirSync(GOLDEN)
    .filter((name) => name.endsWith(".rules"))
    .sort();

  it("has the inputs", () => {
    expect(inputs.length).toBeGreaterThanOrEqual(8);
  });

  describe.each(inputs)("%s", (name) => {
    const input = readFileSync(new URL(name, GOLDEN), "utf8");
    const goldenUrl = new URL(name.replace(/\.rules$/, ".golden"), GOLDEN);

    it("formats to the golden output", () => {
      const output = fmt(input);
      expect(output).toBeDefined();
      if (UPDATE) writeFileSync(goldenUrl, output!);
      expect(output).toBe(readFileSync(goldenUrl, "utf8"));
    });

    it("is idempotent and keeps the AST and every comment", () => {
      const output = fmt(input)!;
      expect(fmt(output)).toBe(output);
      expect(shape(output)).toEqual(shape(input));
    });
  });
});

/** `when` conditions: input -> canonical form. */
const conditions: [string, string][] = [
  ["a>=3", "a >= 3"],
  ["a   ==   b", "a == b"],
  ["not(x)", "not x"],
  ["not (a == b)", "not a == b"],
  ["not not x", "not not x"],
  ["-x < -(5)", "-x < -5"],
  ["- 5 == --5", "-5 == --5"],
  ["-(a + b) > 0", "-(a + b) > 0"],
  ["(a + b) * c > 0", "(a + b) * c > 0"],
  ["a + (b * c) > 0", "a + b * c > 0"],
  ["a - (b - c) > 0", "a - (b - c) > 0"],
  ["(a - b) - c > 0", "a - b - c > 0"],
  ["a / (b / c) % 2 == 0", "a / (b / c) % 2 == 0"],
  ["(a == b) == c", "(a == b) == c"],
  ["a and (b and c)", "a and (b and c)"],
  ["(a and b) and c", "a and b and c"],
  ["(a or b) and c", "(a or b) and c"],
  ["a or (b and c)", "a or b and c"],
  ["(a or b) or c", "a or b or c"],
  ["a or (b or c)", "a or (b or c)"],
  ["not (a and b)", "not (a and b)"],
  ["x not in L", "x not in L"],
  ["not x in L", "not x in L"],
  ['name endsWith ".scr"', 'name endsWith ".scr"'],
  ["name matches /a\\/b[/]/gi", "name matches /a\\/b[/]/gi"],
  ["(name) matches /x/", "name matches /x/"],
  ["(a + b) matches /x/", "a + b matches /x/"],
  ["(a == b) matches /x/", "(a == b) matches /x/"],
  ["age( firstSeen )<24h", "age(firstSeen) < 24h"],
  ["f() == g(a,b , c)", "f() == g(a, b, c)"],
  ["x in [ 'a' ]".replace(/'/g, '"'), 'x in ["a"]'],
  ["x in [1,2,]", "x in [1, 2]"],
  ["x in []", "x in []"],
  [
    'count(e in engines where e.category=="m")>=3',
    'count(e in engines where e.category == "m") >= 3',
  ],
  ["any e in engines: e.x", "any e in engines: e.x"],
  ["any e in engines: e.x and e.y", "any e in engines: e.x and e.y"],
  ["(any e in engines: e.x) and y", "(any e in engines: e.x) and y"],
  ["(any e in engines: e.x) or y", "(any e in engines: e.x) or y"],
  ["y and any e in engines: e.x", "y and any e in engines: e.x"],
  ["y and (any e in engines: e.x)", "y and any e in engines: e.x"],
  ["not any e in engines: e.x", "not (any e in engines: e.x)"],
  ["(not any e in engines: e.x) and y", "not (any e in engines: e.x) and y"],
  ["all t in tags: any v in vs: t == v", "all t in tags: any v in vs: t == v"],
  ["(all t in tags: t == 1) == true", "(all t in tags: t == 1) == true"],
  ["any e in (a + b): e", "any e in a + b: e"],
  ["[any e in L: e, 1] == x", "[any e in L: e, 1] == x"],
  ["f(any e in L: e, 1)", "f(any e in L: e, 1)"],
  ["count(e in L where any r in e.rs: r) > 0", "count(e in L where any r in e.rs: r) > 0"],
  ["e.result.count > 1", "e.result.count > 1"],
  ['context.group == "x"', 'context.group == "x"'],
  ["size > 1e3 and ratio < 2.5E-2", "size > 1e3 and ratio < 2.5E-2"],
  ["d < 1h30m and t > 2026-11-26T10:00:00Z", "d < 1h30m and t > 2026-11-26T10:00:00Z"],
  ['s == "a\\"b\\\\c\\u{1F600}"', 's == "a\\"b\\\\c\\u{1F600}"'],
  ["flag == true or flag != false", "flag == true or flag != false"],
];

describe("conditions", () => {
  it.each(conditions)("%s -> %s", (input, expected) => {
    const output = fmt(`rule r { when ${input} deny "x" }`);
    expect(output).toBe(`rule r {\n  when ${expected}\n  deny "x"\n}\n`);
    expect(shape(output!)).toEqual(shape(`rule r { when ${input} deny "x" }`));
  });
});

/** Whole files: input -> output (`\n` written out). */
const files: [string, string][] = [
  ["", ""],
  ["\n\n  \n", ""],
  ["# only a comment", "# only a comment\n"],
  ["# a   \n\n\n# b\n", "# a\n\n# b\n"],
  ['ruleset   "x"', 'ruleset "x"\n'],
  ['\uFEFFruleset "x"\r\nstrategy first-match\r\n', 'ruleset "x"\nstrategy first-match\n'],
  ['ruleset "x" strategy first-match', 'ruleset "x"\nstrategy first-match\n'],
  ['ruleset "x"\n\n\n\nstrategy first-match', 'ruleset "x"\n\nstrategy first-match\n'],
  ['default   allow\t"ok"', 'default allow "ok"\n'],
  ["on-error   deny", "on-error deny\n"],
  ['list l=["a","b",]', 'list l = ["a", "b"]\n'],
  ['list l   from   "f.txt"', 'list l from "f.txt"\n'],
  ['hashlist h from "h.sha256" # hashes', 'hashlist h from "h.sha256" # hashes\n'],
  ["context{a:string,b:list<string>,}", "context { a: string, b: list<string> }\n"],
  ["context { }", "context {}\n"],
  ['rule r{when a deny "x"}', 'rule r {\n  when a\n  deny "x"\n}\n'],
  [
    'rule r expires 2027-01-31 monitor priority 1 { when a deny "x" }',
    'rule r priority 1 monitor expires 2027-01-31 {\n  when a\n  deny "x"\n}\n',
  ],
  ['rule r priority -3 { when a deny "x" }', 'rule r priority -3 {\n  when a\n  deny "x"\n}\n'],
  [
    'rule r { deny "x" unless b when a unless c }',
    'rule r {\n  when a\n  unless b\n  unless c\n  deny "x"\n}\n',
  ],
  [
    'rule a { when a deny "x" }\nrule b { when b deny "y" }',
    'rule a {\n  when a\n  deny "x"\n}\n\nrule b {\n  when b\n  deny "y"\n}\n',
  ],
  [
    'strategy first-match\nrule a { when a deny "x" }\non-error deny',
    'strategy first-match\n\nrule a {\n  when a\n  deny "x"\n}\n\non-error deny\n',
  ],
  ['rule a { when a deny "x" } # end', 'rule a {\n  when a\n  deny "x"\n} # end\n'],
  ['rule a { when a deny "x" }\n# tail', 'rule a {\n  when a\n  deny "x"\n}\n\n# tail\n'],
  [
    'rule a { # head\n when a # cond\n deny "x" # out\n }',
    'rule a { # head\n  when a # cond\n  deny "x" # out\n}\n',
  ],
  [
    'rule a {\n when a # one\n and b # two\n deny "x" }',
    // a comment between the operands of a condition keeps its place: the chain is broken
    'rule a {\n  when a # one\n    and b # two\n  deny "x"\n}\n',
  ],
  [
    'rule a {\n when a\n deny "x"\n # before the brace\n}',
    'rule a {\n  when a\n  deny "x"\n  # before the brace\n}\n',
  ],
  ['ruleset # inside\n "x"', '# inside\nruleset "x"\n'],
  ['list l = ["a", # first\n "b"]', 'list l = [\n  "a", # first\n  "b",\n]\n'],
  ['list l = [\n # lead\n "a"\n]', 'list l = [\n  # lead\n  "a",\n]\n'],
  ["list l = [ # open\n]", "list l = [ # open\n]\n"],
  ["context { a: string # field\n }", "context {\n  a: string, # field\n}\n"],
  ['# c\n\nruleset "x"', '# c\n\nruleset "x"\n'],
];

describe("files", () => {
  it.each(files)("%j", (input, expected) => {
    expect(fmt(input)).toBe(expected);
    expect(fmt(expected)).toBe(expected);
  });
});

describe("line width", () => {
  const rule = 'rule r {\n  when aaaa == 1 and bbbb == 2 or cccc == 3\n  deny "x"\n}\n';

  it("breaks a long condition before each top-level operator", () => {
    expect(fmt(rule, 30)).toBe(
      'rule r {\n  when aaaa == 1 and bbbb == 2\n    or cccc == 3\n  deny "x"\n}\n',
    );
    // the condition line is 43 columns
    expect(fmt(rule, 42)).toBe(
      'rule r {\n  when aaaa == 1 and bbbb == 2\n    or cccc == 3\n  deny "x"\n}\n',
    );
    expect(fmt(rule, 43)).toBe(rule);
  });

  it("counts code, not a trailing comment", () => {
    const commented = rule.replace("== 3", "== 3 # a comment that is long");
    expect(fmt(commented, 43)).toBe(commented);
  });

  it("does not break a condition that is not an and/or chain", () => {
    const text = 'rule r {\n  when count(e in engines where e.a and e.b) >= 3\n  deny "x"\n}\n';
    expect(fmt(text, 20)).toBe(text);
  });

  it("breaks a list or a context that does not fit", () => {
    expect(fmt('list l = ["aaaa", "bbbb", "cccc"]', 20)).toBe(
      'list l = [\n  "aaaa",\n  "bbbb",\n  "cccc",\n]\n',
    );
    expect(fmt("context { a: string, b: number }", 20)).toBe(
      "context {\n  a: string,\n  b: number,\n}\n",
    );
    expect(fmt("context { a: string }", 21)).toBe("context { a: string }\n");
  });

  it("defaults to 100 columns", () => {
    const long = `rule r {\n  when ${Array.from({ length: 12 }, (_, i) => `f${i} == ${i}`).join(" and ")}\n  deny "x"\n}\n`;
    const first = fmt(long)!.split("\n")[1]!;
    expect(first).toBe("  when f0 == 0");
    expect(fmt(long, 200)).toBe(long);
  });
});

describe("files with errors", () => {
  it.each([
    ["a syntax error", 'rule r { when a == deny "x" }', "syntax_error"],
    ["a lexical error", 'ruleset "x" &', "unexpected_character"],
    ["an unterminated string", 'ruleset "x', "unterminated_string"],
    ["a missing when", 'rule r { deny "x" }', "missing_when"],
    ["a missing outcome", "rule r {\n when a\n # dangling\n}", "missing_outcome"],
    ["a duplicate when", 'rule r { when a when b deny "x" }', "duplicate_clause"],
    ["a duplicate modifier", 'rule r monitor monitor { when a deny "x" }', "duplicate_modifier"],
    [
      "a duplicate overrides",
      'rule r overrides review overrides deny { when a allow "x" }',
      "duplicate_modifier",
    ],
    ["a bad escape", 'ruleset "\\q"', "invalid_escape"],
    ["a bad template", 'default deny "{}"', "invalid_template"],
  ])("refuses %s", (_, input, code) => {
    const result = format({ path: "bad.rules", text: input });
    expect(result.text).toBeUndefined();
    expect(result.diagnostics.map((d) => d.code)).toContain(code);
  });

  it("returns no diagnostics for a good file", () => {
    expect(format({ path: "ok.rules", text: 'ruleset "x"' }).diagnostics).toEqual([]);
  });
});
