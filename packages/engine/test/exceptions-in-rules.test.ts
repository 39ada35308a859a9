import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type CaseInput,
  type DecideOptions,
  type ExceptionInput,
  loadRuleset,
  validateResult,
} from "../src/index.js";
import { caseValue, contextValue, exceptionValue, inputRecord, nowValue } from "./arbitraries.js";
import { decide, NOW, rules } from "./helpers.js";

/*
 * The built-in `exception` and `case`, and the modifiers `overrides` and `forbid-approval`: the
 * rules decide what an exception means (docs/language.md, "Exceptions and review cases").
 */

const approved: ExceptionInput = {
  id: "0193a1",
  status: "approved",
  kind: "file",
  expires: "2027-03-01T00:00:00Z",
  created: "2026-11-20T09:00:00Z",
  approvers: ["alice", "bob"],
  justification: "needed by finance",
  case: "case-7",
};
const rejected: ExceptionInput = { ...approved, id: "0193b2", status: "rejected" };
const expiredCase: CaseInput = {
  id: "case-7",
  status: "expired",
  opened: "2026-11-12T12:00:00Z",
  requests: 3,
};

const RULES = `
default review "no rule matched"
rule suspicious { when trustScore < 50 review "low trust {trustScore}" }
rule malware { when detections.malicious >= 3 deny "malicious" }
rule any_malicious forbid-approval { when detections.malicious > 0 review "a detection" }
rule approved_by_people overrides review {
  when exception.status == "approved"
  allow "approved by {exception.approvers} until {exception.expires} (exception {exception.id})"
}
rule rejected_by_people {
  when exception.status == "rejected"
  deny "rejected by {exception.approvers} (exception {exception.id})"
}
rule unanswered { when case.status == "expired" deny "nobody answered within {age(case.opened)}" }
`;

describe("exceptions resolve reviews, as the rules say", () => {
  const rs = rules(RULES);
  const cases: [
    string,
    Record<string, unknown>,
    DecideOptions,
    { decision: string; rule: string | null; exception: string | null; forbidden: string[] },
    string?,
  ][] = [
    [
      "no exception: the review stands",
      { trustScore: 40 },
      {},
      { decision: "review", rule: "suspicious", exception: null, forbidden: [] },
    ],
    [
      "an approved exception turns the review into allow",
      { trustScore: 40 },
      { exception: approved },
      { decision: "allow", rule: "approved_by_people", exception: "0193a1", forbidden: [] },
      "approved by alice, bob until 2027-03-01T00:00:00.000Z (exception 0193a1)",
    ],
    [
      "an approved exception never turns a deny into allow",
      { trustScore: 40, detections: { malicious: 5 } },
      { exception: approved },
      { decision: "deny", rule: "malware", exception: null, forbidden: ["any_malicious"] },
    ],
    [
      "forbid-approval: a review no exception can approve",
      { trustScore: 40, detections: { malicious: 1 } },
      { exception: approved },
      { decision: "review", rule: "suspicious", exception: null, forbidden: ["any_malicious"] },
    ],
    [
      "a rejected exception denies, and says which",
      { trustScore: 40 },
      { exception: rejected },
      { decision: "deny", rule: "rejected_by_people", exception: "0193b2", forbidden: [] },
      "rejected by alice, bob (exception 0193b2)",
    ],
    [
      "an expired case gets the rules' answer",
      { trustScore: 40 },
      { case: expiredCase },
      { decision: "deny", rule: "unanswered", exception: null, forbidden: [] },
      "nobody answered within 14d",
    ],
    [
      "an open case changes nothing",
      { trustScore: 40 },
      { case: { ...expiredCase, status: "open" } },
      { decision: "review", rule: "suspicious", exception: null, forbidden: [] },
    ],
  ];
  it.each(cases)("%s", (_name, input, options, expected, reason) => {
    for (const explain of [false, true]) {
      const d = decide(rs, input, { ...options, explain });
      expect({
        decision: d.decision,
        rule: d.rule,
        exception: d.exception,
        forbidden: d.approvalForbiddenBy,
      }).toEqual(expected);
      if (reason !== undefined) expect(d.reason).toBe(reason);
    }
  });

  it("removing every exception gives the decisions the rules give without them", () => {
    const withNone = decide(rs, { trustScore: 40 });
    const withNull = decide(rs, { trustScore: 40 }, { exception: undefined, case: undefined });
    expect(withNull).toEqual(withNone);
  });

  it("the explanation shows the exception fields a condition read", () => {
    const d = decide(rs, { trustScore: 40 }, { exception: approved, explain: true });
    const entry = d.explain!.rules.find((r) => r.rule === "approved_by_people")!;
    expect(entry.when?.fields).toEqual({ "exception.status": "approved" });
    const none = decide(rs, { trustScore: 40 }, { explain: true });
    expect(none.explain!.rules.find((r) => r.rule === "approved_by_people")!.when).toMatchObject({
      value: null,
      missing: ["exception.status"],
    });
  });
});

describe("overrides and the combining order", () => {
  const rs = rules(`
rule r { when trustScore < 50 review "r" }
rule d { when trustScore < 20 deny "d" }
rule over_review overrides review { when fileName == "a.exe" allow "over review" }
rule over_deny priority 5 overrides deny { when fileName == "b.exe" allow "over deny" }
rule over_review_high priority 9 overrides review { when fileName == "b.exe" allow "high" }
rule plain { when fileName == "c.exe" allow "plain" }
`);
  it.each([
    ["overrides review beats review", { trustScore: 40, fileName: "a.exe" }, "over_review"],
    ["overrides review never beats deny", { trustScore: 10, fileName: "a.exe" }, "d"],
    ["overrides deny beats deny", { trustScore: 10, fileName: "b.exe" }, "over_deny"],
    // both override the review: priority picks among them
    [
      "among overriding allows, priority",
      { trustScore: 40, fileName: "b.exe" },
      "over_review_high",
    ],
    ["a plain allow beats nothing", { trustScore: 40, fileName: "c.exe" }, "r"],
  ])("%s", (_name, input, rule) => {
    for (const explain of [false, true]) expect(decide(rs, input, { explain }).rule).toBe(rule);
  });

  it("under first-match, overrides has no effect", () => {
    const fm = rules(`
strategy first-match
rule r priority 1 { when trustScore < 50 review "r" }
rule a overrides review { when trustScore < 50 allow "a" }
`);
    expect(decide(fm, { trustScore: 40 }).rule).toBe("r");
  });

  it("monitor rules never forbid approval", () => {
    const m = rules(`
rule r { when trustScore < 50 review "r" }
rule watch monitor forbid-approval { when trustScore < 50 review "w" }
rule a overrides review { when trustScore < 50 allow "a" }
`);
    const d = decide(m, { trustScore: 40 });
    expect([d.rule, d.approvalForbiddenBy]).toEqual(["a", []]);
  });
});

describe("a malformed exception or case fails the rules that read it", () => {
  const rs = rules(`
on-error review
default allow "ok"
rule a overrides review { when exception.status == "approved" allow "a" }
rule c { when case.requests > 10 deny "c" }
rule other { when trustScore < 10 deny "other" }
`);
  it.each([
    [
      "an unknown status",
      { exception: { ...approved, status: "maybe" } },
      "invalid_exception",
      "exception field `status` should be one of `approved`, `rejected`, got `maybe`",
    ],
    [
      "no id",
      { exception: { status: "approved" } },
      "invalid_exception",
      "the exception has no `id`",
    ],
    [
      "not an object",
      { exception: "0193a1" },
      "invalid_exception",
      "the exception is not an object",
    ],
    [
      "a bad timestamp elsewhere fails only its readers",
      { exception: { ...approved, expires: "soon" } },
      undefined,
      undefined,
    ],
    [
      "a case's count as text",
      { case: { ...expiredCase, requests: "12" } },
      "invalid_case",
      "case field `requests` should be a number, got `12`",
    ],
  ])("%s", (_name, options, code, message) => {
    const d = decide(rs, { trustScore: 50 }, { ...(options as DecideOptions), now: NOW });
    if (code === undefined) {
      expect(d.errors).toEqual([]);
      return;
    }
    expect(d.errors.map((e) => [e.code, e.message])).toEqual([[code, message]]);
    expect(d.decision).toBe("review");
  });

  it("timestamps may be RFC 3339 or epoch milliseconds", () => {
    const t = rules(`rule old { when age(exception.created) > 1d allow "{exception.created}" }`);
    const ms = Date.parse("2026-11-20T09:00:00Z");
    for (const created of ["2026-11-20T09:00:00Z", ms]) {
      const d = decide(t, {}, { exception: { ...approved, created } });
      expect([d.decision, d.reason]).toEqual(["allow", "2026-11-20T09:00:00.000Z"]);
    }
  });
});

describe("the example rules (rules/): exceptions never make a decision less strict", () => {
  const loaded = loadRuleset(new URL("../../../rules/", import.meta.url).pathname, { git: false });
  const rs = loaded.ruleset!;
  const SEVERITY = { allow: 1, review: 2, deny: 3 } as const;
  it("an exception never turns a deny into allow; without one, the decisions are the rules' alone", () => {
    expect(loaded.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    fc.assert(
      fc.property(
        inputRecord,
        contextValue,
        nowValue,
        exceptionValue,
        caseValue,
        (raw, context, now, exception, reviewCase) => {
          const v = validateResult(raw);
          if (!v.ok) return;
          const without = rs.decide(v.result, { now, context });
          const options = { now, context, exception, case: reviewCase } as DecideOptions;
          const withIt = rs.decide(v.result, options);
          if (without.decision === "deny") expect(withIt.decision).toBe("deny");
          // approval forbidden: nothing beats the review, so nothing allows
          if (withIt.approvalForbiddenBy.length > 0)
            expect(SEVERITY[withIt.decision]).toBeGreaterThanOrEqual(SEVERITY.review);
          const none = rs.decide(v.result, { now, context, exception: undefined, case: undefined });
          expect(none).toEqual(without);
        },
      ),
      { numRuns: 500 },
    );
  });
});
