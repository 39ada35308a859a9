// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are ${ENV} references in configuration values
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { ConfigError, defaultConfig, loadConfig, resolveConfig } from "../src/config.js";
import { tempDir } from "./helpers.js";

function problems(raw: unknown, env = {}): string[] {
  try {
    resolveConfig(raw, { env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("configuration", () => {
  test("no configuration at all serves rules/ on loopback with SQLite under data/", () => {
    const c = resolveConfig(undefined, { baseDir: "/srv/app" });
    expect(c.server).toMatchObject({
      host: "127.0.0.1",
      port: 8080,
      bodyLimit: 1_048_576,
      batchLimit: 1000,
    });
    expect(c.rules.dir).toBe("/srv/app/rules");
    expect(c.audit).toMatchObject({
      backend: "sqlite",
      sqlite: { path: "/srv/app/data/audit.db", synchronous: "full" },
    });
    expect(c.auth.keys).toEqual([]);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.audit.sqlite)).toBe(true);
    expect(Object.keys(c).sort()).toEqual(Object.keys(defaultConfig()).sort());
  });

  test.each([
    [{ sever: { port: 1 } }, "unknown key `sever`"],
    [{ server: { prot: 1 } }, "unknown key `server.prot`"],
    [{ audit: { sqlite: { pth: "x" } } }, "unknown key `audit.sqlite.pth`"],
    [
      { auth: { keys: [{ id: "a", scopes: ["decide"], sha256: "0".repeat(64), secret: "s" }] } },
      "unknown key `auth.keys[0].secret`",
    ],
    [{ audit: { backend: "mysql" } }, "`audit.backend` must be one of `sqlite`, `postgres`"],
    [{ server: { port: 70000 } }, "`server.port` must be <= 65535"],
    [{ server: { port: "80" } }, "`server.port` must be integer"],
    [
      { auth: { keys: [{ id: "a", scopes: ["root"], sha256: "0".repeat(64) }] } },
      "`auth.keys[0].scopes[0]` must be one of `decide`, `audit:read`, `review`, `exceptions`, `admin`",
    ],
    [
      { auth: { keys: [{ id: "a", scopes: ["decide"], sha256: "secret" }] } },
      '`auth.keys[0].sha256` must match pattern "^[0-9a-f]{64}$"',
    ],
    [
      { audit: { backend: "postgres" } },
      "`audit.postgres.url` is required when `audit.backend` is `postgres`",
    ],
    [{ webhook: { secret: "short" } }, "`webhook.secret` must NOT have fewer than 16 characters"],
    [{ audit: { redact: ["fileName"] } }, "`audit.redact[0]` must match pattern"],
    [[1, 2], "the configuration must be a mapping of keys to values"],
  ])("%j: %s", (raw, message) => {
    expect(problems(raw).join("\n")).toContain(message);
  });

  test("every problem is reported at once", () => {
    expect(problems({ a: 1, server: { port: -1, b: 2 } })).toHaveLength(3);
  });

  test("two keys with one id are refused", () => {
    const key = { id: "ci", scopes: ["decide"], sha256: "a".repeat(64) };
    expect(problems({ auth: { keys: [key, key] } })[0]).toContain("`ci` is used twice");
  });

  test("${ENV} is substituted in strings, $${ escapes, and a missing variable names the key", () => {
    const c = resolveConfig(
      { webhook: { secret: "${WH_SECRET}" }, audit: { hmacSecret: "prefix-${A}-$${B}-suffix" } },
      { env: { WH_SECRET: "0123456789abcdefghij", A: "aaaa" } },
    );
    expect(c.webhook.secret).toBe("0123456789abcdefghij");
    expect(c.audit.hmacSecret).toBe("prefix-aaaa-${B}-suffix");
    expect(problems({ audit: { hmacSecret: "${NOPE}" } })).toEqual([
      "`audit.hmacSecret` refers to the environment variable `NOPE`, which is not set",
    ]);
  });

  test("a config file: YAML, paths relative to the file, bad YAML and missing files are clear errors", () => {
    const tmp = tempDir();
    try {
      const file = join(tmp.dir, "clearance.yaml");
      writeFileSync(file, "rules:\n  dir: my-rules\naudit:\n  sqlite:\n    path: log/audit.db\n");
      const c = loadConfig(file);
      expect(c.rules.dir).toBe(join(tmp.dir, "my-rules"));
      expect(c.audit.sqlite.path).toBe(join(tmp.dir, "log/audit.db"));
      writeFileSync(file, "rules: [unclosed\n");
      expect(() => loadConfig(file)).toThrow(/is not valid YAML/);
      expect(() => loadConfig(join(tmp.dir, "missing.yaml"))).toThrow(
        /cannot read the configuration .*ENOENT/,
      );
    } finally {
      tmp.remove();
    }
  });
});

describe("configuration: audit reads and damaged logs", () => {
  test("defaults: two reader threads, every page checked at start, no new log over a damaged one", () => {
    const c = resolveConfig(undefined, { baseDir: "/srv/app" });
    expect(c.audit.sqlite).toMatchObject({ readers: 2, startupCheck: "quick" });
    expect(c.audit.startNewLog).toBe(false);
  });

  test.each([
    [{ audit: { sqlite: { readers: 0 } } }, "`audit.sqlite.readers` must be >= 1"],
    [{ audit: { sqlite: { readers: 17 } } }, "`audit.sqlite.readers` must be <= 16"],
    [{ audit: { sqlite: { readers: 1.5 } } }, "`audit.sqlite.readers` must be integer"],
    [
      { audit: { sqlite: { startupCheck: "full" } } },
      "`audit.sqlite.startupCheck` must be one of `quick`, `fast`",
    ],
    [{ audit: { startNewLog: "yes" } }, "`audit.startNewLog` must be boolean"],
    [{ console: { enabled: "no" } }, "`console.enabled` must be boolean"],
    [
      { console: { enable: false } },
      "unknown key `console.enable` (known: enabled); did you mean `console.enabled`?",
    ],
    [
      { reviews: { approvalsRequired: 3 } },
      "`reviews.broaderScopeApprovals` (2) is fewer than `reviews.approvalsRequired` (3): a signer or vendor exception would be easier to get than one file's",
    ],
    [
      { reviews: { caseExpiry: "7days" } },
      '`reviews.caseExpiry` must match pattern "^([0-9]+(ms|[smhdw]))+$"',
    ],
    [
      { reviews: { caseExpiry: "1m1h" } },
      "`reviews.caseExpiry`: `1m1h` is not a duration (units from largest to smallest, each once: `90d`, `1h30m`)",
    ],
    [
      { reviews: { exceptionExpiry: { default: "400d" } } },
      "`reviews.exceptionExpiry.default` (400d) is longer than `reviews.exceptionExpiry.max` (365d)",
    ],
    [{ reviews: { approvalsRequired: 0 } }, "`reviews.approvalsRequired` must be >= 1"],
    [
      { reviews: { caseScope: ["group", "group"] } },
      "`reviews.caseScope` must NOT have duplicate items (items ## 0 and 1 are identical)",
    ],
  ])("%j is refused: %s", (raw, message) => {
    expect(problems(raw)).toEqual([message]);
  });

  test.each([
    [{ audit: { sqlite: { readers: 1 } } }],
    [{ audit: { sqlite: { readers: 16, startupCheck: "fast" } } }],
    [{ audit: { startNewLog: true } }],
  ])("%j is accepted", (raw) => {
    expect(problems(raw)).toEqual([]);
  });
});

describe("configuration: siem", () => {
  const sink = (over: Record<string, unknown> = {}, transport: Record<string, unknown> = {}) => ({
    siem: {
      sinks: [
        {
          name: "archive",
          format: "ocsf",
          transport: { type: "file", dir: "events", ...transport },
          ...over,
        },
      ],
    },
  });

  test("a sink's defaults, and a file sink's directory relative to the configuration", () => {
    const c = resolveConfig(sink(), { baseDir: "/etc/clearance" });
    expect(c.siem.sinks[0]).toMatchObject({
      kinds: [],
      decisions: [],
      rules: [],
      batch: { maxEvents: 500, maxBytes: 1_048_576, lingerMs: 50 },
      retry: { baseDelayMs: 500, maxDelayMs: 60_000 },
      deadLetterAfter: "7d",
      transport: { type: "file", dir: "/etc/clearance/events" },
    });
    const tls = resolveConfig(
      {
        siem: {
          sinks: [
            {
              name: "syslog",
              format: "cef",
              transport: { type: "syslog", host: "siem", port: 6514, tls: { ca: "ca.pem" } },
            },
          ],
        },
      },
      { baseDir: "/etc/clearance" },
    );
    expect(tls.siem.sinks[0]!.transport).toMatchObject({ tls: { ca: "/etc/clearance/ca.pem" } });
  });

  test.each([
    [sink({ format: "leef" }), "`siem.sinks[0].format` must be one of `ocsf`, `ecs`, `cef`"],
    [sink({ kinds: ["decisions"] }), "`siem.sinks[0].kinds[0]` must be one of `decision`"],
    [sink({ deadLetterAfter: "a week" }), "`siem.sinks[0].deadLetterAfter` must match pattern"],
    [sink({}, { dri: "x" }), "siem.sinks[0].transport.dri"],
    [sink({}, { type: "kafka" }), "`siem.sinks[0].transport.type` must be one of"],
    [
      {
        siem: {
          sinks: [
            {
              name: "h",
              format: "ecs",
              transport: { type: "https", url: "http://siem.example/in" },
            },
          ],
        },
      },
      "loopback",
    ],
    [
      { siem: { sinks: [sink().siem.sinks[0], sink().siem.sinks[0]] } },
      "`siem.sinks[1].name`: `archive` is used twice",
    ],
  ])("%j is refused: %s", (raw, message) => {
    expect(problems(raw).join("\n")).toContain(message);
  });
});
