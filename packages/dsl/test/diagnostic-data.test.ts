import { describe, expect, it } from "vitest";
import { type Diagnostic, diagnostic, diagnosticData, formatDiagnostic } from "../src/index.js";

// One shape for a diagnostic sent over the API (reload errors, the playground): offsets for an
// editor, 1-based lines and UTF-16 columns for people, and the frame `clearance check` prints.

const FILE = { path: "a.rules", text: 'rule r {\n  when trustscore >= 70\n  deny "é😀 x"\n}\n' };
const lookup = (p: string) => (p === FILE.path ? FILE : undefined);
const at = (needle: string, file = FILE.path): Diagnostic => {
  const start = FILE.text.indexOf(needle);
  return diagnostic("unknown_field", `unknown field \`${needle}\``, {
    file,
    start,
    end: start + needle.length,
  });
};

describe("diagnosticData", () => {
  it.each([
    ["trustscore", { line: 2, column: 8, endLine: 2, endColumn: 18 }],
    // columns count UTF-16 code units: 😀 is two
    ["x", { line: 3, column: 13, endLine: 3, endColumn: 14 }],
    ['"é😀 x"\n}', { line: 3, column: 8, endLine: 4, endColumn: 2 }],
  ])("places `%s`", (needle, place) => {
    const d = at(needle);
    expect(diagnosticData(d, lookup)).toMatchObject({
      ...place,
      code: "unknown_field",
      severity: "error",
      file: "a.rules",
      help: null,
      span: { start: d.span.start, end: d.span.end },
    });
  });

  it("carries the frame as `clearance check` prints it, without colour", () => {
    const d = at("trustscore");
    const data = diagnosticData(d, lookup);
    expect(data.frame).toBe(formatDiagnostic(d, lookup, { color: false }));
    expect(data.frame).toContain("2 |   when trustscore >= 70");
    expect(data.frame).not.toContain("\x1b[");
  });

  it("places a diagnostic of a file it cannot look up at line 1, column 1", () => {
    const d = diagnostic("file_unreadable", "cannot read rule file `b.rules`", {
      file: "b.rules",
      start: 0,
      end: 0,
    });
    expect(diagnosticData(d, lookup)).toMatchObject({ line: 1, column: 1, endLine: 1 });
  });
});
