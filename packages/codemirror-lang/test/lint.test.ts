// The checker's diagnostics mapped onto the text, and the lint source asking the caller's checker.
import { setDiagnostics } from "@codemirror/lint";
import { EditorState } from "@codemirror/state";
import type { EditorView } from "@codemirror/view";
import { describe, expect, it } from "vitest";
import { type CheckerDiagnostic, clearanceLintSource, toEditorDiagnostics } from "../src/lint.js";

const diag = (over: Partial<CheckerDiagnostic>): CheckerDiagnostic => ({
  code: "unknown_field",
  severity: "error",
  message: "unknown field `trustscore`",
  help: null,
  span: { start: 5, end: 15 },
  ...over,
});

describe("toEditorDiagnostics", () => {
  it("keeps the span, the severity, and puts the code and help in the message", () => {
    expect(toEditorDiagnostics([diag({ help: "did you mean `trustScore`?" })], 40)).toEqual([
      {
        from: 5,
        to: 15,
        severity: "error",
        message: "unknown field `trustscore` [unknown_field]\nhelp: did you mean `trustScore`?",
      },
    ]);
    expect(toEditorDiagnostics([diag({ severity: "warning" })], 40)[0]?.severity).toBe("warning");
  });

  it("clamps spans into the text, and widens an empty one to a character", () => {
    const [past] = toEditorDiagnostics([diag({ span: { start: 30, end: 50 } })], 20);
    expect([past?.from, past?.to]).toEqual([20, 20]);
    const [empty] = toEditorDiagnostics([diag({ span: { start: 3, end: 3 } })], 20);
    expect([empty?.from, empty?.to]).toEqual([3, 4]);
    const [reversed] = toEditorDiagnostics([diag({ span: { start: 8, end: 2 } })], 20);
    expect([reversed?.from, reversed?.to]).toEqual([8, 9]);
  });

  it("counts in UTF-16 units, as the server's spans do", () => {
    // `é` is one unit, an emoji two: the server's offsets are CodeMirror's positions
    const text = 'deny "😀é" when trustscore';
    const start = text.indexOf("trustscore");
    const [d] = toEditorDiagnostics([diag({ span: { start, end: start + 10 } })], text.length);
    expect(text.slice(d!.from, d!.to)).toBe("trustscore");
  });
});

// the source reads only `view.state`: a state stands in for the view here; the console's
// browser test drives the whole linter in a real editor
describe("clearanceLintSource", () => {
  const viewOf = (state: EditorState) => ({ state }) as unknown as EditorView;

  it("asks the checker about the text and maps its answer", async () => {
    const asked: string[] = [];
    const source = clearanceLintSource(async (text) => {
      asked.push(text);
      return [diag({ span: { start: 5, end: 15 } })];
    });
    const found = await source(viewOf(EditorState.create({ doc: "when trustscore < 3" })));
    expect(asked).toEqual(["when trustscore < 3"]);
    expect(found.map((d) => [d.from, d.to, d.severity])).toEqual([[5, 15, "error"]]);
  });

  it("keeps the marks shown when the checker has no answer (null)", async () => {
    const mark = { from: 0, to: 4, severity: "error" as const, message: "m" };
    const state = EditorState.create({ doc: "when x" });
    const marked = state.update(setDiagnostics(state, [mark])).state;
    const found = await clearanceLintSource(async () => null)(viewOf(marked));
    expect(found.map((d) => [d.from, d.to, d.message])).toEqual([[0, 4, "m"]]);
  });
});
