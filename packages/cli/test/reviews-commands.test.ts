// `clearance reviews`, `clearance exceptions` and `clearance gate --wait-review` against a real
// server on loopback (SQLite, no API keys: people name themselves with --as), and for the gate a
// real platform simulator.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExceptionSet } from "@clearance/engine";
import { type RunningSimulator, startSimulator } from "@clearance/platform-sim";
import { createApiKey, type RunningServer, resolveConfig, startServer } from "@clearance/server";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { root, run, runWith } from "./helpers.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "clearance-cli-reviews-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A server on 127.0.0.1 without keys, one approval resolving a case. */
async function serve(name: string, rules = join(root, "rules")): Promise<RunningServer> {
  return startServer(
    resolveConfig({
      server: { port: 0, logLevel: "silent" },
      rules: { dir: rules, watch: false },
      audit: { sqlite: { path: join(dir, `${name}.db`) } },
      reviews: { approvalsRequired: 1 },
    }),
    { logger: false, hooks: { processMetrics: false } },
  );
}

function example(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(root, "examples/results", `${name}.json`), "utf8"));
}

/** Asks the server to decide an example; returns its answer. */
async function decide(server: RunningServer, name: string): Promise<Record<string, string>> {
  const res = await fetch(`${server.url}/v1/decisions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ result: example(name) }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, string>;
}

describe("clearance reviews and exceptions, through a server", () => {
  let server: RunningServer;
  const cli = (...args: string[]) => run(...args, "--server", server.url);
  beforeAll(async () => {
    server = await serve("reviews");
  });
  afterAll(() => server.close());

  test("list, show, approve: the case resolves into an exception and the file is allowed", async () => {
    const asked = await decide(server, "unsigned-lowscore");
    expect(asked.decision).toBe("review");
    const caseId = asked.case!;
    expect(caseId).toMatch(/^[0-9a-f-]{36}$/);

    const list = await cli("reviews", "list");
    expect(list.code, list.err).toBe(0);
    expect(list.out).toMatch(
      new RegExp(
        `open\\s+${caseId}\\s+${asked.sha256!.slice(0, 12)}\\s+pdf-merge-free-setup\\.exe\\s+\\(default\\)\\s+no rule matched`,
      ),
    );
    const json = JSON.parse((await cli("reviews", "list", "--json")).out);
    expect(json.cases.map((c: { id: string }) => c.id)).toContain(caseId);
    const none = await cli("reviews", "list", "--status", "resolved");
    expect(none.code).toBe(0);
    expect(none.out).toBe("");
    expect(none.err).toContain("no resolved review cases match");

    const show = await cli("reviews", "show", caseId);
    expect(show.code, show.err).toBe(0);
    expect(show.out).toContain(`OPEN      review case ${caseId}`);
    expect(show.out).toContain(`file       ${asked.sha256}`);
    expect(show.out).toContain("reason     no rule matched");
    expect(show.out).toContain("waiting    for 1 more approval");
    expect(show.out).toContain("votes      none yet");
    expect(show.out).toMatch(/requests {3}1\n.*review api {2}\(default\): no rule matched/);
    expect(JSON.parse((await cli("reviews", "show", caseId, "--json")).out).case.id).toBe(caseId);

    const approve = await cli(
      "reviews",
      "approve",
      caseId,
      "--justification",
      "the PDF tool finance asked for",
      "--expires",
      "30d",
      "--as",
      "alice",
    );
    expect(approve.code, approve.err).toBe(0);
    expect(approve.out).toContain(`recorded: alice approves review case ${caseId}`);
    expect(approve.out).toMatch(/the case is resolved: approved at /);
    const exceptionId = /exception ([0-9a-f-]{36}): approved file /.exec(approve.out)?.[1];
    expect(exceptionId, approve.out).toBeDefined();
    expect(approve.out).toMatch(/the file is now allow: approved_by_people {2}approved by/);

    // the case is closed now: another vote is refused with the server's problem
    const late = await cli(
      "reviews",
      "approve",
      caseId,
      "--justification",
      "me too",
      "--as",
      "bob",
    );
    expect(late.code).toBe(1);
    expect(late.err).toMatch(
      new RegExp(`^error: review case \`${caseId}\` is resolved since .*: it takes no more votes$`),
    );
    const shown = await cli("reviews", "show", caseId);
    expect(shown.out).toContain(`outcome    approved (exception ${exceptionId})`);
    expect(shown.out).toMatch(/approve alice \(file, until .*\): the PDF tool finance asked for/);

    const exceptions = await cli("exceptions", "list", "--sha256", asked.sha256!);
    expect(exceptions.code).toBe(0);
    expect(exceptions.out).toMatch(
      new RegExp(
        `^${exceptionId}  active  approved file ${asked.sha256}  until .*  by alice: alice: the PDF tool finance asked for$`,
      ),
    );
  });

  test("reject: the file is denied by the rejection", async () => {
    const asked = await decide(server, "expired-signature");
    expect(asked.decision).toBe("review");
    const r = await cli(
      "reviews",
      "reject",
      asked.case!,
      "--justification",
      "nobody asked for it",
      "--as",
      "carol",
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("the case is resolved: rejected");
    expect(r.out).toMatch(/the file is now deny: rejected_by_people {2}rejected by/);
  });

  test("problems: an unknown case, a blank justification, no name: the detail and each pointer, exit 1", async () => {
    const unknown = "0193a9f4-5b2c-7d3e-8f40-1a2b3c4d5e6f";
    const missing = await cli("reviews", "show", unknown);
    expect(missing.code).toBe(1);
    expect(missing.err).toBe(`error: no review case \`${unknown}\` is recorded`);
    const notAnId = await cli("reviews", "approve", "42", "--justification", "x", "--as", "a");
    expect(notAnId.code).toBe(1);
    expect(notAnId.err).toContain("error: case id `42` is not an id");

    const asked = await decide(server, "fresh-unknown");
    expect(asked.decision).toBe("review");
    const blank = await cli(
      "reviews",
      "approve",
      asked.case!,
      "--justification",
      "  ",
      "--as",
      "a",
    );
    expect(blank.code).toBe(1);
    expect(blank.err).toBe(
      "error: a vote needs a justification\n  /justification: must say why, in words",
    );
    const nameless = await cli("reviews", "approve", asked.case!, "--justification", "fine");
    expect(nameless.code).toBe(1);
    expect(nameless.err).toContain(
      "error: without API keys, say who you are in `voter`\n  /voter: is required on a server without API keys",
    );
    expect(nameless.err).toContain("hint: name yourself with --as NAME");
    const past = await cli(
      "reviews",
      "approve",
      asked.case!,
      "--justification",
      "fine",
      "--as",
      "a",
      "--expires",
      "2020-01-01T00:00:00Z",
    );
    expect(past.code).toBe(1);
    expect(past.err).toMatch(/^error: the expiry .*\n {2}\/exception\/expires: /);
    const never = await cli(
      "reviews",
      "approve",
      asked.case!,
      "--justification",
      "fine",
      "--as",
      "a",
      "--expires",
      "never",
    );
    expect(never.code).toBe(1);
    expect(never.err).toMatch(
      /exceptions that never expire are not allowed.*\n {2}\/exception\/expires: /,
    );
    const olderThan = await cli("reviews", "list", "--older-than", "2 days");
    expect(olderThan.code).toBe(1);
    expect(olderThan.err).toMatch(/^error: .*\n {2}querystring:\/olderThan: /);
    const badExpiry = await cli(
      "reviews",
      "approve",
      asked.case!,
      "--justification",
      "x",
      "--expires",
      "soon",
    );
    expect(badExpiry.code).toBe(1);
    expect(badExpiry.err).toContain("--expires `soon` is neither a time nor a duration");
    const noJustification = await cli("reviews", "reject", asked.case!);
    expect(noJustification.code).toBe(1);
    expect(noJustification.err).toContain("required option '--justification <text>' not specified");
    // the case is untouched by all of these
    const still = JSON.parse((await cli("reviews", "show", asked.case!, "--json")).out);
    expect(still.case).toMatchObject({ status: "open", votes: [] });

    const dead = await run("reviews", "list", "--server", "http://127.0.0.1:1");
    expect(dead.code).toBe(1);
    expect(dead.err).toMatch(
      /^error: cannot reach the Clearance server at http:\/\/127\.0\.0\.1:1: /,
    );
  });

  test("exceptions add, list, revoke and export: the export loads as an ExceptionSet", async () => {
    const malware = example("malware").sha256 as string;
    const add = await cli(
      "exceptions",
      "add",
      "--status",
      "rejected",
      "--sha256",
      malware,
      "--context",
      "group=finance",
      "--expires",
      "10d",
      "--justification",
      "phishing attachment, ticket 4711",
      "--as",
      "ops",
    );
    expect(add.code, add.err).toBe(0);
    const added =
      /^created exception ([0-9a-f-]{36}): rejected file ([0-9a-f]{64}) when group=finance, until (\S+)$/.exec(
        add.out,
      );
    expect(added, add.out).not.toBeNull();
    expect(added![2]).toBe(malware);
    expect(Date.parse(added![3]!) - Date.now()).toBeGreaterThan(9 * 86_400_000);
    const vendor = JSON.parse(
      (
        await cli(
          "exceptions",
          "add",
          "--status",
          "approved",
          "--vendor",
          "Acme",
          "--product",
          "Toolbar",
          "--justification",
          "the toolbar we pay for",
          "--as",
          "ops",
          "--json",
        )
      ).out,
    );
    expect(vendor).toMatchObject({ kind: "vendor", scope: { vendor: "Acme", product: "Toolbar" } });

    const out = join(dir, "exceptions.json");
    const exported = await cli("exceptions", "export", "--out", out);
    expect(exported.code, exported.err).toBe(0);
    expect(exported.err).toMatch(/^\d+ exceptions written to /);
    const text = readFileSync(out, "utf8");
    const records = JSON.parse(text) as { id: string }[];
    expect(text).toBe(`${JSON.stringify(records, null, 2)}\n`);
    expect(records.map((r) => r.id)).toEqual(records.map((r) => r.id).sort());
    expect(records.map((r) => r.id)).toEqual(expect.arrayContaining([added![1], vendor.id]));
    const set = new ExceptionSet(records);
    expect(set.size).toBe(records.length);
    expect(Object.keys(records.find((r) => r.id === added![1])!)).toEqual([
      "id",
      "status",
      "scope",
      "context",
      "created",
      "expires",
      "approvers",
      "justification",
      "case",
    ]);
    // standard output holds the same records
    expect(`${(await cli("exceptions", "export")).out}\n`).toBe(text);

    const revoke = await cli(
      "exceptions",
      "revoke",
      added![1]!,
      "--justification",
      "the ticket was closed",
      "--as",
      "ops",
    );
    expect(revoke.code, revoke.err).toBe(0);
    expect(revoke.out).toMatch(/^revoked exception .* \(rejected file [0-9a-f]{64}\) at /);
    const again = await cli(
      "exceptions",
      "revoke",
      added![1]!,
      "--justification",
      "twice",
      "--as",
      "ops",
    );
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/^error: exception `.*` was revoked at /);
    const revoked = await cli("exceptions", "list", "--state", "revoked");
    expect(revoked.out).toContain(`${added![1]}  revoked rejected`);
    const after = JSON.parse((await cli("exceptions", "export")).out) as { id: string }[];
    expect(after.map((r) => r.id)).not.toContain(added![1]);
    expect(after.map((r) => r.id)).toContain(vendor.id);

    const twoScopes = await cli(
      "exceptions",
      "add",
      "--status",
      "approved",
      "--sha256",
      malware,
      "--signer",
      "ab",
      "--justification",
      "x",
    );
    expect(twoScopes.code).toBe(1);
    expect(twoScopes.err).toContain("error: an exception has one scope, not --sha256 and --signer");
    const badContext = await cli(
      "exceptions",
      "add",
      "--status",
      "approved",
      "--sha256",
      malware,
      "--context",
      "finance",
      "--justification",
      "x",
    );
    expect(badContext.err).toContain("--context `finance` is not `field=value`");
    const badHash = await cli(
      "exceptions",
      "add",
      "--status",
      "approved",
      "--sha256",
      "abc",
      "--justification",
      "x",
      "--as",
      "ops",
    );
    expect(badHash.code).toBe(1);
    expect(badHash.err).toMatch(/^error: .*\n {2}\/scope/);
  });
});

describe("on a server with API keys", () => {
  const keys = { asker: createApiKey(), alice: createApiKey(), ops: createApiKey() };
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(
      resolveConfig({
        server: { port: 0, logLevel: "silent" },
        rules: { dir: join(root, "rules"), watch: false },
        audit: { sqlite: { path: join(dir, "keys.db") } },
        auth: {
          keys: [
            { id: "asker", scopes: ["decide"], sha256: keys.asker.sha256 },
            { id: "alice", scopes: ["review"], sha256: keys.alice.sha256 },
            { id: "ops", scopes: ["exceptions"], sha256: keys.ops.sha256 },
          ],
        },
      }),
      { logger: false, hooks: { processMetrics: false } },
    );
  });
  afterAll(() => server.close());

  test("the server from $CLEARANCE_SERVER_URL, the key from $CLEARANCE_SERVER_KEY: the voter is the key", async () => {
    const res = await fetch(`${server.url}/v1/decisions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${keys.asker.secret}`,
      },
      body: JSON.stringify({ result: example("unsigned-lowscore") }),
    });
    const asked = (await res.json()) as Record<string, string>;
    expect(asked.decision).toBe("review");
    const as = (key: keyof typeof keys | null) =>
      key === null
        ? { CLEARANCE_SERVER_URL: server.url }
        : { CLEARANCE_SERVER_URL: server.url, CLEARANCE_SERVER_KEY: keys[key].secret };

    const anonymous = await runWith(as(null), "reviews", "list");
    expect(anonymous.code).toBe(1);
    expect(anonymous.err).toContain("hint: set CLEARANCE_SERVER_KEY");
    const wrongScope = await runWith(as("ops"), "reviews", "show", asked.case!);
    expect(wrongScope.code).toBe(1);
    expect(wrongScope.err).toMatch(/^error: .*`review`/);
    const notMe = await runWith(
      as("alice"),
      "reviews",
      "approve",
      asked.case!,
      "--justification",
      "fine",
      "--as",
      "bob",
    );
    expect(notMe.code).toBe(1);
    expect(notMe.err).toContain("/voter: must be `alice` (the key) or left out");
    const approved = await runWith(
      as("alice"),
      "reviews",
      "approve",
      asked.case!,
      "--justification",
      "fine",
    );
    expect(approved.code, approved.err).toBe(0);
    expect(approved.out).toContain(`recorded: alice approves review case ${asked.case}`);
    const exported = await runWith(as("ops"), "exceptions", "export");
    expect(exported.code, exported.err).toBe(0);
    expect(JSON.parse(exported.out)).toMatchObject([{ approvers: ["alice"], case: asked.case }]);
  });
});

describe("clearance gate --wait-review", () => {
  let sim: RunningSimulator;
  let server: RunningServer;
  let env: Record<string, string>;
  beforeAll(async () => {
    // every file is reviewed until people approve it
    const rules = join(dir, "wait-rules");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(rules);
    writeFileSync(
      join(rules, "wait.rules"),
      [
        'ruleset "wait-review"',
        "strategy deny-overrides",
        'default review "nobody has looked at it"',
        "",
        "rule approved_by_people {",
        '  when exception.status == "approved"',
        '  allow "approved by {exception.approvers}"',
        "}",
        "",
      ].join("\n"),
    );
    sim = await startSimulator({ port: 0, analysisDelayMs: 50 });
    server = await serve("gate", rules);
    env = { CLEARANCE_PLATFORM_URL: sim.url, CLEARANCE_PLATFORM_KEY: "sim_key_full" };
  });
  afterAll(async () => {
    await server.close();
    await sim.close();
  });

  function file(name: string): string {
    const p = join(dir, name);
    writeFileSync(p, `MZ ${name} ${Math.random()}`);
    return p;
  }

  /** Approves the first open case of the server as soon as one opens. */
  async function approveWhenOpen(): Promise<string> {
    for (let i = 0; i < 200; i++) {
      const open = JSON.parse(
        (await run("reviews", "list", "--json", "--server", server.url)).out,
      ) as { cases: { id: string }[] };
      const kase = open.cases[0];
      // an open case is listed (from memory) a moment before its entry is readable
      if (kase && (await run("reviews", "show", kase.id, "--server", server.url)).code === 0) {
        const r = await run(
          "reviews",
          "approve",
          kase.id,
          "--justification",
          "built by us",
          "--as",
          "release-manager",
          "--server",
          server.url,
        );
        expect(r.code, r.err).toBe(0);
        return kase.id;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error("no case opened");
  }

  test("exit 0 when another client approves the case while the gate waits", async () => {
    const f = file("approved.exe");
    const [gated, caseId] = await Promise.all([
      runWith(env, "gate", f, "--server", server.url, "--wait-review", "30s", "--json"),
      approveWhenOpen(),
    ]);
    expect(gated.code, gated.out + gated.err).toBe(0);
    const report = JSON.parse(gated.out) as { exitCode: number; files: Record<string, unknown>[] };
    expect(report.exitCode).toBe(0);
    expect(report.files[0]).toMatchObject({
      decision: "allow",
      rule: "approved_by_people",
      reason: "approved by release-manager",
      case: caseId,
      error: null,
    });
    // the human report says which review it waited for
    const [human, second] = await Promise.all([
      runWith(
        env,
        "gate",
        file("approved-too.exe"),
        "--server",
        server.url,
        "--wait-review",
        "30s",
      ),
      approveWhenOpen(),
    ]);
    expect(human.code, human.out + human.err).toBe(0);
    expect(human.out).toMatch(
      new RegExp(
        `^ALLOW .*approved-too\\.exe {2}approved_by_people {2}approved by release-manager {2}\\[[0-9a-f-]{36}\\] {2}\\(after review case ${second}\\)$`,
      ),
    );
    // the file is allowed by its exception from now on, without a case
    const again = await runWith(env, "gate", f, "--server", server.url, "--wait-review", "5s");
    expect(again.code).toBe(0);
    expect(again.out).not.toContain("review case");
  }, 60_000);

  test("exit 3 when the wait ends before anyone answers; the case is named", async () => {
    const f = file("unanswered.exe");
    const started = performance.now();
    const r = await runWith(env, "gate", f, "--server", server.url, "--wait-review", "2s");
    const seconds = (performance.now() - started) / 1000;
    expect(r.code, r.out + r.err).toBe(3);
    expect(r.out).toMatch(
      /^REVIEW .*unanswered\.exe {2}\(default\) {2}nobody has looked at it {2}\[[0-9a-f-]{36}\] {2}\(review case [0-9a-f-]{36}\)$/,
    );
    expect(seconds).toBeGreaterThanOrEqual(1.9);
    expect(seconds).toBeLessThan(15);
    // --timeout still bounds the whole run: a shorter one ends the wait, and the review stands
    const bounded = await runWith(
      env,
      "gate",
      file("bounded.exe"),
      "--server",
      server.url,
      "--wait-review",
      "1h",
      "--timeout",
      "3s",
      "--json",
    );
    expect(bounded.code).toBe(3);
    expect(JSON.parse(bounded.out).files[0]).toMatchObject({ decision: "review", error: null });
  }, 60_000);

  test("--wait-review needs --server", async () => {
    const r = await runWith(
      env,
      "gate",
      file("local.exe"),
      "--rules",
      join(root, "rules"),
      "--wait-review",
      "1m",
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain("error: --wait-review needs --server");
  });
});
