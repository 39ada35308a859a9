// The Santa sync server's store (audit/santa-store.ts) on SQLite and PostgreSQL: the same answers
// from both, rule sequence numbers that only grow, and changes that change nothing taking none.
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { AuditStore } from "../src/audit/backend.js";
import { AuditLog } from "../src/audit/log.js";
import type { RuleChange } from "../src/audit/santa-store.js";
import {
  PG_SKIP_REASON,
  PG_URL,
  postgresStore,
  record,
  type Store,
  sqliteStore,
} from "./audit-helpers.js";

const backends = [
  { title: "SQLite", make: async () => sqliteStore(), skip: false },
  {
    title: PG_URL ? "PostgreSQL" : `PostgreSQL (${PG_SKIP_REASON})`,
    make: () => postgresStore(),
    skip: PG_URL === undefined,
  },
];

const NOW = "2026-12-05T10:00:00.000Z";
const FACTS = {
  serial: "C02XL0GYJGH5",
  hostname: "mac-1.example.com",
  osVersion: "15.1",
  osBuild: "24B83",
  model: "Mac15,7",
  santaVersion: "2025.11",
  primaryUser: "alice",
  clientMode: "MONITOR",
  ruleCount: 3,
};
const rule = (identifier: string, policy: string, group = "eng", customMsg = ""): RuleChange => ({
  group,
  ruleType: "BINARY",
  identifier,
  policy,
  customMsg,
  decisionId: `d-${identifier}`,
});

for (const backend of backends) {
  describe.skipIf(backend.skip)(`Santa store: ${backend.title}`, () => {
    let store: Store;
    let audit: AuditStore;
    beforeEach(async () => {
      store = await backend.make();
      audit = store.open();
      await audit.open();
    });
    afterEach(async () => {
      await store.dispose();
    });

    test("the newest decision of each file, with its input, in one read for many files", async () => {
      await audit.close();
      audit = store.open();
      const log = new AuditLog(audit, { chain: "main", hmacSecret: null, maxBatch: 10 });
      await log.open();
      const a = "a".repeat(64);
      const b = "b".repeat(64);
      const first = record({ sha256: a });
      const second = record({ sha256: a });
      const other = record({ sha256: b });
      await log.append(first, JSON.stringify({ result: { sha256: a }, n: 1 }));
      await log.append(other, JSON.stringify({ result: { sha256: b }, n: 3 }));
      await log.append(second, JSON.stringify({ result: { sha256: a }, n: 2 }));
      const found = await log.latestWithInputs([a, b, a, "c".repeat(64)]);
      expect([...found.keys()].sort()).toEqual([a, b]);
      expect(found.get(a)).toMatchObject({ entry: { id: second.id }, input: { n: 2 } });
      expect(found.get(b)).toMatchObject({ entry: { id: other.id }, input: { n: 3 } });
      expect((await log.latestWithInputs([])).size).toBe(0);
      await log.close();
    });

    test("a machine registers once; its first group stays until it is moved", async () => {
      const first = await audit.santa.register("M1", "eng", NOW);
      expect(first).toMatchObject({ id: "M1", group: "eng", rulesAcked: 0, lastSyncAt: null });
      const again = await audit.santa.register("M1", "finance", NOW);
      expect(again.group).toBe("eng");
      await audit.santa.preflight("M1", FACTS, { type: "NORMAL", target: 5 }, NOW);
      await audit.santa.postflight("M1", { acked: 5, received: 5, processed: 5 }, NOW);
      const moved = await audit.santa.move("M1", "finance");
      expect(moved).toMatchObject({ group: "finance", rulesAcked: 0, syncType: null });
    });

    test("a preflight records the facts and the sync; a postflight confirms, never moving back", async () => {
      await audit.santa.register("M2", "eng", NOW);
      await audit.santa.preflight("M2", FACTS, { type: "CLEAN", target: 7 }, NOW);
      expect(await audit.santa.machine("M2")).toMatchObject({
        ...FACTS,
        syncType: "CLEAN",
        syncTarget: 7,
        lastPreflightAt: NOW,
      });
      await audit.santa.postflight("M2", { acked: 7, received: 4, processed: 4 }, NOW);
      await audit.santa.postflight("M2", { acked: 3, received: 0, processed: 0 }, NOW);
      expect(await audit.santa.machine("M2")).toMatchObject({
        rulesAcked: 7,
        syncType: null,
        lastSyncAt: NOW,
      });
      await audit.santa.countEvents("M2", 3);
      await audit.santa.countEvents("M2", 2);
      expect((await audit.santa.machine("M2"))?.eventsReceived).toBe(5);
    });

    test("rules take the group's next sequence number only when they change", async () => {
      const a = "a".repeat(64);
      const b = "b".repeat(64);
      // removing a rule never sent changes nothing
      expect(await audit.santa.applyRules([rule(a, "REMOVE")], NOW)).toBe(0);
      expect(
        await audit.santa.applyRules(
          [rule(a, "ALLOWLIST"), rule(b, "BLOCKLIST", "eng", "no")],
          NOW,
        ),
      ).toBe(2);
      expect(await audit.santa.applyRules([rule(a, "ALLOWLIST")], NOW)).toBe(0);
      expect(await audit.santa.applyRules([rule(b, "BLOCKLIST", "eng", "other")], NOW)).toBe(1);
      expect(await audit.santa.applyRules([rule(a, "REMOVE")], NOW)).toBe(1);
      expect(
        await audit.santa.applyRules([rule(a, "REMOVE"), rule(a, "ALLOWLIST", "fin")], NOW),
      ).toBe(1);
      expect(await audit.santa.ruleHead("eng")).toBe(4);
      expect(await audit.santa.ruleHead("fin")).toBe(1);
      expect(await audit.santa.ruleHead("none")).toBe(0);
      const all = await audit.santa.rulesAfter("eng", 0, 4, 10, false);
      expect(all.map((r) => [r.identifier.slice(0, 1), r.policy, r.seq])).toEqual([
        ["b", "BLOCKLIST", 3],
        ["a", "REMOVE", 4],
      ]);
      expect(all[0]).toMatchObject({
        customMsg: "other",
        decisionId: `d-${b}`,
        ruleType: "BINARY",
      });
      // a clean sync sends what stands; a page stops at its limit and at the sync's target
      expect((await audit.santa.rulesAfter("eng", 0, 4, 10, true)).map((r) => r.seq)).toEqual([3]);
      expect((await audit.santa.rulesAfter("eng", 0, 3, 1, false)).map((r) => r.seq)).toEqual([3]);
      expect(await audit.santa.rulesAfter("eng", 3, 3, 10, false)).toEqual([]);
      expect(await audit.santa.ruleCounts("eng")).toEqual([
        { ruleType: "BINARY", policy: "BLOCKLIST", rules: 1 },
      ]);
    });

    test("files keep the decision standing per group, their executions and machines", async () => {
      const f = "f".repeat(64);
      const seen = (machineId: string, decisionId: string, group = "eng") => ({
        group,
        machineId,
        sha256: f,
        decisionId,
        decision: "review",
        executions: 2,
      });
      await audit.santa.noteFiles([seen("M1", "d1"), seen("M2", "d2")], NOW);
      await audit.santa.noteFiles([seen("M1", "d3"), seen("M9", "d4", "fin")], NOW);
      expect(await audit.santa.filesOf(f)).toEqual([
        {
          group: "eng",
          sha256: f,
          decisionId: "d3",
          decision: "review",
          firstSeen: NOW,
          lastSeen: NOW,
          executions: 6,
          machines: 2,
        },
        {
          group: "fin",
          sha256: f,
          decisionId: "d4",
          decision: "review",
          firstSeen: NOW,
          lastSeen: NOW,
          executions: 2,
          machines: 1,
        },
      ]);
    });

    test("the fleet: machines by group and mode, and the rule changes they have not confirmed", async () => {
      for (const id of ["M1", "M2", "M3"]) await audit.santa.register(id, "eng", NOW);
      await audit.santa.register("M4", "fin", NOW);
      await audit.santa.preflight("M1", FACTS, { type: "NORMAL", target: 0 }, NOW);
      await audit.santa.applyRules(
        ["1", "2", "3"].map((c) => rule(c.repeat(64), "ALLOWLIST")),
        NOW,
      );
      await audit.santa.postflight("M1", { acked: 2, received: 2, processed: 2 }, NOW);
      const counts = await audit.santa.machineCounts();
      expect(
        counts.sort((x, y) => `${x.group}${x.mode}`.localeCompare(`${y.group}${y.mode}`)),
      ).toEqual([
        { group: "eng", mode: "MONITOR", machines: 1 },
        { group: "eng", mode: null, machines: 2 },
        { group: "fin", mode: null, machines: 1 },
      ]);
      const lag = (await audit.santa.lag()).sort((x, y) => x.group.localeCompare(y.group));
      expect(lag).toEqual([
        { group: "eng", rulesBehind: 1 + 3 + 3, neverSynced: 2 },
        { group: "fin", rulesBehind: 0, neverSynced: 1 },
      ]);
      expect((await audit.santa.machines({ group: "eng", limit: 2 })).map((m) => m.id)).toEqual([
        "M1",
        "M2",
      ]);
      expect((await audit.santa.machines({ after: "M2", limit: 10 })).map((m) => m.id)).toEqual([
        "M3",
        "M4",
      ]);
    });
  });
}
