/** Conversions from literal source text to values, shared by the AST builder and the formatter. */

const durationUnits: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** `1h30m` -> 5_400_000 ms; undefined when malformed or out of range. */
export function parseDuration(text: string): number | undefined {
  const re = /(\d+)(ms|[smhdw])/y;
  let total = 0;
  let index = 0;
  let previousUnit = Number.POSITIVE_INFINITY;
  while (index < text.length) {
    re.lastIndex = index;
    const m = re.exec(text);
    if (!m) return undefined;
    const unit = durationUnits[m[2]!]!;
    // Units from largest to smallest, each once: `1h30m`, never `30m1h` or `1h1h`.
    if (unit >= previousUnit) return undefined;
    previousUnit = unit;
    total += Number(m[1]) * unit;
    index = re.lastIndex;
  }
  return index > 0 && Number.isSafeInteger(total) ? total : undefined;
}

/** Milliseconds to the canonical literal (`90m` -> `1h30m`), also used to print durations in reasons. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms === 0) return "0s";
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(Math.round(ms));
  let out = "";
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1_000],
    ["ms", 1],
  ] as const) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return sign + out;
}

/** `2026-11-26` (midnight UTC) or an RFC 3339 date-time -> epoch ms; undefined when not a real instant. */
export function parseTimestamp(text: string): number | undefined {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.exec(
      text,
    );
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4] ?? "0", m[5] ?? "0", m[6] ?? "0"].map(
    Number,
  ) as number[];
  const date = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo! - 1 || date.getUTCDate() !== d)
    return undefined;
  if (h! > 23 || mi! > 59 || s! > 59) return undefined;
  if (m[4] === undefined) return date.getTime();
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Why a timestamp literal is not valid, in the words of a diagnostic. */
export function timestampProblem(text: string): { message: string; help: string } {
  if (/T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$/.test(text)) {
    return {
      message: `\`${text}\` has no time zone`,
      help: "add `Z` for UTC, or an offset such as `+02:00`",
    };
  }
  return {
    message: `\`${text}\` is not a valid date`,
    help: "write a date as `YYYY-MM-DD` or a time as `YYYY-MM-DDThh:mm:ssZ`",
  };
}

export function isDateOnly(text: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(text);
}

export interface UnescapeProblem {
  /** offset inside the literal's content */
  offset: number;
  length: number;
  sequence: string;
}

/**
 * Decodes the escapes of a string literal's content (without its quotes). Problems past
 * `maxProblems` are not recorded: one string of a million bad escapes must not make a million.
 */
export function unescapeString(
  content: string,
  problems: UnescapeProblem[],
  maxProblems = Number.POSITIVE_INFINITY,
): string {
  if (!content.includes("\\")) return content;
  let out = "";
  for (let i = 0; i < content.length; i++) {
    const ch = content[i]!;
    if (ch !== "\\") {
      out += ch;
      continue;
    }
    const next = content[i + 1];
    switch (next) {
      case '"':
      case "\\":
      case "{":
      case "}":
      case "/":
        out += next;
        i++;
        break;
      case "n":
        out += "\n";
        i++;
        break;
      case "t":
        out += "\t";
        i++;
        break;
      case "r":
        out += "\r";
        i++;
        break;
      case "u": {
        const m = /^u(?:([0-9a-fA-F]{4})|\{([0-9a-fA-F]{1,6})\})/.exec(content.slice(i + 1));
        const code = m ? Number.parseInt(m[1] ?? m[2]!, 16) : Number.NaN;
        if (!m || code > 0x10ffff) {
          if (problems.length < maxProblems)
            problems.push({ offset: i, length: 2, sequence: content.slice(i, i + 2) });
          i++;
        } else {
          out += String.fromCodePoint(code);
          i += m[0].length;
        }
        break;
      }
      default:
        if (problems.length < maxProblems)
          problems.push({
            offset: i,
            length: next === undefined ? 1 : 2,
            sequence: content.slice(i, i + 2),
          });
        i++;
    }
  }
  return out;
}

/** The string literal that reads back as `value`. */
export function quoteString(value: string, template = false): string {
  let out = '"';
  for (const ch of value) {
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (template && (ch === "{" || ch === "}")) out += `\\${ch}`;
    else if (ch < " " || ch === "\u2028" || ch === "\u2029" || ch === "\u007f")
      out += `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}
