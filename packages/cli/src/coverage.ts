import { lineText, positionAt, type SourceFile } from "@clearance/dsl";
import type { ConditionSite, ConditionTrace, Explanation } from "@clearance/engine";
import { type Output, paint } from "./output.js";

/**
 * Condition coverage for `clearance test --coverage`: for every atomic condition of every rule
 * (`Ruleset.conditions()`: the operands of the `and`, `or` and `not` of a `when` or an `unless`),
 * how many test cases saw it true, false and unknown.
 *
 * The values come from the engine's own explanations (`decide` with `explain` and `conditions`),
 * not from a second evaluator: what is counted is what the rules did. A condition that was not
 * evaluated in a case (an `and` already false, an `unless` of a rule whose `when` was false, an
 * expired rule, a rule that failed) counts nothing for that case, as in MC/DC: only a value the
 * condition actually took can show that a test exercises it.
 */

export interface ConditionCounts {
  true: number;
  false: number;
  unknown: number;
}

/** One condition in the report: where it is, and how often each value was seen. */
export interface ConditionEntry extends ConditionCounts {
  rule: string;
  clause: "when" | "unless";
  unless?: number;
  expr: string;
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  span: { start: number; end: number };
  /** the values a complete test suite shows and this one never did: `true`, `false` or both */
  missing: ("true" | "false")[];
}

export interface ConditionCoverageReport {
  /** how many atomic conditions the rules have */
  conditions: number;
  /** outcomes to see: true and false for each condition */
  outcomes: number;
  /** outcomes seen by some case */
  covered: number;
  /** covered / outcomes, rounded down to one decimal; 100 without conditions */
  percent: number;
  /** every condition, in declaration order, with its counts */
  details: ConditionEntry[];
}

const spanKey = (s: { file: string; start: number; end: number }) =>
  `${s.file}\u0000${s.start}\u0000${s.end}`;

export class ConditionCoverage {
  private readonly counts = new Map<string, ConditionCounts>();

  constructor(private readonly sites: readonly ConditionSite[]) {
    for (const s of sites) this.counts.set(spanKey(s.span), { true: 0, false: 0, unknown: 0 });
  }

  /** Counts the conditions of one case's explanation (decided with `conditions: true`). */
  record(explanation: Explanation): void {
    for (const rule of explanation.rules) {
      if (rule.when) this.walk(rule.when);
      for (const u of rule.unless ?? []) this.walk(u);
    }
  }

  private walk(node: ConditionTrace): void {
    const counts = node.span ? this.counts.get(spanKey(node.span)) : undefined;
    if (counts) {
      if (node.value === true) counts.true++;
      else if (node.value === false) counts.false++;
      else counts.unknown++;
      // An atom's children are a loop's deciding item: its inner conditions are not counted
      // (see ConditionSite), so there is nothing below it to find.
      return;
    }
    for (const child of node.children ?? []) this.walk(child);
  }

  report(files: ReadonlyMap<string, SourceFile>): ConditionCoverageReport {
    const details = this.sites.map((site): ConditionEntry => {
      const counts = this.counts.get(spanKey(site.span))!;
      const file = files.get(site.span.file);
      const at = (offset: number) =>
        file ? positionAt(file, Math.min(offset, file.text.length)) : { line: 1, column: 1 };
      const start = at(site.span.start);
      const end = at(site.span.end);
      const missing: ("true" | "false")[] = [];
      if (counts.true === 0) missing.push("true");
      if (counts.false === 0) missing.push("false");
      return {
        rule: site.rule,
        clause: site.clause,
        ...(site.unless === undefined ? {} : { unless: site.unless }),
        expr: site.expr,
        file: site.span.file,
        line: start.line,
        column: start.column,
        endLine: end.line,
        endColumn: end.column,
        span: { start: site.span.start, end: site.span.end },
        ...counts,
        missing,
      };
    });
    const outcomes = details.length * 2;
    const covered = details.reduce((k, d) => k + 2 - d.missing.length, 0);
    return {
      conditions: details.length,
      outcomes,
      covered,
      percent: percentOf(covered, outcomes),
      details,
    };
  }
}

/** `part / whole` as a percentage rounded down to one decimal (100 for nothing to cover). */
export function percentOf(part: number, whole: number): number {
  return whole === 0 ? 100 : Math.floor((part / whole) * 1000) / 10;
}

/**
 * The report for people: the summary line, then each condition a test never made true or never
 * made false, with a code frame under it so the author sees which branch is missing a case.
 */
export function renderConditionCoverage(
  output: Output,
  report: ConditionCoverageReport,
  files: ReadonlyMap<string, SourceFile>,
): string {
  const incomplete = report.details.filter((d) => d.missing.length > 0);
  const lines = [
    `condition coverage: ${report.covered}/${report.outcomes} outcomes of ${report.conditions} conditions seen (${report.percent}%)${incomplete.length ? `; ${incomplete.length} never true or never false:` : ""}`,
  ];
  for (const d of incomplete) {
    lines.push("");
    const where = d.clause === "when" ? "when" : `unless #${d.unless! + 1}`;
    lines.push(
      `${paint(output, ["bold", "yellow"], label(d))}: \`${d.expr}\` in rule ${d.rule} (${where}; true ${d.true}, false ${d.false}, unknown ${d.unknown})`,
    );
    lines.push(...frame(output, d, files.get(d.file)));
  }
  return lines.join("\n");
}

function label(d: ConditionEntry): string {
  if (d.missing.length === 1) return `never ${d.missing[0]}`;
  return d.unknown > 0 ? "only unknown" : "never evaluated";
}

/** Lines longer than this are shown around the condition, as diagnostics' code frames do. */
const MAX_FRAME_COLUMNS = 160;

function frame(output: Output, d: ConditionEntry, file: SourceFile | undefined): string[] {
  const arrow = `  --> ${d.file}:${d.line}:${d.column}`;
  if (!file) return [arrow];
  let text = lineText(file, d.line);
  let caret = d.column - 1;
  // A condition written over several lines is underlined to the end of its first line.
  let width = Math.max(1, d.endLine === d.line ? d.endColumn - d.column : text.length - caret);
  if (text.length > MAX_FRAME_COLUMNS) {
    const from = Math.max(0, Math.min(caret - 40, text.length - MAX_FRAME_COLUMNS));
    const to = Math.min(text.length, from + MAX_FRAME_COLUMNS);
    const before = from > 0 ? "..." : "";
    text = `${before}${text.slice(from, to)}${to < text.length ? "..." : ""}`;
    caret = before.length + caret - from;
    width = Math.max(1, Math.min(width, text.length - caret));
  }
  const number = String(d.line);
  const pad = " ".repeat(number.length);
  const gutter = (s: string) => paint(output, ["bold", "blue"], s);
  // Tabs keep their width under the caret so it lines up in any terminal.
  const lead = text.slice(0, caret).replace(/[^\t]/g, " ");
  return [
    `${pad}${gutter("-->")} ${d.file}:${d.line}:${d.column}`,
    `${pad} ${gutter("|")}`,
    `${gutter(`${number} |`)} ${text}`,
    `${pad} ${gutter("|")} ${lead}${paint(output, "yellow", "^".repeat(width))}`,
  ];
}
