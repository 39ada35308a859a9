import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkOptions,
  defaultsOf,
  expectation,
  formatIssue,
  keyPath,
  resolveOptions,
  Type,
  Unlimited,
} from "../src/index.js";

const Retry = Type.Object(
  {
    attempts: Type.Integer({ minimum: 1, maximum: 100, default: 4 }),
    baseDelayMs: Type.Number({ minimum: 0, default: 500 }),
  },
  { additionalProperties: false },
);

const Options = Type.Object(
  {
    name: Type.String({ minLength: 1, default: "clearance" }),
    level: Type.Enum(["low", "high"], { default: "low" }),
    secret: Type.Union([Type.String({ minLength: 16 }), Type.Null()], { default: null }),
    retry: Retry,
    tags: Type.Array(Type.String({ pattern: "^[a-z]+$" }), { uniqueItems: true, default: [] }),
    targets: Type.Array(
      Type.Object(
        {
          url: Type.String({ pattern: "^https?://" }),
          timeoutMs: Type.Integer({ minimum: 1, default: 5_000 }),
        },
        { additionalProperties: false },
      ),
      { default: [] },
    ),
    maxWaitMs: Type.Union([Type.Number({ minimum: 0 }), Unlimited], {
      default: 1_000,
    }),
    now: Type.Optional(Type.Function([], Type.Number())),
    cache: Type.Union(
      [
        Type.Object(
          { max: Type.Integer({ minimum: 1, default: 10 }) },
          { additionalProperties: false },
        ),
        Type.Literal(false),
      ],
      { default: {} },
    ),
  },
  { additionalProperties: false },
);

describe("resolveOptions", () => {
  it("fills every default, nested objects and array items included, and freezes the result", () => {
    const r = resolveOptions(Options, { targets: [{ url: "https://a.example" }] });
    expect(r).toEqual({
      name: "clearance",
      level: "low",
      secret: null,
      retry: { attempts: 4, baseDelayMs: 500 },
      tags: [],
      targets: [{ url: "https://a.example", timeoutMs: 5_000 }],
      maxWaitMs: 1_000,
      cache: { max: 10 },
    });
    expect(Object.isFrozen(r)).toBe(true);
    expect(Object.isFrozen(r.retry)).toBe(true);
    expect(Object.isFrozen(r.targets[0])).toBe(true);
    expect(defaultsOf(Options)).toEqual({ ...r, targets: [] });
  });

  it("keeps given values, functions unfrozen, and never changes the input", () => {
    const now = () => 1;
    const input = { retry: { attempts: 2 }, now, maxWaitMs: Number.POSITIVE_INFINITY };
    const r = resolveOptions(Options, input);
    expect(r.retry).toEqual({ attempts: 2, baseDelayMs: 500 });
    expect(r.now).toBe(now);
    expect(Object.isFrozen(now)).toBe(false);
    expect(r.maxWaitMs).toBe(Number.POSITIVE_INFINITY);
    expect(input).toEqual({ retry: { attempts: 2 }, now, maxWaitMs: Number.POSITIVE_INFINITY });
  });

  it.each([
    [
      { nmae: "x" },
      "unknown option `nmae` (known: name, level, secret, retry, tags, targets, maxWaitMs, now, cache); did you mean `name`?",
    ],
    [
      { retry: { attempt: 3 } },
      "unknown option `retry.attempt` (known: attempts, baseDelayMs); did you mean `retry.attempts`?",
    ],
    [
      { zzzzzz: 1 },
      "unknown option `zzzzzz` (known: name, level, secret, retry, tags, targets, maxWaitMs, now, cache)",
    ],
    [
      { retry: { attempts: 0 } },
      "option `retry.attempts` must be an integer from 1 to 100, got `0`",
    ],
    [
      { retry: { attempts: 1.5 } },
      "option `retry.attempts` must be an integer from 1 to 100, got `1.5`",
    ],
    [
      { retry: { attempts: "3" } },
      "option `retry.attempts` must be an integer from 1 to 100, got `3`",
    ],
    [
      { retry: { baseDelayMs: -1 } },
      "option `retry.baseDelayMs` must be a number of at least 0, got `-1`",
    ],
    [
      { retry: { baseDelayMs: Number.NaN } },
      "option `retry.baseDelayMs` must be a number of at least 0, got `NaN`",
    ],
    [{ retry: 5 }, "option `retry` must be an object, got `5`"],
    [{ name: "" }, "option `name` must be a non-empty string, got ``"],
    [{ level: "mid" }, "option `level` must be one of `low`, `high`, got `mid`"],
    [
      { secret: "short" },
      "option `secret` must be a string of at least 16 characters or null, got `short`",
    ],
    [{ tags: ["a", "B"] }, "option `tags[1]` must be a string matching `^[a-z]+$`, got `B`"],
    [{ tags: ["a", "a"] }, "option `tags[1]` must not repeat an item (items 0 and 1 are the same)"],
    [{ targets: [{}] }, "option `targets[0].url` is required"],
    [{ maxWaitMs: -1 }, "option `maxWaitMs` must be a number of at least 0 or Infinity, got `-1`"],
    [{ now: 3 }, "option `now` must be a function, got `3`"],
    [{ cache: { size: 1 } }, "unknown option `cache.size` (known: max)"],
    [{ cache: { max: 0 } }, "option `cache.max` must be a positive integer, got `0`"],
    [{ cache: true }, "option `cache` must be an object or false, got `true`"],
    [null, "options must be an object, got `null`"],
    [[], "options must be an object, got an array"],
  ])("%j: %s", (input, message) => {
    expect(() => resolveOptions(Options, input)).toThrow(TypeError);
    expect(() => resolveOptions(Options, input)).toThrow(message);
  });

  it("keeps undeclared keys where the declaration allows them, `__proto__` as a plain key", () => {
    const Open = Type.Object({ a: Type.Integer({ default: 1 }) });
    const input = JSON.parse('{"b": 2, "__proto__": {"polluted": true}}');
    const r = resolveOptions(Open, input) as Record<string, unknown>;
    expect(Object.getPrototypeOf(r)).toBe(Object.prototype);
    expect(r.polluted).toBeUndefined();
    expect(Object.keys(r).sort()).toEqual(["__proto__", "a", "b"]);
  });

  it("names every problem at once, one message per value", () => {
    const { issues } = checkOptions(Options, { a: 1, retry: { attempts: -1.5, b: 2 } });
    expect(issues.map((i) => [keyPath(i.path), i.kind])).toEqual([
      ["a", "unknown_key"],
      ["retry.b", "unknown_key"],
      ["retry.attempts", "type"],
      ["retry.attempts", "minimum"],
    ]);
    expect(() => resolveOptions(Options, { a: 1, retry: { attempts: -1.5, b: 2 } })).toThrow(
      /^unknown option `a` .*; unknown option `retry.b` .*; option `retry.attempts` must be an integer from 1 to 100, got `-1.5`$/,
    );
  });

  it("takes the package's noun and, for older wording, its own format", () => {
    const Limits = Type.Object(
      { maxRules: Type.Integer({ minimum: 1, default: 10 }) },
      { additionalProperties: false },
    );
    expect(() => resolveOptions(Limits, { maxRule: 1 }, { noun: "limit" })).toThrow(
      "unknown limit `maxRule` (known: maxRules); did you mean `maxRules`?",
    );
    expect(() => resolveOptions(Limits, { maxRules: 0 }, { noun: "limit" })).toThrow(
      "limit `maxRules` must be a positive integer, got `0`",
    );
    expect(() =>
      resolveOptions(Limits, { maxRules: 0 }, { format: (i) => `${keyPath(i.path)}: ${i.kind}` }),
    ).toThrow("maxRules: minimum");
  });

  it.each([
    [Type.Integer({ minimum: 0 }), "a non-negative integer"],
    [Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), "a positive integer"],
    [Type.Integer({ minimum: 5 }), "an integer of at least 5"],
    [Type.Number({ maximum: 1 }), "a number of at most 1"],
    [Type.Boolean(), "a boolean"],
    [Type.Array(Type.String(), { maxItems: 3 }), "an array of at most 3 items"],
  ])("describes %j as %s", (schema, words) => {
    expect(expectation(schema)).toBe(words);
  });

  it("formats an issue with a noun of the caller's", () => {
    const [issue] = checkOptions(Retry, { attempts: 0 }).issues;
    expect(formatIssue(issue!, "retry option")).toBe(
      "retry option `attempts` must be an integer from 1 to 100, got `0`",
    );
  });
});

describe("properties", () => {
  const known = Object.keys(Options.properties);
  const key = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !known.includes(k));

  it("any unknown key is named in the error", () => {
    fc.assert(
      fc.property(key, fc.jsonValue(), (k, v) => {
        const { issues } = checkOptions(Options, { [k]: v });
        expect(issues.some((i) => i.kind === "unknown_key" && i.path[0] === k)).toBe(true);
        expect(() => resolveOptions(Options, { [k]: v })).toThrow(`\`${k}\``);
      }),
    );
  });

  it("defaults fill every missing key, and the result is frozen all the way down", () => {
    const defaulted = known.filter((k) => k !== "now");
    fc.assert(
      fc.property(fc.subarray(defaulted), fc.integer({ min: 1, max: 100 }), (given, n) => {
        const input: Record<string, unknown> = {};
        for (const k of given)
          input[k] = k === "retry" ? { attempts: n } : (defaultsOf(Options) as never)[k];
        const r = resolveOptions(Options, input) as Record<string, unknown>;
        expect(Object.keys(r).sort()).toEqual([...defaulted].sort());
        const frozen = (v: unknown): boolean =>
          v === null ||
          typeof v !== "object" ||
          (Object.isFrozen(v) && Object.values(v).every(frozen));
        expect(frozen(r)).toBe(true);
      }),
    );
  });
});
