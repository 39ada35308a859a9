/**
 * What the decision endpoints make of lists of VirusTotal file objects, of the wrappers tools put
 * around one, and of bodies over the limit. The file objects are real reports of the corpus
 * (`examples/virustotal/real/`, PROVENANCE.md); the wrappers are built as the tools' code builds
 * them (see `packages/engine/src/adapters/wrappers.ts`).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { makeApp, REPO, type TestApp } from "./helpers.js";

type Obj = Record<string, unknown>;
const real = (name: string) =>
  (
    JSON.parse(readFileSync(join(REPO, "examples/virustotal/real", name), "utf8")) as {
      data: { id: string; type: string; attributes: Obj };
    }
  ).data;
const PE = real("pe-exe-dotnet-unsigned.json");
const PS1 = real("script-powershell.json");

async function entries(t: TestApp): Promise<number> {
  return (await t.services.audit.query({}, 1000)).entries.length;
}

describe("the decision endpoints and lists of file objects", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp();
  });
  afterAll(() => t.close());

  const post = (url: string, payload: unknown) => t.app.inject({ method: "POST", url, payload });

  test("a search answer is refused (400) naming the batch endpoint, whose items it then takes", async () => {
    const before = await entries(t);
    const search = { data: [PE, PS1], meta: { cursor: "CsMB" }, links: { self: "x" } };
    const refused = await post("/v1/decisions", { result: search });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({
      code: "invalid_result",
      detail:
        'the analysis result is a list of 2 items (a VirusTotal search or collection answer), not one result: send its items to `POST /v1/decisions/batch`, each as the `result` of one item (`{"items": [{"result": <data[0]>}, ...]}`)',
      problems: [{ pointer: "/result/data", message: "a list of 2 items" }],
    });
    expect(await entries(t)).toBe(before);

    // what the message says works: each item decided as when it is sent alone
    const batch = await post("/v1/decisions/batch", {
      items: search.data.map((result) => ({ result })),
    });
    expect(batch.statusCode).toBe(200);
    const alone = await post("/v1/decisions", { result: { data: PS1 } });
    const items = batch.json().items;
    expect(items.map((i: Obj) => i.sha256)).toEqual([PE.id, PS1.id]);
    expect(items[1]).toMatchObject({
      decision: alone.json().decision,
      rule: alone.json().rule,
      fileName: alone.json().fileName,
    });
  });

  test("a batch item that is a list is refused on its own, the others decided", async () => {
    const res = await post("/v1/decisions/batch", {
      items: [{ result: { data: PE } }, { result: { data: [PE] } }],
    });
    expect(res.statusCode).toBe(200);
    const [first, second] = res.json().items;
    expect(first.sha256).toBe(PE.id);
    expect(second.error).toMatchObject({
      code: "invalid_result",
      problems: [{ pointer: "/items/1/result/data", message: "a list of 1 item" }],
    });
    expect(second.error.detail).toContain("make each of them an item of the batch");
  });

  test("vt-cli's array as the result is refused by the schema, naming what is expected", async () => {
    const res = await post("/v1/decisions", {
      result: [{ _id: PE.id, _type: "file", ...PE.attributes }],
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().problems[0].pointer).toBe("/result");
  });

  test.each<[string, unknown, string]>([
    [
      "vt-cli's object",
      { _id: PE.id, _type: "file", ...PE.attributes },
      "read the file object inside vt-cli's output (`_id`, `_type` and the attributes)",
    ],
    [
      "a Cortex analyzer report",
      {
        success: true,
        summary: {},
        artifacts: [],
        full: { type: "file", id: PE.id, attributes: PE.attributes, iocs: {} },
      },
      "read the VirusTotal file object in `full` of a Cortex analyzer report",
    ],
  ])("decides the file object in %s, saying so in a warning", async (_name, result, warning) => {
    for (const format of [undefined, "virustotal"]) {
      const res = await post("/v1/decisions", format ? { result, format } : { result });
      expect(res.statusCode).toBe(200);
      expect(res.json().sha256).toBe(PE.id);
      expect(res.json().warnings[0]).toBe(warning);
    }
  });

  test("a failed Cortex job is refused, naming it", async () => {
    const res = await post("/v1/decisions", {
      result: { success: false, input: {}, errorMessage: "Missing VirusTotal API key" },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().problems).toEqual([
      {
        pointer: "/result",
        message:
          "the input is a failed Cortex analyzer job, not a file report: `Missing VirusTotal API key`",
      },
    ]);
  });
});

describe("a body over the limit", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp({ server: { bodyLimit: 4096, batchLimit: 2 } });
  });
  afterAll(() => t.close());

  test.each([
    [
      "/v1/decisions",
      { result: { data: PE } },
      "the body is over the limit of 4096 bytes (`server.bodyLimit`)",
    ],
    [
      "/v1/decisions/batch",
      { items: [{ result: { data: PE } }, { result: { data: PS1 } }] },
      "the body is over the limit of 32768 bytes (the larger of `server.bodyLimit` and `server.batchLimit` × 16384)",
    ],
  ])("%s refuses it (413), naming the limit and its setting", async (url, payload, detail) => {
    const res = await t.app.inject({ method: "POST", url, payload });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: "body_too_large", detail });
  });
});
