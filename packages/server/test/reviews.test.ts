// The life of a review case over HTTP, end to end, on SQLite and (with CLEARANCE_TEST_PG) on
// PostgreSQL: a real server on loopback, real keys, a real notification receiver, time injected.
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, test } from "vitest";
import { createApiKey } from "../src/auth.js";
import { resolveConfig } from "../src/config.js";
import { type RunningServer, startServer } from "../src/server.js";
import { PG_SKIP_REASON, PG_URL } from "./audit-helpers.js";
import { example, RULES, tempDir, waitFor } from "./helpers.js";

const DAY = 86_400_000;
// biome-ignore lint/suspicious/noExplicitAny: answers are read by path, and checked by the assertions
type Answer = Record<string, any>;
const KEYS = {
  asker: createApiKey(),
  alice: createApiKey(),
  bob: createApiKey(),
  ops: createApiKey(),
  reader: createApiKey(),
};

/** A notification receiver on loopback: every payload it was sent. */
async function receiver(): Promise<{
  url: string;
  got: Record<string, unknown>[];
  close(): Promise<void>;
}> {
  const got: Record<string, unknown>[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      got.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    got,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const backends = [
  { name: "SQLite", pg: false },
  { name: "PostgreSQL", pg: true },
] as const;

for (const backend of backends) {
  const skip = backend.pg && !PG_URL;
  describe.skipIf(skip)(
    `the life of a review case on ${backend.name}${skip ? ` (${PG_SKIP_REASON})` : ""}`,
    () => {
      const cleanups: (() => Promise<unknown>)[] = [];
      afterEach(async () => {
        for (const f of cleanups.splice(0).reverse()) await f();
      });

      async function serve(reviews: Record<string, unknown> = {}) {
        let now = Date.now();
        const tmp = tempDir();
        const schema = `t_${randomBytes(6).toString("hex")}`;
        cleanups.push(async () => tmp.remove());
        if (backend.pg)
          cleanups.push(async () => {
            const raw = new pg.Client({ connectionString: PG_URL });
            await raw.connect();
            await raw.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
            await raw.end();
          });
        const hook = await receiver();
        cleanups.push(() => hook.close());
        const reviewErrors: string[] = [];
        const server: RunningServer = await startServer(
          resolveConfig(
            {
              server: { port: 0, logLevel: process.env.DEBUG_REVIEWS ? "error" : "silent" },
              rules: { dir: RULES, watch: false },
              audit: backend.pg
                ? { backend: "postgres", postgres: { url: PG_URL, schema, poolSize: 4 } }
                : { sqlite: { path: join(tmp.dir, "audit.db") } },
              auth: {
                keys: [
                  { id: "asker", scopes: ["decide", "review"], sha256: KEYS.asker.sha256 },
                  { id: "alice", scopes: ["review"], sha256: KEYS.alice.sha256 },
                  { id: "bob", scopes: ["review"], sha256: KEYS.bob.sha256 },
                  { id: "ops", scopes: ["admin"], sha256: KEYS.ops.sha256 },
                  { id: "reader", scopes: ["audit:read"], sha256: KEYS.reader.sha256 },
                ],
              },
              notifications: {
                targets: [{ id: "soc", url: hook.url, decisions: ["allow", "deny", "review"] }],
                pollMs: 50,
              },
              reviews: { approvalsRequired: 2, sweepIntervalMs: 3_600_000, ...reviews },
            },
            { baseDir: tmp.dir },
          ),
          {
            hooks: {
              processMetrics: false,
              clock: () => now,
              onReviewError: (error) => reviewErrors.push(error.message),
            },
          },
        );
        cleanups.push(() => server.close());
        const call = async (
          key: keyof typeof KEYS,
          method: string,
          path: string,
          body?: unknown,
        ): Promise<{ status: number; body: Answer }> => {
          const res = await fetch(`${server.url}${path}`, {
            method,
            headers: {
              authorization: `Bearer ${KEYS[key].secret}`,
              ...(body === undefined ? {} : { "content-type": "application/json" }),
            },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          });
          return { status: res.status, body: (await res.json()) as Answer };
        };
        return {
          server,
          hook,
          call,
          reviewErrors,
          advance: (ms: number) => {
            now += ms;
          },
        };
      }

      test("review, join, two approvals, allow by exception, notified, expired, back to review", async () => {
        const { server, hook, call, advance } = await serve();
        const file = example("unsigned-lowscore");
        const sha256 = file.sha256 as string;

        // the file is reviewed: a case opens, and two more queries join it
        const first = await call("asker", "POST", "/v1/decisions", { result: file });
        expect(first.status).toBe(200);
        expect(first.body.decision).toBe("review");
        const caseId = first.body.case as string;
        expect(caseId).toMatch(/^[0-9a-f-]{36}$/);
        for (let i = 0; i < 2; i++) {
          const again = await call("asker", "POST", "/v1/decisions", { result: file });
          expect(again.body).toMatchObject({ decision: "review", case: caseId });
        }
        const open = await call("alice", "GET", "/v1/reviews");
        expect(open.status).toBe(200);
        expect(open.body.cases.map((c: { id: string }) => c.id)).toEqual([caseId]);
        const shown = await call("alice", "GET", `/v1/reviews/${caseId}`);
        expect(shown.status).toBe(200);
        expect(shown.body.case).toMatchObject({
          sha256,
          status: "open",
          requester: "asker",
          decisionId: first.body.decisionId,
          waitingFor: "2 more approvals",
        });
        expect(shown.body.requests).toHaveLength(3);
        expect(shown.body.input.result.sha256).toBe(sha256);

        // the asker may not approve its own file
        const self = await call("asker", "POST", `/v1/reviews/${caseId}/votes`, {
          vote: "approve",
          justification: "mine",
        });
        expect(self.status).toBe(403);
        expect(self.body.code).toBe("self_approval");
        // a key without the review scope may not vote
        const reader = await call("reader", "POST", `/v1/reviews/${caseId}/votes`, {
          vote: "approve",
          justification: "x",
        });
        expect(reader.status).toBe(403);
        expect(reader.body.code).toBe("forbidden");
        // a blank justification is refused, naming the field
        const blank = await call("alice", "POST", `/v1/reviews/${caseId}/votes`, {
          vote: "approve",
          justification: "   ",
        });
        expect(blank.status).toBe(400);
        expect(blank.body.problems[0].pointer).toBe("/justification");
        const past = await call("alice", "POST", `/v1/reviews/${caseId}/votes`, {
          vote: "approve",
          justification: "vendor tool",
          exception: { expires: "2020-01-01T00:00:00Z" },
        });
        expect(past.status).toBe(400);
        expect(past.body.problems[0].pointer).toBe("/exception/expires");

        // one approval of two does nothing yet
        const one = await call("alice", "POST", `/v1/reviews/${caseId}/votes`, {
          vote: "approve",
          justification: "the PDF tool finance asked for",
        });
        expect(one.status).toBe(201);
        expect(one.body).toMatchObject({ replayed: false, exception: null, decision: null });
        expect(one.body.case).toMatchObject({ status: "open", waitingFor: "1 more approval" });
        // the same vote again is answered as recorded; another vote by the same voter is refused
        const replay = await call("alice", "POST", `/v1/reviews/${caseId}/votes`, {
          vote: "approve",
          justification: "the PDF tool finance asked for",
        });
        expect(replay.status).toBe(200);
        expect(replay.body.replayed).toBe(true);
        expect(replay.body.vote.id).toBe(one.body.vote.id);
        const changed = await call("alice", "POST", `/v1/reviews/${caseId}/votes`, {
          vote: "reject",
          justification: "on second thought",
        });
        expect(changed.status).toBe(409);
        expect(changed.body.code).toBe("already_voted");

        // the second approval resolves it: an exception, and the file decided again, allowed
        const two = await call("bob", "POST", `/v1/reviews/${caseId}/votes`, {
          vote: "approve",
          justification: "checked the vendor's site",
        });
        expect(two.status).toBe(201);
        expect(two.body.case).toMatchObject({ status: "resolved", outcome: "approved" });
        const exception = two.body.exception;
        expect(exception).toMatchObject({
          status: "approved",
          kind: "file",
          scope: { sha256 },
          approvers: ["alice", "bob"],
          case: caseId,
          state: "active",
        });
        expect(two.body.decision).toMatchObject({
          decision: "allow",
          rule: "approved_by_people",
          exception: exception.id,
        });
        expect(two.body.decision.reason).toContain(exception.id);
        expect(two.body.decision.reason).toContain("alice");
        const now = await call("asker", "GET", `/v1/decisions/${sha256}`);
        expect(now.body).toMatchObject({ decision: "allow", exception: exception.id });
        // a closed case takes no more votes
        const late = await call("ops", "POST", `/v1/reviews/${caseId}/votes`, {
          vote: "reject",
          justification: "too late",
        });
        expect(late.status).toBe(409);
        expect(late.body.code).toBe("case_closed");

        // whoever listens was told of the new decision, once
        await waitFor(
          () => hook.got.some((n) => (n.decision as { source: string }).source === "review"),
          10_000,
          "the re-decision's notification",
        );
        const told = hook.got.filter((n) => (n.decision as { source: string }).source === "review");
        expect(told).toHaveLength(1);
        expect(told[0]!.decision).toMatchObject({ sha256, decision: "allow" });

        // the exception expires: the file is back to what the rules say without it
        advance(91 * DAY);
        const swept = await server.services.reviews.sweep();
        expect(swept.exceptionsExpired).toBe(1);
        const back = await call("asker", "GET", `/v1/decisions/${sha256}`);
        expect(back.body.decision).toBe("review");
        expect(back.body.case).toBeDefined();
        expect(back.body.case).not.toBe(caseId);
        const ended = await call("ops", "GET", `/v1/exceptions/${exception.id}`);
        expect(ended.body).toMatchObject({ state: "expired" });
        await waitFor(
          () =>
            hook.got.filter((n) => (n.decision as { source: string }).source === "review")
              .length === 2,
          10_000,
          "the expiry's notification",
        );

        // every step is in the chain, and it verifies
        const report = await server.services.audit.verify();
        expect(report.ok).toBe(true);
      });

      test("a rule that forbids approval: approving is refused with the rule's name, rejecting denies", async () => {
        const { call } = await serve({ approvalsRequired: 1 });
        const file = example("malware");
        // detections.malicious > 0 without a deny: the example's malware is denied outright, so
        // take a file that is reviewed and has one malicious detection
        const flagged = {
          ...example("unsigned-lowscore"),
          sha256: "c".repeat(64),
          detections: { ...(example("unsigned-lowscore").detections as object), malicious: 1 },
        };
        void file;
        const d = await call("asker", "POST", "/v1/decisions", { result: flagged });
        expect(d.body.decision).toBe("review");
        expect(d.body.approvalForbiddenBy).toEqual(["any_malicious_detection"]);
        const approve = await call("alice", "POST", `/v1/reviews/${d.body.case}/votes`, {
          vote: "approve",
          justification: "looks fine",
        });
        expect(approve.status).toBe(409);
        expect(approve.body.code).toBe("approval_forbidden");
        expect(approve.body.detail).toContain("`any_malicious_detection`");
        const reject = await call("alice", "POST", `/v1/reviews/${d.body.case}/votes`, {
          vote: "reject",
          justification: "one engine says malicious",
        });
        expect(reject.status).toBe(201);
        expect(reject.body.case.outcome).toBe("rejected");
        expect(reject.body.decision).toMatchObject({
          decision: "deny",
          rule: "rejected_by_people",
        });
      });

      test("a case nobody answers expires, and its file gets the rules' answer for that", async () => {
        const { server, call, advance, reviewErrors } = await serve();
        const d = await call("asker", "POST", "/v1/decisions", {
          result: example("minimal"),
        });
        expect(d.body.decision).toBe("review");
        advance(8 * DAY);
        const swept = await server.services.reviews.sweep();
        expect(swept.casesExpired).toBe(1);
        const shown = await call("alice", "GET", `/v1/reviews/${d.body.case}`);
        expect(shown.body.case.status).toBe("expired");
        // decided again by the sweep itself (the outbox's row is a second chance, shared with it)
        let after = await call("asker", "GET", `/v1/decisions/${d.body.sha256}`);
        for (let i = 0; i < 50 && after.body.decision === "review"; i++) {
          await new Promise((r) => setTimeout(r, 100));
          after = await call("asker", "GET", `/v1/decisions/${d.body.sha256}`);
        }
        expect(
          after.body,
          `the file's newest decision after its case expired (review errors: ${JSON.stringify(reviewErrors)}; first ${d.body.decisionId} at ${d.body.evaluatedAt}; got ${JSON.stringify(after.body)})`,
        ).toMatchObject({ decision: "deny", rule: "unanswered" });
        const vote = await call("alice", "POST", `/v1/reviews/${d.body.case}/votes`, {
          vote: "approve",
          justification: "late",
        });
        expect(vote.body.code).toBe("case_closed");
      });

      test("exceptions made and revoked directly: needs the scope and a justification, and decides the file again", async () => {
        const { call } = await serve();
        const file = example("fresh-unknown");
        const sha256 = file.sha256 as string;
        await call("asker", "POST", "/v1/decisions", { result: file });
        const denied = await call("alice", "POST", "/v1/exceptions", {
          status: "approved",
          scope: { sha256 },
          justification: "x",
        });
        expect(denied.status).toBe(403);
        const tooLong = await call("ops", "POST", "/v1/exceptions", {
          status: "approved",
          scope: { sha256 },
          expires: new Date(Date.now() + 400 * DAY).toISOString(),
          justification: "pilot",
        });
        expect(tooLong.status).toBe(400);
        expect(tooLong.body.problems[0].pointer).toBe("/expires");
        const made = await call("ops", "POST", "/v1/exceptions", {
          status: "approved",
          scope: { sha256 },
          justification: "pilot for the finance team",
        });
        expect(made.status).toBe(201);
        expect(made.body).toMatchObject({ createdBy: "ops", case: null, state: "active" });
        const allowed = await call("asker", "GET", `/v1/decisions/${sha256}`);
        expect(allowed.body).toMatchObject({ decision: "allow", exception: made.body.id });
        // the case the first decision opened was withdrawn by the new answer
        const cases = await call("alice", "GET", "/v1/reviews?status=withdrawn");
        expect(cases.body.cases).toHaveLength(1);
        const list = await call("alice", "GET", "/v1/exceptions");
        expect(list.body.exceptions.map((e: { id: string }) => e.id)).toEqual([made.body.id]);
        const noWhy = await call("ops", "DELETE", `/v1/exceptions/${made.body.id}`, {
          justification: "",
        });
        expect(noWhy.status).toBe(400);
        const revoked = await call("ops", "DELETE", `/v1/exceptions/${made.body.id}`, {
          justification: "pilot over",
        });
        expect(revoked.status).toBe(200);
        expect(revoked.body).toMatchObject({ state: "revoked", ended: { by: "ops" } });
        const again = await call("ops", "DELETE", `/v1/exceptions/${made.body.id}`, {
          justification: "pilot over",
        });
        expect(again.body.code).toBe("exception_ended");
        const back = await call("asker", "GET", `/v1/decisions/${sha256}`);
        expect(back.body.decision).toBe("review");
        const unknown = await call(
          "alice",
          "POST",
          `/v1/reviews/${"0".repeat(8)}-0000-7000-8000-${"0".repeat(12)}/votes`,
          {
            vote: "approve",
            justification: "x",
          },
        );
        expect(unknown.status).toBe(404);
      });
    },
  );
}
