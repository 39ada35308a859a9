// The public surface of @clearance/platform, listed by name: the file-analysis platform's wire
// format (docs/platform-api.md), its error codes, and the two conversions between its file object
// and the canonical analysis result. The client, the simulator and the engine's `toCanonical` use
// it; it depends only on @clearance/result.
export {
  type FieldProblem,
  PLATFORM_ERROR_CODES,
  type PlatformErrorBody,
  type PlatformErrorCode,
} from "./errors.js";
export {
  displayCategory,
  platformApproval,
  type ToPlatformOptions,
  toPlatformFile,
} from "./from-canonical.js";
export {
  fromPlatform,
  PLATFORM_FIELDS,
  type PlatformOutcome,
  platformToCanonical,
} from "./to-canonical.js";
export {
  type CompleteAnswer,
  type CompleteRequest,
  type FilesPage,
  type FilesQuery,
  PLATFORM_ONLY_FIELDS,
  PLATFORM_STATUSES,
  type PlatformApproval,
  type PlatformApprovalStatus,
  type PlatformEngineCategory,
  type PlatformEngineResult,
  type PlatformFile,
  type PlatformScoreComponent,
  type PlatformSigning,
  type PlatformSigningStatus,
  type PlatformStatus,
  type PlatformVendor,
  type PlatformVerdict,
  type PutAnswer,
  type ReceivedPlatformFile,
  type UploadAnswer,
  type UploadRequest,
  type WebhookEnvelope,
} from "./wire.js";
