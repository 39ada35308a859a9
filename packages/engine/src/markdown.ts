// Test support (exported as @clearance/engine/testing): the fenced blocks of a Markdown page, for
// the tests that run the docs' examples (engine's ```rules blocks, the CLI's ```console blocks).

/** One fenced code block. */
export interface Fence {
  /** the info string after the opening backticks, trimmed (`rules`, `json decide`, `console`) */
  info: string;
  /** the lines between the fences, without the fence's indentation */
  lines: string[];
  /** 1-based line of the opening fence */
  line: number;
  /** index (0-based) of the line after the closing fence */
  next: number;
  /** spaces before the opening fence: a block inside a list item is indented */
  indent: number;
}

/**
 * The fenced (```) blocks of a Markdown page, in order. A fence may be indented (inside a list
 * item); its closing fence is a line of backticks at an indentation up to the opening one's, and
 * that much indentation is taken off the lines between. A fence never closed runs to the end.
 */
export function fences(text: string): Fence[] {
  const lines = text.split("\n");
  const out: Fence[] = [];
  let i = 0;
  while (i < lines.length) {
    const open = /^( *)```(.*)$/.exec(lines[i]!);
    if (!open) {
      i++;
      continue;
    }
    const indent = open[1]!.length;
    const start = i;
    const body: string[] = [];
    i++;
    while (i < lines.length && !isClosing(lines[i]!, indent)) {
      const line = lines[i++]!;
      const spaces = /^ */.exec(line)![0].length;
      body.push(line.slice(Math.min(spaces, indent)));
    }
    out.push({ info: open[2]!.trim(), lines: body, line: start + 1, next: i + 1, indent });
    i++;
  }
  return out;
}

function isClosing(line: string, indent: number): boolean {
  const m = /^( *)```\s*$/.exec(line);
  return m !== null && m[1]!.length <= indent;
}
