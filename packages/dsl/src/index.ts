// The public surface of @clearance/dsl, listed by name.
export type * as Ast from "./ast.js";
export type {
  Action,
  Expr,
  Item,
  MatchExpr,
  OnError,
  PathExpr,
  RuleDecl,
  RuleFile,
  Strategy,
  Template,
} from "./ast.js";
export {
  type CheckOptions,
  checkProgram,
  EXPIRY_WARNING_MS,
  FUNCTIONS,
  type HashlistInfo,
  type ListInfo,
  type Program,
  type Resolution,
} from "./check.js";
export {
  DIAGNOSTIC_CODES,
  type Diagnostic,
  type DiagnosticCode,
  DiagnosticCollector,
  type DiagnosticData,
  diagnostic,
  diagnosticData,
  failureMessage,
  finalizeDiagnostics,
  formatDiagnostic,
  formatDiagnosticShort,
  hasErrors,
  type RelatedInformation,
  type Severity,
  type Span,
} from "./diagnostics.js";
export { type FormatResult, format } from "./format.js";
export { formatDuration, parseDuration, parseTimestamp, quoteString } from "./literals.js";
export { DEFAULT_LIMITS, type LanguageLimits, resolveLimits } from "./options.js";
export { type ParseResult, parseExpression, parseFile } from "./parse.js";
export { checkInputProfiles, type DeclaredInput, ruleNeeds } from "./profiles.js";
export { analyzeRegex, type RegexPlan } from "./regex-analysis.js";
export { type CompiledRegex, compileRegex } from "./regex-translation.js";
export { decodeSource, lineText, type Position, positionAt, type SourceFile } from "./source.js";
export { closest, didYouMean } from "./suggest.js";
export { KEYWORDS } from "./tokens.js";
export {
  BUILTINS,
  type BuiltinName,
  type Field,
  type JsonSchema,
  T,
  type Type,
  typeFromJsonSchema,
  typeName,
} from "./types.js";
export { someExpr } from "./walk.js";
