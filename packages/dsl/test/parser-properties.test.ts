import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DIAGNOSTIC_CODES, type Diagnostic } from "../src/diagnostics.js";
import { parseFile } from "../src/parse.js";

/*
 * parseFile never throws, whatever the text: every problem is a diagnostic with a known code, a
 * severity, a message and a span inside the file. Valid files (from a generator that follows the
 * grammar in parser.ts) give no diagnostic at all; mutations of them give well-formed ones.
 */

const PATH = "p.rules";

/** Parses `text` and checks every diagnostic's shape; returns them. */
function parseChecked(text: string): Diagnostic[] {
  let diagnostics: Diagnostic[] = [];
  expect(() => {
    diagnostics = parseFile({ path: PATH, text }).diagnostics;
  }).not.toThrow();
  for (const d of diagnostics) checkDiagnostic(d, text);
  return diagnostics;
}

function checkDiagnostic(d: Diagnostic, text: string): void {
  const where = `${d.code} ${JSON.stringify(d.span)} in a ${text.length}-character file`;
  expect(Object.hasOwn(DIAGNOSTIC_CODES, d.code), where).toBe(true);
  expect(["error", "warning", "info"], where).toContain(d.severity);
  expect(typeof d.message, where).toBe("string");
  expect(d.message.length, where).toBeGreaterThan(0);
  for (const span of [d.span, ...(d.related ?? []).map((r) => r.span)]) {
    expect(span.file, where).toBe(PATH);
    expect(Number.isInteger(span.start) && Number.isInteger(span.end), where).toBe(true);
    expect(0 <= span.start && span.start <= span.end && span.end <= text.length, where).toBe(true);
  }
  if (d.help !== undefined) expect(d.help.length, where).toBeGreaterThan(0);
}

// ---------------------------------------------------------------------------------------------
// A generator of valid rule files: every compound expression is parenthesised.

const name = fc.constantFrom("alpha", "beta", "gamma_1", "Delta", "_x", "denyList", "rules2");
const field = fc.constantFrom(
  "trustScore",
  "vendor.name",
  "detections.malicious",
  "e.result",
  "x.count",
  "e.deny",
  "context.group",
  "fileName",
  "tags",
);
const stringLit = fc.constantFrom(
  '"a"',
  '""',
  '"with \\"quotes\\""',
  '"back\\\\slash"',
  '"tab\\t, newline\\n, return\\r"',
  '"\\u{1F600} \\u00e9 é 😀"',
  '"# not a comment"',
  '"braces \\{ \\}"',
  '"slash \\/"',
  '"nul \u0000 and \u2028"',
);
const otherLit = fc.constantFrom(
  "0",
  "3",
  "100",
  "2.5",
  "1e3",
  "7E-2",
  "24h",
  "1h30m",
  "500ms",
  "2w",
  "2027-01-31",
  "2024-02-29",
  "2026-11-26T10:00:00Z",
  "2026-11-26T10:00:00.123+02:00",
  "2026-11-26T10:00Z",
  "true",
  "false",
);
const regex = fc.constantFrom("/ransom/i", "/^a\\/b$/", "/[a-z]+\\d/gi", "/x[/]y/", "/\\//");

function expression(depth: number, hole: boolean): fc.Arbitrary<string> {
  const atom = hole ? fc.oneof(field, otherLit) : fc.oneof(field, stringLit, otherLit);
  if (depth === 0) return atom;
  const sub = expression(depth - 1, hole);
  const two = (ops: fc.Arbitrary<string>) =>
    fc.tuple(sub, ops, sub).map(([a, op, b]) => `(${a} ${op} ${b})`);
  const options = [
    { weight: 4, arbitrary: atom },
    { weight: 2, arbitrary: two(fc.constantFrom("and", "or")) },
    { weight: 1, arbitrary: sub.map((a) => `(not ${a})`) },
    {
      weight: 2,
      arbitrary: two(
        fc.constantFrom(
          "==",
          "!=",
          "<",
          "<=",
          ">",
          ">=",
          "in",
          "not in",
          "contains",
          "startsWith",
          "endsWith",
        ),
      ),
    },
    { weight: 1, arbitrary: two(fc.constantFrom("+", "-", "*", "/", "%")) },
    { weight: 1, arbitrary: sub.map((a) => `(-${a})`) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom("any", "all"), fc.constantFrom("e", "t"), sub, sub)
        .map(([q, v, c, b]) => `(${q} ${v} in ${c}: ${b})`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom("e", "t"), sub, sub)
        .map(([v, c, b]) => `count(${v} in ${c} where ${b})`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.array(sub, { maxLength: 3 }), fc.boolean())
        .map(([xs, comma]) => `[${xs.join(", ")}${comma && xs.length > 0 ? "," : ""}]`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom("age", "lower", "upper", "len", "exists", "now", "f"),
          fc.array(sub, { maxLength: 2 }),
        )
        .map(([f, args]) => `${f}(${args.join(", ")})`),
    },
  ];
  if (!hole)
    options.push({
      weight: 1,
      arbitrary: fc.tuple(sub, regex).map(([a, r]) => `(${a} matches ${r})`),
    });
  return fc.oneof(...options);
}

const condition = fc.integer({ min: 0, max: 3 }).chain((d) => expression(d, false));

const reason = fc
  .array(
    fc.oneof(
      fc.constantFrom("flagged", " by ", "\\{literal\\}", '\\"q\\"', "é😀", ""),
      fc.integer({ min: 0, max: 2 }).chain((d) => expression(d, true).map((e) => `{${e}}`)),
    ),
    { maxLength: 4 },
  )
  .map((parts) => `"${parts.join("")}"`);

const action = fc.constantFrom("allow", "deny", "review");

const rule = fc
  .tuple(
    name,
    fc.shuffledSubarray(["priority", "monitor", "expires", "overrides", "forbid-approval"]),
    fc.integer({ min: -1000, max: 1000 }),
    fc.constantFrom("2027-01-31", "2026-11-26T10:00:00Z"),
    condition,
    fc.array(condition, { maxLength: 2 }),
    action,
    reason,
    fc.nat(),
  )
  .map(([n, modifiers, priority, expires, when, unless, act, why, seed]) => {
    const head = modifiers
      .map((m) =>
        m === "priority"
          ? `priority ${priority < 0 ? `-${-priority}` : priority}`
          : m === "expires"
            ? `expires ${expires}`
            : m === "overrides"
              ? `overrides ${priority % 2 === 0 ? "review" : "deny"}`
              : m,
      )
      .join(" ");
    const clauses = [`when ${when}`, ...unless.map((u) => `unless ${u}`), `${act} ${why}`];
    // clause order does not matter: a permutation picked by `seed`
    const order = clauses.map((c, i) => ({ c, key: (seed * (i + 7)) % 13 }));
    order.sort((a, b) => a.key - b.key);
    return `rule ${n} ${head} {\n  ${order.map((o) => o.c).join("\n  ")}\n}`;
  });

const typeRef = fc.constantFrom(
  "string",
  "number",
  "bool",
  "timestamp",
  "duration",
  "list<string>",
  "list<list<number>>",
);

const item = fc.oneof(
  { weight: 5, arbitrary: rule },
  { weight: 1, arbitrary: stringLit.map((s) => `ruleset ${s}`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("deny-overrides", "first-match").map((s) => `strategy ${s}`),
  },
  { weight: 1, arbitrary: fc.tuple(action, reason).map(([a, r]) => `default ${a} ${r}`) },
  { weight: 1, arbitrary: fc.constantFrom("review", "deny", "ignore").map((s) => `on-error ${s}`) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(name, fc.array(fc.oneof(stringLit, otherLit), { maxLength: 4 }))
      .map(([n, xs]) => `list ${n} = [${xs.join(", ")}]`),
  },
  { weight: 1, arbitrary: fc.tuple(name, stringLit).map(([n, s]) => `list ${n} from ${s}`) },
  { weight: 1, arbitrary: fc.tuple(name, stringLit).map(([n, s]) => `hashlist ${n} from ${s}`) },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.constantFrom("canonical", "platform", "virustotal"), { minLength: 1, maxLength: 3 })
      .map((names) => `inputs ${names.join(", ")}`),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.array(fc.tuple(name, typeRef), { maxLength: 4 }), fc.boolean())
      .map(
        ([fields, comma]) =>
          `context { ${fields.map(([n, t]) => `${n}: ${t}`).join(", ")}${comma && fields.length ? "," : ""} }`,
      ),
  },
);

const separator = fc.constantFrom(
  "\n",
  "\n\n",
  "\r\n",
  " # comment\n",
  "\n# own line \u2028 é\n",
  "\t\n",
);

/** Valid files: items between separators, sometimes a BOM, CRLF line ends or a final comment. */
const validFile: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom("", "\ufeff", "# header\n"),
    fc.array(fc.tuple(item, separator), { maxLength: 6 }),
    fc.constantFrom("", "\n", "# last", "\n# last\n"),
    fc.boolean(),
  )
  .map(([start, items, end, crlf]) => {
    const text = start + items.map(([i, s]) => i + s).join("") + end;
    return crlf ? text.replace(/\r?\n/g, "\r\n") : text;
  });

// ---------------------------------------------------------------------------------------------
// Mutations: the language's vocabulary and characters, inserted, deleted and duplicated.

const VOCABULARY = [
  "{",
  "}",
  "(",
  ")",
  "[",
  "]",
  '"',
  "/",
  "\\",
  "==",
  "=",
  "!=",
  "<",
  ">=",
  "-",
  "+",
  "*",
  "%",
  ".",
  ",",
  ":",
  "#",
  "and",
  "or",
  "not",
  "any",
  "all",
  "count",
  "where",
  "in",
  "matches",
  "contains",
  "rule",
  "when",
  "unless",
  "deny",
  "allow",
  "review",
  "priority",
  "monitor",
  "expires",
  "overrides",
  "forbid-approval",
  "exception",
  "case",
  "list",
  "hashlist",
  "from",
  "context",
  "inputs",
  "default",
  "on-error",
  "strategy",
  "deny-overrides",
  "ruleset",
  "2026-13-45",
  "99999999999999999999d",
  "1e999",
  "\\u{110000}",
  "\\q",
  "{x",
  "}",
  "\n",
  "\r",
  "\0",
  "\ud800",
  "😀",
  "&&",
  "||",
  "'",
  "\u201c",
];

type Mutation =
  | { kind: "insert"; at: number; text: string }
  | { kind: "delete"; at: number; length: number }
  | { kind: "duplicate"; at: number; length: number; to: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    text: fc.oneof(
      fc.constantFrom(...VOCABULARY),
      fc.constantFrom(...VOCABULARY).map((t) => ` ${t} `),
      fc.string({ unit: "binary", maxLength: 2 }),
    ),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    length: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record({
    kind: fc.constant("duplicate" as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    length: fc.integer({ min: 1, max: 30 }),
    to: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
) as fc.Arbitrary<Mutation>;

function mutate(text: string, mutations: readonly Mutation[]): string {
  for (const m of mutations) {
    const at = Math.floor(m.at * text.length);
    if (m.kind === "insert") text = text.slice(0, at) + m.text + text.slice(at);
    else if (m.kind === "delete") text = text.slice(0, at) + text.slice(at + m.length);
    else {
      const piece = text.slice(at, at + m.length);
      const to = Math.floor(m.to * text.length);
      text = text.slice(0, to) + piece + text.slice(to);
    }
  }
  return text;
}

const vocabularySoup = fc
  .array(fc.constantFrom(...VOCABULARY, "x", "1", "e.result", " ", "\n"), { maxLength: 60 })
  .map((tokens) => tokens.join(" "));

/** A lone surrogate or any other UTF-16 code unit. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

describe("parseFile never throws, and its diagnostics are well formed", () => {
  it("on arbitrary strings", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: "binary" }),
          fc.string({ unit: codeUnit }),
          fc.string({ unit: "grapheme" }),
        ),
        (text) => {
          parseChecked(text);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("on soups of the language's tokens", () => {
    fc.assert(
      fc.property(vocabularySoup, (text) => {
        parseChecked(text);
      }),
      { numRuns: 500 },
    );
  });

  it("valid generated files give no diagnostics", () => {
    fc.assert(
      fc.property(validFile, (text) => {
        expect(parseChecked(text)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it("on mutations of valid files", () => {
    fc.assert(
      fc.property(validFile, fc.array(mutation, { minLength: 1, maxLength: 6 }), (text, ms) => {
        parseChecked(mutate(text, ms));
      }),
      { numRuns: 400 },
    );
  });

  it("parses again to the same diagnostics (the shared parser keeps no state)", () => {
    fc.assert(
      fc.property(validFile, fc.array(mutation, { minLength: 1, maxLength: 4 }), (text, ms) => {
        const mutated = mutate(text, ms);
        const first = parseChecked(mutated);
        parseChecked(`${text}\n${"(".repeat(100)}`);
        expect(parseChecked(mutated)).toEqual(first);
      }),
      { numRuns: 100 },
    );
  });
});

describe("adversarial files", () => {
  const codes = (text: string) => parseChecked(text).map((d) => d.code);

  it("100,000 `(`", () => {
    expect(codes("(".repeat(100_000))).toContain("nesting_too_deep");
    expect(codes(`rule t { when ${"(".repeat(100_000)}true deny "x" }`)).toContain(
      "nesting_too_deep",
    );
    expect(codes(`default allow "{${"(".repeat(100_000)}}"`)).toContain("nesting_too_deep");
  });

  it("50,000 `not `", () => {
    expect(codes(`rule t { when ${"not ".repeat(50_000)}true deny "x" }`)).toContain(
      "nesting_too_deep",
    );
    expect(codes(`rule t { when ${"-".repeat(50_000)}1 > 0 deny "x" }`)).toContain(
      "nesting_too_deep",
    );
  });

  it("a 2 MB string literal is parsed whole", () => {
    const big = "a".repeat(2 * 1024 * 1024);
    const { ast, diagnostics } = parseFile({
      path: PATH,
      text: `rule t { when fileName == "${big}" deny "x" }`,
    });
    expect(diagnostics).toEqual([]);
    const r = ast.items[0]!;
    expect(r.kind).toBe("rule");
    const when = r.kind === "rule" ? r.when : undefined;
    expect(when?.kind === "binary" && when.right.kind === "literal" && when.right.value).toBe(big);
    expect(codes(`rule t { when fileName == "${big} deny "x" }`)).toContain("syntax_error");
  });

  it("NUL bytes: inside a string they are text, elsewhere a located diagnostic", () => {
    expect(codes('rule t { when fileName == "a\u0000b" deny "x" }')).toEqual([]);
    const text = 'rule t {\u0000 when true deny "x" }';
    const ds = parseChecked(text);
    expect(ds.map((d) => d.code)).toEqual(["unexpected_character"]);
    expect(ds[0]!.message).toBe("unexpected character U+0000");
    expect(ds[0]!.span).toMatchObject({ start: 8, end: 9 });
    parseChecked("\u0000".repeat(10_000));
  });

  it("lone surrogates", () => {
    expect(codes('rule t { when fileName == "\ud800x\udc00" deny "x" }')).toEqual([]);
    for (const text of ["\ud800", "\udc00", "rule \ud83d { }", 'rule t { when \udfff deny "x" }']) {
      expect(codes(text), JSON.stringify(text)).toContain("unexpected_character");
    }
  });

  it("CRLF line ends are whitespace", () => {
    const text = 'ruleset "r"\r\n\r\nrule t {\r\n  when true # c\r\n  deny "x"\r\n}\r\n';
    expect(codes(text)).toEqual([]);
    expect(codes('rule t { when fileName == "a\r\nb" deny "x" }')).toContain("unterminated_string");
  });

  it("a file that is only a comment, or empty", () => {
    for (const text of ["# only a comment", "# only a comment\n", "", "\n\n", "\ufeff# bom"]) {
      const { ast, diagnostics } = parseFile({ path: PATH, text });
      expect(diagnostics, JSON.stringify(text)).toEqual([]);
      expect(ast.items).toEqual([]);
    }
    expect(parseFile({ path: PATH, text: "# only a comment" }).ast.comments).toHaveLength(1);
  });

  it("unterminated constructs at the end of the file", () => {
    for (const text of [
      'rule t { when fileName == "abc',
      "rule t { when fileName matches /abc",
      "rule t { when fileName matches",
      'rule t { when true deny "{fileName',
      'rule t { when true deny "{',
      "rule",
      "context {",
      "list l = [",
      'default allow "x',
      "rule t priority -",
    ]) {
      expect(codes(text).length, text).toBeGreaterThan(0);
    }
  });

  it("many errors in one file are all located", () => {
    const text = Array.from({ length: 2_000 }, (_, i) => `rule r${i} { when ) deny }`).join("\n");
    expect(codes(text).length).toBeGreaterThan(100);
  });
});
