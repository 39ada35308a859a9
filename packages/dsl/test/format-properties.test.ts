import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { format } from "../src/format.js";
import { parseFile } from "../src/parse.js";

/*
 * Random rule files from a small generator that follows the grammar of parser.ts: every text it
 * makes parses. Tokens are joined by random whitespace and comments, and parentheses are added
 * where the grammar needs them and at random elsewhere. The properties compare the formatter's
 * output with what the parser made of the input, so the generator need not predict the tree.
 */

/** Grammar levels, loosest first, as in parser.ts: a fragment is valid where its level is enough. */
const OR = 1;
const AND = 2;
const NOT = 3;
const CMP = 4;
const ADD = 5;
const MUL = 6;
const UNARY = 7;
const PRIMARY = 8;

interface Frag {
  toks: string[];
  level: number;
}

const extraParens = fc.integer({ min: 0, max: 6 }).map((n) => n === 0);

/** The tokens of `f` where the grammar wants `level`, parenthesised if needed (or at random). */
function at(f: Frag, level: number, extra: boolean): string[] {
  return f.level < level || extra ? ["(", ...f.toks, ")"] : f.toks;
}

const paths = fc
  .constantFrom(
    "trustScore",
    "verdict",
    "vendor.name",
    "detections.malicious",
    "e.result",
    "x.count",
    "e.deny",
    "context.group",
    "size",
    "fileName",
    "tags",
  )
  .map((p): Frag => ({ toks: p.split(/(\.)/), level: PRIMARY }));

const literals = fc
  .constantFrom(
    '"a"',
    '""',
    '"with \\"quotes\\""',
    '"back\\\\slash"',
    '"tab\\t and \\n"',
    '"\\u{1F600} \\u00e9 é"',
    '"# not a comment"',
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
    "2026-11-26T10:00:00Z",
    "true",
    "false",
  )
  .map((l): Frag => ({ toks: [l], level: PRIMARY }));

const atom = fc.oneof(paths, literals);
const variable = fc.constantFrom("e", "t", "v");
const regex = fc.constantFrom("/ransom/i", "/^a\\/b$/", "/[a-z]+\\d/gi", "/x[/]y/");

const exprCache = new Map<number, fc.Arbitrary<Frag>>();

/** Expressions of nesting depth at most `depth`. */
function expr(depth: number): fc.Arbitrary<Frag> {
  const cached = exprCache.get(depth);
  if (cached) return cached;
  if (depth === 0) return atom;
  const sub = expr(depth - 1);
  const chain = (
    level: number,
    operandLevel: number,
    ops: fc.Arbitrary<string[]>,
  ): fc.Arbitrary<Frag> =>
    fc
      .tuple(
        sub,
        extraParens,
        fc.array(fc.tuple(ops, sub, extraParens), { minLength: 1, maxLength: 2 }),
      )
      .map(([first, p, rest]) => ({
        toks: [
          ...at(first, operandLevel, p),
          ...rest.flatMap(([op, f, q]) => [...op, ...at(f, operandLevel, q)]),
        ],
        level,
      }));
  const arb = fc.oneof(
    { weight: 3, arbitrary: atom },
    { weight: 2, arbitrary: chain(OR, AND, fc.constant(["or"])) },
    { weight: 2, arbitrary: chain(AND, NOT, fc.constant(["and"])) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(sub, extraParens)
        .map(([f, p]) => ({ toks: ["not", ...at(f, NOT, p)], level: NOT })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom("any", "all"), variable, sub, sub, extraParens, extraParens)
        .map(([q, v, coll, body, p1, p2]) => ({
          toks: [q, v, "in", ...at(coll, ADD, p1), ":", ...at(body, OR, p2)],
          level: NOT,
        })),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(
          sub,
          fc.constantFrom(
            ["=="],
            ["!="],
            ["<"],
            ["<="],
            [">"],
            [">="],
            ["in"],
            ["not", "in"],
            ["contains"],
            ["startsWith"],
            ["endsWith"],
          ),
          sub,
          extraParens,
          extraParens,
        )
        .map(([a, op, b, p1, p2]) => ({
          toks: [...at(a, ADD, p1), ...op, ...at(b, ADD, p2)],
          level: CMP,
        })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(sub, regex, extraParens)
        .map(([a, re, p]) => ({ toks: [...at(a, ADD, p), "matches", re], level: CMP })),
    },
    { weight: 1, arbitrary: chain(ADD, ADD, fc.constantFrom(["+"], ["-"])) },
    { weight: 1, arbitrary: chain(MUL, MUL, fc.constantFrom(["*"], ["/"], ["%"])) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(sub, extraParens)
        .map(([f, p]) => ({ toks: ["-", ...at(f, UNARY, p)], level: UNARY })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.array(sub, { maxLength: 3 }), fc.boolean())
        .map(([items, trailingComma]) => ({
          toks: [
            "[",
            ...items.flatMap((f, i) => (i === 0 ? f.toks : [",", ...f.toks])),
            ...(trailingComma && items.length > 0 ? [","] : []),
            "]",
          ],
          level: PRIMARY,
        })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom("age", "lower", "exists", "len"), fc.array(sub, { maxLength: 2 }))
        .map(([fn, args]) => ({
          toks: [fn, "(", ...args.flatMap((f, i) => (i === 0 ? f.toks : [",", ...f.toks])), ")"],
          level: PRIMARY,
        })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(variable, sub, sub, extraParens).map(([v, coll, body, p]) => ({
        toks: ["count", "(", v, "in", ...at(coll, ADD, p), "where", ...body.toks, ")"],
        level: PRIMARY,
      })),
    },
  );
  exprCache.set(depth, arb);
  return arb;
}

const condition = fc.integer({ min: 0, max: 3 }).chain((d) => expr(d));

const reason = fc.constantFrom(
  '"r"',
  '"flagged by {detections.malicious} engines"',
  '"signed by {vendor.name}, score {trustScore * 2 + 1}"',
  '"braces \\{ \\} and \\"quotes\\""',
  '"first seen {age(firstSeen)} ago"',
);
const action = fc.constantFrom("allow", "deny", "review");
const stringLit = fc.constantFrom('"a"', '"b c"', '"x\\"y"', '"lists/f.txt"');
const name = fc.constantFrom("alpha", "beta", "gamma_1", "Delta", "_x");

const rule: fc.Arbitrary<string[]> = fc
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
    const head = modifiers.flatMap((m) =>
      m === "priority"
        ? priority < 0
          ? ["priority", "-", String(-priority)]
          : ["priority", String(priority)]
        : m === "expires"
          ? ["expires", expires]
          : m === "overrides"
            ? ["overrides", priority % 2 === 0 ? "review" : "deny"]
            : [m],
    );
    const clauses = [
      ["when", ...when.toks],
      ...unless.map((u) => ["unless", ...u.toks]),
      [act, why],
    ];
    // a fixed permutation picked by `seed`: clause order in the source does not matter
    const order = clauses.map((c, i) => ({ c, key: (seed * (i + 7)) % 13 }));
    order.sort((a, b) => a.key - b.key);
    return ["rule", n, ...head, "{", ...order.flatMap((o) => o.c), "}"];
  });

const typeRef = fc.constantFrom(["string"], ["number"], ["list", "<", "string", ">"], ["bool"]);

const item: fc.Arbitrary<string[]> = fc.oneof(
  { weight: 4, arbitrary: rule },
  { weight: 1, arbitrary: stringLit.map((s) => ["ruleset", s]) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("deny-overrides", "first-match").map((s) => ["strategy", s]),
  },
  { weight: 1, arbitrary: fc.tuple(action, reason).map(([a, r]) => ["default", a, r]) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("review", "deny", "ignore").map((s) => ["on-error", s]),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        name,
        fc.array(
          fc.oneof(
            stringLit.map((s) => [s]),
            expr(1).map((f) => f.toks),
          ),
        ),
        fc.boolean(),
      )
      .map(([n, items, trailing]) => [
        "list",
        n,
        "=",
        "[",
        ...items.flatMap((toks, i) => (i === 0 ? toks : [",", ...toks])),
        ...(trailing && items.length > 0 ? [","] : []),
        "]",
      ]),
  },
  { weight: 1, arbitrary: fc.tuple(name, stringLit).map(([n, s]) => ["list", n, "from", s]) },
  { weight: 1, arbitrary: fc.tuple(name, stringLit).map(([n, s]) => ["hashlist", n, "from", s]) },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.constantFrom("canonical", "platform", "virustotal"), { minLength: 1, maxLength: 3 })
      .map((names) => ["inputs", ...names.flatMap((n, i) => (i === 0 ? [n] : [",", n]))]),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.array(fc.tuple(name, typeRef), { maxLength: 4 }), fc.boolean())
      .map(([fields, trailing]) => [
        "context",
        "{",
        ...fields.flatMap(([n, type], i) => [...(i === 0 ? [] : [","]), n, ":", ...type]),
        ...(trailing && fields.length > 0 ? [","] : []),
        "}",
      ]),
  },
);

/** Whitespace and comments between tokens. */
const separator = fc.oneof(
  { weight: 12, arbitrary: fc.constant(" ") },
  {
    weight: 4,
    arbitrary: fc.constantFrom("  ", "\n", "\n  ", "\t", "\n\n", "\r\n", "\n\n\n    "),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      " # trailing\n",
      "   # trailing with spaces   \n",
      "\n# own line\n",
      "\n    # indented own line\n  ",
      "\n\n# detached\n\n",
      " #\n",
      "\n# one\n# two\n",
    ),
  },
);

const ruleFile: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom("", "# header\n", "# header\n\n", "\n\n"),
    fc.array(item, { maxLength: 5 }),
    fc.constantFrom("", "\n", " # end\n", "\n# last\n", "\n\n"),
  )
  .chain(([start, items, end]) => {
    const toks = items.flat();
    return fc
      .array(separator, { minLength: toks.length, maxLength: toks.length })
      .map((seps) => start + toks.map((tk, i) => (i === 0 ? tk : seps[i]! + tk)).join("") + end);
  });

/** The AST without positions; comments as the sorted list of their texts. */
function shape(text: string): unknown {
  const { ast } = parseFile({ path: "p.rules", text });
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value === null || typeof value !== "object") return value;
    if ("file" in value && "start" in value && "end" in value) return "span";
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      if (key !== "span" && key !== "opSpan") out[key] = strip(v);
    }
    return out;
  };
  return { items: strip(ast.items), comments: ast.comments.map((c) => c.text).sort() };
}

describe("format properties", () => {
  it("the generator makes files that parse", () => {
    fc.assert(
      fc.property(ruleFile, (text) => {
        expect(parseFile({ path: "p.rules", text }).diagnostics).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it("output parses, keeps the AST and every comment, and is a fixed point", () => {
    fc.assert(
      fc.property(ruleFile, fc.integer({ min: 20, max: 120 }), (text, lineWidth) => {
        const out = format({ path: "p.rules", text }, { lineWidth });
        expect(out.diagnostics).toEqual([]);
        const formatted = out.text!;
        expect(typeof formatted).toBe("string");
        expect(parseFile({ path: "p.rules", text: formatted }).diagnostics).toEqual([]);
        expect(shape(formatted)).toEqual(shape(text));
        expect(format({ path: "p.rules", text: formatted }, { lineWidth }).text).toBe(formatted);
      }),
      { numRuns: 300 },
    );
  });

  it("output is tidy: no trailing spaces, no double blank lines, one final newline", () => {
    fc.assert(
      fc.property(ruleFile, (text) => {
        const formatted = format({ path: "p.rules", text }).text!;
        if (formatted === "") return;
        expect(formatted.endsWith("\n")).toBe(true);
        expect(formatted.endsWith("\n\n")).toBe(false);
        expect(formatted.startsWith("\n")).toBe(false);
        expect(formatted).not.toMatch(/[ \t]$/m);
        expect(formatted).not.toMatch(/\n\n\n/);
        expect(formatted).not.toContain("\r");
      }),
      { numRuns: 200 },
    );
  });
});
