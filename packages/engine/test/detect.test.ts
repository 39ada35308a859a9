import { readdirSync, readFileSync } from "node:fs";
import type { AnalysisResult } from "@clearance/result";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { detectFormat, type InputFormat, toCanonical } from "../src/adapters/detect.js";

const SHA = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const EXAMPLES = new URL("../../../examples/", import.meta.url);

function examples(dir: string): [string, unknown][] {
  const url = new URL(`${dir}/`, EXAMPLES);
  return readdirSync(url)
    .filter((name) => name.endsWith(".json"))
    .sort()
    .map((name) => [name, JSON.parse(readFileSync(new URL(name, url), "utf8"))]);
}

function ok(input: unknown, format?: InputFormat): { result: AnalysisResult; warnings?: string[] } {
  const outcome = toCanonical(input, format ? { format } : undefined);
  if (!outcome.ok) throw new Error(`expected ok, got ${JSON.stringify(outcome.problems)}`);
  return outcome;
}

describe("detectFormat", () => {
  const cases: [string, unknown, InputFormat | undefined][] = [
    ["canonical result", { sha256: SHA, trustScore: 90 }, "canonical"],
    ["canonical with an upper-case sha256", { sha256: SHA.toUpperCase() }, "canonical"],
    ["VirusTotal data envelope", { data: { id: SHA, type: "file", attributes: {} } }, "virustotal"],
    ["bare {id, type: file, attributes}", { id: SHA, type: "file", attributes: {} }, "virustotal"],
    [
      "top-level attributes with analysis stats",
      { id: SHA, attributes: { last_analysis_stats: {} } },
      "virustotal",
    ],
    ["bare attributes object", { sha256: SHA, last_analysis_results: {} }, "virustotal"],
    [
      "bare attributes with canonical fields (ambiguous)",
      { sha256: SHA, last_analysis_stats: {}, trustScore: 3 },
      undefined,
    ],
    [
      "canonical fields next to a data envelope (ambiguous)",
      { sha256: SHA, data: { attributes: {} } },
      undefined,
    ],
    ["top-level attributes without analysis data", { sha256: SHA, attributes: {} }, undefined],
    ["platform file object (trust_score)", { sha256: SHA, trust_score: 90 }, "platform"],
    [
      "platform file object (detection_results)",
      { sha256: SHA, detection_results: {} },
      "platform",
    ],
    ["platform file object (signing)", { sha256: SHA, signing: {} }, "platform"],
    ["platform file object (analyzed_at)", { sha256: SHA, analyzed_at: "x" }, "platform"],
    [
      "pending platform file object (file fields only)",
      { sha256: SHA, status: "pending", file_name: "a.exe", uploaded_at: "x" },
      "platform",
    ],
    [
      "platform fields next to canonical fields (ambiguous)",
      { sha256: SHA, trust_score: 90, trustScore: 90 },
      undefined,
    ],
    [
      "platform fields next to VirusTotal analysis data (ambiguous)",
      { sha256: SHA, trust_score: 90, last_analysis_stats: {} },
      undefined,
    ],
    ["platform fields without a string sha256", { trust_score: 90 }, undefined],
    [
      "canonical with a status field stays canonical",
      { sha256: SHA, status: "pending" },
      "canonical",
    ],
    ["sha256 not a string", { sha256: 5 }, undefined],
    ["empty object", {}, undefined],
    ["null", null, undefined],
    ["array", [{ sha256: SHA }], undefined],
    ["string", SHA, undefined],
  ];
  it.each(cases)("%s", (_name, input, expected) => {
    expect(detectFormat(input)).toBe(expected);
  });
});

describe("toCanonical", () => {
  it("validates canonical input and normalises it", () => {
    expect(toCanonical({ sha256: SHA.toUpperCase(), x: 1 })).toEqual({
      ok: true,
      result: { sha256: SHA, x: 1 },
      format: "canonical",
    });
  });

  it("adapts VirusTotal input, then validates it, passing warnings on", () => {
    const outcome = toCanonical({ data: { id: SHA, type: "file", attributes: { size: "10" } } });
    expect(outcome).toEqual({
      ok: true,
      result: { sha256: SHA, fileSize: 10 },
      format: "virustotal",
      warnings: ["read `data.attributes.size` from a string"],
    });
  });

  it("lists every problem of an invalid canonical result", () => {
    const outcome = toCanonical({ sha256: SHA, verdict: "ok", fileSize: -1 });
    expect(outcome.ok).toBe(false);
    expect(outcome.format).toBe("canonical");
    expect(outcome.ok ? [] : outcome.problems.map((p) => p.pointer)).toEqual([
      "/fileSize",
      "/verdict",
    ]);
  });

  it("validates an undetected object as canonical so its problems are listed", () => {
    expect(toCanonical({ fileName: 3 })).toEqual({
      ok: false,
      format: "canonical",
      problems: [
        { pointer: "/sha256", message: "required property `sha256` is missing" },
        { pointer: "/fileName", message: "must be a string, got the number `3`" },
      ],
    });
    expect(toCanonical(42)).toMatchObject({
      ok: false,
      problems: [{ pointer: "", message: "must be an object, got the number `42`" }],
    });
  });

  it("reports an ambiguous input", () => {
    expect(toCanonical({ sha256: SHA, data: { attributes: {} } })).toEqual({
      ok: false,
      problems: [
        {
          pointer: "",
          message:
            "cannot tell the input format: expected a canonical result (top-level `sha256`) or a VirusTotal file object (`data.attributes`)",
        },
      ],
    });
  });

  it("honours a forced format", () => {
    const bare = { sha256: SHA, last_analysis_stats: { malicious: 2 }, trustScore: 3 };
    expect(ok(bare, "virustotal").result).toEqual({ sha256: SHA, detections: { malicious: 2 } });
    expect(ok(bare, "canonical").result).toBe(bare);
  });

  it.each([
    [
      "a canonical result declared VirusTotal",
      { sha256: SHA, fileName: "a.exe", trustScore: 80 },
      "virustotal",
      "the input was declared `virustotal` but reads as a canonical result (top-level `sha256` and camelCase fields): leave the format out to detect it, or pass `canonical`",
    ],
    [
      "a VirusTotal report declared platform",
      { data: { id: SHA, type: "file", attributes: { last_analysis_stats: {} } } },
      "platform",
      "the input was declared `platform` but reads as a VirusTotal file object (`data.attributes`): leave the format out to detect it, or pass `virustotal`",
    ],
    [
      "VirusTotal's error body",
      { error: { code: "NotFoundError", message: `File "${SHA}" not found` } },
      undefined,
      `the input is a VirusTotal error, not a file report: \`NotFoundError\` (File "${SHA}" not found)`,
    ],
    [
      "VirusTotal's error body, declared VirusTotal",
      { error: { code: "QuotaExceededError", message: "" } },
      "virustotal",
      "the input is a VirusTotal error, not a file report: `QuotaExceededError`",
    ],
    [
      "a search answer",
      {
        data: [
          { id: SHA, type: "file", attributes: {} },
          { id: SHA, type: "file", attributes: {} },
        ],
      },
      undefined,
      "the input is a list of 2 VirusTotal objects (a search or collection answer), not one file report: decide each `data[i]` on its own",
    ],
  ] as const)("refuses %s, saying what it is", (_name, input, format, message) => {
    const outcome = toCanonical(input, format === undefined ? undefined : { format });
    expect(outcome.ok).toBe(false);
    expect(outcome.ok ? [] : outcome.problems).toEqual([{ pointer: "", message }]);
  });

  it("reports adapter failures with the format", () => {
    expect(toCanonical({ data: { id: "nope", attributes: {} } })).toEqual({
      ok: false,
      format: "virustotal",
      problems: [
        {
          pointer: "/data/attributes/sha256",
          message:
            "no SHA-256 found: expected 64 hexadecimal digits in `data.attributes.sha256` or `data.id`",
        },
      ],
    });
  });

  it("applies the limits to the adapted result", () => {
    const input = {
      data: { id: SHA, attributes: { tags: ["a", "b", "c"] } },
    };
    expect(toCanonical(input, { limits: { maxArrayLength: 2 } })).toMatchObject({
      ok: false,
      format: "virustotal",
      problems: [{ pointer: "/tags", message: "array has 3 items, more than the limit of 2" }],
    });
  });

  it("reads platform input, and reports platform fields mixed with others", () => {
    expect(toCanonical({ sha256: SHA, status: "completed", trust_score: 85 })).toEqual({
      ok: true,
      result: { sha256: SHA, trustScore: 85 },
      format: "platform",
      warnings: [],
    });
    expect(toCanonical({ trust_score: 85, status: "completed" })).toEqual({
      ok: false,
      format: "platform",
      problems: [{ pointer: "/sha256", message: "required property `sha256` is missing" }],
    });
    const mixed = {
      ok: false,
      problems: [
        {
          pointer: "",
          message:
            "cannot tell the input format: platform fields (snake_case, such as `trust_score`) are mixed with canonical (camelCase) or VirusTotal fields",
        },
      ],
    };
    expect(toCanonical({ sha256: SHA, trust_score: 90, trustScore: 90 })).toEqual(mixed);
    expect(toCanonical({ sha256: SHA, signing: {}, data: { attributes: {} } })).toEqual(mixed);
  });

  it("rejects invalid options", () => {
    expect(() => toCanonical({}, { format: "xml" as InputFormat })).toThrow(
      "unknown input format `xml` (known formats: `canonical`, `virustotal`, `platform`)",
    );
    expect(() => toCanonical({}, { limits: { depth: 1 } as never })).toThrow(/`depth`/);
  });

  it("never throws on any value", () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withBoxedValues: true }), (value) => {
        const outcome = toCanonical(value);
        expect(typeof outcome.ok).toBe("boolean");
      }),
      { numRuns: 500 },
    );
  });
});

describe("examples", () => {
  const results = examples("results");
  const virustotal = examples("virustotal");

  it("has the expected sample files", () => {
    expect(results.map(([name]) => name)).toEqual(
      expect.arrayContaining([
        "signed-microsoft.json",
        "unsigned-lowscore.json",
        "malware.json",
        "ransomware.json",
        "screensaver-signed.json",
        "fresh-unknown.json",
        "self-signed-tool.json",
        "minimal.json",
      ]),
    );
    expect(virustotal.length).toBeGreaterThanOrEqual(3);
  });

  it.each(results)("results/%s is a valid canonical result", (_name, input) => {
    const outcome = toCanonical(input);
    expect(outcome.ok ? [] : outcome.problems).toEqual([]);
    expect(outcome.format).toBe("canonical");
    expect(outcome.ok && outcome.result).toEqual(input);
  });

  it.each(virustotal)("virustotal/%s adapts to a valid canonical result", (_name, input) => {
    const outcome = toCanonical(input);
    expect(outcome.ok ? [] : outcome.problems).toEqual([]);
    expect(outcome.format).toBe("virustotal");
  });

  it("samples are internally consistent", () => {
    for (const [name, input] of results) {
      const r = input as AnalysisResult;
      if (r.trustScore === undefined) continue;
      const verdict = r.trustScore >= 80 ? "clean" : r.trustScore >= 50 ? "caution" : "high_risk";
      expect(r.verdict, name).toBe(verdict);
      const score = (r.scoreBreakdown ?? []).reduce(
        (s, c) => s + (c.weight ?? 0) * (c.value ?? 0),
        0,
      );
      expect(Math.round(score), name).toBe(r.trustScore);
      expect(r.engines?.length, name).toBeGreaterThanOrEqual(10);
      const counts: Record<string, number> = {};
      for (const e of r.engines ?? []) counts[e.category!] = (counts[e.category!] ?? 0) + 1;
      for (const [category, count] of Object.entries(r.detections ?? {})) {
        expect(counts[category] ?? 0, `${name} ${category}`).toBe(count);
      }
    }
  });

  it("samples have the traits rules rely on", () => {
    const byName = Object.fromEntries(results) as Record<string, AnalysisResult>;
    expect(byName["signed-microsoft.json"]).toMatchObject({
      verdict: "clean",
      vendor: { name: "Microsoft Corporation", verified: true },
      signature: { status: "valid" },
    });
    expect(byName["malware.json"]!.verdict).toBe("high_risk");
    expect(byName["malware.json"]!.detections!.malicious).toBeGreaterThanOrEqual(3);
    expect(byName["ransomware.json"]!.engines!.some((e) => /ransom/i.test(e.result ?? ""))).toBe(
      true,
    );
    expect(byName["screensaver-signed.json"]!.fileName).toMatch(/\.scr$/);
    expect(byName["screensaver-signed.json"]!.signature!.status).toBe("valid");
    expect(
      Date.parse("2026-11-26T12:00:00Z") - Date.parse(byName["fresh-unknown.json"]!.firstSeen!),
    ).toBe(3_600_000);
    expect(byName["self-signed-tool.json"]!.signature!.status).toBe("self_signed");
    expect(byName["unsigned-lowscore.json"]!.signature!.status).toBe("unsigned");
    expect(Object.keys(byName["minimal.json"]!).sort()).toEqual(["fileName", "sha256"]);
  });

  it("contexts name a group and tags", () => {
    const contexts = examples("contexts");
    expect(contexts.map(([name]) => name)).toEqual(["engineering.json", "finance.json"]);
    expect(Object.fromEntries(contexts)["finance.json"]).toEqual({
      group: "finance",
      tags: ["laptop"],
    });
    for (const [, context] of contexts) {
      expect(context).toMatchObject({ group: expect.any(String), tags: expect.any(Array) });
    }
  });
});
