// Reading the audit log never blocks decisions: an export and a verification of a large SQLite log,
// over HTTP, while a client keeps asking for decisions. The reads run on reader threads in bounded
// chunks; the event loop only passes text along. (The measurement itself is bench/server/reads.js.)
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { resolveConfig } from "../src/config.js";
import { type RunningServer, startServer } from "../src/server.js";
import { fillSqliteLog } from "./audit-helpers.js";
import { example, RULES, tempDir } from "./helpers.js";

const ENTRIES = 200_000;
const KEY = "reads-test-hmac-key";
/** Generous: the point is "no multi-second stall" (it was 3 to 9 s), not a latency target. */
const BOUND_MS = 500;

/**
 * Reads an export as another client would, in a process of its own (the export's 300 MB are not
 * this test's to parse on the server's event loop); resolves with the number of lines.
 */
function exportInAnotherProcess(url: string): Promise<number> {
  const script = `
    const res = await fetch(process.argv[1]);
    if (res.status !== 200) { console.log("status " + res.status); process.exit(1); }
    let lines = 0;
    for await (const chunk of res.body) for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
    console.log(lines);`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script, url], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    child.on("exit", (code) =>
      code === 0 ? resolve(Number(out.trim())) : reject(new Error(`export client: ${out}`)),
    );
  });
}

describe(`reads of a ${ENTRIES.toLocaleString("en")}-entry SQLite log over HTTP`, () => {
  const tmp = tempDir();
  let server: RunningServer;

  beforeAll(async () => {
    const path = join(tmp.dir, "audit.db");
    await fillSqliteLog(path, ENTRIES, { key: KEY, chain: "main" });
    server = await startServer(
      resolveConfig({
        server: { port: 0, logLevel: "silent" },
        rules: { dir: RULES, watch: false },
        audit: { chain: "main", hmacSecret: KEY, sqlite: { path, synchronous: "normal" } },
      }),
      { logger: false, hooks: { processMetrics: false } },
    );
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    tmp.remove();
  });

  const body = JSON.stringify({ result: example("malware") });
  async function decide(): Promise<number> {
    const started = performance.now();
    const res = await fetch(`${server.url}/v1/decisions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(res.status).toBe(200);
    await res.json();
    return performance.now() - started;
  }

  test("decisions stay fast while an export and a verification run", async () => {
    for (let i = 0; i < 20; i++) await decide(); // warm up

    let running = 2;
    const exported = exportInAnotherProcess(`${server.url}/v1/audit/export`).finally(() => {
      running--;
    });
    const verified = (async () => {
      const res = await fetch(`${server.url}/v1/audit/verify`, { method: "POST" });
      const report = (await res.json()) as { ok: boolean; entries: number };
      running--;
      return report;
    })();

    const during: number[] = [];
    while (running > 0) {
      during.push(await decide());
      await new Promise((r) => setTimeout(r, 20));
    }
    const [lines, report] = await Promise.all([exported, verified]);

    expect(lines).toBeGreaterThanOrEqual(ENTRIES);
    expect(report.ok).toBe(true);
    expect(report.entries).toBeGreaterThanOrEqual(ENTRIES);
    // enough decisions were asked while both read to make the bound mean something
    expect(during.length).toBeGreaterThanOrEqual(10);
    expect(
      Math.max(...during),
      `decision latencies during the reads: ${during.map((d) => d.toFixed(0)).join(", ")} ms`,
    ).toBeLessThan(BOUND_MS);
  }, 120_000);
});
