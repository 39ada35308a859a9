// The Santa sync server over HTTP (inject) on SQLite: tokens and groups, each stage's answers, the
// rules that decisions become, incremental and clean syncs, and bad requests refused clearly
// without anything lost. Bodies are shaped as Santa's santasyncservice writes them
// (protobuf's JSON names; docs/endpoints.md).
import { createHash, createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync, gzipSync } from "node:zlib";
import { afterEach, describe, expect, test } from "vitest";
import { createApiKey } from "../src/auth.js";
import { example, makeApp, type TestApp } from "./helpers.js";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");
const TOKENS = {
  eng: "enroll-engineering-0123456789",
  fin: "enroll-finance-0123456789abc",
  own: "machine-own-token-0123456789",
};
const SANTA = {
  enabled: true,
  groups: [
    { name: "engineering", mode: "monitor", tokens: [sha(TOKENS.eng)], batchSize: 25 },
    { name: "finance", mode: "lockdown", tokens: [sha(TOKENS.fin)] },
  ],
  machines: [{ id: "OWN-MACHINE", group: "finance", sha256: sha(TOKENS.own) }],
  rulesPerDownload: 2,
};

const apps: TestApp[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

async function santaApp(extra: Record<string, unknown> = {}, config: Record<string, unknown> = {}) {
  const t = await makeApp({ ...config, santa: { ...SANTA, ...extra } } as Record<string, unknown>);
  apps.push(t);
  return t;
}

interface Sent {
  token?: string;
  encoding?: "deflate" | "gzip";
  body?: unknown;
  raw?: Buffer;
}

async function post(t: TestApp, stage: string, machine: string, sent: Sent) {
  const json = Buffer.from(JSON.stringify(sent.body ?? {}));
  const payload =
    sent.raw ??
    (sent.encoding === "deflate"
      ? deflateSync(json)
      : sent.encoding === "gzip"
        ? gzipSync(json)
        : json);
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (sent.token !== undefined) headers.authorization = `Bearer ${sent.token}`;
  if (sent.encoding) headers["content-encoding"] = sent.encoding;
  const res = await t.app.inject({
    method: "POST",
    url: `/santa/v1/${stage}/${encodeURIComponent(machine)}`,
    headers,
    payload,
  });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

/** A file decided once through the API (so the server holds its analysis): its SHA-256. */
async function decided(t: TestApp, name: string, key?: string): Promise<string> {
  const result = example(name);
  const res = await t.app.inject({
    method: "POST",
    url: "/v1/decisions",
    payload: { result },
    ...(key ? { headers: { authorization: `Bearer ${key}` } } : {}),
  });
  expect(res.statusCode).toBe(200);
  return (result.sha256 as string).toLowerCase();
}

function execution(sha256: string, extra: Record<string, unknown> = {}) {
  return {
    file_sha256: sha256,
    file_path: "/Applications/Tool.app/Contents/MacOS",
    file_name: "Tool",
    executing_user: "alice",
    execution_time: 1764936000.25,
    decision: "BLOCK_UNKNOWN",
    pid: 4242,
    ppid: 1,
    ...extra,
  };
}

async function sync(t: TestApp, machine: string, token: string, events: unknown[] = []) {
  const pre = await post(t, "preflight", machine, {
    token,
    encoding: "deflate",
    body: {
      machine_id: machine,
      serial_num: "SERIAL",
      hostname: `${machine}.example`,
      client_mode: "MONITOR",
    },
  });
  expect(pre.status, JSON.stringify(pre.body)).toBe(200);
  if (events.length > 0) {
    const up = await post(t, "eventupload", machine, {
      token,
      encoding: "deflate",
      body: { machine_id: machine, events },
    });
    expect(up.status, JSON.stringify(up.body)).toBe(200);
  }
  const rules: Record<string, unknown>[] = [];
  let cursor = "";
  let pages = 0;
  do {
    const down = await post(t, "ruledownload", machine, {
      token,
      encoding: "gzip",
      body: { machine_id: machine, ...(cursor ? { cursor } : {}) },
    });
    expect(down.status, JSON.stringify(down.body)).toBe(200);
    rules.push(...(down.body.rules as Record<string, unknown>[]));
    cursor = down.body.cursor as string;
    pages++;
  } while (cursor !== "" && pages < 100);
  const post_ = await post(t, "postflight", machine, {
    token,
    body: { machine_id: machine, rules_received: rules.length, rules_processed: rules.length },
  });
  expect(post_.status).toBe(200);
  return { preflight: pre.body, rules, pages };
}

describe("Santa sync", () => {
  test("a machine enrolls with its group's token and is told the group's mode", async () => {
    const t = await santaApp();
    const first = await sync(t, "MAC-1", TOKENS.fin);
    expect(first.preflight).toMatchObject({
      client_mode: "LOCKDOWN",
      sync_type: "CLEAN",
      batch_size: 50,
      full_sync_interval: 600,
    });
    const second = await sync(t, "MAC-1", TOKENS.fin);
    expect(second.preflight.sync_type).toBe("NORMAL");
    const machine = await t.services.audit.store.santa.machine("MAC-1");
    expect(machine).toMatchObject({
      group: "finance",
      hostname: "MAC-1.example",
      serial: "SERIAL",
    });
    expect(machine?.lastSyncAt).not.toBeNull();
  });

  test("executions are decided and become rules, in pages, incrementally", async () => {
    const t = await santaApp();
    const good = await decided(t, "signed-microsoft");
    const bad = await decided(t, "malware");
    const unknown = "ab".repeat(32);
    await sync(t, "MAC-2", TOKENS.eng); // enrolled, nothing yet
    const s = await sync(t, "MAC-2", TOKENS.eng, [
      execution(good),
      execution(bad, { executing_user: "bob" }),
      execution(unknown),
    ]);
    // the rules changed after this sync's preflight: they come with the next one
    expect(s.rules).toEqual([]);
    const next = await sync(t, "MAC-2", TOKENS.eng);
    expect(next.preflight.sync_type).toBe("NORMAL");
    const byId = Object.fromEntries(next.rules.map((r) => [r.identifier, r]));
    expect(byId[good]).toMatchObject({ policy: "ALLOWLIST", rule_type: "BINARY" });
    expect(byId[bad]).toMatchObject({ policy: "BLOCKLIST", rule_type: "BINARY" });
    expect(String(byId[bad]?.custom_msg)).not.toBe("");
    // a file without an analysis is decided on what the agent said; no allow or block rule
    expect(byId[unknown]).toBeUndefined();
    expect(next.pages).toBe(1);
    // nothing new since: an empty download
    expect((await sync(t, "MAC-2", TOKENS.eng)).rules).toEqual([]);
    // another machine of the group gets them all on its first (clean) sync, two per page
    const other = await sync(t, "MAC-3", TOKENS.eng);
    expect(other.preflight.sync_type).toBe("CLEAN");
    expect(other.rules.map((r) => r.identifier).sort()).toEqual([good, bad].sort());
    // the decisions are in the log, with the machine and user as requester
    const log = await t.app.inject({ method: "GET", url: `/v1/audit?sha256=${bad}` });
    const items = (log.json() as { entries: Record<string, unknown>[] }).entries;
    expect(items.some((d) => d.source === "santa" && d.requester === "santa:bob@MAC-2")).toBe(true);
  });

  test("an upload sent again is not decided again", async () => {
    const t = await santaApp();
    const bad = await decided(t, "malware");
    await sync(t, "MAC-4", TOKENS.eng);
    const events = [execution(bad), execution(bad)]; // listed twice, then sent again
    await sync(t, "MAC-4", TOKENS.eng, events);
    await sync(t, "MAC-4", TOKENS.eng, events);
    const log = await t.app.inject({ method: "GET", url: `/v1/audit?sha256=${bad}&source=santa` });
    expect((log.json() as { entries: unknown[] }).entries).toHaveLength(1);
  });

  test("a group's rules never reach another group's machines", async () => {
    const t = await santaApp();
    const bad = await decided(t, "malware");
    await sync(t, "ENG-1", TOKENS.eng, [execution(bad)]);
    const fin = await sync(t, "FIN-1", TOKENS.fin);
    expect(fin.rules).toEqual([]);
    const eng = await sync(t, "ENG-2", TOKENS.eng);
    expect(eng.rules.map((r) => r.identifier)).toEqual([bad]);
  });

  test.each([
    ["no token", {}, 401, "agent_unauthorized"],
    ["an unknown token", { token: "not-a-token-of-this-server" }, 401, "agent_unauthorized"],
    ["another machine's own token", { token: TOKENS.own }, 403, "agent_forbidden"],
  ])("%s is refused", async (_what, sent, status, code) => {
    const t = await santaApp();
    const r = await post(t, "preflight", "MAC-5", { ...sent, body: { machine_id: "MAC-5" } });
    expect(r.status).toBe(status);
    expect(r.body.code).toBe(code);
    expect(await t.services.audit.store.santa.machine("MAC-5")).toBeUndefined();
  });

  test("the fleet: machines with their sync state, over the API", async () => {
    const t = await santaApp();
    const bad = await decided(t, "malware");
    await sync(t, "FLEET-1", TOKENS.eng, [execution(bad)]);
    await sync(t, "FLEET-2", TOKENS.eng);
    await post(t, "preflight", "FLEET-3", { token: TOKENS.fin, body: {} });
    const list = await t.app.inject({ method: "GET", url: "/v1/santa/machines?limit=2" });
    expect(list.statusCode).toBe(200);
    const page = list.json() as { machines: Record<string, unknown>[]; nextCursor: string };
    expect(page.machines.map((m) => m.id)).toEqual(["FLEET-1", "FLEET-2"]);
    expect(page.nextCursor).toBe("FLEET-2");
    // FLEET-1 reported the file after its preflight: the rule came after its sync's target
    expect(page.machines[0]).toMatchObject({
      group: "engineering",
      rulesBehind: 1,
      eventsReceived: 1,
    });
    expect(page.machines[1]).toMatchObject({ rulesBehind: 0, syncing: null });
    const rest = await t.app.inject({ method: "GET", url: "/v1/santa/machines?cursor=FLEET-2" });
    expect((rest.json() as { machines: Record<string, unknown>[] }).machines).toMatchObject([
      { id: "FLEET-3", group: "finance", syncing: "CLEAN", lastSyncAt: null },
    ]);
    const one = await t.app.inject({ method: "GET", url: "/v1/santa/machines/FLEET-1" });
    expect(one.json()).toMatchObject({
      id: "FLEET-1",
      hostname: "FLEET-1.example",
      rules: [{ ruleType: "BINARY", policy: "BLOCKLIST", rules: 1 }],
    });
    const none = await t.app.inject({ method: "GET", url: "/v1/santa/machines/NOPE" });
    expect(none.statusCode).toBe(404);
    const metrics = await t.app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toContain(
      'clearance_santa_machines{group="engineering",mode="monitor"} 2',
    );
    expect(metrics.body).toContain('clearance_santa_rules_behind{group="engineering"} 1');
    expect(metrics.body).toContain('clearance_santa_machines_never_synced{group="finance"} 1');
    expect(metrics.body).toContain('clearance_santa_machines_never_synced{group="engineering"} 0');
    expect(metrics.body).toContain(
      'clearance_santa_events_total{group="engineering",decision="deny"} 1',
    );
  });

  test("feeds: a group's allow and block lists, polled by ETag, signed", async () => {
    const keyFile = join(tmpdir(), `clearance-feed-${process.pid}.pem`);
    const { privateKey } = generateKeyPairSync("ed25519");
    writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }));
    const reader = createApiKey();
    const t = await santaApp(
      { feedSigningKey: keyFile },
      { auth: { keys: [{ id: "soc", scopes: ["decide", "audit:read"], sha256: reader.sha256 }] } },
    );
    rmSync(keyFile);
    const good = await decided(t, "signed-microsoft", reader.secret);
    const bad = await decided(t, "malware", reader.secret);
    await sync(t, "FEED-1", TOKENS.eng, [execution(good), execution(bad)]);
    const get = (path: string, token: string, headers: Record<string, string> = {}) =>
      t.app.inject({
        method: "GET",
        url: `/v1/feeds/${path}`,
        headers: { authorization: `Bearer ${token}`, ...headers },
      });
    const allow = await get("engineering/allow.txt", TOKENS.eng);
    expect(allow.statusCode).toBe(200);
    expect(allow.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(allow.body).toBe(`${good}\n`);
    const block = await get("engineering/block.json", reader.secret);
    expect(block.json()).toEqual({
      group: "engineering",
      list: "block",
      revision: 2,
      sha256: [bad],
    });
    // unchanged since: 304 without a body
    const again = await get("engineering/allow.txt", TOKENS.eng, {
      "if-none-match": String(allow.headers.etag),
    });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe("");
    // the detached signature checks out with the published key, over the exact bytes
    const sig = await get("engineering/allow.txt.sig", TOKENS.eng);
    const pem = await t.app.inject({ method: "GET", url: "/v1/feeds/key.pem" });
    expect(pem.statusCode).toBe(200);
    const publicKey = createPublicKey(pem.body);
    expect(verify(null, allow.rawPayload, publicKey, Buffer.from(sig.body.trim(), "base64"))).toBe(
      true,
    );
    expect(
      verify(null, Buffer.from(`${bad}\n`), publicKey, Buffer.from(sig.body.trim(), "base64")),
    ).toBe(false);
    // another group's token reads only its own group's lists
    const other = await get("engineering/allow.txt", TOKENS.fin);
    expect(other.statusCode).toBe(403);
    expect(other.json().detail).toBe(
      "this token is group `finance`'s: it cannot read group `engineering`'s lists",
    );
    expect((await get("finance/allow.txt", TOKENS.fin)).body).toBe("");
    expect((await get("nobody/allow.txt", reader.secret)).statusCode).toBe(404);
    expect(
      (await t.app.inject({ method: "GET", url: "/v1/feeds/engineering/allow.txt" })).statusCode,
    ).toBe(401);
  });

  test("signer exceptions are CERTIFICATE rules, for their group or all; revoked, they go", async () => {
    const t = await santaApp();
    const leaf = "c".repeat(64);
    const other = "d".repeat(64);
    const exception = async (
      scope: Record<string, string>,
      status: string,
      context?: Record<string, string>,
    ) => {
      const res = await t.app.inject({
        method: "POST",
        url: "/v1/exceptions",
        payload: {
          status,
          scope,
          ...(context ? { context } : {}),
          justification: "the vendor's signing certificate",
          by: "alice",
        },
      });
      expect(res.statusCode, res.body).toBe(201);
      return (res.json() as { id: string }).id;
    };
    const everywhere = await exception({ signer: leaf }, "approved");
    await exception({ signer: other }, "rejected", { group: "finance" });
    // a thumbprint that is not a SHA-256 (Authenticode's SHA-1) names no Santa certificate
    await exception({ signer: "e".repeat(40) }, "approved");
    const eng = await sync(t, "CERT-ENG", TOKENS.eng);
    const fin = await sync(t, "CERT-FIN", TOKENS.fin);
    expect(eng.rules).toEqual([
      { identifier: leaf, policy: "ALLOWLIST", rule_type: "CERTIFICATE" },
    ]);
    expect(fin.rules).toEqual(
      expect.arrayContaining([
        { identifier: leaf, policy: "ALLOWLIST", rule_type: "CERTIFICATE" },
        {
          identifier: other,
          policy: "BLOCKLIST",
          rule_type: "CERTIFICATE",
          custom_msg: "the vendor's signing certificate",
        },
      ]),
    );
    expect(fin.rules).toHaveLength(2);
    const revoked = await t.app.inject({
      method: "DELETE",
      url: `/v1/exceptions/${everywhere}`,
      payload: { justification: "the certificate leaked", by: "alice" },
    });
    expect(revoked.statusCode).toBe(200);
    // the next preflight sees the exceptions changed, and its download takes the rule away
    const after = await sync(t, "CERT-ENG", TOKENS.eng);
    expect(after.rules).toEqual([{ identifier: leaf, policy: "REMOVE", rule_type: "CERTIFICATE" }]);
  });

  test("a machine stays in the group it enrolled in", async () => {
    const t = await santaApp();
    await sync(t, "MAC-6", TOKENS.eng);
    const r = await post(t, "preflight", "MAC-6", { token: TOKENS.fin, body: {} });
    expect(r.status).toBe(403);
    expect(r.body.detail).toBe(
      "machine `MAC-6` is registered in group `engineering`: a token of group `finance` cannot sync it",
    );
    // a machine with a token of its own syncs only with it
    const own = await post(t, "preflight", "OWN-MACHINE", { token: TOKENS.fin, body: {} });
    expect(own.status).toBe(403);
    expect(
      (await post(t, "preflight", "OWN-MACHINE", { token: TOKENS.own, body: {} })).status,
    ).toBe(200);
  });

  test.each([
    [
      "a field of the wrong type",
      { body: { machine_id: "MAC-7", client_mode: 7.5 } },
      400,
      "invalid_request",
    ],
    [
      "another machine id in the body",
      { body: { machine_id: "SOMEONE-ELSE" } },
      400,
      "invalid_request",
    ],
    ["a body that is not JSON", { raw: Buffer.from("{not json") }, 400, "malformed_json"],
    [
      "corrupt deflate data",
      { raw: Buffer.from("xx garbage"), encoding: "deflate" },
      400,
      "malformed_json",
    ],
  ] as const)("%s is a clear error", async (_what, sent, status, code) => {
    const t = await santaApp();
    const r = await post(t, "preflight", "MAC-7", { token: TOKENS.eng, ...sent } as Sent);
    expect(r.status).toBe(status);
    expect(r.body.code).toBe(code);
  });

  test("a machine id past the longest the API takes is a problem document, not the router's own", async () => {
    const t = await santaApp();
    const long = await post(t, "preflight", "M".repeat(129), { token: TOKENS.eng, body: {} });
    expect(long.status).toBe(400);
    expect(long.body).toMatchObject({
      code: "invalid_request",
      detail: "a path segment is longer than 128 characters",
    });
    expect(
      (await post(t, "preflight", "M".repeat(128), { token: TOKENS.eng, body: {} })).status,
    ).toBe(200);
  });

  test("a body that inflates past the limit is refused before it is read", async () => {
    const t = await santaApp({ bodyLimit: 64 * 1024 });
    const bomb = deflateSync(Buffer.alloc(16 * 1024 * 1024, 0x20));
    const r = await post(t, "eventupload", "MAC-8", {
      token: TOKENS.eng,
      raw: bomb,
      encoding: "deflate",
    });
    expect(r.status).toBe(413);
    expect(r.body.detail).toBe("the body inflates to more than 65536 bytes (`santa.bodyLimit`)");
  });

  test("an upload with more events than allowed is refused whole", async () => {
    const t = await santaApp({ maxEventsPerUpload: 2 });
    const events = [1, 2, 3].map((i) => execution("cd".repeat(32), { pid: i }));
    await sync(t, "MAC-9", TOKENS.eng);
    const r = await post(t, "eventupload", "MAC-9", {
      token: TOKENS.eng,
      body: { machine_id: "MAC-9", events },
    });
    expect(r.status).toBe(413);
    expect(r.body.code).toBe("batch_too_large");
    const log = await t.app.inject({ method: "GET", url: "/v1/audit?source=santa" });
    expect((log.json() as { entries: unknown[] }).entries).toEqual([]);
  });

  test("a cursor this server did not give is refused", async () => {
    const t = await santaApp();
    await sync(t, "MAC-10", TOKENS.eng);
    await post(t, "preflight", "MAC-10", { token: TOKENS.eng, body: {} });
    const r = await post(t, "ruledownload", "MAC-10", {
      token: TOKENS.eng,
      body: { cursor: "not-a-cursor" },
    });
    expect(r.status).toBe(400);
    expect(r.body.detail).toBe(
      "cursor `not-a-cursor` is not one this server gave for this sync: start again from the preflight",
    );
  });

  test("a review approved by two people reaches every machine of the group; revoked, it is gone", async () => {
    const t = await santaApp({}, { reviews: { approvalsRequired: 2 } });
    const unknown = "ef".repeat(32);
    for (const m of ["R-1", "R-2", "R-3"]) await sync(t, m, TOKENS.eng);
    await sync(t, "R-1", TOKENS.eng, [execution(unknown, { executing_user: "carol" })]);
    await sync(t, "R-2", TOKENS.eng, [execution(unknown, { executing_user: "dave", pid: 7 })]);
    // one case for the file, asked by both machines' users
    const cases = await t.app.inject({ method: "GET", url: `/v1/reviews?sha256=${unknown}` });
    const open = (cases.json() as { cases: Record<string, unknown>[] }).cases;
    expect(open).toHaveLength(1);
    const caseId = open[0]!.id as string;
    const vote = (voter: string) =>
      t.app.inject({
        method: "POST",
        url: `/v1/reviews/${caseId}/votes`,
        payload: { vote: "approve", justification: "the team's build tool", voter },
      });
    expect((await vote("alice")).statusCode).toBe(201);
    expect((await sync(t, "R-3", TOKENS.eng)).rules).toEqual([]);
    expect((await vote("bob")).statusCode).toBe(201);
    // every machine of the group, those that ran it and the one that did not, gets the rule
    for (const m of ["R-1", "R-2", "R-3"]) {
      const s = await waitForRule(t, m, unknown);
      expect(s).toMatchObject({ identifier: unknown, policy: "ALLOWLIST", rule_type: "BINARY" });
    }
    const exceptions = await t.app.inject({
      method: "GET",
      url: `/v1/exceptions?sha256=${unknown}`,
    });
    const exception = (exceptions.json() as { exceptions: Record<string, unknown>[] })
      .exceptions[0]!;
    const revoked = await t.app.inject({
      method: "DELETE",
      url: `/v1/exceptions/${exception.id}`,
      payload: { justification: "no longer needed", by: "alice" },
    });
    expect(revoked.statusCode).toBe(200);
    for (const m of ["R-1", "R-3"]) {
      const s = await waitForRule(t, m, unknown);
      expect(s).toMatchObject({ identifier: unknown, policy: "REMOVE" });
    }
  });
});

/** Syncs `machine` until a rule for `sha256` comes down (re-decisions are made in the background). */
async function waitForRule(t: TestApp, machine: string, sha256: string) {
  const token = machine.startsWith("R-") ? TOKENS.eng : TOKENS.fin;
  for (let i = 0; i < 50; i++) {
    const s = await sync(t, machine, token);
    const rule = s.rules.find((r) => r.identifier === sha256);
    if (rule) return rule;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no rule for ${sha256} reached ${machine}`);
}
