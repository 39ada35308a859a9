// The public surface of @clearance/platform-sim, listed by name: the simulator, its options, its
// deterministic results and the admin API's types. The platform's wire format, error codes and
// conversions are @clearance/platform's.
export {
  type AdvanceAnswer,
  type DeliveriesAnswer,
  type FaultsAnswer,
  SEED_LIMIT,
  type SeedFilesRequest,
} from "./app.js";
export {
  DEFAULT_KEY,
  type FaultSettings,
  type Faults,
  type KeyOptions,
  LIMITS,
  type RateLimitOptions,
  SCOPES,
  type Scope,
  type SimulatorOptions,
  type StartOptions,
  VIRUSTOTAL_PUBLIC_QUOTA,
  type VirusTotalKeyOptions,
  type VirusTotalOptions,
  type WebhookRetryOptions,
  type WebhookTarget,
} from "./options.js";
export { type FileFacts, simulatedResult } from "./results.js";
export { createSimulator, type RunningSimulator, startSimulator } from "./server.js";
export type { SeedFile } from "./state.js";
export { VIRUSTOTAL_ERROR_CODES, type VirusTotalErrorCode } from "./virustotal.js";
export { type Delivery, type DeliveryAttempt, signDelivery } from "./webhooks.js";
