import type { Diagnostic, SourceFile } from "@clearance/dsl";
import { hasErrors } from "@clearance/dsl";
import { type LoadOptions, loadRuleset, type Ruleset } from "@clearance/engine";
import { CliError, type Output } from "./output.js";
import { renderDiagnostics, summarizeDiagnostics } from "./render.js";

/** Loads a rule directory for a command that needs a working rule set; prints problems. */
export function loadRulesOrFail(
  output: Output,
  dir: string,
  options: LoadOptions = {},
  quiet = false,
): Ruleset {
  return loadRulesWithDiagnostics(output, dir, options, quiet).ruleset;
}

export function loadRulesWithDiagnostics(
  output: Output,
  dir: string,
  options: LoadOptions = {},
  quiet = false,
): { ruleset: Ruleset; diagnostics: Diagnostic[]; files: ReadonlyMap<string, SourceFile> } {
  const result = loadRuleset(dir, options);
  const shown = quiet
    ? result.diagnostics.filter((d) => d.severity === "error")
    : result.diagnostics;
  if (shown.length > 0) output.err(`${renderDiagnostics(output, shown, result.files)}\n`);
  if (!result.ruleset || hasErrors(result.diagnostics)) {
    throw new CliError(
      `rules in \`${dir}\` do not compile (${summarizeDiagnostics(result.diagnostics)})`,
      `run \`clearance check ${dir}\` for details`,
    );
  }
  return { ruleset: result.ruleset, diagnostics: result.diagnostics, files: result.files };
}
