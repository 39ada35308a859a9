// SantaAgent against a real loopback HTTP server that records each request (method, path,
// headers, the body inflated here with zlib itself) and answers from a script, as a sync server
// would. With Santa's repository at hand (CLEARANCE_SANTA_REPO) the script answers with Santa's
// own fixture answers; without it, with hand-written ones of the same shape.

import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync, gzipSync, inflateSync } from "node:zlib";
import { Agent } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  readRuleDownloadResponse,
  resolveAgentOptions,
  SantaAgent,
  type SantaAgentOptions,
  type SantaRule,
  SantaSyncError,
} from "../src/index.js";
import { santaJson, santaRepo } from "./support/santa-repo.js";

// ---- the scripted server ------------------------------------------------------------------------

interface Recorded {
  method: string;
  path: string;
  stage: string;
  machineId: string;
  headers: IncomingHttpHeaders;
  /** the body as sent */
  raw: Buffer;
  /** the body inflated by this test, parsed; undefined when empty */
  json: Record<string, unknown> | undefined;
}

interface Reply {
  status?: number;
  json?: unknown;
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** close the connection without answering */
  destroy?: true;
  /** never answer */
  hang?: true;
}

type Script = (request: Recorded, nthOfStage: number) => Reply | Promise<Reply>;

const requests: Recorded[] = [];
let script: Script = () => ({ status: 500 });
let server: Server;
let baseUrl: string;

function inflated(raw: Buffer, encoding: string | undefined): Buffer {
  if (encoding === "deflate") return inflateSync(raw); // zlib data (RFC 1950), as Santa sends it
  if (encoding === "gzip") return gunzipSync(raw);
  if (encoding === undefined) return raw;
  throw new Error(`unexpected Content-Encoding ${encoding}`);
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const raw = Buffer.concat(chunks);
      const [, stage = "", machineId = ""] =
        /^\/santa\/v1\/([^/]+)\/(.*)$/.exec(req.url ?? "") ?? [];
      const text = inflated(raw, req.headers["content-encoding"]).toString("utf8");
      const recorded: Recorded = {
        method: req.method ?? "",
        path: req.url ?? "",
        stage,
        machineId: decodeURIComponent(machineId),
        headers: req.headers,
        raw,
        json: text === "" ? undefined : JSON.parse(text),
      };
      requests.push(recorded);
      const nth = requests.filter((r) => r.stage === stage).length;
      const reply = await script(recorded, nth);
      if (reply.destroy) return void req.socket.destroy();
      if (reply.hang) return;
      const body = reply.body ?? (reply.json === undefined ? "" : JSON.stringify(reply.json));
      res.writeHead(reply.status ?? 200, {
        "content-type": "application/json",
        ...reply.headers,
      });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/santa/v1/`;
});

afterEach(() => {
  requests.length = 0;
  script = () => ({ status: 500 });
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** A sync server's answers: preflight, event uploads, rule pages chained by their cursors, postflight. */
function syncServer(answers: {
  preflight?: unknown;
  pages?: readonly unknown[];
  eventupload?: (request: Recorded, nth: number) => Reply;
  postflight?: (request: Recorded, nth: number) => Reply;
}): Script {
  const byCursor = new Map<string, unknown>();
  let cursor = "";
  for (const page of answers.pages ?? [{ rules: [] }]) {
    byCursor.set(cursor, page);
    cursor = ((page as { cursor?: string }).cursor ?? "") as string;
  }
  return (request, nth) => {
    switch (request.stage) {
      case "preflight":
        return { json: answers.preflight ?? { client_mode: "MONITOR" } };
      case "eventupload":
        return answers.eventupload?.(request, nth) ?? { json: {} };
      case "ruledownload": {
        const page = byCursor.get((request.json?.cursor as string | undefined) ?? "");
        return page === undefined ? { status: 400, json: { code: "bad_cursor" } } : { json: page };
      }
      case "postflight":
        return answers.postflight?.(request, nth) ?? { json: {} };
      default:
        return { status: 404, json: { code: "not_found" } };
    }
  };
}

function agentFor(options: Partial<SantaAgentOptions> = {}): SantaAgent {
  return new SantaAgent({
    baseUrl,
    machineId: "MACHINE-1",
    token: "test-token",
    retryDelayMs: () => 0,
    ...options,
  });
}

/** Retry delays of 0 that note which attempt each was for. */
function recordingDelays(attempts: number[]): (attempt: number) => number {
  return (attempt) => {
    attempts.push(attempt);
    return 0;
  };
}

async function failure(promise: Promise<unknown>): Promise<SantaSyncError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SantaSyncError);
  return error as SantaSyncError;
}

const stages = () => requests.map((r) => r.stage);
const bodies = (stage: string) => requests.filter((r) => r.stage === stage).map((r) => r.json);

const SHA = (c: string) => c.repeat(64);
const rule = (identifier: string, policy: string, ruleType: string, more = {}) => ({
  identifier,
  policy,
  rule_type: ruleType,
  ...more,
});

// ---- the answers: Santa's fixtures when its repository is at hand -----------------------------

const fixtureAnswers =
  santaRepo.kind === "found"
    ? {
        source: "Santa's fixture answers",
        preflight: santaJson(santaRepo.gitDir, "sync_preflight_lockdown.json"),
        pages: [
          santaJson(santaRepo.gitDir, "sync_ruledownload_batch1.json"),
          santaJson(santaRepo.gitDir, "sync_ruledownload_batch2.json"),
        ],
      }
    : {
        source: "hand-written answers (CLEARANCE_SANTA_REPO is not set)",
        preflight: { client_mode: "LOCKDOWN", batch_size: 100, whitelist_regex: null },
        pages: [
          {
            rules: [
              { rule_type: "BINARY", policy: "BLOCKLIST", sha256: SHA("1"), custom_msg: "" },
              rule(SHA("2"), "ALLOWLIST", "CERTIFICATE"),
              rule("platform:com.example.tool", "ALLOWLIST", "SIGNINGID"),
            ],
            cursor: "page-2",
          },
          {
            rules: [
              rule(SHA("3"), "BLACKLIST", "CERTIFICATE", { custom_msg: "Ask first" }),
              rule("QWERTY1234", "BLOCKLIST", "TEAMID"),
            ],
          },
        ],
      };

/** The rules the pages hold, as the agent reader reads them (tested on its own in readers.test.ts). */
function rulesOf(pages: readonly unknown[]): SantaRule[] {
  return pages.flatMap((page) => {
    const read = readRuleDownloadResponse(page);
    if (!read.ok) throw new Error("unreadable page");
    return read.value.rules;
  });
}

// ---- options ----------------------------------------------------------------------------------

describe("SantaAgent options", () => {
  it("are resolved with Santa's defaults, and frozen", () => {
    const agent = new SantaAgent({ baseUrl: "https://sync.example.com/santa/v1", machineId: "M" });
    const o = agent.options;
    expect(o).toMatchObject({
      baseUrl: "https://sync.example.com/santa/v1/",
      machineId: "M",
      headers: {},
      encoding: "deflate",
      clientMode: "MONITOR",
      timeoutMs: 30_000,
      maxAttempts: 5,
      enableCleanSyncEventUpload: false,
      primaryUserGroups: [],
    });
    expect([2, 3, 4, 5].map(o.retryDelayMs)).toEqual([4000, 8000, 16000, 32000]);
    expect(Object.isFrozen(o)).toBe(true);
    expect(Object.isFrozen(o.headers)).toBe(true);
    expect(() => {
      (o as { maxAttempts: number }).maxAttempts = 1;
    }).toThrow(TypeError);
    expect(agent.clientMode).toBe("MONITOR");
  });

  it("put a token in an Authorization header", () => {
    expect(resolveAgentOptions({ baseUrl, machineId: "M", token: "t0k" }).headers).toEqual({
      authorization: "Bearer t0k",
    });
  });

  it.each([
    "http://localhost:1/",
    "http://127.0.0.1:1/",
    "http://[::1]:1/",
    "https://example.com/",
  ])("take %s, as Santa would", (url) => {
    expect(() => resolveAgentOptions({ baseUrl: url, machineId: "M" })).not.toThrow();
  });

  it.each([
    ["an unknown option", { retries: 3 }, "SantaAgent has no option `retries`"],
    [
      "a base URL that is no URL",
      { baseUrl: "sync" },
      "SantaAgent option `baseUrl` must be an http or https URL, got `sync`",
    ],
    [
      "a base URL of another scheme",
      { baseUrl: "ftp://example.com/" },
      "SantaAgent option `baseUrl` must be an http or https URL, got `ftp://example.com/`",
    ],
    [
      "plain http to another host, which Santa refuses",
      { baseUrl: "http://example.com/" },
      "SantaAgent option `baseUrl` must be https, or http to a loopback host as Santa allows, got `http://example.com/`",
    ],
    [
      "a base URL with a query",
      { baseUrl: "https://example.com/?a=1" },
      "SantaAgent option `baseUrl` must be a URL without a query or a fragment",
    ],
    [
      "an empty machine ID",
      { machineId: "" },
      "SantaAgent option `machineId` must be a non-empty single-line string",
    ],
    [
      "a token with a space",
      { token: "a b" },
      "SantaAgent option `token` must be a non-empty string without spaces or control characters",
    ],
    [
      "a token and an Authorization header",
      { token: "t", headers: { Authorization: "Basic x" } },
      "SantaAgent option `token` must be left out when `headers` has an Authorization header",
    ],
    [
      "a header Santa sets itself",
      { headers: { "Content-Type": "text/plain" } },
      "SantaAgent option `headers` must be free of `Content-Type`, which Santa does not let SyncExtraHeaders set",
    ],
    [
      "a header value over two lines",
      { headers: { "X-Org": "a\r\nb" } },
      "SantaAgent option `headers.X-Org` must be a single-line string",
    ],
    [
      "a header name with a space",
      { headers: { "X Org": "a" } },
      "SantaAgent option `headers` must be an object of header names to values, got the name `X Org`",
    ],
    [
      "an encoding it does not send",
      { encoding: "br" },
      "SantaAgent option `encoding` must be `deflate`, `gzip` or `none`",
    ],
    [
      "a client mode that is none",
      { clientMode: "PARANOID" },
      "SantaAgent option `clientMode` must be `MONITOR`, `LOCKDOWN` or `STANDALONE`",
    ],
    [
      "a host fact that is not a string",
      { serialNumber: 42 },
      "SantaAgent option `serialNumber` must be a single-line string",
    ],
    [
      "groups that are not strings",
      { primaryUserGroups: ["eng", 1] },
      "SantaAgent option `primaryUserGroups` must be a list of single-line strings",
    ],
    [
      "a zero timeout",
      { timeoutMs: 0 },
      "SantaAgent option `timeoutMs` must be a positive integer",
    ],
    [
      "a fractional number of attempts",
      { maxAttempts: 1.5 },
      "SantaAgent option `maxAttempts` must be a positive integer",
    ],
    [
      "retry delays that are not a function",
      { retryDelayMs: 100 },
      "SantaAgent option `retryDelayMs` must be a function of the attempt number",
    ],
    [
      "a dispatcher that is none",
      { dispatcher: {} },
      "SantaAgent option `dispatcher` must be an undici Dispatcher",
    ],
  ])("refuse %s with a TypeError", (_, over, message) => {
    const options = {
      baseUrl: "https://example.com/",
      machineId: "M",
      ...over,
    } as SantaAgentOptions;
    expect(() => new SantaAgent(options)).toThrow(new TypeError(message));
  });
});

// ---- a sync -----------------------------------------------------------------------------------

describe(`a sync against a scripted server (${fixtureAnswers.source})`, () => {
  const hostFacts = {
    serialNumber: "SIM0000001",
    hostname: "sim-1.example.com",
    osVersion: "15.1",
    osBuild: "24B83",
    modelIdentifier: "Mac15,7",
    santaVersion: "2026.1.1",
    primaryUser: "alice",
    primaryUserGroups: ["eng"],
  };

  it("posts each stage at its path, as zlib-deflated JSON with the token and Santa's user agent", async () => {
    script = syncServer(fixtureAnswers);
    const agent = agentFor(hostFacts);
    agent.recordExecution({ fileSha256: SHA("e") });
    await agent.sync();
    expect(stages()).toEqual([
      "preflight",
      "eventupload",
      "ruledownload",
      "ruledownload",
      "postflight",
    ]);
    for (const r of requests) {
      expect(r.method).toBe("POST");
      expect(r.path).toBe(`/santa/v1/${r.stage}/MACHINE-1`);
      expect(r.headers["content-type"]).toBe("application/json");
      expect(r.headers["content-encoding"]).toBe("deflate");
      expect(r.raw[0]).toBe(0x78); // a zlib header, not raw deflate
      expect(r.headers.authorization).toBe("Bearer test-token");
      expect(r.headers["user-agent"]).toBe("santactl-sync/2026.1.1");
    }
  });

  it("sends the host's facts in preflight, the zero values left out", async () => {
    script = syncServer(fixtureAnswers);
    await agentFor(hostFacts).sync();
    expect(bodies("preflight")).toEqual([
      {
        serial_num: "SIM0000001",
        hostname: "sim-1.example.com",
        os_version: "15.1",
        os_build: "24B83",
        model_identifier: "Mac15,7",
        santa_version: "2026.1.1",
        primary_user: "alice",
        client_mode: "MONITOR",
        machine_id: "MACHINE-1",
        primary_user_groups: ["eng"],
      },
    ]);
  });

  it("follows the cursor page by page, then applies every page's rules", async () => {
    script = syncServer(fixtureAnswers);
    const agent = agentFor();
    const report = await agent.sync();
    const firstCursor = (fixtureAnswers.pages[0] as { cursor: string }).cursor;
    expect(bodies("ruledownload")).toEqual([
      { machine_id: "MACHINE-1" },
      { cursor: firstCursor, machine_id: "MACHINE-1" },
    ]);
    const expected = rulesOf(fixtureAnswers.pages);
    expect(agent.rules()).toEqual(expected);
    const sent = fixtureAnswers.pages.flatMap((p) => (p as { rules: unknown[] }).rules).length;
    expect(report).toMatchObject({
      syncType: "NORMAL",
      pages: 2,
      rulesReceived: sent,
      rulesProcessed: expected.length,
      rulesDropped: [],
      requests: 4,
      postflightError: null,
    });
    expect(bodies("postflight")).toEqual([
      {
        rules_received: sent,
        rules_processed: expected.length,
        machine_id: "MACHINE-1",
        syncType: "NORMAL",
      },
    ]);
  });

  it("takes the preflight's mode only after postflight, as Santa does", async () => {
    const nextMode = (fixtureAnswers.preflight as { client_mode: string }).client_mode;
    let modeDuringPostflight: string | undefined;
    const agent = agentFor();
    script = syncServer({
      ...fixtureAnswers,
      postflight: () => {
        modeDuringPostflight = agent.clientMode;
        return { json: {} };
      },
    });
    const report = await agent.sync();
    expect(modeDuringPostflight).toBe("MONITOR");
    expect(agent.clientMode).toBe(nextMode);
    expect(report.clientMode).toBe(nextMode);
  });

  it("counts its rules by type in the next preflight", async () => {
    script = syncServer(fixtureAnswers);
    const agent = agentFor();
    await agent.sync();
    await agent.sync();
    const count = (type: string) => agent.rules().filter((r) => r.ruleType === type).length;
    const [, second] = bodies("preflight");
    const counts = {
      binary_rule_count: count("BINARY"),
      certificate_rule_count: count("CERTIFICATE"),
      teamid_rule_count: count("TEAMID"),
      signingid_rule_count: count("SIGNINGID"),
      cdhash_rule_count: count("CDHASH"),
    };
    expect(second).toMatchObject(
      Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0)),
    );
    expect(Object.values(counts).reduce((a, b) => a + b)).toBe(agent.rules().length);
  });

  it.each([
    ["gzip", "gzip", 0x1f],
    ["none", undefined, 0x7b],
  ])("compresses with %s when told", async (encoding, header, firstByte) => {
    script = syncServer(fixtureAnswers);
    await agentFor({ encoding: encoding as "gzip" | "none" }).sync();
    for (const r of requests) {
      expect(r.headers["content-encoding"]).toBe(header);
      expect(r.raw[0]).toBe(firstByte);
    }
  });

  it("sends extra headers, as SyncExtraHeaders", async () => {
    script = syncServer(fixtureAnswers);
    await agentFor({
      token: undefined,
      headers: { Authorization: "Bearer other", "X-Fleet": "lab" },
    }).sync();
    for (const r of requests) {
      expect(r.headers.authorization).toBe("Bearer other");
      expect(r.headers["x-fleet"]).toBe("lab");
    }
  });

  it("uploads queued events in batches of the preflight's batch size", async () => {
    script = syncServer({ preflight: { client_mode: "MONITOR", batch_size: 2 } });
    const agent = agentFor();
    for (const c of "abcde") agent.recordExecution({ fileSha256: SHA(c), fileName: c });
    const report = await agent.sync();
    const batches = bodies("eventupload") as {
      events: { file_name: string }[];
      machine_id: string;
    }[];
    expect(batches.map((b) => b.events.map((e) => e.file_name))).toEqual([
      ["a", "b"],
      ["c", "d"],
      ["e"],
    ]);
    expect(batches.every((b) => b.machine_id === "MACHINE-1")).toBe(true);
    expect(report).toMatchObject({ eventsUploaded: 5, eventBatches: 3, eventsDiscarded: 0 });
    expect(agent.pendingEvents).toBe(0);
  });

  it("uploads in batches of 50 when the server sets no batch size", async () => {
    script = syncServer({ preflight: { client_mode: "MONITOR" } });
    const agent = agentFor();
    for (let i = 0; i < 120; i++) agent.recordExecution({ fileSha256: SHA("a"), pid: i + 1 });
    await agent.sync();
    expect(bodies("eventupload").map((b) => (b!.events as unknown[]).length)).toEqual([50, 50, 20]);
  });

  it("sends each event's fields as Santa does, its decision made by the agent", async () => {
    script = syncServer({});
    const agent = agentFor();
    const before = Date.now() / 1000;
    agent.recordExecution({
      fileSha256: SHA("A"),
      filePath: "/opt/tools/bin",
      fileName: "deploy-helper",
      executingUser: "alice",
      pid: 4812,
      ppid: 1,
      signingId: "platform:com.apple.ditto",
    });
    await agent.sync();
    const [event] = (bodies("eventupload")[0]!.events as Record<string, unknown>[]) ?? [];
    expect(event).toMatchObject({
      file_sha256: SHA("a"),
      file_path: "/opt/tools/bin",
      file_name: "deploy-helper",
      executing_user: "alice",
      decision: "ALLOW_UNKNOWN",
      pid: 4812,
      ppid: 1,
      signing_id: "platform:com.apple.ditto",
    });
    expect(event!.execution_time as number).toBeGreaterThanOrEqual(before);
    expect(Object.keys(event!)).not.toContain("file_bundle_id");
  });

  it("queues a copy of a recorded event, which the caller's later changes do not reach", async () => {
    script = syncServer({});
    const agent = agentFor();
    const loggedInUsers = ["alice"];
    agent.recordExecution({ fileSha256: SHA("a"), loggedInUsers });
    loggedInUsers.push("mallory");
    await agent.sync();
    expect(bodies("eventupload")[0]).toMatchObject({ events: [{ logged_in_users: ["alice"] }] });
  });

  it("leaves events recorded during a sync for the next one", async () => {
    const agent = agentFor();
    script = syncServer({
      eventupload: () => {
        agent.recordExecution({ fileSha256: SHA("b") });
        return { json: {} };
      },
    });
    agent.recordExecution({ fileSha256: SHA("a") });
    const report = await agent.sync();
    expect(report.eventsUploaded).toBe(1);
    expect(agent.pendingEvents).toBe(1);
  });

  it("reports the bundle hashes the server asks binaries for", async () => {
    script = syncServer({
      eventupload: () => ({ json: { event_upload_bundle_binaries: [SHA("f")] } }),
    });
    const agent = agentFor();
    agent.recordExecution({ fileSha256: SHA("a") });
    expect((await agent.sync()).bundleBinaryRequests).toEqual([SHA("f")]);
  });

  it("replaces all its rules on a clean sync, with what it downloaded", async () => {
    const agent = agentFor();
    script = syncServer(fixtureAnswers);
    await agent.sync();
    expect(agent.rules().length).toBeGreaterThan(1);
    const replacement = { rules: [rule(SHA("9"), "ALLOWLIST", "BINARY")] };
    script = syncServer({
      preflight: { client_mode: "MONITOR", sync_type: "CLEAN" },
      pages: [replacement],
    });
    const report = await agent.sync();
    expect(report.syncType).toBe("CLEAN");
    expect(agent.rules()).toEqual([
      { identifier: SHA("9"), policy: "ALLOWLIST", ruleType: "BINARY" },
    ]);
    expect(bodies("postflight").at(-1)).toMatchObject({ syncType: "CLEAN" });
  });

  it.each([
    ["CLEAN_ALL", { sync_type: "CLEAN_ALL" }, "CLEAN_ALL"],
    ["the deprecated clean_sync", { clean_sync: true }, "CLEAN"],
  ])("does a clean sync when the server says %s", async (_, over, syncType) => {
    const agent = agentFor();
    script = syncServer({ pages: [{ rules: [rule(SHA("1"), "BLOCKLIST", "BINARY")] }] });
    await agent.sync();
    script = syncServer({
      preflight: { client_mode: "MONITOR", ...over },
      pages: [{ rules: [rule(SHA("2"), "BLOCKLIST", "BINARY")] }],
    });
    expect((await agent.sync()).syncType).toBe(syncType);
    expect(agent.rules().map((r) => r.identifier)).toEqual([SHA("2")]);
  });

  it("asks for a clean sync when told to", async () => {
    script = syncServer({});
    await agentFor().sync({ clean: true });
    expect(bodies("preflight")[0]).toMatchObject({ request_clean_sync: true });
  });

  it("keeps its rules when a clean sync downloads none, as Santa does", async () => {
    const agent = agentFor();
    script = syncServer({ pages: [{ rules: [rule(SHA("1"), "BLOCKLIST", "BINARY")] }] });
    await agent.sync();
    script = syncServer({
      preflight: { client_mode: "MONITOR", sync_type: "CLEAN" },
      pages: [{ rules: [] }],
    });
    await agent.sync();
    expect(agent.rules().map((r) => r.identifier)).toEqual([SHA("1")]);
  });

  it("lets a clean sync's queued events go without uploading them, as Santa does", async () => {
    script = syncServer({ preflight: { client_mode: "MONITOR", sync_type: "CLEAN" } });
    const agent = agentFor();
    agent.recordExecution({ fileSha256: SHA("a") });
    const report = await agent.sync();
    expect(stages()).not.toContain("eventupload");
    expect(report).toMatchObject({ eventsUploaded: 0, eventsDiscarded: 1 });
    expect(agent.pendingEvents).toBe(0);
  });

  it("uploads a clean sync's events when enableCleanSyncEventUpload is set", async () => {
    script = syncServer({ preflight: { client_mode: "MONITOR", sync_type: "CLEAN" } });
    const agent = agentFor({ enableCleanSyncEventUpload: true });
    agent.recordExecution({ fileSha256: SHA("a") });
    expect((await agent.sync()).eventsUploaded).toBe(1);
    expect(stages()).toContain("eventupload");
  });

  it("removes a rule on REMOVE, and passes over a REMOVE of a rule it does not have", async () => {
    const agent = agentFor();
    script = syncServer({
      pages: [
        {
          rules: [rule(SHA("1"), "BLOCKLIST", "BINARY"), rule("QWERTY1234", "ALLOWLIST", "TEAMID")],
        },
      ],
    });
    await agent.sync();
    script = syncServer({
      pages: [
        {
          rules: [
            rule(SHA("1").toUpperCase(), "REMOVE", "BINARY"),
            rule(SHA("7"), "REMOVE", "BINARY"),
            rule("QWERTY1234", "REMOVE", "CERTIFICATE"),
          ],
        },
      ],
    });
    const report = await agent.sync();
    expect(agent.rules()).toEqual([
      { identifier: "QWERTY1234", policy: "ALLOWLIST", ruleType: "TEAMID" },
    ]);
    expect(report).toMatchObject({ rulesReceived: 3, rulesProcessed: 2 });
    expect(report.rulesDropped).toHaveLength(1);
  });

  it("replaces a rule of the same type and identifier", async () => {
    const agent = agentFor();
    script = syncServer({ pages: [{ rules: [rule(SHA("1"), "BLOCKLIST", "BINARY")] }] });
    await agent.sync();
    script = syncServer({
      pages: [{ rules: [rule(SHA("1"), "ALLOWLIST", "BINARY", { custom_msg: "ok" })] }],
    });
    await agent.sync();
    expect(agent.rules()).toEqual([
      { identifier: SHA("1"), policy: "ALLOWLIST", ruleType: "BINARY", customMsg: "ok" },
    ]);
  });

  it("counts the rules it drops as received but not processed", async () => {
    script = syncServer({
      pages: [
        {
          rules: [
            rule(SHA("1"), "BLOCKLIST", "BINARY"),
            rule("QWERTY1234", "CEL", "TEAMID", { cel_expr: "true" }),
          ],
        },
      ],
    });
    const report = await agentFor().sync();
    expect(report).toMatchObject({ rulesReceived: 2, rulesProcessed: 1 });
    expect(report.rulesDropped).toEqual([
      {
        pointer: "/rules/1/policy",
        message: "`CEL` rules are not evaluated by this agent: an agent drops the rule",
      },
    ]);
    expect(bodies("postflight")[0]).toMatchObject({ rules_received: 2, rules_processed: 1 });
  });

  it("reads answers behind an XSSI prefix, compressed ones and empty ones", async () => {
    script = (request) => {
      if (request.stage === "preflight")
        return { body: `)]}'\n${JSON.stringify({ client_mode: "LOCKDOWN" })}` };
      if (request.stage === "ruledownload")
        return {
          body: gzipSync(JSON.stringify({ rules: [rule(SHA("1"), "ALLOWLIST", "BINARY")] })),
          headers: { "content-encoding": "gzip" },
        };
      return { body: "" };
    };
    const agent = agentFor();
    await agent.sync();
    expect(agent.clientMode).toBe("LOCKDOWN");
    expect(agent.rules()).toHaveLength(1);
  });

  it("runs one sync at a time", async () => {
    script = syncServer({});
    const agent = agentFor();
    const first = agent.sync();
    await expect(agent.sync()).rejects.toThrow("this agent is already syncing");
    await first;
  });
});

// ---- retries ----------------------------------------------------------------------------------

describe("retries, as Santa's dataFromRequest", () => {
  const problem = (status: number, code: string, detail: string): Reply => ({
    status,
    json: { type: "about:blank", title: "Refused", status, code, detail },
    headers: { "content-type": "application/problem+json" },
  });

  it.each([
    ["a 500", 500],
    ["a 429", 429],
    ["a 408", 408],
    ["a 302", 302],
  ])("retries %s", async (_, status) => {
    const delays: number[] = [];
    const normal = syncServer({});
    script = (request, nth) =>
      request.stage === "preflight" && nth === 1 ? { status } : normal(request, nth);
    await agentFor({ retryDelayMs: recordingDelays(delays) }).sync();
    expect(stages()).toEqual(["preflight", "preflight", "ruledownload", "postflight"]);
    expect(delays).toEqual([2]);
  });

  it("gives up after maxAttempts, with the last status", async () => {
    const delays: number[] = [];
    script = () => problem(503, "unavailable", "try later");
    const error = await failure(agentFor({ retryDelayMs: recordingDelays(delays) }).sync());
    expect(stages()).toEqual(Array(5).fill("preflight"));
    expect(delays).toEqual([2, 3, 4, 5]);
    expect(error).toMatchObject({
      stage: "preflight",
      status: 503,
      attempts: 5,
      code: "unavailable",
    });
    expect(error.message).toBe(
      "preflight was answered HTTP 503 (unavailable: try later) after 5 attempts",
    );
  });

  it("takes maxAttempts as given", async () => {
    script = () => ({ status: 500 });
    expect(await failure(agentFor({ maxAttempts: 2 }).sync())).toMatchObject({ attempts: 2 });
    expect(requests).toHaveLength(2);
  });

  it("waits between attempts as told", async () => {
    const normal = syncServer({});
    script = (request, nth) =>
      request.stage === "preflight" && nth === 1 ? { status: 500 } : normal(request, nth);
    const started = performance.now();
    await agentFor({ retryDelayMs: () => 150 }).sync();
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it.each([
    ["a 401", 401],
    ["a 404", 404],
    ["a 400", 400],
  ])("abandons at once on %s, with the problem's code and detail", async (_, status) => {
    script = () => problem(status, "machine_unknown", "no machine MACHINE-1 is enrolled");
    const error = await failure(agentFor().sync());
    expect(requests).toHaveLength(1);
    expect(error).toMatchObject({
      stage: "preflight",
      status,
      attempts: 1,
      code: "machine_unknown",
      detail: "no machine MACHINE-1 is enrolled",
      problem: { title: "Refused", status },
    });
    expect(error.message).toBe(
      `preflight was answered HTTP ${status} (machine_unknown: no machine MACHINE-1 is enrolled) after 1 attempt`,
    );
  });

  it("asks for an XSRF token on a 403 as Santa does, then abandons when there is none", async () => {
    script = (request) =>
      request.stage === "xsrf" ? { status: 404 } : problem(403, "forbidden", "no");
    const error = await failure(agentFor().sync());
    expect(requests.map((r) => r.path)).toEqual([
      "/santa/v1/preflight/MACHINE-1",
      "/santa/v1/xsrf/MACHINE-1",
    ]);
    expect(requests[1]!.raw).toHaveLength(0);
    expect(requests[1]!.headers.authorization).toBe("Bearer test-token");
    expect(error).toMatchObject({ status: 403, code: "forbidden", attempts: 1 });
  });

  it("retries a 403 with the XSRF token the server gives, and keeps sending it", async () => {
    const normal = syncServer({});
    script = (request, nth) => {
      if (request.stage === "xsrf")
        return { headers: { "X-XSRF-TOKEN": "xt-1", "X-XSRF-TOKEN-HEADER": "X-Csrf" } };
      if (request.headers["x-csrf"] !== "xt-1") return { status: 403 };
      return normal(request, nth);
    };
    await agentFor().sync();
    expect(stages()).toEqual(["preflight", "xsrf", "preflight", "ruledownload", "postflight"]);
    expect(requests.slice(2).every((r) => r.headers["x-csrf"] === "xt-1")).toBe(true);
  });

  it("retries a dropped connection, and reports one that never answers with status 0", async () => {
    const normal = syncServer({});
    script = (request, nth) =>
      request.stage === "preflight" && nth === 1 ? { destroy: true } : normal(request, nth);
    await agentFor().sync();
    expect(stages()).toEqual(["preflight", "preflight", "ruledownload", "postflight"]);

    requests.length = 0;
    script = () => ({ destroy: true });
    const error = await failure(agentFor({ maxAttempts: 3 }).sync());
    expect(error).toMatchObject({ stage: "preflight", status: 0, attempts: 3 });
    expect(error.message).toMatch(/^preflight got no answer after 3 attempts: /);
    expect(error.cause).toBeInstanceOf(Error);
  });

  it("gives up on a request that takes longer than timeoutMs, and retries it", async () => {
    const normal = syncServer({});
    script = (request, nth) =>
      request.stage === "preflight" && nth === 1 ? { hang: true } : normal(request, nth);
    const report = await agentFor({ timeoutMs: 300 }).sync();
    expect(stages()).toEqual(["preflight", "preflight", "ruledownload", "postflight"]);
    expect(report.requests).toBe(4);
  });

  it("does not retry a 200 it cannot read, and says what is wrong with it", async () => {
    script = () => ({ json: { client_mode: "MONITOR", batch_size: "many" } });
    const error = await failure(agentFor().sync());
    expect(requests).toHaveLength(1);
    expect(error).toMatchObject({
      stage: "preflight",
      status: 200,
      answerProblems: [
        { pointer: "/batch_size", message: 'should be an unsigned 32-bit integer, got `"many"`' },
      ],
    });
    expect(error.message).toBe(
      'preflight\'s answer cannot be read: /batch_size should be an unsigned 32-bit integer, got `"many"`',
    );
  });

  it("does not retry a 200 that is not JSON", async () => {
    script = () => ({ body: "<html>sign in</html>" });
    const error = await failure(agentFor().sync());
    expect(requests).toHaveLength(1);
    expect(error.message).toBe("preflight's answer is not JSON");
    expect(error.answerProblems[0]!.message).toMatch(/^is not JSON: /);
  });

  it("stops at a failed event upload, keeping the batch that failed and those after it", async () => {
    script = syncServer({
      preflight: { client_mode: "LOCKDOWN", batch_size: 1 },
      eventupload: (_, nth) => (nth === 1 ? { json: {} } : { status: 500 }),
    });
    const agent = agentFor();
    for (const c of "abc") agent.recordExecution({ fileSha256: SHA(c) });
    const error = await failure(agent.sync());
    expect(error).toMatchObject({ stage: "eventupload", status: 500, attempts: 5 });
    expect(stages()).not.toContain("ruledownload");
    expect(agent.pendingEvents).toBe(2);
    expect(agent.clientMode).toBe("MONITOR");
  });

  it("applies nothing when a rule page fails, mode included", async () => {
    const [first] = fixtureAnswers.pages;
    script = (request, nth) =>
      request.stage === "ruledownload" && nth > 1
        ? { status: 502 }
        : syncServer({ ...fixtureAnswers, pages: [first!, { rules: [] }] })(request, nth);
    const agent = agentFor();
    const error = await failure(agent.sync());
    expect(error).toMatchObject({ stage: "ruledownload", status: 502 });
    expect(agent.rules()).toEqual([]);
    expect(agent.clientMode).toBe("MONITOR");
    expect(stages()).not.toContain("postflight");
  });

  it("finishes the sync when postflight goes unanswered, and takes the new mode all the same", async () => {
    script = syncServer({
      preflight: { client_mode: "LOCKDOWN" },
      postflight: () => ({ status: 500 }),
    });
    const agent = agentFor();
    const report = await agent.sync();
    expect(report.postflightError).toMatchObject({ stage: "postflight", status: 500, attempts: 5 });
    expect(agent.clientMode).toBe("LOCKDOWN");
  });
});

// ---- decisions --------------------------------------------------------------------------------

describe("decisions with Santa's rule precedence", () => {
  const ids = {
    cdhash: "c".repeat(40),
    sha256: SHA("b"),
    signingId: "QWERTY1234:com.example.app",
    certSha256: SHA("d"),
    teamId: "QWERTY1234",
  };
  const everyKind = {
    rules: [
      rule(ids.cdhash, "ALLOWLIST", "CDHASH"),
      rule(ids.sha256, "BLOCKLIST", "BINARY"),
      rule(ids.signingId, "ALLOWLIST", "SIGNINGID"),
      rule(ids.certSha256, "SILENT_BLOCKLIST", "CERTIFICATE"),
      rule(ids.teamId, "ALLOWLIST", "TEAMID"),
    ],
  };
  const { cdhash, sha256, signingId, certSha256, teamId } = ids;

  it.each([
    ["CDHASH over every other", { cdhash, sha256, signingId, certSha256, teamId }, "ALLOW_CDHASH"],
    [
      "BINARY over SIGNINGID, CERTIFICATE and TEAMID",
      { sha256, signingId, certSha256, teamId },
      "BLOCK_BINARY",
    ],
    [
      "SIGNINGID over CERTIFICATE and TEAMID",
      { sha256: SHA("0"), signingId, certSha256, teamId },
      "ALLOW_SIGNINGID",
    ],
    [
      "CERTIFICATE over TEAMID (a silent block blocks)",
      { sha256: SHA("0"), certSha256, teamId },
      "BLOCK_CERTIFICATE",
    ],
    ["TEAMID last", { sha256: SHA("0"), teamId }, "ALLOW_TEAMID"],
    [
      "identifiers in another case, as Santa stores them",
      { sha256: SHA("B"), teamId: "qwerty1234" },
      "BLOCK_BINARY",
    ],
    [
      "the mode when no rule matches",
      { sha256: SHA("0"), signingId: "platform:com.apple.ls" },
      "ALLOW_UNKNOWN",
    ],
  ])("applies %s", async (_, execution, decision) => {
    script = syncServer({ pages: [everyKind] });
    const agent = agentFor();
    await agent.sync();
    expect(agent.decide(execution)).toBe(decision);
    expect(agent.wouldRun(execution)).toBe(decision.startsWith("ALLOW") ? "allow" : "block");
  });

  it.each([
    ["MONITOR", "allow"],
    ["LOCKDOWN", "block"],
    ["STANDALONE", "block"],
  ])("falls back to the mode: %s", async (mode, verdict) => {
    const agent = agentFor({ clientMode: mode as "MONITOR" });
    expect(agent.wouldRun({ sha256: SHA("0") })).toBe(verdict);
  });

  it("decides recorded executions it is not told the decision of", async () => {
    script = syncServer({ pages: [everyKind] });
    const agent = agentFor();
    await agent.sync();
    expect(agent.recordExecution({ fileSha256: sha256 }).decision).toBe("BLOCK_BINARY");
    expect(
      agent.recordExecution({
        fileSha256: SHA("0"),
        signingChain: [
          { sha256: certSha256, cn: "", org: "", ou: "", validFrom: 0, validUntil: 0 },
        ],
      }).decision,
    ).toBe("BLOCK_CERTIFICATE");
    expect(agent.recordExecution({ fileSha256: SHA("0"), decision: "ALLOW_SCOPE" }).decision).toBe(
      "ALLOW_SCOPE",
    );
  });

  it.each([
    [
      "a hash that is not a SHA-256",
      { fileSha256: "abc" },
      "an event's `fileSha256` must be a SHA-256 (64 hex digits)",
    ],
    [
      "a field events do not have",
      { fileSha256: SHA("a"), sha256: SHA("a") },
      "an event has no field `sha256`",
    ],
  ])("refuses to record %s", (_, event, message) => {
    expect(() => agentFor().recordExecution(event as { fileSha256: string })).toThrow(
      new TypeError(message),
    );
  });

  it("refuses to decide an execution with a field executions do not have", () => {
    expect(() => agentFor().decide({ sha256: SHA("a"), path: "/bin/ls" } as never)).toThrow(
      new TypeError("an execution has no field `path`"),
    );
  });
});

// ---- many agents ------------------------------------------------------------------------------

describe("many agents", () => {
  it("syncs a thousand agents at once over one shared connection pool", async () => {
    script = syncServer({ pages: [{ rules: [rule(SHA("1"), "BLOCKLIST", "BINARY")] }] });
    const dispatcher = new Agent({ connections: 32 });
    try {
      const agents = Array.from({ length: 1000 }, (_, i) =>
        agentFor({ machineId: `MACHINE-${i}`, dispatcher, clientMode: "LOCKDOWN" }),
      );
      for (const agent of agents) agent.recordExecution({ fileSha256: SHA("2") });
      const reports = await Promise.all(agents.map((agent) => agent.sync()));
      expect(reports.every((r) => r.eventsUploaded === 1 && r.rulesProcessed === 1)).toBe(true);
      expect(agents.every((a) => a.wouldRun({ sha256: SHA("1") }) === "block")).toBe(true);
      expect(requests).toHaveLength(4000);
      expect(new Set(requests.map((r) => r.machineId)).size).toBe(1000);
    } finally {
      await dispatcher.close();
    }
  });
});
