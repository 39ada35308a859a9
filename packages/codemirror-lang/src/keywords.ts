// The rule language's reserved words, for colouring and completion here and for the console's
// light file view. This package imports no Clearance package (it runs in browsers, and its
// callers may not ship the compiler), so this is a copy: test/keywords.test.ts fails when it
// differs from the DSL's own list.

/**
 * Copied from packages/dsl/src/tokens.ts (each `keyword("...")`, in its order);
 * test/keywords.test.ts fails when the two lists differ.
 */
export const KEYWORDS: readonly string[] = [
  "ruleset",
  "strategy",
  "deny-overrides",
  "first-match",
  "default",
  "on-error",
  "ignore",
  "list",
  "hashlist",
  "from",
  "context",
  "inputs",
  "rule",
  "priority",
  "monitor",
  "expires",
  "overrides",
  "forbid-approval",
  "when",
  "unless",
  "allow",
  "deny",
  "review",
  "and",
  "or",
  "not",
  "in",
  "contains",
  "startsWith",
  "endsWith",
  "matches",
  "any",
  "all",
  "count",
  "where",
  "true",
  "false",
  "exception",
  "case",
];
