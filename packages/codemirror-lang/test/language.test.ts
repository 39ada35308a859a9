// The language's data and indentation, read from an editor state as CodeMirror's commands read it.
import { getIndentation } from "@codemirror/language";
import { EditorState } from "@codemirror/state";
import { describe, expect, it } from "vitest";
import { clearanceRules } from "../src/language.js";

const stateOf = (doc: string) => EditorState.create({ doc, extensions: [clearanceRules()] });

describe("clearanceRules", () => {
  it("says comments start with `#` and which brackets close themselves", () => {
    const state = stateOf("rule r {}");
    expect(state.languageDataAt("commentTokens", 0)).toEqual([{ line: "#" }]);
    expect(state.languageDataAt("closeBrackets", 0)).toEqual([{ brackets: ["(", "[", "{", '"'] }]);
  });

  it("indents a rule's body and a list's items one unit, and a closing line back out", () => {
    const doc = 'rule r {\n  when trustScore < 30\n  deny "low"\n}\nlist l = [\n  "a",\n]\n';
    const state = stateOf(doc);
    const lineStart = (n: number) => state.doc.line(n).from;
    expect(getIndentation(state, lineStart(2))).toBe(2);
    expect(getIndentation(state, lineStart(3))).toBe(2);
    expect(getIndentation(state, lineStart(4))).toBe(0);
    expect(getIndentation(state, lineStart(6))).toBe(2);
    expect(getIndentation(state, lineStart(7))).toBe(0);
    expect(getIndentation(state, doc.length)).toBe(0);
  });

  it("does not count braces in a reason's text, only its holes' own", () => {
    const state = stateOf('rule r {\n  deny "score {trustScore} of {"\n  when x\n}');
    expect(getIndentation(state, state.doc.line(3).from)).toBe(2);
  });
});
