import { describe, expect, it } from "vitest";
import { decide, NOW, result, rules, SHA, truth } from "./helpers.js";

const full = {
  fileName: "Setup.EXE",
  fileSize: 2048,
  trustScore: 72,
  verdict: "caution",
  category: "installer",
  detections: { malicious: 3, suspicious: 1, undetected: 50 },
  engines: [
    { engine: "Alpha", category: "malicious", result: "Ransom.Locky" },
    { engine: "Beta", category: "undetected", result: null },
    { engine: "Gamma", category: "malicious", result: "Trojan.Gen" },
  ],
  vendor: { name: "Google LLC", verified: true },
  signature: { status: "valid", signer: "Google LLC" },
  firstSeen: "2026-11-26T06:00:00Z",
  analyzedAt: "2026-11-26T07:00:00Z",
  tags: ["installer", "signed"],
};

// One row per language feature: condition, input, expected truth value.
const cases: [string, Record<string, unknown>, string][] = [
  // literals and comparisons
  ["trustScore == 72", full, "true"],
  ["trustScore != 72", full, "false"],
  ["trustScore >= 70 and trustScore < 80", full, "true"],
  ["trustScore > 72", full, "false"],
  ["trustScore <= 72.0", full, "true"],
  ['verdict == "caution"', full, "true"],
  ["vendor.verified == true", full, "true"],
  ["vendor.verified", full, "true"],
  ["not vendor.verified", full, "false"],
  ["fileSize == 2 * 1024", full, "true"],
  ["fileSize / 1024 == 2", full, "true"],
  ["fileSize % 1000 == 48", full, "true"],
  ["-trustScore < 0", full, "true"],
  ["trustScore - 2 == 70", full, "true"],
  // strings
  ['fileName endsWith ".EXE"', full, "true"],
  ['lower(fileName) endsWith ".exe"', full, "true"],
  ['upper(fileName) == "SETUP.EXE"', full, "true"],
  ['fileName startsWith "Set"', full, "true"],
  ['fileName contains "tup"', full, "true"],
  ["fileName matches /^setup\\.(exe|msi)$/i", full, "true"],
  ["fileName matches /^setup/", full, "false"],
  ["len(fileName) == 9", full, "true"],
  // membership
  ['vendor.name in ["Google LLC", "Apple Inc."]', full, "true"],
  ['vendor.name not in ["Google LLC"]', full, "false"],
  ['tags contains "signed"', full, "true"],
  ['"signed" in tags', full, "true"],
  ["len(tags) == 2", full, "true"],
  // quantifiers and count
  ["any e in engines: e.result matches /ransom/i", full, "true"],
  ['all e in engines: e.category == "malicious"', full, "false"],
  ['all e in engines: e.engine != ""', full, "true"],
  ['count(e in engines where e.category == "malicious") == 2', full, "true"],
  ['any t in tags: t startsWith "inst"', full, "true"],
  // time
  ["age(firstSeen) < 24h", full, "true"],
  ["age(firstSeen) == 6h", full, "true"],
  ["age(firstSeen) > 7d", full, "false"],
  ["firstSeen < 2026-11-27", full, "true"],
  ["firstSeen == 2026-11-26T06:00:00Z", full, "true"],
  ["analyzedAt - firstSeen == 1h", full, "true"],
  ["now() - 1d < firstSeen", full, "true"],
  ["age(firstSeen) / 1h == 6", full, "true"],
  ["1h30m == 90m", full, "true"],
  // three-valued logic on a missing field
  ["trustScore >= 70", {}, "unknown"],
  ["not (trustScore >= 70)", {}, "unknown"],
  ["trustScore >= 70 and false", {}, "false"],
  ["trustScore >= 70 or true", {}, "true"],
  ["trustScore >= 70 or false", {}, "unknown"],
  ["exists(trustScore)", {}, "false"],
  ["exists(trustScore)", full, "true"],
  ["not exists(vendor.name)", {}, "true"],
  ['vendor.name in ["Google LLC"]', {}, "unknown"],
  ["any e in engines: e.result matches /x/", {}, "unknown"],
  // a null element is unknown, another element can still decide
  ['any e in engines: e.result == "Ransom.Locky"', full, "true"],
  ['all e in engines: e.result != "nothing"', full, "unknown"],
  ["count(e in engines where e.result matches /gen/i) == 1", full, "true"],
  // run-time errors
  ["fileSize / 0 > 1", full, "error"],
  ["fileSize / 0 > 1", {}, "unknown"],
];

describe("language features: one condition, one input, one truth value", () => {
  it.each(cases)("%s", (condition, input, expected) => {
    expect(truth(condition, input)).toBe(expected);
  });
});

describe("named lists, hash lists and context", () => {
  const decls = `
list trusted = ["Google LLC", "Apple Inc."]
list sizes = [1, 2, 2048]
hashlist bad from "bad.sha256"
context { group: string, tags: list<string>, since: timestamp, vip: bool }
`;
  const files = {
    "bad.sha256": `# known bad\n${SHA.toUpperCase()}\n${"a".repeat(64)}  evil.exe\n`,
  };
  const rs = (cond: string) =>
    rules(`${decls}\ndefault allow "none"\nrule t { when ${cond} deny "hit" }`, { files });

  it.each([
    ["vendor.name in trusted", {}, "deny"],
    ["fileSize in sizes", {}, "deny"],
    ["sha256 in bad", {}, "deny"],
    ["sha256 not in bad", {}, "allow"],
    ['context.group == "finance"', { group: "finance" }, "deny"],
    ['context.group == "finance"', {}, "allow"],
    ['context.tags contains "vip"', { tags: ["vip"] }, "deny"],
    ["context.since < firstSeen", { since: "2026-01-01T00:00:00Z" }, "deny"],
    ["context.vip", { vip: true }, "deny"],
  ])("%s with context %j -> %s", (cond, context, expected) => {
    expect(decide(rs(cond), full, { context }).decision).toBe(expected);
  });

  it("a context field of the wrong type fails only the rules that read it", () => {
    const d = decide(rs('context.group == "finance"'), full, { context: { group: 42 } });
    expect(d.errors).toEqual([
      {
        rule: "t",
        code: "invalid_context",
        message: "context field `group` should be a string, got `42`",
        monitor: false,
      },
    ]);
    expect(d.decision).toBe("review");
  });
});

describe("reasons", () => {
  it("interpolates values with their type's format", () => {
    const rs = rules(`rule t {
  when trustScore > 1
  deny "score {trustScore}, seen {age(firstSeen)} ago by {vendor.name}, tags {tags}, at {firstSeen}, ratio {trustScore / 7}, missing {category}"
}`);
    const d = decide(rs, { ...full, category: undefined });
    expect(d.reason).toBe(
      "score 72, seen 6h ago by Google LLC, tags installer, signed, at 2026-11-26T06:00:00.000Z, ratio 10.29, missing unknown",
    );
  });

  it("escaped braces are literal", () => {
    const rs = rules('rule t { when true deny "a \\{b\\} {1 + 1}" }');
    expect(decide(rs, {}).reason).toBe("a {b} 2");
  });
});

describe("sha256 normalisation", () => {
  it("upper-case input hashes match lower-case rules", () => {
    const rs = rules(`rule t { when sha256 == "${SHA}" deny "x" }`);
    expect(rs.decide({ sha256: SHA.toUpperCase() }, { now: NOW }).decision).toBe("deny");
  });
  it("result() helper validates", () => {
    expect(result({}).sha256).toBe(SHA);
  });
});
