// The public surface of @clearance/result, listed by name: the canonical analysis result (the
// input of every rule), its JSON Schema, input limits and validation, and the message helpers the
// format adapters share. It depends on no other Clearance package, so the engine, the platform's
// conversions and the test-data generator can all use it without importing each other.

export {
  CANONICAL_FIELDS,
  INPUT_PROFILES,
  type InputProfileName,
  presentFields,
} from "./profiles.js";
export type {
  AnalysisResult,
  Detections,
  EngineResult,
  GtiSeverity,
  GtiVerdict,
  IdsAlert,
  IdsSeverity,
  NamedCount,
  SandboxCategory,
  SandboxVerdict,
  ScoreComponent,
  SigmaLevel,
  SigmaMatch,
  Signature,
  SignatureStatus,
  Vendor,
  Verdict,
  VirusTotalSection,
  YaraMatch,
} from "./result.js";
export {
  type AdapterOutcome,
  DEFAULT_INPUT_LIMITS,
  describe,
  escapePointerToken,
  type InputLimits,
  isRfc3339DateTime,
  isValidated,
  type JsonParseOutcome,
  type Problem,
  parseJsonText,
  parseResultJson,
  RESULT_SCHEMA,
  resolveInputLimits,
  show,
  type ValidationOutcome,
  validateResult,
} from "./validate.js";
