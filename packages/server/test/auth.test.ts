import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { bearerToken, createApiKey, hasScope, isLoopback, KeyRing } from "../src/auth.js";
import { resolveConfig } from "../src/config.js";
import { checkExposure } from "../src/server.js";
import { example, makeApp, type TestApp } from "./helpers.js";

const ci = createApiKey();
const soc = createApiKey();
const admin = createApiKey();

describe("API keys", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp({
      auth: {
        keys: [
          { id: "ci", scopes: ["decide"], sha256: ci.sha256 },
          { id: "soc", scopes: ["audit:read"], sha256: soc.sha256 },
          { id: "ops", scopes: ["admin"], sha256: admin.sha256 },
        ],
      },
    });
  });
  afterAll(() => t.close());

  const decide = (authorization?: string) =>
    t.app.inject({
      method: "POST",
      url: "/v1/decisions",
      payload: { result: example("malware") },
      headers: authorization === undefined ? {} : { authorization },
    });

  test.each([
    ["no header", undefined, "send an API key"],
    ["another scheme", `Basic ${Buffer.from("a:b").toString("base64")}`, "send an API key"],
    ["an unknown key", `Bearer ${createApiKey().secret}`, "not valid"],
    ["a key with a typo", `Bearer ${ci.secret.slice(0, -1)}x`, "not valid"],
  ])("%s: 401 with a challenge, nothing recorded", async (_name, header, detail) => {
    const res = await decide(header);
    expect(res.statusCode).toBe(401);
    expect(res.headers["www-authenticate"]).toMatch(/^Bearer/);
    expect(res.json()).toMatchObject({ code: "unauthorized" });
    expect(res.json().detail).toContain(detail);
    expect((await t.services.audit.query({}, 10)).entries).toHaveLength(0);
  });

  test("a key without the scope: 403 naming the missing scope", async () => {
    const res = await decide(`Bearer ${soc.secret}`);
    expect(res.statusCode).toBe(403);
    expect(res.json().detail).toBe("this key (`soc`) lacks the `decide` scope");
    const reload = await t.app.inject({
      method: "POST",
      url: "/v1/ruleset/reload",
      headers: { authorization: `Bearer ${ci.secret}` },
    });
    expect(reload.statusCode).toBe(403);
    expect(reload.json().detail).toContain("`admin`");
  });

  test("the key id is recorded as the requester; audit:read reads it; admin may do everything", async () => {
    const res = await decide(`Bearer ${ci.secret}`);
    expect(res.statusCode).toBe(200);
    const read = await t.app.inject({
      url: `/v1/audit/${res.json().decisionId}`,
      headers: { authorization: `Bearer ${soc.secret}` },
    });
    expect(read.json().entry.requester).toBe("ci");
    const denied = await t.app.inject({
      url: "/v1/audit",
      headers: { authorization: `Bearer ${ci.secret}` },
    });
    expect(denied.statusCode).toBe(403);
    for (const [method, url] of [
      ["POST", "/v1/ruleset/reload"],
      ["GET", "/v1/audit"],
      ["POST", "/v1/audit/verify"],
    ] as const) {
      const r = await t.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${admin.secret}` },
      });
      expect(r.statusCode, url).toBe(200);
    }
  });

  test("health, readiness, metrics and the OpenAPI document need no key", async () => {
    for (const url of ["/healthz", "/readyz", "/metrics", "/openapi.json"])
      expect((await t.app.inject({ url })).statusCode, url).toBe(200);
  });
});

describe("key handling", () => {
  test("a new key is random, prefixed, and only its hash goes in the config", () => {
    const a = createApiKey();
    const b = createApiKey();
    expect(a.secret).toMatch(/^clr_[A-Za-z0-9_-]{43}$/);
    expect(a.secret).not.toBe(b.secret);
    expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    const ring = new KeyRing([{ id: "x", scopes: ["decide"], sha256: a.sha256 }]);
    expect(ring.find(a.secret)?.id).toBe("x");
    expect(ring.find(b.secret)).toBeUndefined();
    expect(ring.find(a.sha256)).toBeUndefined();
  });

  test.each([
    ["Bearer abc", "abc"],
    ["bearer   abc  ", "abc"],
    ["Bearer", undefined],
    ["Bearer a b", undefined],
    ["Token abc", undefined],
  ])("bearerToken(%j) = %j", (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  test("admin implies every scope", () => {
    expect(hasScope(["admin"], "audit:read")).toBe(true);
    expect(hasScope(["decide"], "audit:read")).toBe(false);
  });

  test.each([
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["::1", true],
    ["localhost", true],
    ["0.0.0.0", false],
    ["::", false],
    ["10.0.0.5", false],
  ])("isLoopback(%s) = %s", (host, loopback) => {
    expect(isLoopback(host)).toBe(loopback);
  });

  test("without keys the server refuses to listen beyond loopback", () => {
    expect(() => checkExposure(resolveConfig({ server: { host: "0.0.0.0" } }))).toThrow(
      /refusing to listen on `0.0.0.0` without API keys/,
    );
    expect(() => checkExposure(resolveConfig({}))).not.toThrow();
    const key = createApiKey();
    expect(() =>
      checkExposure(
        resolveConfig({
          server: { host: "0.0.0.0" },
          auth: { keys: [{ id: "a", scopes: ["decide"], sha256: key.sha256 }] },
        }),
      ),
    ).not.toThrow();
  });
});

describe("a server without keys or sign-in answers loopback names only (DNS rebinding)", () => {
  let open: TestApp;
  let keyed: TestApp;
  const key = createApiKey();
  beforeAll(async () => {
    open = await makeApp();
    keyed = await makeApp({
      auth: { keys: [{ id: "soc", scopes: ["audit:read"], sha256: key.sha256 }] },
    });
  });
  afterAll(async () => {
    await open.close();
    await keyed.close();
  });

  test.each([
    ["localhost:8080", 200],
    ["127.0.0.1:8080", 200],
    ["127.1.2.3", 200],
    ["[::1]:8080", 200],
    ["rebound.attacker.example:8080", 403],
    ["127.0.0.1.nip.io:8080", 403],
    ["10.0.0.5:8080", 403],
  ])("Host %s: %i", async (host, status) => {
    const res = await open.app.inject({ url: "/v1/audit", headers: { host } });
    expect(res.statusCode).toBe(status);
    if (status === 403)
      expect(res.json()).toMatchObject({
        code: "host_not_allowed",
        detail: `this server has no API keys and no sign-in, so it answers only requests addressed to a loopback name (\`localhost\`, \`127.0.0.1\`, \`[::1]\`), not \`${host.replace(/:\d+$/, "")}\``,
      });
  });

  test("a vote from a rebound page is refused before anything is read or recorded", async () => {
    const before = (await open.services.audit.query({}, 10)).entries.length;
    const res = await open.app.inject({
      method: "POST",
      url: "/v1/decisions",
      headers: { host: "rebound.attacker.example" },
      payload: { result: example("malware") },
    });
    expect(res.statusCode).toBe(403);
    expect((await open.services.audit.query({}, 10)).entries).toHaveLength(before);
  });

  test("a server with keys authenticates every request instead, whatever its Host", async () => {
    const res = await keyed.app.inject({
      url: "/v1/audit",
      headers: { host: "clearance.example.org", authorization: `Bearer ${key.secret}` },
    });
    expect(res.statusCode).toBe(200);
  });
});
