import { describe, expect, it } from "vitest";
import { renderHtml } from "../src/render-html.js";
import { code, MARKDOWN_MAX_CHARS, renderMarkdown, text } from "../src/render-markdown.js";
import type { DryRunReport } from "../src/report.js";
import {
  build,
  change,
  HOSTILE_NAME,
  HOSTILE_REASON,
  hostile,
  manyChanges,
  noBaseline,
  withBaseline,
  zeroChanges,
} from "./fixtures/reports.js";

const SHA0 = withBaseline().changes[0]!.sha256.slice(0, 12);

interface Case {
  name: string;
  report: () => DryRunReport;
  /** whole lines the Markdown must contain */
  lines: string[];
  /** substrings it must not contain */
  absent?: string[];
}

const cases: Case[] = [
  {
    name: "with a baseline",
    report: withBaseline,
    lines: [
      "## Clearance dry-run",
      "**1,000 records read**: 990 decided, 6 invalid, 4 malformed. **7 decisions changed** (0.7% of decided) against the baseline.",
      "❌ **`--fail-on` triggered** by allow → deny (4), review → allow (1) (watching allow → deny, review → allow, deny → allow).",
      "- **Candidate**: `rules` · acme-approvals · revision `2026.11.2` · commit `4f1c2d3e4f5a` (dirty) · 6 rules",
      "- **Baseline**: `rules @ main` · acme-approvals · revision `2026.11.1` · commit `9a8b7c6d5e4f` · 6 rules",
      "- **Sources**: `examples/history/results.ndjson`, `examples/history/vt/`",
      "| outcome | candidate | baseline | change |",
      "| allow | 581 | 586 | −5 |",
      "| deny | 155 | 151 | +4 |",
      "| review | 254 | 253 | +1 |",
      "| baseline ↓ candidate → | allow | deny | review |",
      "| **allow** | 580 | **4** | **2** |",
      "| **deny** | 0 | 151 | 0 |",
      "| **review** | **1** | 0 | 252 |",
      "**allow → deny: 4**",
      `| setup-7.2.exe | \`${SHA0}\` | \`allow_rule\` → \`deny_rule_v2\` | candidate says deny |`,
      "| _… and 1 more_ | | | |",
      "**allow → review: 2**",
      "| _(no name)_ | `" +
        withBaseline().changes[5]!.sha256.slice(0, 12) +
        "` | `allow_rule` → `review_rule_v2` | candidate says review |",
      "**review → allow: 1**",
      "| `low_trust_score` | review | 210 | 160 | 3 | −1 |",
      "| `new_vendor_watch` | review (monitor) | 35 | 0 | 0 | new |",
      "| `trusted_vendor` | allow | 610 | 590 | 0 | −6 |",
      "Rules only in the baseline: `old_vendor_list`.",
      "### Rules that never matched (1)",
      "`legacy_installer`.",
      "3 errors in 1 rule.",
      "| `low_trust_score` | 3 |",
      "### Invalid records (6)",
      "- `examples/history/results.ndjson:100` `/trust/score`: must be a number (+1 more)",
      "### Malformed records (4)",
      "- `examples/history/broken.ndjson:7` Unexpected end of JSON input",
    ],
    absent: ["No baseline", "| `legacy_installer` |", "**deny → allow"],
  },
  {
    name: "without a baseline",
    report: noBaseline,
    lines: [
      "**990 records read**: 990 decided, 0 invalid, 0 malformed.",
      "| outcome | candidate | share |",
      "| allow | 580 | 59% |",
      "| deny | 160 | 16% |",
      "| review | 250 | 25% |",
      "_No baseline: run with `--baseline <git-ref | dir>` to see which decisions change._",
      "- **Candidate**: `rules` · acme-approvals · revision `2026.11.2` · commit `4f1c2d3e4f5a` (dirty) · 6 rules",
      "| rule | action | matched | deciding | errors |",
      "| `known_malware` | deny | 120 | 120 | 0 |",
    ],
    absent: [
      "### Transitions",
      "### Changed decisions",
      "Baseline**",
      "fail-on",
      "Invalid records",
    ],
  },
  {
    name: "zero changes",
    report: zeroChanges,
    lines: [
      "**1,000 records read**: 1,000 decided, 0 invalid, 0 malformed. **No decision changed** against the baseline.",
      "✅ `--fail-on` not triggered (watching allow → deny).",
      "| **allow** | 600 | 0 | 0 |",
      "| allow | 600 | 600 | 0 |",
    ],
    absent: ["### Changed decisions", "**0**"],
  },
  {
    name: "many changes, capped",
    report: manyChanges,
    lines: [
      "**616,012 records read**: 576,000 decided, 40,000 invalid, 12 malformed. **6,000 decisions changed** (1.0% of decided) against the baseline.",
      "**allow → deny: 1,000**",
      "| _… and 997 more_ | | | |",
      "_The full report lists 2,000 of the 6,000 changed records._",
      "_… and 33 more rules with hits._",
      "- **Sources**: `history/part-0.ndjson.gz`, `history/part-1.ndjson.gz`, `history/part-2.ndjson.gz`, `history/part-3.ndjson.gz`, `history/part-4.ndjson.gz` and 7 more",
      "_… and 2 more rules with errors._",
      "The first 5:",
    ],
  },
  {
    name: "hostile strings",
    report: hostile,
    lines: [
      "| \\<script\\>alert\\(1\\)\\</script\\> | `" +
        hostile().changes[0]!.sha256.slice(0, 12) +
        "` | `allow_rule` → `evil\\|rule` | \\</script\\>\\<script\\>alert\\(2\\)\\</script\\> \\| pipe \\| \\`tick\\` \\& done |",
      "| a\\|b\\|c.exe | `" +
        hostile().changes[1]!.sha256.slice(0, 12) +
        "` | `allow_rule` → `deny_rule_v2` | candidate says deny |",
      "| \\`\\`double\\`\\`ticks\\`.exe | `" +
        hostile().changes[2]!.sha256.slice(0, 12) +
        "` | `allow_rule` → `deny_rule_v2` | candidate says deny |",
      "| `` `x` `` | review (monitor) | 2 | 0 | 0 | 0 |",
      "`` <never>\\|`matched` ``.",
      "- **Candidate**: `rules` · \\</title\\>\\<script\\>alert\\(6\\)\\</script\\> · revision `2026.11.2` · commit `4f1c2d3e4f5a` (dirty) · 2 rules",
      "- **Sources**: `<img src=x onerror=alert(5)>.ndjson`, ``pipes\\|and`ticks`.json``",
    ],
    absent: ["<script>", "\u2028"],
  },
];

/** Cells of a Markdown table row: split on pipes that are not backslash-escaped. */
function cells(line: string): number {
  return line.split(/(?<!\\)\|/).length;
}

describe("renderMarkdown", () => {
  it.each(cases)("$name: contains the expected lines", ({ report, lines, absent }) => {
    const md = renderMarkdown(report());
    const all = new Set(md.split("\n"));
    for (const line of lines) expect(all, `missing line:\n${line}\n\nin:\n${md}`).toContain(line);
    for (const s of absent ?? []) expect(md).not.toContain(s);
  });

  it.each(cases)("$name: every table row has its header's cell count", ({ report }) => {
    const lines = renderMarkdown(report()).split("\n");
    let header = 0;
    for (const [i, line] of lines.entries()) {
      if (!line.startsWith("|")) {
        header = 0;
        continue;
      }
      if (header === 0) {
        header = cells(line);
        expect(lines[i + 1], "a header row is followed by its delimiter row").toMatch(
          /^\|( -{3}:? \|)+$/,
        );
      }
      expect(cells(line), line).toBe(header);
    }
  });

  it.each(cases)("$name: fits a pull-request comment", ({ report }) => {
    const md = renderMarkdown(report());
    expect(md.length).toBeLessThan(20_000);
    expect(md.endsWith("\n")).toBe(true);
  });

  it("shows at most three examples per changed transition", () => {
    const md = renderMarkdown(manyChanges());
    const exampleRows = md.split("\n").filter((l) => /^\| file-\d{5}\.exe \|/.test(l));
    expect(exampleRows).toHaveLength(6 * 3);
  });

  it("takes examples from the changes table when a transition kept none", () => {
    const r = withBaseline();
    for (const t of r.transitions) t.examples = [];
    expect(renderMarkdown(r)).toContain("| setup-7.2.exe |");
  });

  it("stays under the comment limit whatever the length of user text", () => {
    const long = "x|`".repeat(3_000);
    const r = build({
      matrix: {
        allow: { allow: 1, deny: 40, review: 40 },
        deny: { allow: 40, deny: 1, review: 40 },
        review: { allow: 40, deny: 40, review: 1 },
      },
      changes: Array.from({ length: 240 }, (_, i) =>
        change(
          i,
          (["allow", "deny", "review"] as const)[i % 3]!,
          (["deny", "review", "allow"] as const)[i % 3]!,
          long,
        ),
      ),
      rules: Array.from({ length: 500 }, (_, i) => ({
        rule: `${long}${i}`,
        action: "deny" as const,
        monitor: false,
        matched: 1,
        deciding: 1,
        errors: 1,
      })),
      neverMatched: Array.from({ length: 500 }, () => long),
      sources: [long, long, long],
    });
    r.candidate.source = long;
    const md = renderMarkdown(r);
    expect(md.length).toBeLessThanOrEqual(MARKDOWN_MAX_CHARS);
    expect(md.length).toBeLessThan(65_536);
  });

  it.each([
    ["a|b", "a\\|b"],
    ["`x`", "\\`x\\`"],
    ["<b>*x*</b>", "\\<b\\>\\*x\\*\\</b\\>"],
    ["line\nbreak", "line break"],
    ["y".repeat(300), `${"y".repeat(199)}…`],
  ])("text(%j) is inert Markdown", (input, expected) => {
    expect(text(input)).toBe(expected);
  });

  it.each([
    ["plain", "`plain`"],
    ["a|b", "`a\\|b`"],
    ["`x`", "`` `x` ``"],
    ["a``b", "```a``b```"],
    ["", "` `"],
  ])("code(%j) is a closed code span", (input, expected) => {
    expect(code(input)).toBe(expected);
  });
});

// ---------------------------------------------------------------------------------------------

const htmlCases: {
  name: string;
  report: () => DryRunReport;
  testids: string[];
  notTestids: string[];
}[] = [
  {
    name: "with a baseline",
    report: withBaseline,
    testids: [
      "outcomes-chart",
      "transition-heatmap",
      "rule-hits-chart",
      "changes-table",
      "changes-search",
      "changes-transition",
      "fail-on",
    ],
    notTestids: ["no-baseline-note", "no-changes"],
  },
  {
    name: "without a baseline",
    report: noBaseline,
    testids: ["outcomes-chart", "rule-hits-chart", "no-baseline-note"],
    notTestids: [
      "transition-heatmap",
      "changes-table",
      "changes-search",
      "heatmap-cell",
      "fail-on",
    ],
  },
  {
    name: "zero changes",
    report: zeroChanges,
    testids: ["outcomes-chart", "transition-heatmap", "rule-hits-chart", "no-changes"],
    notTestids: ["changes-table", "no-baseline-note"],
  },
  {
    name: "many changes",
    report: manyChanges,
    testids: ["outcomes-chart", "transition-heatmap", "rule-hits-chart", "changes-table"],
    notTestids: ["no-baseline-note"],
  },
  {
    name: "hostile strings",
    report: hostile,
    testids: ["outcomes-chart", "transition-heatmap", "changes-table"],
    notTestids: [],
  },
];

function embedded(html: string): string {
  const m = html.match(/<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/);
  expect(m, "the report JSON is embedded").not.toBeNull();
  return m![1]!;
}

function countOf(html: string, s: string): number {
  return html.split(s).length - 1;
}

describe("renderHtml", () => {
  it.each(htmlCases)("$name: is a self-contained page", ({ report }) => {
    const html = renderHtml(report());
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/url\s*\(|@import|\/\/[a-z0-9.-]+\.[a-z]{2,}\//i);
    // The only elements that could load something: one data: favicon, our two scripts.
    expect(
      html.match(/<(img|iframe|object|embed|audio|video|source|link|frame)\b[^>]*>/gi),
    ).toEqual(['<link rel="icon" href="data:,">']);
    expect(countOf(html, "<script")).toBe(2);
    expect(countOf(html, "</script>")).toBe(2);
    expect(html).toContain("default-src 'none'");
  });

  it.each(htmlCases)("$name: embeds the report as valid JSON", ({ report }) => {
    const r = report();
    const json = embedded(renderHtml(r));
    expect(json).not.toContain("<");
    expect(JSON.parse(json)).toEqual(r);
  });

  it.each(htmlCases)("$name: has the expected sections", ({ report, testids, notTestids }) => {
    const html = renderHtml(report());
    for (const id of testids) expect(html).toContain(`data-testid="${id}"`);
    for (const id of notTestids) expect(html).not.toContain(`data-testid="${id}"`);
  });

  it("draws grouped outcome bars, nine heat-map cells and two bars per rule", () => {
    const html = renderHtml(withBaseline());
    expect(countOf(html, 'data-testid="outcome-bar"')).toBe(6);
    expect(countOf(html, 'data-testid="heatmap-cell"')).toBe(9);
    expect(countOf(html, 'data-testid="heatmap-cell" class="cell changed"')).toBe(3);
    expect(html).toContain('data-from="allow" data-to="deny" data-count="4" data-changed="true"');
    expect(countOf(html, 'data-testid="rule-bar-matched"')).toBe(6);
    expect(countOf(html, 'data-testid="rule-bar-deciding"')).toBe(6);
    expect(html).toMatch(
      /data-testid="outcome-bar" data-series="candidate" data-outcome="allow" data-count="581"/,
    );
    const single = renderHtml(noBaseline());
    expect(countOf(single, 'data-testid="outcome-bar"')).toBe(3);
    expect(single).not.toContain('data-series="baseline"');
  });

  it("caps the hits-per-rule chart but lists every rule in the table", () => {
    const html = renderHtml(manyChanges());
    expect(countOf(html, 'data-testid="rule-bar-matched"')).toBe(40);
    expect(html).toContain("The 40 rules with the most matches, of 70");
    expect(countOf(html, "<tr><td><code>rule_")).toBe(70);
  });

  it("escapes user text everywhere outside the JSON", () => {
    const r = hostile();
    const html = renderHtml(r);
    const outside = html.replace(embedded(html), "");
    expect(outside).not.toContain(HOSTILE_NAME);
    expect(html).not.toContain(HOSTILE_REASON);
    expect(outside).not.toMatch(/<(img|svg onload|b>)/);
    expect(html).toContain(
      "&lt;/title&gt;&lt;script&gt;alert(6)&lt;/script&gt;".replace("alert(6)", "alert(6)"),
    );
    expect(html).toContain("<code>&lt;img src=x onerror=alert(5)&gt;.ndjson</code>");
    expect(html).toContain("<code>&lt;never&gt;|`matched`</code>");
    expect(html).toContain("&lt;svg onload=alert(7)&gt;");
    expect(html).toContain('data-rule="evil|rule"');
    expect(JSON.parse(embedded(html)).changes[0].fileName).toBe(HOSTILE_NAME);
  });

  it("is about 1 MB for 2,000 changes", () => {
    const html = renderHtml(manyChanges(2_000));
    expect(html.length).toBeGreaterThan(500_000);
    expect(html.length).toBeLessThan(2_000_000);
  });
});
