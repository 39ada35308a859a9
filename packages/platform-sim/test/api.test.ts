// The contract of docs/platform-api.md through inject(): every endpoint, every error, the headers.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { clock, KEY, makeSim, pathOf, RATE_HEADERS, type Sim, sha256Of, T0 } from "./helpers.js";

const KEYS = [
  { key: KEY, scopes: ["upload", "files.read"] as const, quota: 1000 },
  { key: "sim_key_read", scopes: ["files.read"] as const },
  { key: "sim_key_upload", scopes: ["upload"] as const },
  { key: "sim_key_revoked", scopes: ["upload", "files.read"] as const },
];
const SHA = "a".repeat(64);

interface Case {
  name: string;
  method: "GET" | "POST" | "PUT";
  url: string;
  key?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  code: string;
  extra?: Record<string, unknown>;
  details?: { field: string; message: string }[];
  fields?: string[];
}

function expectRateHeaders(res: { headers: Record<string, unknown> }) {
  for (const h of RATE_HEADERS) expect(res.headers[h], h).toBeTypeOf("string");
}

describe("errors, table-driven", () => {
  let sim: Sim;
  let uploadedSha: string;
  beforeAll(async () => {
    sim = await makeSim({ keys: KEYS, analysisDelayMs: 0, now: clock().now });
    // Bytes present, never completed: a known upload with no analysis yet.
    const content = "uploaded, not completed";
    uploadedSha = sha256Of(content);
    const ticket = await sim.call("POST", "/v1/upload", {
      body: { fileName: "a.exe", contentType: "application/octet-stream", sha256: uploadedSha },
    });
    await sim.call("PUT", pathOf(ticket.json().uploadUrl), { key: null, body: content });
    await sim.call("DELETE", "/_sim/keys/sim_key_revoked");
  });
  afterAll(() => sim.close());

  const upload = { fileName: "setup.exe", contentType: "application/octet-stream", sha256: SHA };
  test.each<Case>([
    // 401
    {
      name: "no key",
      method: "POST",
      url: "/v1/upload",
      key: null,
      body: upload,
      status: 401,
      code: "invalid_api_key",
    },
    {
      name: "unknown key",
      method: "GET",
      url: "/v1/files",
      key: "nope",
      status: 401,
      code: "invalid_api_key",
    },
    {
      name: "revoked key",
      method: "GET",
      url: "/v1/files",
      key: "sim_key_revoked",
      status: 401,
      code: "invalid_api_key",
    },
    {
      name: "not a Bearer token",
      method: "GET",
      url: "/v1/files",
      key: null,
      headers: { authorization: `Basic ${KEY}` },
      status: 401,
      code: "invalid_api_key",
    },
    // 403
    {
      name: "upload without the scope",
      method: "POST",
      url: "/v1/upload",
      key: "sim_key_read",
      body: upload,
      status: 403,
      code: "insufficient_scope",
      extra: { requiredScope: "upload" },
    },
    {
      name: "complete without the scope",
      method: "POST",
      url: "/v1/upload/complete",
      key: "sim_key_read",
      body: { sha256: SHA },
      status: 403,
      code: "insufficient_scope",
      extra: { requiredScope: "upload" },
    },
    {
      name: "list without the scope",
      method: "GET",
      url: "/v1/files",
      key: "sim_key_upload",
      status: 403,
      code: "insufficient_scope",
      extra: { requiredScope: "files.read" },
    },
    {
      name: "get without the scope",
      method: "GET",
      url: `/v1/files/${SHA}`,
      key: "sim_key_upload",
      status: 403,
      code: "insufficient_scope",
      extra: { requiredScope: "files.read" },
    },
    // 400
    {
      name: "upload without contentType",
      method: "POST",
      url: "/v1/upload",
      body: { fileName: "a", sha256: SHA },
      status: 400,
      code: "invalid_request",
      details: [{ field: "contentType", message: "is required" }],
    },
    {
      name: "upload with a bad sha256",
      method: "POST",
      url: "/v1/upload",
      body: { ...upload, sha256: "xyz" },
      status: 400,
      code: "invalid_request",
      details: [{ field: "sha256", message: "must be 64 hexadecimal digits" }],
    },
    {
      name: "upload with an empty fileName",
      method: "POST",
      url: "/v1/upload",
      body: { ...upload, fileName: "" },
      status: 400,
      code: "invalid_request",
      fields: ["fileName"],
    },
    {
      name: "upload with a JSON array",
      method: "POST",
      url: "/v1/upload",
      body: [],
      status: 400,
      code: "invalid_request",
      fields: ["body"],
    },
    {
      name: "upload with bad JSON",
      method: "POST",
      url: "/v1/upload",
      body: "{",
      headers: { "content-type": "application/json" },
      status: 400,
      code: "invalid_request",
      fields: ["body"],
    },
    {
      name: "upload as text",
      method: "POST",
      url: "/v1/upload",
      body: "hello",
      headers: { "content-type": "text/plain" },
      status: 400,
      code: "invalid_request",
      fields: ["body"],
    },
    {
      name: "complete without sha256",
      method: "POST",
      url: "/v1/upload/complete",
      body: {},
      status: 400,
      code: "invalid_request",
      fields: ["sha256"],
    },
    {
      name: "get with a bad sha256",
      method: "GET",
      url: "/v1/files/abc",
      status: 400,
      code: "invalid_request",
      fields: ["sha256"],
    },
    {
      name: "limit 0",
      method: "GET",
      url: "/v1/files?limit=0",
      status: 400,
      code: "invalid_request",
      fields: ["limit"],
    },
    {
      name: "limit 1001",
      method: "GET",
      url: "/v1/files?limit=1001",
      status: 400,
      code: "invalid_request",
      fields: ["limit"],
    },
    {
      name: "limit not a number",
      method: "GET",
      url: "/v1/files?limit=ten",
      status: 400,
      code: "invalid_request",
      fields: ["limit"],
    },
    {
      name: "since not a time",
      method: "GET",
      url: "/v1/files?since=yesterday",
      status: 400,
      code: "invalid_request",
      fields: ["since"],
    },
    {
      name: "until without a zone",
      method: "GET",
      url: "/v1/files?until=2026-11-26T12:00:00",
      status: 400,
      code: "invalid_request",
      fields: ["until"],
    },
    {
      name: "list by a bad sha256",
      method: "GET",
      url: "/v1/files?sha256=12",
      status: 400,
      code: "invalid_request",
      fields: ["sha256"],
    },
    {
      name: "a forged cursor",
      method: "GET",
      url: "/v1/files?cursor=bm90LWEtY3Vyc29y",
      status: 400,
      code: "invalid_request",
      fields: ["cursor"],
    },
    {
      name: "an unknown query parameter",
      method: "GET",
      url: "/v1/files?page_size=10",
      status: 400,
      code: "invalid_request",
      details: [{ field: "page_size", message: "is not a known parameter" }],
    },
    // 404
    {
      name: "a file never uploaded",
      method: "GET",
      url: `/v1/files/${SHA}`,
      status: 404,
      code: "not_found",
    },
    { name: "an unknown route", method: "GET", url: "/v2/nothing", status: 404, code: "not_found" },
    {
      name: "an unknown upload",
      method: "PUT",
      url: "/uploads/up_0?token=x",
      key: null,
      body: "x",
      status: 404,
      code: "not_found",
    },
    // 409
    {
      name: "complete before the bytes",
      method: "POST",
      url: "/v1/upload/complete",
      body: { sha256: SHA },
      status: 409,
      code: "upload_missing",
    },
  ])("$name: $status $code", async (c) => {
    const res = await sim.call(c.method, c.url, { key: c.key, body: c.body, headers: c.headers });
    expect(res.statusCode).toBe(c.status);
    const { error } = res.json();
    expect(error.code).toBe(c.code);
    expect(error.message).toBeTypeOf("string");
    if (c.extra) expect(error).toMatchObject(c.extra);
    if (c.details) expect(error.details).toEqual(c.details);
    if (c.fields) expect(error.details.map((d: { field: string }) => d.field)).toEqual(c.fields);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expectRateHeaders(res);
  });

  test("a file uploaded but never completed has no analysis yet: 404", async () => {
    const res = await sim.call("GET", `/v1/files/${uploadedSha}`);
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe("not_found");
  });

  test("the admin API answers errors in the same shape", async () => {
    const res = await sim.call("POST", "/_sim/faults", { body: { errorRate: 2, bogus: 1 } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details).toEqual([
      { field: "bogus", message: expect.stringMatching(/^is not a known option/) },
      { field: "errorRate", message: "must be a number from 0 to 1" },
    ]);
  });
});

describe("upload, PUT, complete, get", () => {
  let sim: Sim;
  const c = clock();
  beforeAll(async () => {
    sim = await makeSim({ analysisDelayMs: 30_000, now: c.now, seed: 7 });
  });
  afterAll(() => sim.close());

  const content = Buffer.from("MZ\x90\x00 a small executable");
  const sha256 = sha256Of(content);
  let uploadUrl: string;

  test("POST /v1/upload answers an upload URL that expires after 15 minutes", async () => {
    const res = await sim.call("POST", "/v1/upload", {
      body: {
        fileName: "procexp64.exe",
        contentType: "application/vnd.microsoft.portable-executable",
        sha256: sha256.toUpperCase(),
      },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(Object.keys(body)).toEqual(["uploadId", "uploadUrl", "expiresAt"]);
    expect(body.uploadId).toMatch(/^up_[0-9a-f]{24}$/);
    expect(body.uploadUrl).toMatch(
      new RegExp(`^http://localhost:80/uploads/${body.uploadId}\\?token=[0-9a-f]{32}$`),
    );
    expect(body.expiresAt).toBe(new Date(T0 + 15 * 60_000).toISOString());
    uploadUrl = body.uploadUrl;
  });

  test("PUT with other bytes: 400 sha256_mismatch with expected and actual", async () => {
    const res = await sim.call("PUT", pathOf(uploadUrl), { key: null, body: "other bytes" });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({
      code: "sha256_mismatch",
      expected: sha256,
      actual: sha256Of("other bytes"),
    });
    expectRateHeaders(res);
  });

  test("PUT with a wrong token: 404", async () => {
    const res = await sim.call("PUT", pathOf(uploadUrl).replace(/token=.*/, "token=0"), {
      key: null,
      body: content,
    });
    expect(res.statusCode).toBe(404);
  });

  test("PUT the bytes: 200 with the hash and size, needing no key", async () => {
    const res = await sim.call("PUT", pathOf(uploadUrl), { key: null, body: content });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ sha256, size: content.length });
    expectRateHeaders(res);
  });

  test("complete: 202 pending; the file is pending until the analysis is done", async () => {
    const res = await sim.call("POST", "/v1/upload/complete", { body: { sha256 } });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ sha256, status: "pending", estimatedSeconds: 30 });
    const pending = await sim.call("GET", `/v1/files/${sha256}`);
    expect(pending.statusCode).toBe(200);
    expect(pending.json()).toMatchObject({
      sha256,
      status: "pending",
      version: 1,
      file_name: "procexp64.exe",
    });
    const list = await sim.call("GET", "/v1/files");
    expect(list.json()).toEqual({ data: [], nextCursor: null });
  });

  test("completing again while the analysis runs is a safe retry: same answer", async () => {
    const res = await sim.call("POST", "/v1/upload/complete", { body: { sha256 } });
    expect(res.statusCode).toBe(202);
    expect(res.json().status).toBe("pending");
  });

  test("after the delay the file is completed with the upload's name, type and size", async () => {
    c.advance(30_000);
    const res = await sim.call("GET", `/v1/files/${sha256.toUpperCase()}`);
    expect(res.statusCode).toBe(200);
    const file = res.json();
    expect(file).toMatchObject({
      sha256,
      status: "completed",
      version: 1,
      file_name: "procexp64.exe",
      file_size: content.length,
      content_type: "application/vnd.microsoft.portable-executable",
      uploaded_at: new Date(T0).toISOString(),
      analyzed_at: new Date(T0 + 30_000).toISOString(),
    });
    expect(["Clean", "Caution", "High Risk"]).toContain(file.verdict);
    expect(Object.keys(file.detection_results).length).toBe(60);
    const list = await sim.call("GET", "/v1/files");
    expect(list.json().data).toEqual([file]);
  });

  test("completing a file with a result re-analyses it: version 2, later analyzed_at", async () => {
    const res = await sim.call("POST", "/v1/upload/complete", { body: { sha256 } });
    expect(res.statusCode).toBe(202);
    // The listing keeps the previous completed analysis while the new one runs.
    expect((await sim.call("GET", "/v1/files")).json().data[0].version).toBe(1);
    const advanced = await sim.call("POST", "/_sim/advance");
    expect(advanced.json()).toEqual({ completed: [sha256] });
    const file = (await sim.call("GET", `/v1/files/${sha256}`)).json();
    expect(file.version).toBe(2);
    expect(file.analyzed_at).toBe(new Date(T0 + 30_000).toISOString().replace("30.000", "30.001"));
    const list = (await sim.call("GET", "/v1/files")).json();
    expect(list.data.map((f: { version: number }) => f.version)).toEqual([2]);
  });

  test("the upload URL expires: 410 after expiresAt, accepted up to it", async () => {
    const other = Buffer.from("another file");
    const ticket = (
      await sim.call("POST", "/v1/upload", {
        body: {
          fileName: "b.exe",
          contentType: "application/octet-stream",
          sha256: sha256Of(other),
        },
      })
    ).json();
    c.set(Date.parse(ticket.expiresAt) + 1);
    const late = await sim.call("PUT", pathOf(ticket.uploadUrl), { key: null, body: other });
    expect(late.statusCode).toBe(410);
    expect(late.json().error.code).toBe("upload_url_expired");
    expectRateHeaders(late);
    c.set(Date.parse(ticket.expiresAt));
    const onTime = await sim.call("PUT", pathOf(ticket.uploadUrl), { key: null, body: other });
    expect(onTime.statusCode).toBe(200);
  });

  test("an empty file uploads", async () => {
    const ticket = (
      await sim.call("POST", "/v1/upload", {
        body: { fileName: "empty", contentType: "application/octet-stream", sha256: sha256Of("") },
      })
    ).json();
    const res = await sim.app.inject({
      method: "PUT",
      url: pathOf(ticket.uploadUrl),
      headers: { "content-length": "0" },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ sha256: sha256Of(""), size: 0 });
  });
});

describe("options that shape answers", () => {
  let sim: Sim | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  test("baseUrl sets the upload URLs' base", async () => {
    sim = await makeSim({ baseUrl: "https://uploads.example/" });
    const res = await sim.call("POST", "/v1/upload", {
      body: { fileName: "a", contentType: "x/y", sha256: SHA },
    });
    expect(res.json().uploadUrl).toMatch(/^https:\/\/uploads\.example\/uploads\/up_/);
  });

  test("uploadUrlTtlMs sets the expiry", async () => {
    sim = await makeSim({ uploadUrlTtlMs: 1000, now: () => T0 });
    const res = await sim.call("POST", "/v1/upload", {
      body: { fileName: "a", contentType: "x/y", sha256: SHA },
    });
    expect(res.json().expiresAt).toBe(new Date(T0 + 1000).toISOString());
  });

  test("the monthly quota: 402 when used up, with quota and resetsAt; a new month resets it", async () => {
    const c = clock(Date.parse("2026-11-30T23:00:00Z"));
    sim = await makeSim({
      keys: [{ key: KEY, scopes: ["upload", "files.read"], quota: 2 }],
      analysisDelayMs: 0,
      now: c.now,
    });
    expect((await sim.upload("one")).complete.statusCode).toBe(202);
    expect((await sim.upload("two")).complete.statusCode).toBe(202);
    const third = await sim.upload("three");
    expect(third.complete.statusCode).toBe(402);
    expect(third.complete.json().error).toMatchObject({
      code: "quota_exhausted",
      quota: 2,
      resetsAt: "2026-12-01T00:00:00.000Z",
    });
    expectRateHeaders(third.complete);
    // A re-analysis uses quota too.
    const again = await sim.call("POST", "/v1/upload/complete", {
      body: { sha256: sha256Of("one") },
    });
    expect(again.statusCode).toBe(402);
    c.set(Date.parse("2026-12-01T00:00:00Z"));
    const next = await sim.call("POST", "/v1/upload/complete", { body: { sha256: third.sha256 } });
    expect(next.statusCode).toBe(202);
  });

  test("analysisDelayMs 0 completes within complete; quota is per key", async () => {
    sim = await makeSim({
      keys: [
        { key: "k1", scopes: ["upload", "files.read"], quota: 1 },
        { key: "k2", scopes: ["upload", "files.read"], quota: 1 },
      ],
      analysisDelayMs: 0,
    });
    const one = await sim.upload("x", { key: "k1" });
    expect(one.complete.json()).toEqual({
      sha256: one.sha256,
      status: "pending",
      estimatedSeconds: 0,
    });
    const file = await sim.call("GET", `/v1/files/${one.sha256}`, { key: "k1" });
    expect(file.json().status).toBe("completed");
    expect((await sim.upload("y", { key: "k1" })).complete.statusCode).toBe(402);
    expect((await sim.upload("y", { key: "k2" })).complete.statusCode).toBe(202);
  });

  test("with the real clock, a pending analysis completes on its own", async () => {
    sim = await makeSim({ analysisDelayMs: 50 });
    const { sha256 } = await sim.upload("soon done");
    expect((await sim.call("GET", `/v1/files/${sha256}`)).json().status).toBe("pending");
    await new Promise((r) => setTimeout(r, 120));
    expect((await sim.call("GET", `/v1/files/${sha256}`)).json().status).toBe("completed");
  });

  test("seedFiles pre-populates completed analyses, oldest first, before the start", async () => {
    sim = await makeSim({ seedFiles: 5, now: () => T0 });
    const { data, nextCursor } = (await sim.call("GET", "/v1/files")).json();
    expect(data).toHaveLength(5);
    expect(nextCursor).toBeNull();
    expect(data.map((f: { analyzed_at: string }) => f.analyzed_at)).toEqual(
      [5, 4, 3, 2, 1].map((s) => new Date(T0 - s * 1000).toISOString()),
    );
    for (const f of data) expect(f).toMatchObject({ status: "completed", version: 1 });
  });

  test("reset returns to the state at start", async () => {
    sim = await makeSim({ seedFiles: 2, analysisDelayMs: 0, now: () => T0 });
    const before = (await sim.call("GET", "/v1/files")).json();
    await sim.upload("extra");
    await sim.call("POST", "/_sim/faults", { body: { rateLimitStorm: 5 } });
    expect((await sim.call("GET", "/v1/files")).statusCode).toBe(429);
    expect((await sim.call("POST", "/_sim/reset")).statusCode).toBe(204);
    expect((await sim.call("GET", "/_sim/faults")).json().rateLimitStorm).toBe(0);
    expect((await sim.call("GET", "/v1/files")).json()).toEqual(before);
  });
});

describe("GET /v1/files filters", () => {
  let sim: Sim;
  let all: { sha256: string; analyzed_at: string }[];
  beforeAll(async () => {
    sim = await makeSim({ seedFiles: 10, now: () => T0 });
    all = (await sim.call("GET", "/v1/files")).json().data;
  });
  afterAll(() => sim.close());

  test("since is inclusive, until exclusive", async () => {
    const since = all[3]!.analyzed_at;
    const until = all[7]!.analyzed_at;
    const res = await sim.call("GET", `/v1/files?since=${since}&until=${until}`);
    expect(res.json().data).toEqual(all.slice(3, 7));
  });

  test("since and until accept offsets", async () => {
    const at = new Date(Date.parse(all[5]!.analyzed_at));
    const res = await sim.call(
      "GET",
      `/v1/files?since=${encodeURIComponent(at.toISOString().replace("Z", "+00:00"))}`,
    );
    expect(res.json().data).toEqual(all.slice(5));
  });

  test("sha256 selects one file, in either case", async () => {
    const res = await sim.call("GET", `/v1/files?sha256=${all[4]!.sha256.toUpperCase()}`);
    expect(res.json()).toEqual({ data: [all[4]], nextCursor: null });
  });

  test("a cursor carries its filters; changing them is an error, repeating them is not", async () => {
    const since = all[2]!.analyzed_at;
    const first = (await sim.call("GET", `/v1/files?since=${since}&limit=3`)).json();
    expect(first.data).toEqual(all.slice(2, 5));
    const bare = (await sim.call("GET", `/v1/files?cursor=${first.nextCursor}&limit=3`)).json();
    expect(bare.data).toEqual(all.slice(5, 8));
    const repeated = await sim.call(
      "GET",
      `/v1/files?since=${since}&cursor=${first.nextCursor}&limit=3`,
    );
    expect(repeated.json().data).toEqual(all.slice(5, 8));
    const changed = await sim.call(
      "GET",
      `/v1/files?since=${all[0]!.analyzed_at}&cursor=${first.nextCursor}`,
    );
    expect(changed.statusCode).toBe(400);
    expect(changed.json().error.details[0].field).toBe("since");
  });
});

describe("rate limits", () => {
  test("both header forms count down; over the limit 429 with Retry-After; the next window allows", async () => {
    const c = clock(T0 + 15_000);
    const sim = await makeSim({ rateLimit: { limit: 3, windowMs: 60_000 }, now: c.now });
    try {
      const reset = String(Math.ceil((T0 + 60_000) / 1000));
      for (const remaining of [2, 1, 0]) {
        const res = await sim.call("GET", "/v1/files");
        expect(res.statusCode).toBe(200);
        expect(res.headers).toMatchObject({
          "x-ratelimit-limit": "3",
          "x-ratelimit-remaining": String(remaining),
          "x-ratelimit-reset": reset,
          "ratelimit-policy": '"default";q=3;w=60',
          ratelimit: `"default";r=${remaining};t=45`,
        });
        expect(res.headers["retry-after"]).toBeUndefined();
      }
      const over = await sim.call("GET", "/v1/files");
      expect(over.statusCode).toBe(429);
      expect(over.json().error.code).toBe("rate_limited");
      expect(over.headers["retry-after"]).toBe("45");
      expect(over.headers["x-ratelimit-remaining"]).toBe("0");
      // Another key has its own budget; the admin API has none.
      const admin = await sim.call("GET", "/_sim/faults");
      expect(admin.statusCode).toBe(200);
      expect(admin.headers["x-ratelimit-limit"]).toBeUndefined();
      c.set(T0 + 60_000);
      const next = await sim.call("GET", "/v1/files");
      expect(next.statusCode).toBe(200);
      expect(next.headers["x-ratelimit-remaining"]).toBe("2");
    } finally {
      await sim.close();
    }
  });

  test("keys count separately; requests without a valid key share one bucket", async () => {
    const sim = await makeSim({
      keys: [
        { key: "k1", scopes: ["files.read"] },
        { key: "k2", scopes: ["files.read"] },
      ],
      rateLimit: { limit: 2, windowMs: 60_000 },
      now: () => T0,
    });
    try {
      await sim.call("GET", "/v1/files", { key: "k1" });
      await sim.call("GET", "/v1/files", { key: "k1" });
      expect((await sim.call("GET", "/v1/files", { key: "k1" })).statusCode).toBe(429);
      expect((await sim.call("GET", "/v1/files", { key: "k2" })).statusCode).toBe(200);
      expect((await sim.call("GET", "/v1/files", { key: "bad" })).statusCode).toBe(401);
      expect((await sim.call("GET", "/v1/files", { key: null })).statusCode).toBe(401);
      const third = await sim.call("GET", "/v1/files", { key: "other" });
      expect(third.statusCode).toBe(429);
      expect(third.headers["retry-after"]).toBe("60");
    } finally {
      await sim.close();
    }
  });

  test("rate-limit headers are on every platform answer: 2xx, 4xx and 5xx", async () => {
    const c = clock();
    const sim = await makeSim({ analysisDelayMs: 0, now: c.now, uploadUrlTtlMs: 1000 });
    try {
      const answers = [];
      const { sha256 } = await sim.upload("headers everywhere");
      answers.push(await sim.call("GET", `/v1/files/${sha256}`)); // 200
      answers.push(await sim.call("POST", "/v1/upload/complete", { body: { sha256 } })); // 202
      answers.push(await sim.call("GET", "/v1/files", { key: null })); // 401
      answers.push(await sim.call("GET", "/nowhere")); // 404
      answers.push(await sim.call("POST", "/v1/upload/complete", { body: { sha256: SHA } })); // 409
      const ticket = (
        await sim.call("POST", "/v1/upload", {
          body: { fileName: "a", contentType: "b/c", sha256: SHA },
        })
      ).json();
      c.advance(5000);
      answers.push(await sim.call("PUT", pathOf(ticket.uploadUrl), { key: null, body: "late" })); // 410
      await sim.call("POST", "/_sim/faults", { body: { errorRate: 1 } });
      answers.push(await sim.call("GET", "/v1/files")); // 500 or 503
      answers.push(await sim.call("GET", "/v1/files"));
      await sim.call("POST", "/_sim/faults", { body: { rateLimitStorm: 1 } });
      answers.push(await sim.call("GET", "/v1/files")); // 429
      expect(answers.map((a) => a.statusCode).slice(0, 6)).toEqual([200, 202, 401, 404, 409, 410]);
      for (const a of answers.slice(6, 8)) expect([500, 503]).toContain(a.statusCode);
      expect(answers[8]!.statusCode).toBe(429);
      for (const a of answers) expectRateHeaders(a);
    } finally {
      await sim.close();
    }
  });
});

describe("faults through inject()", () => {
  test("drop and truncate reject the inject() promise (a socket-level failure)", async () => {
    for (const faults of [{ dropRate: 1 }, { truncateRate: 1 }]) {
      const sim = await makeSim({ faults });
      try {
        await expect(sim.call("GET", "/v1/files")).rejects.toThrow(
          "response destroyed before completion",
        );
      } finally {
        await sim.close();
      }
    }
  });

  test("faults set at start come back after reset; the admin API reports them", async () => {
    const sim = await makeSim({ faults: { errorRate: 1, only: "/v1/files" } });
    try {
      expect((await sim.call("GET", "/_sim/faults")).json()).toEqual({
        latencyMs: 0,
        errorRate: 1,
        dropRate: 0,
        truncateRate: 0,
        rateLimitStorm: 0,
        only: "/v1/files",
      });
      await sim.call("POST", "/_sim/faults", { body: {} });
      expect((await sim.call("GET", "/v1/files")).statusCode).toBe(200);
      await sim.call("POST", "/_sim/reset");
      expect([500, 503]).toContain((await sim.call("GET", "/v1/files")).statusCode);
    } finally {
      await sim.close();
    }
  });
});
