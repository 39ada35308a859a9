// Real services for the SIEM tests (packages/siem's transport tests, the server's end-to-end
// delivery tests): free ports, a TCP relay to take a receiver away and bring it back, a test PKI
// made with the openssl CLI, and Debian's rsyslogd started with a generated configuration. A test
// that needs a service skips when it is absent, unless CLEARANCE_TEST_SIEM=1 (CI) says it must
// be there.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { access, readFile, writeFile } from "node:fs/promises";
import {
  type AddressInfo,
  createServer,
  connect as netConnect,
  type Server,
  type Socket,
} from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const RSYSLOGD = "/usr/sbin/rsyslogd";

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
  /** how long each piece of the service's answers is held back: a slow receiver */
  answerDelayMs = 0;
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
      // in order, each piece after the delay (timers of equal delay fire in the order set)
      upstream.on("data", (chunk) => {
        if (this.answerDelayMs === 0) client.write(chunk);
        else setTimeout(() => client.writable && client.write(chunk), this.answerDelayMs);
      });
      upstream.on("end", () => client.end());
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

// ---------------------------------------------------------------------------------------------
// rsyslogd

/** Why rsyslogd (with TLS) cannot run here, or null. */
export async function rsyslogMissing(): Promise<string | null> {
  try {
    await access(RSYSLOGD);
  } catch {
    return `${RSYSLOGD} is not installed (apt-get install rsyslog rsyslog-gnutls)`;
  }
  return opensslMissing();
}

/** A message as rsyslog parsed it (RFC 5424 fields). */
export interface Received {
  severity: string;
  facility: string;
  protocol: string;
  timestamp: string;
  hostname: string;
  appname: string;
  procid: string;
  msgid: string;
  sd: string;
  msg: string;
}

/** One rsyslogd, its configuration generated: one listener, every message to `out` as JSON. */
export class Rsyslog {
  process: ChildProcess | null = null;
  log = "";
  constructor(
    readonly dir: string,
    readonly port: number,
    readonly tls: TestPki | null,
  ) {}

  get out(): string {
    return join(this.dir, "received.ndjson");
  }

  config(): string {
    const tls = this.tls;
    const global = tls
      ? ` DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="${tls.caCert}" DefaultNetstreamDriverCertFile="${tls.serverCert}" DefaultNetstreamDriverKeyFile="${tls.serverKey}"`
      : "";
    const module = tls
      ? `module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="x509/certvalid")`
      : `module(load="imtcp")`;
    const field = (out: string, name: string, extra = "") =>
      `  property(outname="${out}" name="${name}" format="jsonf"${extra})`;
    return [
      `global(workDirectory="${this.dir}" maxMessageSize="64k"${global})`,
      module,
      `template(name="fields" type="list" option.jsonf="on") {`,
      field("severity", "syslogseverity"),
      field("facility", "syslogfacility"),
      field("protocol", "protocol-version"),
      field("timestamp", "timereported", ' dateFormat="rfc3339"'),
      field("hostname", "hostname"),
      field("appname", "app-name"),
      field("procid", "procid"),
      field("msgid", "msgid"),
      field("sd", "structured-data"),
      field("msg", "msg"),
      "}",
      `ruleset(name="out") { action(type="omfile" file="${this.out}" template="fields") }`,
      `input(type="imtcp" address="127.0.0.1" port="${this.port}" ruleset="out")`,
      "",
    ].join("\n");
  }

  async start(): Promise<void> {
    const conf = join(this.dir, "rsyslog.conf");
    await writeFile(conf, this.config());
    const child = spawn(RSYSLOGD, ["-n", "-f", conf, "-i", join(this.dir, "rsyslogd.pid")], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (d) => (this.log += d));
    child.stderr?.on("data", (d) => (this.log += d));
    this.process = child;
    const up = await waitFor(
      () => listening(this.port),
      (ok) => ok || child.exitCode !== null,
    );
    if (!up) throw new Error(`rsyslogd did not listen on ${this.port}:\n${this.log}`);
  }

  async stop(): Promise<void> {
    const child = this.process;
    this.process = null;
    if (child === null || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }

  async received(): Promise<Received[]> {
    const text = await readFile(this.out, "utf8").catch(() => "");
    return text
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as Received);
  }

  /** What rsyslog wrote, once `count` messages are there (or 10 s passed). */
  awaitReceived(count: number): Promise<Received[]> {
    return waitFor(
      () => this.received(),
      (r) => r.length >= count,
    );
  }
}
