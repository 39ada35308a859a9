// A small CEF reader for the tests: splits a record into its seven header fields and its
// extensions, undoing the standard's escapes, and reports every escape or structure it does not
// allow. It is written from the standard (CEF version 25), not from the renderer, so a renderer
// bug is not mirrored here.

export interface ParsedCef {
  header: string[];
  /** extension keys with their unescaped values, in record order */
  extensions: [string, string][];
  problems: string[];
}

const KEY_START = / ([A-Za-z][A-Za-z0-9_]*)=/g;

export function parseCef(line: string): ParsedCef {
  const problems: string[] = [];
  if (/[\r\n]/.test(line)) problems.push("the record holds a line break");
  const header: string[] = [];
  let field = "";
  let i = 0;
  for (; i < line.length && header.length < 7; i++) {
    const c = line[i]!;
    if (c === "\\") {
      const next = line[i + 1];
      if (next === "\\" || next === "|") {
        field += next;
        i++;
      } else {
        problems.push(
          `header field ${header.length + 1}: a backslash escapes ${JSON.stringify(next)}, not \\ or |`,
        );
        field += c;
      }
    } else if (c === "|") {
      header.push(field);
      field = "";
    } else {
      field += c;
    }
  }
  if (header.length < 7)
    problems.push(`the header has ${header.length + 1} fields, not 8 (with the extension)`);
  const extension = line.slice(i);
  const extensions: [string, string][] = [];
  // The extension starts with a key; a key is a word right after a space (or the start) and `=`.
  const starts: { key: string; at: number; valueAt: number }[] = [];
  const leading = /^([A-Za-z][A-Za-z0-9_]*)=/.exec(extension);
  if (leading) starts.push({ key: leading[1]!, at: 0, valueAt: leading[0].length });
  else if (extension !== "")
    problems.push(`the extension does not start with key=: ${extension.slice(0, 40)}`);
  for (const match of extension.matchAll(KEY_START)) {
    starts.push({ key: match[1]!, at: match.index, valueAt: match.index + match[0].length });
  }
  starts.forEach((start, n) => {
    const raw = extension.slice(
      start.valueAt,
      n + 1 < starts.length ? starts[n + 1]!.at : undefined,
    );
    extensions.push([start.key, unescapeValue(start.key, raw, problems)]);
  });
  return { header, extensions, problems };
}

function unescapeValue(key: string, raw: string, problems: string[]): string {
  let value = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === "=") problems.push(`${key}: an unescaped = in its value`);
    if (c !== "\\") {
      value += c;
      continue;
    }
    const next = raw[i + 1];
    i++;
    if (next === "\\" || next === "=") value += next;
    else if (next === "n") value += "\n";
    else if (next === "r") value += "\r";
    else problems.push(`${key}: a backslash escapes ${JSON.stringify(next)}, not \\, =, n or r`);
  }
  return value;
}
