// The formats a sink can render events in. Each renders one `SiemEvent` to one line.

import type { SiemEvent } from "./event.js";
import type { SyslogSeverity } from "./transport.js";

export const SIEM_FORMATS = Object.freeze(["ocsf", "ecs", "cef"] as const);
export type SiemFormat = (typeof SIEM_FORMATS)[number];

export interface Formatter {
  readonly name: SiemFormat;
  /** the event as one line (no line break): JSON for OCSF and ECS, a CEF record for CEF */
  render(event: SiemEvent): string;
  /** `application/json` or `text/plain` */
  readonly contentType: string;
}

/**
 * How serious an event is, as syslog says it: a denied file is a warning (4), a review or a
 * failed rule-set reload a notice (5), an allowed file informational (6), a broken audit chain an
 * alert (1), everything else informational.
 */
export function syslogSeverity(event: SiemEvent): SyslogSeverity {
  switch (event.kind) {
    case "audit.verify_failed":
      return 1;
    case "decision":
      return event.decision === "deny" ? 4 : event.decision === "review" ? 5 : 6;
    case "ruleset.failed":
      return 3;
    case "review.opened":
    case "exception.revoked":
      return 5;
    default:
      return 6;
  }
}
