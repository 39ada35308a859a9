import { type Diagnostic, hasErrors, positionAt, type SourceFile, type Span } from "@clearance/dsl";
import { loadRuleset } from "@clearance/engine";
import { parseNow } from "../io.js";
import { CliError, type Output, paint } from "../output.js";
import { renderDiagnostics, summarizeDiagnostics } from "../render.js";

export interface CheckOptions {
  format: "text" | "json";
  now?: string;
  /** print the generated JavaScript on stdout, and the summary on stderr */
  emitJs?: boolean;
  /** exit 1 when there are warnings too, for CI: the analyser's findings then block a merge */
  denyWarnings?: boolean;
}

/**
 * `clearance check [dir]`: parse and type-check; exit 1 on errors, warnings are printed.
 * `--emit-js` prints the JavaScript the rule set compiles to. `--deny-warnings` fails on warnings.
 */
export function checkCommand(output: Output, dir: string, options: CheckOptions): number {
  if (options.emitJs && options.format === "json")
    throw new CliError(
      "`--emit-js` prints JavaScript, not JSON",
      "drop `--format json`, or run the two separately",
    );
  const now = parseNow(options.now);
  const result = loadRuleset(dir, now === undefined ? {} : { now });
  const warned =
    options.denyWarnings === true && result.diagnostics.some((d) => d.severity === "warning");
  const failed = hasErrors(result.diagnostics) || !result.ruleset || warned;
  if (options.format === "json") {
    const rs = result.ruleset;
    output.out(
      JSON.stringify(
        {
          ok: !failed,
          diagnostics: result.diagnostics.map((d) => withPositions(d, result.files)),
          ...(rs
            ? {
                ruleset: {
                  name: rs.name ?? null,
                  revision: rs.revision,
                  commit: rs.commit ?? null,
                  inputs: rs.inputs ?? null,
                  rules: rs.rules,
                  exceptions: rs.exceptions.length,
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
      paint(
        output,
        ["bold", "red"],
        `✗ ${dir}: ${summarizeDiagnostics(result.diagnostics)}${warned && !hasErrors(result.diagnostics) ? " (warnings denied by --deny-warnings)" : ""}`,
      ),
    );
    return 1;
  }
  const rs = result.ruleset!;
  const files = new Set(rs.rules.map((r) => r.location.file)).size;
  const commit = rs.commit
    ? `, commit ${rs.commit.sha.slice(0, 12)}${rs.commit.dirty ? " (dirty)" : ""}`
    : "";
  const n = rs.exceptions.length;
  const exceptions = n > 0 ? `, ${n} exception${n === 1 ? "" : "s"} in exceptions.json` : "";
  const summary = `${paint(output, ["bold", "green"], "✓")} ${dir}: ${rs.rules.length} rule${rs.rules.length === 1 ? "" : "s"} in ${files} file${files === 1 ? "" : "s"}${exceptions}, revision ${rs.revision}${commit}; ${summarizeDiagnostics(result.diagnostics)}`;
  if (options.emitJs) {
    // standard output holds only the code, so it can be saved or piped
    output.out(rs.generatedCode().trimEnd());
    output.err(summary);
  } else output.out(summary);
  return 0;
}

/** A span in JSON: its offsets, and where it is as 1-based lines and columns (UTF-16 code units). */
export interface PlacedSpan extends Span {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

/**
 * A diagnostic as `check --format json` prints it: the offsets stay (editors mark by offset), and
 * every span and related span also gets lines and columns, because problem matchers and most
 * editors' protocols speak in lines and would otherwise have to read the file again to convert.
 */
export function withPositions(
  d: Diagnostic,
  files: ReadonlyMap<string, SourceFile>,
): Omit<Diagnostic, "span" | "related"> & {
  span: PlacedSpan;
  related?: { message: string; span: PlacedSpan }[];
} {
  // The keys in the order of the Diagnostic shape, as before the positions were added.
  const { span, related, help, ...rest } = d;
  return {
    ...rest,
    span: place(span, files),
    ...(help === undefined ? {} : { help }),
    ...(related ? { related: related.map((r) => ({ ...r, span: place(r.span, files) })) } : {}),
  };
}

function place(span: Span, files: ReadonlyMap<string, SourceFile>): PlacedSpan {
  const file = files.get(span.file);
  // A span in a file that was never read (an unreadable directory, a missing list) is at its
  // start: line 1, column 1, as `diagnosticData` places it.
  const at = (offset: number) =>
    file ? positionAt(file, Math.min(offset, file.text.length)) : { line: 1, column: 1 };
  const start = at(span.start);
  const end = at(Math.max(span.end, span.start));
  return {
    ...span,
    line: start.line,
    column: start.column,
    endLine: end.line,
    endColumn: end.column,
  };
}
