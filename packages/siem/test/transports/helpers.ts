// What the transport tests share: events to send, and the real services of test/support/siem.ts.

import { randomUUID } from "node:crypto";
import { type OutgoingEvent, sampleEvents, syslogSeverity } from "../../src/index.js";

export * from "../../../../test/support/siem.js";

/**
 * Every sample event as a transport gets it: JSON bodies, a fresh id each (receivers with memory,
 * like a JetStream stream, must not see earlier runs' ids), and one body with non-ASCII text and
 * characters syslog structured data would have to escape.
 */
export function outgoingEvents(time = "2026-12-05T01:20:34.123Z"): OutgoingEvent[] {
  const events = sampleEvents(time).map(
    (event): OutgoingEvent => ({
      id: randomUUID(),
      kind: event.kind,
      time: event.time,
      body: JSON.stringify({ ...event, note: 'quote " bracket ] backslash \\ – Straße ✓' }),
      severity: syslogSeverity(event),
    }),
  );
  return events;
}
