import {
  type Diagnostic,
  forceLinting,
  forEachDiagnostic,
  type LintSource,
  linter,
} from "@codemirror/lint";
import { type EditorState, type Extension, StateEffect } from "@codemirror/state";
import type { EditorView } from "@codemirror/view";

// The checker's diagnostics in the editor. The checker is the caller's (the console asks its
// server's, which runs the compiler `clearance check` runs): this package only maps what it
// answers onto the text and says when to ask.

/** A diagnostic as the server gives it (docs/http-api.md, the playground): `span` in UTF-16. */
export interface CheckerDiagnostic {
  code: string;
  severity: "error" | "warning" | "info";
  message: string;
  help?: string | null;
  /** UTF-16 offsets into the text checked, as CodeMirror counts positions */
  span: { start: number; end: number };
}

/**
 * Checks `text`: the diagnostics of that text, or `null` when there is no answer for it (no
 * input to decide, a newer request under way), which leaves the marks shown as they are.
 */
export type Checker = (text: string) => Promise<readonly CheckerDiagnostic[] | null>;

export interface LinterOptions {
  /** quiet time after the last change before the checker is asked, in ms (default 300) */
  delay?: number;
}

/**
 * The checker's diagnostics as CodeMirror's, on a text of `length` characters: spans are clamped
 * into the text (an answer may be for a text a keystroke longer), an empty span at the end of a
 * line still marks one character so that it can be seen, and the code and help go into the
 * message as `clearance check` prints them.
 */
export function toEditorDiagnostics(
  diagnostics: readonly CheckerDiagnostic[],
  length: number,
): Diagnostic[] {
  return diagnostics.map((d) => {
    const from = Math.max(0, Math.min(d.span.start, length));
    let to = Math.min(Math.max(d.span.end, from), length);
    if (to === from && to < length) to++;
    const help = d.help ? `\nhelp: ${d.help}` : "";
    return { from, to, severity: d.severity, message: `${d.message} [${d.code}]${help}` };
  });
}

/**
 * The lint source asking `check` about the text as it is when the linter runs. CodeMirror drops
 * an answer for a text that has changed since it was asked, so a slow answer never marks newer
 * text.
 */
export function clearanceLintSource(check: Checker): LintSource {
  return async (view) => {
    const state = view.state;
    const found = await check(state.doc.toString());
    // `null` keeps the marks: returning [] would clear them while nothing is known
    if (found === null) return shown(view.state);
    return toEditorDiagnostics(found, state.doc.length);
  };
}

/** Marks a transaction that asks for a check although the text did not change. */
const recheck = StateEffect.define<null>();

/** The checker's diagnostics as an editor extension, asked a moment after typing stops. */
export function clearanceLinter(check: Checker, options: LinterOptions = {}): Extension {
  return linter(clearanceLintSource(check), {
    delay: options.delay ?? 300,
    needsRefresh: (update) => update.transactions.some((t) => t.effects.some((e) => e.is(recheck))),
  });
}

/**
 * Asks the checker now, about the same text: its answer may change with more than the text (the
 * console's checker decides an input, which the page may change). CodeMirror's `forceLinting`
 * alone runs only a check already due after an edit, hence the effect that makes one due.
 */
export function checkNow(view: EditorView): void {
  view.dispatch({ effects: recheck.of(null) });
  forceLinting(view);
}

/** The diagnostics shown now, where they are now. */
function shown(state: EditorState): Diagnostic[] {
  const out: Diagnostic[] = [];
  forEachDiagnostic(state, (d, from, to) => out.push({ ...d, from, to }));
  return out;
}
