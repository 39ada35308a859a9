// What one client can no longer do to the server: nest JSON without bound, send bytes that are not
// UTF-8 (and have them stored altered), hold every in-flight slot, or keep an overloaded server
// taking work. Each limit is a `limits` option (docs/configuration.md).
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createApiKey } from "../src/auth.js";
import { example, makeApp, type TestApp } from "./helpers.js";

const json = { "content-type": "application/json" };

async function entryCount(t: TestApp): Promise<number> {
  return (await t.services.audit.query({}, 1000)).entries.length;
}

describe("JSON bodies", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp({ limits: { jsonDepth: 16 } });
  });
  afterAll(() => t.close());

  test.each([
    ["/v1/decisions", `{"result":${"[".repeat(20)}${"]".repeat(20)}}`, 25],
    ["/v1/decisions/batch", `{"items":[${"[".repeat(5_000_000)}]}`, 24],
  ])(
    "%s: nesting deeper than limits.jsonDepth is json_too_deep at its byte",
    async (url, payload, at) => {
      const before = await entryCount(t);
      const res = await t.app.inject({ method: "POST", url, headers: json, payload });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({
        code: "json_too_deep",
        detail: `arrays and objects nest more than 16 deep at byte ${at} (\`limits.jsonDepth\`)`,
      });
      expect(await entryCount(t)).toBe(before);
    },
  );

  test("a body that is not UTF-8 is refused at its first bad byte, nothing recorded", async () => {
    const text = JSON.stringify({ result: { ...example("malware"), fileName: "Xinvoice.exe" } });
    const bytes = Buffer.from(text);
    const at = bytes.indexOf("Xinvoice");
    bytes[at] = 0xff; // Latin-1 `ÿ`, as a client that does not send UTF-8 would
    const before = await entryCount(t);
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/decisions",
      headers: json,
      payload: bytes,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      code: "invalid_utf8",
      detail: `the body is not UTF-8: byte ${at} (\`0xff\`) is invalid`,
    });
    expect(await entryCount(t)).toBe(before);
  });

  test("the stored snapshot is the body byte for byte, whatever its characters and escapes", async () => {
    const result = { ...example("malware"), fileName: "facture-été-請求書-😀.exe" };
    const payload = Buffer.from(
      `{ "result" :${JSON.stringify(result)} , "explain":false, "context": {"\\u0067roup": "r\\u00e9seau"}}`,
    );
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/decisions",
      headers: json,
      payload,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().fileName).toBe("facture-été-請求書-😀.exe");
    const stored = (await t.services.audit.get(res.json().decisionId))!;
    expect(stored.input).toMatchObject({ context: { group: "réseau" } });
    const text = await t.services.audit.store.entries.input(stored.entry.inputHash);
    expect(Buffer.from(text!, "utf8")).toEqual(payload);
  });
});

describe("limits.inFlightPerKey", () => {
  const a = createApiKey();
  const b = createApiKey();
  let t: TestApp;
  let url: string;
  const held: Socket[] = [];
  beforeAll(async () => {
    t = await makeApp({
      limits: { inFlightPerKey: 2 },
      auth: {
        keys: [
          { id: "busy", scopes: ["decide"], sha256: a.sha256 },
          { id: "other", scopes: ["decide"], sha256: b.sha256 },
        ],
      },
    });
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    url = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    for (const s of held) s.destroy();
    await t.close();
  });

  const decide = (key: string) =>
    fetch(`${url}/v1/decisions`, {
      method: "POST",
      headers: { ...json, authorization: `Bearer ${key}` },
      body: JSON.stringify({ result: example("malware") }),
    });

  test("a key over the limit gets 429 with Retry-After; other keys are served; slots come back", async () => {
    // two requests of `busy` whose bodies never finish arriving: in flight until their sockets close
    const { port } = t.app.server.address() as { port: number };
    for (let i = 0; i < 2; i++) {
      const socket = connect(port, "127.0.0.1");
      socket.on("error", () => {});
      socket.write(
        `POST /v1/decisions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${a.secret}\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{"result":`,
      );
      held.push(socket);
    }
    // the hook counts them once their headers are read: ask until the third is refused
    let refused: Response | undefined;
    for (let i = 0; i < 250 && refused === undefined; i++) {
      const res = await decide(a.secret);
      if (res.status === 429) refused = res;
      else {
        await res.arrayBuffer();
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    expect(refused, "a third request of `busy` is refused").toBeDefined();
    expect(refused!.headers.get("retry-after")).toBe("1");
    expect(await refused!.json()).toMatchObject({
      code: "too_many_in_flight",
      detail:
        "this key (`busy`) has 2 decision requests in flight; the limit is 2 (`limits.inFlightPerKey`)",
    });
    expect((await decide(b.secret)).status).toBe(200);
    for (const s of held.splice(0)) s.destroy();
    let served = false;
    for (let i = 0; i < 250 && !served; i++) {
      const res = await decide(a.secret);
      served = res.status === 200;
      await res.arrayBuffer();
      if (!served) await new Promise((r) => setTimeout(r, 20));
    }
    expect(served, "the slots of closed requests are given back").toBe(true);
  });
});

describe("limits.pressure", () => {
  let t: TestApp;
  beforeAll(async () => {
    // a heap limit of one byte: under pressure from the first sample (once a second) on
    t = await makeApp({ limits: { pressure: { maxHeapUsedBytes: 1, retryAfterSeconds: 7 } } });
  });
  afterAll(() => t.close());

  test("sheds decisions with 503 server_busy and Retry-After; health and metrics still answer", async () => {
    let res = await t.app.inject({
      method: "POST",
      url: "/v1/decisions",
      payload: { result: example("malware") },
    });
    const deadline = Date.now() + 5_000;
    while (res.statusCode !== 503 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      res = await t.app.inject({
        method: "POST",
        url: "/v1/decisions",
        payload: { result: example("malware") },
      });
    }
    expect(res.statusCode).toBe(503);
    expect(res.headers["retry-after"]).toBe("7");
    expect(res.headers["content-type"]).toBe("application/problem+json; charset=utf-8");
    expect(res.json()).toMatchObject({
      code: "server_busy",
      detail: expect.stringMatching(
        /^the heap holds \d+ bytes \(`limits\.pressure\.maxHeapUsedBytes` is 1\); retry in 7 s$/,
      ),
    });
    for (const path of ["/healthz", "/readyz", "/metrics"])
      expect((await t.app.inject({ url: path })).statusCode, path).toBe(200);
  });
});
