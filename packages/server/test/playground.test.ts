// The playground's endpoints: candidate rules compiled on a thread, decided beside the live rules,
// replayed over recorded decisions; bounded, and never reading a file the body did not send.
// Threads run the built JavaScript: `pnpm build` first.
import {
  appendFileSync,
  cpSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { dryRun } from "@clearance/dryrun";
import {
  environMarker,
  HOSTILE_CASES,
  makeRuleDir,
  OUTSIDE_SECRET,
  passwdLine,
} from "@clearance/engine/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createApiKey } from "../src/auth.js";
import { makeApp, REPO, RULES, type TestApp, tempDir } from "./helpers.js";

/** The live rule directory's files, as `GET /v1/ruleset/files` gives them. */
function liveFiles(): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(join(RULES, rel), { withFileTypes: true })) {
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(path);
      else if (path.endsWith(".rules") || path.startsWith("lists/"))
        out.push({ path, text: readFileSync(join(RULES, path), "utf8") });
    }
  };
  walk("");
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** The live files with one rule file's text changed. */
function edited(path: string, change: (text: string) => string) {
  return liveFiles().map((f) => (f.path === path ? { ...f, text: change(f.text) } : f));
}

// a revoked signature is held for review instead of denied: the one rule that denies the
// revoked VirusTotal example
const LOOSER = (t: string) =>
  t.replace('deny "its signature is invalid"', 'review "its signature is invalid"');

const request = (name: string) =>
  JSON.parse(readFileSync(join(REPO, "examples/requests", `${name}.json`), "utf8"));
const result = (name: string) =>
  JSON.parse(readFileSync(join(REPO, "examples/results", `${name}.json`), "utf8"));
const vt = (name: string) =>
  JSON.parse(readFileSync(join(REPO, "examples/virustotal", `${name}.json`), "utf8"));

describe("the playground", () => {
  let t: TestApp;
  const ids = new Map<string, string>();
  let from = "";

  beforeAll(async () => {
    t = await makeApp();
    from = new Date(Date.now() - 60_000).toISOString();
    const decide = async (name: string, body: unknown) => {
      const res = await t.app.inject({ method: "POST", url: "/v1/decisions", payload: body });
      expect(res.statusCode, res.body).toBe(200);
      ids.set(name, res.json().decisionId);
    };
    await decide("malware", request("malware"));
    await decide("signed", request("signed-with-context"));
    for (const name of readdirSync(join(REPO, "examples/results")))
      await decide(`result:${name}`, { result: result(name.replace(/\.json$/, "")) });
    for (const name of ["clean-signed", "malicious-unsigned", "signed-revoked"])
      await decide(`vt:${name}`, { result: vt(name) });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  const post = (url: string, payload: unknown) =>
    t.app.inject({ method: "POST", url, payload: payload as object });

  test("GET /v1/ruleset/files gives the live revision's rule and list files", async () => {
    const res = await t.app.inject({ method: "GET", url: "/v1/ruleset/files" });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.revision).toBe(t.services.rules.ruleset.revision);
    expect(body.files).toEqual(liveFiles());
  });

  test("an audit entry decided with candidate rules: the live deny becomes a review", async () => {
    const res = await post("/v1/playground/decide", {
      files: edited("threats.rules", LOOSER),
      auditId: ids.get("vt:signed-revoked"),
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.diagnostics.filter((d: { severity: string }) => d.severity === "error")).toEqual(
      [],
    );
    expect(body.live).toMatchObject({ decision: "deny", rule: "invalid_signature" });
    expect(body.candidate.decision).toBe("review");
    expect(body.candidate.matched).toContain("invalid_signature");
    expect(body.candidate.explain.rules.length).toBeGreaterThan(0);
    expect(body.input).toMatchObject({ auditId: ids.get("vt:signed-revoked") });
    expect(body.input.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  test.each([
    ["canonical", result("signed-microsoft"), "allow"],
    ["VirusTotal", vt("malicious-unsigned"), "deny"],
  ])(
    "a pasted %s result is decided by both, the same with the live rules' text",
    async (_, input, expected) => {
      const res = await post("/v1/playground/decide", { files: liveFiles(), input });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      expect(body.live.decision).toBe(expected);
      expect(body.candidate).toMatchObject({
        decision: body.live.decision,
        rule: body.live.rule,
        reason: body.live.reason,
      });
    },
  );

  test("compile errors are data: located diagnostics, no decision, still the live one", async () => {
    const res = await post("/v1/playground/decide", {
      files: [{ path: "a.rules", text: 'rule broken {\n  when fileSiz > 3\n  deny "x"\n}\n' }],
      input: result("malware"),
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.candidate).toBeNull();
    expect(body.live.decision).toBe("deny");
    expect(body.diagnostics[0]).toMatchObject({
      severity: "error",
      file: "a.rules",
      line: 2,
      column: 8,
    });
    expect(body.diagnostics[0].message).toMatch(/fileSiz/);
  });

  test.each([
    ["an absolute list path", 'hashlist x from "/etc/passwd"', /absolute/],
    ["a list path out of the directory", 'hashlist x from "../../../etc/passwd"', /outside/],
    [
      "a list neither sent nor live",
      'hashlist x from "lists/passwd"',
      /neither among the files sent/,
    ],
  ])("hostile rules: %s reads no host file", async (_, decl, message) => {
    const res = await post("/v1/playground/decide", {
      files: [{ path: "h.rules", text: `${decl}\nrule r { when sha256 in x deny "x" }\n` }],
      input: result("malware"),
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.candidate).toBeNull();
    expect(body.diagnostics.map((d: { message: string }) => d.message).join("\n")).toMatch(message);
    expect(res.body).not.toMatch(/root:x:0:0/);
  });

  // the engine's hostile rule directories, sent as files: whatever they name, nothing of the host
  // comes back (there is no disk to read: a list is a file sent, or the live rule set's)
  test.each(HOSTILE_CASES.map((c) => [c.name, c] as const))(
    "hostile rule directory: %s",
    async (_, c) => {
      const dir = makeRuleDir();
      try {
        c.setup(dir);
        const files: { path: string; text: string }[] = [];
        const walk = (rel: string) => {
          for (const name of readdirSync(join(dir.root, rel))) {
            const path = rel === "" ? name : `${rel}/${name}`;
            const st = lstatSync(join(dir.root, path));
            if (st.isDirectory()) walk(path);
            // only what a browser could send: the text of plain files, never a link or a FIFO
            else if (st.isFile())
              files.push({ path, text: readFileSync(join(dir.root, path), "utf8") });
          }
        };
        walk("");
        if (!files.some((f) => f.path.endsWith(".rules"))) return;
        const res = await post("/v1/playground/decide", { files, input: result("malware") });
        expect([200, 413]).toContain(res.statusCode);
        for (const secret of [OUTSIDE_SECRET, environMarker(), passwdLine()])
          expect(res.body).not.toContain(secret);
      } finally {
        dir.remove();
      }
    },
  );

  test("the candidate's exceptions.json applies, as the dry-run applies it", async () => {
    const input = result("minimal");
    const exceptions = [
      {
        id: "ex-1",
        status: "approved",
        scope: { sha256: input.sha256 },
        created: "2026-11-01T09:00:00Z",
        expires: "2099-01-01T00:00:00Z",
        approvers: ["alice", "bob"],
        justification: "the team's own build",
        case: null,
      },
    ];
    const files = [...liveFiles(), { path: "exceptions.json", text: JSON.stringify(exceptions) }];
    const res = await post("/v1/playground/decide", { files, input });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().diagnostics).toEqual([]);
    expect(res.json().live.decision).toBe("review");
    expect(res.json().candidate).toMatchObject({ decision: "allow", rule: "approved_by_people" });
  });

  test("a candidate may name the live rule set's lists without sending them", async () => {
    const res = await post("/v1/playground/decide", {
      files: liveFiles().filter((f) => f.path.endsWith(".rules")),
      input: result("malware"),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().candidate).toMatchObject({ decision: "deny" });
  });

  test.each([
    ["neither input nor auditId", { files: liveFiles() }, 400, "invalid_request"],
    [
      "both input and auditId",
      {
        files: liveFiles(),
        input: result("malware"),
        auditId: "0190d3f5-8e54-7a2b-9c3d-0123456789ab",
      },
      400,
      "invalid_request",
    ],
    [
      "an unknown audit entry",
      { files: liveFiles(), auditId: "0190d3f5-8e54-7a2b-9c3d-0123456789ab" },
      404,
      "not_found",
    ],
    [
      "an input that is no result",
      { files: liveFiles(), input: { hello: 1 } },
      400,
      "invalid_result",
    ],
    [
      "a path leaving the directory",
      { files: [{ path: "../x.rules", text: "" }], input: result("malware") },
      400,
      "invalid_request",
    ],
    [
      "no rule file",
      { files: [{ path: "lists/a.txt", text: "" }], input: result("malware") },
      400,
      "invalid_request",
    ],
    [
      "too many files",
      {
        files: Array.from({ length: 501 }, (_, i) => ({ path: `f${i}.rules`, text: "" })),
        input: result("malware"),
      },
      400,
      "invalid_request",
    ],
  ])("%s is refused", async (_, body, status, code) => {
    const res = await post("/v1/playground/decide", body);
    expect(res.statusCode, res.body).toBe(status);
    expect(res.json().code).toBe(code);
  });

  test("an input that is neither canonical nor VirusTotal says why", async () => {
    const res = await post("/v1/playground/decide", {
      files: liveFiles(),
      input: { sha256: "x" },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().problems[0].pointer).toMatch(/^\/input/);
  });

  test("the dry-run's matrix is what `clearance dry-run` gives on the same exported entries", async () => {
    const to = new Date(Date.now() + 60_000).toISOString();
    const files = edited("threats.rules", LOOSER);
    const res = await post("/v1/playground/dry-run", { files, from, to });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.ran).toBe(true);
    expect(body.totals.read).toBe(ids.size);
    expect(body.changed).toBeGreaterThan(0);
    expect(body.changes).toEqual([
      expect.objectContaining({
        auditId: ids.get("vt:signed-revoked"),
        before: expect.objectContaining({ decision: "deny", rule: "invalid_signature" }),
        after: expect.objectContaining({ decision: "review" }),
      }),
    ]);

    // the same entries, exported, and the same rules in a directory, through @clearance/dryrun
    const tmp = tempDir();
    try {
      const exported = await t.app.inject({
        method: "GET",
        url: `/v1/audit/export?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
      });
      writeFileSync(join(tmp.dir, "audit.ndjson"), exported.body);
      for (const f of files) {
        mkdirSync(join(tmp.dir, "rules", f.path, ".."), { recursive: true });
        writeFileSync(join(tmp.dir, "rules", f.path), f.text);
      }
      const report = await dryRun({
        rules: join(tmp.dir, "rules"),
        baseline: RULES,
        from: [join(tmp.dir, "audit.ndjson")],
        now: Date.parse(body.period.now),
      });
      expect(body.transitions).toEqual(
        report.transitions.map(({ from, to, count }) => ({ from, to, count })),
      );
      expect(body.changed).toBe(report.changed);
      expect(body.outcomes.candidate).toEqual(report.outcomes.candidate);
    } finally {
      tmp.remove();
    }
  });

  test("a dry-run of a candidate that does not compile replays nothing", async () => {
    const res = await post("/v1/playground/dry-run", {
      files: [{ path: "a.rules", text: "rule {" }],
      from,
      to: new Date().toISOString(),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ ran: false, totals: { read: 0 } });
    expect(res.json().diagnostics.length).toBeGreaterThan(0);
  });

  test("a period that ends before it starts is a 400", async () => {
    const res = await post("/v1/playground/dry-run", {
      files: liveFiles(),
      from: "2026-12-02T00:00:00Z",
      to: "2026-12-01T00:00:00Z",
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toMatch(/must be after/);
  });
});

describe("the playground's bounds", () => {
  test("maxRecords: only the first decisions are replayed, and the answer says so", async () => {
    const t = await makeApp({ playground: { maxRecords: 2 } });
    try {
      for (let i = 0; i < 3; i++)
        await t.app.inject({ method: "POST", url: "/v1/decisions", payload: request("malware") });
      const res = await t.app.inject({
        method: "POST",
        url: "/v1/playground/dry-run",
        payload: {
          files: liveFiles(),
          from: new Date(Date.now() - 60_000).toISOString(),
          to: new Date(Date.now() + 60_000).toISOString(),
        },
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ truncated: true, totals: { read: 2 } });
    } finally {
      await t.close();
    }
  });

  test("a compile over the time limit ends its thread: 422, and decisions go on meanwhile", async () => {
    const t = await makeApp({ playground: { compileTimeoutMs: 100 } });
    try {
      // thousands of rules: far more than 100 ms to compile (under the 1 MiB a value may have)
      const text = Array.from(
        { length: 8_000 },
        (_, i) =>
          `rule r${i} { when fileSize > ${i} and fileName endsWith ".x${i}" deny "r${i} {fileName}" }\n`,
      ).join("");
      const slow = t.app.inject({
        method: "POST",
        url: "/v1/playground/decide",
        payload: { files: [{ path: "big.rules", text }], input: result("malware") },
      });
      const started = Date.now();
      const live = await t.app.inject({
        method: "POST",
        url: "/v1/decisions",
        payload: request("malware"),
      });
      expect(live.statusCode).toBe(200);
      expect(Date.now() - started).toBeLessThan(2_000);
      const res = await slow;
      expect(res.statusCode, res.body).toBe(422);
      expect(res.json().code).toBe("playground_timeout");
    } finally {
      await t.close();
    }
  });

  test("every thread at work: a clear 503 with retry-after", async () => {
    const t = await makeApp({ playground: { workers: 1 } });
    try {
      const text = Array.from(
        { length: 5_000 },
        (_, i) => `rule r${i} { when fileSize > ${i} deny "r${i}" }\n`,
      ).join("");
      const payload = { files: [{ path: "big.rules", text }], input: result("malware") };
      const first = t.app.inject({ method: "POST", url: "/v1/playground/decide", payload });
      // the first holds the only thread until it answers
      await new Promise((r) => setTimeout(r, 20));
      const second = await t.app.inject({ method: "POST", url: "/v1/playground/decide", payload });
      expect(second.statusCode).toBe(503);
      expect(second.json().code).toBe("server_busy");
      expect(second.json().detail).toMatch(/playground is busy/);
      expect(second.headers["retry-after"]).toBe("1");
      expect((await first).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });

  test("a body over playground.bodyLimit is a 413 naming the key", async () => {
    const t = await makeApp({ playground: { bodyLimit: 2048 } });
    try {
      const res = await t.app.inject({
        method: "POST",
        url: "/v1/playground/decide",
        payload: { files: [{ path: "a.rules", text: "#".repeat(4096) }], input: result("malware") },
      });
      expect(res.statusCode).toBe(413);
      expect(res.json().detail).toMatch(/playground\.bodyLimit/);
    } finally {
      await t.close();
    }
  });

  test("a list the candidate names is read from the live revision, also after a reload", async () => {
    const rules = tempDir();
    cpSync(RULES, rules.dir, { recursive: true });
    const t = await makeApp({ rules: { dir: rules.dir, watch: false } });
    try {
      const input = result("signed-microsoft");
      const files = [
        {
          path: "only.rules",
          text: 'hashlist bad from "lists/known-bad.sha256"\nrule listed { when sha256 in bad deny "listed" }\n',
        },
      ];
      const decide = async () => {
        const res = await t.app.inject({
          method: "POST",
          url: "/v1/playground/decide",
          payload: { files, input },
        });
        expect(res.statusCode, res.body).toBe(200);
        return res.json().candidate.rule;
      };
      expect(await decide()).toBeNull();
      // the file is listed and the rules reloaded: the same thread sees the new revision's list
      appendFileSync(join(rules.dir, "lists/known-bad.sha256"), `${input.sha256}\n`);
      const reload = await t.app.inject({ method: "POST", url: "/v1/ruleset/reload" });
      expect(reload.json().changed).toBe(true);
      expect(await decide()).toBe("listed");
    } finally {
      await t.close();
      rules.remove();
    }
  });

  test("the playground needs audit:read", async () => {
    const decide = createApiKey();
    const t = await makeApp({
      auth: { keys: [{ id: "ci", scopes: ["decide"], sha256: decide.sha256 }] },
    });
    try {
      const res = await t.app.inject({
        method: "POST",
        url: "/v1/playground/decide",
        headers: { authorization: `Bearer ${decide.secret}` },
        payload: { files: liveFiles(), input: result("malware") },
      });
      expect(res.statusCode).toBe(403);
    } finally {
      await t.close();
    }
  });
});
