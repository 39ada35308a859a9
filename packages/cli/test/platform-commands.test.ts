import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunningSimulator, startSimulator } from "@clearance/platform-sim";
import { type RunningServer, resolveConfig, startServer } from "@clearance/server";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { root, runWith } from "./helpers.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "clearance-cli-platform-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = runWith;

function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

describe("clearance gate", () => {
  let sim: RunningSimulator;
  let env: Record<string, string>;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, analysisDelayMs: 50 });
    env = { CLEARANCE_PLATFORM_URL: sim.url, CLEARANCE_PLATFORM_KEY: "sim_key_full" };
  });
  afterAll(() => sim.close());

  test("uploads, waits, decides each file locally; the exit code is the worst decision", async () => {
    const files = Array.from({ length: 4 }, (_, i) => file(`tool-${i}.exe`, `MZ tool number ${i}`));
    const r = await cli(env, "gate", ...files, "--rules", join(root, "rules"), "--json");
    const report = JSON.parse(r.out) as {
      exitCode: number;
      files: { decision: string; error: string | null; sha256: string }[];
    };
    expect(report.files).toHaveLength(4);
    expect(report.files.every((f) => f.error === null && f.sha256)).toBe(true);
    const ds = report.files.map((f) => f.decision);
    const expected = ds.includes("deny") ? 2 : ds.includes("review") ? 3 : 0;
    expect(r.code).toBe(expected);
    expect(report.exitCode).toBe(expected);
    // the second run finds the results and uploads nothing: the same decisions
    const again = JSON.parse(
      (await cli(env, "gate", ...files, "--rules", join(root, "rules"), "--json")).out,
    );
    expect(again.files.map((f: { decision: string }) => f.decision)).toEqual(ds);
  });

  test("through a server: the decisions land in its audit log with source gate", async () => {
    const server: RunningServer = await startServer(
      resolveConfig({
        server: { port: 0, logLevel: "silent" },
        rules: { dir: join(root, "rules"), watch: false },
        audit: { sqlite: { path: join(dir, "gate-audit.db") } },
      }),
      { logger: false, hooks: { processMetrics: false } },
    );
    try {
      const f = file("served.exe", "MZ decided by the server");
      const r = await cli(env, "gate", f, "--server", server.url);
      expect(r.code).not.toBe(1);
      const id = /\[([0-9a-f-]{36})\]/.exec(r.out)?.[1];
      expect(id, r.out).toBeDefined();
      const entry = await server.services.audit.get(id!);
      expect(entry?.entry).toMatchObject({ source: "gate", fileName: "served.exe" });
    } finally {
      await server.close();
    }
  });

  test("never 0 when anything failed: a platform outage, a missing file, a dead server", async () => {
    const f = file("ok.exe", "MZ fine");
    const missing = await cli(
      env,
      "gate",
      f,
      join(dir, "nope.exe"),
      "--rules",
      join(root, "rules"),
    );
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/ERROR\s+.*nope\.exe\s+cannot read `.*nope\.exe`: no such file$/m);
    expect(missing.out).not.toContain("ENOENT");
    const deadServer = await cli(env, "gate", f, "--server", "http://127.0.0.1:1");
    expect(deadServer.code).toBe(1);
    expect(deadServer.out).toContain("cannot reach the Clearance server");
    const broken = await startSimulator({ port: 0, faults: { errorRate: 1 } });
    try {
      const r = await cli(
        { ...env, CLEARANCE_PLATFORM_URL: broken.url },
        "gate",
        file("new.exe", "MZ never seen"),
        "--rules",
        join(root, "rules"),
        "--timeout",
        "5s",
      );
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/ERROR .*the platform/);
    } finally {
      await broken.close();
    }
  }, 60_000);

  test("GitHub Actions annotations, and clear errors for a missing key", async () => {
    const f = file("annotated.exe", "MZ annotated");
    const r = await cli(
      { ...env, GITHUB_ACTIONS: "true" },
      "gate",
      f,
      "--rules",
      join(root, "rules"),
    );
    expect(r.out).toMatch(
      /^::(error|warning|notice) file=.*annotated\.exe,title=Clearance%3A (allow|deny|review)::/m,
    );
    const nokey = await cli({ CLEARANCE_PLATFORM_URL: sim.url }, "gate", f);
    expect(nokey.code).toBe(1);
    expect(nokey.err).toContain("CLEARANCE_PLATFORM_KEY is not set");
  });
});

describe("clearance dry-run --from platform", () => {
  test("decides the platform's results of a time range; a missing key is a clear error", async () => {
    const sim = await startSimulator({ port: 0, seedFiles: 40 });
    try {
      const env = { CLEARANCE_PLATFORM_URL: sim.url, CLEARANCE_PLATFORM_KEY: "sim_key_full" };
      const r = await cli(
        env,
        "dry-run",
        "--rules",
        join(root, "rules"),
        "--from",
        "platform",
        "--since",
        "3650d",
      );
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/read 40 = decided 40/);
      const none = await cli(
        env,
        "dry-run",
        "--from",
        "platform",
        "--since",
        "2999-01-01T00:00:00Z",
      );
      expect(none.out).toMatch(/read 0/);
      const nokey = await cli({}, "dry-run", "--from", "platform");
      expect(nokey.code).toBe(1);
      expect(nokey.err).toContain("needs CLEARANCE_PLATFORM_URL and CLEARANCE_PLATFORM_KEY");
    } finally {
      await sim.close();
    }
  });
});

describe("clearance pull", () => {
  test("is incremental: no gaps, no duplicates, also after a crash; the output feeds dry-run", async () => {
    const sim = await startSimulator({ port: 0, seedFiles: 120 });
    try {
      const env = { CLEARANCE_PLATFORM_URL: sim.url, CLEARANCE_PLATFORM_KEY: "sim_key_full" };
      const out = join(dir, "history.ndjson");
      const lines = () => readFileSync(out, "utf8").trim().split("\n").filter(Boolean);
      const first = await cli(env, "pull", "--since", "3650d", "--out", out);
      expect(first.code, first.err).toBe(0);
      expect(lines()).toHaveLength(120);
      expect(existsSync(`${out}.state.json`)).toBe(true);

      await fetch(`${sim.url}/_sim/files`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ count: 30 }),
      });
      // a crash after writing records but before saving the state: half a line and a stray record
      appendFileSync(out, `${lines()[0]}\n{"sha256": "trunc`);
      const second = await cli(env, "pull", "--out", out);
      expect(second.code, second.err).toBe(0);
      const all = lines();
      expect(all).toHaveLength(150);
      const keys = all.map((l) => {
        const f = JSON.parse(l);
        return `${f.sha256}:${f.version}`;
      });
      expect(new Set(keys).size).toBe(150);
      expect((await cli(env, "pull", "--out", out)).err).toContain("0 new results");

      const dry = await cli(
        {},
        "dry-run",
        "--rules",
        join(root, "rules"),
        "--from",
        out,
        "--now",
        "2026-11-26T12:00:00Z",
      );
      expect(dry.code, dry.err).toBe(0);
      expect(dry.out).toMatch(/read 150 = decided 150/);

      const exists = await cli(env, "pull", "--out", file("other.ndjson", "x\n"));
      expect(exists.code).toBe(1);
      expect(exists.err).toContain("has no state file");
      truncateSync(out, 0);
    } finally {
      await sim.close();
    }
  });
});
