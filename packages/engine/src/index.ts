// The public surface of @clearance/engine, listed by name.

// the language limits a loader is given (`LoadOptions.limits`), with their defaults
export { DEFAULT_LIMITS, type LanguageLimits } from "@clearance/dsl";
// The canonical result and its validation are @clearance/result's; the engine passes them on, so
// that one import serves a caller that loads rules, reads results and decides.
export {
  type AdapterOutcome,
  type AnalysisResult,
  DEFAULT_INPUT_LIMITS,
  type Detections,
  type EngineResult,
  type InputLimits,
  isValidated,
  type Problem,
  parseJsonText,
  parseResultJson,
  RESULT_SCHEMA,
  type ScoreComponent,
  type Signature,
  type SignatureStatus,
  type ValidationOutcome,
  type Vendor,
  type Verdict,
  validateResult,
} from "@clearance/result";
export {
  type CanonicalOutcome,
  detectFormat,
  INPUT_FORMATS,
  type InputFormat,
  type InputItem,
  type InputItems,
  listOf,
  type ToCanonicalOptions,
  toCanonical,
  // an input that may be a list of results (a VirusTotal search answer, vt-cli's output): one
  // outcome per item, for the CLI, the dry-run and the server to share
  toCanonicalItems,
} from "./adapters/detect.js";
export { fromVirusTotal } from "./adapters/virustotal.js";
export { type RuleError, SEVERITY } from "./combine.js";
export {
  type CompileOptions,
  type CompileResult,
  compile,
  type ListFile,
  type ListRequest,
} from "./compile.js";
export { type FileProblem, ListFileError, ListFileTooLarge } from "./confine.js";
export {
  type CaseInput,
  type ExceptionInput,
  type ExceptionRecord,
  type ExceptionScope,
  ExceptionSet,
  type ExceptionSetOptions,
  InvalidExceptionsError,
} from "./exceptions.js";
export type { ConditionTrace, Truth } from "./interpret.js";
export type { ParsedHashlist } from "./lists.js";
export {
  findFiles,
  findRuleFiles,
  gitCommit,
  gitCommitAsync,
  type LoadOptions,
  loadRuleset,
  RulesetLoader,
} from "./load.js";
export { EXCEPTIONS_FILE, type ListFileCache } from "./rule-files.js";
export {
  type ConditionSite,
  type DecideOptions,
  type Decision,
  type Explanation,
  InvalidResultError,
  type Location,
  type RuleExplanation,
  type RuleInfo,
  type RuleOutcome,
  Ruleset,
} from "./ruleset.js";
