// The server as users run it: a real listening socket, a separate process, SIGKILL and SIGTERM.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { AuditLog } from "../src/audit/log.js";
import { SqliteBackend } from "../src/audit/sqlite.js";
import { resolveConfig } from "../src/config.js";
import { type RunningServer, startServer } from "../src/server.js";
import { example, load, REPO, RULES, tempDir, waitFor } from "./helpers.js";

const BIN = join(REPO, "packages/cli/dist/bin.js");

describe("a real listening server", () => {
  const tmp = tempDir();
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(
      resolveConfig({
        server: { port: 0, logLevel: "silent" },
        rules: { dir: RULES, watch: false },
        audit: { sqlite: { path: join(tmp.dir, "audit.db") } },
      }),
      { logger: false, hooks: { processMetrics: false } },
    );
  });
  afterAll(async () => {
    await server.close();
    tmp.remove();
  });

  test("answers decisions over loopback and records them", async () => {
    const res = await fetch(`${server.url}/v1/decisions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ result: example("malware") }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { decisionId: string; decision: string };
    expect(body.decision).toBe("deny");
    const entry = await fetch(`${server.url}/v1/audit/${body.decisionId}`);
    expect(((await entry.json()) as { entry: { id: string } }).entry.id).toBe(body.decisionId);
    const bad = await fetch(`${server.url}/v1/decisions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("content-type")).toMatch(/problem\+json/);
  });
});

/** Starts `clearance serve` in its own process; resolves with its URL once it listens. */
function serve(
  config: string,
): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [BIN, "serve", "--config", config], {
    cwd: REPO,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${err}`)), 20_000);
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      const m = / on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, stderr: () => err });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${err}`));
    });
  });
}

async function openLog(path: string): Promise<AuditLog> {
  const log = new AuditLog(new SqliteBackend({ path, synchronous: "full" }), {
    chain: "crash-test",
    hmacSecret: "crash-test-hmac-key",
    maxBatch: 1000,
  });
  await log.open();
  return log;
}

describe.skipIf(!existsSync(BIN))("the server process (built CLI)", () => {
  if (!existsSync(BIN)) console.warn(`process tests skipped: ${BIN} is missing (run pnpm build)`);
  const tmp = tempDir();
  const db = join(tmp.dir, "audit.db");
  const config = join(tmp.dir, "clearance.yaml");
  writeFileSync(
    config,
    [
      "server: { port: 0, logLevel: warn }",
      `rules: { dir: ${JSON.stringify(RULES)}, watch: false }`,
      `audit: { chain: crash-test, hmacSecret: crash-test-hmac-key, sqlite: { path: ${JSON.stringify(db)} } }`,
      "",
    ].join("\n"),
  );
  afterAll(() => tmp.remove());

  test("SIGKILL under load: every decision a client received is in the log, and the chain verifies", async () => {
    for (let round = 0; round < 2; round++) {
      const s = await serve(config);
      const l = load(s.url, 16);
      await waitFor(() => l.received.length >= 300);
      s.child.kill("SIGKILL");
      await new Promise((r) => s.child.once("exit", r));
      await l.stop();
      const log = await openLog(db);
      try {
        const report = await log.verify();
        expect(report.ok, JSON.stringify(report.broken)).toBe(true);
        for (const id of l.received) expect(await log.get(id), id).toBeDefined();
        // the chain goes on after a restart (checked in the next round, and here by seq)
        expect(report.chains[0]!.to).toBeGreaterThanOrEqual(l.received.length);
      } finally {
        await log.close();
      }
    }
  }, 60_000);

  test("SIGTERM: in-flight requests finish, queued entries are written, exit code 0", async () => {
    const s = await serve(config);
    const l = load(s.url, 8);
    await waitFor(() => l.received.length >= 100);
    s.child.kill("SIGTERM");
    const code = await new Promise((r) => s.child.once("exit", r));
    await l.stop();
    expect(code).toBe(0);
    const log = await openLog(db);
    try {
      expect((await log.verify()).ok).toBe(true);
      for (const id of l.received) expect(await log.get(id), id).toBeDefined();
    } finally {
      await log.close();
    }
  }, 60_000);

  test("a configuration error stops the start with a message naming the key", async () => {
    const bad = join(tmp.dir, "bad.yaml");
    writeFileSync(bad, "server: { prot: 1 }\n");
    await expect(serve(bad)).rejects.toThrow(/unknown key `server.prot`/);
  });
});
