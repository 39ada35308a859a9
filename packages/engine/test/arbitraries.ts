import fc from "fast-check";
import { NOW, SHA } from "./helpers.js";

/*
 * Generators of well-typed rule sets and of the inputs, contexts and times they are decided on.
 * Every expression is generated for a type, so every generated file compiles (the agreement test
 * checks that, printing the diagnostics when it does not). Compound sub-expressions are always
 * parenthesised: the generator need not know operator precedence.
 */

export const HASHES = [SHA, "1".repeat(64), "ab".repeat(32), "0123456789abcdef".repeat(4)] as const;

/** The hash list file every generated rule set declares as `hashlist bad from "bad.sha256"`. */
export const HASHLIST_FILES: Record<string, string> = {
  "bad.sha256": `# known bad\n${HASHES[0].toUpperCase()}\n${HASHES[2]}  evil.exe\n`,
};
export const HASHLIST_VALUES = new Set([HASHES[0], HASHES[2]]);

export const DECLARATIONS = `list trusted = ["Google LLC", "Apple Inc.", "Evil Corp"]
list sizes = [0, 1, 2048]
hashlist bad from "bad.sha256"
context { group: string, level: number, vip: bool, since: timestamp, groups: list<string>, grace: duration }
`;

type Ty = "bool" | "number" | "string" | "duration" | "timestamp" | "strlist" | "numlist";
interface Var {
  name: string;
  kind: "engine" | "str";
}

const STRINGS = [
  "Google LLC",
  "Evil Corp",
  "setup.exe",
  "Setup.EXE",
  ".exe",
  "Set",
  "ransom",
  "Ransom.Locky",
  "Trojan.Gen",
  "installer",
  "signed",
  "malicious",
  "undetected",
  "Alpha",
  "",
  "a",
];
const strLit = fc.constantFrom(...STRINGS).map((s) => JSON.stringify(s));
const numLit = fc.constantFrom("0", "1", "2", "3", "10", "50", "70", "100", "2.5", "0.5", "2048");
const durLit = fc.constantFrom("0s", "1h", "6h", "24h", "7d", "90m", "1h30m", "500ms");
const tsLit = fc.constantFrom(
  "2026-11-20",
  "2026-11-26T06:00:00Z",
  "2026-12-01",
  "2026-11-26T12:00:00+01:00",
);
const regex = fc.constantFrom(
  "/ransom/i",
  "/^set/i",
  "/\\.exe$/",
  "/gen/",
  "/^[a-z.]+$/",
  "/a.*b/", // RE2
  "/(x|y)*z/", // RE2
  "/^$/",
);
const enumCond = fc.oneof(
  fc
    .tuple(fc.constantFrom("==", "!="), fc.constantFrom("clean", "caution", "high_risk"))
    .map(([op, v]) => `(verdict ${op} "${v}")`),
  fc
    .tuple(
      fc.constantFrom("==", "!=", "in", "not in"),
      fc.constantFrom("valid", "expired", "self_signed", "unsigned", "invalid"),
    )
    .map(([op, v]) =>
      op.endsWith("in")
        ? `(signature.status ${op} ["${v}", "expired"])`
        : `(signature.status ${op} "${v}")`,
    ),
);
const cmp = fc.constantFrom("==", "!=", "<", "<=", ">", ">=");
const eqOp = fc.constantFrom("==", "!=");

const cache = new Map<string, fc.Arbitrary<string>>();

/**
 * An expression of type `ty` nesting at most `depth` levels, over the loop variables in `scope`.
 * In a reason hole (`hole`) no string literal or regex is used: a `"` would end the reason.
 */
export function expr(
  ty: Ty,
  depth: number,
  scope: readonly Var[],
  hole: boolean,
): fc.Arbitrary<string> {
  const key = `${ty}|${depth}|${scope.map((v) => `${v.kind}:${v.name}`).join(",")}|${hole}`;
  let arb = cache.get(key);
  if (!arb) {
    arb = build(ty, depth, scope, hole);
    cache.set(key, arb);
  }
  return arb;
}

function atoms(ty: Ty, scope: readonly Var[], hole: boolean): fc.Arbitrary<string> {
  const vars = (kind: Var["kind"]) => scope.filter((v) => v.kind === kind);
  const pick = (xs: string[]) => fc.constantFrom(...xs);
  switch (ty) {
    case "number":
      return fc.oneof(
        numLit,
        pick([
          "trustScore",
          "detections.malicious",
          "detections.suspicious",
          "fileSize",
          "context.level",
          "case.requests",
        ]),
      );
    case "string": {
      const fields = [
        "fileName",
        "category",
        "vendor.name",
        // not a bare `sha256`: a random rule must not join the generated blocks' rule index
        "lower(sha256)",
        "context.group",
        "exception.id",
        "exception.justification",
        "case.id",
        ...vars("engine").flatMap((v) => [
          `${v.name}.engine`,
          `${v.name}.category`,
          `${v.name}.result`,
        ]),
        ...vars("str").map((v) => v.name),
      ];
      return hole ? pick(fields) : fc.oneof(strLit, pick(fields), pick(fields));
    }
    case "duration":
      return fc.oneof(durLit, fc.constant("context.grace"));
    case "timestamp":
      return fc.oneof(
        tsLit,
        pick([
          "firstSeen",
          "analyzedAt",
          "signature.signedAt",
          "context.since",
          "now()",
          "exception.expires",
          "exception.created",
          "case.opened",
        ]),
      );
    case "strlist":
      return pick(["tags", "context.groups", "trusted", "exception.approvers"]);
    case "numlist":
      return fc.constant("sizes");
    case "bool": {
      const optional = [
        "trustScore",
        "vendor.name",
        "vendor.verified",
        "engines",
        "firstSeen",
        "signature.signedAt",
        "context.group",
        "context.since",
        "exception.status",
        "exception.case",
        "case.status",
        ...vars("engine").flatMap((v) => [`${v.name}.result`, `${v.name}.category`]),
      ];
      // the built-in inputs' enums, as the example rules test them
      const builtinEnum = fc.oneof(
        fc
          .tuple(eqOp, fc.constantFrom("approved", "rejected"))
          .map(([op, v]) => `(exception.status ${op} "${v}")`),
        fc
          .tuple(eqOp, fc.constantFrom("file", "signer", "vendor"))
          .map(([op, v]) => `(exception.kind ${op} "${v}")`),
        fc
          .tuple(eqOp, fc.constantFrom("open", "expired"))
          .map(([op, v]) => `(case.status ${op} "${v}")`),
      );
      const simple = fc.oneof(
        fc
          .tuple(atoms("number", scope, hole), cmp, atoms("number", scope, hole))
          .map(([a, op, b]) => `(${a} ${op} ${b})`),
        fc
          .tuple(atoms("string", scope, hole), eqOp, atoms("string", scope, hole))
          .map(([a, op, b]) => `(${a} ${op} ${b})`),
      );
      return fc.oneof(
        { weight: 1, arbitrary: pick(["true", "false", "vendor.verified", "context.vip"]) },
        { weight: 1, arbitrary: pick(optional).map((p) => `exists(${p})`) },
        { weight: 3, arbitrary: simple },
        { weight: hole ? 0 : 1, arbitrary: builtinEnum },
      );
    }
  }
}

function build(ty: Ty, depth: number, scope: readonly Var[], hole: boolean): fc.Arbitrary<string> {
  const atom = atoms(ty, scope, hole);
  if (depth === 0) return atom;
  const sub = (t: Ty) => expr(t, depth - 1, scope, hole);
  const bin = (a: Ty, ops: fc.Arbitrary<string>, b: Ty) =>
    fc.tuple(sub(a), ops, sub(b)).map(([x, op, y]) => `(${x} ${op} ${y})`);
  const w = (weight: number, arbitrary: fc.Arbitrary<string>) => ({ weight, arbitrary });
  switch (ty) {
    case "number":
      return fc.oneof(
        w(4, atom),
        w(3, bin("number", fc.constantFrom("+", "-", "*", "/", "%"), "number")),
        w(1, chain(sub("number"), fc.constantFrom("+", "-", "*", "/", "%"), 3, 8)),
        w(
          1,
          sub("number").map((x) => `(-${x})`),
        ),
        w(
          1,
          fc.oneof(sub("string"), sub("strlist")).map((x) => `len(${x})`),
        ),
        w(1, bin("duration", fc.constant("/"), "duration")),
        w(1, loop("count", depth, scope, hole)),
      );
    case "string":
      return fc.oneof(
        w(5, atom),
        w(
          1,
          fc.tuple(fc.constantFrom("lower", "upper"), sub("string")).map(([f, x]) => `${f}(${x})`),
        ),
      );
    case "duration":
      return fc.oneof(
        w(3, atom),
        w(
          2,
          sub("timestamp").map((x) => `age(${x})`),
        ),
        w(1, bin("timestamp", fc.constant("-"), "timestamp")),
        w(1, bin("duration", fc.constantFrom("+", "-"), "duration")),
        w(1, bin("duration", fc.constantFrom("*", "/"), "number")),
        w(1, bin("number", fc.constant("*"), "duration")),
        w(
          1,
          sub("duration").map((x) => `(-${x})`),
        ),
      );
    case "timestamp":
      return fc.oneof(
        w(4, atom),
        w(1, bin("timestamp", fc.constantFrom("+", "-"), "duration")),
        w(1, bin("duration", fc.constant("+"), "timestamp")),
      );
    case "strlist":
      return fc.oneof(
        w(3, atom),
        w(
          1,
          fc.array(sub("string"), { maxLength: 3 }).map((xs) => `[${xs.join(", ")}]`),
        ),
      );
    case "numlist":
      return fc.oneof(
        w(2, atom),
        w(
          1,
          fc.array(sub("number"), { maxLength: 3 }).map((xs) => `[${xs.join(", ")}]`),
        ),
      );
    case "bool": {
      const options = [
        w(3, atom),
        w(3, bin("bool", fc.constantFrom("and", "or"), "bool")),
        w(1, chain(sub("bool"), fc.constantFrom("and", "or"), 3, 8)),
        w(
          1,
          sub("bool").map((x) => `(not ${x})`),
        ),
        w(3, bin("number", cmp, "number")),
        w(2, bin("string", eqOp, "string")),
        w(1, bin("string", fc.constantFrom("contains", "startsWith", "endsWith"), "string")),
        w(2, bin("string", fc.constantFrom("in", "not in"), "strlist")),
        w(1, bin("number", fc.constantFrom("in", "not in"), "numlist")),
        w(1, bin("strlist", fc.constant("contains"), "string")),
        w(
          1,
          fc
            .tuple(fc.oneof(fc.constant("sha256"), sub("string")), fc.constantFrom("in", "not in"))
            .map(([x, op]) => `(${x} ${op} bad)`),
        ),
        w(1, bin("duration", cmp, "duration")),
        w(1, bin("timestamp", cmp, "timestamp")),
        w(1, bin("bool", eqOp, "bool")),
        w(2, loop("any", depth, scope, hole)),
        w(1, loop("all", depth, scope, hole)),
        w(
          1,
          fc
            .tuple(loop("count", depth, scope, hole), cmp, sub("number"))
            .map(([c, op, n]) => `(${c} ${op} ${n})`),
        ),
      ];
      if (!hole) {
        options.push(
          w(
            2,
            fc.tuple(sub("string"), regex).map(([x, re]) => `(${x} matches ${re})`),
          ),
        );
        options.push(w(1, enumCond));
        options.push(
          w(
            1,
            fc
              .tuple(fc.constantFrom(...HASHES), fc.constantFrom(true, false))
              .map(([h, up]) => `(upper(sha256) == "${up ? h.toUpperCase() : h}")`),
          ),
        );
      }
      return fc.oneof(...options);
    }
  }
}

/**
 * `(x1 op x2 op x3 ...)` without inner parentheses: a chain the parser folds by precedence and
 * the code generator emits flat (two operands keep the nested form, so chains start at three).
 */
function chain(
  operand: fc.Arbitrary<string>,
  op: fc.Arbitrary<string>,
  minLength: number,
  maxLength: number,
): fc.Arbitrary<string> {
  return fc
    .array(fc.tuple(op, operand), { minLength, maxLength })
    .map((xs) => `(${xs.map(([o, x], i) => (i === 0 ? x : `${o} ${x}`)).join(" ")})`);
}

/** `any` / `all` / `count` over engines (an object per item) or a list of strings. */
function loop(
  kind: "any" | "all" | "count",
  depth: number,
  scope: readonly Var[],
  hole: boolean,
): fc.Arbitrary<string> {
  const overEngines = fc.constant("engines").map((c) => ({ c, k: "engine" as const }));
  const overStrings = expr("strlist", depth - 1, scope, hole).map((c) => ({
    c,
    k: "str" as const,
  }));
  return fc.oneof(overEngines, overStrings).chain(({ c, k }) => {
    const v: Var = { name: `${k === "engine" ? "e" : "s"}${scope.length}`, kind: k };
    return expr("bool", depth - 1, [...scope, v], hole).map((body) =>
      kind === "count"
        ? `count(${v.name} in ${c} where ${body})`
        : `(${kind} ${v.name} in ${c}: ${body})`,
    );
  });
}

const textPiece = fc.constantFrom("hit", "score ", " of ", "braces \\{ok\\} ", "", "x");

/** A reason: text and `{expr}` holes of any type that prints. */
export const template: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      { weight: 2, arbitrary: textPiece },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom<Ty>(
            "number",
            "string",
            "duration",
            "timestamp",
            "bool",
            "strlist",
            "numlist",
          )
          .chain((t) => expr(t, 1, [], true))
          .map((e) => `{${e}}`),
      },
    ),
    { maxLength: 4 },
  )
  .map((parts) => `"${parts.join("")}"`);

const action = fc.constantFrom("allow", "deny", "review");
const condition = fc.integer({ min: 0, max: 3 }).chain((d) => expr("bool", d, [], false));

/** An expiry date around NOW: some rules have expired, some expire during the generated `now`s. */
const expiry = fc.constantFrom(
  "2026-11-20",
  "2026-11-26",
  "2026-11-27",
  "2026-12-20",
  "2026-11-26T12:00:00Z",
  "2026-11-26T18:30:00Z",
);

interface RuleParts {
  priority: number | undefined;
  monitor: boolean;
  /** `overrides` on two thirds of the allow rules, `forbid-approval` on two thirds of the review rules */
  modifier: "overrides review" | "overrides deny" | undefined;
  forbid: boolean;
  expires: string | undefined;
  when: string;
  unless: string[];
  action: string;
  reason: string;
}

const ruleParts: fc.Arbitrary<RuleParts> = fc.record({
  priority: fc.option(fc.integer({ min: -3, max: 3 }), { nil: undefined }),
  monitor: fc.integer({ min: 0, max: 6 }).map((n) => n === 0),
  modifier: fc.constantFrom("overrides review" as const, "overrides deny" as const, undefined),
  forbid: fc.integer({ min: 0, max: 2 }).map((n) => n !== 0),
  expires: fc.option(expiry, { nil: undefined, freq: 4 }),
  when: condition,
  unless: fc.array(
    fc.integer({ min: 0, max: 2 }).chain((d) => expr("bool", d, [], false)),
    {
      maxLength: 2,
    },
  ),
  action,
  reason: template,
});

function ruleText(name: string, p: RuleParts): string {
  const mods = [
    p.priority === undefined ? "" : ` priority ${p.priority < 0 ? `-${-p.priority}` : p.priority}`,
    p.monitor ? " monitor" : "",
    p.expires === undefined ? "" : ` expires ${p.expires}`,
    p.action === "allow" && p.modifier !== undefined ? ` ${p.modifier}` : "",
    p.action === "review" && p.forbid ? " forbid-approval" : "",
  ].join("");
  const unless = p.unless.map((u) => `\n  unless ${u}`).join("");
  return `rule ${name}${mods} {\n  when ${p.when}${unless}\n  ${p.action} ${p.reason}\n}`;
}

/**
 * Sixteen or more rules keyed on one field (`sha256 == "..."`, `vendor.name == "..."`,
 * `fileSize in sizes`), so the engine builds a rule index for them, with random conditions
 * (which may be unknown or fail) after the indexed one and in `unless`.
 *
 * With `indexBug` false, only blocks the index cannot skip wrongly are made: keyed on `sha256`,
 * which is always present, with no condition before the indexed one (see the known bug in
 * agreement.test.ts: a rule the index skips never reports the errors its other conditions raise).
 * Random rules never compare a bare `sha256`, so they never join the block's index.
 */
export function indexedBlock(indexBug: boolean): fc.Arbitrary<string[]> {
  // Conditions that cannot fail at run time (no division, no context, exception or case, no
  // loop, which can run out of evaluation budget): rules that can fail are never indexed, and a
  // block must keep 16 indexed rules to exercise the index.
  const extra = expr("bool", 1, [], false).filter(
    (x) =>
      !/\b(?:context|exception|case)\./.test(x) &&
      !/ [/%] /.test(x) &&
      !/\b(?:any|all|count)\b/.test(x),
  );
  const maybe = (on: boolean, freq: number) =>
    on ? fc.option(extra, { nil: undefined, freq }) : fc.constant(undefined);
  return fc
    .constantFrom(
      (i: number) => `sha256 == "${HASHES[i % HASHES.length]}"`,
      ...(indexBug
        ? [
            (i: number) => `vendor.name == ${JSON.stringify(STRINGS[i % 4])}`,
            () => "fileSize in sizes",
          ]
        : []),
    )
    .chain((key) =>
      fc
        .array(
          fc.record({
            pre: maybe(indexBug, 3),
            extra: maybe(true, 2),
            unless: maybe(true, 3),
            action,
            priority: fc.integer({ min: -2, max: 2 }),
            monitor: fc.integer({ min: 0, max: 8 }).map((n) => n === 0),
          }),
          { minLength: 16, maxLength: 20 },
        )
        .map((rules) =>
          rules.map((r, i) => {
            const priority = r.priority < 0 ? `-${-r.priority}` : r.priority;
            const when = `${r.pre ? `${r.pre} and ` : ""}${key(i)}${r.extra ? ` and ${r.extra}` : ""}`;
            return `rule k${i} priority ${priority}${r.monitor ? " monitor" : ""} { when ${when}${r.unless ? ` unless ${r.unless}` : ""} ${r.action} "k${i}" }`;
          }),
        ),
    );
}

/**
 * A whole rule set: declarations, settings, a few random rules and sometimes an indexed block
 * (`indexBug`: see indexedBlock).
 */
export function ruleSet(indexBug = false): fc.Arbitrary<string> {
  return fc
    .record({
      strategy: fc.constantFrom("deny-overrides", "first-match"),
      onError: fc.constantFrom("review", "deny", "ignore"),
      defaultAction: action,
      defaultReason: template,
      rules: fc.array(ruleParts, { minLength: 1, maxLength: 6 }),
      block: fc.option(indexedBlock(indexBug), { nil: undefined, freq: 3 }),
    })
    .map(
      (s) =>
        `${DECLARATIONS}strategy ${s.strategy}\non-error ${s.onError}\ndefault ${s.defaultAction} ${s.defaultReason}\n\n${s.rules
          .map((r, i) => ruleText(`r${i}`, r))
          .join("\n")}\n${(s.block ?? []).join("\n")}\n`,
    );
}

/**
 * Rule sets of long chains: `when` a chain of hundreds of `and` / `or` operands, many `unless`
 * clauses, and a reason showing a long sum. Long enough to take the flat code paths many times
 * over, short enough to run a few dozen times.
 */
export function longChains(): fc.Arbitrary<string> {
  const rule = fc.record({
    when: chain(expr("bool", 1, [], false), fc.constantFrom("and", "or", "or"), 100, 300),
    unless: fc.array(expr("bool", 1, [], false), { minLength: 2, maxLength: 20 }),
    action,
    sum: chain(expr("number", 0, [], true), fc.constantFrom("+", "-", "*", "/", "%"), 50, 200),
  });
  return fc
    .record({
      onError: fc.constantFrom("review", "deny", "ignore"),
      rules: fc.array(rule, { minLength: 1, maxLength: 3 }),
    })
    .map(
      (s) =>
        `${DECLARATIONS}on-error ${s.onError}\ndefault allow "none"\n${s.rules
          .map(
            (r, i) =>
              `rule c${i} {\n  when ${r.when}\n${r.unless.map((u) => `  unless ${u}\n`).join("")}  ${r.action} "sum {${r.sum}}"\n}`,
          )
          .join("\n")}\n`,
    );
}

// ---------------------------------------------------------------------------------------------
// Inputs

const DAY = 86_400_000;
const timestamp = fc
  .integer({ min: -30 * DAY, max: 2 * DAY })
  .map((offset) =>
    new Date(NOW + Math.floor(offset / 1000) * 1000).toISOString().replace(".000Z", "Z"),
  );
const maybeStr = (xs: string[]) => fc.constantFrom(...xs);

const engine = fc.record(
  {
    engine: maybeStr(["Alpha", "Beta", "Gamma", "evil"]),
    category: maybeStr(["malicious", "undetected", "suspicious", "harmless"]),
    result: fc.oneof(
      fc.constant(null),
      maybeStr(["Ransom.Locky", "Trojan.Gen", "clean", "", "abz"]),
    ),
  },
  { requiredKeys: ["engine"] },
);

/** Canonical results: every optional field absent with some probability. */
export const inputRecord: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    sha256: fc
      .tuple(fc.constantFrom(...HASHES), fc.boolean())
      .map(([h, up]) => (up ? h.toUpperCase() : h)),
    fileName: maybeStr([
      "setup.exe",
      "Setup.EXE",
      "ransom.scr",
      "",
      "a",
      "readme.txt",
      "Trojan.Gen",
      "xyz",
    ]),
    fileSize: fc.oneof(fc.constantFrom(0, 1, 2048), fc.integer({ min: 0, max: 5000 })),
    trustScore: fc.oneof(
      fc.constantFrom(0, 50, 70, 100),
      fc.integer({ min: 0, max: 100 }),
      fc.double({ min: 0, max: 100, noNaN: true }),
    ),
    verdict: maybeStr(["clean", "caution", "high_risk"]),
    category: maybeStr(["installer", "browser", "", "malicious"]),
    detections: fc.record(
      { malicious: fc.integer({ min: 0, max: 5 }), suspicious: fc.integer({ min: 0, max: 3 }) },
      { requiredKeys: [] },
    ),
    engines: fc.array(engine, { maxLength: 4 }),
    vendor: fc.record(
      {
        name: maybeStr(["Google LLC", "Evil Corp", "Apple Inc.", "Setup.EXE", ""]),
        verified: fc.boolean(),
      },
      { requiredKeys: [] },
    ),
    signature: fc.record(
      {
        status: maybeStr(["valid", "expired", "self_signed", "unsigned", "invalid"]),
        signedAt: timestamp,
      },
      { requiredKeys: ["status"] },
    ),
    firstSeen: timestamp,
    analyzedAt: timestamp,
    tags: fc.subarray(["installer", "signed", "ransom", "Set", ""]),
  },
  { requiredKeys: ["sha256"] },
);

/** Request contexts: absent, well typed, with wrong types, or not an object at all. */
export const contextValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(undefined, null) },
  {
    weight: 5,
    arbitrary: fc.record(
      {
        group: maybeStr(["finance", "Google LLC", "", "a"]),
        level: fc.integer({ min: -2, max: 100 }),
        vip: fc.boolean(),
        since: fc.oneof(timestamp, fc.constant(NOW - 3 * DAY)),
        groups: fc.subarray(["finance", "a", "ransom", "Google LLC"]),
        grace: fc.constantFrom(0, 3_600_000, 86_400_000),
      },
      { requiredKeys: [] },
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record(
      {
        group: fc.constantFrom<unknown>(42, null, ["finance"]),
        level: fc.constantFrom<unknown>("3", Number.NaN, null),
        vip: fc.constantFrom<unknown>("yes", 1),
        since: fc.constantFrom<unknown>("yesterday", true),
        groups: fc.constantFrom<unknown>([1], "finance"),
        grace: fc.constantFrom<unknown>("1h", Number.POSITIVE_INFINITY),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom<unknown>("finance", 5, [1], true) },
);

/** Evaluation times from a week before to a month after NOW. */
export const nowValue = fc.integer({ min: -7 * DAY, max: 30 * DAY }).map((d) => NOW + d);

/** Exceptions as `decide` is given them: absent, well formed, malformed, or not an object. */
export const exceptionValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(undefined, null) },
  {
    weight: 5,
    arbitrary: fc.record(
      {
        id: fc.constantFrom("0193a1", "0193b2"),
        status: fc.constantFrom("approved", "rejected"),
        kind: fc.constantFrom("file", "signer", "vendor"),
        expires: fc.oneof(timestamp, fc.constant(NOW + 30 * DAY), fc.constant(null)),
        created: fc.oneof(timestamp, fc.constant(NOW - DAY)),
        approvers: fc.subarray(["alice", "bob", "Alpha"]),
        justification: maybeStr(["needed by finance", "a", ""]),
        case: maybeStr(["case-1", "Set"]),
      },
      { requiredKeys: ["id", "status"] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      {
        id: fc.constantFrom<unknown>("0193c3", 7),
        status: fc.constantFrom<unknown>("maybe", "approved", undefined),
        approvers: fc.constantFrom<unknown>("alice", [1]),
        expires: fc.constantFrom<unknown>("soon", true),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom<unknown>("0193a1", 5, [1]) },
);

/** Review cases: absent, well formed, malformed. */
export const caseValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(undefined, null) },
  {
    weight: 4,
    arbitrary: fc.record(
      {
        id: fc.constantFrom("case-1", "case-2"),
        status: fc.constantFrom("open", "expired"),
        opened: fc.oneof(timestamp, fc.constant(NOW - 10 * DAY)),
        requests: fc.integer({ min: 0, max: 100 }),
      },
      { requiredKeys: ["id", "status"] },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      {
        id: fc.constantFrom<unknown>("case-3", null),
        status: fc.constantFrom<unknown>("closed", "open"),
        requests: fc.constantFrom<unknown>("3", 2),
      },
      { requiredKeys: [] },
    ),
  },
);
