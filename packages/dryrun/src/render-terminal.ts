import { count } from "./numbers.js";
import { type DryRunReport, exceptionsSentence } from "./report.js";

/** The terminal summary of a dry-run: totals, outcomes, rules, and with a baseline what changed. */
export function renderTerminal(
  r: DryRunReport,
  style: (s: "bold" | "dim" | "red" | "green" | "yellow", t: string) => string = (_s, t) => t,
): string {
  const out: string[] = [];
  const t = r.totals;
  out.push(style("bold", "Totals"));
  out.push(
    `  read ${count(t.read)} = decided ${count(t.decided)} + invalid ${count(t.invalid)} + malformed ${count(t.malformed)}   (${(t.durationMs / 1000).toFixed(1)} s, ${count(Math.round((t.read / Math.max(1, t.durationMs)) * 1000))} records/s)`,
  );
  out.push(style("bold", "\nDecisions"));
  for (const a of ["allow", "deny", "review"] as const) {
    const c = r.outcomes.candidate[a];
    const b = r.outcomes.baseline?.[a];
    const delta =
      b === undefined ? "" : `   (baseline ${count(b)}, ${c - b >= 0 ? "+" : ""}${count(c - b)})`;
    out.push(`  ${a.padEnd(7)} ${count(c).padStart(10)}${delta}`);
  }
  const exceptions = exceptionsSentence(r.exceptions);
  if (exceptions) out.push(`${style("bold", "\nExceptions")}\n  ${exceptions}`);
  out.push(style("bold", "\nRules") + style("dim", "   matched / deciding / errors"));
  const width = Math.max(8, ...r.rules.map((x) => x.rule.length));
  for (const x of r.rules) {
    out.push(
      `  ${x.rule.padEnd(width)} ${count(x.matched).padStart(9)} ${count(x.deciding).padStart(9)} ${count(x.errors).padStart(7)}  ${style("dim", `${x.action}${x.monitor ? ", monitor" : ""}`)}`,
    );
  }
  if (r.neverMatched.length > 0)
    out.push(style("yellow", `  never matched: ${r.neverMatched.join(", ")}`));
  const failing = r.rules.filter((x) => x.errors > 0);
  if (failing.length > 0)
    out.push(
      style(
        "red",
        `  run-time errors: ${failing.map((x) => `${x.rule} ${count(x.errors)}`).join(", ")}`,
      ),
    );
  for (const p of [
    ...r.malformed.slice(0, 5).map((m) => ({ ...m, kind: "malformed" })),
    ...r.invalid.slice(0, 5).map((m) => ({ ...m, kind: "invalid" })),
  ]) {
    out.push(
      style(
        "dim",
        `  ${p.kind} ${p.source}:${p.line}: ${p.problems.map((q) => `${q.pointer ? `${q.pointer} ` : ""}${q.message}`).join("; ")}`,
      ),
    );
  }
  if (r.baseline) {
    out.push(
      style(
        "bold",
        `\nChanges against ${r.baseline.source} (${r.baseline.revision}${r.baseline.commit ? `, ${r.baseline.commit.sha.slice(0, 12)}` : ""})`,
      ),
    );
    if (r.changed === 0) out.push("  no decision changes");
    for (const tr of r.transitions) {
      if (tr.from === tr.to || tr.count === 0) continue;
      out.push(`  ${style("bold", `${tr.from} -> ${tr.to}`)}: ${count(tr.count)}`);
      for (const e of tr.examples.slice(0, 3)) {
        out.push(
          style(
            "dim",
            `    ${e.fileName ?? "(no name)"} ${e.sha256.slice(0, 12)}  ${e.baseline.rule ?? "default"} -> ${e.candidate.rule ?? "default"}: ${e.candidate.reason}`,
          ),
        );
      }
    }
  }
  if (r.failOn.triggered.length > 0) {
    out.push(
      style(
        "red",
        `\n--fail-on: ${r.failOn.triggered.map((f) => `${f.from}->${f.to} (${count(f.count)})`).join(", ")}`,
      ),
    );
  }
  return out.join("\n");
}
