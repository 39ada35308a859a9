// HTTPS NDJSON: one POST per batch, each event's body on its own line. A 2xx means the receiver
// has taken the whole batch; 408, 429, 5xx and network errors may pass later; any other status
// will not, however often the same events are sent.

import { type Static, Type } from "@clearance/options";
import { DeliveryError, type Transport } from "../transport.js";
import { createHttpClient, excerpt, statusRefusal } from "./http-client.js";
import {
  at,
  checkHttpUrl,
  Nullable,
  PemSource,
  readPem,
  resolveTransportOptions,
  Section,
} from "./options.js";

export const HttpsTransportOptionsSchema = Section({
  type: Type.Literal("https"),
  /** https://, or http:// to a loopback address */
  url: Type.String({ minLength: 1 }),
  /** sent with every request (`Authorization`, ...); values are secrets and never shown */
  headers: Type.Object({}, { additionalProperties: Type.String(), default: {} }),
  /** CA certificates to trust (PEM text or file); null trusts Node's bundled CAs */
  ca: Nullable(PemSource),
  /** for the whole request, connection to response body */
  timeoutMs: Type.Integer({ minimum: 1, default: 30_000 }),
});

export type HttpsTransportOptions = Static<typeof HttpsTransportOptionsSchema>;

// RFC 9110 token characters: what a header name may be made of.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// headers this transport sets itself: the body's framing is not configurable
const OWN_HEADERS = new Set(["content-type", "content-length", "transfer-encoding", "host"]);

export function parseHttpsTransportOptions(
  value: unknown,
  path: string,
): Readonly<HttpsTransportOptions> {
  const options = resolveTransportOptions(HttpsTransportOptionsSchema, value, path);
  checkHttpUrl(options.url, at(path, "url"));
  for (const [name, headerValue] of Object.entries(options.headers)) {
    const key = at(path, `headers.${name}`);
    if (!HEADER_NAME.test(name)) throw new TypeError(`key \`${key}\` is not a valid header name`);
    if (OWN_HEADERS.has(name.toLowerCase()))
      throw new TypeError(`key \`${key}\`: the transport sets ${name} itself`);
    if (typeof headerValue !== "string" || /[\r\n\0]/.test(headerValue))
      throw new TypeError(`key \`${key}\` must be a string without line breaks (value withheld)`);
  }
  return options;
}

export function createHttpsTransport(input: HttpsTransportOptions): Transport {
  const options = parseHttpsTransportOptions(input, "");
  const url = checkHttpUrl(options.url, "url");
  const target = `${url.origin}${url.pathname}`;
  const client = createHttpClient({
    ca: options.ca === null ? null : readPem(options.ca, "ca"),
    timeoutMs: options.timeoutMs,
    name: `https ${target}`,
  });
  const headers = { ...options.headers, "content-type": "application/x-ndjson" };
  return {
    type: "https",
    target,
    async send(batch, signal) {
      if (batch.length === 0) return;
      const body = batch.map((event) => `${event.body}\n`).join("");
      const reply = await client.post(url, headers, body, signal);
      if (reply.status >= 200 && reply.status < 300) return;
      const { retryable, sinkWide } = statusRefusal(reply.status);
      throw new DeliveryError(
        `https ${target}: the receiver answered ${reply.status}${reply.body ? `: ${excerpt(reply.body)}` : ""}`,
        retryable,
        { sinkWide },
      );
    },
    close: () => client.close(),
  };
}
