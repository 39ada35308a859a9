import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServices, resolveConfig } from "@clearance/server";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { root, run, runWith } from "./helpers.js";

describe("clearance keys create", () => {
  test("prints the key once on stdout and the config line with its hash on stderr", async () => {
    const r = await run("keys", "create", "--id", "ci", "--scopes", "decide,audit:read");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^clr_[A-Za-z0-9_-]{43}$/);
    const line = /- \{ id: ci, scopes: \[decide, audit:read\], sha256: ([0-9a-f]{64}) \}/.exec(
      r.err,
    );
    expect(line).not.toBeNull();
    // the printed line is valid configuration and the printed key matches it
    const { createHash } = await import("node:crypto");
    expect(createHash("sha256").update(r.out).digest("hex")).toBe(line![1]);
    expect(r.err).not.toContain(r.out);
  });

  test.each([
    [["--id", "ci", "--scopes", "root"], "unknown scope `root`"],
    [["--id", "a b"], "key id `a b` must be"],
  ])("%j is refused: %s", async (args, message) => {
    const r = await run("keys", "create", ...args);
    expect(r.code).toBe(1);
    expect(r.err).toContain(message);
  });
});

describe("clearance audit", () => {
  let dir: string;
  let db: string;
  const env = { HMAC: "cli-test-hmac-secret" };
  let config: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "clearance-cli-audit-"));
    db = join(dir, "audit.db");
    config = join(dir, "clearance.yaml");
    writeFileSync(
      config,
      `rules: { dir: ${JSON.stringify(join(root, "rules"))}, watch: false }\naudit: { chain: cli, hmacSecret: "\${HMAC}", sqlite: { path: ${JSON.stringify(db)} } }\n`,
    );
    const services = await createServices(
      resolveConfig(
        {
          rules: { dir: join(root, "rules"), watch: false },
          audit: { chain: "cli", hmacSecret: env.HMAC, sqlite: { path: db } },
        },
        {},
      ),
      { processMetrics: false },
    );
    const { readFileSync } = await import("node:fs");
    for (const name of ["malware", "signed-microsoft", "unsigned-lowscore"]) {
      const result = JSON.parse(
        readFileSync(join(root, "examples/results", `${name}.json`), "utf8"),
      );
      await services.decisions.decide({ result }, { source: "api", requester: "tester" });
    }
    await services.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const audit = (...args: string[]) => runWith(env, "audit", ...args, "--config", config);

  test("verify: ok with the right key, exit 3 naming the first broken link after tampering", async () => {
    const ok = await audit("verify");
    expect(ok.code).toBe(0);
    // three decisions, and the review case the `review` among them opened
    expect(ok.out).toContain("ok: 4 entries verified");
    const wrongKey = await run("audit", "verify", "--config", config);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.err).toContain("environment variable `HMAC`");

    const sql = new Database(db);
    sql
      .prepare("UPDATE entries SET body = replace(body, '\"deny\"', '\"allow\"') WHERE seq = 1")
      .run();
    sql.close();
    const broken = await audit("verify");
    expect(broken.code).toBe(3);
    expect(broken.out).toMatch(/broken: chain cli at seq 1 .*hash mismatch/);
    const sql2 = new Database(db);
    sql2
      .prepare("UPDATE entries SET body = replace(body, '\"allow\"', '\"deny\"') WHERE seq = 1")
      .run();
    sql2.close();
    expect((await audit("verify")).code).toBe(0);
  });

  test("a mistyped database path is an error, not a new empty log that verifies", async () => {
    const typo = join(dir, "audti.db");
    const r = await run("audit", "verify", "--db", typo);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot open the audit database .*audti\.db/);
    const { existsSync } = await import("node:fs");
    expect(existsSync(typo)).toBe(false);
  });

  test("query and tail print one line per entry; filters apply", async () => {
    const q = await audit("query", "--decision", "deny");
    expect(q.code).toBe(0);
    expect(q.out.split("\n")).toHaveLength(1);
    expect(q.out).toMatch(/deny\s+d521d88ca78e.*malware/);
    const tail = await audit("tail", "-n", "2");
    expect(tail.out.split("\n")).toHaveLength(2);
    const json = JSON.parse((await audit("query", "--json", "--requester", "tester")).out);
    expect(json.entries).toHaveLength(3);
    const named = await audit("query", "--file-name", "INVOICE_2026");
    expect(named.out.split("\n")).toHaveLength(1);
    expect(named.out).toContain("invoice_2026-11_0453.exe");
    const unnamed = await audit("query", "--file-name", "no-such-name");
    expect(unnamed.err).toContain("no entries match");
    const none = await audit("query", "--since", "2999-01-01T00:00:00Z");
    expect(none.err).toContain("no entries match");
    const bad = await audit("query", "--since", "yesterday");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("--since `yesterday` is not a timestamp");
  });

  test("export writes NDJSON with inputs that dry-run can replay", async () => {
    const out = join(dir, "export.ndjson");
    const r = await audit("export", "--out", out);
    expect(r.code).toBe(0);
    expect(r.err).toContain("3 entries written");
    const dry = await run(
      "dry-run",
      "--rules",
      join(root, "rules"),
      "--from",
      out,
      "--now",
      "2026-11-26T12:00:00Z",
    );
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toMatch(/read 3 = decided 3/);
    // the replayed inputs are the recorded results, so the same rules decide the same way
    expect(dry.out).toMatch(/deny\s+1/);
    const bare = join(dir, "bare.ndjson");
    expect((await audit("export", "--out", bare, "--no-inputs")).code).toBe(0);
    const none = await run(
      "dry-run",
      "--rules",
      join(root, "rules"),
      "--from",
      bare,
      "--now",
      "2026-11-26T12:00:00Z",
    );
    expect(none.out).toMatch(/invalid 3/);
  });
});

describe("clearance audit export --kind", () => {
  test("exports the review entries beside the decisions, and refuses filters and unknown kinds", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clearance-cli-kinds-"));
    try {
      const db = join(dir, "audit.db");
      const services = await createServices(
        resolveConfig({
          rules: { dir: join(root, "rules"), watch: false },
          audit: { sqlite: { path: db } },
        }),
        { processMetrics: false },
      );
      const { readFileSync } = await import("node:fs");
      const result = JSON.parse(
        readFileSync(join(root, "examples/results/unsigned-lowscore.json"), "utf8"),
      );
      const asked = await services.decisions.decide({ result }, { source: "api", requester: null });
      await services.reviews.vote(
        asked.case!,
        { vote: "approve", justification: "the vendor's PDF tool" },
        { key: null, named: "alice" },
      );
      await services.close();
      const kind = async (name: string) => {
        const r = await run("audit", "export", "--db", db, "--kind", name);
        expect(r.code, r.err).toBe(0);
        return r.out
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      };
      const cases = await kind("review_case");
      expect(cases.map((c) => c.event)).toEqual(["opened", "resolved"]);
      expect(cases[0]).toMatchObject({
        kind: "review_case",
        caseId: asked.case,
        sha256: result.sha256,
      });
      expect(typeof cases[0]!.hash).toBe("string");
      expect((await kind("review_vote")).map((v) => v.voter)).toEqual(["alice"]);
      expect((await kind("exception")).map((e) => e.event)).toEqual(["created"]);
      const decisions = await kind("decision");
      expect(decisions.map((d) => d.source)).toEqual(["api", "review"]);
      // the whole log, every kind, in its chain's order
      const all = await kind("all");
      expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(new Set(all.map((e) => e.kind ?? "decision"))).toEqual(
        new Set(["decision", "review_case", "review_vote", "exception"]),
      );
      const filtered = await run(
        "audit",
        "export",
        "--db",
        db,
        "--kind",
        "exception",
        "--sha256",
        result.sha256,
      );
      expect(filtered.code).toBe(1);
      expect(filtered.err).toContain("--sha256 filters decisions");
      const named = await run(
        "audit",
        "export",
        "--db",
        db,
        "--kind",
        "exception",
        "--file-name",
        "x",
      );
      expect(named.code).toBe(1);
      expect(named.err).toContain("--file-name filters decisions");
      const unknown = await run("audit", "export", "--db", db, "--kind", "votes");
      expect(unknown.code).toBe(1);
      expect(unknown.err).toContain("`--kind votes` is not an entry kind");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("clearance dry-run --from audit:", () => {
  test("replays the inputs recorded in an SQLite audit log, in a time range", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clearance-cli-replay-"));
    try {
      const db = join(dir, "audit.db");
      const services = await createServices(
        resolveConfig({
          rules: { dir: join(root, "rules"), watch: false },
          audit: { sqlite: { path: db } },
        }),
        { processMetrics: false },
      );
      const { readFileSync } = await import("node:fs");
      for (const name of ["malware", "signed-microsoft", "minimal", "malware"]) {
        const result = JSON.parse(
          readFileSync(join(root, "examples/results", `${name}.json`), "utf8"),
        );
        await services.decisions.decide(
          name === "minimal" ? { result, context: { group: "finance" } } : { result },
          { source: "api", requester: null },
        );
      }
      await services.close();
      const all = await run(
        "dry-run",
        "--rules",
        join(root, "examples/rules-tightened"),
        "--baseline",
        join(root, "rules"),
        "--from",
        `audit:${db}`,
        "--now",
        "2026-11-26T12:00:00Z",
      );
      expect(all.code, all.err).toBe(0);
      expect(all.out).toMatch(/read 4 = decided 4/);
      const none = await run("dry-run", "--from", `audit:${db}`, "--since", "2999-01-01T00:00:00Z");
      expect(none.out).toMatch(/read 0/);
      const missing = await run("dry-run", "--from", `audit:${join(dir, "nope.db")}`);
      expect(missing.code).toBe(1);
      expect(missing.err).toMatch(/cannot read the audit log/);
      const stray = await run("dry-run", "--from", "examples/history", "--since", "1d");
      expect(stray.code).toBe(1);
      expect(stray.err).toContain("--since and --until select entries of an audit log");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("clearance dry-run --santa", () => {
  test("previews the Santa rules a candidate would add, remove and flip, with the machines", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clearance-cli-santa-"));
    try {
      const db = join(dir, "audit.db");
      const services = await createServices(
        resolveConfig({
          rules: { dir: join(root, "rules"), watch: false },
          audit: { sqlite: { path: db } },
          santa: {
            enabled: true,
            groups: [{ name: "engineering", tokens: ["a".repeat(64)] }],
          },
        }),
        { processMetrics: false },
      );
      const { readFileSync } = await import("node:fs");
      const sha = (name: string) => {
        const result = JSON.parse(
          readFileSync(join(root, "examples/results", `${name}.json`), "utf8"),
        );
        return { result, sha256: (result.sha256 as string).toLowerCase() };
      };
      const good = sha("signed-microsoft");
      const bad = sha("malware");
      for (const f of [good, bad])
        await services.decisions.decide({ result: f.result }, { source: "api", requester: null });
      const santa = services.santa!;
      const group = { ...services.config.santa.groups[0]! };
      for (const machine of ["M-1", "M-2"]) {
        await services.audit.store.santa.register(
          machine,
          "engineering",
          "2026-12-05T00:00:00.000Z",
        );
        const row = (await services.audit.store.santa.machine(machine))!;
        await santa.eventUpload(
          { row, group },
          {
            machineId: machine,
            events: [good, bad].map((f) => ({
              ...EVENT,
              fileSha256: f.sha256,
              pid: machine.length,
            })),
          },
        );
      }
      await services.close();
      // a candidate that denies every file: the allowed file's rule flips, the blocked one stays
      const candidate = join(dir, "candidate");
      mkdirSync(candidate);
      writeFileSync(
        join(candidate, "freeze.rules"),
        'ruleset "freeze"\nstrategy deny-overrides\ndefault deny "frozen: nothing new runs"\non-error deny\n',
      );
      const r = await run("dry-run", "--rules", candidate, "--from", `audit:${db}`, "--santa");
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain("Santa rules: the candidate against what the fleet holds");
      expect(r.out).toContain(
        "engineering: 2 files; +0 allow, +0 block, -0 allow, -0 block, 1 flipped; 2 machines reported them",
      );
      expect(r.out).toContain(`engineering  ${good.sha256.slice(0, 12)}  `);
      expect(r.out).toContain(
        "ALLOWLIST -> BLOCKLIST  (default): frozen: nothing new runs  (2 machines)",
      );
      const two = await run("dry-run", "--from", `audit:${db}`, "--from", `audit:${db}`, "--santa");
      expect(two.code).toBe(1);
      expect(two.err).toContain("--santa reads the Santa rules of one audit log");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const EVENT = {
  filePath: "/Applications/Tool.app/Contents/MacOS",
  fileName: "Tool",
  executingUser: "alice",
  executionTime: 1764936000,
  loggedInUsers: [],
  currentSessions: [],
  decision: "BLOCK_UNKNOWN" as const,
  fileBundleId: "",
  fileBundlePath: "",
  fileBundleExecutableRelPath: "",
  fileBundleName: "",
  fileBundleVersion: "",
  fileBundleVersionString: "",
  fileBundleHash: "",
  fileBundleHashMillis: 0,
  fileBundleBinaryCount: 0,
  ppid: 1,
  parentName: "launchd",
  teamId: "",
  signingId: "",
  cdhash: "",
  signingChain: [],
  csFlags: 0,
  signingStatus: "SIGNING_STATUS_UNSPECIFIED" as const,
  secureSigningTime: 0,
  signingTime: 0,
  staticRule: false,
};
