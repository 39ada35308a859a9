// What the transport tests share: events to send, a test PKI made with the openssl CLI, free
// ports, and the rule for tests that need a real service (skip when it is absent, unless
// CLEARANCE_TEST_SIEM=1 says it must be there).

import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import {
  type AddressInfo,
  createServer,
  connect as netConnect,
  type Server,
  type Socket,
} from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { type OutgoingEvent, sampleEvents, syslogSeverity } from "../../src/index.js";

const run = promisify(execFile);

/** Whether tests must find their services (CI) rather than skip without them. */
export const SERVICES_REQUIRED = process.env.CLEARANCE_TEST_SIEM === "1";

/**
 * Why a service test cannot run, or null when it can. With CLEARANCE_TEST_SIEM=1 a missing
 * service is an error, so CI cannot pass by skipping.
 */
export function serviceMissing(reason: string | null): string | null {
  if (reason !== null && SERVICES_REQUIRED) throw new Error(`CLEARANCE_TEST_SIEM=1 but ${reason}`);
  return reason;
}

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

/** A port nothing listens on right now (the OS's pick of a free one). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address !== null
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

/** Whether something accepts TCP connections on host:port. */
export function listening(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    socket.setTimeout(1000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Polls `check` until it holds or `ms` pass; the last value either way. */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  done: (value: T) => boolean,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface TestPki {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A CA, a server certificate for localhost / 127.0.0.1 and a client certificate, in `dir`. */
export async function makeTestPki(dir: string): Promise<TestPki> {
  const path = (name: string) => join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run("openssl", [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    path("ca.key"),
    "-out",
    path("ca.pem"),
    "-days",
    "2",
    "-subj",
    "/CN=Clearance Test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const leaf = async (name: string, cn: string, extensions: string) => {
    await writeFile(path(`${name}.ext`), extensions);
    await run("openssl", [
      "req",
      ...ec,
      "-keyout",
      path(`${name}.key`),
      "-out",
      path(`${name}.csr`),
      "-subj",
      `/CN=${cn}`,
    ]);
    await run("openssl", [
      "x509",
      "-req",
      "-in",
      path(`${name}.csr`),
      "-CA",
      path("ca.pem"),
      "-CAkey",
      path("ca.key"),
      "-CAcreateserial",
      "-out",
      path(`${name}.pem`),
      "-days",
      "2",
      "-extfile",
      path(`${name}.ext`),
    ]);
  };
  await leaf(
    "server",
    "localhost",
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
  );
  await leaf(
    "client",
    "clearance-client",
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
  );
  return {
    caCert: path("ca.pem"),
    serverCert: path("server.pem"),
    serverKey: path("server.key"),
    clientCert: path("client.pem"),
    clientKey: path("client.key"),
  };
}

/** Whether the openssl CLI runs. */
export async function opensslMissing(): Promise<string | null> {
  try {
    await run("openssl", ["version"]);
    return null;
  } catch {
    return "the openssl CLI is not available";
  }
}

/** A signal that never aborts, for sends the test does not cancel. */
export const NEVER = new AbortController().signal;

/**
 * A TCP relay to a real service that the test can take down and bring back on the same port,
 * for a receiver that is unreachable for a while without stopping the shared service itself.
 */
export class TcpRelay {
  #server: Server | null = null;
  #sockets = new Set<Socket>();
  port = 0;
  constructor(readonly targetPort: number) {}

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = netConnect({ host: "127.0.0.1", port: this.targetPort });
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on("close", () => this.#sockets.delete(s));
        s.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Refuses new connections and cuts the open ones. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const s of this.#sockets) s.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}
