import {
  type Diagnostic,
  diagnostic,
  EXPIRY_WARNING_MS,
  type SourceFile,
  type Span,
} from "@clearance/dsl";
import {
  type ExceptionRecord,
  ExceptionSet,
  type ExceptionSetOptions,
  InvalidExceptionsError,
} from "./exceptions.js";

/*
 * `exceptions.json` of a rule directory: a JSON array of ExceptionRecord, as
 * `clearance exceptions export` writes it. Parsed and validated with ExceptionSet's own
 * validation; every problem is a diagnostic located at the value its JSON Pointer names.
 */

export interface ExceptionsFileOptions extends ExceptionSetOptions {
  /** the instant expiry warnings are computed against */
  now: number;
  /** at most this many problems become diagnostics; the rest are only counted */
  maxDiagnostics: number;
}

export interface ParsedExceptions {
  /** the records, frozen; empty when the file has errors */
  records: readonly ExceptionRecord[];
  diagnostics: Diagnostic[];
  /** problems found beyond `maxDiagnostics` */
  omitted: number;
}

const EMPTY: readonly ExceptionRecord[] = Object.freeze([]);

const FORMAT_HELP =
  'the file is a JSON array of exceptions, as `clearance exceptions export` writes it (docs/language.md, "Exceptions and review cases")';

export function parseExceptionsFile(
  file: SourceFile,
  options: ExceptionsFileOptions,
): ParsedExceptions {
  let raw: unknown;
  try {
    raw = JSON.parse(file.text);
  } catch (error) {
    const message = (error as Error).message;
    const at = /at position (\d+)/.exec(message);
    const start = at ? Math.min(Number(at[1]), file.text.length) : 0;
    // Node's message names the token and position; the position is shown by the code frame
    const what = message.replace(/ in JSON at position \d+.*$/s, "").replace(/\.$/, "");
    return {
      records: EMPTY,
      diagnostics: [
        diagnostic(
          "invalid_exceptions_file",
          `exceptions file is not valid JSON: ${lowerFirst(what)}`,
          { file: file.path, start, end: start },
          { help: FORMAT_HELP },
        ),
      ],
      omitted: 0,
    };
  }
  if (!Array.isArray(raw)) {
    return {
      records: EMPTY,
      diagnostics: [
        diagnostic(
          "invalid_exceptions_file",
          "exceptions file should hold a JSON array of exceptions",
          spanAt(file, spansOf(file.text), ""),
          { help: FORMAT_HELP },
        ),
      ],
      omitted: 0,
    };
  }
  try {
    new ExceptionSet(raw, {
      allowNoExpiry: options.allowNoExpiry === true,
      maxProblems: options.maxDiagnostics,
    });
  } catch (error) {
    if (!(error instanceof InvalidExceptionsError)) throw error;
    const spans = spansOf(file.text);
    const kept = error.problems;
    return {
      records: EMPTY,
      diagnostics: kept.map((p) =>
        diagnostic(
          "invalid_exception",
          `\`${p.pointer}\`${/^(is|should) /.test(p.message) ? " " : ": "}${p.message}`,
          spanAt(file, spans, p.pointer),
          {
            help: p.message.startsWith("is required: exceptions must expire")
              ? "give the exception an `expires` time; a rule set accepts exceptions that never expire only with the `allowNoExpiry` exception option"
              : FORMAT_HELP,
          },
        ),
      ),
      omitted: error.omitted,
    };
  }
  const records = Object.freeze(raw.map((r) => freezeRecord(r as ExceptionRecord)));
  return { records, ...expiryWarnings(file, records, options) };
}

/** `exception_expired` and `exception_expiring_soon`, in the window rules are warned in. */
function expiryWarnings(
  file: SourceFile,
  records: readonly ExceptionRecord[],
  options: ExceptionsFileOptions,
): { diagnostics: Diagnostic[]; omitted: number } {
  const diagnostics: Diagnostic[] = [];
  let omitted = 0;
  let spans: Map<string, [number, number]> | undefined;
  records.forEach((r, i) => {
    if (r.expires === null) return;
    const at = typeof r.expires === "number" ? r.expires : Date.parse(r.expires);
    const left = at - options.now;
    if (left > EXPIRY_WARNING_MS) return;
    if (diagnostics.length >= options.maxDiagnostics) {
      omitted++;
      return;
    }
    spans ??= spansOf(file.text);
    const span = spanAt(file, spans, `/${i}/expires`);
    const when = typeof r.expires === "number" ? new Date(at).toISOString() : r.expires;
    if (left <= 0) {
      diagnostics.push(
        diagnostic(
          "exception_expired",
          `exception \`${r.id}\` expired on ${when} and no longer applies`,
          span,
          { help: "remove it from `exceptions.json`, or export the exceptions again" },
        ),
      );
    } else {
      const days = Math.ceil(left / 86_400_000);
      diagnostics.push(
        diagnostic(
          "exception_expiring_soon",
          `exception \`${r.id}\` expires in ${days} day${days === 1 ? "" : "s"} (${when})`,
          span,
          {
            help: "renew it by a review or a new expiry date, or plan for the decision it changes",
          },
        ),
      );
    }
  });
  return { diagnostics, omitted };
}

function freezeRecord(r: ExceptionRecord): ExceptionRecord {
  Object.freeze(r.scope);
  Object.freeze(r.approvers);
  if (r.context) Object.freeze(r.context);
  return Object.freeze(r);
}

function lowerFirst(text: string): string {
  return text.length > 0 ? text[0]!.toLowerCase() + text.slice(1) : text;
}

/** The span of the value at `pointer`, or of the nearest enclosing value the file holds. */
function spanAt(file: SourceFile, spans: Map<string, [number, number]>, pointer: string): Span {
  for (let p = pointer; ; p = p.slice(0, p.lastIndexOf("/"))) {
    const found = spans.get(p);
    if (found) return { file: file.path, start: found[0], end: found[1] };
    if (p === "") return { file: file.path, start: 0, end: 0 };
  }
}

/**
 * The offsets of every value of a JSON text (known to parse), by JSON Pointer. Member names are
 * used as written, unescaped, as ExceptionSet's problems name them. Iterative: nesting depth
 * cannot overflow the stack.
 */
function spansOf(text: string): Map<string, [number, number]> {
  const spans = new Map<string, [number, number]>();
  // a frame per open container: its pointer, start, whether an array, the next index, the key
  const stack: { pointer: string; start: number; array: boolean; index: number; key?: string }[] =
    [];
  let i = 0;
  const skip = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0xfeff) i++;
      else break;
    }
  };
  const readString = (): string => {
    const start = i;
    i++;
    while (i < text.length) {
      const c = text[i]!;
      if (c === "\\") i += 2;
      else if (c === '"') break;
      else i++;
    }
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const childPointer = (): string => {
    const top = stack[stack.length - 1];
    if (!top) return "";
    return top.array ? `${top.pointer}/${top.index++}` : `${top.pointer}/${top.key}`;
  };
  const afterValue = () => {
    skip();
    if (text[i] === ",") {
      i++;
      skip();
      const top = stack[stack.length - 1];
      if (top && !top.array) {
        top.key = readString();
        skip();
        i++; // ':'
      }
    }
  };
  skip();
  while (i < text.length) {
    skip();
    const c = text[i];
    if (c === "]" || c === "}") {
      const top = stack.pop()!;
      i++;
      spans.set(top.pointer, [top.start, i]);
      afterValue();
      continue;
    }
    const pointer = childPointer();
    const start = i;
    if (c === "[" || c === "{") {
      i++;
      skip();
      const frame = { pointer, start, array: c === "[", index: 0 } as (typeof stack)[number];
      stack.push(frame);
      if (c === "{" && text[i] === '"') {
        frame.key = readString();
        skip();
        i++; // ':'
      }
      continue;
    }
    if (c === '"') readString();
    else while (i < text.length && !/[\s,\]}]/.test(text[i]!)) i++;
    spans.set(pointer, [start, i]);
    if (stack.length === 0) break;
    afterValue();
  }
  return spans;
}
