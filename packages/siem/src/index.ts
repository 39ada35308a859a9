export { cefFormatter, renderCef } from "./cef.js";
export { ECS_VERSION, ecsDocument, ecsFormatter } from "./ecs.js";
export {
  type ByFamily,
  byFamily,
  type DecisionEvent,
  type ExceptionEvent,
  type ReviewCaseEvent,
  type RulesetFailedEvent,
  type RulesetLoadedEvent,
  SIEM_EVENT_KINDS,
  type SiemEvent,
  type SiemEventKind,
  type SiemFile,
  type SiemRuleset,
  type VerifyFailedEvent,
  type VoteEvent,
} from "./event.js";
export { type Formatter, SIEM_FORMATS, type SiemFormat, syslogSeverity } from "./format.js";
export { formatter } from "./formats.js";
export { OCSF_VERSION, ocsfEvent, ocsfFormatter } from "./ocsf.js";
export { sampleEvents } from "./samples.js";
export { type SeverityScore, severityScore } from "./severity.js";
export {
  DeliveryError,
  type OutgoingEvent,
  type SyslogSeverity,
  type Transport,
} from "./transport.js";
export {
  createTransport,
  type NatsTransport,
  parseTransportOptions,
  TRANSPORT_TYPES,
  type TransportOptions,
  type TransportType,
} from "./transports/index.js";
export { pause } from "./transports/serial.js";
