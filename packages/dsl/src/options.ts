import { defaultsOf, resolveOptions, type Static, Type } from "@clearance/options";

/** A positive count; past MAX_SAFE_INTEGER a count is not exact, so it is the largest. */
const limit = (fallback: number, description: string) =>
  Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, default: fallback, description });

/**
 * Limits on what the language accepts, declared once: the type, the check and the defaults.
 * Explicit, validated, frozen; every one has a test.
 */
const LANGUAGE_LIMITS = Type.Object(
  {
    maxFileBytes: limit(16 * 1024 * 1024, "bytes of one rule file"),
    // a declaration's syntax tree is built whole, at about 2 KB a token: 250,000 tokens (a
    // 200,000-operand sum, 60,000 `unless` clauses) stay under a gigabyte
    maxDeclarationTokens: limit(
      250_000,
      "tokens of one declaration (a rule, list, default) or one `{}` hole of a reason",
    ),
    maxNestingDepth: limit(
      64,
      "nesting of parentheses, lists, quantifiers and `not` in one expression",
    ),
    maxListLength: limit(100_000, "items in one list literal or list file"),
    maxRegexLength: limit(1_000, "characters in one regular expression"),
    maxRules: limit(1_000_000, "rules in one rule set"),
    maxHashlistEntries: limit(20_000_000, "lines in one hash list file"),
    // a 1,000,000-line hash list is 65 MB; the defaults leave room for about four of them
    maxListFileBytes: limit(
      256 * 1024 * 1024,
      "bytes of one list or hash list file, checked before and while reading",
    ),
    maxRulesetBytes: limit(
      512 * 1024 * 1024,
      "bytes of the whole rule set: every rule file and every list file it declares",
    ),
    maxExceptionsFileBytes: limit(
      16 * 1024 * 1024,
      "bytes of the rule directory's `exceptions.json`, checked before and while reading",
    ),
    maxDiagnostics: limit(200, "diagnostics reported before the rest are summarised"),
    maxTemplateHoles: limit(
      100,
      "`{}` holes in one reason: each is parsed as an expression of its own",
    ),
    maxEvaluationSteps: limit(
      1_000_000,
      "steps one decision may take, a step being one list item gone over by `any`, `all` or `count` (a loop costs the length of its list when it starts); over it, the rule fails at run time",
    ),
  },
  { additionalProperties: false },
);

export type LanguageLimits = Static<typeof LANGUAGE_LIMITS>;

export const DEFAULT_LIMITS: Readonly<LanguageLimits> = defaultsOf(LANGUAGE_LIMITS);

/** Merges `overrides` onto the defaults; an unknown key or a value that is not a positive integer is a TypeError. */
export function resolveLimits(overrides: Partial<LanguageLimits> = {}): Readonly<LanguageLimits> {
  return resolveOptions(LANGUAGE_LIMITS, overrides, { noun: "limit" });
}
