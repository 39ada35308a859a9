// A fleet of Santa agents against a real server on loopback (issue 17's end-to-end test): 1,000
// simulated machines (SantaAgent, which syncs as santasyncservice does, on undici's shared pool) enroll into two groups,
// report executions, get the rules the decisions became, a review approved by two people reaches
// every machine of the group at its next sync, and the exception expiring takes the rule away.
// SQLite with 1,000 machines; PostgreSQL (with CLEARANCE_TEST_PG) with 200.
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { type Execution, SantaAgent, SantaSyncError } from "@clearance/santa";
import pg from "pg";
import { afterEach, describe, expect, test } from "vitest";
import { createApiKey } from "../src/auth.js";
import { resolveConfig } from "../src/config.js";
import { type RunningServer, startServer } from "../src/server.js";
import { PG_SKIP_REASON, PG_URL } from "./audit-helpers.js";
import { example, RULES, tempDir } from "./helpers.js";

const DAY = 86_400_000;
const sha = (text: string) => createHash("sha256").update(text).digest("hex");
const TOKENS = { eng: randomBytes(24).toString("hex"), fin: randomBytes(24).toString("hex") };
const KEYS = { asker: createApiKey(), alice: createApiKey(), bob: createApiKey() };

const backends = [
  { name: "SQLite", pg: false, machines: 1_000 },
  { name: "PostgreSQL", pg: true, machines: 200 },
] as const;

/** Runs `work` over `items`, at most `width` at a time. */
async function each<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

for (const backend of backends) {
  const skip = backend.pg && !PG_URL;
  describe.skipIf(skip)(
    `a fleet of ${backend.machines} Santa agents on ${backend.name}${skip ? ` (${PG_SKIP_REASON})` : ""}`,
    () => {
      const cleanups: (() => Promise<unknown>)[] = [];
      afterEach(async () => {
        for (const f of cleanups.splice(0).reverse()) await f();
      });

      test("executions decided, rules downloaded, a review reaching every machine, an expiry taking it back", async () => {
        let now = Date.parse("2026-12-05T09:00:00Z");
        const tmp = tempDir();
        cleanups.push(async () => tmp.remove());
        const schema = `t_${randomBytes(6).toString("hex")}`;
        if (backend.pg)
          cleanups.push(async () => {
            const raw = new pg.Client({ connectionString: PG_URL });
            await raw.connect();
            await raw.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
            await raw.end();
          });
        const santaErrors: string[] = [];
        const server: RunningServer = await startServer(
          resolveConfig(
            {
              server: { port: 0, logLevel: "silent" },
              rules: { dir: RULES, watch: false },
              audit: backend.pg
                ? { backend: "postgres", postgres: { url: PG_URL, schema, poolSize: 8 } }
                : { sqlite: { path: join(tmp.dir, "audit.db") } },
              auth: {
                keys: [
                  { id: "asker", scopes: ["decide"], sha256: KEYS.asker.sha256 },
                  { id: "alice", scopes: ["review", "audit:read"], sha256: KEYS.alice.sha256 },
                  { id: "bob", scopes: ["review"], sha256: KEYS.bob.sha256 },
                ],
              },
              reviews: { approvalsRequired: 2, sweepIntervalMs: 3_600_000 },
              santa: {
                enabled: true,
                groups: [
                  { name: "engineering", mode: "monitor", tokens: [sha(TOKENS.eng)] },
                  { name: "finance", mode: "lockdown", tokens: [sha(TOKENS.fin)] },
                ],
                rulesPerDownload: 2,
              },
            },
            { baseDir: tmp.dir },
          ),
          {
            hooks: {
              processMetrics: false,
              clock: () => now,
              onSantaError: (error) => santaErrors.push(error.message),
            },
          },
        );
        cleanups.push(() => server.close());
        const call = async (
          key: keyof typeof KEYS,
          method: string,
          path: string,
          body?: unknown,
        ) => {
          const res = await fetch(`${server.url}${path}`, {
            method,
            headers: {
              authorization: `Bearer ${KEYS[key].secret}`,
              ...(body === undefined ? {} : { "content-type": "application/json" }),
            },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          });
          // biome-ignore lint/suspicious/noExplicitAny: answers are read by path, and checked by the assertions
          return { status: res.status, body: (await res.json()) as Record<string, any> };
        };

        // the server holds analyses of two files: one it allows, one it denies
        const analysed = async (name: string) => {
          const result = example(name);
          expect((await call("asker", "POST", "/v1/decisions", { result })).status).toBe(200);
          return (result.sha256 as string).toLowerCase();
        };
        const good = await analysed("signed-microsoft");
        const bad = await analysed("malware");
        // and none of these: the engineers' build tool, and a finance macro tool
        const tool = sha("an in-house build tool");
        const macro = sha("a finance macro tool");

        const n = backend.machines;
        const finance = Math.floor(n / 5);
        const agents = Array.from({ length: n }, (_, i) => {
          const group = i < finance ? "finance" : "engineering";
          return {
            group,
            agent: new SantaAgent({
              baseUrl: `${server.url}/santa/v1/`,
              machineId: `${group === "finance" ? "FIN" : "ENG"}-${String(i).padStart(5, "0")}`,
              token: group === "finance" ? TOKENS.fin : TOKENS.eng,
              hostname: `mac-${i}.example.com`,
              primaryUser: `user${i}`,
              retryDelayMs: () => 20,
            }),
          };
        });
        const engineering = agents.filter((a) => a.group === "engineering");
        const financeAgents = agents.filter((a) => a.group === "finance");
        const syncAll = async (which = agents) => {
          await each(which, 24, async ({ agent }) => {
            await agent.sync();
          });
        };
        const has = (agent: SantaAgent, identifier: string) =>
          agent.rules().find((r) => r.identifier === identifier);
        const run = (hash: string): Execution => ({ sha256: hash });

        // 1. every machine enrolls: its first sync is clean, with its group's mode
        await syncAll();
        expect(new Set(engineering.map((a) => a.agent.clientMode))).toEqual(new Set(["MONITOR"]));
        expect(new Set(financeAgents.map((a) => a.agent.clientMode))).toEqual(
          new Set(["LOCKDOWN"]),
        );

        // 2. executions: everyone runs the allowed file, some engineers the denied one and the
        // build tool, some finance machines the macro tool
        let reported = 0;
        for (const [i, { group, agent }] of agents.entries()) {
          const runs = [good];
          if (group === "engineering" && i % 50 === 0) runs.push(bad);
          if (group === "engineering" && i % 10 === 0) runs.push(tool);
          if (group === "finance" && i % 20 === 0) runs.push(macro);
          for (const hash of runs)
            agent.recordExecution({
              fileSha256: hash,
              fileName: hash === tool ? "buildtool" : "app",
              filePath: "/Applications",
              executingUser: `user${i}`,
              executionTime: now / 1000,
              pid: 100 + i,
            });
          reported += runs.length;
        }
        await syncAll();
        expect(agents.every((a) => a.agent.pendingEvents === 0)).toBe(true);
        const events = await call("alice", "GET", `/v1/audit?source=santa&limit=1000`);
        const metrics = await (await fetch(`${server.url}/metrics`)).text();
        const counted = [
          ...metrics.matchAll(/^clearance_santa_events_total\{[^}]*\} (\d+)$/gm),
        ].reduce((sum, m) => sum + Number(m[1]), 0);
        expect(counted).toBe(reported);
        expect(events.body.entries.length).toBeGreaterThan(0);

        // 3. the next sync brings the rules: allowed and denied files as Santa rules, the
        // unanalysed tools under review (no rule: the mode decides)
        await syncAll();
        for (const { group, agent } of agents) {
          expect(has(agent, good)?.policy).toBe("ALLOWLIST");
          expect(has(agent, tool)).toBeUndefined();
          expect(has(agent, macro)).toBeUndefined();
          if (group === "engineering") expect(has(agent, bad)?.policy).toBe("BLOCKLIST");
          // a group's rules never reach another group's machines
          else expect(has(agent, bad)).toBeUndefined();
        }
        expect(engineering[0]!.agent.wouldRun(run(tool))).toBe("allow"); // monitor
        expect(financeAgents[0]!.agent.wouldRun(run(macro))).toBe("block"); // lockdown
        expect(engineering[0]!.agent.wouldRun(run(bad))).toBe("block");

        // 4. the build tool is one review case, asked by each engineer who ran it
        const cases = await call("alice", "GET", `/v1/reviews?sha256=${tool}`);
        expect(cases.body.cases).toHaveLength(1);
        const kase = cases.body.cases[0];
        expect(kase.requester).toMatch(/^santa:user\d+@ENG-\d{5}$/);
        const asked = (await call("alice", "GET", `/v1/reviews/${kase.id}`)).body.requests as {
          requester: string;
        }[];
        const engineersWhoRanIt = engineering.filter((_, i) => (i + finance) % 10 === 0).length;
        expect(new Set(asked.map((r) => r.requester)).size).toBe(engineersWhoRanIt);
        for (const voter of ["alice", "bob"] as const) {
          const voted = await call(voter, "POST", `/v1/reviews/${kase.id}/votes`, {
            vote: "approve",
            justification: "the engineers' build tool",
          });
          expect(voted.status).toBe(201);
        }
        const exception = (await call("alice", "GET", `/v1/exceptions?sha256=${tool}`)).body
          .exceptions[0];
        expect(exception.status).toBe("approved");

        // 5. every engineering machine gets the tool's rule at its next sync, those that never
        // ran it too; finance machines never do
        await waitForRule(server, "engineering", tool, "ALLOWLIST");
        await syncAll();
        for (const { agent } of engineering) {
          expect(has(agent, tool)?.policy).toBe("ALLOWLIST");
          expect(agent.wouldRun(run(tool))).toBe("allow");
        }
        for (const { agent } of financeAgents) expect(has(agent, tool)).toBeUndefined();

        // 6. the exception expires: the tool is back under review and its rule is removed
        now = Date.parse(exception.expires) + DAY;
        const swept = await server.services.reviews.sweep();
        expect(swept.exceptionsExpired).toBe(1);
        await waitForRule(server, "engineering", tool, "REMOVE");
        await syncAll(engineering);
        for (const { agent } of engineering) expect(has(agent, tool)).toBeUndefined();

        // 7. a machine cannot change groups with another group's token, and loses nothing
        const stray = new SantaAgent({
          baseUrl: `${server.url}/santa/v1/`,
          machineId: financeAgents[0]!.agent.options.machineId,
          token: TOKENS.eng,
          retryDelayMs: () => 0,
        });
        const refused = await stray.sync().catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(SantaSyncError);
        expect((refused as SantaSyncError).status).toBe(403);
        expect((refused as SantaSyncError).code).toBe("agent_forbidden");
        const fin = await server.services.audit.store.santa.machine(
          financeAgents[0]!.agent.options.machineId,
        );
        expect(fin?.group).toBe("finance");

        // the fleet, as operators watch it
        const machines = await server.services.audit.store.santa.machineCounts();
        expect(machines.reduce((sum, m) => sum + m.machines, 0)).toBe(n);
        expect(santaErrors).toEqual([]);
      }, 300_000);
    },
  );
}

/** Waits until the group's rule for `identifier` has `policy` (re-decisions run in the background). */
async function waitForRule(
  server: RunningServer,
  group: string,
  identifier: string,
  policy: string,
): Promise<void> {
  const store = server.services.audit.store.santa;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const head = await store.ruleHead(group);
    const rules = await store.rulesAfter(group, 0, head, 1_000_000, false);
    if (rules.find((r) => r.identifier === identifier)?.policy === policy) return;
    if (Date.now() > deadline)
      throw new Error(`the ${group} rule for ${identifier} never became ${policy}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
