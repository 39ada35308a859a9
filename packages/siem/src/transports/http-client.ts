// One HTTP client for the HTTP transports (Splunk HEC, HTTPS NDJSON): undici with an own agent, so
// a private CA applies to this sink only, and with a deadline for the whole exchange. What a
// status means is each transport's business; a network failure is always worth retrying.

import { Agent, request } from "undici";
import { DeliveryError } from "../transport.js";
import { abortMessage } from "./serial.js";

export interface HttpReply {
  status: number;
  body: string;
}

export interface HttpClient {
  post(
    url: URL,
    headers: Readonly<Record<string, string>>,
    body: string,
    signal: AbortSignal,
  ): Promise<HttpReply>;
  close(): Promise<void>;
}

export function createHttpClient(settings: {
  ca: string | null;
  timeoutMs: number;
  /** names the sink in errors: `splunk-hec https://...` */
  name: string;
}): HttpClient {
  const agent = new Agent({
    connect: settings.ca === null ? {} : { ca: settings.ca },
    headersTimeout: settings.timeoutMs,
    bodyTimeout: settings.timeoutMs,
    connectTimeout: settings.timeoutMs,
  });
  return {
    async post(url, headers, body, signal) {
      const deadline = AbortSignal.timeout(settings.timeoutMs);
      const both = AbortSignal.any([signal, deadline]);
      try {
        const reply = await request(url, {
          method: "POST",
          headers: { ...headers },
          body,
          dispatcher: agent,
          signal: both,
        });
        return { status: reply.statusCode, body: await reply.body.text() };
      } catch (error) {
        const why = deadline.aborted
          ? `no answer within ${settings.timeoutMs} ms`
          : signal.aborted
            ? abortMessage(signal)
            : (error as Error).message;
        // the URL is named without its query: a query may carry a token
        throw new DeliveryError(
          `${settings.name}: POST ${url.origin}${url.pathname} failed: ${why}`,
          true,
          {
            cause: error,
          },
        );
      }
    },
    close: () => agent.close(),
  };
}

/** An HTTP status's retry class: 408, 429 and 5xx may pass later; other 4xx will not. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * A 4xx that refuses the sink rather than its events: credentials (401, 403, 407), a wrong URL or
 * method (404, 405, 410), a content type the receiver does not take (415).
 */
const SINK_WIDE_STATUSES = new Set([401, 403, 404, 405, 407, 410, 415]);

/** The refusal class of an HTTP status, as `DeliveryError` takes it. */
export function statusRefusal(status: number): { retryable: boolean; sinkWide: boolean } {
  return { retryable: retryableStatus(status), sinkWide: SINK_WIDE_STATUSES.has(status) };
}

/** The start of a response body for an error message, on one line. */
export function excerpt(body: string): string {
  const line = body.replace(/\s+/g, " ").trim();
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}
