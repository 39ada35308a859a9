import {
  type Checker,
  checkNow,
  clearanceCompletion,
  clearanceLinter,
  clearanceRules,
  type RuleSchema,
} from "@clearance/codemirror-lang";
import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { bracketMatching, indentOnInput } from "@codemirror/language";
import { lintGutter } from "@codemirror/lint";
import { EditorState, type Extension } from "@codemirror/state";
import {
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  keymap,
  lineNumbers,
} from "@codemirror/view";

export { ruleSchema } from "./schema.js";

// The rule editor: CodeMirror 6 with the rule language (@clearance/codemirror-lang), loaded by the pages that edit or show
// rules with `import()` (it is most of the console's script, and no other page needs it).
//
// The console's content security policy allows styles from its own files only (`style-src
// 'self'`, no nonce). CodeMirror's styles are made in the browser by style-mod, which writes a
// `<style>` element into a document — refused by that policy — but adopts a constructed style
// sheet (`adoptedStyleSheets`) into a shadow root. So the editor lives in a shadow root of its
// own: its styles are a constructed sheet, which the policy does not govern, and they stay
// inside it. Styles CodeMirror sets on single elements go through the CSSOM (`element.style`),
// which the policy allows too.

export interface RuleEditor {
  /** the text as it is now */
  text(): string;
  /** asks the checker now, without waiting for a pause in typing (the input decided changed) */
  check(): void;
  /** puts the cursor at `offset` and scrolls it into view */
  select(offset: number): void;
  focus(): void;
  destroy(): void;
}

export interface RuleEditorOptions {
  /** the element the editor's shadow root is attached to (empty; given its size by CSS) */
  host: HTMLElement;
  text: string;
  /** the accessible name of the text box */
  label: string;
  readOnly?: boolean;
  onChange?: (text: string) => void;
  /** what completion offers; no completion without it */
  schema?: RuleSchema;
  /** the checker whose diagnostics are marked in the text and the gutter, asked as typing pauses */
  check?: Checker;
  /** the pause, in ms */
  checkDelay?: number;
}

const theme = EditorView.theme({
  "&": { height: "100%", fontSize: "13px", backgroundColor: "#ffffff", color: "#111827" },
  "&.cm-focused": { outline: "2px solid #1d4ed8", outlineOffset: "-2px" },
  ".cm-scroller": {
    fontFamily: 'ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace',
    lineHeight: "1.5",
  },
  ".cm-gutters": { backgroundColor: "#f3f4f6", color: "#4b5563", borderRight: "1px solid #d1d5db" },
  ".cm-activeLine": { backgroundColor: "#f5f7ff" },
  ".cm-activeLineGutter": { backgroundColor: "#e5e9f7" },
  // a mark is a wavy underline and a gutter sign, with its message on hover and in the page's list
  ".cm-lintRange-error": { textDecoration: "underline wavy #b91c1c", backgroundImage: "none" },
  ".cm-lintRange-warning": { textDecoration: "underline wavy #a16207", backgroundImage: "none" },
  // the gutter's signs are drawn with CSS: CodeMirror's are `data:` images, which `img-src 'self'`
  // refuses. An error is a solid square, a warning a dashed one: a shape, not only a colour.
  ".cm-lint-marker": { width: "0.8em", height: "0.8em", margin: "0.3em 0.1em 0" },
  ".cm-lint-marker-error": { content: "normal", backgroundColor: "#b91c1c" },
  ".cm-lint-marker-warning": { content: "normal", border: "2px dashed #a16207" },
  ".cm-lint-marker-info": { content: "normal", border: "2px solid #1d4ed8", borderRadius: "50%" },
});

export function createRuleEditor(options: RuleEditorOptions): RuleEditor {
  const root = options.host.shadowRoot ?? options.host.attachShadow({ mode: "open" });
  root.replaceChildren();
  const parent = document.createElement("div");
  parent.className = "cm-host";
  root.append(parent);
  // the host fills the space CSS gives it; the editor fills the host
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(":host { display: block; } .cm-host { height: 100%; }");
  root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
  const view = new EditorView({
    root,
    parent,
    state: EditorState.create({
      doc: options.text,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        history(),
        drawSelection(),
        highlightActiveLine(),
        bracketMatching(),
        closeBrackets(),
        indentOnInput(),
        clearanceRules(),
        ...optional(options),
        // long reasons wrap: no sideways scrolling in a narrow column
        EditorView.lineWrapping,
        theme,
        // Tab indents; Esc then Tab leaves the editor (CodeMirror's escape hatch for keyboards)
        keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, indentWithTab]),
        EditorView.contentAttributes.of({
          "aria-label": options.label,
          "aria-multiline": "true",
          // in the tab order by its attribute too, so that checkers (axe) see the scrolling
          // region holds something the keyboard reaches
          tabindex: "0",
        }),
        EditorState.readOnly.of(options.readOnly === true),
        EditorView.editable.of(options.readOnly !== true),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) options.onChange?.(update.state.doc.toString());
        }),
      ],
    }),
  });
  return {
    text: () => view.state.doc.toString(),
    check: () => checkNow(view),
    select(offset) {
      const at = Math.min(offset, view.state.doc.length);
      view.dispatch({ selection: { anchor: at }, scrollIntoView: true });
      view.focus();
    },
    focus: () => view.focus(),
    destroy: () => view.destroy(),
  };
}

/** Completion and the checker's marks, for an editor given a schema and a checker. */
function optional(options: RuleEditorOptions): Extension[] {
  const extensions: Extension[] = [];
  if (options.schema) extensions.push(clearanceCompletion(options.schema));
  if (options.check) {
    const delay = options.checkDelay;
    extensions.push(
      clearanceLinter(options.check, delay === undefined ? {} : { delay }),
      lintGutter(),
    );
  }
  return extensions;
}
