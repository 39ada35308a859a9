// The language's data and indentation, read from an editor state as CodeMirror's commands read it.
import { getIndentation, syntaxTree } from "@codemirror/language";
import { EditorState } from "@codemirror/state";
import { classHighlighter, highlightTree } from "@lezer/highlight";
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

/** Each coloured word of `doc` with its class (`tok-keyword`...), as an editor would show it. */
function colours(doc: string): string[] {
  const state = stateOf(doc);
  const out: string[] = [];
  highlightTree(syntaxTree(state), classHighlighter, (from, to, cls) =>
    out.push(`${cls}:${doc.slice(from, to)}`),
  );
  return out;
}

describe("the tokenizer", () => {
  it("colours keywords, actions, names declared, strings, numbers, regexes and comments", () => {
    expect(colours('rule r { when x matches /a|b/i and age(t) < 24h deny "n {x}" } # c')).toEqual([
      "tok-keyword:rule",
      "tok-variableName tok-definition:r",
      "tok-operator:{",
      "tok-keyword:when",
      "tok-variableName:x",
      "tok-keyword:matches",
      "tok-string2:/a|b/i",
      "tok-keyword:and",
      "tok-variableName:age",
      "tok-operator:(",
      "tok-variableName:t",
      "tok-operator:)",
      "tok-operator:<",
      "tok-number:24h",
      "tok-atom:deny",
      'tok-string:"n {',
      "tok-variableName:x",
      'tok-string:}"',
      "tok-operator:}",
      "tok-comment:# c",
    ]);
  });

  it("reads a keyword after `.` as a field", () => {
    expect(colours("when x.count > 3 and exception.case")).toEqual([
      "tok-keyword:when",
      "tok-variableName:x",
      "tok-operator:.",
      "tok-variableName:count",
      "tok-operator:>",
      "tok-number:3",
      "tok-keyword:and",
      "tok-keyword:exception",
      "tok-operator:.",
      "tok-variableName:case",
    ]);
  });
});
