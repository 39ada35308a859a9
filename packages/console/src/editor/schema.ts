import { declaredContext, fieldsFromJsonSchema, type RuleSchema } from "@clearance/codemirror-lang";
// A copy of packages/result/src/result-schema.json: the console imports no Clearance package and
// no endpoint serves the input's fields, while this schema is what the checker types rules
// against (packages/engine/src/compile.ts). test/editor-schema.test.ts fails when they differ.
import RESULT_SCHEMA from "./result-schema.json";

// What the rule editor completes from. Only the Playground's editor loads this (with the editor,
// by import()), so the schema's 16 KB never weigh on the console's first page.

/**
 * The functions rules may call, copied from packages/dsl/src/check.ts (`FUNCTIONS`);
 * test/editor-schema.test.ts fails when the two differ.
 */
export const FUNCTIONS: Readonly<Record<string, string>> = {
  age: "age(timestamp) -> duration: how long ago",
  now: "now() -> timestamp: the evaluation time",
  lower: "lower(string) -> string",
  upper: "upper(string) -> string",
  len: "len(string | list) -> number",
  exists: "exists(path) -> bool: whether an optional field is present",
};

/**
 * What completion offers for a rule set whose files are `texts`: its request context is declared
 * once, in any of them (the file edited adds what it declares as it is typed).
 */
export function ruleSchema(texts: readonly string[] = []): RuleSchema {
  return {
    fields: fieldsFromJsonSchema(RESULT_SCHEMA),
    functions: Object.entries(FUNCTIONS).map(([name, signature]) => ({ name, signature })),
    context: declaredContext(texts),
  };
}
