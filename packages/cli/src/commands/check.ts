import { hasErrors } from "@clearance/dsl";
import { loadRuleset } from "@clearance/engine";
import { parseNow } from "../io.js";
import { type Output, paint } from "../output.js";
import { renderDiagnostics, summarizeDiagnostics } from "../render.js";

export interface CheckOptions {
  format: "text" | "json";
  now?: string;
}

/** `clearance check [dir]`: parse and type-check; exit 1 on errors, warnings are printed. */
export function checkCommand(output: Output, dir: string, options: CheckOptions): number {
  const now = parseNow(options.now);
  const result = loadRuleset(dir, now === undefined ? {} : { now });
  const failed = hasErrors(result.diagnostics) || !result.ruleset;
  if (options.format === "json") {
    const rs = result.ruleset;
    output.out(
      JSON.stringify(
        {
          ok: !failed,
          diagnostics: result.diagnostics,
          ...(rs
            ? {
                ruleset: {
                  name: rs.name ?? null,
                  revision: rs.revision,
                  commit: rs.commit ?? null,
                  rules: rs.rules,
                },
              }
            : {}),
        },
        null,
        2,
      ),
    );
    return failed ? 1 : 0;
  }
  if (result.diagnostics.length > 0)
    output.err(`${renderDiagnostics(output, result.diagnostics, result.files)}\n`);
  if (failed) {
    output.err(
      paint(output, ["bold", "red"], `✗ ${dir}: ${summarizeDiagnostics(result.diagnostics)}`),
    );
    return 1;
  }
  const rs = result.ruleset!;
  const files = new Set(rs.rules.map((r) => r.location.file)).size;
  const commit = rs.commit
    ? `, commit ${rs.commit.sha.slice(0, 12)}${rs.commit.dirty ? " (dirty)" : ""}`
    : "";
  output.out(
    `${paint(output, ["bold", "green"], "✓")} ${dir}: ${rs.rules.length} rule${rs.rules.length === 1 ? "" : "s"} in ${files} file${files === 1 ? "" : "s"}, revision ${rs.revision}${commit}; ${summarizeDiagnostics(result.diagnostics)}`,
  );
  return 0;
}
