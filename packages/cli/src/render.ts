import { type Diagnostic, formatDiagnostic, type SourceFile } from "@clearance/dsl";
import type { ConditionTrace, Decision, Explanation, RuleExplanation } from "@clearance/engine";
import { type Output, paint } from "./output.js";

export function renderDiagnostics(
  output: Output,
  diagnostics: readonly Diagnostic[],
  files: ReadonlyMap<string, SourceFile>,
): string {
  return diagnostics
    .map((d) => formatDiagnostic(d, (p) => files.get(p), { color: output.color }))
    .join("\n\n");
}

export function summarizeDiagnostics(diagnostics: readonly Diagnostic[]): string {
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  const warnings = diagnostics.filter((d) => d.severity === "warning").length;
  return `${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}`;
}

const DECISION_STYLE = { allow: "green", deny: "red", review: "yellow" } as const;

export function decisionLabel(output: Output, decision: Decision["decision"]): string {
  return paint(output, ["bold", DECISION_STYLE[decision]], decision.toUpperCase().padEnd(6));
}

/** The human answer to "what was decided, by which rule, and why". */
export function renderDecision(output: Output, d: Decision, title: string): string {
  const lines = [`${decisionLabel(output, d.decision)} ${paint(output, "bold", title)}`];
  lines.push(`  rule     ${d.rule ?? paint(output, "dim", "(default)")}`);
  lines.push(`  reason   ${d.reason}`);
  if (d.matched.length > 0) lines.push(`  matched  ${d.matched.join(", ")}`);
  if (d.monitored.length > 0) lines.push(`  monitor  ${d.monitored.join(", ")}`);
  if (d.exception !== null) lines.push(`  exception ${d.exception}`);
  if (d.approvalForbiddenBy.length > 0)
    lines.push(`  approval forbidden by ${d.approvalForbiddenBy.join(", ")}`);
  for (const e of d.errors)
    lines.push(
      `  ${paint(output, "red", "error")}    ${e.rule}: ${e.message}${e.monitor ? " (monitor rule, not enforced)" : ""}`,
    );
  if (d.explain) lines.push(renderExplanation(output, d.explain));
  return lines.join("\n");
}

const OUTCOME_MARK: Record<RuleExplanation["outcome"], string> = {
  matched: "✓",
  not_matched: "✗",
  unknown: "?",
  expired: "⌛",
  error: "!",
};

export function renderExplanation(output: Output, x: Explanation): string {
  const lines = [
    paint(
      output,
      "dim",
      `  explanation: strategy ${x.strategy}, on-error ${x.onError}, now ${x.now}, decided by ${x.decidedBy}`,
    ),
  ];
  for (const r of x.rules) {
    const where = `${r.location.file}:${r.location.line}`;
    const flags = [r.monitor ? "monitor" : "", r.priority !== 0 ? `priority ${r.priority}` : ""]
      .filter(Boolean)
      .join(", ");
    const status =
      r.outcome === "error"
        ? `error: ${r.error}`
        : r.outcome === "expired"
          ? `expired ${r.expiredAt}`
          : r.outcome.replace("_", " ");
    lines.push(
      `  ${OUTCOME_MARK[r.outcome]} ${r.rule} ${paint(output, "dim", `(${r.action}${flags ? `, ${flags}` : ""}) ${where}`)}: ${status}`,
    );
    if (r.when) renderTrace(output, r.when, "when", 6, lines);
    for (const u of r.unless ?? []) renderTrace(output, u, "unless", 6, lines);
    if (r.reason) lines.push(`      reason: ${r.reason}`);
  }
  if (x.notApplicable > 0)
    lines.push(
      paint(
        output,
        "dim",
        `  ${x.notApplicable} indexed rules did not apply to this input (their sha256 / value lookups missed)`,
      ),
    );
  return lines.join("\n");
}

/**
 * Appends the lines of a condition's trace to `lines` (a chain of a million conditions has a
 * million children: they are appended one by one, never spread as arguments).
 */
function renderTrace(
  output: Output,
  t: ConditionTrace,
  label: string,
  indent: number,
  lines: string[],
): void {
  const pad = " ".repeat(indent);
  const value =
    t.value === null
      ? paint(output, "yellow", "unknown")
      : t.value
        ? paint(output, "green", "true")
        : paint(output, "red", "false");
  const seen = Object.entries(t.fields ?? {})
    .map(([k, v]) => `${k} = ${short(v)}`)
    .join(", ");
  const missing = t.missing?.length
    ? paint(output, "yellow", ` missing: ${t.missing.join(", ")}`)
    : "";
  const item =
    t.item === undefined
      ? ""
      : t.unknownItems !== undefined
        ? ` (${t.unknownItems} ${t.unknownItems === 1 ? "item" : "items"} unknown; the first, item ${t.item}:)`
        : ` (item ${t.item})`;
  const expr = t.expr.length > MAX_TRACE_TEXT ? `${t.expr.slice(0, MAX_TRACE_TEXT)}...` : t.expr;
  lines.push(
    `${pad}${label ? `${label} ` : ""}${expr} -> ${value}${item}${seen ? paint(output, "dim", `  [${seen}]`) : ""}${missing}`,
  );
  for (const c of t.children ?? []) renderTrace(output, c, "", indent + 2, lines);
}

/** Conditions longer than this are shortened with `...` in an explanation: their parts follow. */
const MAX_TRACE_TEXT = 200;

function short(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
