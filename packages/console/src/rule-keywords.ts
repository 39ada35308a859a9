// The rule language's reserved words, for the pages that colour rule text (the Rules page's file
// view, the Playground's editor). The console imports no Clearance package, so this is a copy:
// packages/console/test/rules.test.ts fails when it differs from the DSL's own list.

/**
 * Copied from packages/dsl/src/tokens.ts (each `keyword("...")`, in its order);
 * packages/console/test/rules.test.ts fails when the two lists differ.
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
