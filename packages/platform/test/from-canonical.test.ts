// Canonical -> platform mapping (the table of docs/platform-api.md).
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { AnalysisResult } from "@clearance/result";
import { describe, expect, test } from "vitest";
import { displayCategory, fromPlatform, toPlatformFile } from "../src/index.js";

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

describe("the two conversions are inverse on every value of the mapping table", () => {
  const sha256 = "a".repeat(64);
  const back = (file: ReturnType<typeof toPlatformFile>) => {
    const outcome = fromPlatform(JSON.parse(JSON.stringify(file)));
    if (!outcome.ok) throw new Error(JSON.stringify(outcome.problems));
    return outcome.result;
  };

  test.each(["clean", "caution", "high_risk"] as const)("verdict %s", (verdict) => {
    expect(back(toPlatformFile({ sha256, verdict })).verdict).toBe(verdict);
  });

  test.each(["valid", "expired", "self_signed", "unsigned", "invalid"] as const)(
    "signature status %s",
    (status) => {
      expect(back(toPlatformFile({ sha256, signature: { status } })).signature).toEqual({ status });
    },
  );

  test.each(["malicious", "suspicious", "undetected", "harmless", "failed", "unsupported"])(
    "engine category %s",
    (category) => {
      const engines = [{ engine: "E", category, result: null }];
      expect(back(toPlatformFile({ sha256, engines })).engines).toEqual(engines);
    },
  );

  test.each(["approved", "not_approved", "pending_review"])("approval %s", (status) => {
    const result = back(toPlatformFile({ sha256, platformApproval: { status, rule: "R" } }));
    expect(result.platformApproval).toEqual({ status, rule: "R" });
  });

  test.each([
    ["failure", "failure"],
    ["timeout", "failure"],
    ["type-unsupported", "type-unsupported"],
  ])("platform engine category %s is written back as %s", (category, written) => {
    const outcome = fromPlatform({
      sha256,
      status: "completed",
      detection_results: { E: { category, result: null } },
    });
    if (!outcome.ok) throw new Error(JSON.stringify(outcome.problems));
    expect(toPlatformFile(outcome.result).detection_results).toEqual({
      E: { category: written, result: null },
    });
  });

  test("a canonical value outside the table, even an inherited name, is written conservatively", () => {
    for (const category of ["constructor", "toString", "bogus"]) {
      const file = toPlatformFile({ sha256, engines: [{ engine: "E", category }] });
      expect(file.detection_results).toEqual({ E: { category: "failure", result: null } });
    }
  });
});
