import { toCanonical } from "@clearance/engine";
import { afterEach, describe, expect, test } from "vitest";
import { type PlatformResult, type PlatformResults, PlatformSync, syncKey } from "../src/sync.js";
import { example, makeApp, type TestApp } from "./helpers.js";

function result(name: string, analyzedAt: string, version = 1, sha?: string): PlatformResult {
  const r = { ...example(name), ...(sha ? { sha256: sha } : {}) };
  return { sha256: r.sha256 as string, version, analyzedAt, outcome: toCanonical(r) };
}

/** A platform whose listing can fail after `failAfter` results (a crash or an outage mid-round). */
function platform(results: PlatformResult[]) {
  const calls: string[] = [];
  let failAfter = Number.POSITIVE_INFINITY;
  const p: PlatformResults & { calls: string[]; failAfter(n: number): void } = {
    calls,
    failAfter(n) {
      failAfter = n;
    },
    async getResult(sha256) {
      return results.find((r) => r.sha256 === sha256);
    },
    async *listResults({ since }) {
      calls.push(since);
      const sorted = results
        .filter((r) => Date.parse(r.analyzedAt) >= Date.parse(since))
        .sort(
          (a, b) => a.analyzedAt.localeCompare(b.analyzedAt) || a.sha256.localeCompare(b.sha256),
        );
      let n = 0;
      for (const r of sorted) {
        if (n++ >= failAfter) throw new Error("connection reset");
        yield r;
      }
    },
  };
  return p;
}

describe("platform sync", () => {
  let t: TestApp;
  afterEach(() => t?.close());

  const sync = (p: PlatformResults, errors: Error[] = []) =>
    new PlatformSync(p, t.services.audit, t.services.decisions, {
      intervalMs: 60_000,
      initialLookbackMs: 365 * 86_400_000,
      onError: (e) => errors.push(e),
    });

  test("decides each result version exactly once, across reruns, failures and equal timestamps", async () => {
    t = await makeApp();
    const now = Date.now();
    const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000).toISOString();
    const shaB = "b".repeat(64);
    const results = [
      result("malware", at(30)),
      result("signed-microsoft", at(20)),
      result("unsigned-lowscore", at(20)), // the same instant as the one before
      result("minimal", at(10), 1, shaB),
    ];
    const p = platform(results);
    const errors: Error[] = [];
    const s = sync(p, errors);

    p.failAfter(2);
    expect(await s.runOnce()).toBeUndefined();
    expect(errors[0]?.message).toBe("connection reset");
    p.failAfter(Number.POSITIVE_INFINITY);
    const second = await s.runOnce();
    expect(second).toMatchObject({ decided: 2, skipped: 2 });

    // a re-analysis is a new version: decided again; everything else is skipped
    results.push(result("minimal", at(1), 2, shaB));
    const third = await s.runOnce();
    expect(third).toMatchObject({ decided: 1 });
    expect(await s.runOnce()).toMatchObject({ decided: 0 });

    const entries = (await t.services.audit.query({ source: "sync" }, 100)).entries;
    expect(entries.map((e) => e.deliveryId).sort()).toEqual([...results.map(syncKey)].sort());
    expect(entries.every((e) => e.requester === "platform")).toBe(true);
    // the cursor moved forward and is kept in the audit database
    expect(p.calls.at(-1)).toBe(at(1));
    expect(await t.services.audit.store.state.get("sync.platform.since")).toBe(at(1));
  });

  test("an invalid payload from the platform is reported with its pointer and never decided", async () => {
    t = await makeApp();
    const bad: PlatformResult = {
      sha256: "c".repeat(64),
      version: 1,
      analyzedAt: new Date().toISOString(),
      outcome: toCanonical({ sha256: "c".repeat(64), trustScore: "high" }),
    };
    const report = await sync(platform([bad])).runOnce();
    expect(report!.decided).toBe(0);
    expect(report!.invalid[0]!.problems[0]!.pointer).toBe("/trustScore");
    expect((await t.services.audit.query({}, 10)).entries).toEqual([]);
  });
});
