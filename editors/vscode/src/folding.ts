// Folding on braces: VS Code folds by indentation unless a provider says otherwise, and the
// language server has no folding ranges. A rule body, a `context { ... }` block and a multi-line
// list fold from the line of their opening bracket to the line of its closing one.

/** A range of lines (0-based) that folds: `start` stays visible, the lines after it up to `end` hide. */
export interface LineRange {
  start: number;
  end: number;
}

/**
 * The bracket pairs of rule text that span lines. Brackets inside comments, strings (reason
 * holes included) and regex literals do not count; an unclosed bracket folds nothing.
 */
export function bracketFoldingRanges(text: string): LineRange[] {
  const ranges: LineRange[] = [];
  const open: number[] = [];
  let line = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\n") line++;
    else if (c === "#") {
      while (i + 1 < text.length && text[i + 1] !== "\n") i++;
    } else if (c === '"') {
      // a string stays on one line: it ends at its closing quote or at the line's end
      while (i + 1 < text.length && text[i + 1] !== "\n") {
        i++;
        if (text[i] === "\\") i++;
        else if (text[i] === '"') break;
      }
    } else if (c === "/" && /\bmatches\s*$/.test(text.slice(Math.max(0, i - 40), i))) {
      // a regex literal, only right after `matches`: `{2}` and `[{]` in it are not brackets
      let inClass = false;
      while (i + 1 < text.length && text[i + 1] !== "\n") {
        i++;
        if (text[i] === "\\") i++;
        else if (text[i] === "[") inClass = true;
        else if (text[i] === "]") inClass = false;
        else if (text[i] === "/" && !inClass) break;
      }
    } else if (c === "{" || c === "[" || c === "(") open.push(line);
    else if (c === "}" || c === "]" || c === ")") {
      const start = open.pop();
      // the closing line stays visible, as VS Code's own folding of braces leaves it
      if (start !== undefined && line - 1 > start) ranges.push({ start, end: line - 1 });
    }
  }
  return ranges.sort((a, b) => a.start - b.start || b.end - a.end);
}
