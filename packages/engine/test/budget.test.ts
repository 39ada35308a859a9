import { describe, expect, it } from "vitest";
import { decide, rules } from "./helpers.js";

/*
 * The evaluation budget (issue 10, finding 8): a quadratic rule over a 10,000-engine input cost a
 * second per decision. Loops now charge a per-decision budget (`maxEvaluationSteps`, a step being
 * one list item gone over by `any`, `all` or `count`); past it the rule fails at run time with
 * `evaluation_budget_exceeded`, and `on-error` decides, as for any run-time error.
 */

const QUADRATIC = `rule pairs {
  when any e in engines: any f in engines: e.engine != f.engine and e.result == f.result
  deny "two engines agree"
}`;

/** 10,000 engines with distinct names and results: no pair agrees, so nothing stops the loops. */
const manyEngines = Array.from({ length: 10_000 }, (_, i) => ({
  engine: `engine${i}`,
  category: "undetected",
  result: `r${i}`,
}));

const BUDGET_ERROR = {
  rule: "pairs",
  code: "evaluation_budget_exceeded",
  message:
    "evaluation budget exceeded: more than 1000000 list items gone over by `any`, `all` and `count` in one decision",
  monitor: false,
};

describe("a quadratic rule over 10,000 engines", () => {
  it.each([
    ["review", "review", "pairs"],
    ["deny", "deny", "pairs"],
    ["ignore", "allow", null],
  ] as const)("stops at the budget; on-error %s decides %s", (onError, decision, rule) => {
    const rs = rules(`on-error ${onError}\ndefault allow "nothing against it"\n${QUADRATIC}`);
    const started = performance.now();
    const d = decide(rs, { engines: manyEngines });
    // The point is no multi-second stall: unbounded, this decision goes over 10^8 steps.
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(d).toMatchObject({ decision, rule, errors: [BUDGET_ERROR] });
    if (onError !== "ignore")
      expect(d.reason).toBe(`rule \`pairs\` failed at run time: ${BUDGET_ERROR.message}`);
  });

  it("the explanation shows the failing rule, and decides the same", () => {
    const rs = rules(`on-error review\ndefault allow "fine"\n${QUADRATIC}`);
    const fast = decide(rs, { engines: manyEngines });
    const { explain, ...slow } = decide(rs, { engines: manyEngines }, { explain: true });
    expect(slow).toEqual(fast);
    expect(explain!.decidedBy).toBe("error");
    expect(explain!.rules[0]).toMatchObject({
      rule: "pairs",
      outcome: "error",
      error: BUDGET_ERROR.message,
    });
  });

  it("decides normally on a small input (100 engines: 10,100 steps)", () => {
    const rs = rules(`on-error review\ndefault allow "fine"\n${QUADRATIC}`);
    const agreeing = [...manyEngines.slice(0, 99), { engine: "other", result: "r98" }];
    expect(decide(rs, { engines: manyEngines.slice(0, 100) })).toMatchObject({
      decision: "allow",
      errors: [],
    });
    expect(decide(rs, { engines: agreeing })).toMatchObject({ decision: "deny", errors: [] });
  });
});

describe("the budget", () => {
  const counting = (limit: number) =>
    rules(
      `on-error review\ndefault allow "fine"
rule a { when count(e in engines where true) > 100 deny "a" }
rule b { when count(e in engines where true) > 100 deny "b" }`,
      { limits: { maxEvaluationSteps: limit } },
    );
  const engines = (n: number) => manyEngines.slice(0, n);

  it("is one per decision: what one rule spends, the next rule cannot", () => {
    expect(decide(counting(10), { engines: engines(5) }).errors).toEqual([]);
    const d = decide(counting(10), { engines: engines(6) });
    expect(d.errors.map((e) => [e.rule, e.code])).toEqual([["b", "evaluation_budget_exceeded"]]);
  });

  it("starts afresh with each decision", () => {
    const rs = counting(10);
    for (let i = 0; i < 3; i++) expect(decide(rs, { engines: engines(5) }).errors).toEqual([]);
  });

  it("charges a loop when it starts: an `any` that stops early costs its whole list", () => {
    const rs = rules(
      `on-error review\ndefault allow "fine"\nrule a { when any e in engines: true deny "a" }`,
      { limits: { maxEvaluationSteps: 3 } },
    );
    expect(decide(rs, { engines: engines(3) }).errors).toEqual([]);
    expect(decide(rs, { engines: engines(4) }).errors.map((e) => e.code)).toEqual([
      "evaluation_budget_exceeded",
    ]);
  });

  it("counts loops in a reason, and the deciding reason's failure is that rule's error", () => {
    const rs = rules(
      `on-error review\ndefault allow "fine"\nrule a { when true deny "{count(e in engines where true)} engines" }`,
      { limits: { maxEvaluationSteps: 3 } },
    );
    expect(decide(rs, { engines: engines(3) })).toMatchObject({ reason: "3 engines" });
    const d = decide(rs, { engines: engines(4) }, { explain: true });
    expect(d.decision).toBe("deny");
    expect(d.errors).toMatchObject([
      {
        rule: "a",
        code: "evaluation_budget_exceeded",
        message: expect.stringMatching(/^in its reason: /),
      },
    ]);
  });

  it("is not spent by explaining: the traced replay of the deciding item is free", () => {
    // The `any` is decided by its second item, which the explanation evaluates again to trace it.
    const rs = rules(
      `on-error review\ndefault allow "fine"
rule a { when any e in engines: count(f in engines where true) > 0 and e.engine == "engine1" deny "a" }`,
      { limits: { maxEvaluationSteps: 2 + 2 * 2 } },
    );
    const fast = decide(rs, { engines: engines(2) });
    const { explain, ...slow } = decide(rs, { engines: engines(2) }, { explain: true });
    expect(fast).toMatchObject({ decision: "deny", errors: [] });
    expect(slow).toEqual(fast);
    expect(explain!.rules[0]!.when!.item).toBe(1);
  });

  it("is not spent by the explanation's reasons of rules that matched but did not decide", () => {
    const rs = rules(
      `on-error review\ndefault allow "fine"
rule a { when true review "{count(e in engines where true)} engines" }
rule b { when true deny "{count(e in engines where true)} engines" }`,
      { limits: { maxEvaluationSteps: 3 } },
    );
    const fast = decide(rs, { engines: engines(3) });
    const { explain, ...slow } = decide(rs, { engines: engines(3) }, { explain: true });
    expect(fast).toMatchObject({ decision: "deny", rule: "b", reason: "3 engines", errors: [] });
    expect(slow).toEqual(fast);
    // rendered after the decision, with what was left: b's again fits, a's no longer does
    expect(explain!.rules.map((r) => r.reason)).toEqual([undefined, "3 engines"]);
  });

  /*
   * A rule with a loop is never indexed: skipped by the index on the fast path but evaluated by the
   * explanation (which evaluates every rule of a small rule set), its budget error would appear in
   * one and not the other. Here `vendor` is absent, so the indexed condition is unknown and the
   * explanation goes on to the loop.
   */
  it("a rule that can run out of budget is never skipped by the rule index", () => {
    const indexed = Array.from(
      { length: 16 },
      (_, i) =>
        `rule k${i} { when vendor.name == "v${i}" and any e in engines: any f in engines: e.engine != f.engine and e.result == f.result deny "k${i}" }`,
    ).join("\n");
    const rs = rules(`on-error review\ndefault allow "fine"\n${indexed}`);
    const fast = decide(rs, { engines: manyEngines });
    const { explain: _, ...slow } = decide(rs, { engines: manyEngines }, { explain: true });
    expect(fast.errors.map((e) => e.code)).toContain("evaluation_budget_exceeded");
    expect(slow).toEqual(fast);
  });
});
