// The HTTPS NDJSON transport against a loopback HTTPS server whose certificate comes from a test
// CA made with the openssl CLI: the batch arrives as NDJSON with the configured headers, and each
// kind of answer gets its retry class.

import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { IncomingHttpHeaders } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DeliveryError, type Transport } from "../../src/index.js";
import { createTransport, parseTransportOptions } from "../../src/transports/index.js";
import {
  makeTestPki,
  NEVER,
  opensslMissing,
  outgoingEvents,
  serviceMissing,
  type TestPki,
} from "./helpers.js";

// the test CA needs the openssl CLI: without it the test skips, or fails under CLEARANCE_TEST_SIEM=1
const missing = serviceMissing(await opensslMissing());

describe.skipIf(missing !== null)(`https${missing ? ` (skipped: ${missing})` : ""}`, () => {
  let dir: string;
  let pki: TestPki;
  let server: Server;
  let status = 200;
  let delayMs = 0;
  const requests: { headers: IncomingHttpHeaders; body: string; path: string }[] = [];
  const transports: Transport[] = [];
  const url = () => `https://localhost:${(server.address() as AddressInfo).port}/ingest`;
  const https = (over: Record<string, unknown> = {}) => {
    const transport = createTransport(
      parseTransportOptions(
        {
          type: "https",
          url: url(),
          ca: pki.caCert,
          headers: { Authorization: "Bearer secret-bearer-value" },
          ...over,
        },
        "siem.sinks[2]",
      ),
    );
    transports.push(transport);
    return transport;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "clearance-https-"));
    pki = await makeTestPki(dir);
    server = createServer(
      { cert: await readFile(pki.serverCert), key: await readFile(pki.serverKey) },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          requests.push({
            headers: req.headers,
            body: Buffer.concat(chunks).toString("utf8"),
            path: req.url ?? "",
          });
          setTimeout(() => {
            res.writeHead(status, { "content-type": "text/plain" });
            res.end(status >= 400 ? `refused with ${status}` : "");
          }, delayMs);
        });
      },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });
  afterEach(() => {
    status = 200;
    delayMs = 0;
    requests.length = 0;
  });
  afterAll(async () => {
    await Promise.all(transports.map((t) => t.close()));
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it("POSTs the batch as NDJSON, in order, with the configured headers", async () => {
    const transport = https();
    expect(transport.target).toBe(url());
    const events = outgoingEvents();
    await transport.send(events, NEVER);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.path).toBe("/ingest");
    expect(requests[0]?.headers["content-type"]).toBe("application/x-ndjson");
    expect(requests[0]?.headers.authorization).toBe("Bearer secret-bearer-value");
    expect(requests[0]?.body).toBe(events.map((e) => `${e.body}\n`).join(""));
  });

  it("takes the CA as PEM text too", async () => {
    await https({ ca: await readFile(pki.caCert, "utf8") }).send(
      outgoingEvents().slice(0, 1),
      NEVER,
    );
    expect(requests).toHaveLength(1);
  });

  it.each([
    { status: 204, retryable: null },
    { status: 408, retryable: true },
    { status: 429, retryable: true },
    { status: 500, retryable: true },
    { status: 503, retryable: true },
    { status: 400, retryable: false },
    { status: 401, retryable: false },
    { status: 413, retryable: false },
  ])(
    "answer $status: retryable $retryable (null: acknowledged)",
    async ({ status: answer, retryable }) => {
      status = answer;
      const outcome = await https()
        .send(outgoingEvents().slice(0, 2), NEVER)
        .then(() => null)
        .catch((e: unknown) => e);
      if (retryable === null) return expect(outcome).toBeNull();
      expect(outcome).toBeInstanceOf(DeliveryError);
      expect((outcome as DeliveryError).retryable).toBe(retryable);
      expect((outcome as Error).message).toContain(`answered ${answer}`);
      expect((outcome as Error).message).not.toContain("secret-bearer-value");
    },
  );

  it.each([
    {
      name: "a server its CA is not trusted by (no `ca`)",
      over: { ca: null },
      says: /self[- ]signed|unable to (get|verify)/i,
    },
    { name: "a timeout", over: { timeoutMs: 200 }, delay: 1000, says: /no answer within 200 ms/ },
    {
      name: "a port nothing listens on",
      over: { url: "https://127.0.0.1:9/ingest" },
      says: /ECONNREFUSED|connect/i,
    },
  ])("fails retryably on $name", async ({ over, delay, says }) => {
    delayMs = delay ?? 0;
    const error = await https(over)
      .send(outgoingEvents().slice(0, 1), NEVER)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    expect((error as DeliveryError).retryable).toBe(true);
    expect((error as Error).message).toMatch(says);
  });

  it("stops when the deliverer aborts, retryably", async () => {
    delayMs = 2000;
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("shutting down")), 100);
    const error = await https()
      .send(outgoingEvents().slice(0, 1), controller.signal)
      .catch((e: unknown) => e);
    expect((error as DeliveryError).retryable).toBe(true);
    expect((error as Error).message).toContain("shutting down");
  });
});
