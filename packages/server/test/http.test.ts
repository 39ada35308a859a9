import { cpSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { REVIEW_CASE_KIND } from "../src/audit/kinds.js";
import { createApiKey } from "../src/auth.js";
import { resolveConfig } from "../src/config.js";
import { buildApp, fastifyOptions } from "../src/server.js";
import { createServices } from "../src/services.js";
import { example, makeApp, REPO, RULES, type TestApp, tempDir, waitFor } from "./helpers.js";

const json = { "content-type": "application/json" };

async function entryCount(t: TestApp): Promise<number> {
  return (await t.services.audit.query({}, 1000)).entries.length;
}

describe("POST /v1/decisions", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp();
  });
  afterAll(() => t.close());

  test.each([
    [
      "a canonical result declared VirusTotal",
      { result: example("minimal"), format: "virustotal" },
      "the input was declared `virustotal` but reads as a canonical result",
    ],
    [
      "VirusTotal's error body",
      { result: { error: { code: "NotFoundError", message: "not found" } } },
      "the input is a VirusTotal error, not a file report: `NotFoundError` (not found)",
    ],
  ])("refuses %s (400 invalid_result), recording nothing", async (_name, payload, detail) => {
    const before = (await t.services.audit.query({}, 1000)).entries.length;
    const res = await t.app.inject({ method: "POST", url: "/v1/decisions", payload });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe("invalid_result");
    expect(res.json().problems[0].message).toContain(detail);
    expect((await t.services.audit.query({}, 1000)).entries).toHaveLength(before);
  });

  test.each([
    ["malware", "deny", "malware"],
    ["signed-microsoft", "allow", "trusted_publisher"],
  ])("decides %s: %s by %s, and records it before answering", async (name, decision, rule) => {
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/decisions",
      payload: { result: example(name) },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ decision, rule, sha256: example(name).sha256 });
    expect(body.ruleset.revision).toBe(t.services.rules.ruleset.revision);
    expect(body.explain).toBeUndefined();
    // the answer came after the commit: the entry is readable at once
    const found = await t.services.audit.get(body.decisionId);
    expect(found?.entry).toMatchObject({ decision, rule, source: "api", requester: null });
    expect((found!.input as { result: { sha256: string } }).result.sha256).toBe(body.sha256);
  });

  test("explains on request, and the explanation is stored with the entry", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/decisions",
      payload: { result: example("malware"), explain: true },
    });
    const body = res.json();
    expect(body.explain.decidedBy).toBe("rule");
    expect(body.explain.rules.length).toBeGreaterThan(0);
    const one = await t.app.inject({ url: `/v1/audit/${body.decisionId}` });
    expect(one.json().explain).toMatchObject({ source: "stored" });
  });

  test("accepts a VirusTotal file object and passes on the adapter's warnings", async () => {
    const vt = JSON.parse(readFileSync(join(REPO, "examples/virustotal/messy.json"), "utf8"));
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/decisions",
      payload: { result: vt },
    });
    expect(res.statusCode).toBe(200);
    expect(["allow", "deny", "review"]).toContain(res.json().decision);
  });

  test("stores the request's JSON text as received as the input snapshot, and replays it", async () => {
    const vt = readFileSync(join(REPO, "examples/virustotal/messy.json"), "utf8");
    // odd spacing and key order survive: the snapshot is the bytes sent, not a re-serialisation
    const payload = `{ "explain" : false,\n "format": "virustotal", "result": ${vt.trim()} }`;
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/decisions",
      headers: json,
      payload,
    });
    expect(res.statusCode).toBe(200);
    const stored = (await t.services.audit.get(res.json().decisionId))!;
    expect(await t.services.audit.store.entries.input(stored.entry.inputHash)).toBe(payload);
    expect(stored.entry.fileName).toBe(res.json().fileName);
    // the recorded explanation is recomputed from the VirusTotal object, in its own format
    const one = await t.app.inject({ url: `/v1/audit/${res.json().decisionId}` });
    expect(one.json().input.format).toBe("virustotal");
    expect(one.json().explain.source).toBe("recomputed");
    expect(one.json().explain.explain.decidedBy).toBe(res.json().rule ? "rule" : "default");
  });

  test("a body that starts with a byte-order mark is decided, and its snapshot reads back", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/decisions",
      headers: json,
      payload: `\uFEFF${JSON.stringify({ result: example("malware") })}`,
    });
    expect(res.statusCode).toBe(200);
    const one = await t.app.inject({ url: `/v1/audit/${res.json().decisionId}` });
    expect(one.statusCode).toBe(200);
    expect(one.json().input.result.sha256).toBe(example("malware").sha256);
    const exported = await t.app.inject({ url: "/v1/audit/export" });
    expect(exported.statusCode).toBe(200);
  });

  test("a batch item's snapshot is the canonical result, and says so", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/decisions/batch",
      payload: { items: [{ result: example("malware") }] },
    });
    expect(res.statusCode).toBe(200);
    const one = await t.app.inject({ url: `/v1/audit/${res.json().items[0].decisionId}` });
    expect(one.json().input).toMatchObject({ format: "canonical" });
    expect(one.json().explain.source).toBe("recomputed");
  });

  test("a body with a `__proto__` key is refused as such, with its pointer", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/decisions",
      headers: json,
      payload: `{"result": ${JSON.stringify(example("malware"))}, "__proto__": {"x": 1}}`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      code: "forbidden_key",
      problems: [{ pointer: "/__proto__" }],
    });
  });

  test("uses the request context the rules declare", async () => {
    const result = { ...example("signed-microsoft"), trustScore: 85 };
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/decisions",
      payload: { result, context: { group: "finance" } },
    });
    expect(res.json()).toMatchObject({ decision: "review", rule: "finance_strict" });
    const stored = await t.services.audit.get(res.json().decisionId);
    expect(stored?.input).toMatchObject({ context: { group: "finance" } });
  });

  // Bad input: the right status, a problem document naming the JSON Pointer, nothing recorded.
  const big = "x".repeat(1_100_000);
  test.each([
    {
      name: "malformed JSON",
      payload: '{"result": {',
      headers: json,
      status: 400,
      code: "malformed_json",
    },
    {
      name: "an empty body",
      payload: "",
      headers: json,
      status: 400,
      code: "malformed_json",
    },
    {
      name: "a wrong content type",
      payload: "sha256=abc",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      status: 415,
      code: "unsupported_media_type",
    },
    {
      name: "a body over the limit",
      payload: JSON.stringify({ result: { sha256: "a".repeat(64), fileName: big } }),
      headers: json,
      status: 413,
      code: "body_too_large",
    },
    {
      name: "a missing result",
      payload: JSON.stringify({ context: {} }),
      headers: json,
      status: 400,
      code: "invalid_request",
      pointer: "/result",
    },
    {
      name: "an unknown top-level key",
      payload: JSON.stringify({ result: example("malware"), explian: true }),
      headers: json,
      status: 400,
      code: "invalid_request",
      pointer: "/explian",
    },
    {
      name: "an invalid result",
      payload: JSON.stringify({ result: { sha256: "not-a-hash", trustScore: 140 } }),
      headers: json,
      status: 400,
      code: "invalid_result",
      pointer: "/result/sha256",
    },
    {
      name: "a trust score out of range",
      payload: JSON.stringify({ result: { ...example("malware"), trustScore: 140 } }),
      headers: json,
      status: 400,
      code: "invalid_result",
      pointer: "/result/trustScore",
    },
    {
      name: "an unknown context field",
      payload: JSON.stringify({ result: example("malware"), context: { gruop: "finance" } }),
      headers: json,
      status: 400,
      code: "invalid_context",
      pointer: "/context/gruop",
      message: /did you mean `group`/,
    },
    {
      name: "a context field of the wrong type",
      payload: JSON.stringify({ result: example("malware"), context: { tags: "a" } }),
      headers: json,
      status: 400,
      code: "invalid_context",
      pointer: "/context/tags",
    },
    {
      name: "explain that is not a boolean",
      payload: JSON.stringify({ result: example("malware"), explain: "yes" }),
      headers: json,
      status: 400,
      code: "invalid_request",
      pointer: "/explain",
    },
  ])("$name: $status $code, nothing recorded", async (c) => {
    const before = await entryCount(t);
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/decisions",
      payload: c.payload,
      headers: c.headers,
    });
    expect(res.statusCode).toBe(c.status);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    const problem = res.json();
    expect(problem).toMatchObject({ status: c.status, code: c.code, instance: "/v1/decisions" });
    expect(problem.type).toBe(`https://clearance.dev/problems/${c.code.replaceAll("_", "-")}`);
    if (c.pointer)
      expect(problem.problems.map((p: { pointer: string }) => p.pointer)).toContain(c.pointer);
    if (c.message) expect(JSON.stringify(problem)).toMatch(c.message);
    expect(await entryCount(t)).toBe(before);
  });

  test("a result sent without its wrapper: one problem that says to wrap it", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/decisions",
      payload: JSON.stringify(example("malware")),
      headers: json,
    });
    expect(res.statusCode).toBe(400);
    const problem = res.json();
    expect(problem.code).toBe("invalid_request");
    expect(problem.problems).toEqual([
      {
        pointer: "/result",
        message: expect.stringContaining("looks like an analysis result sent bare"),
      },
    ]);
    expect(problem.detail).toContain('send `{"result": <the result>}`');
    // a batch item sent bare is named by its own pointer, the good items' problems are kept
    const batch = await t.app.inject({
      method: "POST",
      url: "/v1/decisions/batch",
      payload: JSON.stringify({ items: [{ result: example("malware") }, example("malware")] }),
      headers: json,
    });
    expect(batch.statusCode).toBe(400);
    expect(batch.json().problems).toEqual([
      { pointer: "/items/1/result", message: expect.stringContaining("sent bare") },
    ]);
  });

  test("an unknown route is a problem document too", async () => {
    const res = await t.app.inject({ url: "/v1/nothing" });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe("not_found");
  });
});

describe("POST /v1/decisions/batch", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp({ server: { batchLimit: 5 } });
  });
  afterAll(() => t.close());

  test("answers one item per request item, with per-item errors, recording only the decided", async () => {
    const before = await entryCount(t);
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/decisions/batch",
      payload: {
        items: [
          { result: example("malware") },
          { result: { sha256: "nope" } },
          { result: example("signed-microsoft"), context: { nope: 1 } },
          { result: example("signed-microsoft") },
        ],
      },
    });
    expect(res.statusCode).toBe(200);
    const items = res.json().items;
    expect(items).toHaveLength(4);
    expect(items[0]).toMatchObject({ decision: "deny" });
    expect(items[1].error).toMatchObject({ code: "invalid_result" });
    expect(items[1].error.problems[0].pointer).toBe("/items/1/result/sha256");
    expect(items[2].error).toMatchObject({ code: "invalid_context" });
    expect(items[2].error.problems[0].pointer).toBe("/items/2/context/nope");
    expect(items[3]).toMatchObject({ decision: "allow" });
    expect(await entryCount(t)).toBe(before + 2);
    const entry = await t.services.audit.get(items[0].decisionId);
    expect(entry?.entry.source).toBe("batch");
  });

  test("a batch over the limit is refused whole (413) and nothing is recorded", async () => {
    const before = await entryCount(t);
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/decisions/batch",
      payload: { items: Array.from({ length: 6 }, () => ({ result: example("malware") })) },
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: "batch_too_large" });
    expect(res.json().problems[0].pointer).toBe("/items");
    expect(await entryCount(t)).toBe(before);
  });

  test("an empty batch is invalid", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/decisions/batch",
      payload: { items: [] },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().problems[0].pointer).toBe("/items");
  });
});

describe("batch semantics: each item on its own", () => {
  /** The ids of the entries in an SQLite log, read beside the server. */
  async function recordedIds(path: string): Promise<Set<string>> {
    const Database = (await import("better-sqlite3")).default;
    const db = new Database(path, { readonly: true });
    try {
      return new Set(
        (db.prepare("SELECT id FROM entries").all() as { id: string }[]).map((r) => r.id),
      );
    } finally {
      db.close();
    }
  }

  /** A batch of distinct files, one in `bad` of them invalid. */
  function batchOf(n: number, bad: number) {
    const base = example("malware");
    return Array.from({ length: n }, (_, i) =>
      i % bad === bad - 1
        ? { result: { sha256: "nope" } }
        : { result: { ...base, sha256: i.toString(16).padStart(64, "0") } },
    );
  }

  test.each([
    ["before any item is recorded: refused whole (503), as a single request would be", 0],
    ["after some items are recorded: 200, each item its decision or its own problem", 5],
  ])(
    "the audit log lost %s",
    async (_, after) => {
      // small group commits, so that a batch is recorded in many
      // SQLite written alone (no journal): another connection's lock stops its writes
      const t = await makeApp({
        limits: { sliceMs: 1 },
        audit: { maxBatch: 10, sqlite: { journal: { enabled: false } } },
      });
      const Database = (await import("better-sqlite3")).default;
      const reader = new Database(t.config.audit.sqlite.path, { readonly: true });
      const count = reader.prepare("SELECT COUNT(*) AS n FROM entries");
      // another process holding the write lock: the log cannot write from then on
      const other = new Database(t.config.audit.sqlite.path);
      try {
        const items = batchOf(1000, 7);
        // with nothing to record first, the lock is taken before the request: the writer thread
        // runs beside this one, and could commit a first group before a lock taken after it
        if (after === 0) other.exec("BEGIN IMMEDIATE");
        const answer = t.app.inject({
          method: "POST",
          url: "/v1/decisions/batch",
          payload: { items },
        });
        if (after > 0) {
          await waitFor(
            () => (count.get() as { n: number }).n >= after,
            10_000,
            `${after} entries`,
          );
          other.exec("BEGIN IMMEDIATE");
        }
        const res = await answer;
        other.exec("ROLLBACK");
        const recorded = await recordedIds(t.config.audit.sqlite.path);
        if (after === 0) {
          expect(res.statusCode).toBe(503);
          expect(res.json().code).toBe("audit_unavailable");
          expect(res.headers["retry-after"]).toBe("1");
          expect(recorded.size).toBe(0);
          return;
        }
        expect(res.statusCode).toBe(200);
        const answered: { decisionId?: string; error?: { code: string } }[] = res.json().items;
        expect(answered).toHaveLength(items.length);
        // exactly the items answered with a decision are recorded, once each
        const decided = answered.flatMap((a) => (a.decisionId ? [a.decisionId] : []));
        expect(decided.length).toBeGreaterThanOrEqual(after);
        expect(new Set(decided).size).toBe(decided.length);
        expect(new Set(decided)).toEqual(recorded);
        for (const [i, a] of answered.entries()) {
          if (i % 7 === 6) expect(a.error?.code).toBe("invalid_result");
          else if (a.error) expect(a.error.code).toBe("audit_unavailable");
          else expect(a.decisionId).toBeDefined();
        }
        expect(answered.some((a) => a.error?.code === "audit_unavailable")).toBe(true);
        expect(res.headers["retry-after"]).toBe("1");
      } finally {
        if (other.inTransaction) other.exec("ROLLBACK");
        other.close();
        reader.close();
        await t.close();
      }
    },
    30_000,
  ); // waits out SQLite's 5 s busy timeout, more than once under load
});

describe("one decision record, two projections", () => {
  test("a decision read back answers as it was given, less what only its request saw", async () => {
    const t = await makeApp();
    try {
      const result = example("signed-microsoft");
      const given = await t.app.inject({
        method: "POST",
        url: "/v1/decisions",
        payload: { result, explain: true },
      });
      expect(given.statusCode).toBe(200);
      const { explain, warnings: _, ...answer } = given.json();
      expect(explain).toBeDefined();
      const read = await t.app.inject({ url: `/v1/decisions/${result.sha256}` });
      expect(read.statusCode).toBe(200);
      expect(read.json()).toEqual({ ...answer, source: "api", requester: null });
      // the audit body is the same record: its fields say what the answer said
      const stored = (await t.services.audit.get(answer.decisionId))!.entry;
      expect(stored).toMatchObject({
        id: answer.decisionId,
        time: answer.evaluatedAt,
        decision: answer.decision,
        reason: answer.reason,
        rule: answer.rule,
        matched: answer.matched,
        errors: answer.errors,
        ruleset: answer.ruleset,
        explain,
      });
    } finally {
      await t.close();
    }
  });
});

describe("reading decisions and the audit log", () => {
  let t: TestApp;
  const ids: string[] = [];
  beforeAll(async () => {
    t = await makeApp();
    for (const name of ["malware", "signed-microsoft", "malware", "unsigned-lowscore", "minimal"]) {
      const res = await t.app.inject({
        method: "POST",
        url: "/v1/decisions",
        payload: { result: example(name) },
      });
      ids.push(res.json().decisionId);
    }
  });
  afterAll(() => t.close());

  test("GET /v1/decisions/{sha256} is the latest decision for the file", async () => {
    const sha = example("malware").sha256 as string;
    const res = await t.app.inject({ url: `/v1/decisions/${sha.toUpperCase()}` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ decisionId: ids[2], decision: "deny", source: "api" });
    const missing = await t.app.inject({ url: `/v1/decisions/${"0".repeat(64)}` });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe("not_found");
    const bad = await t.app.inject({ url: "/v1/decisions/xyz" });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().problems[0].pointer).toBe("params:/sha256");
  });

  test("GET /v1/audit filters, pages newest first, and every entry appears once", async () => {
    const deny = await t.app.inject({ url: "/v1/audit?decision=deny" });
    expect(deny.json().entries.every((e: { decision: string }) => e.decision === "deny")).toBe(
      true,
    );
    const byRule = await t.app.inject({ url: "/v1/audit?rule=trusted_publisher" });
    expect(byRule.json().entries.map((e: { id: string }) => e.id)).toEqual([ids[1]]);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await t.app.inject({
        url: `/v1/audit?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
      });
      expect(res.statusCode).toBe(200);
      seen.push(...res.json().entries.map((e: { id: string }) => e.id));
      cursor = res.json().nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    const future = await t.app.inject({ url: "/v1/audit?from=2999-01-01T00:00:00Z" });
    expect(future.json().entries).toEqual([]);
  });

  test.each([
    ["/v1/audit?limit=0", "querystring:/limit"],
    ["/v1/audit?decision=maybe", "querystring:/decision"],
    ["/v1/audit?cursor=zzz", "querystring:/cursor"],
    ["/v1/audit?colour=red", "querystring:/colour"],
  ])("%s is a 400 naming %s", async (url, pointer) => {
    const res = await t.app.inject({ url });
    expect(res.statusCode).toBe(400);
    expect(res.json().problems.map((p: { pointer: string }) => p.pointer)).toContain(pointer);
  });

  test("GET /v1/audit/{id} has the input and an explanation recomputed with the same rules", async () => {
    const res = await t.app.inject({ url: `/v1/audit/${ids[0]}` });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.entry).toMatchObject({ id: ids[0], seq: 1, chain: t.config.audit.chain });
    expect(body.input.result.sha256).toBe(example("malware").sha256);
    expect(body.explain.source).toBe("recomputed");
    expect(body.explain.explain.decidedBy).toBe("rule");
    const missing = await t.app.inject({
      url: "/v1/audit/01a21878-7d27-7000-96d2-1284faf985c3",
    });
    expect(missing.statusCode).toBe(404);
  });

  test("GET /v1/audit/export streams NDJSON oldest first, with inputs", async () => {
    const res = await t.app.inject({ url: "/v1/audit/export" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/x-ndjson/);
    const lines = res.body
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.id)).toEqual(ids);
    expect(lines[0].input.result.sha256).toBe(example("malware").sha256);
    const noInputs = await t.app.inject({ url: "/v1/audit/export?inputs=false&decision=allow" });
    const first = JSON.parse(noInputs.body.split("\n")[0]!);
    expect(first.input).toBeUndefined();
    expect(first.decision).toBe("allow");
  });

  test("POST /v1/audit/verify checks the chain", async () => {
    const res = await t.app.inject({ method: "POST", url: "/v1/audit/verify" });
    // the decisions, and the review cases their `review`s opened
    const cases = await t.services.audit.entriesOf(REVIEW_CASE_KIND, { limit: 100 });
    expect(cases.length).toBeGreaterThan(0);
    expect(res.json()).toMatchObject({ ok: true, entries: ids.length + cases.length });
  });
});

describe("rules in production", () => {
  test("a broken rules directory keeps the old rules serving; fixing it reloads", async () => {
    const tmp = tempDir();
    const dir = join(tmp.dir, "rules");
    cpSync(RULES, dir, { recursive: true });
    const t = await makeApp({ rules: { dir } });
    try {
      const before = t.services.rules.ruleset.revision;
      const file = join(dir, "threats.rules");
      const original = readFileSync(file, "utf8");
      writeFileSync(file, `${original}\nrule broken { when trustScore >> 3 deny "x" }\n`);
      const failed = await t.app.inject({ method: "POST", url: "/v1/ruleset/reload" });
      expect(failed.statusCode).toBe(422);
      expect(failed.json().code).toBe("reload_failed");
      expect(failed.json().detail).toMatch(/threats\.rules:\d+:\d+/);
      const status = (await t.app.inject({ url: "/v1/ruleset" })).json();
      expect(status.revision).toBe(before);
      expect(status.lastError.messages[0]).toMatch(/threats\.rules/);
      const still = await t.app.inject({
        method: "POST",
        url: "/v1/decisions",
        payload: { result: example("malware") },
      });
      expect(still.json().ruleset.revision).toBe(before);
      const metrics = (await t.app.inject({ url: "/metrics" })).body;
      expect(metrics).toMatch(/clearance_ruleset_reload_failing 1/);

      writeFileSync(
        file,
        original.replace(
          'deny "sandboxes saw it behave as malware"',
          'deny "sandboxes saw malware"',
        ),
      );
      const ok = await t.app.inject({ method: "POST", url: "/v1/ruleset/reload" });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toMatchObject({ changed: true });
      expect(ok.json().revision).not.toBe(before);
      const after = (await t.app.inject({ url: "/v1/ruleset" })).json();
      expect(after.lastError).toBeNull();
      expect(after.rules.find((r: { name: string }) => r.name === "malware").location.file).toMatch(
        /threats\.rules$/,
      );
    } finally {
      await t.close();
      tmp.remove();
    }
  });

  test("a file change reloads the rules by itself (watch, debounced)", async () => {
    const tmp = tempDir();
    const dir = join(tmp.dir, "rules");
    cpSync(RULES, dir, { recursive: true });
    const t = await makeApp({ rules: { dir, watch: true, debounceMs: 20 } });
    try {
      const before = t.services.rules.ruleset.revision;
      const file = join(dir, "teams.rules");
      writeFileSync(file, `${readFileSync(file, "utf8")}\n# a comment changes the revision\n`);
      const deadline = Date.now() + 10_000;
      while (t.services.rules.ruleset.revision === before && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(t.services.rules.ruleset.revision).not.toBe(before);
    } finally {
      await t.close();
      tmp.remove();
    }
  });

  test("a file replaced by rename (as editors and sed -i do) is still watched afterwards", async () => {
    const tmp = tempDir();
    const dir = join(tmp.dir, "rules");
    cpSync(RULES, dir, { recursive: true });
    const t = await makeApp({ rules: { dir, watch: true, debounceMs: 20 } });
    try {
      const file = join(dir, "teams.rules");
      const waitForNewRevision = async (before: string) => {
        const deadline = Date.now() + 10_000;
        while (t.services.rules.ruleset.revision === before && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 20));
        expect(t.services.rules.ruleset.revision).not.toBe(before);
      };
      const first = t.services.rules.ruleset.revision;
      writeFileSync(`${file}.tmp`, `${readFileSync(file, "utf8")}\n# replaced by rename\n`);
      renameSync(`${file}.tmp`, file);
      await waitForNewRevision(first);
      const second = t.services.rules.ruleset.revision;
      writeFileSync(file, `${readFileSync(file, "utf8")}\n# then written in place\n`);
      await waitForNewRevision(second);
    } finally {
      await t.close();
      tmp.remove();
    }
  });

  test("exceptions.json written into a watched rule directory reloads the rules; a bad one keeps the last good", async () => {
    const tmp = tempDir();
    const dir = join(tmp.dir, "rules");
    cpSync(RULES, dir, { recursive: true });
    const t = await makeApp({ rules: { dir, watch: true, debounceMs: 20 } });
    try {
      const waitFor = async (done: () => boolean) => {
        const deadline = Date.now() + 10_000;
        while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(done()).toBe(true);
      };
      const before = t.services.rules.ruleset.revision;
      expect(t.services.rules.ruleset.exceptions).toEqual([]);
      const exception = {
        id: "ex-1",
        status: "approved",
        scope: { sha256: example("unsigned-lowscore").sha256 },
        created: "2026-11-01T00:00:00Z",
        expires: "2099-01-01T00:00:00Z",
        approvers: ["alice"],
        justification: "reviewed",
        case: null,
      };
      writeFileSync(join(dir, "exceptions.json"), `${JSON.stringify([exception], null, 2)}\n`);
      await waitFor(() => t.services.rules.ruleset.exceptions.length === 1);
      const withOne = t.services.rules.ruleset.revision;
      expect(withOne).not.toBe(before);
      writeFileSync(join(dir, "exceptions.json"), "[{");
      await waitFor(() => t.services.rules.status().lastError !== null);
      expect(t.services.rules.status().lastError!.printed).toContain("invalid_exceptions_file");
      expect(t.services.rules.ruleset.revision).toBe(withOne);
    } finally {
      await t.close();
      tmp.remove();
    }
  });

  test("a shadow rule set is recorded beside the live one and disagreements are counted, never enforced", async () => {
    const t = await makeApp({ shadow: { rules: join(REPO, "examples/rules-tightened") } });
    try {
      // trusted publisher at trust 75: live allows (>= 70), the tightened rules do not (>= 80)
      const result = { ...example("signed-microsoft"), trustScore: 75 };
      const res = await t.app.inject({ method: "POST", url: "/v1/decisions", payload: { result } });
      expect(res.json().decision).toBe("allow");
      const entry = (await t.services.audit.get(res.json().decisionId))!.entry;
      expect(entry.shadow).not.toBeNull();
      expect(entry.shadow!.decision).not.toBe("allow");
      expect(entry.shadow!.revision).toBe(t.services.shadow!.ruleset.revision);
      const metrics = (await t.app.inject({ url: "/metrics" })).body;
      expect(metrics).toMatch(
        new RegExp(
          `clearance_shadow_disagreements_total\\{live="allow",shadow="${entry.shadow!.decision}"\\} 1`,
        ),
      );
      const status = (await t.app.inject({ url: "/v1/ruleset" })).json();
      expect(status.shadow.revision).toBe(entry.shadow!.revision);
    } finally {
      await t.close();
    }
  });
});

describe("operations endpoints", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeApp();
  });
  afterAll(() => t.close());

  test("healthz and readyz", async () => {
    expect((await t.app.inject({ url: "/healthz" })).json()).toEqual({ status: "ok" });
    const ready = await t.app.inject({ url: "/readyz" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks.audit).toBe("ok");
  });

  test("readyz fails when the audit store is gone", async () => {
    const other = await makeApp();
    await other.services.audit.store.close();
    const ready = await other.app.inject({ url: "/readyz" });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().status).toBe("not_ready");
    const refused = await other.app.inject({
      method: "POST",
      url: "/v1/decisions",
      payload: { result: example("malware") },
    });
    expect(refused.statusCode).toBe(503);
    expect(refused.json().code).toBe("audit_unavailable");
    await other.close();
  });

  test("readyz fails while another process holds the SQLite write lock (a log without a journal)", async () => {
    const Database = (await import("better-sqlite3")).default;
    const t = await makeApp({ audit: { sqlite: { journal: { enabled: false } } } });
    const other = new Database(t.config.audit.sqlite.path);
    other.exec("BEGIN IMMEDIATE");
    try {
      const ready = await t.app.inject({ url: "/readyz" });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().checks.audit).toMatch(/cannot be written/);
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
    try {
      expect((await t.app.inject({ url: "/readyz" })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });

  test("metrics count decisions by outcome and rule, latencies and audit writes", async () => {
    await t.app.inject({
      method: "POST",
      url: "/v1/decisions",
      payload: { result: example("malware") },
    });
    const res = await t.app.inject({ url: "/metrics" });
    expect(res.headers["content-type"]).toMatch(/^text\/plain/);
    expect(res.body).toMatch(
      /clearance_decisions_total\{decision="deny",rule="malware",source="api"\} 1/,
    );
    expect(res.body).toMatch(/clearance_evaluation_duration_seconds_count 1/);
    expect(res.body).toMatch(/clearance_audit_write_duration_seconds_count \d+/);
    expect(res.body).toMatch(/clearance_audit_queue_entries 0/);
    expect(res.body).toMatch(
      /clearance_http_request_duration_seconds_bucket\{.*route="\/v1\/decisions"/,
    );
    expect(res.body).toMatch(/clearance_ruleset_info\{revision="sha256:[0-9a-f]+",role="live"\} 1/);
  });

  test("openapi.json documents every endpoint", async () => {
    const doc = (await t.app.inject({ url: "/openapi.json" })).json();
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        "/healthz",
        "/metrics",
        "/readyz",
        "/v1/audit",
        "/v1/audit/export",
        "/v1/audit/verify",
        "/v1/audit/{id}",
        "/v1/decisions",
        "/v1/decisions/batch",
        "/v1/decisions/{sha256}",
        "/v1/ruleset",
        "/v1/ruleset/files",
        "/v1/ruleset/hits",
        "/v1/ruleset/reload",
        "/v1/playground/decide",
        "/v1/playground/dry-run",
        "/v1/webhooks/platform",
        "/v1/reviews",
        "/v1/reviews/policy",
        "/v1/reviews/{id}",
        "/v1/reviews/{id}/votes",
        "/v1/exceptions",
        "/v1/exceptions/{id}",
        "/v1/session",
        "/auth/login",
        "/auth/callback",
      ].sort(),
    );
    expect(doc.paths["/v1/decisions"].post.requestBody).toBeDefined();
  });
});

describe("privacy", () => {
  test("redacted fields are removed from the stored input, the answer is unchanged", async () => {
    const t = await makeApp({
      audit: { redact: ["/result/fileName", "/context/group", "/result/vendor/signer"] },
    });
    try {
      const result = example("signed-microsoft");
      const res = await t.app.inject({
        method: "POST",
        url: "/v1/decisions",
        payload: { result, context: { group: "engineering", tags: ["a"] } },
      });
      expect(res.statusCode).toBe(200);
      const stored = (await t.services.audit.get(res.json().decisionId))!;
      const input = stored.input as {
        result: Record<string, unknown>;
        context: Record<string, unknown>;
      };
      expect(input.result.fileName).toBeUndefined();
      expect(input.result.sha256).toBe(result.sha256);
      expect(input.context).toEqual({ tags: ["a"] });
      expect(stored.entry.fileName).toBeNull();
    } finally {
      await t.close();
    }
  });

  test("logs never hold API keys, signatures or secrets, even at trace level with request logs", async () => {
    const key = createApiKey();
    const tmp = tempDir();
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const secret = "webhook-secret-0123456789";
    const hmac = "hmac-secret-0123456789";
    const config = resolveConfig({
      server: { logLevel: "trace", logRequests: true },
      rules: { dir: RULES, watch: false },
      audit: { sqlite: { path: join(tmp.dir, "a.db") }, hmacSecret: hmac },
      auth: { keys: [{ id: "ci", scopes: ["admin"], sha256: key.sha256 }] },
      webhook: { secret },
    });
    const services = await createServices(config, { processMetrics: false });
    const app = await buildApp(services, {
      ...(fastifyOptions(config, undefined).logger as object),
      stream,
    });
    try {
      await app.inject({
        method: "POST",
        url: "/v1/decisions",
        payload: { result: example("malware") },
        headers: { authorization: `Bearer ${key.secret}` },
      });
      await app.inject({ url: "/v1/audit", headers: { authorization: `Bearer ${key.secret}x` } });
      await app.inject({
        method: "POST",
        url: "/v1/webhooks/platform",
        payload: "{}",
        headers: { "content-type": "application/json", "x-platform-signature": "sha256=abc" },
      });
      app.log.info({ config }, "configuration");
      const text = lines.join("");
      expect(lines.length).toBeGreaterThan(3);
      for (const s of [key.secret, secret, hmac, "sha256=abc"]) expect(text).not.toContain(s);
    } finally {
      await app.close();
      await services.close();
      tmp.remove();
    }
  });
});

test("a CI gate marks its decisions with source gate; other sources cannot be claimed", async () => {
  const t = await makeApp();
  try {
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/decisions",
      payload: { result: example("malware"), source: "gate" },
    });
    expect((await t.services.audit.get(res.json().decisionId))!.entry.source).toBe("gate");
    const forged = await t.app.inject({
      method: "POST",
      url: "/v1/decisions",
      payload: { result: example("malware"), source: "webhook" },
    });
    expect(forged.statusCode).toBe(400);
    expect(forged.json().problems[0].pointer).toBe("/source");
  } finally {
    await t.close();
  }
});
