// Canonical -> platform mapping (the table of docs/platform-api.md) and deterministic results.
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type AnalysisResult, fromPlatform } from "@clearance/engine";
import { describe, expect, test } from "vitest";
import { displayCategory, simulatedResult, toPlatformFile } from "../src/index.js";
import { simulatedFile } from "../src/results.js";
import { makeSim, sha256Of, T0 } from "./helpers.js";

const EXAMPLES = resolve(import.meta.dirname, "../../../examples/results");
const examples = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith(".json"))
  .map((f) => [f, JSON.parse(readFileSync(join(EXAMPLES, f), "utf8")) as AnalysisResult] as const);

describe("toPlatformFile", () => {
  test.each(examples)("%s maps field by field", (_name, r) => {
    const file = toPlatformFile(r);
    expect(file.sha256).toBe(r.sha256.toLowerCase());
    expect(file.status).toBe("completed");
    expect(file.version).toBe(1);
    expect(file.file_name).toBe(r.fileName);
    expect(file.file_size).toBe(r.fileSize);
    expect(file.content_type).toBe(r.contentType);
    expect(file.trust_score).toBe(r.trustScore);
    expect(file.category?.toLowerCase()).toBe(r.category);
    expect(file.score_breakdown).toEqual(r.scoreBreakdown);
    expect(file.vendor).toEqual(r.vendor);
    expect(file.tags).toEqual(r.tags);
    expect(file.first_seen).toBe(r.firstSeen);
    expect(file.analyzed_at).toBe(r.analyzedAt);
    expect(Object.keys(file.detection_results ?? {})).toEqual(
      (r.engines ?? []).map((e) => e.engine),
    );
    for (const e of r.engines ?? []) {
      const d = file.detection_results![e.engine]!;
      expect(d.result).toBe(e.result ?? null);
      expect(d.engine_version).toBe(e.version);
    }
    expect(["Approved", "Not Approved", "Pending Review"]).toContain(file.approval?.status);
    // No canonical (camelCase) field leaks into the platform object.
    for (const k of Object.keys(file)) expect(k).toMatch(/^[a-z0-9_]+$/);
  });

  test.each([
    ["clean", "Clean"],
    ["caution", "Caution"],
    ["high_risk", "High Risk"],
  ] as const)("verdict %s -> %s", (verdict, shown) => {
    expect(toPlatformFile({ sha256: "a".repeat(64), verdict }).verdict).toBe(shown);
  });

  test.each([
    ["valid", "valid_signature"],
    ["expired", "expired_signature"],
    ["self_signed", "self_signed_certificate"],
    ["unsigned", "no_signature"],
    ["invalid", "invalid_signature"],
  ] as const)("signature %s -> signing.status %s", (status, shown) => {
    const file = toPlatformFile({
      sha256: "a".repeat(64),
      signature: {
        status,
        signer: "S",
        issuer: "I",
        thumbprint: "T",
        signedAt: "2025-06-01T10:00:00Z",
      },
    });
    expect(file.signing).toEqual({
      status: shown,
      signer: "S",
      issuer: "I",
      thumbprint: "T",
      signed_at: "2025-06-01T10:00:00Z",
    });
  });

  test.each([
    ["malicious", "malicious"],
    ["suspicious", "suspicious"],
    ["undetected", "undetected"],
    ["harmless", "harmless"],
    ["failed", "failure"],
    ["unsupported", "type-unsupported"],
  ])("engine category %s -> %s", (category, shown) => {
    const file = toPlatformFile({
      sha256: "a".repeat(64),
      engines: [{ engine: "E", category, result: null }],
    });
    expect(file.detection_results).toEqual({ E: { category: shown, result: null } });
  });

  test.each([
    ["system utility", "System Utility"],
    ["development tool", "Development Tool"],
    ["browser", "Browser"],
    ["anti-virus", "Anti-Virus"],
  ])("category %s is shown as %s", (category, shown) => {
    expect(displayCategory(category)).toBe(shown);
    expect(toPlatformFile({ sha256: "a".repeat(64), category }).category).toBe(shown);
  });

  test("version, approval and uploaded_at come from options or the extra fields", () => {
    const base = { sha256: "A".repeat(64), trustScore: 90, verdict: "clean" as const };
    expect(
      toPlatformFile({ ...base, platformVersion: 3, platformApproval: "Not Approved" }),
    ).toMatchObject({
      version: 3,
      approval: { status: "Not Approved" },
    });
    expect(
      toPlatformFile(base, {
        version: 2,
        approval: { status: "Approved", rule: "Sanctioned apps" },
        uploadedAt: "2026-11-26T11:59:00Z",
      }),
    ).toMatchObject({
      version: 2,
      approval: { status: "Approved", rule: "Sanctioned apps" },
      uploaded_at: "2026-11-26T11:59:00Z",
    });
  });

  test("property order follows the contract's example", () => {
    const r = examples.find(([n]) => n === "signed-microsoft.json")![1];
    expect(Object.keys(toPlatformFile(r, { uploadedAt: "2026-11-26T11:59:00Z" }))).toEqual([
      "sha256",
      "status",
      "version",
      "file_name",
      "file_size",
      "content_type",
      "category",
      "trust_score",
      "verdict",
      "score_breakdown",
      "signing",
      "vendor",
      "detection_results",
      "approval",
      "tags",
      "first_seen",
      "uploaded_at",
      "analyzed_at",
    ]);
  });
});

describe("deterministic results", () => {
  const sha = sha256Of("determinism");
  const facts = {
    fileName: "x.exe",
    contentType: "application/x-msdownload",
    size: 10,
    firstSeenMs: T0 - 1000,
    uploadedAtMs: T0,
    analyzedAtMs: T0 + 1,
    version: 1,
  };

  test("same sha and seed -> the same object, byte for byte; another seed or sha -> another", () => {
    const a = JSON.stringify(simulatedFile(sha, 42, facts));
    expect(JSON.stringify(simulatedFile(sha, 42, facts))).toBe(a);
    expect(JSON.stringify(simulatedFile(sha, 43, facts))).not.toBe(a);
    expect(JSON.stringify(simulatedFile(sha256Of("other"), 42, facts))).not.toBe(a);
  });

  test("the file object is the mapping of simulatedResult, except failure/timeout", () => {
    for (let i = 0; i < 50; i++) {
      const s = sha256Of(`file ${i}`);
      const file = simulatedFile(s, 42, facts);
      const expected = toPlatformFile(simulatedResult(s, 42, facts));
      for (const d of Object.values(file.detection_results ?? {}))
        if (d.category === "timeout") d.category = "failure";
      expect(file).toEqual(expected);
    }
  });

  test("generated files vary: verdicts, signing states and timeouts all occur", () => {
    const verdicts = new Set<string>();
    const signing = new Set<string>();
    let timeouts = 0;
    for (let i = 0; i < 300; i++) {
      const file = simulatedFile(sha256Of(`variety ${i}`), 42, facts);
      if (file.verdict) verdicts.add(file.verdict);
      if (file.signing) signing.add(file.signing.status);
      timeouts += Object.values(file.detection_results ?? {}).filter(
        (d) => d.category === "timeout",
      ).length;
    }
    expect([...verdicts].sort()).toEqual(["Caution", "Clean", "High Risk"]);
    expect(signing.size).toBe(5);
    expect(timeouts).toBeGreaterThan(0);
  });

  test("two simulators with the same seed and clock report the same objects", async () => {
    const run = async () => {
      const sim = await makeSim({ analysisDelayMs: 0, now: () => T0, seedFiles: 3 });
      await sim.upload("same bytes", { fileName: "same.exe" });
      const list = (await sim.call("GET", "/v1/files")).json();
      await sim.close();
      return list;
    };
    const [a, b] = [await run(), await run()];
    expect(a.data).toHaveLength(4);
    expect(a).toEqual(b);
  });
});

describe("the engine's platform adapter reads the simulator's objects back", () => {
  const facts = {
    uploadedAtMs: T0 - 60_000,
    analyzedAtMs: T0,
    firstSeenMs: T0 - 86_400_000,
    version: 2,
  };

  test("fromPlatform(simulated file) is the simulated result; toPlatformFile maps it back", () => {
    for (let i = 0; i < 200; i++) {
      const sha = sha256Of(`round trip ${i}`);
      const file = simulatedFile(sha, 42, facts);
      const outcome = fromPlatform(JSON.parse(JSON.stringify(file)));
      if (!outcome.ok) throw new Error(JSON.stringify(outcome.problems));
      // The only warning the contract allows: `invalid_signature` is "anything else" -> invalid.
      for (const w of outcome.warnings) expect(w).toMatch(/invalid_signature/);
      const { detections, platformApproval, ...read } = outcome.result;
      const { detections: _generated, ...expected } = simulatedResult(sha, 42, facts);
      expect(read).toEqual(expected);
      expect(platformApproval).toEqual({
        status: file.approval!.status.toLowerCase().replace(" ", "_"),
        rule: file.approval!.rule,
      });
      const counts = {
        malicious: 0,
        suspicious: 0,
        undetected: 0,
        harmless: 0,
        failed: 0,
        unsupported: 0,
      };
      for (const e of expected.engines ?? []) counts[e.category as keyof typeof counts]++;
      expect(detections).toEqual(counts);

      const back = toPlatformFile(outcome.result);
      for (const d of Object.values(file.detection_results ?? {}))
        if (d.category === "timeout") d.category = "failure";
      expect(back).toEqual(file);
    }
  });
});
