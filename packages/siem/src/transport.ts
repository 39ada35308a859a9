// What a transport is: something that carries rendered events to a receiver and says when the
// receiver has them. The deliverer (the server's `siem.ts`) owns order, retries, batching and the
// dead-letter; a transport only sends one batch and tells success from failure.

import type { SiemEventKind } from "./event.js";

/** Syslog severities (RFC 5424 section 6.2.1): 0 emergency ... 7 debug. */
export type SyslogSeverity = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;

/** One event as a transport sends it: rendered in the sink's format, with what framing needs. */
export interface OutgoingEvent {
  /** the event's id: receivers drop duplicates by it (JetStream `Nats-Msg-Id`, HEC fields, ...) */
  readonly id: string;
  readonly kind: SiemEventKind;
  /** RFC 3339 UTC */
  readonly time: string;
  /** one line in the sink's format (JSON or CEF), without a line break */
  readonly body: string;
  /** for syslog's PRI and for transports that carry a severity */
  readonly severity: SyslogSeverity;
}

export interface Transport {
  /** `syslog`, `splunk-hec`, `https`, `nats`, `file` */
  readonly type: string;
  /** where it sends, for messages and metrics labels: `tcp://127.0.0.1:6514`, a URL, a directory */
  readonly target: string;
  /**
   * Sends the batch, in order, and resolves once the receiver has acknowledged every event of it
   * (a JetStream ack, a HEC ack, a 2xx, a written and synced file, a flushed socket). Throws
   * `DeliveryError` otherwise; whatever part of the batch may have arrived will be sent again.
   */
  send(batch: readonly OutgoingEvent[], signal: AbortSignal): Promise<void>;
  /** closes connections and files; the transport is not used afterwards */
  close(): Promise<void>;
}

/**
 * A batch the receiver did not take. `retryable` false means sending the same events again cannot
 * succeed. Then `sinkWide` tells why: true when the receiver refuses this sink whatever it sends
 * (a refused token or password, a missing stream, a wrong URL), which only its operator can fix,
 * so the deliverer keeps the events and retries with backoff; false when it refused these events
 * (a malformed event, a 400), so the deliverer isolates the events that fail and dead-letters
 * them. `retryable` true means later may work (refused connection, timeout, 5xx, 429).
 */
export class DeliveryError extends Error {
  override name = "DeliveryError";
  readonly sinkWide: boolean;
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown; sinkWide?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.sinkWide = !retryable && options?.sinkWide === true;
  }
}
