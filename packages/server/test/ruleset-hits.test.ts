// The Rules page's endpoints: each rule's hits over time, counted by both audit stores (the same
// answers for the same entries), their bounds, the live rule files, and a failed reload as data.
import { cpSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { makeRuleDir } from "@clearance/engine/testing";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HitKind } from "../src/audit/backend.js";
import { AuditLog } from "../src/audit/log.js";
import { HITS_SQL } from "../src/audit/sqlite-reads.js";
import { HIT_KINDS, type HitsAnswer, ruleHits } from "../src/hits.js";
import {
  inputFor,
  PG_SKIP_REASON,
  PG_URL,
  postgresStore,
  type RecordFields,
  record,
  type Store,
  sqliteStore,
} from "./audit-helpers.js";
import { example, makeApp, RULES, type TestApp } from "./helpers.js";

const DAY = Date.parse("2026-11-20T00:00:00.000Z");
const HOUR = 3600_000;

/**
 * Decisions over three days, each consistent with itself: the deciding rule is among `matched`,
 * a monitor rule matched now and then, the shadow disagreeing on some and failing on one.
 */
function history(): RecordFields[] {
  const out: RecordFields[] = [];
  const rules = ["malware", "low_trust", "trusted_publisher", null] as const;
  const decisions = { malware: "deny", low_trust: "deny", trusted_publisher: "allow" } as const;
  for (let i = 0; i < 120; i++) {
    const rule = rules[i % rules.length]!;
    const decision = rule === null ? "review" : decisions[rule];
    const time = new Date(DAY + i * 37 * 60_000 + (i % 7) * 1013).toISOString();
    const matched = rule === null ? [] : i % 5 === 0 ? [rule, "many_detections"] : [rule];
    out.push(
      record({
        time,
        decision,
        rule,
        matched,
        monitored: i % 6 === 0 ? ["new_signer_watch"] : [],
        shadow:
          i % 9 === 0
            ? { decision: decision === "deny" ? "review" : "deny", rule: "x", revision: "r2" }
            : i % 10 === 0
              ? {
                  decision: "error",
                  rule: null,
                  revision: "r2",
                  error: { code: "e", message: "m" },
                }
              : i % 4 === 1
                ? { decision, rule, revision: "r2" }
                : null,
      }),
    );
  }
  return out;
}

/** The answer computed from the records themselves, as a reader of the log would count. */
function expected(records: RecordFields[], from: number, to: number, size: number) {
  const counts = new Map<string, number>();
  const add = (rule: string | null, bucket: number, kind: HitKind) => {
    const key = `${rule}|${bucket}|${kind}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  for (const r of records) {
    const t = Date.parse(r.time);
    if (t < from || t >= to) continue;
    const b = Math.floor((t - from) / size);
    add(r.rule, b, r.decision);
    for (const m of r.matched) add(m, b, "matched");
    for (const m of r.monitored) add(m, b, "monitored");
    const s = r.shadow?.decision;
    if (s !== undefined && s !== r.decision && s !== "error") add(r.rule, b, "disagreements");
  }
  return counts;
}

function flatten(answer: HitsAnswer): Map<string, number> {
  const counts = new Map<string, number>();
  const from = Date.parse(answer.from);
  for (const r of answer.rules)
    for (const b of r.buckets)
      for (const k of HIT_KINDS)
        if (b[k] > 0)
          counts.set(
            `${r.rule}|${(Date.parse(b.at) - from) / (answer.bucketSeconds * 1000)}|${k}`,
            b[k],
          );
  return counts;
}

const backends = [
  { title: "SQLite, read inline", make: async () => sqliteStore(), skip: false },
  {
    title: "SQLite as the server runs it (reader threads)",
    make: async () => sqliteStore({ writerThread: true, readers: 2 }),
    skip: false,
  },
  {
    title: PG_URL ? "PostgreSQL" : `PostgreSQL (${PG_SKIP_REASON})`,
    make: () => postgresStore(),
    skip: PG_URL === undefined,
  },
];

for (const { title, make, skip } of backends) {
  describe.skipIf(skip)(`hits over time: ${title}`, () => {
    let store: Store;
    let log: AuditLog;
    const records = history();

    beforeAll(async () => {
      store = await make();
      log = new AuditLog(store.open(), { chain: "main", hmacSecret: null, maxBatch: 100 });
      await log.open();
      for (const r of records) await log.append(r, inputFor(r));
    });

    afterAll(async () => {
      await log?.close();
      await store?.dispose();
    });

    it.each([
      { bucket: "1h", from: DAY, to: DAY + 3 * 24 * HOUR },
      { bucket: "6h", from: DAY + 5 * HOUR, to: DAY + 40 * HOUR },
      { bucket: "1d", from: DAY - 24 * HOUR, to: DAY + 4 * 24 * HOUR },
      { bucket: "15m", from: DAY + 2 * HOUR, to: DAY + 9 * HOUR },
      // buckets longer than the day one read covers (AuditLog.hits reads a day at a time)
      { bucket: "2d", from: DAY - 48 * HOUR, to: DAY + 4 * 24 * HOUR },
    ])("counts every kind per rule and $bucket bucket as the records say", async (c) => {
      const answer = await ruleHits(log, {
        from: new Date(c.from).toISOString(),
        to: new Date(c.to).toISOString(),
        bucket: c.bucket,
      });
      const size = answer.bucketSeconds * 1000;
      expect(Date.parse(answer.from)).toBe(Math.floor(c.from / size) * size);
      expect(answer.bucketCount).toBe((Date.parse(answer.to) - Date.parse(answer.from)) / size);
      const want = expected(records, Date.parse(answer.from), Date.parse(answer.to), size);
      expect(want.size).toBeGreaterThan(5);
      expect(flatten(answer)).toEqual(want);
      // totals are the buckets' sums; rules come most matched first
      for (const r of answer.rules)
        for (const k of HIT_KINDS)
          expect(r.totals[k]).toBe(r.buckets.reduce((n, b) => n + b[k], 0));
      const matched = answer.rules.map((r) => r.totals.matched);
      expect(matched).toEqual([...matched].sort((a, b) => b - a));
    });

    it("answers an empty range with no rules", async () => {
      const answer = await ruleHits(log, {
        from: "2020-01-01T00:00:00Z",
        to: "2020-01-02T00:00:00Z",
        bucket: "1h",
      });
      expect(answer).toMatchObject({ bucketCount: 24, rules: [] });
    });
  });
}

describe("the hits query", () => {
  it("reads the range as an id range of the primary key (ids begin with their time)", () => {
    const store = sqliteStore();
    const backend = store.open();
    return (async () => {
      await backend.open();
      const db = new Database(
        join((backend as unknown as { options: { path: string } }).options.path),
        {
          readonly: true,
        },
      );
      const plan = db
        .prepare(`EXPLAIN QUERY PLAN ${HITS_SQL}`)
        .all({ from: "a", to: "b", fromId: "a", toId: "b", fromSeconds: 0, bucketSeconds: 60 }) as {
        detail: string;
      }[];
      db.close();
      const scans = plan.map((p) => p.detail).filter((d) => /entries/.test(d));
      expect(scans.length).toBeGreaterThan(0);
      for (const s of scans)
        expect(s).toMatch(/^SEARCH entries USING INDEX \S+ \(id>\? AND id<\?\)$/);
      await store.dispose();
    })();
  });
});

describe("GET /v1/ruleset/hits, /files and a failed reload over HTTP", () => {
  let t: TestApp;
  const dir = makeRuleDir();

  beforeAll(async () => {
    cpSync(RULES, dir.root, { recursive: true });
    t = await makeApp({ rules: { dir: dir.root } });
  });

  afterAll(async () => {
    await t?.close();
    dir.remove();
  });

  it("counts decisions the rules made", async () => {
    for (const name of ["malware", "malware", "signed-microsoft"]) {
      const res = await t.app.inject({
        method: "POST",
        url: "/v1/decisions",
        payload: { result: example(name) },
      });
      expect(res.statusCode).toBe(200);
    }
    const res = await t.app.inject({ url: "/v1/ruleset/hits?bucket=1h" });
    expect(res.statusCode).toBe(200);
    const answer = res.json();
    expect(answer.bucketCount).toBe(25);
    const malware = answer.rules.find((r: { rule: string }) => r.rule === "malware");
    expect(malware.totals).toMatchObject({ deny: 2, matched: 2 });
    expect(malware.buckets).toHaveLength(1);
  });

  it.each([
    ["bucket=1x", "/bucket", /bucket/],
    ["bucket=0h", "/bucket", /bucket/],
    ["from=yesterday", "/from", /from/],
    ["from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", "/from", /must be before `to`/],
    ["from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z&bucket=1d", "/from", /at most 92 days/],
    [
      "from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z&bucket=15m",
      "/bucket",
      /2880 buckets of `15m`, more than 1000/,
    ],
    ["limit=3", "", /limit/],
  ])("refuses %s with a 400 that says why", async (query, pointer, detail) => {
    const res = await t.app.inject({ url: `/v1/ruleset/hits?${query}` });
    expect(res.statusCode).toBe(400);
    const problem = res.json();
    expect(problem.code).toBe("invalid_request");
    expect(`${problem.detail} ${JSON.stringify(problem.errors ?? [])}`).toMatch(detail);
    if (pointer) expect(JSON.stringify(problem)).toContain(`querystring:${pointer}`);
  });

  it("serves the live rule files as compiled, named relative to the rule directory", async () => {
    const res = await t.app.inject({ url: "/v1/ruleset/files" });
    expect(res.statusCode).toBe(200);
    const { files, revision, shadow } = res.json();
    expect(shadow).toBeNull();
    expect(revision).toBe(t.services.rules.ruleset.revision);
    const paths = files.map((f: { path: string }) => f.path);
    for (const rule of t.services.rules.ruleset.rules)
      expect(paths).toContain(relative(dir.root, rule.location.file).split(sep).join("/"));
    expect(paths.every((p: string) => p.endsWith(".rules"))).toBe(true);
    const threats = files.find((f: { path: string }) => f.path.endsWith("threats.rules"));
    expect(threats.text).toContain("rule malware priority 100 {");
  });

  it("describes a failed reload with each error's code, place and code frame", async () => {
    writeFileSync(
      join(dir.root, "broken.rules"),
      'rule broken {\n  when detections.malicous >= 3\n  deny "typo"\n}\n',
    );
    const reload = await t.app.inject({ method: "POST", url: "/v1/ruleset/reload" });
    expect(reload.statusCode).toBe(422);
    const status = (await t.app.inject({ url: "/v1/ruleset" })).json();
    expect(status.lastError.messages.length).toBeGreaterThan(0);
    const [d] = status.lastError.diagnostics;
    expect(d).toMatchObject({
      severity: "error",
      file: join(dir.root, "broken.rules"),
      line: 2,
      column: 19,
      endLine: 2,
    });
    expect(d.code).toMatch(/^[A-Z]\d+$|^[a-z_]+$/);
    expect(d.frame).toContain("2 |   when detections.malicous >= 3");
    expect(d.frame).toMatch(/\^{5,}/);
    // the files stay those of the rules still served
    const files = (await t.app.inject({ url: "/v1/ruleset/files" })).json().files;
    expect(files.map((f: { path: string }) => f.path)).not.toContain(
      join(dir.root, "broken.rules"),
    );
  });
});
