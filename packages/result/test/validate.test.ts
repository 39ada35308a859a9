import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_INPUT_LIMITS,
  isRfc3339DateTime,
  type Problem,
  parseJsonText,
  parseResultJson,
  RESULT_SCHEMA,
  resolveInputLimits,
  validateResult,
} from "../src/validate.js";

const SHA = "3f5a9c0d1e2b4a6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7";

const FULL = {
  sha256: SHA,
  fileName: "procexp64.exe",
  fileSize: 2651672,
  contentType: "application/vnd.microsoft.portable-executable",
  category: "system utility",
  trustScore: 97,
  verdict: "clean",
  scoreBreakdown: [
    {
      component: "signature",
      label: "Signature validity",
      weight: 0.3,
      value: 100,
      description: "ok",
    },
    { component: "threat" },
  ],
  detections: {
    malicious: 0,
    suspicious: 0,
    undetected: 16,
    harmless: 2,
    failed: 0,
    unsupported: 0,
  },
  engines: [
    { engine: "Microsoft", category: "harmless", result: null, version: "1.1.25100.9002" },
    { engine: "Kaspersky", category: "malicious", result: "HEUR:Trojan.Win32.Generic" },
    { engine: "ClamAV" },
  ],
  vendor: {
    name: "Microsoft Corporation",
    verified: true,
    product: "Process Explorer",
    version: "17.06",
  },
  signature: {
    status: "valid",
    signer: "Microsoft Corporation",
    issuer: "Microsoft Code Signing PCA 2011",
    thumbprint: "AB12",
    signedAt: "2026-03-14T18:22:05Z",
  },
  firstSeen: "2026-03-16T07:41:12.250+02:00",
  analyzedAt: "2026-11-24t09:15:33z",
  tags: ["peexe", "signed"],
};

function problemsOf(input: unknown, limits?: Parameters<typeof validateResult>[1]): Problem[] {
  const outcome = validateResult(input, limits);
  if (outcome.ok) throw new Error("expected problems, got a valid result");
  return outcome.problems;
}

/** Nested objects: depth 1 is `{sha256}` alone, each level adds `{"x": ...}`. */
function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 2; i < depth; i++) value = { x: value };
  return depth > 1 ? { sha256: SHA, x: value } : { sha256: SHA };
}

describe("validateResult: valid inputs", () => {
  const cases: [string, unknown][] = [
    ["only sha256", { sha256: SHA }],
    ["upper-case sha256", { sha256: SHA.toUpperCase() }],
    ["every field", FULL],
    [
      "empty arrays and objects",
      { sha256: SHA, engines: [], tags: [], detections: {}, vendor: {} },
    ],
    ["score bounds", { sha256: SHA, trustScore: 0, fileSize: 0 }],
    ["fractional score", { sha256: SHA, trustScore: 99.5 }],
    [
      "extra fields everywhere",
      { sha256: SHA, x: 1, vendor: { x: [1] }, engines: [{ engine: "a", y: {} }] },
    ],
    ["undefined properties are absent", { sha256: SHA, fileName: undefined }],
    ["exactly at every default limit", nested(32)],
  ];
  it.each(cases)("%s", (_name, input) => {
    const outcome = validateResult(input);
    expect(outcome.ok ? [] : outcome.problems).toEqual([]);
  });
});

describe("validateResult: each kind of problem", () => {
  const cases: [string, unknown, Problem[]][] = [
    ["root is a number", 42, [{ pointer: "", message: "must be an object, got the number `42`" }]],
    ["root is null", null, [{ pointer: "", message: "must be an object, got null" }]],
    ["root is an array", [SHA], [{ pointer: "", message: "must be an object, got an array" }]],
    ["root is a string", "x", [{ pointer: "", message: "must be an object, got the string `x`" }]],
    [
      "missing sha256",
      {},
      [{ pointer: "/sha256", message: "required property `sha256` is missing" }],
    ],
    [
      "sha256 not hex",
      { sha256: "xyz" },
      [{ pointer: "/sha256", message: "must be 64 hexadecimal digits, got `xyz`" }],
    ],
    [
      "sha256 too long",
      { sha256: `${SHA}0` },
      [
        {
          pointer: "/sha256",
          message: `must be 64 hexadecimal digits, got \`${SHA.slice(0, 60)}…\``,
        },
      ],
    ],
    [
      "sha256 a number",
      { sha256: 7 },
      [{ pointer: "/sha256", message: "must be a string, got the number `7`" }],
    ],
    [
      "negative size",
      { sha256: SHA, fileSize: -1 },
      [{ pointer: "/fileSize", message: "must be at least 0, got `-1`" }],
    ],
    [
      "fractional size",
      { sha256: SHA, fileSize: 1.5 },
      [{ pointer: "/fileSize", message: "must be an integer, got the number `1.5`" }],
    ],
    [
      "score above 100",
      { sha256: SHA, trustScore: 101 },
      [{ pointer: "/trustScore", message: "must be at most 100, got `101`" }],
    ],
    [
      "score as a string",
      { sha256: SHA, trustScore: "90" },
      [{ pointer: "/trustScore", message: "must be a number, got the string `90`" }],
    ],
    [
      "unknown verdict",
      { sha256: SHA, verdict: "safe" },
      [
        {
          pointer: "/verdict",
          message: "must be one of `clean`, `caution`, `high_risk`, got `safe`",
        },
      ],
    ],
    [
      "breakdown item without component",
      { sha256: SHA, scoreBreakdown: [{ component: "a" }, { label: "b" }] },
      [
        {
          pointer: "/scoreBreakdown/1/component",
          message: "required property `component` is missing",
        },
      ],
    ],
    [
      "breakdown weight as boolean",
      { sha256: SHA, scoreBreakdown: [{ component: "a", weight: true }] },
      [
        {
          pointer: "/scoreBreakdown/0/weight",
          message: "must be a number, got the boolean `true`",
        },
      ],
    ],
    [
      "detections as an array",
      { sha256: SHA, detections: [1] },
      [{ pointer: "/detections", message: "must be an object, got an array" }],
    ],
    [
      "negative detection count",
      { sha256: SHA, detections: { malicious: -2 } },
      [{ pointer: "/detections/malicious", message: "must be at least 0, got `-2`" }],
    ],
    [
      "engine result a number",
      { sha256: SHA, engines: [{ engine: "a", result: 5 }] },
      [{ pointer: "/engines/0/result", message: "must be a string or null, got the number `5`" }],
    ],
    [
      "engine without a name",
      { sha256: SHA, engines: [{ result: null }] },
      [{ pointer: "/engines/0/engine", message: "required property `engine` is missing" }],
    ],
    [
      "vendor verified as a string",
      { sha256: SHA, vendor: { verified: "yes" } },
      [{ pointer: "/vendor/verified", message: "must be a boolean, got the string `yes`" }],
    ],
    [
      "signature without status",
      { sha256: SHA, signature: { signer: "x" } },
      [{ pointer: "/signature/status", message: "required property `status` is missing" }],
    ],
    [
      "unknown signature status",
      { sha256: SHA, signature: { status: "revoked" } },
      [
        {
          pointer: "/signature/status",
          message:
            "must be one of `valid`, `expired`, `self_signed`, `unsigned`, `invalid`, got `revoked`",
        },
      ],
    ],
    [
      "signedAt not a date",
      { sha256: SHA, signature: { status: "valid", signedAt: "yesterday" } },
      [
        {
          pointer: "/signature/signedAt",
          message: "must be an RFC 3339 date-time such as `2026-01-31T09:30:00Z`, got `yesterday`",
        },
      ],
    ],
    [
      "impossible calendar date",
      { sha256: SHA, firstSeen: "2026-02-30T00:00:00Z" },
      [
        {
          pointer: "/firstSeen",
          message:
            "must be an RFC 3339 date-time such as `2026-01-31T09:30:00Z`, got `2026-02-30T00:00:00Z`",
        },
      ],
    ],
    [
      "date-time with a space and no zone",
      { sha256: SHA, analyzedAt: "2026-11-26 12:00:00" },
      [
        {
          pointer: "/analyzedAt",
          message:
            "must be an RFC 3339 date-time such as `2026-01-31T09:30:00Z`, got `2026-11-26 12:00:00`",
        },
      ],
    ],
    [
      "tag not a string",
      { sha256: SHA, tags: ["a", 1] },
      [{ pointer: "/tags/1", message: "must be a string, got the number `1`" }],
    ],
    [
      "long values are shortened in messages",
      { sha256: "z".repeat(100) },
      [
        {
          pointer: "/sha256",
          message: `must be 64 hexadecimal digits, got \`${"z".repeat(60)}…\``,
        },
      ],
    ],
  ];
  it.each(cases)("%s", (_name, input, expected) => {
    expect(problemsOf(input)).toEqual(expected);
  });

  it("messages are lower case with no trailing period", () => {
    for (const [, input] of cases) {
      for (const { message } of problemsOf(input)) {
        expect(message.charAt(0)).toBe(message.charAt(0).toLowerCase());
        expect(message.endsWith(".")).toBe(false);
      }
    }
  });
});

describe("validateResult: all problems are listed", () => {
  it("reports every problem, not just the first", () => {
    const problems = problemsOf({
      fileName: 3,
      fileSize: -4,
      verdict: "ok",
      engines: [{ engine: "a" }, { category: 1 }],
      signature: { status: "valid", signedAt: "never" },
      tags: [null, "x", false],
    });
    expect(problems.map((p) => p.pointer).sort()).toEqual(
      [
        "/sha256",
        "/fileName",
        "/fileSize",
        "/verdict",
        "/engines/1/engine",
        "/engines/1/category",
        "/signature/signedAt",
        "/tags/0",
        "/tags/2",
      ].sort(),
    );
  });
});

describe("validateResult: limits", () => {
  it("exports frozen defaults", () => {
    expect(DEFAULT_INPUT_LIMITS).toEqual({
      maxDepth: 32,
      maxArrayLength: 10_000,
      maxStringLength: 65_536,
      maxKeys: 1_000,
      maxBytes: 1_048_576,
    });
    expect(Object.isFrozen(DEFAULT_INPUT_LIMITS)).toBe(true);
  });

  const cases: [string, unknown, Partial<typeof DEFAULT_INPUT_LIMITS> | undefined, Problem[]][] = [
    [
      "maxDepth (default)",
      nested(33),
      undefined,
      [{ pointer: `/x${"/x".repeat(31)}`, message: "nesting depth exceeds the limit of 32" }],
    ],
    [
      "maxDepth (custom)",
      { sha256: SHA, engines: [{ engine: "a", deep: { x: 1 } }] },
      { maxDepth: 3 },
      [{ pointer: "/engines/0/deep", message: "nesting depth exceeds the limit of 3" }],
    ],
    [
      "maxArrayLength (default)",
      { sha256: SHA, tags: Array.from({ length: 10_001 }, () => "t") },
      undefined,
      [{ pointer: "/tags", message: "array has 10001 items, more than the limit of 10000" }],
    ],
    [
      "maxArrayLength (custom)",
      { sha256: SHA, engines: [{ engine: "a" }, { engine: "b" }, { engine: "c" }] },
      { maxArrayLength: 2 },
      [{ pointer: "/engines", message: "array has 3 items, more than the limit of 2" }],
    ],
    [
      "maxStringLength (default)",
      { sha256: SHA, fileName: "n".repeat(65_537) },
      undefined,
      [
        {
          pointer: "/fileName",
          message: "string has 65537 characters, more than the limit of 65536",
        },
      ],
    ],
    [
      "maxStringLength (property name, escaped pointer)",
      { sha256: SHA, extra: { "a/b~c-long": 1 } },
      { maxStringLength: 9 },
      [
        { pointer: "/sha256", message: "string has 64 characters, more than the limit of 9" },
        {
          pointer: "/extra/a~1b~0c-long",
          message: "property name has 10 characters, more than the limit of 9",
        },
      ],
    ],
    [
      "maxKeys (default)",
      Object.fromEntries([
        ["sha256", SHA],
        ...Array.from({ length: 1000 }, (_, i) => [`k${i}`, i]),
      ]),
      undefined,
      [{ pointer: "", message: "object has 1001 properties, more than the limit of 1000" }],
    ],
    [
      "maxKeys (custom, nested)",
      { sha256: SHA, detections: { malicious: 1, suspicious: 2, harmless: 3 } },
      { maxKeys: 2 },
      [{ pointer: "/detections", message: "object has 3 properties, more than the limit of 2" }],
    ],
  ];
  it.each(cases)("%s", (_name, input, limits, expected) => {
    expect(problemsOf(input, limits)).toEqual(expected);
  });

  it("lists every limit problem in document order and skips the schema", () => {
    const problems = problemsOf(
      { verdict: "nope", a: "x".repeat(11), b: ["1", "2", "3"], c: { d: "y".repeat(12) } },
      { maxStringLength: 10, maxArrayLength: 2 },
    );
    expect(problems).toEqual([
      { pointer: "/a", message: "string has 11 characters, more than the limit of 10" },
      { pointer: "/b", message: "array has 3 items, more than the limit of 2" },
      { pointer: "/c/d", message: "string has 12 characters, more than the limit of 10" },
    ]);
  });

  it("accepts Infinity to disable a limit", () => {
    expect(validateResult(nested(40), { maxDepth: Number.POSITIVE_INFINITY }).ok).toBe(true);
  });

  it("walks very deep inputs without recursion", () => {
    let deep: unknown = {};
    for (let i = 0; i < 100_000; i++) deep = { x: deep };
    expect(problemsOf({ sha256: SHA, deep })).toEqual([
      { pointer: `/deep${"/x".repeat(31)}`, message: "nesting depth exceeds the limit of 32" },
    ]);
  });

  it.each([
    [
      "undefined in an array",
      { sha256: SHA, tags: [undefined] },
      "/tags/0",
      "`undefined` is not a JSON value",
    ],
    ["NaN", { sha256: SHA, trustScore: Number.NaN }, "/trustScore", "`NaN` is not a JSON number"],
    ["a bigint", { sha256: SHA, fileSize: 1n }, "/fileSize", "a bigint is not a JSON value"],
    ["a function", { sha256: SHA, f: () => 1 }, "/f", "a function is not a JSON value"],
    [
      "a Date",
      { sha256: SHA, firstSeen: new Date(0) },
      "/firstSeen",
      "`Date` object is not a JSON value",
    ],
    ["a Map", { sha256: SHA, m: new Map() }, "/m", "`Map` object is not a JSON value"],
  ])("rejects %s", (_name, input, pointer, message) => {
    expect(problemsOf(input)).toEqual([{ pointer, message }]);
  });

  it("rejects cycles but accepts shared references", () => {
    const cyclic: Record<string, unknown> = { sha256: SHA };
    cyclic.self = { back: cyclic };
    expect(problemsOf(cyclic)).toEqual([{ pointer: "/self/back", message: "circular reference" }]);
    const shared = { engine: "a" };
    expect(validateResult({ sha256: SHA, engines: [shared, shared] }).ok).toBe(true);
  });

  it("walks a shared subtree again when met deeper", () => {
    const shared = { y: { z: {} } };
    const problems = problemsOf({ sha256: SHA, a: shared, b: { c: shared } }, { maxDepth: 4 });
    expect(problems).toEqual([
      { pointer: "/b/c/y/z", message: "nesting depth exceeds the limit of 4" },
    ]);
  });

  it("validates the limits object", () => {
    expect(() => validateResult({ sha256: SHA }, { maxDepht: 3 } as never)).toThrow(TypeError);
    expect(() => validateResult({ sha256: SHA }, { maxDepht: 3 } as never)).toThrow(/`maxDepht`/);
    expect(() => resolveInputLimits({ maxKeys: -1 })).toThrow(TypeError);
    expect(() => resolveInputLimits({ maxKeys: 1.5 })).toThrow(/`maxKeys`/);
    expect(() => resolveInputLimits({ maxKeys: "9" as never })).toThrow(TypeError);
    expect(() => resolveInputLimits(null as never)).toThrow(TypeError);
    expect(resolveInputLimits({ maxKeys: 5 })).toEqual({ ...DEFAULT_INPUT_LIMITS, maxKeys: 5 });
    expect(resolveInputLimits({})).toEqual(DEFAULT_INPUT_LIMITS);
  });
});

describe("validateResult: normalisation and extra fields", () => {
  it("lower-cases sha256 in a shallow copy, never mutating the input", () => {
    const input = Object.freeze({ sha256: SHA.toUpperCase(), vendor: { name: "v" } });
    const outcome = validateResult(input);
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.result.sha256).toBe(SHA);
    expect(outcome.result).not.toBe(input);
    expect(outcome.result.vendor).toBe(input.vendor);
    expect(input.sha256).toBe(SHA.toUpperCase());
  });

  it("returns the input itself when it is already normalised", () => {
    const input = { sha256: SHA };
    const outcome = validateResult(input);
    expect(outcome.ok && outcome.result).toBe(input);
  });

  it("keeps unknown extra fields", () => {
    const input = {
      sha256: SHA.toUpperCase(),
      source: "webhook",
      vendor: { name: "v", reputation: 7 },
      engines: [{ engine: "e", method: "blacklist" }],
    };
    const outcome = validateResult(input);
    expect(outcome.ok && outcome.result).toEqual({ ...input, sha256: SHA });
  });
});

describe("parseResultJson", () => {
  it("parses and validates", () => {
    const outcome = parseResultJson(JSON.stringify({ ...FULL, sha256: SHA.toUpperCase() }));
    expect(outcome.ok && outcome.result.sha256).toBe(SHA);
  });

  it("ignores a byte-order mark", () => {
    expect(parseResultJson(`\uFEFF{"sha256":"${SHA}"}`).ok).toBe(true);
  });

  it.each([
    ["{", "malformed JSON: expected property name or '}' in JSON at position 1 (line 1, column 2)"],
    ['{"sha256": }', "malformed JSON: unexpected token "],
    ["", "malformed JSON: unexpected end of JSON input"],
  ])("reports malformed JSON %j at the root", (text, start) => {
    const outcome = parseResultJson(text);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.problems).toHaveLength(1);
    expect(outcome.problems[0]!.pointer).toBe("");
    expect(outcome.problems[0]!.message.startsWith(start)).toBe(true);
    expect(outcome.problems[0]!.message.endsWith(".")).toBe(false);
  });

  it("enforces maxBytes in UTF-8 bytes", () => {
    const text = JSON.stringify({ sha256: SHA, fileName: "é" });
    expect(parseResultJson(text, { maxBytes: text.length + 1 }).ok).toBe(true);
    expect(parseResultJson(text, { maxBytes: text.length })).toEqual({
      ok: false,
      problems: [
        {
          pointer: "",
          message: `input is ${text.length + 1} bytes, more than the limit of ${text.length}`,
        },
      ],
    });
    expect(parseResultJson("x".repeat(20), { maxBytes: 10 })).toEqual({
      ok: false,
      problems: [{ pointer: "", message: "input is at least 20 bytes, more than the limit of 10" }],
    });
    const big = JSON.stringify({ sha256: SHA, pad: "p".repeat(DEFAULT_INPUT_LIMITS.maxBytes) });
    expect(parseResultJson(big).ok).toBe(false);
  });

  it("applies the other limits after parsing", () => {
    const outcome = parseResultJson(JSON.stringify({ sha256: SHA, tags: ["a", "b"] }), {
      maxArrayLength: 1,
    });
    expect(outcome.ok ? [] : outcome.problems.map((p) => p.pointer)).toEqual(["/tags"]);
  });

  it("parseJsonText returns the parsed value", () => {
    expect(parseJsonText("[1]")).toEqual({ ok: true, value: [1] });
  });
});

describe("isRfc3339DateTime", () => {
  it.each([
    ["2026-11-26T12:00:00Z", true],
    ["2026-11-26t12:00:00z", true],
    ["2026-11-26T12:00:00.123456+05:30", true],
    ["2024-02-29T00:00:00Z", true],
    ["2026-11-26T12:00:00", false],
    ["2026-11-26 12:00:00Z", false],
    ["2026-02-29T00:00:00Z", false],
    ["2026-13-01T00:00:00Z", false],
    ["2026-11-26T24:00:00Z", false],
    ["2026-11-26T12:60:00Z", false],
    ["2026-11-26T12:00:60Z", false],
    ["2026-11-26T12:00:00+24:00", false],
    ["2026-11-26", false],
    ["1795132800", false],
  ])("%s -> %s", (text, expected) => {
    expect(isRfc3339DateTime(text)).toBe(expected);
  });
});

describe("RESULT_SCHEMA", () => {
  type Node = Record<string, unknown>;
  const nodes = (node: Node): Node[] => {
    const out = [node];
    const props = (node.properties ?? {}) as Record<string, Node>;
    for (const child of Object.values(props)) out.push(...nodes(child));
    if (node.items) out.push(...nodes(node.items as Node));
    return out;
  };

  it("is the frozen draft 2020-12 schema with its $id", () => {
    expect(RESULT_SCHEMA.$id).toBe("https://clearance.dev/schemas/analysis-result.json");
    expect(RESULT_SCHEMA.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(Object.isFrozen(RESULT_SCHEMA.properties.signature.properties)).toBe(true);
  });

  it("stays simple and regular: a description and a type everywhere, no combinators", () => {
    for (const node of nodes(RESULT_SCHEMA as unknown as Node)) {
      expect(typeof node.description).toBe("string");
      expect(node.type).toBeDefined();
      for (const keyword of ["oneOf", "anyOf", "allOf", "not", "$ref"]) {
        expect(node[keyword]).toBeUndefined();
      }
      if (node.type === "object") expect(node.additionalProperties).toBe(true);
    }
  });

  it("matches the fields of result.ts", () => {
    expect(Object.keys(RESULT_SCHEMA.properties)).toEqual([
      "sha256",
      "fileName",
      "fileSize",
      "contentType",
      "category",
      "trustScore",
      "verdict",
      "scoreBreakdown",
      "detections",
      "engines",
      "vendor",
      "signature",
      "firstSeen",
      "analyzedAt",
      "tags",
      "virustotal",
    ]);
    expect(RESULT_SCHEMA.properties.verdict.enum).toEqual(["clean", "caution", "high_risk"]);
    expect(RESULT_SCHEMA.properties.signature.properties.status.enum).toEqual([
      "valid",
      "expired",
      "self_signed",
      "unsigned",
      "invalid",
    ]);
    const timestamps = nodes(RESULT_SCHEMA as unknown as Node).filter(
      (n) => n.format === "date-time",
    );
    expect(timestamps).toHaveLength(3);
  });
});

describe("validateResult: never throws", () => {
  it("on any value", () => {
    fc.assert(
      fc.property(
        fc.anything({ withBigInt: true, withDate: true, withMap: true, withNullPrototype: true }),
        (value) => {
          const outcome = validateResult(value);
          expect(typeof outcome.ok).toBe("boolean");
        },
      ),
      { numRuns: 500 },
    );
  });

  it("on any object that has a valid sha256", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (extra) => {
        validateResult({ ...extra, sha256: SHA });
      }),
      { numRuns: 300 },
    );
  });
});
