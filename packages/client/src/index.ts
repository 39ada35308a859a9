// The public surface of @clearance/client, listed by name. The platform's wire types (the file
// object, error bodies) are @clearance/platform's.

export { type BackoffOptions, backoffCeiling, backoffDelay } from "./backoff.js";
export {
  type FileResult,
  hashFile,
  type ListFilesQuery,
  PlatformClient,
  type QuotaState,
  type UploadOptions,
  type UploadResult,
  type WaitOptions,
} from "./client.js";
export {
  AbortedError,
  AnalysisFailedError,
  ERROR_CODES,
  type ErrorCode,
  InvalidApiKeyError,
  InvalidResponseError,
  MissingScopeError,
  NotFoundError,
  PlatformError,
  type PlatformErrorInit,
  PlatformUnavailableError,
  QuotaExhaustedError,
  RateLimitedError,
  RequestRejectedError,
  TimeoutError,
  UploadUrlExpiredError,
} from "./errors.js";
export {
  type CacheOptions,
  DEFAULT_CACHE,
  DEFAULT_RATE_LIMIT,
  DEFAULT_RETRY,
  DEFAULT_TIMEOUTS,
  DEFAULT_USER_AGENT,
  type PlatformClientOptions,
  type RateLimitOptions,
  type ResolvedOptions,
  type RetryOptions,
  type Timeouts,
  VERSION,
} from "./options.js";
export {
  type HeaderBag,
  parseRateLimitHeaders,
  parseRetryAfter,
  parseStructuredList,
  type RateLimitState,
  type SfItem,
} from "./ratelimit.js";
export {
  isAnalysed,
  type ResolvedVirusTotalOptions,
  VIRUSTOTAL_PUBLIC_QUOTA,
  VIRUSTOTAL_URL,
  VirusTotalClient,
  type VirusTotalClientOptions,
  type VirusTotalFileObject,
  type VirusTotalOutcome,
  type VirusTotalQuota,
  virustotalHashKind,
} from "./virustotal.js";
