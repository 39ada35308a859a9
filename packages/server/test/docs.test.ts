// Keeps the server's documentation in step with the code: problem codes, endpoints, the generated
// OpenAPI document, configuration keys, metrics and the example configurations.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parse as parseYaml } from "yaml";
import { CONFIG_SCHEMA, defaultConfig, loadConfig, resolveConfig } from "../src/config.js";
import { PROBLEMS } from "../src/http/problems.js";
import { Metrics } from "../src/metrics.js";
import { tally } from "../src/reviews.js";
import { checkExposure } from "../src/server.js";
import { BATCH_ANSWER, BATCH_BODY, DECISION_ANSWER, DECISION_BODY } from "../src/wire.js";
import { makeApp, REPO, type TestApp } from "./helpers.js";

const doc = (name: string) => readFileSync(join(REPO, "docs", name), "utf8");

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  /** a nullable section (`platform`, `shadow`) is `anyOf: [section, null]` */
  anyOf?: SchemaNode[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
}

/** The section of a nullable section, else the node itself. */
const section = (node: SchemaNode): SchemaNode =>
  node.anyOf?.find((branch) => branch.properties) ?? node;

/** Every key path of a JSON Schema: `audit.sqlite.path`, `auth.keys`, `auth.keys[].sha256`. */
function schemaPaths(node: SchemaNode, prefix = ""): string[] {
  return [...schemaNodes(node, prefix).keys()];
}

/** Every key path of a JSON Schema with its declaration. */
function schemaNodes(node: SchemaNode, prefix = ""): Map<string, SchemaNode> {
  const out = new Map<string, SchemaNode>();
  for (const [key, child] of Object.entries(section(node).properties ?? {})) {
    const path = prefix === "" ? key : `${prefix}.${key}`;
    out.set(path, child);
    for (const [p, n] of schemaNodes(child, path)) out.set(p, n);
    if (child.items?.properties)
      for (const [p, n] of schemaNodes(child.items, `${path}[]`)) out.set(p, n);
  }
  return out;
}

/** The same paths, as set in a parsed YAML document. */
function valuePaths(value: unknown, prefix = ""): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => valuePaths(v, `${prefix}[]`));
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([key, v]) => {
    const path = prefix === "" ? key : `${prefix}.${key}`;
    return [path, ...valuePaths(v, path)];
  });
}

/** Values for every `${NAME}` the example configurations use. */
const EXAMPLE_ENV = {
  CLEARANCE_HMAC_SECRET: "an-hmac-secret-of-32-characters!",
  CLEARANCE_WEBHOOK_SECRET: "a-webhook-secret-of-some-length",
  CLEARANCE_PLATFORM_URL: "https://api.platform.example",
  CLEARANCE_PLATFORM_KEY: "a-platform-key",
  CLEARANCE_VT_KEY: "a-virustotal-key",
  CLEARANCE_SIEM_URL: "https://siem.example.internal/hooks/clearance",
  CLEARANCE_HEC_URL: "https://splunk.example.internal:8088",
  CLEARANCE_HEC_TOKEN: "hec-token-0123456789",
  CLEARANCE_SIEM_SECRET: "a-siem-secret-of-some-length",
  CLEARANCE_PG_URL: "postgres://clearance:password@db.internal:5432/clearance",
  CLEARANCE_CHAIN: "replica-1",
  CLEARANCE_OIDC_SECRET: "an-oidc-client-secret",
  CLEARANCE_SESSION_SECRET: "a-session-secret-of-32-characters-or-more",
};

describe("docs/http-api.md", () => {
  const text = doc("http-api.md");
  let t: TestApp;
  let live: { paths: Record<string, Record<string, unknown>> };
  beforeAll(async () => {
    t = await makeApp();
    const res = await t.app.inject({ url: "/openapi.json" });
    expect(res.statusCode).toBe(200);
    live = res.json();
  });
  afterAll(() => t.close());

  test("the problem table lists every problem code with its status, and no other", () => {
    const rows = [...text.matchAll(/^\| `([a-z0-9_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], m[2]]);
    const documented = new Map(rows.map(([code, status]) => [code!, Number(status)]));
    for (const [code, { status }] of Object.entries(PROBLEMS))
      expect(documented.get(code), `problem code \`${code}\` (${status})`).toBe(status);
    expect([...documented.keys()].sort()).toEqual(Object.keys(PROBLEMS).sort());
  });

  test("every endpoint of the live OpenAPI document is documented, with its method", () => {
    const lines = text.split("\n");
    for (const [path, methods] of Object.entries(live.paths)) {
      for (const method of Object.keys(methods)) {
        const m = `\`${method.toUpperCase()}\``;
        expect(
          lines.some((l) => l.includes(m) && l.includes(`\`${path}\``)),
          `${method.toUpperCase()} ${path} is not in docs/http-api.md`,
        ).toBe(true);
      }
    }
  });

  test("the decision API in the document is the wire declarations, as declared", () => {
    type Operation = {
      requestBody?: { content: Record<string, { schema: unknown }> };
      responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
    };
    const op = (path: string, method: string) => live.paths[path]![method] as Operation;
    const body = (o: Operation) => o.requestBody?.content["application/json"]?.schema;
    const answer = (o: Operation) => o.responses["200"]?.content?.["application/json"]?.schema;
    const json = (schema: unknown) => JSON.parse(JSON.stringify(schema));
    expect(body(op("/v1/decisions", "post"))).toEqual(json(DECISION_BODY));
    expect(answer(op("/v1/decisions", "post"))).toEqual(json(DECISION_ANSWER));
    expect(body(op("/v1/decisions/batch", "post"))).toEqual(json(BATCH_BODY));
    expect(answer(op("/v1/decisions/batch", "post"))).toEqual(json(BATCH_ANSWER));
    // the request of a batch item is the request of one decision, less where it comes from
    const { source: _source, ...one } = DECISION_BODY.properties;
    expect(BATCH_BODY.properties.items.items.properties).toEqual(one);
  });

  test("docs/openapi.json is the document the server serves", () => {
    const committed = JSON.parse(doc("openapi.json"));
    expect(
      committed,
      "docs/openapi.json is out of date: run `pnpm build && pnpm docs:openapi` and commit it",
    ).toEqual(live);
  });
});

describe("docs/configuration.md", () => {
  const text = doc("configuration.md");
  const paths = schemaPaths(CONFIG_SCHEMA as unknown as SchemaNode);

  test("the walk finds nested and list keys", () => {
    expect(paths).toContain("audit.sqlite.path");
    expect(paths).toContain("auth.keys[].sha256");
  });

  test("every key of the configuration schema is documented", () => {
    const missing = paths.filter((p) => !text.includes(`\`${p}\``));
    expect(missing, "keys missing from docs/configuration.md").toEqual([]);
  });

  test("the tables list exactly the declared keys, with their defaults and ranges", () => {
    const nodes = schemaNodes(CONFIG_SCHEMA as unknown as SchemaNode);
    const rows = [...text.matchAll(/^\| `([A-Za-z0-9.[\]]+)` \|([^|]*)\|([^|]*)\|/gm)].map(
      ([, key, type, fallback]) => ({ key: key!, type: type!.trim(), fallback: fallback!.trim() }),
    );
    // every key that holds a value has a row; a section has one when something is said of it
    const leaves = [...nodes].filter(([, n]) => section(n).type !== "object").map(([p]) => p);
    expect(leaves.filter((p) => !rows.some((r) => r.key === p))).toEqual([]);
    expect(rows.map((r) => r.key).filter((k) => !nodes.has(k))).toEqual([]);
    // defaults computed at start, described in words
    const inWords = new Set(["audit.chain", "notifications.targets[].decisions"]);
    for (const { key, type, fallback } of rows) {
      const node = nodes.get(key)!;
      const shown = /^`([^`]*)`/.exec(fallback)?.[1];
      if (inWords.has(key)) expect(shown, key).toBeUndefined();
      else if (!("default" in node)) expect(fallback, `${key} has no default`).toBe("");
      else {
        const value = node.default;
        expect(shown, key).toBe(typeof value === "string" ? value : JSON.stringify(value));
      }
      const range = /^(?:integer|number) (\d+) to (\d+)$/.exec(type);
      if (range) expect([node.minimum, node.maximum], key).toEqual([+range[1]!, +range[2]!]);
      const atLeast = /^(?:integer|number) ≥ (\d+)$/.exec(type);
      if (atLeast) expect([node.minimum, node.maximum], key).toEqual([+atLeast[1]!, undefined]);
    }
  });

  test("the complete example is examples/configs/clearance.yaml, as it is", () => {
    const example = readFileSync(join(REPO, "examples/configs/clearance.yaml"), "utf8");
    expect(text.includes(`\`\`\`yaml\n${example}\`\`\``), "copy the file into the page").toBe(true);
  });
});

describe("docs/operations.md", () => {
  test("every metric the server exports is listed", () => {
    const text = doc("operations.md");
    const names = new Metrics({ process: false }).registry.getMetricsAsArray().map((m) => m.name);
    expect(names.length).toBeGreaterThan(10);
    const missing = names.filter((n) => !text.includes(`\`${n}\``));
    expect(missing, "metrics missing from docs/operations.md").toEqual([]);
  });
});

describe("examples/configs", () => {
  const file = (name: string) => join(REPO, "examples/configs", name);

  test("clearance.yaml loads, may listen where it says, and sets every key", () => {
    const config = loadConfig(file("clearance.yaml"), EXAMPLE_ENV);
    expect(config.audit.hmacSecret).toBe(EXAMPLE_ENV.CLEARANCE_HMAC_SECRET);
    expect(config.rules.dir).toBe(join(REPO, "rules"));
    expect(() => checkExposure(config)).not.toThrow();
    const set = new Set(valuePaths(parseYaml(readFileSync(file("clearance.yaml"), "utf8"))));
    const unset = schemaPaths(CONFIG_SCHEMA as unknown as SchemaNode).filter((p) => !set.has(p));
    expect(unset, "keys the complete example does not set").toEqual([]);
  });

  test("postgres-replica.yaml loads as a PostgreSQL replica", () => {
    const config = loadConfig(file("postgres-replica.yaml"), EXAMPLE_ENV);
    expect(config.audit.backend).toBe("postgres");
    expect(config.audit.postgres.url).toBe(EXAMPLE_ENV.CLEARANCE_PG_URL);
    expect(config.audit.chain).toBe("replica-1");
    expect(() => checkExposure(config)).not.toThrow();
  });

  test("reviews-demo.yaml (docs/reviews.md's walkthrough) serves rules/ on loopback without keys, two approvals a case", () => {
    const config = loadConfig(file("reviews-demo.yaml"), {});
    expect(config.auth.keys).toEqual([]);
    expect(config.server).toMatchObject({ host: "127.0.0.1", port: 8080 });
    expect(config.rules.dir).toBe(join(REPO, "rules"));
    expect(config.reviews).toMatchObject({ enabled: true, approvalsRequired: 2 });
    expect(() => checkExposure(config)).not.toThrow();
  });

  test("with-sim.yaml (docs/platform.md's walkthrough) points the server at the simulator", () => {
    const config = loadConfig(file("with-sim.yaml"), {
      CLEARANCE_WEBHOOK_SECRET: "local-demo-secret-0123",
    });
    expect(config.platform).toMatchObject({ url: "http://127.0.0.1:9090", apiKey: "sim_key_full" });
    expect(config.webhook.secret).toBe("local-demo-secret-0123");
    expect(config.rules.dir).toBe(join(REPO, "rules"));
  });
});

describe("docs/platform.md", () => {
  // every `yaml` block there is a piece of clearance.yaml: it must be valid configuration
  const text = readFileSync(join(REPO, "docs/platform.md"), "utf8");
  const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .filter((b) => !b.startsWith("name:"));
  test.each(blocks.map((b, i) => [i, b] as const))("config block %i is valid", (_i, block) => {
    const env = { PLATFORM_KEY: "platform-key-0123", SIEM_SECRET: "siem-secret-0123456" };
    expect(() => resolveConfig(parseYaml(block), { env })).not.toThrow();
  });
  test("there are config blocks to check", () => expect(blocks.length).toBeGreaterThanOrEqual(2));
});

describe("docs/reviews.md", () => {
  // the table of votes and what they come to under the default policy is what `tally` says
  const text = doc("reviews.md");
  const rows = [
    ...text.matchAll(/^\| (`[a-z]+ (?:approve|reject)[a-z ]*`(?:, `[^`]+`)*) \| (.+) \|$/gm),
  ];
  const policy = defaultConfig().reviews;

  test("there are rows of votes", () => expect(rows.length).toBeGreaterThanOrEqual(4));

  test.each(rows.map((m) => [m[1]!, m[2]!] as const))("%s: %s", (votes, shown) => {
    const cast = [...votes.matchAll(/`([a-z]+) (approve|reject)(?: (file|signer|vendor))?`/g)].map(
      ([, voter, vote, kind], i) => ({
        id: String(i),
        time: "2026-12-04T00:00:00.000Z",
        caseId: "c",
        voter: voter!,
        vote: vote as "approve" | "reject",
        justification: "why",
        exception: kind ? { kind: kind as "file" | "signer" | "vendor", expires: null } : null,
      }),
    );
    const t = tally(cast, policy);
    const resolved = /^resolved: (approved|rejected), a `([a-z]+)` exception \(([^)]+)\)$/.exec(
      shown,
    );
    const waiting = /^open, waiting for ``(.+)``$/.exec(shown);
    expect(resolved ?? waiting, `\`${shown}\` is neither form`).not.toBeNull();
    if (resolved)
      expect(t).toMatchObject({
        outcome: resolved[1],
        kind: resolved[2],
        voters: resolved[3]!.split(", ").map((voter) => expect.objectContaining({ voter })),
      });
    else expect(t).toEqual({ waitingFor: waiting![1] });
  });
});
