// Reviews under faults: a crash between recording a resolution and deciding the file again, and
// two replicas on one PostgreSQL log taking concurrent votes on the same cases.
import { randomBytes } from "node:crypto";
import { cpSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, test } from "vitest";
import { newId } from "../src/audit/ids.js";
import { EXCEPTION_KIND, REVIEW_CASE_KIND, REVIEW_VOTE_KIND } from "../src/audit/kinds.js";
import { AuditLog } from "../src/audit/log.js";
import { PostgresBackend } from "../src/audit/postgres.js";
import { resolveConfig } from "../src/config.js";
import { Metrics } from "../src/metrics.js";
import { type CaseEntry, ReviewService } from "../src/reviews.js";
import { type RunningServer, startServer } from "../src/server.js";
import { createServices, type Services } from "../src/services.js";
import { decisionRecord } from "../src/testing.js";
import { PG_SKIP_REASON, PG_URL, startProxy } from "./audit-helpers.js";
import { example, makeApp, RULES, tempDir } from "./helpers.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

describe("a crash between a case's resolution and the file's new decision", () => {
  test("the file is decided again after the restart, exactly once", async () => {
    const tmp = tempDir();
    cleanups.push(async () => tmp.remove());
    const config = resolveConfig(
      {
        rules: { dir: RULES, watch: false },
        audit: { sqlite: { path: join(tmp.dir, "audit.db") } },
        notifications: { pollMs: 20 },
      },
      { baseDir: tmp.dir },
    );
    const open = async () => {
      const s = await createServices(config, { processMetrics: false });
      let closed = false;
      cleanups.push(async () => {
        if (!closed) await s.close();
      });
      return {
        s,
        close: async () => {
          closed = true;
          await s.close();
        },
      };
    };
    const reviewDecisions = async (s: Services) =>
      (await s.audit.query({ source: "review" }, 100)).entries;

    const first = await open();
    const file = example("unsigned-lowscore");
    const asked = await first.s.decisions.decide(
      { result: file },
      { source: "api", requester: null },
    );
    expect(asked.decision).toBe("review");
    // the process dies before it decides the file again: its outbox sender is stopped, and the
    // re-decision it tries on the request's path fails
    await first.s.notifier?.stop();
    first.s.reviews.setRedecider(async () => {
      throw new Error("the process died here");
    });
    const outcome = await first.s.reviews.vote(
      asked.case!,
      { vote: "approve", justification: "the vendor's PDF tool" },
      { key: null, named: "alice" },
    );
    expect(outcome.case.status).toBe("resolved");
    expect(outcome.exception?.state).toBe("active");
    expect(outcome.decision).toBeNull();
    expect(await reviewDecisions(first.s)).toHaveLength(0);
    await first.close();

    // after the restart the outbox still holds the re-decision: it is done once
    const second = await open();
    let done: Awaited<ReturnType<typeof reviewDecisions>> = [];
    const deadline = Date.now() + 10_000;
    while (done.length === 0 && Date.now() < deadline) {
      done = await reviewDecisions(second.s);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(done).toHaveLength(1);
    expect(done[0]).toMatchObject({ decision: "allow", exception: outcome.exception!.id });
    const latest = await second.s.audit.latestFor(file.sha256 as string);
    expect(latest?.decision).toBe("allow");
    await second.close();

    // a third start, and the same outbox row handled again by hand: still one re-decision
    const third = await open();
    const rowId = `${outcome.exception!.id}:@redecide`;
    await third.s.reviews.redecideRow(
      rowId,
      JSON.stringify({ sha256: file.sha256, decisionId: asked.decisionId, why: "again" }),
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(await reviewDecisions(third.s)).toHaveLength(1);
    expect((await third.s.audit.verify()).ok).toBe(true);
  });
});

describe.skipIf(!PG_URL)(
  `two replicas on one PostgreSQL log, concurrent votes${PG_URL ? "" : ` (${PG_SKIP_REASON})`}`,
  () => {
    test("one exception per approved case, every accepted vote recorded once, no vote lost", async () => {
      const schema = `t_${randomBytes(6).toString("hex")}`;
      cleanups.push(async () => {
        const raw = new pg.Client({ connectionString: PG_URL });
        await raw.connect();
        await raw.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await raw.end();
      });
      const serve = async (chain: string): Promise<RunningServer> => {
        const server = await startServer(
          resolveConfig({
            server: { port: 0, logLevel: "silent" },
            rules: { dir: RULES, watch: false },
            audit: { backend: "postgres", postgres: { url: PG_URL, schema, poolSize: 4 }, chain },
            reviews: { approvalsRequired: 2, sweepIntervalMs: 100 },
          }),
          { hooks: { processMetrics: false } },
        );
        cleanups.push(() => server.close());
        return server;
      };
      const a = await serve("replica-a");
      const b = await serve("replica-b");
      const post = async (url: string, path: string, body: unknown) => {
        const res = await fetch(`${url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };

      // six reviewed files, each asked on both replicas at once: one case each
      const base = example("unsigned-lowscore");
      const files = Array.from({ length: 6 }, (_, i) => ({
        ...base,
        sha256: `${i}`.repeat(64),
      }));
      const asked = await Promise.all(
        files.flatMap((f) => [a, b].map((s) => post(s.url, "/v1/decisions", { result: f }))),
      );
      expect(asked.every((r) => r.status === 200 && r.body.decision === "review")).toBe(true);
      // each replica reads the other's cases within a sweep
      const caseOf = new Map<string, string>();
      for (const f of files) {
        let id: string | undefined;
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline) {
          const [ra, rb] = await Promise.all(
            [a, b].map((s) =>
              fetch(`${s.url}/v1/reviews?sha256=${f.sha256}`).then(
                (r) => r.json() as Promise<{ cases: { id: string }[] }>,
              ),
            ),
          );
          if (
            ra!.cases.length === 1 &&
            rb!.cases.length === 1 &&
            ra!.cases[0]!.id === rb!.cases[0]!.id
          ) {
            id = ra!.cases[0]!.id;
            break;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
        expect(id, `one case for ${f.sha256.slice(0, 8)} on both replicas`).toBeDefined();
        caseOf.set(f.sha256, id!);
      }

      // four voters on every case, each voting on both replicas at the same moment
      const votes = await Promise.all(
        [...caseOf.values()].flatMap((id) =>
          ["alice", "bob", "carol", "dave"].flatMap((voter) =>
            [a, b].map((s) =>
              post(s.url, `/v1/reviews/${id}/votes`, {
                vote: "approve",
                justification: `${voter} checked it`,
                voter,
              }).then((r) => ({ id, voter, ...r })),
            ),
          ),
        ),
      );
      // every answer is a vote taken, the same vote replayed, or the case already closed
      for (const v of votes) expect([200, 201, 409], JSON.stringify(v.body)).toContain(v.status);
      expect(
        votes.filter((v) => v.status === 409).every((v) => v.body.code === "case_closed"),
      ).toBe(true);

      const reader = a.services.audit;
      const recorded = await reader.entriesOf(REVIEW_VOTE_KIND, { limit: 1_000 });
      const exceptions = await reader.entriesOf(EXCEPTION_KIND, { limit: 1_000 });
      const cases = await reader.entriesOf(REVIEW_CASE_KIND, { limit: 1_000 });
      for (const id of caseOf.values()) {
        const mine = recorded.filter((v) => v.caseId === id);
        // each voter at most once, and every vote answered as taken is in the log
        expect(new Set(mine.map((v) => v.voter)).size).toBe(mine.length);
        const taken = votes.filter((v) => v.id === id && v.status !== 409);
        for (const t of taken) expect(mine.map((v) => v.voter)).toContain(t.voter);
        expect(mine.length).toBeGreaterThanOrEqual(2);
        // one resolution and one exception per case
        expect(cases.filter((c) => c.caseId === id && c.event === "resolved")).toHaveLength(1);
        expect(
          exceptions.filter(
            (e) => e.event === "created" && (e.record as { case: string }).case === id,
          ),
        ).toHaveLength(1);
      }
      // both replicas answer the files allowed
      for (const f of files)
        for (const s of [a, b]) {
          const res = await fetch(`${s.url}/v1/decisions/${f.sha256}`);
          expect(((await res.json()) as { decision: string }).decision).toBe("allow");
        }
      expect((await reader.verify()).ok).toBe(true);
    }, 60_000);
  },
);

describe("the rules change under an open case", () => {
  test("a file the new rules no longer review has its case withdrawn, with its new decision recorded", async () => {
    const tmp = tempDir();
    cleanups.push(async () => tmp.remove());
    const rules = join(tmp.dir, "rules");
    cpSync(RULES, rules, { recursive: true });
    const t = await makeApp({ rules: { dir: rules } });
    cleanups.push(() => t.close());
    const file = example("unsigned-lowscore");
    const other = example("minimal");
    const asked = await t.services.decisions.decide(
      { result: file },
      { source: "api", requester: null },
    );
    const kept = await t.services.decisions.decide(
      { result: other },
      { source: "api", requester: null },
    );
    expect([asked.decision, kept.decision]).toEqual(["review", "review"]);

    writeFileSync(
      join(rules, "pdf-tool.rules"),
      `rule pdf_tool_vetted {\n  when sha256 == "${file.sha256}"\n  allow "vetted by the desktop team"\n}\n`,
    );
    const reload = await t.app.inject({ method: "POST", url: "/v1/ruleset/reload" });
    expect(reload.statusCode).toBe(200);
    let withdrawn: Awaited<ReturnType<Services["reviews"]["listCases"]>> = [];
    const deadline = Date.now() + 10_000;
    while (withdrawn.length === 0 && Date.now() < deadline) {
      withdrawn = await t.services.reviews.listCases({ status: "withdrawn", limit: 10 });
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(withdrawn.map((c) => c.id)).toEqual([asked.case]);
    expect(withdrawn[0]!.history.at(-1)?.detail).toMatchObject({
      decision: "allow",
      rule: "pdf_tool_vetted",
    });
    const latest = await t.services.audit.latestFor(file.sha256 as string);
    expect(latest).toMatchObject({ decision: "allow", source: "review", rule: "pdf_tool_vetted" });
    // the file still in review keeps its case, and nothing was recorded for it
    const open = await t.services.reviews.listCases({ status: "open", limit: 10 });
    expect(open.map((c) => c.id)).toEqual([kept.case]);
    const theirs = await t.services.audit.query({ sha256: other.sha256 as string }, 10);
    expect(theirs.entries).toHaveLength(1);
  });
});

describe("GET /v1/audit/export?kind=", () => {
  test("streams every entry of a review kind as NDJSON, and refuses decision filters with it", async () => {
    const t = await makeApp();
    cleanups.push(() => t.close());
    const asked = await t.services.decisions.decide(
      { result: example("unsigned-lowscore") },
      { source: "api", requester: null },
    );
    const res = await t.app.inject({ url: "/v1/audit/export?kind=review_case" });
    expect(res.statusCode).toBe(200);
    const lines = res.body
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toMatchObject([{ kind: "review_case", event: "opened", caseId: asked.case }]);
    const bad = await t.app.inject({ url: "/v1/audit/export?kind=review_case&decision=deny" });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().problems[0].pointer).toBe("querystring:/decision");
    const unknown = await t.app.inject({ url: "/v1/audit/export?kind=votes" });
    expect(unknown.statusCode).toBe(400);
  });
});

describe("a vote recorded without its resolution", () => {
  test("the next sweep resolves the case once, and the gauges count what is open and in force", async () => {
    const t = await makeApp();
    cleanups.push(() => t.close());
    const file = example("unsigned-lowscore");
    const asked = await t.services.decisions.decide(
      { result: file },
      { source: "api", requester: null },
    );
    const metrics = async () => (await t.app.inject({ url: "/metrics" })).body;
    expect(await metrics()).toMatch(/^clearance_review_cases_open 1$/m);
    // as if the process stopped between writing the vote and writing the resolution
    const now = Date.now();
    await t.services.audit.appendEntry(REVIEW_VOTE_KIND, {
      id: newId(now),
      time: new Date(now).toISOString(),
      caseId: asked.case,
      voter: "alice",
      vote: "approve",
      justification: "the vendor's PDF tool",
      exception: { kind: "file", expires: new Date(now + 86_400_000).toISOString() },
      once: `vote:${asked.case}:alice`,
    });
    // the restart reads the whole log, then its first sweep resolves the case; a second does nothing
    await t.services.reviews.refresh(true);
    await t.services.reviews.sweep();
    await t.services.reviews.sweep();
    const kase = await t.services.reviews.readCase(asked.case!);
    expect(kase).toMatchObject({ status: "resolved", outcome: "approved" });
    const resolutions = (await t.services.audit.entriesOf(REVIEW_CASE_KIND, { limit: 10 })).filter(
      (e) => e.event === "resolved",
    );
    expect(resolutions).toHaveLength(1);
    expect((await t.services.audit.latestFor(file.sha256 as string))?.decision).toBe("allow");
    const text = await metrics();
    expect(text).toMatch(/^clearance_review_cases_open 0$/m);
    expect(text).toMatch(/^clearance_exceptions_active\{kind="file",status="approved"\} 1$/m);
    expect(text).toMatch(/^clearance_exceptions_expiring_soon 1$/m);
    expect(text).toMatch(/^clearance_review_cases_closed_total\{outcome="approved"\} 1$/m);
  });
});

describe("exceptions kept in the rules repository", () => {
  test("an exported exception in the rule directory's exceptions.json applies to decisions, beside the log's", async () => {
    const tmp = tempDir();
    cleanups.push(async () => tmp.remove());
    const rules = join(tmp.dir, "rules");
    cpSync(RULES, rules, { recursive: true });
    // first, an exception made by a vote on a server, exported as `clearance exceptions export` does
    const source = await makeApp();
    const file = example("unsigned-lowscore");
    const asked = await source.services.decisions.decide(
      { result: file },
      { source: "api", requester: null },
    );
    await source.services.reviews.vote(
      asked.case!,
      { vote: "approve", justification: "the vendor's PDF tool" },
      { key: null, named: "alice" },
    );
    const exported = source.services.reviews.activeRecords();
    await source.close();
    expect(exported).toHaveLength(1);
    writeFileSync(join(rules, "exceptions.json"), `${JSON.stringify(exported, null, 2)}\n`);

    // a server with an empty log and those rules: the file's exception decides
    const t = await makeApp({ rules: { dir: rules } });
    cleanups.push(() => t.close());
    expect(t.services.rules.ruleset.exceptions).toHaveLength(1);
    const answer = await t.services.decisions.decide(
      { result: file },
      { source: "api", requester: null },
    );
    expect(answer).toMatchObject({
      decision: "allow",
      exception: exported[0]!.id,
      rule: "approved_by_people",
    });
    expect(answer.case).toBeUndefined();
    // the other files are untouched
    const other = await t.services.decisions.decide(
      { result: example("minimal") },
      { source: "api", requester: null },
    );
    expect(other.decision).toBe("review");
    // the file removed from the repository (a reload): the rules alone decide again
    rmSync(join(rules, "exceptions.json"));
    expect((await t.app.inject({ method: "POST", url: "/v1/ruleset/reload" })).statusCode).toBe(
      200,
    );
    const after = await t.services.decisions.decide(
      { result: file },
      { source: "api", requester: null },
    );
    expect(after.decision).toBe("review");
  });
});

describe.skipIf(!PG_URL)(
  `a vote while the audit log is down${PG_URL ? "" : ` (${PG_SKIP_REASON})`}`,
  () => {
    test("is refused with 503, records nothing, and is taken once the log is back", async () => {
      const schema = `t_${randomBytes(6).toString("hex")}`;
      const proxy = await startProxy();
      cleanups.push(async () => {
        await proxy.stop();
        const raw = new pg.Client({ connectionString: PG_URL });
        await raw.connect();
        await raw.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await raw.end();
      });
      const server = await startServer(
        resolveConfig({
          server: { port: 0, logLevel: "silent" },
          rules: { dir: RULES, watch: false },
          audit: { backend: "postgres", postgres: { url: proxy.url, schema, poolSize: 2 } },
          reviews: { sweepIntervalMs: 3_600_000 },
        }),
        { hooks: { processMetrics: false } },
      );
      cleanups.push(() => server.close());
      const asked = await server.services.decisions.decide(
        { result: example("unsigned-lowscore") },
        { source: "api", requester: null },
      );
      const vote = () =>
        fetch(`${server.url}/v1/reviews/${asked.case}/votes`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ vote: "approve", justification: "vendor tool", voter: "alice" }),
        });
      await proxy.cut();
      const down = await vote();
      expect(down.status).toBe(503);
      expect(((await down.json()) as { code: string }).code).toBe("audit_unavailable");
      expect(down.headers.get("retry-after")).toBe("1");
      await proxy.restore();
      // nothing of the refused vote is in the log
      const direct = new pg.Client({ connectionString: PG_URL });
      await direct.connect();
      const count = async (table: string) =>
        Number((await direct.query(`SELECT count(*) AS n FROM ${schema}.${table}`)).rows[0].n);
      expect(await count("review_votes")).toBe(0);
      expect(await count("exceptions")).toBe(0);
      let up: Response | undefined;
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        up = await vote();
        if (up.status !== 503) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(up!.status).toBe(201);
      expect(await count("review_votes")).toBe(1);
      expect(await count("exceptions")).toBe(1);
      await direct.end();
    }, 40_000);
  },
);

describe.skipIf(!PG_URL)(
  `two replicas opening a case for one new file at once${PG_URL ? "" : ` (${PG_SKIP_REASON})`}`,
  () => {
    test("the replica whose case the log refused takes the other's, even one it read while its own was pending", async () => {
      const schema = `t_${randomBytes(6).toString("hex")}`;
      cleanups.push(async () => {
        const raw = new pg.Client({ connectionString: PG_URL });
        await raw.connect();
        await raw.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await raw.end();
      });
      const config = resolveConfig({}).reviews;
      const replica = async (chain: string) => {
        const log = new AuditLog(new PostgresBackend({ url: PG_URL!, poolSize: 2, schema }), {
          chain,
          hmacSecret: null,
          maxBatch: 64,
        });
        await log.open();
        cleanups.push(() => log.close());
        const reviews = await ReviewService.open(log, config, new Metrics({ process: false }));
        return { log, reviews };
      };
      const a = await replica("replica-a");
      const b = await replica("replica-b");
      const sha256 = "e".repeat(64);
      const asked = (r: { reviews: ReviewService }) => {
        const record = decisionRecord({ sha256, decision: "review", reason: "no rule matched" });
        return r.reviews.track(record, { sha256 }, undefined);
      };
      const write = (r: { log: AuditLog; reviews: ReviewService }, entry: CaseEntry) =>
        r.log.appendEntry(REVIEW_CASE_KIND, entry.fields).then(
          () => r.reviews.tracked(entry),
          (error: unknown) => r.reviews.trackFailed(entry, error),
        );
      // A opens first; B, not yet knowing, opens its own (a later id); A's is written first
      const fromA = asked(a);
      const fromB = asked(b);
      expect(fromA.caseId).not.toBe(fromB.caseId);
      await write(a, fromA.entry!);
      // B reads A's entry while its own is still pending: it keeps its own for now
      await b.reviews.refresh(false);
      // B's own is refused (the same once key): B now holds A's case
      await write(b, fromB.entry!);
      const open = await b.reviews.listCases({ status: "open", limit: 10 });
      expect(open.map((c) => c.id)).toEqual([fromA.caseId]);
      expect(b.reviews.caseFor(sha256, undefined, false)?.id).toBe(fromA.caseId);
      // and B's next `review` of the file joins it, writing nothing
      expect(asked(b)).toEqual({ caseId: fromA.caseId, entry: null });
    });
  },
);
