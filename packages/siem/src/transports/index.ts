// The transports, chosen by `type`: options as one discriminated union, read from a configuration
// file by `parseTransportOptions`, turned into a Transport by `createTransport`.

import { showValue } from "@clearance/options";
import type { Transport } from "../transport.js";
import {
  createFileTransport,
  type FileTransportOptions,
  parseFileTransportOptions,
} from "./file.js";
import {
  createHttpsTransport,
  type HttpsTransportOptions,
  parseHttpsTransportOptions,
} from "./https.js";
import {
  createNatsTransport,
  type NatsTransportOptions,
  parseNatsTransportOptions,
} from "./nats.js";
import { at } from "./options.js";
import {
  createSplunkHecTransport,
  parseSplunkHecTransportOptions,
  type SplunkHecTransportOptions,
} from "./splunk-hec.js";
import {
  createSyslogTransport,
  parseSyslogTransportOptions,
  type SyslogTransportOptions,
} from "./syslog.js";

export type TransportOptions =
  | SyslogTransportOptions
  | SplunkHecTransportOptions
  | HttpsTransportOptions
  | NatsTransportOptions
  | FileTransportOptions;

export type TransportType = TransportOptions["type"];

const PARSERS = Object.freeze({
  syslog: parseSyslogTransportOptions,
  "splunk-hec": parseSplunkHecTransportOptions,
  https: parseHttpsTransportOptions,
  nats: parseNatsTransportOptions,
  file: parseFileTransportOptions,
} satisfies Record<TransportType, (value: unknown, path: string) => TransportOptions>);

export const TRANSPORT_TYPES = Object.freeze(Object.keys(PARSERS) as TransportType[]);

/**
 * Validates one sink's transport options as read from a configuration file: defaults filled in,
 * the result frozen. Throws a TypeError naming each problem by its key path under `path`.
 */
export function parseTransportOptions(value: unknown, path: string): Readonly<TransportOptions> {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new TypeError(`key \`${path || "(root)"}\` must be an object, got ${showValue(value)}`);
  const type = (value as { type?: unknown }).type;
  if (type === undefined)
    throw new TypeError(
      `key \`${at(path, "type")}\` is required (one of ${TRANSPORT_TYPES.join(", ")})`,
    );
  if (typeof type !== "string" || !Object.hasOwn(PARSERS, type))
    throw new TypeError(
      `key \`${at(path, "type")}\` must be one of ${TRANSPORT_TYPES.map((t) => `\`${t}\``).join(", ")}, got ${showValue(type)}`,
    );
  return PARSERS[type as TransportType](value, path);
}

/** The transport the options describe; the options are checked again (they may come from code). */
export function createTransport(options: TransportOptions): Transport {
  switch (options.type) {
    case "syslog":
      return createSyslogTransport(options);
    case "splunk-hec":
      return createSplunkHecTransport(options);
    case "https":
      return createHttpsTransport(options);
    case "nats":
      return createNatsTransport(options);
    case "file":
      return createFileTransport(options);
    default:
      throw new TypeError(
        `key \`type\` must be one of ${TRANSPORT_TYPES.map((t) => `\`${t}\``).join(", ")}, got ${showValue((options as { type?: unknown }).type)}`,
      );
  }
}

export type { NatsTransport } from "./nats.js";
export {
  DOCUMENTATION_ENTERPRISE_NUMBER,
  SYSLOG_FACILITIES,
  type SyslogFacility,
} from "./syslog.js";
export {
  createFileTransport,
  createHttpsTransport,
  createNatsTransport,
  createSplunkHecTransport,
  createSyslogTransport,
  type FileTransportOptions,
  type HttpsTransportOptions,
  type NatsTransportOptions,
  type SplunkHecTransportOptions,
  type SyslogTransportOptions,
};
