// Syslog: RFC 5424 messages, octet-counted (RFC 6587 section 3.4.1) over TCP, or over TLS
// (RFC 5425 uses the same framing). One persistent connection, opened again after any error.
//
// Plain syslog has no application acknowledgement: a batch counts as delivered once it is written
// and the socket has handed it to the kernel. If the connection drops right after that, what the
// kernel still held is lost without anyone knowing; the mitigation is that every error makes the
// deliverer resend the whole batch, and that receivers can drop repeats by the event id carried in
// the structured data. A receiver that needs more should take events over HEC, HTTPS or NATS.

import { isIP, connect as netConnect, type Socket } from "node:net";
import { hostname as osHostname } from "node:os";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { type Static, Type } from "@clearance/options";
import { DeliveryError, type OutgoingEvent, type Transport } from "../transport.js";
import { at, Nullable, PemSource, readPem, resolveTransportOptions, Section } from "./options.js";
import { abortMessage, Serial } from "./serial.js";

/** RFC 5424 section 6.2.1's facilities, by their usual names. */
export const SYSLOG_FACILITIES = Object.freeze({
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  ntp: 12,
  audit: 13,
  alert: 14,
  clock: 15,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const);
export type SyslogFacility = keyof typeof SYSLOG_FACILITIES;

/**
 * The IANA private enterprise number RFC 5612 reserves for documentation. Clearance has no number
 * of its own, so this is only the default: an organisation with its own PEN should set it.
 */
export const DOCUMENTATION_ENTERPRISE_NUMBER = 32473;

// RFC 5424 section 6: header fields are PRINTUSASCII (33-126), of bounded length.
const PRINTUSASCII = "^[!-~]+$";

export const SyslogTlsOptionsSchema = Section({
  /** CA certificates to trust (PEM text or file); null trusts Node's bundled CAs */
  ca: Nullable(PemSource),
  /** a client certificate for receivers that require one (PEM text or file) */
  cert: Nullable(PemSource),
  key: Nullable(PemSource),
  /** the name the receiver's certificate must carry; null takes `host` */
  servername: Nullable(Type.String({ minLength: 1 })),
  rejectUnauthorized: Type.Boolean({ default: true }),
});

export const SyslogTransportOptionsSchema = Section({
  type: Type.Literal("syslog"),
  host: Type.String({ minLength: 1 }),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  /** null sends plain TCP; an object sends TLS (RFC 5425) */
  tls: Nullable(SyslogTlsOptionsSchema),
  facility: Type.Enum(Object.keys(SYSLOG_FACILITIES) as SyslogFacility[], { default: "local0" }),
  /** HOSTNAME; null takes this machine's name */
  hostname: Nullable(Type.String({ pattern: PRINTUSASCII, maxLength: 255 })),
  appName: Type.String({ pattern: PRINTUSASCII, maxLength: 48, default: "clearance" }),
  /** PROCID; null takes the process id */
  procId: Nullable(Type.String({ pattern: PRINTUSASCII, maxLength: 128 })),
  /** the number after `@` in the structured data's SD-ID `clearance@<n>` */
  enterpriseNumber: Type.Integer({ minimum: 1, default: DOCUMENTATION_ENTERPRISE_NUMBER }),
  /** start MSG with a UTF-8 byte order mark, as RFC 5424 section 6.4 allows */
  bom: Type.Boolean({ default: false }),
  connectTimeoutMs: Type.Integer({ minimum: 1, default: 10_000 }),
  writeTimeoutMs: Type.Integer({ minimum: 1, default: 30_000 }),
});

export type SyslogTransportOptions = Static<typeof SyslogTransportOptionsSchema>;

export function parseSyslogTransportOptions(
  value: unknown,
  path: string,
): Readonly<SyslogTransportOptions> {
  const options = resolveTransportOptions(SyslogTransportOptionsSchema, value, path);
  if (options.tls !== null && (options.tls.cert === null) !== (options.tls.key === null))
    throw new TypeError(
      `keys \`${at(path, "tls.cert")}\` and \`${at(path, "tls.key")}\` go together: give both or neither`,
    );
  return options;
}

/** `hostname()` made a valid HOSTNAME: PRINTUSASCII, at most 255 characters. */
function machineName(): string {
  return (
    osHostname()
      .replace(/[^!-~]/g, "-")
      .slice(0, 255) || "-"
  );
}

/** How long a TLS 1.3 connection waits for the receiver to accept or refuse the client. */
const TLS13_CONFIRM_MS = 500;

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;
const MSGID = /^[!-~]{1,32}$/;

/** A PARAM-VALUE (RFC 5424 section 6.3.3): `"`, `\` and `]` escaped with a backslash. */
function paramValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

export interface SyslogHeader {
  facility: number;
  hostname: string;
  appName: string;
  procId: string;
  sdId: string;
  bom: boolean;
}

/**
 * One event as an RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`,
 * PRI = facility * 8 + severity, MSGID the event kind, the event id in the structured data.
 */
export function syslogMessage(event: OutgoingEvent, header: SyslogHeader): Buffer {
  if (!RFC3339.test(event.time))
    throw new DeliveryError(
      `event ${event.id}: time \`${event.time}\` is not an RFC 3339 timestamp with at most 6 fraction digits (RFC 5424 TIMESTAMP)`,
      false,
    );
  if (!MSGID.test(event.kind))
    throw new DeliveryError(
      `event ${event.id}: kind \`${event.kind}\` is not a valid MSGID (1-32 printable US-ASCII characters)`,
      false,
    );
  const pri = header.facility * 8 + event.severity;
  const head = `<${pri}>1 ${event.time} ${header.hostname} ${header.appName} ${header.procId} ${event.kind} [${header.sdId} id="${paramValue(event.id)}"] `;
  const bom = header.bom ? Buffer.from([0xef, 0xbb, 0xbf]) : Buffer.alloc(0);
  return Buffer.concat([Buffer.from(head, "utf8"), bom, Buffer.from(event.body, "utf8")]);
}

/** RFC 6587 section 3.4.1: `MSG-LEN SP SYSLOG-MSG`, the length in octets. */
export function octetCounted(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `, "ascii"), message]);
}

/** A connection unused this long counts as idle: its next write waits `IDLE_CHECK_MS` for a reset. */
const IDLE_AFTER_MS = 200;
/** Long enough for a reset to come back from a receiver on the same network. */
const IDLE_CHECK_MS = 50;

export function createSyslogTransport(input: SyslogTransportOptions): Transport {
  const options = parseSyslogTransportOptions(input, "");
  const tls = options.tls;
  const tlsMaterial =
    tls === null
      ? null
      : {
          ca: tls.ca === null ? undefined : readPem(tls.ca, "tls.ca"),
          cert: tls.cert === null ? undefined : readPem(tls.cert, "tls.cert"),
          key: tls.key === null ? undefined : readPem(tls.key, "tls.key"),
        };
  const header: SyslogHeader = {
    facility: SYSLOG_FACILITIES[options.facility],
    hostname: options.hostname ?? machineName(),
    appName: options.appName,
    procId: options.procId ?? String(process.pid),
    sdId: `clearance@${options.enterpriseNumber}`,
    bom: options.bom,
  };
  const target = `${tls === null ? "tcp" : "tls"}://${options.host.includes(":") ? `[${options.host}]` : options.host}:${options.port}`;
  const serial = new Serial();
  let socket: Socket | null = null;
  let closed = false;
  /** when the last batch was written on `socket` */
  let lastWrite = 0;

  const drop = (s: Socket) => {
    if (socket === s) socket = null;
    s.destroy();
  };

  function open(signal: AbortSignal): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      const s =
        tls === null || tlsMaterial === null
          ? netConnect({ host: options.host, port: options.port })
          : tlsConnect({
              host: options.host,
              port: options.port,
              ca: tlsMaterial.ca,
              cert: tlsMaterial.cert,
              key: tlsMaterial.key,
              // SNI takes names only (RFC 6066): an address is checked against the certificate
              // without it
              ...(tls.servername !== null
                ? { servername: tls.servername }
                : isIP(options.host) === 0
                  ? { servername: options.host }
                  : {}),
              rejectUnauthorized: tls.rejectUnauthorized,
            });
      const fail = (error: Error) => {
        cleanup();
        // a late error from the dying socket must find a listener, or it would crash the process
        s.on("error", () => undefined);
        s.destroy();
        reject(
          new DeliveryError(`syslog ${target}: connect failed: ${error.message}`, true, {
            cause: error,
          }),
        );
      };
      const timer = setTimeout(
        () => fail(new Error(`no connection within ${options.connectTimeoutMs} ms`)),
        options.connectTimeoutMs,
      );
      const onAbort = () => fail(new Error(abortMessage(signal)));
      let confirmWait: NodeJS.Timeout | undefined;
      const ready = () => {
        cleanup();
        // the receiver closing or resetting the connection marks it dead: the next send reconnects
        s.on("error", () => drop(s));
        s.on("close", () => drop(s));
        s.on("end", () => drop(s));
        // a receiver never talks back on this connection; anything it sends is ignored
        s.on("data", () => undefined);
        resolve(s);
      };
      const confirmed = () => {
        // In TLS 1.3 the client's handshake ends before the server has checked the client's
        // certificate: a receiver that refuses it says so only afterwards, and every write would
        // "succeed" into a connection it is closing. So wait for the server's word: a session
        // ticket (sent once it accepted us), or a short while without an alert or a close.
        const socket = s as TLSSocket;
        if (socket.getProtocol?.() !== "TLSv1.3") return ready();
        socket.on("data", () => undefined);
        const refused = () =>
          fail(
            new Error(
              "the receiver closed the connection right after the TLS handshake (does it require a client certificate, or refuse this one?)",
            ),
          );
        const accept = () => {
          socket.off("session", accept);
          socket.off("close", refused);
          socket.off("end", refused);
          ready();
        };
        confirmWait = setTimeout(accept, TLS13_CONFIRM_MS);
        socket.once("session", accept);
        socket.once("close", refused);
        socket.once("end", refused);
      };
      const cleanup = () => {
        clearTimeout(timer);
        clearTimeout(confirmWait);
        signal.removeEventListener("abort", onAbort);
        s.off("error", fail);
        s.off(tls === null ? "connect" : "secureConnect", tls === null ? ready : confirmed);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      s.once("error", fail);
      if (tls === null) s.once("connect", ready);
      else s.once("secureConnect", confirmed);
    });
  }

  /**
   * Writes a batch. After writing on a connection that sat idle, it waits `IDLE_CHECK_MS` for the
   * receiver to reset it: a receiver that went away while the connection was quiet takes the
   * first write into the kernel and answers it with a reset, and that batch would be lost while
   * counted as sent. On a busy connection a reset fails the next write instead, which is resent.
   */
  function write(s: Socket, data: Buffer, signal: AbortSignal, idle: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => {
        cleanup();
        drop(s);
        reject(
          new DeliveryError(`syslog ${target}: write failed: ${error.message}`, true, {
            cause: error,
          }),
        );
      };
      const timer = setTimeout(
        () => fail(new Error(`not written within ${options.writeTimeoutMs} ms`)),
        options.writeTimeoutMs,
      );
      const onAbort = () => fail(new Error(abortMessage(signal)));
      const onClose = () => fail(new Error("connection closed by the receiver"));
      const cleanup = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        s.off("error", fail);
        s.off("close", onClose);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      s.once("error", fail);
      s.once("close", onClose);
      // the callback runs once the data has left Node's buffers for the kernel's
      s.write(data, (error) => {
        if (error) fail(error);
        else if (idle)
          // after the wait, one more turn for I/O: a busy event loop runs a due timer before the
          // socket events that arrived meanwhile (the reset), and `setImmediate` runs after them
          setTimeout(
            () =>
              setImmediate(() => {
                if (s.destroyed) return; // `close` or `error` failed it
                cleanup();
                resolve();
              }),
            IDLE_CHECK_MS,
          );
        else {
          cleanup();
          resolve();
        }
      });
    });
  }

  return {
    type: "syslog",
    target,
    send(batch, signal) {
      return serial.run(async () => {
        if (closed) throw new DeliveryError(`syslog ${target}: transport is closed`, true);
        if (signal.aborted)
          throw new DeliveryError(`syslog ${target}: ${abortMessage(signal)}`, true);
        if (batch.length === 0) return;
        const data = Buffer.concat(
          batch.map((event) => octetCounted(syslogMessage(event, header))),
        );
        // a connection kept from an earlier batch: let the events already received for it (the
        // receiver's end of it) run first, so a connection it closed is not written to
        if (socket !== null) await new Promise((resolve) => setImmediate(resolve));
        let idle = socket !== null && Date.now() - lastWrite > IDLE_AFTER_MS;
        if (socket === null || socket.destroyed || !socket.writable) {
          if (socket !== null) drop(socket);
          socket = await open(signal);
          idle = false;
        }
        await write(socket, data, signal, idle);
        lastWrite = Date.now();
      });
    },
    async close() {
      closed = true;
      await serial.run(async () => {
        const s = socket;
        socket = null;
        if (s === null || s.destroyed) return;
        await new Promise<void>((resolve) => {
          s.once("close", () => resolve());
          s.end();
          setTimeout(() => s.destroy(), 1000).unref();
        });
      });
    },
  };
}
