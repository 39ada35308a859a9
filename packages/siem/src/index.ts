export {
  type DecisionEvent,
  type ExceptionEvent,
  eventFile,
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
export { sampleEvents } from "./samples.js";
export {
  DeliveryError,
  type OutgoingEvent,
  type SyslogSeverity,
  type Transport,
} from "./transport.js";
