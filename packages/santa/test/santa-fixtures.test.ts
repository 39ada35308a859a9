// Santa's own sync fixtures replayed through these readers and writers: the preflight request
// santasyncservice writes, the answers Santa's tests feed it, compressed ones among them. They are
// read from Santa's repository at test time (support/santa-repo.ts has their provenance:
// github.com/northpolesec/santa, Source/santasyncservice/testdata/, commit 5f31541e, Apache-2.0);
// the expectations below are derived from each fixture or are Santa's own (SNTSyncTest.mm), never
// copies of it.

import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import {
  decodeBody,
  preflightRequestJson,
  type Read,
  readPreflightRequest,
  readPreflightResponse,
  readRuleDownloadResponse,
} from "../src/index.js";
import {
  locateSantaRepo,
  santaJson,
  santaRepo,
  santaSkipNote,
  santaTestdata,
} from "./support/santa-repo.js";

function value<T>(read: Read<T>): T {
  if (!read.ok) throw new Error(`unexpected problems: ${JSON.stringify(read.problems)}`);
  return read.value;
}

type RawRule = Record<string, unknown>;

if (santaRepo.kind === "error") {
  const { reason } = santaRepo;
  it("finds Santa's repository for its fixtures", () => {
    throw new Error(reason);
  });
}

const gitDir = santaRepo.kind === "found" ? santaRepo.gitDir : "";

describe.skipIf(santaRepo.kind !== "found")(`Santa's own sync fixtures${santaSkipNote}`, () => {
  describe("sync_preflight_request.json, what santasyncservice writes", () => {
    it("reads through readPreflightRequest, each field where Santa put it", () => {
      const raw = santaJson(gitDir, "sync_preflight_request.json") as Record<string, unknown>;
      const read = value(readPreflightRequest(raw));
      expect(read).toMatchObject({
        serialNumber: raw.serial_num,
        hostname: raw.hostname,
        osVersion: raw.os_version,
        osBuild: raw.os_build,
        modelIdentifier: raw.model_identifier,
        santaVersion: raw.santa_version,
        primaryUser: raw.primary_user,
        clientMode: raw.client_mode,
        machineId: raw.machine_id,
        sipStatus: raw.sipStatus,
        rulesHash: raw.rulesHash,
      });
    });

    it("is written back byte for byte by preflightRequestJson", () => {
      const text = santaTestdata(gitDir, "sync_preflight_request.json").toString("utf8").trim();
      const read = value(readPreflightRequest(JSON.parse(text)));
      expect(JSON.stringify(preflightRequestJson(read))).toBe(text);
    });

    it("reads the v2 request too, its v2 fields passed over", () => {
      const raw = santaJson(gitDir, "sync_preflight_request_v2.json") as Record<string, unknown>;
      const read = value(readPreflightRequest(raw));
      expect(read.machineId).toBe(raw.machine_id);
      expect(read.rulesHash).toBe(raw.rulesHash);
      expect(read).not.toHaveProperty("fileAccessRulesHash");
    });
  });

  describe("preflight answers", () => {
    it.each([
      "sync_preflight_basic.json",
      "sync_preflight_lockdown.json",
      "sync_preflight_standalone.json",
      "sync_preflight_blockusb_absent.json",
      "sync_preflight_turn_off_blockusb.json",
      "sync_preflight_turn_on_blockusb.json",
    ])("reads %s: its mode and batch size, its null regexes as none", (name) => {
      const raw = santaJson(gitDir, name) as Record<string, unknown>;
      const read = value(readPreflightResponse(raw));
      expect(read.clientMode).toBe(raw.client_mode);
      expect(read.batchSize).toBe(raw.batch_size);
      expect(read.syncType).toBe("NORMAL");
      expect(read).not.toHaveProperty("allowedPathRegex");
      expect(read).not.toHaveProperty("blockedPathRegex");
    });

    it("reads the deprecated whitelist_regex and blacklist_regex that the lockdown answer sends", () => {
      const raw = santaJson(gitDir, "sync_preflight_lockdown.json") as Record<string, unknown>;
      expect(raw).toHaveProperty("whitelist_regex");
      expect(raw).toHaveProperty("blacklist_regex");
      expect(readPreflightResponse(raw).ok).toBe(true);
    });

    it.each([
      ["sync_preflight_basic.gz", "gzip"],
      ["sync_preflight_basic.z", "deflate"],
    ])("inflates %s (%s) to the same answer as the JSON one", async (name, encoding) => {
      const inflated = await decodeBody(santaTestdata(gitDir, name), encoding, 1024 * 1024);
      const plain = santaJson(gitDir, "sync_preflight_basic.json");
      expect(JSON.parse(inflated.toString("utf8"))).toEqual(plain);
      expect(value(readPreflightResponse(JSON.parse(inflated.toString("utf8"))))).toEqual(
        value(readPreflightResponse(plain)),
      );
    });
  });

  describe("rule downloads", () => {
    it("reads sync_ruledownload_batch1.json and batch2.json as Santa's test expects", () => {
      // SNTSyncTest.mm's testRuleDownload: the two pages make five rules, a cursor leads from the
      // first to the second, the deprecated sha256 names a rule, and BLACKLIST blocks
      const batch1 = santaJson(gitDir, "sync_ruledownload_batch1.json") as {
        rules: RawRule[];
        cursor: string;
      };
      const batch2 = santaJson(gitDir, "sync_ruledownload_batch2.json") as { rules: RawRule[] };
      const page1 = value(readRuleDownloadResponse(batch1));
      const page2 = value(readRuleDownloadResponse(batch2));
      expect(page1.cursor).toBe(batch1.cursor);
      expect(page1.cursor).not.toBe("");
      expect(page2.cursor).toBe("");
      expect([...page1.dropped, ...page2.dropped]).toEqual([]);
      const rules = [...page1.rules, ...page2.rules];
      expect(rules).toHaveLength(5);
      const raw = [...batch1.rules, ...batch2.rules];
      for (const [i, rule] of rules.entries()) {
        expect(rule.identifier).toBe(raw[i]!.identifier ?? raw[i]!.sha256);
        expect(rule.ruleType).toBe(raw[i]!.rule_type);
      }
      expect(raw.some((r) => r.identifier === undefined && typeof r.sha256 === "string")).toBe(
        true,
      );
      const blacklisted = raw.findIndex((r) => r.policy === "BLACKLIST");
      expect(blacklisted).toBeGreaterThanOrEqual(0);
      expect(rules[blacklisted]!.policy).toBe("BLOCKLIST");
      expect(rules[blacklisted]!.customMsg).toBe(raw[blacklisted]!.custom_msg);
    });

    it("drops the CEL rules of sync_ruledownload_with_cel_1.json, each with its pointer", () => {
      // Santa keeps CEL rules; this agent drops them (readRuleDownloadResponse says why)
      const raw = santaJson(gitDir, "sync_ruledownload_with_cel_1.json") as { rules: RawRule[] };
      const read = value(readRuleDownloadResponse(raw));
      expect(raw.rules.every((r) => r.policy === "CEL")).toBe(true);
      expect(read.rules).toEqual([]);
      expect(read.dropped).toEqual(
        raw.rules.map((_, i) => ({
          pointer: `/rules/${i}/policy`,
          message: "`CEL` rules are not evaluated by this agent: an agent drops the rule",
        })),
      );
    });

    it("drops the SEATBELT rule of sync_ruledownload_with_seatbelt.json, a policy of v2's only", () => {
      const raw = santaJson(gitDir, "sync_ruledownload_with_seatbelt.json") as { rules: RawRule[] };
      const read = value(readRuleDownloadResponse(raw));
      expect(read.rules).toEqual([]);
      expect(read.dropped).toEqual([
        {
          pointer: "/rules/0/policy",
          message: 'policy `"SEATBELT"` is not one Santa v1 applies: an agent drops the rule',
        },
      ]);
    });
  });
});

describe("locating Santa's repository", () => {
  it.each([
    [
      "not configured: skipped, saying why",
      {},
      { kind: "skip", reason: "CLEARANCE_SANTA_REPO is not set" },
    ],
    [
      "not configured where required: an error",
      { CLEARANCE_TEST_SANTA: "1" },
      { kind: "error", reason: "CLEARANCE_TEST_SANTA=1 but CLEARANCE_SANTA_REPO is not set" },
    ],
    [
      "configured as a path that does not exist: an error",
      { CLEARANCE_SANTA_REPO: "/nonexistent/santa.git" },
      {
        kind: "error",
        reason: "CLEARANCE_SANTA_REPO is /nonexistent/santa.git, which does not exist",
      },
    ],
    [
      "configured as a directory that is no repository: an error",
      { CLEARANCE_SANTA_REPO: tmpdir() },
      { kind: "error", reason: `CLEARANCE_SANTA_REPO is ${tmpdir()}, which is no git repository` },
    ],
  ])("%s", (_, env, expected) => {
    expect(locateSantaRepo(env)).toEqual(expected);
  });
});
