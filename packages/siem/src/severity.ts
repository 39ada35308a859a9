// How serious an event is on the 0-10 scale that CEF's header carries and ECS' event.severity
// takes as the source's own number. It orders events as syslogSeverity (format.ts) does: a broken
// audit chain highest, then a failed reload, a denied file, an opened review or revoked exception.

import type { SiemEvent } from "./event.js";

export type SeverityScore = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;

export function severityScore(event: SiemEvent): SeverityScore {
  switch (event.kind) {
    case "audit.verify_failed":
      return 10;
    case "ruleset.failed":
      return 7;
    case "decision":
      return event.decision === "deny" ? 6 : event.decision === "review" ? 4 : 1;
    case "review.opened":
    case "exception.revoked":
      return 4;
    default:
      return 2;
  }
}
