// Splunk's HTTP Event Collector: one POST of concatenated event objects to
// /services/collector/event. Without indexer acknowledgement a 200 with code 0 is the receipt
// (HEC has parsed the events; they may still be lost before indexing). With `ack: true` the
// request carries a channel, HEC answers with an `ackId`, and the batch counts as delivered only
// once /services/collector/ack reports that id indexed.

import { randomUUID } from "node:crypto";
import { hostname as osHostname } from "node:os";
import { type Static, Type } from "@clearance/options";
import { DeliveryError, type OutgoingEvent, type Transport } from "../transport.js";
import { createHttpClient, excerpt, type HttpReply, statusRefusal } from "./http-client.js";
import {
  at,
  checkHttpUrl,
  Nullable,
  PemSource,
  readPem,
  resolveTransportOptions,
  Section,
} from "./options.js";
import { abortMessage, pause } from "./serial.js";

export const SplunkHecTransportOptionsSchema = Section({
  type: Type.Literal("splunk-hec"),
  /** the collector's base URL (`https://splunk.example:8088`); the API paths are appended */
  url: Type.String({ minLength: 1 }),
  /** the HEC token; a secret, never shown in messages */
  token: Type.String({ minLength: 1 }),
  /** the events' `host`; null takes this machine's name */
  host: Nullable(Type.String({ minLength: 1 })),
  source: Type.String({ minLength: 1, default: "clearance" }),
  sourcetype: Type.String({ minLength: 1, default: "clearance:event" }),
  /** null leaves the index to the token's default */
  index: Nullable(Type.String({ minLength: 1 })),
  /** wait for indexer acknowledgement (the token must have it enabled) */
  ack: Type.Boolean({ default: false }),
  /** how long to wait for the acknowledgement before the batch counts as failed */
  ackTimeoutMs: Type.Integer({ minimum: 1, default: 120_000 }),
  /** how often to ask for it */
  ackPollIntervalMs: Type.Integer({ minimum: 1, default: 1_000 }),
  /** CA certificates to trust (PEM text or file); null trusts Node's bundled CAs */
  ca: Nullable(PemSource),
  /** for each request */
  timeoutMs: Type.Integer({ minimum: 1, default: 30_000 }),
});

export type SplunkHecTransportOptions = Static<typeof SplunkHecTransportOptionsSchema>;

export function parseSplunkHecTransportOptions(
  value: unknown,
  path: string,
): Readonly<SplunkHecTransportOptions> {
  const options = resolveTransportOptions(SplunkHecTransportOptionsSchema, value, path);
  checkHttpUrl(options.url, at(path, "url"));
  if (/[\r\n\0]/.test(options.token))
    throw new TypeError(
      `key \`${at(path, "token")}\` must not contain line breaks (value withheld)`,
    );
  return options;
}

/**
 * HEC's status codes (Splunk's "Troubleshoot HTTP Event Collector" table) that will fail again the
 * same way: token disabled (1), token required (2), invalid authorization (3), invalid token (4),
 * no data (5), invalid data format (6), incorrect index (7), event field required (12) or blank
 * (13), ack disabled (14), indexed fields (15), query-string auth disabled (16).
 */
const FINAL_CODES = new Set([1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15, 16]);
/**
 * Of those, the ones that refuse the sink whatever it sends: token disabled (1), required (2),
 * invalid authorization (3), invalid token (4), incorrect index (7), acknowledgement off (14),
 * query-string authorization off (16). The others (no data, invalid data format, event field
 * missing or blank, indexed-field errors) refuse the events.
 */
const SINK_WIDE_CODES = new Set([1, 2, 3, 4, 7, 14, 16]);
/** internal error (8), server busy (9), unhealthy (18): later may work */
const RETRYABLE_CODES = new Set([8, 9, 18]);
/** data channel missing (10) or invalid (11): HEC forgot the channel; a new one will do */
const CHANNEL_CODES = new Set([10, 11]);

interface HecAnswer {
  text?: unknown;
  code?: unknown;
  ackId?: unknown;
  acks?: unknown;
}

function parseAnswer(body: string): HecAnswer {
  try {
    const value: unknown = JSON.parse(body);
    return value !== null && typeof value === "object" ? (value as HecAnswer) : {};
  } catch {
    return {};
  }
}

/** A body that is a JSON object goes as JSON, so Splunk extracts its fields; CEF as a string. */
function eventValue(body: string): unknown {
  if (!body.startsWith("{")) return body;
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

export function createSplunkHecTransport(input: SplunkHecTransportOptions): Transport {
  const options = parseSplunkHecTransportOptions(input, "");
  const base = checkHttpUrl(options.url, "url");
  const basePath = base.pathname.replace(/\/+$/, "");
  const eventUrl = new URL(`${basePath}/services/collector/event`, base);
  const ackUrl = new URL(`${basePath}/services/collector/ack`, base);
  const target = `${base.origin}${basePath}`;
  const name = `splunk-hec ${target}`;
  const host = options.host ?? osHostname();
  const client = createHttpClient({
    ca: options.ca === null ? null : readPem(options.ca, "ca"),
    timeoutMs: options.timeoutMs,
    name,
  });
  // one channel per transport: HEC keys acknowledgement ids by channel
  let channel = randomUUID();

  const headers = (): Record<string, string> => ({
    authorization: `Splunk ${options.token}`,
    "content-type": "application/json",
    ...(options.ack ? { "x-splunk-request-channel": channel } : {}),
  });

  function hecEvent(event: OutgoingEvent): string {
    const ms = Date.parse(event.time);
    if (Number.isNaN(ms))
      throw new DeliveryError(
        `${name}: event ${event.id} has no valid time (\`${event.time}\`)`,
        false,
      );
    return JSON.stringify({
      // epoch seconds with milliseconds, as HEC's `time` takes them
      time: ms / 1000,
      host,
      source: options.source,
      sourcetype: options.sourcetype,
      ...(options.index === null ? {} : { index: options.index }),
      event: eventValue(event.body),
      fields: { event_id: event.id },
    });
  }

  /** An error for an answer other than success, its retry class from HEC's code or the status. */
  function refusal(reply: HttpReply, answer: HecAnswer, what: string): DeliveryError {
    const code = typeof answer.code === "number" ? answer.code : null;
    const text = typeof answer.text === "string" ? answer.text : excerpt(reply.body);
    const said = `${what}: HEC answered ${reply.status}${code === null ? "" : ` code ${code}`}${text ? ` (${text})` : ""}`;
    if (code !== null && CHANNEL_CODES.has(code)) {
      channel = randomUUID();
      return new DeliveryError(`${said}; a new channel will be used`, true);
    }
    if (code === 14)
      return new DeliveryError(
        `${said}; the token has indexer acknowledgement off: turn it on for the token or set \`ack\` to false`,
        false,
        { sinkWide: true },
      );
    if (code !== null && FINAL_CODES.has(code))
      return new DeliveryError(said, false, { sinkWide: SINK_WIDE_CODES.has(code) });
    if (code !== null && RETRYABLE_CODES.has(code)) return new DeliveryError(said, true);
    const { retryable, sinkWide } = statusRefusal(reply.status);
    return new DeliveryError(said, retryable, { sinkWide });
  }

  async function awaitAck(ackId: number, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + options.ackTimeoutMs;
    const body = JSON.stringify({ acks: [ackId] });
    for (;;) {
      if (signal.aborted)
        throw new DeliveryError(`${name}: waiting for ack ${ackId}: ${abortMessage(signal)}`, true);
      const reply = await client.post(ackUrl, headers(), body, signal);
      const answer = parseAnswer(reply.body);
      if (reply.status !== 200) throw refusal(reply, answer, `${name}: ack ${ackId}`);
      const acks = answer.acks as Record<string, unknown> | undefined;
      if (acks?.[String(ackId)] === true) return;
      const left = deadline - Date.now();
      if (left <= 0)
        // HEC drops no duplicates itself: a resend is found again by fields.event_id
        throw new DeliveryError(
          `${name}: ack ${ackId} not reported indexed within ${options.ackTimeoutMs} ms; the batch will be sent again`,
          true,
        );
      await pause(Math.min(options.ackPollIntervalMs, left), signal);
    }
  }

  return {
    type: "splunk-hec",
    target,
    async send(batch, signal) {
      if (batch.length === 0) return;
      const body = batch.map(hecEvent).join("\n");
      const reply = await client.post(eventUrl, headers(), body, signal);
      const answer = parseAnswer(reply.body);
      if (reply.status !== 200 || answer.code !== 0) throw refusal(reply, answer, name);
      if (!options.ack) return;
      if (typeof answer.ackId !== "number")
        throw new DeliveryError(
          `${name}: HEC accepted the batch without an ackId; the token may have indexer acknowledgement off (set \`ack\` to false, or turn it on)`,
          false,
        );
      await awaitAck(answer.ackId, signal);
    },
    close: () => client.close(),
  };
}
