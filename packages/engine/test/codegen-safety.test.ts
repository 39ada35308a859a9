// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${...}` payloads are deliberate text
import { quoteString } from "@clearance/dsl";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { compile } from "../src/index.js";
import { decide, diagnosticsOf, NOW, result, rules, SHA } from "./helpers.js";

/*
 * Rules compile to JavaScript run by `new Function`; no rule text may ever run as code. Hostile
 * text goes into every place rule text can hold it (strings, reasons, list items, regexes, the
 * rule set's name, comments) and into the input values compared with it. Black-box: the payloads
 * try to set `globalThis.__pwned`, and every comparison must treat them as plain text.
 */

const g = globalThis as { __pwned?: unknown };

const PAYLOADS = [
  '"); globalThis.__pwned = 1; ("',
  "'); globalThis.__pwned = 1; ('",
  "\u2028globalThis.__pwned = 1;\u2029",
  "${globalThis.__pwned=1}",
  "`; globalThis.__pwned = 1; `",
  "`${globalThis.__pwned=1}`",
  "*/ globalThis.__pwned=1 /*",
  "// \n globalThis.__pwned=1",
  "\\",
  '\\"',
  "\\u0022); globalThis.__pwned = 1; //",
  "</script><script>globalThis.__pwned=1</script>",
  "constructor",
  "__proto__",
  "toString",
  "prototype",
  "hasOwnProperty",
  "}; globalThis.__pwned = 1; function f() {",
  "]); globalThis.__pwned = 1; //",
  'K[0]("globalThis.__pwned = 1")',
  "H.divide",
  "r, c, n",
  "\0",
  "\ud800",
  "\udc00x",
  "😀\u{10ffff}",
  "\r\n",
  "{fileName}",
  "{",
  "}",
  "",
  " ",
  '"""',
  "\u007f\u0085\ufeff",
];

/** Characters that mean something to JavaScript, rule text, regexes or templates. */
const hostileChar = fc.constantFrom(
  ..."\"'`\\${}()[];/*\n\r\t\u2028\u2029<>=!|&+-.^?#:,% 0aZ\0\ud800\udfff😀",
);

const payload: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...PAYLOADS) },
  { weight: 2, arbitrary: fc.string({ unit: hostileChar, maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 16 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...PAYLOADS), fc.constantFrom(...PAYLOADS))
      .map(([a, b]) => a + b),
  },
);

/** A regex literal matching exactly `s`. */
function regexLiteral(s: string): string {
  const body = s
    .replace(/[\\^$.*+?()[\]{}|/-]/g, (c) => `\\${c}`)
    .replace(/\n/g, "\\n")
    .replace(/\r/g, "\\r");
  return `/^${body}$/`;
}

/** A reason that prints `prefix`, then the input's fileName and vendor.name. */
function reasonEcho(prefix: string): string {
  return `${quoteString(`${prefix} `, true).slice(0, -1)}{fileName}|{vendor.name}"`;
}

const MONITORS = [
  "eq",
  "ne",
  "inlist",
  "named",
  "starts",
  "ends",
  "has",
  "tag",
  "eng",
  "ctx",
  "re",
  "len",
  "low",
] as const;

function payloadRules(p: string): string {
  const q = quoteString(p);
  return `ruleset ${q}
# ${p.replace(/[\r\n]/g, " ")}
strategy deny-overrides
on-error review
default allow ${quoteString(p, true)}
list names = [${q}, "zz-other"] # ${p.replace(/[\r\n]/g, " ")}
context { group: string }
rule eq monitor { when fileName == ${q} deny ${quoteString(p, true)} }
rule ne monitor { when fileName != ${q} review "ne" }
rule inlist monitor { when vendor.name in [${q}, "zz-other"] review "inlist" }
rule named monitor { when vendor.name in names review "named" }
rule starts monitor { when fileName startsWith ${q} review "starts" }
rule ends monitor { when fileName endsWith ${q} review "ends" }
rule has monitor { when fileName contains ${q} review "has" }
rule tag monitor { when tags contains ${q} review "tag" }
rule eng monitor { when any e in engines: e.result == ${q} review "eng" }
rule ctx monitor { when context.group == ${q} review "ctx" }
rule re monitor { when fileName matches ${regexLiteral(p)} review "re" }
rule len monitor { when len(fileName) == ${p.length} review "len" }
rule low monitor { when lower(fileName) == ${quoteString(p.toLowerCase())} review "low" }
rule decide { when fileName == ${q} deny ${reasonEcho(p)} }
`;
}

/** What each monitor rule must conclude, computed with JavaScript's own string operations. */
function expectedMonitors(p: string, x: string, v: string, ctx: string): string[] {
  const holds: Record<(typeof MONITORS)[number], boolean> = {
    eq: x === p,
    ne: x !== p,
    inlist: v === p || v === "zz-other",
    named: v === p || v === "zz-other",
    starts: x.startsWith(p),
    ends: x.endsWith(p),
    has: x.includes(p),
    tag: x === p,
    eng: v === p,
    ctx: ctx === p,
    re: x === p,
    len: x.length === p.length,
    low: x.toLowerCase() === p.toLowerCase(),
  };
  return MONITORS.filter((m) => holds[m]);
}

beforeEach(() => {
  delete g.__pwned;
});
afterEach(() => {
  expect(g.__pwned, "a payload ran as JavaScript").toBeUndefined();
});

describe("no rule text executes as JavaScript", () => {
  it("payloads in strings, reasons, lists, regexes, names and comments are compared as text", () => {
    const globalsBefore = Object.getOwnPropertyNames(globalThis).sort();
    fc.assert(
      fc.property(
        payload,
        fc.constantFrom("same", "prefix", "suffix", "upper", "other"),
        fc.constantFrom("same", "other"),
        (p, xKind, vKind) => {
          const rs = rules(payloadRules(p));
          expect(rs.name).toBe(p);
          const x =
            xKind === "same"
              ? p
              : xKind === "prefix"
                ? `${p}z`
                : xKind === "suffix"
                  ? `z${p}`
                  : xKind === "upper"
                    ? p.toUpperCase()
                    : "zz-other";
          const v = vKind === "same" ? p : "zz-other";
          const input = {
            fileName: x,
            vendor: { name: v },
            tags: [x],
            engines: [
              { engine: p, result: v },
              { engine: "e2", result: null },
            ],
            category: p,
          };
          const context = { group: xKind === "same" ? p : `${p}!` };
          const fast = decide(rs, input, { context });
          const { explain: _, ...slow } = decide(rs, input, { context, explain: true });
          expect(slow).toEqual(fast);
          expect(fast.errors).toEqual([]);
          expect(fast.monitored).toEqual(expectedMonitors(p, x, v, context.group));
          if (x === p) {
            expect(fast).toMatchObject({ decision: "deny", rule: "decide", matched: ["decide"] });
            expect(fast.reason).toBe(`${p} ${p}|${v}`);
          } else {
            expect(fast).toMatchObject({ decision: "allow", rule: null, matched: [], reason: p });
          }
          expect(g.__pwned).toBeUndefined();
        },
      ),
      { numRuns: 300 },
    );
    expect(Object.getOwnPropertyNames(globalThis).sort()).toEqual(globalsBefore);
  });

  it("payload input values never break a decision on ordinary rules", () => {
    const rs = rules(`
list trusted = ["Google LLC"]
rule a { when vendor.name in trusted and fileName endsWith ".exe" allow "ok {fileName}" }
rule b { when any e in engines: e.result matches /ransom/i deny "{vendor.name}: ransom" }
rule c { when lower(category) == "installer" or len(tags) > 2 review "tags {tags}" }
rule d { when exists(signature.signer) and signature.signer contains "x" review "{signature.signer}" }
`);
    fc.assert(
      fc.property(
        payload,
        payload,
        payload,
        fc.array(payload, { maxLength: 3 }),
        (a, b, c, tags) => {
          const input = {
            fileName: a,
            category: b,
            vendor: { name: c },
            tags,
            engines: [{ engine: a, result: b }],
            signature: { status: "valid", signer: c },
          };
          const fast = decide(rs, input);
          const { explain: _, ...slow } = decide(rs, input, { explain: true });
          expect(slow).toEqual(fast);
          expect(fast.errors).toEqual([]);
          for (const name of fast.matched) {
            if (name === "d" && fast.rule === "d") expect(fast.reason).toBe(c);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a payload rule set's explanation holds the payload as text", () => {
    const p = PAYLOADS[0]!;
    const rs = rules(payloadRules(p));
    const d = decide(rs, { fileName: p, vendor: { name: p } }, { explain: true });
    const eq = d.explain!.rules.find((r) => r.rule === "eq")!;
    expect(eq.when).toMatchObject({ value: true, fields: { fileName: p } });
    expect(eq.reason).toBe(p);
  });
});

describe("names are never looked up on JavaScript prototypes", () => {
  const NAMES = [
    "constructor",
    "__proto__",
    "toString",
    "valueOf",
    "hasOwnProperty",
    "__defineGetter__",
    "prototype",
    "isPrototypeOf",
  ];
  const places = [
    (n: string) => `rule t { when ${n} == "x" deny "x" }`,
    (n: string) => `rule t { when vendor.${n} == "x" deny "x" }`,
    (n: string) => `rule t { when detections.${n} > 1 deny "x" }`,
    (n: string) => `rule t { when signature.${n} == "x" deny "x" }`,
    (n: string) => `rule t { when any e in engines: e.${n} == "x" deny "x" }`,
    (n: string) => `rule t { when exists(vendor.${n}) deny "x" }`,
    (n: string) => `rule t { when exists(${n}) deny "x" }`,
    (n: string) => `context { group: string }\nrule t { when context.${n} == "x" deny "x" }`,
    (n: string) => `rule t { when context.${n} == "x" deny "x" }`,
    (n: string) => `rule t { when true deny "{vendor.${n}}" }`,
    (n: string) => `rule t { when ${n}(fileName) == "x" deny "x" }`,
  ];
  const cases = NAMES.flatMap((n) => places.map((place) => [n, place(n)] as const));

  it.each(cases)("`%s` as an unknown field or function is rejected: %s", (_name, text) => {
    const codes = diagnosticsOf(text).map((d) => d.code);
    expect(codes.some((c) => c === "unknown_field" || c === "unknown_function")).toBe(true);
    const compiled = compile([{ path: "test.rules", text }], { now: NOW });
    expect(compiled.ruleset).toBeUndefined();
  });

  it("prototype names are ordinary names for rules, lists and loop variables", () => {
    const rs = rules(`
default allow "none"
list __proto__ = ["a"]
list constructor = ["b"]
rule toString monitor { when fileName in __proto__ deny "x" }
rule __proto__ monitor { when any constructor in tags: constructor == "b" review "y" }
rule hasOwnProperty monitor { when vendor.name in constructor allow "z" }
rule valueOf monitor { when fileName not in constructor allow "w" }
`);
    expect(decide(rs, { fileName: "a", tags: ["b"], vendor: { name: "b" } }).monitored).toEqual([
      "toString",
      "__proto__",
      "hasOwnProperty",
      "valueOf",
    ]);
    expect(
      decide(rs, { fileName: "constructor", tags: ["__proto__"], vendor: { name: "toString" } })
        .monitored,
    ).toEqual(["valueOf"]);
  });

  it("JavaScript written as a condition does not compile", () => {
    for (const cond of [
      'fileName == "a" || (globalThis.__pwned = 1)',
      "globalThis.__pwned = 1",
      "(() => { globalThis.__pwned = 1 })()",
      'fileName.constructor.constructor("globalThis.__pwned = 1")()',
      "`${globalThis.__pwned = 1}`",
      'fileName == "a"); globalThis.__pwned = 1; ("',
      "true } ; globalThis.__pwned = 1 ; rule x { when true",
      'eval("globalThis.__pwned = 1")',
    ]) {
      const compiled = compile([{ path: "test.rules", text: `rule t { when ${cond} deny "x" }` }], {
        now: NOW,
      });
      expect(compiled.ruleset, cond).toBeUndefined();
      expect(compiled.diagnostics.length, cond).toBeGreaterThan(0);
    }
  });
});

describe("generated function names, derived from rule names", () => {
  // JavaScript's reserved and strict-mode names, and the names the generated code itself uses
  // (K constants, H helpers, B budget, r c n parameters, t/v/q temporaries, loop variables)
  const NAMES = [
    ...["delete", "function", "return", "class", "new", "this", "null", "undefined", "typeof"],
    ...["eval", "arguments", "let", "yield", "await", "static", "constructor", "__proto__"],
    ...["K", "H", "B", "r", "c", "n", "t0", "t1", "v0", "q0", "q0b", "L", "i", "u", "x"],
  ];
  const text = (name: string) =>
    `rule ${name} { when fileSize / 2 > 1 and any e in engines: e.result == "bad" deny "{vendor.name} {fileSize % 3}" }
rule ${name}_known monitor { when sha256 == "${SHA}" review "known" }`;

  it.each(NAMES)("a rule named `%s` runs as written, in a function of its own name", (name) => {
    const rs = rules(text(name));
    const input = {
      fileSize: 10,
      vendor: { name: "x" },
      engines: [{ engine: "a", result: "bad" }],
    };
    expect(decide(rs, input)).toMatchObject({
      decision: "deny",
      rule: name,
      reason: "x 1",
      monitored: [`${name}_known`],
      errors: [],
    });
    const code = rs.generatedCode();
    expect(code).toContain(`function rule_${name}(r, c, n)`);
    expect(code).toContain(`function reason_${name}(r, c, n)`);
    expect(code).toContain(`/rule_${name}_known.js`);
  });
});

/*
 * REGRESSION, fixed (prototype-named context fields). A `context { ... }` field may be named like an
 * Object.prototype member (`toString`, `constructor`, `valueOf`, `__proto__`): the declaration is
 * accepted, but the engine reads context values from plain objects (runtime.ts `prepareContext`
 * and `readContext`, and EMPTY_CONTEXT), so the inherited member is taken for the caller's value.
 * No JavaScript from rule text runs, but decisions are wrong:
 *   - without a context, `exists(context.toString)` is true (expected false);
 *   - with `{}` as the context, every rule reading `context.toString` fails with "context field
 *     `toString` should be a string, got `function toString() { [native code] }`" (expected: the
 *     field is absent, no error), which under `on-error review` turns allow into review;
 *   - with the context `{"__proto__": "x"}` (from JSON.parse), `context.__proto__ == "x"` is
 *     false (expected true): the value is assigned through the `__proto__` setter and lost.
 */
describe("context fields named like Object.prototype members", () => {
  const rs = () =>
    rules(`
on-error review
default allow "none"
context { toString: string, valueOf: number, __proto__: string }
rule a monitor { when exists(context.toString) deny "a" }
rule b monitor { when exists(context.valueOf) deny "b" }
rule c monitor { when context.__proto__ == "x" deny "c" }
rule d { when context.toString == "x" deny "d" }
`);

  it("are absent when no context is given", () => {
    expect(decide(rs(), {})).toMatchObject({ decision: "allow", monitored: [], errors: [] });
  });

  it("are absent from an empty context", () => {
    expect(decide(rs(), {}, { context: {} })).toMatchObject({
      decision: "allow",
      monitored: [],
      errors: [],
    });
  });

  it("`__proto__` holds the value sent", () => {
    const context = JSON.parse('{"__proto__": "x", "toString": "y"}');
    expect(decide(rs(), {}, { context }).monitored).toEqual(["a", "c"]);
  });

  it("still run no rule text as code", () => {
    for (const context of [undefined, {}, JSON.parse('{"__proto__": "x"}')])
      expect(() => decide(rs(), {}, { context })).not.toThrow();
  });
});

describe("hostile input values through validation", () => {
  it("validated results keep payload strings exactly, and sha256 compares case-insensitively", () => {
    for (const p of PAYLOADS) {
      const r = result({ fileName: p, tags: [p] });
      expect(r.fileName).toBe(p);
      const rs = rules(
        `rule t { when fileName == ${quoteString(p)} and sha256 == "${SHA}" deny "t" }`,
      );
      expect(rs.decide({ sha256: SHA.toUpperCase(), fileName: p }, { now: NOW }).decision).toBe(
        "deny",
      );
    }
  });
});
