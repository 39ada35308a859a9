// The public surface of @clearance/engine, listed by name.

export {
  type CanonicalOutcome,
  detectFormat,
  INPUT_FORMATS,
  type InputFormat,
  type ToCanonicalOptions,
  toCanonical,
} from "./adapters/detect.js";
export { fromPlatform } from "./adapters/platform.js";
export { type AdapterOutcome, fromVirusTotal } from "./adapters/virustotal.js";
export { type RuleError, SEVERITY } from "./combine.js";
export {
  type CompileOptions,
  type CompileResult,
  compile,
  type ListFile,
  type ListRequest,
} from "./compile.js";
export { type FileProblem, ListFileError, ListFileTooLarge } from "./confine.js";
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
export type {
  AnalysisResult,
  Detections,
  EngineResult,
  ScoreComponent,
  Signature,
  SignatureStatus,
  Vendor,
  Verdict,
} from "./result.js";
export type { ListFileCache } from "./rule-files.js";
export {
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
export {
  DEFAULT_INPUT_LIMITS,
  type InputLimits,
  isValidated,
  type Problem,
  parseJsonText,
  parseResultJson,
  RESULT_SCHEMA,
  type ValidationOutcome,
  validateResult,
} from "./validate.js";
