// parseTransportOptions: each transport's defaults filled in and frozen, and each kind of mistake
// refused with the key path under the sink's path, without ever showing a secret.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createTransport, parseTransportOptions } from "../../src/index.js";

const AT = "siem.sinks[0]";

describe("parseTransportOptions", () => {
  it.each([
    {
      input: { type: "syslog", host: "siem.example", port: 6514, tls: {} },
      defaults: {
        facility: "local0",
        hostname: null,
        appName: "clearance",
        procId: null,
        enterpriseNumber: 32473,
        bom: false,
        connectTimeoutMs: 10_000,
        writeTimeoutMs: 30_000,
        tls: { ca: null, cert: null, key: null, servername: null, rejectUnauthorized: true },
      },
    },
    {
      input: { type: "splunk-hec", url: "https://splunk.example:8088", token: "t" },
      defaults: {
        host: null,
        source: "clearance",
        sourcetype: "clearance:event",
        index: null,
        ack: false,
        ackTimeoutMs: 120_000,
        ackPollIntervalMs: 1_000,
        ca: null,
        timeoutMs: 30_000,
      },
    },
    {
      input: { type: "https", url: "https://collector.example/ingest" },
      defaults: { headers: {}, ca: null, timeoutMs: 30_000 },
    },
    {
      input: {
        type: "nats",
        servers: ["nats://127.0.0.1:4222"],
        subject: "clearance.events.{kind}",
      },
      defaults: {
        user: null,
        password: null,
        token: null,
        streamName: null,
        createStream: null,
        ackTimeoutMs: 10_000,
        connectTimeoutMs: 10_000,
      },
    },
    {
      input: { type: "file", dir: "/var/log/clearance" },
      defaults: {
        prefix: "clearance-events",
        maxBytes: 104_857_600,
        rotateEveryMs: null,
        keep: 10,
      },
    },
  ])("fills in the defaults of $input.type and freezes them", ({ input, defaults }) => {
    const options = parseTransportOptions(input, AT);
    expect(options).toEqual({ ...input, ...defaults });
    expect(Object.isFrozen(options)).toBe(true);
  });

  it.each([
    { input: null, says: "key `siem.sinks[0]` must be an object, got `null`" },
    {
      input: {},
      says: "key `siem.sinks[0].type` is required (one of syslog, splunk-hec, https, nats, file)",
    },
    {
      input: { type: "kafka" },
      says: "key `siem.sinks[0].type` must be one of `syslog`, `splunk-hec`, `https`, `nats`, `file`, got `kafka`",
    },
    {
      input: { type: "syslog", host: "h", port: 514, facilty: "local1" },
      says: "unknown key `siem.sinks[0].facilty`",
    },
    {
      input: { type: "syslog", host: "h", port: 514, facilty: "local1" },
      says: "did you mean `siem.sinks[0].facility`?",
    },
    { input: { type: "syslog", host: "h" }, says: "key `siem.sinks[0].port` is required" },
    {
      input: { type: "syslog", host: "h", port: 70000 },
      says: "key `siem.sinks[0].port` must be an integer from 1 to 65535, got `70000`",
    },
    {
      input: { type: "syslog", host: "h", port: 514, facility: "local9" },
      says: "key `siem.sinks[0].facility` must be one of `kern`",
    },
    {
      input: { type: "syslog", host: "h", port: 514, appName: "clear ance" },
      says: "key `siem.sinks[0].appName` must be a string matching",
    },
    {
      input: { type: "syslog", host: "h", port: 514, appName: "a".repeat(49) },
      says: "key `siem.sinks[0].appName`",
    },
    {
      input: { type: "syslog", host: "h", port: 514, hostname: "h".repeat(256) },
      says: "key `siem.sinks[0].hostname`",
    },
    {
      input: { type: "syslog", host: "h", port: 514, tls: { cert: "c.pem" } },
      says: "keys `siem.sinks[0].tls.cert` and `siem.sinks[0].tls.key` go together",
    },
    {
      input: { type: "syslog", host: "h", port: 514, tls: { verify: false } },
      says: "unknown key `siem.sinks[0].tls.verify`",
    },
    {
      input: { type: "https", url: "http://collector.example/x" },
      says: "key `siem.sinks[0].url` uses http:// to `collector.example`, which is not a loopback address",
    },
    {
      input: { type: "https", url: "ftp://collector.example/x" },
      says: "key `siem.sinks[0].url` must be an https:// URL",
    },
    {
      input: { type: "https", url: "https://u:p@collector.example/x" },
      says: "must not carry credentials in the URL",
    },
    {
      input: { type: "https", url: "https://c.example", headers: { "Bad Name": "x" } },
      says: "key `siem.sinks[0].headers.Bad Name` is not a valid header name",
    },
    {
      input: { type: "https", url: "https://c.example", headers: { "Content-Type": "text/plain" } },
      says: "sets Content-Type itself",
    },
    {
      input: { type: "https", url: "https://c.example", headers: { Authorization: 42 } },
      says: "key `siem.sinks[0].headers.Authorization` must be a string",
    },
    {
      input: { type: "splunk-hec", url: "http://10.0.0.1:8088", token: "t" },
      says: "which is not a loopback address",
    },
    {
      input: { type: "splunk-hec", url: "https://s.example" },
      says: "key `siem.sinks[0].token` is required",
    },
    {
      input: { type: "nats", servers: [], subject: "a" },
      says: "key `siem.sinks[0].servers` must",
    },
    {
      input: { type: "nats", servers: ["n:4222"], subject: "a.*" },
      says: "key `siem.sinks[0].subject` must be a string matching",
    },
    {
      input: { type: "nats", servers: ["n:4222"], subject: "a.{type}" },
      says: "may hold only the placeholder `{kind}`",
    },
    {
      input: { type: "nats", servers: ["n:4222"], subject: "a", user: "u" },
      says: "keys `siem.sinks[0].user` and `siem.sinks[0].password` go together",
    },
    {
      input: { type: "nats", servers: ["n:4222"], subject: "a", createStream: { name: "S" } },
      says: "key `siem.sinks[0].createStream.subjects` is required",
    },
    {
      input: { type: "file", dir: "/d", prefix: "../escape" },
      says: "key `siem.sinks[0].prefix` must be a string matching",
    },
    {
      input: { type: "file", dir: "/d", keep: -1 },
      says: "key `siem.sinks[0].keep` must be a non-negative integer, got `-1`",
    },
  ])("refuses $input: $says", ({ input, says }) => {
    expect(() => parseTransportOptions(input, AT)).toThrow(TypeError);
    expect(() => parseTransportOptions(input, AT)).toThrow(says);
  });

  it.each([
    {
      input: { type: "splunk-hec", url: "https://s.example", token: 12345678 },
      secret: "12345678",
    },
    {
      input: { type: "nats", servers: ["n:4222"], subject: "a", user: "u", password: 98765432 },
      secret: "98765432",
    },
    { input: { type: "nats", servers: ["n:4222"], subject: "a", token: "" }, secret: null },
    {
      input: { type: "https", url: "https://c.example", headers: { Authorization: 31415926 } },
      secret: "31415926",
    },
  ])("never shows a secret's value: $input.type", ({ input, secret }) => {
    let message = "";
    try {
      parseTransportOptions(input, AT);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("(value withheld)");
    expect(message).not.toContain("got");
    if (secret !== null) expect(message).not.toContain(secret);
  });

  it("reads a CA file when the transport is made, naming the key when it cannot", async () => {
    const dir = await mkdtemp(join(tmpdir(), "clearance-opts-"));
    try {
      const notPem = join(dir, "not.pem");
      await writeFile(notPem, "hello");
      expect(() =>
        createTransport(
          parseTransportOptions({ type: "https", url: "https://c.example", ca: notPem }, AT),
        ),
      ).toThrow(
        `key \`ca\` must be PEM text or the path of a PEM file; reading \`${notPem}\` failed: no \`-----BEGIN\` line`,
      );
      expect(() =>
        createTransport(
          parseTransportOptions(
            { type: "https", url: "https://c.example", ca: join(dir, "none.pem") },
            AT,
          ),
        ),
      ).toThrow("ENOENT");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("allows http:// to loopback addresses only", () => {
    for (const url of [
      "http://127.0.0.1:8088",
      "http://localhost:8088",
      "http://[::1]:8088",
      "http://127.1.2.3",
    ])
      expect(parseTransportOptions({ type: "https", url }, AT)).toMatchObject({ url });
  });
});
