/** Limits on what the language accepts. Explicit, validated, frozen; every one has a test. */
export interface LanguageLimits {
  /** bytes of one rule file */
  maxFileBytes: number;
  /** nesting of parentheses, lists, quantifiers and `not` in one expression */
  maxNestingDepth: number;
  /** items in one list literal or list file */
  maxListLength: number;
  /** characters in one regular expression */
  maxRegexLength: number;
  /** rules in one rule set */
  maxRules: number;
  /** lines in one hash list file */
  maxHashlistEntries: number;
  /** bytes of one list or hash list file, checked before and while reading */
  maxListFileBytes: number;
  /** bytes of the whole rule set: every rule file and every list file it declares */
  maxRulesetBytes: number;
  /** diagnostics reported before the rest are summarised */
  maxDiagnostics: number;
  /** `{}` holes in one reason: each is parsed as an expression of its own */
  maxTemplateHoles: number;
  /**
   * steps one decision may take, a step being one list item gone over by `any`, `all` or `count`
   * (a loop costs the length of its list when it starts); over it, the rule fails at run time
   */
  maxEvaluationSteps: number;
}

export const DEFAULT_LIMITS: Readonly<LanguageLimits> = Object.freeze({
  maxFileBytes: 16 * 1024 * 1024,
  maxNestingDepth: 64,
  maxListLength: 100_000,
  maxRegexLength: 1_000,
  maxRules: 1_000_000,
  maxHashlistEntries: 20_000_000,
  // a 1,000,000-line hash list is 65 MB; the defaults leave room for about four of them
  maxListFileBytes: 256 * 1024 * 1024,
  maxRulesetBytes: 512 * 1024 * 1024,
  maxDiagnostics: 200,
  maxTemplateHoles: 100,
  maxEvaluationSteps: 1_000_000,
});

/** Merges `overrides` onto the defaults; an unknown key or a value that is not a positive integer is a TypeError. */
export function resolveLimits(overrides: Partial<LanguageLimits> = {}): Readonly<LanguageLimits> {
  const result: LanguageLimits = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(overrides)) {
    if (!Object.hasOwn(DEFAULT_LIMITS, key)) {
      throw new TypeError(
        `unknown limit \`${key}\` (known: ${Object.keys(DEFAULT_LIMITS).join(", ")})`,
      );
    }
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
      throw new TypeError(`limit \`${key}\` must be a positive integer, got \`${String(value)}\``);
    }
    result[key as keyof LanguageLimits] = value;
  }
  return Object.freeze(result);
}
