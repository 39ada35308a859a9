import { lineText, positionAt, type SourceFile } from "./source.js";

/** A half-open range of UTF-16 offsets in one file. Lines and columns are computed only to print. */
export interface Span {
  file: string;
  start: number;
  end: number;
}

export type Severity = "error" | "warning" | "info";

/**
 * Every diagnostic code, in one place. Codes are stable: tools and docs refer to them.
 * `docs/diagnostics.md` documents each one; a test keeps that list complete.
 */
export const DIAGNOSTIC_CODES = Object.freeze({
  // reading and lexing
  invalid_utf8: "error",
  file_too_large: "error",
  file_unreadable: "error",
  list_path_absolute: "error",
  path_outside_root: "error",
  symlink_outside_root: "error",
  not_a_regular_file: "error",
  ruleset_too_large: "error",
  unexpected_character: "error",
  unterminated_string: "error",
  invalid_escape: "error",
  invalid_number: "error",
  invalid_timestamp: "error",
  invalid_duration: "error",
  // parsing and structure
  syntax_error: "error",
  nesting_too_deep: "error",
  list_too_long: "error",
  too_many_rules: "error",
  missing_when: "error",
  duplicate_clause: "error",
  missing_outcome: "error",
  duplicate_modifier: "error",
  invalid_template: "error",
  // names
  duplicate_rule: "error",
  duplicate_declaration: "error",
  duplicate_list: "error",
  duplicate_context_field: "error",
  name_conflict: "error",
  unknown_type: "error",
  // types
  unknown_field: "error",
  unknown_enum_value: "error",
  type_mismatch: "error",
  unordered_comparison: "error",
  condition_not_boolean: "error",
  unknown_function: "error",
  wrong_argument_count: "error",
  unknown_list: "error",
  hashlist_misuse: "error",
  exists_needs_path: "error",
  shadowed_variable: "warning",
  // regular expressions
  invalid_regex: "error",
  unsafe_regex: "error",
  regex_too_long: "error",
  // rule set
  list_file_bad_line: "error",
  list_file_too_large: "error",
  rule_expired: "warning",
  rule_expiring_soon: "warning",
  unused_list: "warning",
  no_rules: "warning",
  too_many_diagnostics: "info",
} as const satisfies Record<string, Severity>);

export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;

export interface RelatedInformation {
  message: string;
  span: Span;
}

/** Diagnostics are data: collected, sorted and capped, never thrown. */
export interface Diagnostic {
  code: DiagnosticCode;
  severity: Severity;
  /** Lower case, no trailing period, user input in backticks (docs/diagnostics.md). */
  message: string;
  span: Span;
  /** How to fix it. */
  help?: string;
  /** Other places that explain this one, such as the first definition of a duplicate. */
  related?: RelatedInformation[];
}

export function diagnostic(
  code: DiagnosticCode,
  message: string,
  span: Span,
  extra: { help?: string; related?: RelatedInformation[]; severity?: Severity } = {},
): Diagnostic {
  const d: Diagnostic = { code, severity: extra.severity ?? DIAGNOSTIC_CODES[code], message, span };
  if (extra.help !== undefined) d.help = extra.help;
  if (extra.related !== undefined && extra.related.length > 0) d.related = extra.related;
  return d;
}

const severityRank: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Sorts by file, then position, then severity; removes exact duplicates; caps the count. */
export function finalizeDiagnostics(list: readonly Diagnostic[], max = 200): Diagnostic[] {
  const seen = new Set<string>();
  const unique: Diagnostic[] = [];
  for (const d of list) {
    const key = `${d.span.file}\0${d.span.start}\0${d.span.end}\0${d.code}\0${d.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    unique.push(d);
  }
  unique.sort(
    (a, b) =>
      (a.span.file < b.span.file ? -1 : a.span.file > b.span.file ? 1 : 0) ||
      a.span.start - b.span.start ||
      severityRank[a.severity] - severityRank[b.severity] ||
      (a.code < b.code ? -1 : a.code > b.code ? 1 : 0),
  );
  if (unique.length <= max) return unique;
  const kept = unique.slice(0, max);
  const last = kept[kept.length - 1]!;
  kept.push(
    diagnostic(
      "too_many_diagnostics",
      `${unique.length - max} more diagnostic${unique.length - max === 1 ? "" : "s"} not shown`,
      last.span,
      {
        help: "fix the problems above and check again",
      },
    ),
  );
  return kept;
}

export function hasErrors(list: readonly Diagnostic[]): boolean {
  return list.some((d) => d.severity === "error");
}

export interface FormatOptions {
  /** ANSI colours for a terminal. */
  color?: boolean;
}

type Style = (s: string) => string;
const plain: Style = (s) => s;
const ansi =
  (code: string): Style =>
  (s) =>
    `\x1b[${code}m${s}\x1b[0m`;

/**
 * Prints one diagnostic with its location and a code frame:
 *
 *     error[unknown_field]: unknown field `trustscore`
 *       --> rules/a.rules:3:8
 *        |
 *      3 |   when trustscore >= 70
 *        |        ^^^^^^^^^^
 *        = help: did you mean `trustScore`?
 */
export function formatDiagnostic(
  d: Diagnostic,
  lookup: (path: string) => SourceFile | undefined,
  options: FormatOptions = {},
): string {
  const color = options.color === true;
  const sevStyle = color
    ? ansi(d.severity === "error" ? "1;31" : d.severity === "warning" ? "1;33" : "1;36")
    : plain;
  const bold = color ? ansi("1") : plain;
  const blue = color ? ansi("1;34") : plain;
  const out: string[] = [];
  out.push(`${sevStyle(`${d.severity}[${d.code}]`)}${bold(`: ${d.message}`)}`);
  out.push(...frame(d.span, lookup, blue, sevStyle, "-->"));
  // `=` lines sit under the frame's `|`, whose indent depends on the line number's width.
  const file = lookup(d.span.file);
  const pad = " ".repeat(
    file ? String(positionAt(file, Math.min(d.span.start, file.text.length)).line).length : 1,
  );
  if (d.help) out.push(`${blue(`${pad} =`)} help: ${d.help}`);
  for (const r of d.related ?? []) {
    out.push(`${blue(`${pad} =`)} note: ${r.message}`);
    out.push(...frame(r.span, lookup, blue, blue, ":::"));
  }
  return out.join("\n");
}

function frame(
  span: Span,
  lookup: (path: string) => SourceFile | undefined,
  gutter: Style,
  caretStyle: Style,
  arrow: string,
): string[] {
  const file = lookup(span.file);
  if (!file) return [`${gutter(`  ${arrow}`)} ${span.file}`];
  const start = positionAt(file, Math.min(span.start, file.text.length));
  const end = positionAt(file, Math.min(Math.max(span.end, span.start), file.text.length));
  const lineNo = String(start.line);
  const pad = " ".repeat(lineNo.length);
  const text = lineText(file, start.line);
  const width = Math.max(
    1,
    end.line === start.line ? end.column - start.column : text.length - start.column + 1,
  );
  // Tabs keep their width under the caret so it lines up in any terminal.
  const lead = text.slice(0, start.column - 1).replace(/[^\t]/g, " ");
  return [
    `${pad}${gutter(`${arrow}`)} ${span.file}:${start.line}:${start.column}`,
    `${pad} ${gutter("|")}`,
    `${gutter(`${lineNo} |`)} ${text}`,
    `${pad} ${gutter("|")} ${lead}${caretStyle("^".repeat(width))}`,
  ];
}

/** `file:line:col: severity[code]: message` on one line, for editors and grep. */
export function formatDiagnosticShort(
  d: Diagnostic,
  lookup: (path: string) => SourceFile | undefined,
): string {
  const file = lookup(d.span.file);
  const pos = file ? positionAt(file, d.span.start) : { line: 0, column: 0 };
  return `${d.span.file}:${pos.line}:${pos.column}: ${d.severity}[${d.code}]: ${d.message}`;
}
