// `clearance gate --timeout` is a deadline for the whole run, slow bodies included, and an answer
// from a server counts only when it is a recorded decision for the file gated. Real servers on
// loopback: a platform and a Clearance server that drip their answers a byte a second, and a
// server that answers `allow` without recording it, or for another file.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningSimulator, startSimulator } from "@clearance/platform-sim";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runWith } from "./helpers.js";

let dir: string;
let sim: RunningSimulator;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "clearance-gate-deadline-"));
  sim = await startSimulator({ port: 0, analysisDelayMs: 50 });
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

/** An HTTP server on 127.0.0.1 with `handler`; closed (connections too) by `close()`. */
async function serve(
  handler: Parameters<typeof createServer>[1],
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers every request 200 with a JSON body that arrives one byte a second, for minutes. */
function dripping() {
  return serve((request, response) => {
    request.resume();
    response.writeHead(200, { "content-type": "application/json" });
    const body = `{"sha256":"${"0".repeat(64)}","status":"completed","padding":"${"x".repeat(600)}"}`;
    let sent = 0;
    const timer = setInterval(() => {
      response.write(body[sent++]!);
      if (sent === body.length) {
        clearInterval(timer);
        response.end();
      }
    }, 1_000);
    response.on("close", () => clearInterval(timer));
  });
}

describe("clearance gate --timeout is a deadline for the whole run", () => {
  test.each([
    ["the platform", "platform"],
    ["the Clearance server", "server"],
  ] as const)(
    "%s dripping a byte a second: exit 1 near the deadline",
    async (_name, which) => {
      const drip = await dripping();
      try {
        const f = file(`drip-${which}.exe`, `MZ dripped by the ${which}`);
        const env = {
          CLEARANCE_PLATFORM_URL: which === "platform" ? drip.url : sim.url,
          CLEARANCE_PLATFORM_KEY: "sim_key_full",
        };
        const started = performance.now();
        const r = await runWith(env, "gate", f, "--server", drip.url, "--timeout", "3s", "--json");
        const seconds = (performance.now() - started) / 1000;
        expect(r.code).toBe(1);
        const report = JSON.parse(r.out) as { files: { error: string; decision: null }[] };
        expect(report.files[0]!.decision).toBeNull();
        expect(report.files[0]!.error).toMatch(
          /^the gate's deadline \(--timeout 3s\) passed while /,
        );
        // generous for a loaded machine: before, the drip kept the gate running for minutes
        expect(seconds).toBeGreaterThanOrEqual(2.9);
        expect(seconds).toBeLessThan(8);
      } finally {
        await drip.close();
      }
    },
    30_000,
  );
});

describe("clearance gate --server believes only recorded decisions for the file", () => {
  test.each([
    ["an allow without a decisionId", () => ({ decision: "allow" }), "has no `decisionId`"],
    [
      "an allow for another file",
      () => ({
        decision: "allow",
        decisionId: "01a218a9-3961-7000-bd9f-09530ffa3c11",
        sha256: "f".repeat(64),
      }),
      "is for another file",
    ],
    [
      "an allow without the file's hash",
      () => ({ decision: "allow", decisionId: "01a218a9-3961-7000-bd9f-09530ffa3c11" }),
      "is for another file",
    ],
  ])("%s: exit 1", async (_name, answer, message) => {
    const liar = await serve((request, response) => {
      request.resume();
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ ...answer(), rule: "trusted", reason: "trust me" }));
    });
    try {
      const f = file(`lied-${message.length}.exe`, `MZ lied about ${message}`);
      const env = { CLEARANCE_PLATFORM_URL: sim.url, CLEARANCE_PLATFORM_KEY: "sim_key_full" };
      const r = await runWith(env, "gate", f, "--server", liar.url);
      expect(r.code).toBe(1);
      expect(r.out).toContain("ERROR");
      expect(r.out).toContain(message);
      expect(r.out).not.toContain("ALLOW");
    } finally {
      await liar.close();
    }
  });
});
