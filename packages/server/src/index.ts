// The public surface of @clearance/server, listed by name.

export {
  AuditDamagedError,
  type AuditFilter,
  type AuditStore,
  AuditUnavailableError,
  type Checkpoint,
  DuplicateDeliveryError,
  type EntryStore,
  type OutboxStore,
  type StateStore,
} from "./audit/backend.js";
export {
  type AuditEntry,
  type AuditRecord,
  DECISION_SOURCES,
  type DecisionRecord,
  type DecisionSource,
  type ShadowAnswer,
} from "./audit/entry.js";
export { newId } from "./audit/ids.js";
export {
  DECISION_KIND,
  defineEntryKind,
  ENTRY_KINDS,
  type EntryKind,
  kindTableSql,
} from "./audit/kinds.js";
export {
  AuditLog,
  type AuditLogOptions,
  type EntryFields,
  type KindEntry,
  type VerifyDamage,
  type VerifyReport,
} from "./audit/log.js";
export { PostgresBackend } from "./audit/postgres.js";
export { SqliteBackend } from "./audit/sqlite.js";
export { AuditInUseError } from "./audit/sqlite-lock.js";
export { type ApiKey, createApiKey, SCOPES, type Scope } from "./auth.js";
export {
  CONFIG_SCHEMA,
  ConfigError,
  defaultConfig,
  loadConfig,
  resolveConfig,
  type ServerConfig,
} from "./config.js";
export type { DecisionAnswer, DecisionRequest } from "./decide.js";
export { default as clearanceApp } from "./http/app.js";
export { PROBLEMS, type ProblemCode } from "./http/problems.js";
export type { CaseView, ExceptionView, VoteView } from "./reviews.js";
export { type ReloadOutcome, RulesLoadError } from "./rules.js";
export {
  previewSantaRules,
  type SantaGroupPreview,
  type SantaPreview,
  type SantaRuleChange,
} from "./santa-preview.js";
export {
  buildApp,
  checkExposure,
  installSignalHandlers,
  type RunningServer,
  startServer,
} from "./server.js";
export { createServices, openBackend, type Services } from "./services.js";
export { type SampleOutcome, type Sink, sendSamples, sinksFrom } from "./siem.js";
export { signWebhook, WEBHOOK_HEADERS } from "./webhook.js";
