import { describe, expect, it } from "vitest";
import { InvalidResultError } from "../src/index.js";
import { decide, NOW, rules, SHA } from "./helpers.js";

const input = {
  trustScore: 40,
  verdict: "high_risk",
  fileName: "a.scr",
  vendor: { name: "Google LLC" },
  firstSeen: "2026-11-26T11:00:00Z",
};

describe("combining: deny-overrides", () => {
  const rs = rules(`
default review "no rule matched"
rule allow_low { when trustScore < 50 allow "allowed" }
rule review_it priority 5 { when trustScore < 50 review "review" }
rule deny_it { when trustScore < 50 deny "denied" }
rule deny_high priority 9 { when trustScore < 50 deny "denied first" }
rule watch monitor { when trustScore < 50 deny "would deny" }
`);
  it("the most severe wins, then priority; every match is listed; monitors never enforce", () => {
    const d = decide(rs, input);
    expect(d).toMatchObject({
      decision: "deny",
      rule: "deny_high",
      reason: "denied first",
      matched: ["allow_low", "review_it", "deny_it", "deny_high"],
      monitored: ["watch"],
      errors: [],
    });
    expect(d.revision).toMatch(/^sha256:[0-9a-f]{16}$/);
  });
  it("nothing matched: the default", () => {
    const d = decide(rs, { trustScore: 90 });
    expect(d).toMatchObject({
      decision: "review",
      rule: null,
      reason: "no rule matched",
      matched: [],
      monitored: [],
    });
  });
});

describe("combining: first-match", () => {
  const rs = rules(`
strategy first-match
default deny "unknown file"
rule a { when trustScore < 50 allow "a" }
rule b priority 10 { when trustScore < 50 review "b" }
rule c { when trustScore < 50 deny "c" }
`);
  it("highest priority, then first declared, decides", () => {
    expect(decide(rs, input)).toMatchObject({
      decision: "review",
      rule: "b",
      matched: ["a", "b", "c"],
    });
  });
  it("the default decides when nothing matches", () => {
    expect(decide(rs, { trustScore: 99 })).toMatchObject({
      decision: "deny",
      rule: null,
      reason: "unknown file",
    });
  });
});

describe("unless", () => {
  const rs = rules(`
default review "none"
rule trusted {
  when vendor.name == "Google LLC"
  unless fileName endsWith ".scr"
  unless trustScore < 10
  allow "trusted"
}`);
  it("an exception that holds blocks the rule", () =>
    expect(decide(rs, input).decision).toBe("review"));
  it("exceptions that do not hold let it match", () =>
    expect(decide(rs, { ...input, fileName: "a.exe" }).decision).toBe("allow"));
  it("an exception that cannot be evaluated blocks an allow (unknown is not false)", () => {
    expect(decide(rs, { vendor: { name: "Google LLC" }, trustScore: 50 }).decision).toBe("review");
  });
});

describe("expiring rules", () => {
  const rs = rules(`
default review "none"
rule sanctioned expires 2026-11-26 { when sha256 == "${SHA}" allow "until the end of the 26th" }
`);
  it("apply through the whole expiry day", () => {
    expect(decide(rs, {}, { now: Date.parse("2026-11-26T23:59:59Z") }).decision).toBe("allow");
  });
  it("do not match after it", () => {
    const d = decide(rs, {}, { now: Date.parse("2026-11-27T00:00:00Z"), explain: true });
    expect(d.decision).toBe("review");
    expect(d.explain!.rules[0]).toMatchObject({
      rule: "sanctioned",
      outcome: "expired",
      expiredAt: "2026-11-27T00:00:00.000Z",
    });
  });
});

describe("on-error", () => {
  const src = (policy: string) => `
on-error ${policy}
default allow "fine"
rule broken { when fileSize / 0 > 1 deny "never" }
rule ok { when trustScore > 10 allow "ok" }
rule noisy monitor { when fileSize % 0 == 1 deny "never" }
`;
  it.each([
    ["review", "review", "broken"],
    ["deny", "deny", "broken"],
    ["ignore", "allow", "ok"],
  ])("on-error %s -> %s", (policy, decision, rule) => {
    const d = decide(rules(src(policy)), { fileSize: 10, trustScore: 50 });
    expect(d.decision).toBe(decision);
    expect(d.rule).toBe(rule);
    expect(d.errors).toEqual([
      {
        rule: "broken",
        code: "division_by_zero",
        message: "division by zero in `/`",
        monitor: false,
      },
      {
        rule: "noisy",
        code: "division_by_zero",
        message: "division by zero in `%`",
        monitor: true,
      },
    ]);
  });
  it("a failing rule's reason says what failed", () => {
    expect(decide(rules(src("review")), { fileSize: 10, trustScore: 50 }).reason).toBe(
      "rule `broken` failed at run time: division by zero in `/`",
    );
  });
  it("errors never lower a deny", () => {
    const d = decide(rules(`${src("review")}\nrule d { when true deny "d" }`), {
      fileSize: 10,
      trustScore: 50,
    });
    expect(d).toMatchObject({ decision: "deny", rule: "d" });
  });
  it("a malformed timestamp in unvalidated data is a run-time error, not a crash", () => {
    const rs = rules(
      'rule t { when age(context.at) < 1h deny "x" }\ncontext { at: string }'.replace(
        "context.at",
        "firstSeen",
      ),
    );
    // validation rejects it up front: the result is never half-evaluated
    expect(() => rs.decide({ sha256: SHA, firstSeen: "yesterday" }, { now: NOW })).toThrow(
      InvalidResultError,
    );
  });
});

describe("explain", () => {
  const rs = rules(`
list trusted = ["Google LLC"]
rule trusted_publisher {
  when signature.status == "valid" and vendor.name in trusted and trustScore >= 70
  allow "signed by {vendor.name}"
}
rule ransom { when any e in engines: e.result matches /ransom/i deny "ransomware" }
`);
  it("records each condition with the field values it saw and what was missing", () => {
    const d = decide(
      rs,
      {
        vendor: { name: "Google LLC" },
        trustScore: 75,
        engines: [
          { engine: "A", result: "clean" },
          { engine: "B", result: "Ransom.X" },
        ],
      },
      { explain: true },
    );
    expect(d.decision).toBe("deny");
    const [tp, ransom] = d.explain!.rules;
    expect(tp).toMatchObject({
      rule: "trusted_publisher",
      outcome: "unknown",
      location: { file: "test.rules", line: 3, column: 6 },
    });
    expect(tp!.when!.children![0]).toMatchObject({
      expr: 'signature.status == "valid"',
      value: null,
      missing: ["signature.status"],
    });
    expect(tp!.when!.children![1]).toMatchObject({
      expr: "vendor.name in trusted",
      value: true,
      fields: { "vendor.name": "Google LLC" },
    });
    expect(ransom).toMatchObject({
      outcome: "matched",
      reason: "ransomware",
      when: { value: true, item: 1 },
    });
    expect(d.explain!.decidedBy).toBe("rule");
  });
  it("shows a condition written over several lines on one, with its closing parenthesis", () => {
    const multi = rules(`
rule r {
  when fileSize > 10
    and (trustScore >= 70
      or fileName == "a.exe")
  allow "ok"
}
`);
    const d = decide(multi, { fileSize: 20, trustScore: 80 }, { explain: true });
    const when = d.explain!.rules[0]!.when!;
    expect(when.expr).toBe('fileSize > 10 and (trustScore >= 70 or fileName == "a.exe")');
    expect(when.children![1]!.expr).toBe('(trustScore >= 70 or fileName == "a.exe")');
  });
  it("an unknown `any` says how many items left it unknown, and traces the first", () => {
    const d = decide(
      rs,
      {
        engines: [{ engine: "A", result: "clean" }, { engine: "B", result: null }, { engine: "C" }],
      },
      { explain: true },
    );
    const ransom = d.explain!.rules[1]!;
    expect(ransom.outcome).toBe("unknown");
    expect(ransom.when).toMatchObject({ value: null, item: 1, unknownItems: 2 });
    expect(ransom.when!.children).toEqual([
      { expr: "e.result matches /ransom/i", value: null, missing: ["e.result"] },
    ]);
  });
  it("gives the same decision as the fast path", () => {
    const inputRes = {
      vendor: { name: "Google LLC" },
      trustScore: 75,
      signature: { status: "valid" },
    };
    const { explain, ...fast } = decide(rs, inputRes, { explain: true });
    expect(fast).toEqual(decide(rs, inputRes));
    expect(explain!.decidedBy).toBe("rule");
  });
});

describe("invalid input", () => {
  const rs = rules('rule t { when true deny "x" }');
  it("is rejected with every problem, never evaluated", () => {
    try {
      rs.decide({ sha256: "nope", trustScore: 900 }, { now: NOW });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidResultError);
      expect((error as InvalidResultError).problems.map((p) => p.pointer).sort()).toEqual([
        "/sha256",
        "/trustScore",
      ]);
    }
  });
  it("a bad `now` is a TypeError", () => {
    expect(() => rs.decide({ sha256: SHA }, { now: "soon" })).toThrow(TypeError);
  });
});

describe("indexing", () => {
  it("per-hash rules are found through the index and keep declaration order", () => {
    const hashes = Array.from({ length: 500 }, (_, i) => i.toString(16).padStart(64, "0"));
    const text = [
      'rule low { when trustScore < 10 review "low" }',
      ...hashes.map((h, i) => `rule h${i} { when sha256 == "${h}" deny "blocked ${i}" }`),
      `rule vendor_rule { when vendor.name in ["Evil Corp"] and trustScore < 90 deny "evil" }`,
    ].join("\n");
    const rs = rules(text);
    const d = rs.decide({ sha256: hashes[42]!, trustScore: 5 }, { now: NOW });
    expect(d).toMatchObject({
      decision: "deny",
      rule: "h42",
      reason: "blocked 42",
      matched: ["low", "h42"],
    });

    expect(
      rs.decide({ sha256: SHA, vendor: { name: "Evil Corp" }, trustScore: 50 }, { now: NOW }),
    ).toMatchObject({ rule: "vendor_rule" });
  });
});
