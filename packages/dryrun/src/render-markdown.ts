/**
 * The dry-run's Markdown report (`--report out.md`): a summary short enough to post as a
 * pull-request comment. Every table is capped and every piece of user text (file names, reasons,
 * rule names, sources) is escaped and shortened, so the output stays far below GitHub's
 * 65,536-character comment limit whatever the input (`MARKDOWN_MAX_CHARS` is a hard guard).
 */
import { count, delta, duration, percent, plural } from "./numbers.js";
import {
  type Change,
  type DryRunReport,
  exceptionsSentence,
  type OutcomeCounts,
  type RuleStats,
  type RulesetSummary,
} from "./report.js";

type Action = keyof OutcomeCounts;
const ACTIONS: readonly Action[] = ["allow", "deny", "review"];

/** Examples shown per changed transition. */
export const MARKDOWN_EXAMPLES_PER_TRANSITION = 3;
/** Rows of the rules-with-hits table. */
export const MARKDOWN_MAX_RULES = 30;
/** Names in the never-matched list. */
export const MARKDOWN_MAX_NEVER_MATCHED = 40;
/** Rows of the run-time errors table, and records listed per problem kind. */
export const MARKDOWN_MAX_ERRORS = 15;
export const MARKDOWN_MAX_PROBLEMS = 5;
/** The output never exceeds this (a pull-request comment holds 65,536). */
export const MARKDOWN_MAX_CHARS = 60_000;

/** Render the dry-run report as a pull-request-sized Markdown summary. */
export function renderMarkdown(report: DryRunReport): string {
  const hasBaseline = report.baseline !== null && report.outcomes.baseline !== null;
  const out: string[] = [];
  out.push("## Clearance dry-run", "");
  out.push(headline(report, hasBaseline), "");
  out.push(...failOnSection(report));
  out.push(...revisionsSection(report));
  out.push(...outcomesSection(report));
  const exceptions = exceptionsSentence(report.exceptions);
  // counts and fixed words only: nothing to escape
  if (exceptions) out.push(`**Exceptions**: ${exceptions}.`, "");
  if (hasBaseline) {
    out.push(...matrixSection(report));
    out.push(...examplesSection(report));
  } else {
    out.push(
      "_No baseline: run with `--baseline <git-ref | dir>` to see which decisions change._",
      "",
    );
  }
  out.push(...rulesSection(report));
  out.push(...neverMatchedSection(report));
  out.push(...errorsSection(report));
  out.push(...problemsSection(report));
  out.push(
    `<sub>Report v${report.version} · generated ${text(report.generatedAt, 40)} · records decided at ${text(report.now, 40)} · ${duration(report.totals.durationMs)}</sub>`,
    "",
  );
  let md = out.join("\n");
  if (md.length > MARKDOWN_MAX_CHARS) {
    const cut = md.lastIndexOf("\n", MARKDOWN_MAX_CHARS - 200);
    md = `${md.slice(0, cut)}\n\n_… report truncated to fit a pull-request comment; see the JSON or HTML report._\n`;
  }
  return md;
}

// ---------------------------------------------------------------------------------------------
// Sections

function headline(r: DryRunReport, hasBaseline: boolean): string {
  const t = r.totals;
  const read = `**${count(t.read)} ${plural(t.read, "record")} read**: ${count(t.decided)} decided, ${count(t.invalid)} invalid, ${count(t.malformed)} malformed.`;
  if (!hasBaseline) return read;
  const share = t.decided > 0 ? ` (${percent(r.changed, t.decided)} of decided)` : "";
  const changed =
    r.changed === 0
      ? "**No decision changed** against the baseline."
      : `**${count(r.changed)} ${plural(r.changed, "decision")} changed**${share} against the baseline.`;
  return `${read} ${changed}`;
}

function failOnSection(r: DryRunReport): string[] {
  const { rules, triggered } = r.failOn;
  if (rules.length === 0) return [];
  const watched = rules.map((p) => arrow(p.from, p.to)).join(", ");
  if (triggered.length === 0) return [`✅ \`--fail-on\` not triggered (watching ${watched}).`, ""];
  const which = triggered.map((p) => `${arrow(p.from, p.to)} (${count(p.count)})`).join(", ");
  return [`❌ **\`--fail-on\` triggered** by ${which} (watching ${watched}).`, ""];
}

function revisionsSection(r: DryRunReport): string[] {
  const lines = [`- **Candidate**: ${ruleset(r.candidate)}`];
  if (r.baseline) lines.push(`- **Baseline**: ${ruleset(r.baseline)}`);
  const shown = r.sources.slice(0, 5).map((s) => code(s, 80));
  const more = r.sources.length > 5 ? ` and ${r.sources.length - 5} more` : "";
  if (r.sources.length > 0) lines.push(`- **Sources**: ${shown.join(", ")}${more}`);
  return [...lines, ""];
}

function ruleset(s: RulesetSummary): string {
  const parts = [code(s.source, 100)];
  if (s.name) parts.push(text(s.name, 60));
  if (s.revision) parts.push(`revision ${code(s.revision, 40)}`);
  if (s.commit)
    parts.push(`commit ${code(s.commit.sha.slice(0, 12), 12)}${s.commit.dirty ? " (dirty)" : ""}`);
  parts.push(`${count(s.rules)} ${plural(s.rules, "rule")}`);
  return parts.join(" · ");
}

function outcomesSection(r: DryRunReport): string[] {
  const base = r.outcomes.baseline;
  const lines = ["### Decisions by outcome", ""];
  if (base) {
    lines.push("| outcome | candidate | baseline | change |", "| --- | ---: | ---: | ---: |");
    for (const a of ACTIONS) {
      const c = r.outcomes.candidate[a];
      const b = base[a];
      lines.push(`| ${a} | ${count(c)} | ${count(b)} | ${delta(c - b)} |`);
    }
  } else {
    lines.push("| outcome | candidate | share |", "| --- | ---: | ---: |");
    for (const a of ACTIONS) {
      const c = r.outcomes.candidate[a];
      lines.push(`| ${a} | ${count(c)} | ${percent(c, r.totals.decided)} |`);
    }
  }
  return [...lines, ""];
}

function transitionCount(r: DryRunReport, from: Action, to: Action): number {
  return r.transitions.find((t) => t.from === from && t.to === to)?.count ?? 0;
}

function matrixSection(r: DryRunReport): string[] {
  const lines = [
    "### Transitions",
    "",
    "Rows: baseline decision; columns: candidate decision. Changed decisions in bold.",
    "",
    `| baseline ↓ candidate → | ${ACTIONS.join(" | ")} |`,
    "| --- | ---: | ---: | ---: |",
  ];
  for (const from of ACTIONS) {
    const cells = ACTIONS.map((to) => {
      const n = transitionCount(r, from, to);
      return from !== to && n > 0 ? `**${count(n)}**` : count(n);
    });
    lines.push(`| **${from}** | ${cells.join(" | ")} |`);
  }
  return [...lines, ""];
}

function examplesSection(r: DryRunReport): string[] {
  const changed = r.transitions.filter((t) => t.from !== t.to && t.count > 0);
  if (changed.length === 0) return [];
  const lines = ["### Changed decisions", ""];
  for (const t of changed) {
    lines.push(`**${arrow(t.from, t.to)}: ${count(t.count)}**`, "");
    // The transition's own examples, else the first matching rows of the changes table.
    let examples = t.examples;
    if (examples.length === 0)
      examples = r.changes.filter(
        (c) => c.baseline.decision === t.from && c.candidate.decision === t.to,
      );
    const shown = examples.slice(0, MARKDOWN_EXAMPLES_PER_TRANSITION);
    if (shown.length === 0) {
      lines.push("_(no examples kept)_", "");
      continue;
    }
    lines.push(
      "| file | sha256 | rule (baseline → candidate) | new reason |",
      "| --- | --- | --- | --- |",
    );
    for (const c of shown) lines.push(exampleRow(c));
    if (t.count > shown.length)
      lines.push(`| _… and ${count(t.count - shown.length)} more_ | | | |`);
    lines.push("");
  }
  if (r.changed > r.changes.length && r.changes.length > 0)
    lines.push(
      `_The full report lists ${count(r.changes.length)} of the ${count(r.changed)} changed records._`,
      "",
    );
  return lines;
}

function exampleRow(c: Change): string {
  const file = c.fileName === null ? "_(no name)_" : text(c.fileName, 60);
  const rules = `${ruleName(c.baseline.rule)} → ${ruleName(c.candidate.rule)}`;
  return `| ${file} | ${code(c.sha256.slice(0, 12), 12)} | ${rules} | ${text(c.candidate.reason, 120)} |`;
}

function rulesSection(r: DryRunReport): string[] {
  const hit = r.rules.filter((s) => s.matched > 0 || s.deciding > 0 || s.errors > 0);
  const lines = ["### Rules with hits", ""];
  if (hit.length === 0) return [...lines, "_No rule matched any record._", ""];
  const base = r.baselineRules ? new Map(r.baselineRules.map((s) => [s.rule, s])) : null;
  if (base) {
    lines.push(
      "| rule | action | matched | deciding | errors | deciding vs baseline |",
      "| --- | --- | ---: | ---: | ---: | ---: |",
    );
  } else {
    lines.push(
      "| rule | action | matched | deciding | errors |",
      "| --- | --- | ---: | ---: | ---: |",
    );
  }
  for (const s of hit.slice(0, MARKDOWN_MAX_RULES)) {
    let row = `| ${ruleName(s.rule)} | ${s.action}${s.monitor ? " (monitor)" : ""} | ${count(s.matched)} | ${count(s.deciding)} | ${count(s.errors)} |`;
    if (base) {
      const b = base.get(s.rule);
      row += ` ${b ? delta(s.deciding - b.deciding) : "new"} |`;
    }
    lines.push(row);
  }
  if (hit.length > MARKDOWN_MAX_RULES)
    lines.push("", `_… and ${count(hit.length - MARKDOWN_MAX_RULES)} more rules with hits._`);
  if (r.baselineRules) {
    const names = new Set(r.rules.map((s) => s.rule));
    const removed = r.baselineRules.filter((s) => !names.has(s.rule));
    if (removed.length > 0)
      lines.push(
        "",
        `Rules only in the baseline: ${nameList(
          removed.map((s) => s.rule),
          MARKDOWN_MAX_NEVER_MATCHED,
        )}.`,
      );
  }
  return [...lines, ""];
}

function neverMatchedSection(r: DryRunReport): string[] {
  if (r.neverMatched.length === 0) return [];
  return [
    `### Rules that never matched (${count(r.neverMatched.length)})`,
    "",
    `${nameList(r.neverMatched, MARKDOWN_MAX_NEVER_MATCHED)}.`,
    "",
  ];
}

function errorsSection(r: DryRunReport): string[] {
  const failing: RuleStats[] = r.rules
    .filter((s) => s.errors > 0)
    .sort((a, b) => b.errors - a.errors);
  const lines = ["### Run-time errors", ""];
  if (failing.length === 0) return [...lines, "None.", ""];
  const total = failing.reduce((sum, s) => sum + s.errors, 0);
  lines.push(
    `${count(total)} ${plural(total, "error")} in ${count(failing.length)} ${plural(failing.length, "rule")}.`,
    "",
  );
  lines.push("| rule | errors |", "| --- | ---: |");
  for (const s of failing.slice(0, MARKDOWN_MAX_ERRORS))
    lines.push(`| ${ruleName(s.rule)} | ${count(s.errors)} |`);
  if (failing.length > MARKDOWN_MAX_ERRORS)
    lines.push(
      "",
      `_… and ${count(failing.length - MARKDOWN_MAX_ERRORS)} more rules with errors._`,
    );
  return [...lines, ""];
}

function problemsSection(r: DryRunReport): string[] {
  const lines: string[] = [];
  const kinds = [
    ["Invalid records", r.totals.invalid, r.invalid],
    ["Malformed records", r.totals.malformed, r.malformed],
  ] as const;
  for (const [title, total, list] of kinds) {
    if (total === 0 && list.length === 0) continue;
    const shown = list.slice(0, MARKDOWN_MAX_PROBLEMS);
    lines.push(`### ${title} (${count(total)})`, "");
    if (shown.length === 0) lines.push("_(none kept in the report)_");
    else if (shown.length < total) lines.push(`The first ${shown.length}:`, "");
    for (const p of shown) {
      const first = p.problems[0];
      const what = first
        ? `${first.pointer ? `${code(first.pointer, 60)}: ` : ""}${text(first.message, 120)}`
        : "";
      const more = p.problems.length > 1 ? ` (+${p.problems.length - 1} more)` : "";
      lines.push(`- ${code(`${p.source}:${p.line}`, 100)} ${what}${more}`);
    }
    lines.push("");
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Formatting and escaping

function arrow(from: Action, to: Action): string {
  return `${from} → ${to}`;
}

function ruleName(rule: string | null): string {
  return rule === null ? "_(default)_" : code(rule, 60);
}

function nameList(names: readonly string[], max: number): string {
  const shown = names.slice(0, max).map((n) => code(n, 60));
  return names.length > max
    ? `${shown.join(", ")} and ${count(names.length - max)} more`
    : shown.join(", ");
}

/** Collapse whitespace (a newline would end a table row) and cut to `max` characters. */
function clip(s: string, max: number): string {
  const flat = s.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * User text as inert Markdown: every character that could start markup (emphasis, links, HTML,
 * code spans, table cells) is backslash-escaped, which CommonMark allows for any ASCII punctuation.
 */
export function text(s: string, max = 200): string {
  return clip(s, max).replace(/[\\`*_{}[\]()<>#!|~&$]/g, "\\$&");
}

/**
 * User text as a code span: fenced with more backticks than the text's longest run of them, padded
 * when it starts or ends with one; `|` is still escaped (GitHub splits table cells on it even in
 * code spans, and renders `\|` there as `|`).
 */
export function code(s: string, max = 200): string {
  const body = clip(s, max).replace(/\|/g, "\\|");
  if (body === "") return "` `";
  const longest = Math.max(0, ...(body.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(longest + 1);
  const pad = body.startsWith("`") || body.endsWith("`") ? " " : "";
  return `${fence}${pad}${body}${pad}${fence}`;
}
