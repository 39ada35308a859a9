// @clearance/codemirror-lang: the rule language for CodeMirror 6 (docs/editors.md). Browser-only
// and free of Clearance code: the schema completion reads and the checker lint asks are the
// caller's, so the package never carries a second copy of the compiler.

export { clearanceCompletion, clearanceCompletionSource } from "./complete.js";
export { KEYWORDS } from "./keywords.js";
export { clearanceHighlight, clearanceLanguage, clearanceRules } from "./language.js";
export {
  type Checker,
  type CheckerDiagnostic,
  checkNow,
  clearanceLinter,
  clearanceLintSource,
  type LinterOptions,
  toEditorDiagnostics,
} from "./lint.js";
export {
  declaredContext,
  fieldsFromJsonSchema,
  type JsonSchemaNode,
  type RuleSchema,
  type SchemaField,
  type SchemaFunction,
} from "./schema.js";
