import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ReplayCache, signWebhook, WEBHOOK_HEADERS } from "../src/webhook.js";
import { example, makeApp, type TestApp } from "./helpers.js";

const SECRET = "whsec-0123456789abcdef";
const url = "/v1/webhooks/platform";

function signed(body: string, opts: { delivery?: string; ts?: number; secret?: string } = {}) {
  const ts = opts.ts ?? Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    [WEBHOOK_HEADERS.timestamp]: String(ts),
    [WEBHOOK_HEADERS.signature]: signWebhook(opts.secret ?? SECRET, ts, body),
  };
  if (opts.delivery !== undefined) headers[WEBHOOK_HEADERS.delivery] = opts.delivery;
  return headers;
}

describe("signed webhooks", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp({ webhook: { secret: SECRET, toleranceSeconds: 300 } });
  });
  afterAll(() => t.close());

  const count = async () => (await t.services.audit.query({}, 100)).entries.length;

  test("a signed delivery is decided and recorded with its delivery id", async () => {
    const body = JSON.stringify({ event: "analysis.completed", data: example("malware") });
    const res = await t.app.inject({
      method: "POST",
      url,
      payload: body,
      headers: signed(body, { delivery: "d-1" }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ decision: "deny", rule: "malware" });
    const entry = (await t.services.audit.get(res.json().decisionId))!.entry;
    expect(entry).toMatchObject({ source: "webhook", requester: "platform", deliveryId: "d-1" });
  });

  test("a repeated delivery id is refused with 409 and not recorded again", async () => {
    const body = JSON.stringify(example("signed-microsoft"));
    const first = await t.app.inject({
      method: "POST",
      url,
      payload: body,
      headers: signed(body, { delivery: "d-2" }),
    });
    expect(first.statusCode).toBe(200);
    const before = await count();
    const again = await t.app.inject({
      method: "POST",
      url,
      payload: body,
      headers: signed(body, { delivery: "d-2" }),
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe("replayed_delivery");
    expect(await count()).toBe(before);
  });

  const body = JSON.stringify(example("malware"));
  test.each([
    {
      name: "no signature",
      headers: () => {
        const h = signed(body, { delivery: "x1" });
        delete h[WEBHOOK_HEADERS.signature];
        return h;
      },
      status: 401,
      code: "invalid_signature",
    },
    {
      name: "a signature with another secret",
      headers: () => signed(body, { delivery: "x2", secret: "another-secret-0000" }),
      status: 401,
      code: "invalid_signature",
    },
    {
      name: "a body changed after signing",
      payload: body.replace('"trustScore":', '"trustScore":9'),
      headers: () => signed(body, { delivery: "x3" }),
      status: 401,
      code: "invalid_signature",
    },
    {
      name: "a stale timestamp",
      headers: () => signed(body, { delivery: "x4", ts: Math.floor(Date.now() / 1000) - 3600 }),
      status: 401,
      code: "stale_timestamp",
    },
    {
      name: "a timestamp from the future",
      headers: () => signed(body, { delivery: "x5", ts: Math.floor(Date.now() / 1000) + 3600 }),
      status: 401,
      code: "stale_timestamp",
    },
    {
      name: "no delivery id",
      headers: () => signed(body),
      status: 400,
      code: "invalid_request",
    },
    {
      name: "a signed body that is not JSON",
      payload: "{nope",
      headers: () => signed("{nope", { delivery: "x6" }),
      status: 400,
      code: "malformed_json",
    },
    {
      name: "a signed invalid result",
      payload: JSON.stringify({ event: "analysis.completed", data: { sha256: "zz" } }),
      headers: () =>
        signed(JSON.stringify({ event: "analysis.completed", data: { sha256: "zz" } }), {
          delivery: "x7",
        }),
      status: 400,
      code: "invalid_result",
      pointer: "/data/sha256",
    },
  ])("$name: $status $code, nothing recorded", async (c) => {
    const before = await count();
    const res = await t.app.inject({
      method: "POST",
      url,
      payload: c.payload ?? body,
      headers: c.headers(),
    });
    expect(res.statusCode).toBe(c.status);
    expect(res.json().code).toBe(c.code);
    if (c.pointer) expect(res.json().problems[0].pointer).toBe(c.pointer);
    expect(await count()).toBe(before);
  });

  test("a signed body replayed under a fresh delivery header is refused", async () => {
    const envelope = JSON.stringify({
      event: "analysis.completed",
      delivery: "dlv-original",
      data: example("malware"),
    });
    const headers = signed(envelope, { delivery: "dlv-original" });
    const first = await t.app.inject({ method: "POST", url, payload: envelope, headers });
    expect(first.statusCode).toBe(200);
    const before = await count();
    // the captured delivery as it was (timestamp, signature, body), under a new id
    const replay = await t.app.inject({
      method: "POST",
      url,
      payload: envelope,
      headers: { ...headers, [WEBHOOK_HEADERS.delivery]: "dlv-forged" },
    });
    expect(replay.statusCode).toBe(409);
    expect(replay.json()).toMatchObject({ code: "replayed_delivery" });
    expect(replay.json().detail).toContain("already received as `dlv-original`");
    // never seen before (after a restart, say): the signed `delivery` must match the header
    const other = JSON.stringify({
      event: "analysis.completed",
      delivery: "dlv-other",
      data: example("malware"),
    });
    const mismatched = await t.app.inject({
      method: "POST",
      url,
      payload: other,
      headers: signed(other, { delivery: "dlv-forged-2" }),
    });
    expect(mismatched.statusCode).toBe(401);
    expect(mismatched.json().detail).toContain("differs from the signed body's `delivery`");
    expect(await count()).toBe(before);
  });

  test("a captured bare result sent again within the window is refused, under a new id or its own", async () => {
    // no `delivery` in the body: only the replay cache can tell a replay from a new delivery
    const body = JSON.stringify(example("ransomware"));
    const headers = signed(body, { delivery: "bare-1" });
    const first = await t.app.inject({ method: "POST", url, payload: body, headers });
    expect(first.statusCode).toBe(200);
    const before = await count();
    const underNewId = await t.app.inject({
      method: "POST",
      url,
      payload: body,
      headers: { ...headers, [WEBHOOK_HEADERS.delivery]: "bare-2" },
    });
    expect(underNewId.statusCode).toBe(409);
    expect(underNewId.json()).toMatchObject({
      code: "replayed_delivery",
      detail:
        "this signed delivery was already received as `bare-1`; sent again as `bare-2` it is a replay",
    });
    const underItsId = await t.app.inject({ method: "POST", url, payload: body, headers });
    expect(underItsId.statusCode).toBe(409);
    expect(underItsId.json().detail).toBe("delivery `bare-1` was already received and decided");
    expect(await count()).toBe(before);
  });

  test("a signed body that is not UTF-8 is refused as such, its signature being right", async () => {
    const bytes = Buffer.from(
      JSON.stringify({ event: "analysis.completed", data: example("minimal") }),
    );
    bytes[bytes.indexOf("sha256") + 2] = 0xc0;
    const ts = Math.floor(Date.now() / 1000);
    const res = await t.app.inject({
      method: "POST",
      url,
      payload: bytes,
      headers: {
        "content-type": "application/json",
        [WEBHOOK_HEADERS.timestamp]: String(ts),
        [WEBHOOK_HEADERS.signature]: signWebhook(SECRET, ts, bytes),
        [WEBHOOK_HEADERS.delivery]: "utf8-1",
      },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe("invalid_utf8");
  });

  test("a delivery refused for bad input can be retried with the same id once fixed", async () => {
    const envelope = (data: unknown) =>
      JSON.stringify({ event: "analysis.completed", delivery: "retry-1", data });
    const bad = envelope({ sha256: "zz" });
    const r1 = await t.app.inject({
      method: "POST",
      url,
      payload: bad,
      headers: signed(bad, { delivery: "retry-1" }),
    });
    expect(r1.statusCode).toBe(400);
    const good = envelope(example("malware"));
    const r2 = await t.app.inject({
      method: "POST",
      url,
      payload: good,
      headers: signed(good, { delivery: "retry-1" }),
    });
    expect(r2.statusCode).toBe(200);
  });
});

describe("unsigned webhooks on a server with API keys", () => {
  test("need a key with the decide scope, recorded as the requester", async () => {
    const { createApiKey } = await import("../src/auth.js");
    const key = createApiKey();
    const t = await makeApp({
      auth: { keys: [{ id: "platform-hook", scopes: ["decide"], sha256: key.sha256 }] },
    });
    try {
      const body = JSON.stringify(example("malware"));
      const anonymous = await t.app.inject({
        method: "POST",
        url,
        payload: body,
        headers: { "content-type": "application/json" },
      });
      expect(anonymous.statusCode).toBe(401);
      const keyed = await t.app.inject({
        method: "POST",
        url,
        payload: body,
        headers: { "content-type": "application/json", authorization: `Bearer ${key.secret}` },
      });
      expect(keyed.statusCode).toBe(200);
      const entry = (await t.services.audit.get(keyed.json().decisionId))!.entry;
      expect(entry).toMatchObject({ source: "webhook", requester: "platform-hook" });
    } finally {
      await t.close();
    }
  });
});

describe("unsigned webhooks (no secret configured)", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp();
  });
  afterAll(() => t.close());

  test("a bare result is accepted; a repeated delivery id is still refused", async () => {
    const body = JSON.stringify(example("unsigned-lowscore"));
    const headers = { "content-type": "application/json", [WEBHOOK_HEADERS.delivery]: "u-1" };
    expect((await t.app.inject({ method: "POST", url, payload: body, headers })).statusCode).toBe(
      200,
    );
    expect((await t.app.inject({ method: "POST", url, payload: body, headers })).statusCode).toBe(
      409,
    );
  });

  test("a wrong content type is 415", async () => {
    const res = await t.app.inject({
      method: "POST",
      url,
      payload: "x",
      headers: { "content-type": "text/plain" },
    });
    expect(res.statusCode).toBe(415);
  });
});

describe("the replay cache", () => {
  const now = 1_800_000_000_000;
  const ts = now / 1000;

  test("remembers a signature for its time window, and the id it came with", () => {
    const cache = new ReplayCache(1_000, 300);
    expect(cache.remember("sig-a", "d1", ts, now)).toBeUndefined();
    expect(cache.remember("sig-a", "d1", ts, now + 1_000)).toBeUndefined(); // a retry: its own id
    expect(cache.remember("sig-a", "d2", ts, now + 1_000)).toBe("d1");
    // once the timestamp is out of the window the signature is refused as stale anyway
    expect(cache.remember("sig-a", "d2", ts, now + 300_001)).toBeUndefined();
  });

  test("holds at most `max` live entries, and makes room as they expire", () => {
    const cache = new ReplayCache(1_000, 300);
    for (let i = 0; i < 1_000; i++)
      expect(cache.remember(`s${i}`, `d${i}`, ts, now)).toBeUndefined();
    expect(cache.remember("one-more", "dx", ts, now)).toBe("full");
    expect(cache.size).toBe(1_000);
    expect(cache.remember("one-more", "dx", ts + 10, now + 300_000)).toBeUndefined();
    expect(cache.size).toBe(1);
  });
});
