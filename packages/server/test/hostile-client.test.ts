// One client must not stall the others. A real server on loopback (listen, not inject: the clients'
// requests share its event loop as in production) takes deeply nested 16 MB bodies and valid
// 1,000-item batches from a hostile client in a loop, while a healthy client asks for one decision
// every 50 ms. The bound is generous (a slow, shared machine running other tests must pass): the
// point is no multi-second stall, which is what the same load caused before bodies were checked
// before parsing and batches were decided in slices (p50 4.3 s, p99 5.7 s; after: about 100 and
// 200 ms on an idle machine). The measurement itself is bench/server/hostile.js.
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { resolveConfig } from "../src/config.js";
import { type RunningServer, startServer } from "../src/server.js";
import { example, RULES, tempDir } from "./helpers.js";

let server: RunningServer;
const tmp = tempDir();
beforeAll(async () => {
  server = await startServer(
    resolveConfig({
      server: { port: 0, logLevel: "silent" },
      rules: { dir: RULES, watch: false },
      audit: { sqlite: { path: join(tmp.dir, "audit.db"), synchronous: "normal" } },
    }),
    { logger: false, hooks: { processMetrics: false } },
  );
});
afterAll(async () => {
  await server?.close();
  tmp.remove();
});

const json = { "content-type": "application/json" };

/** Latencies of requests sent every `everyMs` for `forMs`, each counted from when it was due. */
async function healthyClient(forMs: number, everyMs = 50): Promise<number[]> {
  const body = JSON.stringify({ result: example("signed-microsoft") });
  const latencies: number[] = [];
  const sent: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i * everyMs < forMs; i++) {
    const due = start + i * everyMs;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sent.push(
      fetch(`${server.url}/v1/decisions`, { method: "POST", headers: json, body }).then(
        async (res) => {
          expect(res.status).toBe(200);
          await res.arrayBuffer();
          latencies.push(performance.now() - due);
        },
      ),
    );
  }
  await Promise.all(sent);
  return latencies.sort((a, b) => a - b);
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

test("a hostile client's deep nesting and big batches do not stall a healthy client", async () => {
  const depth = 8_000_000;
  const deep = Buffer.from(`{"items":[${"[".repeat(depth)}${"]".repeat(depth)}]}`);
  // one batch text, its sha256s renewed in place each round (building it anew would cost this
  // process, which is also the server's, more than the server spends on it)
  const result = example("malware");
  const batch = Buffer.from(
    JSON.stringify({
      items: Array.from({ length: 1_000 }, (_, i) => ({
        result: { ...result, sha256: `${"0".repeat(8)}${i.toString(16).padStart(56, "0")}` },
      })),
    }),
  );
  const stamps: number[] = [];
  for (let at = batch.indexOf('"sha256":"'); at !== -1; at = batch.indexOf('"sha256":"', at + 1))
    stamps.push(at + 10);
  const nextBatch = (round: number) => {
    for (const at of stamps) batch.write(round.toString(16).padStart(8, "0"), at, "latin1");
    return batch;
  };
  const hostile = { stop: false, deep: [] as number[], batches: [] as number[] };
  const loop = async (send: (round: number) => Promise<Response>, statuses: number[]) => {
    for (let round = 0; !hostile.stop; round++) {
      const res = await send(round);
      await res.arrayBuffer();
      statuses.push(res.status);
    }
  };
  const post = (body: string | Buffer) =>
    fetch(`${server.url}/v1/decisions/batch`, { method: "POST", headers: json, body });

  await healthyClient(500); // warm up
  const loops = [
    loop(() => post(deep), hostile.deep),
    loop((round) => post(nextBatch(round + 1)), hostile.batches),
  ];
  const latencies = await healthyClient(6_000);
  hostile.stop = true;
  await Promise.all(loops);

  // the hostile client was served all along: its deep bodies refused, its batches decided
  expect(hostile.deep.length).toBeGreaterThan(0);
  expect(new Set(hostile.deep)).toEqual(new Set([400]));
  expect(hostile.batches.length).toBeGreaterThan(0);
  expect(new Set(hostile.batches)).toEqual(new Set([200]));
  const p50 = quantile(latencies, 0.5);
  const p99 = quantile(latencies, 0.99);
  expect(
    p99,
    `healthy client beside the hostile one: p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms over ${latencies.length} requests`,
  ).toBeLessThan(1_500);
}, 60_000);
