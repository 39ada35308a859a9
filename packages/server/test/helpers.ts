import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import { resolveConfig, type ServerConfig } from "../src/config.js";
import { buildApp } from "../src/server.js";
import { createServices, type Services } from "../src/services.js";

export const REPO = resolve(import.meta.dirname, "../../..");
export const RULES = join(REPO, "rules");

export function example(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(REPO, "examples/results", `${name}.json`), "utf8"));
}

export function tempDir(prefix = "clearance-server-"): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> | null : T[K] };

export interface TestApp {
  app: FastifyInstance;
  services: Services;
  config: Readonly<ServerConfig>;
  dir: string;
  close(): Promise<void>;
}

/** A real app on a temporary SQLite log, reached with inject(); `raw` is merged into the config. */
export async function makeApp(
  raw: DeepPartial<ServerConfig> & Record<string, unknown> = {},
): Promise<TestApp> {
  const tmp = tempDir();
  const base = {
    rules: { dir: RULES, watch: false },
    audit: { sqlite: { path: join(tmp.dir, "audit.db"), synchronous: "normal" } },
    // no load shedding unless a test asks for it: on a loaded 2-core machine the event loop's
    // delay can pass the default 500 ms for reasons of the machine, not of the test
    limits: { pressure: { maxEventLoopDelayMs: 0 } },
  };
  const merged = mergeDeep(base, raw);
  const config = resolveConfig(merged, { baseDir: tmp.dir });
  const services = await createServices(config, { processMetrics: false });
  const app = await buildApp(services, false);
  return {
    app,
    services,
    config,
    dir: tmp.dir,
    async close() {
      await app.close();
      await services.close();
      tmp.remove();
    },
  };
}

function mergeDeep(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v &&
      typeof v === "object" &&
      !Array.isArray(v) &&
      prev &&
      typeof prev === "object" &&
      !Array.isArray(prev)
        ? mergeDeep(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/**
 * Concurrent clients posting decisions over HTTP until stopped: the ids they were given, and the
 * status and problem code of every refusal.
 */
export function load(url: string, clients: number) {
  const received: string[] = [];
  const refused: { status: number; code: string }[] = [];
  let networkErrors = 0;
  let stopped = false;
  const results = ["malware", "signed-microsoft", "unsigned-lowscore", "minimal"].map(example);
  const loops = Array.from({ length: clients }, async (_, c) => {
    for (let i = 0; !stopped; i++) {
      try {
        const res = await fetch(`${url}/v1/decisions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ result: results[(c + i) % results.length] }),
        });
        const body = (await res.json()) as { decisionId?: string; code?: string };
        if (res.status === 200) received.push(body.decisionId!);
        else {
          refused.push({ status: res.status, code: body.code ?? "" });
          await new Promise((r) => setTimeout(r, 5));
        }
      } catch {
        networkErrors++;
        if (stopped) return;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  });
  return {
    received,
    refused,
    failures: () => refused.length + networkErrors,
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** Polls until `check` holds; fails after `ms` instead of hanging. */
export async function waitFor(
  check: () => boolean,
  ms = 10_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
