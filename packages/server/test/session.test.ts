import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parse as parseYaml } from "yaml";
import { createApiKey } from "../src/auth.js";
import { ConfigError, resolveConfig } from "../src/config.js";
import { checkExposure } from "../src/server.js";
import {
  mapClaims,
  newSession,
  openSession,
  readCookie,
  Sealer,
  type Session,
} from "../src/session.js";
import { example, makeApp, REPO, type TestApp } from "./helpers.js";

const TIMES = { ttlMs: 8 * 3_600_000, idleMs: 3_600_000 };
const T0 = Date.parse("2026-12-01T10:00:00Z");

describe("sealed session cookies", () => {
  const sealer = new Sealer("a session secret of at least 32 chars");
  const session = newSession(
    {
      identity: "user:alice@example.com",
      name: "alice@example.com",
      via: "oidc",
      scopes: ["review"],
    },
    TIMES,
    T0,
  );
  const sealed = sealer.seal("session", session);

  test("a sealed session opens with the same key, and only then", () => {
    expect(openSession(sealer, sealed, TIMES, T0 + 1_000)).toEqual({ ok: true, session });
    // the cookie says nothing readable: no identity, no scope, no token
    expect(sealed).not.toContain("alice");
    expect(Buffer.from(sealed, "base64url").toString("latin1")).not.toContain("alice");
  });

  const flip = (text: string, at: number) => {
    const raw = Buffer.from(text, "base64url");
    raw[at]! ^= 1;
    return raw.toString("base64url");
  };
  test.each([
    ["one bit of the ciphertext changed", () => flip(sealed, 20)],
    ["one bit of the tag changed", () => flip(sealed, Buffer.from(sealed, "base64url").length - 1)],
    ["one bit of the IV changed", () => flip(sealed, 0)],
    ["cut short", () => sealed.slice(0, -4)],
    [
      "sealed with another key",
      () => new Sealer("another secret of at least 32 chars").seal("session", session),
    ],
    ["a login transaction, not a session", () => sealer.seal("login", session)],
    ["not base64url", () => `${sealed.slice(0, 40)}!`],
    ["empty", () => ""],
    ["a sealed value that is not a session", () => sealer.seal("session", { identity: "x" })],
    [
      "a session with a scope that does not exist",
      () => sealer.seal("session", { ...session, scopes: ["root"] }),
    ],
  ])("%s: not a session", (_name, make) => {
    expect(openSession(sealer, make(), TIMES, T0 + 1_000)).toEqual({ ok: false, why: "invalid" });
  });

  test.each([
    [
      "just before the ttl, used a minute ago",
      T0 + TIMES.ttlMs - 1,
      T0 + TIMES.ttlMs - 60_000,
      true,
    ],
    ["at the ttl", T0 + TIMES.ttlMs, T0 + TIMES.ttlMs - 1, "expired"],
    ["idle for the idle timeout", T0 + TIMES.idleMs, T0, "idle"],
    ["idle for just less", T0 + TIMES.idleMs - 1, T0, true],
  ] as const)("%s", (_name, now, seen, expected) => {
    const s: Session = { ...session, seen };
    const opened = openSession(sealer, sealer.seal("session", s), TIMES, now);
    expect(opened.ok ? true : opened.why).toBe(expected);
  });
});

describe("role mapping", () => {
  const mapping = {
    usernameClaim: "email",
    rolesClaim: "groups",
    roles: {
      "sec-reviewers": ["review", "audit:read"],
      "sec-admins": ["admin"],
      auditors: ["audit:read"],
    } as const,
  };
  test.each([
    [
      "two groups, scopes in SCOPES order, no duplicates",
      { email: "a@x", groups: ["auditors", "sec-reviewers"] },
      { ok: true, identity: "user:a@x", scopes: ["audit:read", "review"] },
    ],
    [
      "a roles claim that is one string",
      { email: "a@x", groups: "sec-admins" },
      { ok: true, scopes: ["admin"] },
    ],
    [
      "unknown groups beside a known one",
      { email: "a@x", groups: ["x", "auditors"] },
      { ok: true, scopes: ["audit:read"] },
    ],
    [
      "a group named like an object's key",
      { email: "a@x", groups: ["constructor", "__proto__"] },
      {
        ok: false,
        why: "none of `a@x`'s `groups` (`constructor`, `__proto__`) is mapped to a Clearance scope in `auth.oidc.roles`: ask an administrator for access",
      },
    ],
    [
      "no groups claim",
      { email: "a@x" },
      {
        ok: false,
        why: "`a@x` has no `groups` claim, so no Clearance role: ask an administrator to add you to a group that `auth.oidc.roles` maps",
      },
    ],
    [
      "no username claim",
      { sub: "1", groups: ["auditors"] },
      {
        ok: false,
        why: "the identity provider sent no `email` claim to name you by (`auth.oidc.usernameClaim`)",
      },
    ],
    ["a blank username", { email: "  ", groups: ["auditors"] }, { ok: false }],
  ])("%s", (_name, claims, expected) => {
    expect(mapClaims(claims, mapping)).toMatchObject(expected);
  });
});

describe("readCookie", () => {
  test.each([
    ["a=1; b=2", "b", "2"],
    ["a=1;b=2", "a", "1"],
    ['a="q"', "a", "q"],
    ["ab=1", "a", undefined],
    ["a=1; a=2", "a", "1"],
    [undefined, "a", undefined],
  ])("%s: %s", (header, name, value) => {
    expect(readCookie(header, name)).toBe(value);
  });
});

const OIDC = {
  issuer: "https://id.example.com",
  clientId: "clearance",
  clientSecret: "s3cret",
  publicUrl: "https://clearance.example.com",
  roles: { reviewers: ["review"] },
};

describe("configuration", () => {
  test("defaults: no OpenID Connect, sessions of 8 h with 1 h idle, a random secret", () => {
    const c = resolveConfig({});
    expect(c.auth.oidc).toBeNull();
    expect(c.auth.sessions).toEqual({
      secret: null,
      ttl: "8h",
      idleTimeout: "1h",
      cookieName: "clearance_session",
    });
    expect(c.auth.apiKeySignIn).toBe(true);
  });

  test("an OpenID Connect section gets its defaults; the secret comes from the environment", () => {
    const c = resolveConfig(
      { auth: { oidc: { ...OIDC, clientSecret: `$${"{"}OIDC_SECRET}` } } },
      { env: { OIDC_SECRET: "from-env" } },
    );
    expect(c.auth.oidc).toMatchObject({
      clientSecret: "from-env",
      usernameClaim: "email",
      rolesClaim: "groups",
      scopes: ["email", "profile"],
      name: null,
    });
  });

  test.each([
    [
      "http issuer elsewhere than loopback",
      { oidc: { ...OIDC, issuer: "http://id.example.com" } },
      "`auth.oidc.issuer`: `http://id.example.com` is not https; plain http is allowed only to a loopback address",
    ],
    [
      "http public URL elsewhere than loopback",
      { oidc: { ...OIDC, publicUrl: "http://clearance.example.com" } },
      "`auth.oidc.publicUrl`: `http://clearance.example.com` is not https; plain http is allowed only to a loopback address",
    ],
    [
      "a scope that does not exist",
      { oidc: { ...OIDC, roles: { reviewers: ["review", "approve"] } } },
      "`auth.oidc.roles.reviewers[1]`: `approve` is not a scope; the scopes are `decide`, `audit:read`, `review`, `exceptions`, `admin`",
    ],
    [
      "a role with no scopes",
      { oidc: { ...OIDC, roles: { reviewers: [] } } },
      "`auth.oidc.roles.reviewers` must be a non-empty list of scopes",
    ],
    [
      "no roles",
      { oidc: { ...OIDC, roles: {} } },
      "`auth.oidc.roles` is empty: map at least one value of the roles claim to Clearance scopes, e.g. `clearance-reviewers: [review, audit:read]`",
    ],
    [
      "an unknown key",
      { oidc: { ...OIDC, clientSecretFile: "x" } },
      "unknown key `auth.oidc.clientSecretFile`",
    ],
    [
      "no client id",
      { oidc: { ...OIDC, clientId: undefined } },
      "`auth.oidc` must have required property 'clientId'",
    ],
    [
      "a short session secret",
      { sessions: { secret: "short" } },
      "`auth.sessions.secret` must NOT have fewer than 32 characters",
    ],
    [
      "a ttl that is no duration",
      { sessions: { ttl: "8 hours" } },
      '`auth.sessions.ttl` must match pattern "^([0-9]+(ms|[smhdw]))+$"',
    ],
    [
      "an unknown sessions key",
      { sessions: { maxAge: "1h" } },
      "unknown key `auth.sessions.maxAge`",
    ],
  ])("%s: refused, naming the key", (_name, auth, message) => {
    expect(() => resolveConfig({ auth })).toThrow(ConfigError);
    expect(() => resolveConfig({ auth })).toThrow(message);
  });

  test("with OpenID Connect and no keys the server may listen beyond loopback; with neither it may not", () => {
    const server = { host: "0.0.0.0" };
    expect(() => checkExposure(resolveConfig({ server, auth: { oidc: OIDC } }))).not.toThrow();
    expect(() => checkExposure(resolveConfig({ server }))).toThrow(/refusing to listen/);
  });

  test("docs/console.md's sign-in example is a valid configuration", () => {
    const text = readFileSync(join(REPO, "docs/console.md"), "utf8");
    const section = text.slice(text.indexOf("## Signing in"), text.indexOf("## Configuration"));
    const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBeDefined();
    const c = resolveConfig(parseYaml(block!), {
      env: {
        CLEARANCE_OIDC_SECRET: "an-oidc-client-secret",
        CLEARANCE_SESSION_SECRET: "a-session-secret-of-32-characters-or-more",
      },
    });
    expect(c.auth.oidc?.roles).toEqual({
      "security-analysts": ["audit:read"],
      "security-reviewers": ["review", "audit:read"],
      "clearance-admins": ["admin"],
    });
  });

  test.each([["http://127.0.0.1:4000"], ["http://localhost:4000/realms/x"], ["http://[::1]:4000"]])(
    "a loopback issuer may be plain http: %s",
    (issuer) => {
      expect(resolveConfig({ auth: { oidc: { ...OIDC, issuer } } }).auth.oidc?.issuer).toBe(issuer);
    },
  );
});

const reviewer = createApiKey();
const asker = createApiKey();

describe("sessions over HTTP", () => {
  let t: TestApp;
  let now = T0;
  beforeAll(async () => {
    t = await makeApp({
      auth: {
        keys: [
          { id: "reviewer", scopes: ["review", "audit:read"], sha256: reviewer.sha256 },
          { id: "asker", scopes: ["decide"], sha256: asker.sha256 },
        ],
        sessions: { secret: "the sessions secret of this test suite" },
      },
    });
    // the sign-in's clock is the test's: sessions expire when the test says
    (t.services.signIn as { now: () => number }).now = () => now;
  });
  afterAll(() => t.close());

  const SAME = {
    origin: "http://localhost:80",
    host: "localhost:80",
    "sec-fetch-site": "same-origin",
  };

  async function signInWithKey(secret: string) {
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/session",
      headers: SAME,
      payload: { apiKey: secret },
    });
    expect(res.statusCode).toBe(200);
    const set = String(res.headers["set-cookie"]);
    const cookie = set.split(";")[0]!;
    return { res, set, cookie, csrf: res.json().csrfToken as string };
  }

  /** A person's session, sealed as `/auth/callback` seals one (the provider's part is the browser test's). */
  function personCookie(name: string, scopes: ("review" | "audit:read" | "decide")[]) {
    const s = t.services.signIn.forPerson({ identity: `user:${name}`, username: name, scopes });
    return {
      cookie: `clearance_session=${t.services.signIn.sealer.seal("session", s)}`,
      csrf: s.csrf,
    };
  }

  test("signed out: who am I says how to sign in, and nothing else", async () => {
    const res = await t.app.inject({ url: "/v1/session" });
    expect(res.json()).toEqual({
      mode: "signed-out",
      identity: null,
      name: null,
      via: null,
      scopes: [],
      expires: null,
      csrfToken: null,
      ended: null,
      signIn: { oidc: null, apiKey: true },
    });
    expect(res.headers["content-security-policy"]).toBe(
      "default-src 'none'; frame-ancestors 'none'",
    );
    const audit = await t.app.inject({ url: "/v1/audit" });
    expect(audit.statusCode).toBe(401);
    expect(audit.json().detail).toBe(
      "sign in to the console, or send an API key as `Authorization: Bearer <key>`",
    );
  });

  test("an API key signs in: an HttpOnly, SameSite=Strict cookie; the session reads with its scopes", async () => {
    const { set, cookie, res } = await signInWithKey(reviewer.secret);
    expect(set).toMatch(
      /^clearance_session=[A-Za-z0-9_-]+; Path=\/; Max-Age=28800; HttpOnly; SameSite=Strict$/,
    );
    expect(res.json()).toMatchObject({
      mode: "signed-in",
      identity: "reviewer",
      via: "key",
      scopes: ["audit:read", "review"],
    });
    const me = await t.app.inject({ url: "/v1/session", headers: { cookie } });
    expect(me.json()).toMatchObject({
      mode: "signed-in",
      name: "reviewer",
      csrfToken: res.json().csrfToken,
    });
    const audit = await t.app.inject({ url: "/v1/audit", headers: { cookie } });
    expect(audit.statusCode).toBe(200);
    // a request over https, or to a host that is not loopback, gets a Secure cookie
    const remote = await t.app.inject({
      method: "POST",
      url: "/v1/session",
      headers: { ...SAME, host: "clearance.example.com", origin: "http://clearance.example.com" },
      payload: { apiKey: reviewer.secret },
    });
    expect(String(remote.headers["set-cookie"])).toMatch(/; Secure$/);
  });

  test.each([
    ["a wrong key", { payload: { apiKey: "clr_nope" } }, 401, "unauthorized"],
    [
      "an unknown field",
      { payload: { apiKey: reviewer.secret, remember: true } },
      400,
      "invalid_request",
    ],
    [
      "from another site",
      { headers: { origin: "https://evil.example", "sec-fetch-site": "cross-site" } },
      403,
      "csrf_refused",
    ],
    ["saying nothing of where it comes from", { headers: {} }, 403, "csrf_refused"],
  ])("signing in with %s is refused", async (_name, over, status, code) => {
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/session",
      headers: SAME,
      payload: { apiKey: reviewer.secret },
      ...over,
    });
    expect(res.statusCode).toBe(status);
    expect(res.json().code).toBe(code);
    expect(res.headers["set-cookie"]).toBeUndefined();
  });

  test.each([
    [
      "no token",
      {},
      "send the session's CSRF token (`csrfToken` of `GET /v1/session`) in the `x-csrf-token` header",
    ],
    [
      "a wrong token",
      { "x-csrf-token": "not-the-token" },
      "the `x-csrf-token` header is not this session's token",
    ],
    [
      "a cross-origin Origin",
      { origin: "https://evil.example", "sec-fetch-site": undefined, "x-csrf-token": "$csrf" },
      "this request comes from `https://evil.example`, which is not this server's origin",
    ],
    [
      "a cross-site fetch",
      { "sec-fetch-site": "cross-site", "x-csrf-token": "$csrf" },
      "this request is `cross-site` (`Sec-Fetch-Site`): only the console's own pages may change anything with its session",
    ],
    [
      "no Origin and no Sec-Fetch-Site",
      { origin: undefined, "sec-fetch-site": undefined, "x-csrf-token": "$csrf" },
      "this request says neither where it comes from (`Origin`) nor whether it is same-origin (`Sec-Fetch-Site`); with a session cookie one of them is required",
    ],
  ])("a POST with the cookie and %s: 403 csrf_refused", async (_name, over, detail) => {
    const { cookie, csrf } = await signInWithKey(reviewer.secret);
    const headers: Record<string, string> = { ...SAME, cookie };
    for (const [k, v] of Object.entries(over))
      if (v === undefined) delete headers[k];
      else headers[k] = v === "$csrf" ? csrf : v;
    const res = await t.app.inject({ method: "POST", url: "/v1/audit/verify", headers });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: "csrf_refused", detail });
    // with the token, from the console's origin, the same request passes
    const ok = await t.app.inject({
      method: "POST",
      url: "/v1/audit/verify",
      headers: { ...SAME, cookie, "x-csrf-token": csrf },
    });
    expect(ok.statusCode).toBe(200);
  });

  test("a Bearer key needs no CSRF token (no ambient credential), even beside a cookie", async () => {
    const { cookie } = await signInWithKey(reviewer.secret);
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/audit/verify",
      headers: {
        authorization: `Bearer ${reviewer.secret}`,
        cookie,
        origin: "https://evil.example",
      },
    });
    expect(res.statusCode).toBe(200);
  });

  test("a person's scopes decide, and their name is what a 403 says", async () => {
    const { cookie } = personCookie("carol@example.com", ["review"]);
    const res = await t.app.inject({ url: "/v1/audit", headers: { cookie } });
    expect(res.statusCode).toBe(403);
    expect(res.json().detail).toBe(
      "you (`carol@example.com`) lack the `audit:read` scope this needs",
    );
  });

  test("a person's vote is recorded as user:<name>; another voter name is refused; the asker cannot approve", async () => {
    const file = example("unsigned-lowscore");
    const asked = await t.app.inject({
      method: "POST",
      url: "/v1/decisions",
      headers: { authorization: `Bearer ${asker.secret}` },
      payload: { result: file },
    });
    expect(asked.json().decision).toBe("review");
    const caseId = asked.json().case as string;
    const alice = personCookie("alice@example.com", ["review", "audit:read"]);
    const vote = (body: Record<string, unknown>, who = alice) =>
      t.app.inject({
        method: "POST",
        url: `/v1/reviews/${caseId}/votes`,
        headers: { ...SAME, cookie: who.cookie, "x-csrf-token": who.csrf },
        payload: body,
      });
    const other = await vote({ vote: "approve", justification: "ok", voter: "bob" });
    expect(other.statusCode).toBe(400);
    expect(other.json().problems[0]).toEqual({
      pointer: "/voter",
      message: "must be `user:alice@example.com` (you, as signed in) or left out",
    });
    const voted = await vote({ vote: "approve", justification: "vendor tool, checked" });
    expect(voted.statusCode).toBe(201);
    expect(voted.json().vote.voter).toBe("user:alice@example.com");
    // the case, read back, names the person
    const shown = await t.app.inject({
      url: `/v1/reviews/${caseId}`,
      headers: { cookie: alice.cookie },
    });
    expect(shown.json().case.votes.map((v: { voter: string }) => v.voter)).toEqual([
      "user:alice@example.com",
    ]);

    // a person who asked about a file (from the console) may not approve it
    const dave = personCookie("dave@example.com", ["review", "decide"]);
    const second = example("unsigned-lowscore");
    second.sha256 = "d".repeat(64);
    const own = await t.app.inject({
      method: "POST",
      url: "/v1/decisions",
      headers: { ...SAME, cookie: dave.cookie, "x-csrf-token": dave.csrf },
      payload: { result: second },
    });
    expect(own.json()).toMatchObject({ decision: "review" });
    const self = await t.app.inject({
      method: "POST",
      url: `/v1/reviews/${own.json().case}/votes`,
      headers: { ...SAME, cookie: dave.cookie, "x-csrf-token": dave.csrf },
      payload: { vote: "approve", justification: "mine" },
    });
    expect(self.statusCode).toBe(403);
    expect(self.json().code).toBe("self_approval");
  });

  test("a session ends at its ttl, and after its idle timeout; the 401 says which, and clears the cookie", async () => {
    now = T0;
    const { cookie } = await signInWithKey(reviewer.secret);
    now = T0 + 30 * 60_000; // used after 30 min: renewed
    const used = await t.app.inject({ url: "/v1/audit", headers: { cookie } });
    expect(used.statusCode).toBe(200);
    const renewed = String(used.headers["set-cookie"]).split(";")[0]!;
    now = T0 + 85 * 60_000; // 55 min after the renewal: still on
    expect(
      (await t.app.inject({ url: "/v1/audit", headers: { cookie: renewed } })).statusCode,
    ).toBe(200);
    // the first cookie, not renewed, was idle for 85 min
    const idle = await t.app.inject({ url: "/v1/audit", headers: { cookie } });
    expect(idle.statusCode).toBe(401);
    expect(idle.json().detail).toContain("unused (`auth.sessions.idleTimeout`)");
    expect(String(idle.headers["set-cookie"])).toContain("Max-Age=0");
    const me = await t.app.inject({ url: "/v1/session", headers: { cookie } });
    expect(me.json()).toMatchObject({
      mode: "signed-out",
      ended: expect.stringContaining("idleTimeout"),
    });
    now = T0 + 8 * 3_600_000; // the ttl, however recently used
    const late = await t.app.inject({ url: "/v1/audit", headers: { cookie: renewed } });
    expect(late.json().detail).toBe("the session has expired (`auth.sessions.ttl`); sign in again");
    now = T0;
  });

  test("sign out: needs the token, clears the cookie", async () => {
    const { cookie, csrf } = await signInWithKey(reviewer.secret);
    const forged = await t.app.inject({
      method: "DELETE",
      url: "/v1/session",
      headers: { ...SAME, cookie },
    });
    expect(forged.statusCode).toBe(403);
    expect(forged.json().code).toBe("csrf_refused");
    const out = await t.app.inject({
      method: "DELETE",
      url: "/v1/session",
      headers: { ...SAME, cookie, "x-csrf-token": csrf },
    });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers["set-cookie"])).toMatch(
      /^clearance_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict$/,
    );
  });

  test("no OpenID Connect configured: /auth/login says so", async () => {
    const res = await t.app.inject({ url: "/auth/login" });
    expect(res.statusCode).toBe(404);
    expect(res.json().detail).toBe(
      "sign-in with OpenID Connect is not configured on this server (`auth.oidc`)",
    );
  });
});

describe("sessions across servers", () => {
  const SAME = { origin: "http://localhost:80", host: "localhost:80" };
  const key = createApiKey();
  const keyConfig = { id: "ops", scopes: ["admin"], sha256: key.sha256 };

  test("a replica with the same secret reads the session; another secret, or the key removed, ends it", async () => {
    const secret = "one sessions secret shared by replicas";
    const a = await makeApp({ auth: { keys: [keyConfig], sessions: { secret } } });
    const b = await makeApp({ auth: { keys: [keyConfig], sessions: { secret } } });
    const other = await makeApp({
      auth: { keys: [keyConfig], sessions: { secret: "another secret, as after a rotation" } },
    });
    const removed = await makeApp({
      auth: { keys: [{ ...keyConfig, id: "ops2" }], sessions: { secret } },
    });
    const ephemeral = await makeApp({ auth: { keys: [keyConfig] } });
    try {
      const signedIn = await a.app.inject({
        method: "POST",
        url: "/v1/session",
        headers: SAME,
        payload: { apiKey: key.secret },
      });
      const cookie = String(signedIn.headers["set-cookie"]).split(";")[0]!;
      const read = (t: TestApp) => t.app.inject({ url: "/v1/audit", headers: { cookie } });
      expect((await read(b)).statusCode).toBe(200);
      const otherAnswer = await read(other);
      expect(otherAnswer.statusCode).toBe(401);
      expect(otherAnswer.json().detail).toBe(
        "the session cookie is not one this server issued (or its secret changed); sign in again",
      );
      expect((await read(ephemeral)).statusCode).toBe(401);
      const gone = await read(removed);
      expect(gone.statusCode).toBe(401);
      expect(gone.json().detail).toBe(
        "the API key this session signed in with is no longer configured; sign in again",
      );
    } finally {
      for (const t of [a, b, other, removed, ephemeral]) await t.close();
    }
  });
});

describe("an open server (loopback, no keys, no sign-in)", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp({});
  });
  afterAll(() => t.close());

  test("who am I: open, every scope, nothing to sign in with", async () => {
    const res = await t.app.inject({ url: "/v1/session" });
    expect(res.json()).toMatchObject({
      mode: "open",
      scopes: ["decide", "audit:read", "review", "exceptions", "admin"],
      csrfToken: null,
      signIn: { oidc: null, apiKey: false },
    });
    expect((await t.app.inject({ url: "/v1/audit" })).statusCode).toBe(200);
    const key = await t.app.inject({
      method: "POST",
      url: "/v1/session",
      headers: { origin: "http://localhost:80", host: "localhost:80" },
      payload: { apiKey: "clr_x" },
    });
    expect(key.statusCode).toBe(403);
    expect(key.json().detail).toBe(
      "this server has no API keys to sign in with; the console is open without sign-in",
    );
  });
});
