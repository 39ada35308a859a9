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
  declaration_too_large: "error",
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
  unknown_keyword: "error",
  nesting_too_deep: "error",
  list_too_long: "error",
  too_many_rules: "error",
  missing_when: "error",
  duplicate_clause: "error",
  missing_outcome: "error",
  duplicate_modifier: "error",
  misplaced_modifier: "error",
  invalid_template: "error",
  too_many_holes: "error",
  // names
  duplicate_rule: "error",
  duplicate_declaration: "error",
  duplicate_list: "error",
  duplicate_context_field: "error",
  name_conflict: "error",
  unknown_input: "error",
  duplicate_input: "error",
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
  unguarded_element_field: "warning",
  quantifier_body_extends: "warning",
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
  overrides_under_first_match: "warning",
  rule_never_fires_on_input: "warning",
  // the rule-set analyser (analyse.ts)
  rule_never_matches: "warning",
  unless_never_applies: "warning",
  rule_shadowed: "warning",
  conflicting_rules: "warning",
  regex_never_matches: "warning",
  compile_failed: "error",
  // exceptions kept in the rule directory (`exceptions.json`)
  invalid_exceptions_file: "error",
  invalid_exception: "error",
  exceptions_file_too_large: "error",
  exception_expired: "warning",
  exception_expiring_soon: "warning",
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
  const d: Diagnostic = {
    code,
    severity: extra.severity ?? DIAGNOSTIC_CODES[code],
    message: shorten(message),
    span,
  };
  if (extra.help !== undefined) d.help = shorten(extra.help);
  if (extra.related !== undefined && extra.related.length > 0)
    d.related = extra.related.map((r) => ({ ...r, message: shorten(r.message) }));
  return d;
}

/** Messages quote the rule text: a name or string of megabytes is shortened with `...`. */
const MAX_MESSAGE_LENGTH = 300;

function shorten(text: string): string {
  return text.length <= MAX_MESSAGE_LENGTH ? text : `${text.slice(0, MAX_MESSAGE_LENGTH)}...`;
}

/**
 * What went wrong inside Clearance, in a diagnostic's words: the error's message, never its stack.
 * A RangeError (the stack or a string ran out) means the input was too big for the compiler.
 */
export function failureMessage(error: unknown): string {
  if (error instanceof RangeError) return "it is too large or too deeply nested";
  return error instanceof Error ? error.message : String(error);
}

/**
 * Diagnostics as a pass finds them: the first `max` of each severity are kept and the rest only
 * counted, so that a hostile file (a string of a million bad escapes) cannot fill memory with
 * diagnostics nobody is shown. An error is never lost: when errors were found, some are kept.
 */
export class DiagnosticCollector {
  readonly list: Diagnostic[] = [];
  /** diagnostics found but not kept */
  omitted = 0;
  private readonly counts: Record<Severity, number> = { error: 0, warning: 0, info: 0 };

  constructor(private readonly max: number) {}

  add(d: Diagnostic): void {
    if (this.counts[d.severity]++ < this.max) this.list.push(d);
    else this.omitted++;
  }

  addAll(list: Iterable<Diagnostic>): void {
    for (const d of list) this.add(d);
  }
}

const severityRank: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/**
 * Sorts by file, then position, then severity; removes exact duplicates; caps the count.
 * `omitted` counts diagnostics a collector dropped, for the summary.
 */
export function finalizeDiagnostics(
  list: readonly Diagnostic[],
  max = 200,
  omitted = 0,
): Diagnostic[] {
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
  if (unique.length <= max && omitted === 0) return unique;
  const kept = unique.slice(0, max);
  const last = kept[kept.length - 1]!;
  const more = unique.length - kept.length + omitted;
  kept.push(
    diagnostic(
      "too_many_diagnostics",
      `${more} more diagnostic${more === 1 ? "" : "s"} not shown`,
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
  const line = lineText(file, start.line);
  const width = Math.max(
    1,
    end.line === start.line ? end.column - start.column : line.length - start.column + 1,
  );
  const shown = frameWindow(line, start.column - 1, width);
  // Tabs keep their width under the caret so it lines up in any terminal.
  const lead = shown.text.slice(0, shown.caret).replace(/[^\t]/g, " ");
  return [
    `${pad}${gutter(`${arrow}`)} ${span.file}:${start.line}:${start.column}`,
    `${pad} ${gutter("|")}`,
    `${gutter(`${lineNo} |`)} ${shown.text}`,
    `${pad} ${gutter("|")} ${lead}${caretStyle("^".repeat(shown.width))}`,
  ];
}

/** Lines longer than this are shown in part in a code frame, around the span, with `...`. */
const MAX_FRAME_COLUMNS = 160;

/**
 * The part of a long line a code frame shows: a window around the span, `...` where the line goes
 * on. A one-line file of megabytes must not print megabytes for each of its diagnostics.
 */
function frameWindow(
  line: string,
  caret: number,
  width: number,
): { text: string; caret: number; width: number } {
  if (line.length <= MAX_FRAME_COLUMNS) return { text: line, caret, width };
  let from = Math.max(0, Math.min(caret - 40, line.length - MAX_FRAME_COLUMNS));
  let to = Math.min(line.length, from + MAX_FRAME_COLUMNS);
  // Never cut a surrogate pair in two.
  if (from > 0 && isLowSurrogate(line.charCodeAt(from))) from--;
  if (to < line.length && isLowSurrogate(line.charCodeAt(to))) to++;
  const before = from > 0 ? "..." : "";
  const after = to < line.length ? "..." : "";
  const shownCaret = before.length + Math.max(0, caret - from);
  return {
    text: `${before}${line.slice(from, to)}${after}`,
    caret: shownCaret,
    width: Math.max(1, Math.min(width, before.length + (to - from) - shownCaret)),
  };
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
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

/**
 * A diagnostic as an API carries it: its code and words, where it is both as offsets (for an
 * editor's marks) and as 1-based lines and columns in UTF-16 code units (for people), and its
 * code frame as `formatDiagnostic` prints it without colour (for a page to show as text).
 */
export interface DiagnosticData {
  code: string;
  severity: Severity;
  message: string;
  help: string | null;
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  span: { start: number; end: number };
  frame: string;
}

/** `d` as data (DiagnosticData); a file `lookup` does not have is placed at its line 1, column 1. */
export function diagnosticData(
  d: Diagnostic,
  lookup: (path: string) => SourceFile | undefined,
): DiagnosticData {
  const file = lookup(d.span.file);
  const at = (offset: number) =>
    file ? positionAt(file, Math.min(offset, file.text.length)) : { line: 1, column: 1 };
  const start = at(d.span.start);
  const end = at(Math.max(d.span.end, d.span.start));
  return {
    code: d.code,
    severity: d.severity,
    message: d.message,
    help: d.help ?? null,
    file: d.span.file,
    line: start.line,
    column: start.column,
    endLine: end.line,
    endColumn: end.column,
    span: { start: d.span.start, end: d.span.end },
    frame: formatDiagnostic(d, lookup, { color: false }),
  };
}
