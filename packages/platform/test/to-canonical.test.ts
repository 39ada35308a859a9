import { type AnalysisResult, isValidated, validateResult } from "@clearance/result";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromPlatform, platformToCanonical } from "../src/index.js";
import { DOCUMENTED_FILE } from "../src/testing.js";

const SHA = DOCUMENTED_FILE.sha256;
const DOC_EXAMPLE = DOCUMENTED_FILE;

/** A completed file object with the given fields. */
function file(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { sha256: SHA, status: "completed", ...fields };
}

function mapped(input: unknown): { result: AnalysisResult; warnings: string[] } {
  const outcome = fromPlatform(input);
  if (!outcome.ok) throw new Error(`expected ok, got ${JSON.stringify(outcome.problems)}`);
  return { result: outcome.result, warnings: outcome.warnings };
}

describe("fromPlatform: the documented example", () => {
  it("maps every field of the file object", () => {
    expect(fromPlatform(DOC_EXAMPLE)).toEqual({
      ok: true,
      warnings: [],
      result: {
        sha256: SHA,
        fileName: "procexp64.exe",
        fileSize: 2651672,
        contentType: "application/vnd.microsoft.portable-executable",
        category: "system utility",
        trustScore: 97,
        verdict: "clean",
        scoreBreakdown: DOC_EXAMPLE.score_breakdown,
        detections: {
          malicious: 1,
          suspicious: 0,
          undetected: 1,
          harmless: 0,
          failed: 0,
          unsupported: 0,
        },
        engines: [
          { engine: "EngineA", category: "undetected", result: null, version: "2026.11.1" },
          { engine: "EngineB", category: "malicious", result: "Trojan.Generic", version: "9.1" },
        ],
        vendor: DOC_EXAMPLE.vendor,
        signature: {
          status: "valid",
          signer: "Microsoft Corporation",
          issuer: "Microsoft Code Signing PCA 2011",
          thumbprint: "a1b2",
          signedAt: "2025-06-01T10:00:00Z",
        },
        firstSeen: "2026-01-15T08:00:00Z",
        analyzedAt: "2026-11-26T12:00:00Z",
        tags: ["pe", "64bit"],
        platformVersion: 1,
        uploadedAt: "2026-11-26T11:59:00Z",
        platformApproval: { status: "approved", rule: "Sanctioned apps" },
      },
    });
  });

  it("lowers an upper-case sha256", () => {
    expect(mapped(file({ sha256: SHA.toUpperCase() })).result.sha256).toBe(SHA);
  });

  it("reads null as absent", () => {
    const nulls = Object.fromEntries(
      Object.keys(DOC_EXAMPLE)
        .filter((k) => k !== "sha256" && k !== "status")
        .map((k) => [k, null]),
    );
    expect(mapped(file(nulls))).toEqual({ result: { sha256: SHA }, warnings: [] });
  });
});

describe("fromPlatform: enum mappings", () => {
  const signing: [string, string, string[]][] = [
    ["valid_signature", "valid", []],
    ["expired_signature", "expired", []],
    ["self_signed_certificate", "self_signed", []],
    ["no_signature", "unsigned", []],
    [
      "revoked_certificate",
      "invalid",
      ["unknown signing status `revoked_certificate` at `/signing/status`: read as `invalid`"],
    ],
    [
      "VALID_SIGNATURE",
      "invalid",
      ["unknown signing status `VALID_SIGNATURE` at `/signing/status`: read as `invalid`"],
    ],
  ];
  it.each(signing)("signing.status %s -> %s", (raw, status, warnings) => {
    expect(mapped(file({ signing: { status: raw } }))).toEqual({
      result: { sha256: SHA, signature: { status } },
      warnings,
    });
  });

  const verdicts: [string, unknown, number | undefined, string | undefined, string[]][] = [
    ["Clean", "Clean", 80, "clean", []],
    ["Caution", "Caution", 79, "caution", []],
    ["High Risk", "High Risk", 49.5, "high_risk", []],
    ["without a score", "Caution", undefined, "caution", []],
    [
      "inconsistent with the score",
      "Clean",
      10,
      "clean",
      ["verdict `Clean` does not follow the trust score 10: kept `Clean`"],
    ],
    [
      "unknown, derived from the score",
      "Suspicious",
      55,
      "caution",
      ["unknown verdict `Suspicious`: used `caution`, from the trust score 55"],
    ],
    [
      "unknown, no score",
      "clean",
      undefined,
      undefined,
      ["ignored unknown verdict `clean` (and there is no trust score to derive one)"],
    ],
  ];
  it.each(verdicts)("verdict %s", (_name, verdict, score, expected, warnings) => {
    const fields: Record<string, unknown> = { verdict };
    if (score !== undefined) fields.trust_score = score;
    const { result, warnings: got } = mapped(file(fields));
    expect(result.verdict).toBe(expected);
    expect(got).toEqual(warnings);
  });

  it("maps engine categories and counts them", () => {
    const categories = [
      "malicious",
      "suspicious",
      "undetected",
      "harmless",
      "failure",
      "timeout",
      "type-unsupported",
      "quarantined",
    ];
    const detection_results = Object.fromEntries(
      categories.map((category, i) => [`E${i}`, { category }]),
    );
    const { result, warnings } = mapped(
      file({ detection_results: { ...detection_results, Bare: {} } }),
    );
    expect(result.engines?.map((e) => e.category)).toEqual([
      "malicious",
      "suspicious",
      "undetected",
      "harmless",
      "failed",
      "failed",
      "unsupported",
      "quarantined",
      undefined,
    ]);
    expect(result.detections).toEqual({
      malicious: 1,
      suspicious: 1,
      undetected: 1,
      harmless: 1,
      failed: 2,
      unsupported: 1,
    });
    expect(warnings).toEqual([
      "kept unknown engine category `quarantined` at `/detection_results/E7/category`",
    ]);
  });

  it("gives zero counts for an empty detection_results", () => {
    expect(mapped(file({ detection_results: {} })).result).toMatchObject({
      engines: [],
      detections: { malicious: 0, suspicious: 0, undetected: 0, harmless: 0, failed: 0 },
    });
  });

  const approvals: [string, string, string[]][] = [
    ["Approved", "approved", []],
    ["Not Approved", "not_approved", []],
    ["Pending Review", "pending_review", []],
    ["Escalated", "Escalated", ["kept unknown approval status `Escalated` at `/approval/status`"]],
  ];
  it.each(approvals)("approval.status %s -> %s", (raw, status, warnings) => {
    expect(mapped(file({ approval: { status: raw } }))).toEqual({
      result: { sha256: SHA, platformApproval: { status } },
      warnings,
    });
  });

  it("lowers the category and keeps the platform version", () => {
    expect(mapped(file({ category: "Web Browser", version: 3 })).result).toEqual({
      sha256: SHA,
      category: "web browser",
      platformVersion: 3,
    });
  });

  it("warns about unknown fields", () => {
    expect(mapped(file({ trustScore: 3, risk: "low" })).warnings).toEqual([
      "ignored unknown field `trustScore`",
      "ignored unknown field `risk`",
    ]);
  });
});

describe("fromPlatform: problems", () => {
  const cases: [string, unknown, { pointer: string; message: string }[]][] = [
    ["null", null, [{ pointer: "", message: "expected a platform file object, got null" }]],
    [
      "an array",
      [file()],
      [{ pointer: "", message: "expected a platform file object, got an array" }],
    ],
    [
      "a pending analysis",
      file({ status: "pending" }),
      [{ pointer: "/status", message: "the analysis is `pending`, not completed" }],
    ],
    [
      "a failed analysis",
      file({ status: "failed" }),
      [{ pointer: "/status", message: "the analysis is `failed`, not completed" }],
    ],
    [
      "an unknown status",
      file({ status: "queued" }),
      [
        {
          pointer: "/status",
          message: "the analysis is `queued` (an unknown status), not completed",
        },
      ],
    ],
    [
      "no status",
      { sha256: SHA, trust_score: 90 },
      [
        {
          pointer: "/status",
          message:
            "required property `status` is missing: only a completed analysis can be decided",
        },
      ],
    ],
    [
      "status not a string",
      file({ status: 1 }),
      [{ pointer: "/status", message: "must be a string, got the number `1`" }],
    ],
    [
      "no sha256",
      { status: "completed" },
      [{ pointer: "/sha256", message: "required property `sha256` is missing" }],
    ],
    [
      "a short sha256",
      file({ sha256: "abc" }),
      [{ pointer: "/sha256", message: "must be 64 hexadecimal digits, got the string `abc`" }],
    ],
    [
      "trust_score out of range",
      file({ trust_score: 101 }),
      [
        {
          pointer: "/trust_score",
          message: "must be a number from 0 to 100, got the number `101`",
        },
      ],
    ],
    [
      "trust_score a string",
      file({ trust_score: "97" }),
      [{ pointer: "/trust_score", message: "must be a number from 0 to 100, got the string `97`" }],
    ],
    [
      "file_size negative",
      file({ file_size: -1 }),
      [{ pointer: "/file_size", message: "must be an integer of at least 0, got the number `-1`" }],
    ],
    [
      "version zero",
      file({ version: 0 }),
      [{ pointer: "/version", message: "must be an integer of at least 1, got the number `0`" }],
    ],
    [
      "analyzed_at not RFC 3339",
      file({ analyzed_at: "yesterday" }),
      [
        {
          pointer: "/analyzed_at",
          message: "must be an RFC 3339 date-time, got the string `yesterday`",
        },
      ],
    ],
    [
      "signing without status",
      file({ signing: { signer: "X" } }),
      [{ pointer: "/signing/status", message: "required property `status` is missing" }],
    ],
    [
      "signing.signed_at a number",
      file({ signing: { status: "valid_signature", signed_at: 1795707000 } }),
      [
        {
          pointer: "/signing/signed_at",
          message: "must be an RFC 3339 date-time, got the number `1795707000`",
        },
      ],
    ],
    [
      "vendor.verified a string",
      file({ vendor: { verified: "yes" } }),
      [{ pointer: "/vendor/verified", message: "must be a boolean, got the string `yes`" }],
    ],
    [
      "detection_results an array",
      file({ detection_results: [] }),
      [{ pointer: "/detection_results", message: "must be an object, got an array" }],
    ],
    [
      "an engine entry not an object (pointer escaped)",
      file({ detection_results: { "A/B~C": "clean" } }),
      [
        {
          pointer: "/detection_results/A~1B~0C",
          message: "must be an object, got the string `clean`",
        },
      ],
    ],
    [
      "an engine result a number",
      file({ detection_results: { E: { category: "malicious", result: 5 } } }),
      [
        {
          pointer: "/detection_results/E/result",
          message: "must be a string or null, got the number `5`",
        },
      ],
    ],
    [
      "score_breakdown item without component",
      file({ score_breakdown: [{ component: "a" }, { weight: 1 }] }),
      [
        {
          pointer: "/score_breakdown/1/component",
          message: "required property `component` is missing",
        },
      ],
    ],
    [
      "a tag not a string",
      file({ tags: ["ok", 3] }),
      [{ pointer: "/tags/1", message: "must be a string, got the number `3`" }],
    ],
  ];
  it.each(cases)("%s", (_name, input, problems) => {
    expect(fromPlatform(input)).toEqual({ ok: false, problems });
  });

  it("lists every problem, in field order", () => {
    const outcome = fromPlatform({
      sha256: "x",
      status: "pending",
      trust_score: -1,
      signing: { status: 4 },
    });
    expect(outcome.ok ? [] : outcome.problems.map((p) => p.pointer)).toEqual([
      "/sha256",
      "/status",
      "/trust_score",
      "/signing/status",
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const date = fc
  .date({
    min: new Date("1990-01-01T00:00:00Z"),
    max: new Date("2100-01-01T00:00:00Z"),
    noInvalidDate: true,
  })
  .map((d) => d.toISOString());

/**
 * A value for a field: usually well typed, sometimes null, rarely anything at all (so that about
 * a third of the generated objects map, and the rest fail on one or two values).
 */
function field<T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 60, arbitrary: good },
    { weight: 2, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.anything() },
  );
}

const engineEntry = fc.record(
  {
    category: field(
      fc.constantFrom(
        "malicious",
        "suspicious",
        "undetected",
        "harmless",
        "failure",
        "timeout",
        "type-unsupported",
        "odd",
      ),
    ),
    result: field(fc.option(fc.string(), { nil: null })),
    engine_version: field(fc.string()),
  },
  { requiredKeys: [] },
);

const platformObject = fc.record(
  {
    sha256: field(fc.stringMatching(/^[0-9a-fA-F]{64}$/)),
    status: field(fc.constantFrom("completed", "completed", "completed", "pending", "failed")),
    version: field(fc.integer({ min: 1, max: 100 })),
    file_name: field(fc.string()),
    file_size: field(fc.nat()),
    content_type: field(fc.string()),
    category: field(fc.string()),
    trust_score: field(fc.double({ min: 0, max: 100, noNaN: true })),
    verdict: field(fc.constantFrom("Clean", "Caution", "High Risk", "Unknown")),
    score_breakdown: field(
      fc.array(
        field(
          fc.record(
            {
              component: field(fc.string()),
              label: field(fc.string()),
              weight: field(fc.double({ noNaN: true, noDefaultInfinity: true })),
              value: field(fc.double({ noNaN: true, noDefaultInfinity: true })),
              description: field(fc.string()),
            },
            { requiredKeys: [] },
          ),
        ),
        { maxLength: 4 },
      ),
    ),
    signing: field(
      fc.record(
        {
          status: field(
            fc.constantFrom(
              "valid_signature",
              "expired_signature",
              "self_signed_certificate",
              "no_signature",
              "weird",
            ),
          ),
          signer: field(fc.string()),
          issuer: field(fc.string()),
          thumbprint: field(fc.string()),
          signed_at: field(date),
        },
        { requiredKeys: [] },
      ),
    ),
    vendor: field(
      fc.record(
        {
          name: field(fc.string()),
          verified: field(fc.boolean()),
          product: field(fc.string()),
          version: field(fc.string()),
        },
        { requiredKeys: [] },
      ),
    ),
    detection_results: field(fc.dictionary(fc.string(), field(engineEntry), { maxKeys: 6 })),
    approval: field(
      fc.record(
        {
          status: field(fc.constantFrom("Approved", "Not Approved", "Pending Review", "Other")),
          rule: field(fc.string()),
        },
        { requiredKeys: [] },
      ),
    ),
    tags: field(fc.array(field(fc.string()), { maxLength: 4 })),
    first_seen: field(date),
    uploaded_at: field(date),
    analyzed_at: field(date),
    extra: fc.anything(),
  },
  { requiredKeys: [] },
);

describe("fromPlatform: properties", () => {
  it("never throws on any value", () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withBoxedValues: true }), (value) => {
        const outcome = fromPlatform(value);
        expect(typeof outcome.ok).toBe("boolean");
        if (!outcome.ok) expect(outcome.problems.length).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });

  it("never throws on platform-like objects, and a mapped result always validates", () => {
    let mappedCount = 0;
    fc.assert(
      fc.property(platformObject, (value) => {
        const outcome = fromPlatform(value);
        if (outcome.ok) mappedCount++;
        if (!outcome.ok) {
          expect(outcome.problems.length).toBeGreaterThan(0);
          for (const p of outcome.problems) expect(p.pointer).toMatch(/^(\/[^/]*)*$/);
          return;
        }
        const validated = validateResult(outcome.result);
        expect(validated.ok ? [] : validated.problems).toEqual([]);
      }),
      { numRuns: 1000 },
    );
    // The generator must not degenerate into inputs that all fail.
    expect(mappedCount).toBeGreaterThan(50);
  });

  it("maps every well-typed completed object", () => {
    const wellTyped = fc.record({
      sha256: fc.stringMatching(/^[0-9a-f]{64}$/),
      status: fc.constant("completed"),
      trust_score: fc.integer({ min: 0, max: 100 }),
      signing: fc.record({ status: fc.string(), signed_at: date }),
      detection_results: fc.dictionary(
        fc.string(),
        fc.record({ category: fc.string(), result: fc.option(fc.string(), { nil: null }) }),
        { maxKeys: 5 },
      ),
      analyzed_at: date,
    });
    fc.assert(
      fc.property(wellTyped, (value) => {
        const outcome = fromPlatform(value);
        expect(outcome.ok).toBe(true);
        if (!outcome.ok) return;
        expect(validateResult(outcome.result).ok).toBe(true);
        expect(outcome.result.engines).toHaveLength(Object.keys(value.detection_results).length);
        const counted = Object.values(outcome.result.detections ?? {}).reduce((a, b) => a + b, 0);
        expect(counted).toBeLessThanOrEqual(Object.keys(value.detection_results).length);
      }),
      { numRuns: 300 },
    );
  });
});

describe("platformToCanonical", () => {
  it("validates the mapped result: the documented example is decided as is", () => {
    const outcome = platformToCanonical(DOC_EXAMPLE);
    expect(outcome).toMatchObject({ ok: true, format: "platform", warnings: [] });
    expect(outcome.ok && isValidated(outcome.result)).toBe(true);
    expect(outcome.ok && outcome.result).toEqual(mapped(DOC_EXAMPLE).result);
  });

  it("reports the conversion's problems with the platform format", () => {
    expect(platformToCanonical(file({ status: "pending", file_name: "a.exe" }))).toEqual({
      ok: false,
      format: "platform",
      problems: [{ pointer: "/status", message: "the analysis is `pending`, not completed" }],
    });
  });

  it("applies the input limits to the mapped result, keeping the warnings", () => {
    const long = file({ file_name: "a".repeat(70), extra: 1 });
    expect(platformToCanonical(long, { maxStringLength: 64 })).toEqual({
      ok: false,
      format: "platform",
      warnings: ["ignored unknown field `extra`"],
      problems: [
        {
          pointer: "/fileName",
          message: "string has 70 characters, more than the limit of 64",
        },
      ],
    });
    expect(platformToCanonical(long).ok).toBe(true);
  });

  it("refuses invalid limits, whatever the input", () => {
    expect(() => platformToCanonical("not a file", { maxDepth: -1 })).toThrow(TypeError);
    expect(() => platformToCanonical(DOC_EXAMPLE, { maxDeep: 3 } as never)).toThrow(
      "unknown input limit `maxDeep`",
    );
  });
});
