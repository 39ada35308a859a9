// The Rules page's logic under Node: the highlighter, and what the page computes from the API's
// answers. Its keyword list is @clearance/codemirror-lang's, tested against the DSL's there.
import { describe, expect, it } from "vitest";
import type { ExceptionView, Hits, RuleInfo } from "../src/api.js";
import { tokenize, tokenizeLine } from "../src/rules/highlight.js";
import {
  denseSeries,
  expiringExceptions,
  expiringRules,
  fromNow,
  hitsQuery,
  neverMatched,
  RANGES,
  rangeOf,
  sortRules,
} from "../src/rules/model.js";
import { relativePaths } from "../src/rules/parts.js";

describe("tokenizeLine", () => {
  const kinds = (line: string) =>
    tokenizeLine(line)
      .filter((t) => t.kind !== "text")
      .map((t) => `${t.kind}:${t.text}`);

  it.each([
    [
      "rule malware priority 100 {",
      ["keyword:rule", "name:malware", "keyword:priority", "number:100"],
    ],
    [
      '  deny "flagged by {n} engines" # why',
      ["keyword:deny", 'string:"flagged by {n} engines"', "comment:# why"],
    ],
    [
      "when e.result matches /ransom|lock\\/bit/i",
      ["keyword:when", "name:e", "name:result", "keyword:matches", "regex:/ransom|lock\\/bit/i"],
    ],
    ["x / 2 > 1", ["name:x", "number:2", "number:1"]],
    ["strategy deny-overrides", ["keyword:strategy", "keyword:deny-overrides"]],
    ["when x.count > 3", ["keyword:when", "name:x", "name:count", "number:3"]],
    [
      "expires 2027-01-31 when age(firstSeen) < 24h",
      [
        "keyword:expires",
        "number:2027-01-31",
        "keyword:when",
        "name:age",
        "name:firstSeen",
        "number:24h",
      ],
    ],
    ['"a \\" # not a comment"', ['string:"a \\" # not a comment"']],
    ["denylist inputs", ["name:denylist", "keyword:inputs"]],
    ["<script>alert(1)</script>", ["name:script", "name:alert", "number:1", "name:script"]],
  ])("%s", (line, want) => {
    expect(kinds(line)).toEqual(want);
  });

  it("keeps every character, in order", () => {
    const text = 'rule a {\n  when x matches /a[/]b/ and y == "q\\"" # c\n  allow "ok"\n}';
    expect(
      tokenize(text)
        .map((l) => l.map((t) => t.text).join(""))
        .join("\n"),
    ).toBe(text);
  });

  it("reads a regex after `matches` at the end of the line before", () => {
    const [, second] = tokenize("when x matches\n  /abc/");
    expect(second!.filter((t) => t.kind === "regex").map((t) => t.text)).toEqual(["/abc/"]);
  });
});

const rule = (name: string, extra: Partial<RuleInfo> = {}): RuleInfo => ({
  name,
  action: "deny",
  monitor: false,
  priority: 0,
  location: { file: "/r/threats.rules", line: 1, column: 6 },
  ...extra,
});

const counts = (c: Partial<Record<string, number>>) => ({
  allow: 0,
  deny: 0,
  review: 0,
  matched: 0,
  monitored: 0,
  disagreements: 0,
  ...c,
});

const HITS: Hits = {
  from: "2026-12-01T00:00:00.000Z",
  to: "2026-12-02T00:00:00.000Z",
  bucket: "6h",
  bucketSeconds: 21600,
  bucketCount: 4,
  rules: [
    {
      rule: "malware",
      totals: counts({ deny: 5, matched: 7 }),
      buckets: [
        { at: "2026-12-01T06:00:00.000Z", ...counts({ deny: 2, matched: 3 }) },
        { at: "2026-12-01T18:00:00.000Z", ...counts({ deny: 3, matched: 4 }) },
      ],
    },
    { rule: "watch", totals: counts({ monitored: 9 }), buckets: [] },
    { rule: null, totals: counts({ review: 2 }), buckets: [] },
  ],
};

describe("what the page computes", () => {
  it("fills the buckets the API left out with zeros", () => {
    const { times, values } = denseSeries(HITS, HITS.rules[0]);
    expect(times).toEqual([0, 1, 2, 3].map((i) => Date.parse(HITS.from) / 1000 + i * 21600));
    expect(values.matched).toEqual([0, 3, 0, 4]);
    expect(values.deny).toEqual([0, 2, 0, 3]);
    expect(values.allow).toEqual([0, 0, 0, 0]);
    expect(denseSeries(HITS, undefined).values.deny).toEqual([0, 0, 0, 0]);
  });

  it("sorts by hits (monitor matches count), name or priority", () => {
    const rules = [
      rule("b"),
      rule("malware"),
      rule("watch", { monitor: true }),
      rule("a", { priority: 9 }),
    ];
    expect(sortRules(rules, HITS, "hits").map((r) => r.name)).toEqual([
      "watch",
      "malware",
      "a",
      "b",
    ]);
    expect(sortRules(rules, HITS, "name").map((r) => r.name)).toEqual([
      "a",
      "b",
      "malware",
      "watch",
    ]);
    expect(sortRules(rules, HITS, "priority")[0]!.name).toBe("a");
  });

  it("lists the live rules that matched nothing, monitor matches counting as matches", () => {
    const rules = [rule("malware"), rule("watch", { monitor: true }), rule("idle")];
    expect(neverMatched(rules, HITS).map((r) => r.name)).toEqual(["idle"]);
  });

  it("lists what expires within 14 days, soonest first, the expired too", () => {
    const now = Date.parse("2026-12-01T00:00:00Z");
    const rules = [
      rule("later", { expires: "2026-12-30T00:00:00.000Z" }),
      rule("soon", { expires: "2026-12-10T00:00:00.000Z" }),
      rule("gone", { expires: "2026-11-30T00:00:00.000Z" }),
      rule("never"),
    ];
    expect(expiringRules(rules, now).map((r) => r.name)).toEqual(["gone", "soon"]);
    const ex = (id: string, expires: string | null, state: ExceptionView["state"] = "active") =>
      ({
        id,
        kind: "file",
        scope: { sha256: "0" },
        expires,
        justification: "",
        state,
      }) as ExceptionView;
    expect(
      expiringExceptions(
        [
          ex("a", "2026-12-05T00:00:00Z"),
          ex("b", null),
          ex("c", "2026-12-02T00:00:00Z"),
          ex("d", "2026-12-03T00:00:00Z", "revoked"),
          ex("e", "2027-01-01T00:00:00Z"),
        ],
        now,
      ).map((e) => e.id),
    ).toEqual(["c", "a"]);
  });

  it.each([
    ["2026-12-04T00:00:00Z", "in 3 days"],
    ["2026-12-01T01:00:00Z", "in 1 hour"],
    ["2026-11-29T00:00:00Z", "2 days ago"],
    ["2026-12-01T00:00:20Z", "in 1 minute"],
  ])("says %s is %s", (time, words) => {
    expect(fromNow(time, Date.parse("2026-12-01T00:00:00Z"))).toBe(words);
  });

  it("reads the range from the address, 24 hours unless it names another", () => {
    expect(rangeOf(new URLSearchParams("range=7d")).id).toBe("7d");
    expect(rangeOf(new URLSearchParams("range=1y")).id).toBe("24h");
    expect(rangeOf(new URLSearchParams("")).id).toBe("24h");
    const now = Date.parse("2026-12-01T00:00:00Z");
    expect(hitsQuery(RANGES[2], now)).toEqual({
      from: "2026-11-01T00:00:00.000Z",
      to: "2026-12-01T00:00:00.000Z",
      bucket: "1d",
    });
  });

  it("writes rule files' paths without their rule set's directory", () => {
    const rel = relativePaths({ dir: "/srv/rules", shadow: { dir: "/srv/next/" } });
    expect(rel("/srv/rules/threats.rules")).toBe("threats.rules");
    expect(rel("/srv/next/a/b.rules")).toBe("a/b.rules");
    expect(rel("/elsewhere/x.rules")).toBe("/elsewhere/x.rules");
  });
});
