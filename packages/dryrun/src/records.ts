/**
 * Raw records (text and where it came from), what one parses to, and the totals that must add up.
 * Reading (`sources.ts`) and parsing are separate so that parsing can run in worker threads.
 */
import {
  type AnalysisResult,
  INPUT_FORMATS,
  type InputFormat,
  type InputLimits,
  listOf,
  type Problem,
  toCanonical,
} from "@clearance/engine";
import { resolveOptions, type Static, Type } from "@clearance/options";
import { SourceError } from "./errors.js";
import { findJsonSyntaxError, lineAndColumn } from "./json-error.js";

/** One record as read, before parsing. */
export interface RawRecord {
  /** The file path, or `<stdin>`. */
  source: string;
  /**
   * With `unit: "line"` (NDJSON, and JSON files holding one value or a few): the 1-based line the
   * record starts on. With `unit: "index"` (JSON arrays): the element's 0-based index, as in a JSON
   * Pointer.
   */
  line: number;
  unit: "line" | "index";
  /** The record's JSON text ("" when `error` is set and the text was not kept). */
  text: string;
  /** A problem found while reading (a record too long, an unclosed array): the record is malformed. */
  error?: string;
}

/** `history.ndjson:12` for a line, `history.json[3]` for an array element. */
export function recordLocation(record: Pick<RawRecord, "source" | "line" | "unit">): string {
  return record.unit === "index"
    ? `${record.source}[${record.line}]`
    : `${record.source}:${record.line}`;
}

export type ParsedRecord =
  | {
      kind: "valid";
      result: AnalysisResult;
      format: InputFormat;
      warnings: string[];
      /** the request context recorded with an audit-log entry, replayed with it */
      context?: unknown;
    }
  | { kind: "invalid"; problems: Problem[]; format?: InputFormat }
  | { kind: "malformed"; message: string };

export type RecordKind = ParsedRecord["kind"];

/**
 * Parse options, declared once. `format` and `limits` are the engine's to check: the declaration
 * names them, and `toCanonical` judges their values.
 */
const PARSE_OPTIONS = Type.Object(
  {
    /** Read every record as this format instead of detecting it per record. */
    format: Type.Optional(Type.Unsafe<InputFormat>({})),
    /** Throw a `SourceError` (`strict_malformed`, `strict_invalid`) instead of returning those. */
    strict: Type.Optional(Type.Boolean()),
    /** Input limits for validation (see `@clearance/engine`). */
    limits: Type.Optional(Type.Unsafe<Partial<InputLimits>>({})),
  },
  { additionalProperties: false },
);

export type ParseRecordOptions = Static<typeof PARSE_OPTIONS>;

/**
 * Checks parse options (unknown keys and bad values throw a TypeError) and returns them frozen.
 * Each options object is checked once: `parseRecord` remembers the objects it has seen (do not
 * change one after use).
 */
export function resolveParseOptions(
  options: ParseRecordOptions = {},
): Readonly<ParseRecordOptions> {
  if (resolved.has(options)) return options;
  const frozen = resolveOptions(PARSE_OPTIONS, options, { noun: "parse option" });
  // `format` and `limits` are checked by toCanonical; run it once so a bad value throws here.
  toCanonical({ sha256: "0".repeat(64) }, { format: frozen.format, limits: frozen.limits });
  resolved.add(frozen);
  resolved.add(options);
  return frozen;
}

const resolved = new WeakSet<object>();

/**
 * Parses and validates one raw record: `valid` (a canonical result, its detected format and any
 * adapter warnings), `invalid` (JSON, but not an analysis result: JSON Pointer problems) or
 * `malformed` (a reading problem, or not JSON: the message gives the position). Never throws,
 * except in strict mode and for invalid options.
 */
export function parseRecord(raw: RawRecord, options?: ParseRecordOptions): ParsedRecord {
  const opts = resolveParseOptions(options);
  let parsed: ParsedRecord;
  if (raw.error !== undefined) {
    parsed = { kind: "malformed", message: raw.error };
  } else {
    let value: unknown;
    let ok = true;
    try {
      value = JSON.parse(raw.text);
    } catch {
      ok = false;
    }
    if (!ok) {
      parsed = { kind: "malformed", message: syntaxMessage(raw) };
    } else {
      const entry = auditEntryInput(value);
      const list = entry ? undefined : listOf(value);
      if (list !== undefined) {
        // one record, one result, one location in the reports: a list is not split here, but
        // said to be one, with the way to write its items one per line
        parsed = {
          kind: "invalid",
          problems: [
            {
              pointer: "",
              message: `the record is a list of ${list.items.length} item${list.items.length === 1 ? "" : "s"} (${list.what}), not one result: write one item per line, for example with \`jq -c '${list.at === "" ? ".[]" : `.${list.at}[]`}'\``,
            },
          ],
        };
      } else if (entry && entry.snapshot === null) {
        parsed = {
          kind: "invalid",
          problems: [
            {
              pointer: "/input",
              message:
                "the audit entry has no input snapshot (exported with --no-inputs, or pruned)",
            },
          ],
        };
      } else {
        const input = entry ? entry.snapshot!.result : value;
        // a snapshot recorded from a request that forced its format keeps that format
        const format = opts.format ?? entry?.snapshot?.format;
        let outcome = toCanonical(input, { format, limits: opts.limits });
        // snapshots stored before they said their format were canonical results
        if (!outcome.ok && entry && format === undefined)
          outcome = toCanonical(input, { format: "canonical", limits: opts.limits });
        if (outcome.ok) {
          parsed = {
            kind: "valid",
            result: outcome.result,
            format: outcome.format ?? "canonical",
            warnings: outcome.warnings ?? [],
          };
          if (entry?.snapshot?.context !== undefined) parsed.context = entry.snapshot.context;
        } else {
          const problems = entry
            ? outcome.problems.map((p) => ({ ...p, pointer: `/input/result${p.pointer}` }))
            : outcome.problems;
          parsed =
            outcome.format === undefined
              ? { kind: "invalid", problems }
              : { kind: "invalid", problems, format: outcome.format };
        }
      }
    }
  }
  if (opts.strict && parsed.kind !== "valid") throw strictError(raw, parsed);
  return parsed;
}

/**
 * A line of `clearance audit export` (or `GET /v1/audit/export`): an entry with its chain position
 * and the input snapshot it was decided on. Replaying it means deciding `input.result` with
 * `input.context`, not the entry itself. `snapshot` is null when the line carries no input. A
 * snapshot is the decision request as received (its `format`, when given, forces the input format)
 * or `{result, context}` with the result in canonical form.
 */
function auditEntryInput(
  value: unknown,
): { snapshot: { result: unknown; context?: unknown; format?: InputFormat } | null } | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.chain !== "string" || typeof v.seq !== "number" || typeof v.hash !== "string")
    return undefined;
  const input = v.input;
  if (input === null || typeof input !== "object" || !("result" in input))
    return { snapshot: null };
  const snapshot = input as { result: unknown; context?: unknown; format?: unknown };
  return {
    snapshot: {
      result: snapshot.result,
      ...("context" in snapshot ? { context: snapshot.context } : {}),
      ...(INPUT_FORMATS.includes(snapshot.format as InputFormat)
        ? { format: snapshot.format as InputFormat }
        : {}),
    },
  };
}

function syntaxMessage(raw: RawRecord): string {
  const error = findJsonSyntaxError(raw.text);
  // JSON.parse and the validator agree on what is JSON; this is only a fallback.
  if (error === undefined) return "malformed JSON";
  const { line, column } = lineAndColumn(raw.text, error.offset);
  let where: string;
  if (line === 1) where = `column ${column}`;
  else if (raw.unit === "line") where = `line ${raw.line + line - 1}, column ${column}`;
  else where = `line ${line} of the element, column ${column}`;
  return `malformed JSON at ${where}: ${error.message}`;
}

function strictError(raw: RawRecord, parsed: ParsedRecord): SourceError {
  const at = recordLocation(raw);
  if (parsed.kind === "malformed") {
    return new SourceError("strict_malformed", raw.source, `${at}: ${parsed.message}`, {
      line: raw.line,
      help: "fix the record, or run without --strict to count it and go on",
    });
  }
  const problems =
    parsed.kind === "invalid"
      ? parsed.problems.map((p) => `${p.pointer || "/"}: ${p.message}`).join("; ")
      : "";
  return new SourceError(
    "strict_invalid",
    raw.source,
    `${at}: not a valid analysis result: ${problems}`,
    { line: raw.line, help: "fix the record, or run without --strict to count it and go on" },
  );
}

// ---------------------------------------------------------------------------------------------
// Totals

export interface Totals {
  read: number;
  valid: number;
  invalid: number;
  malformed: number;
}

/**
 * Counts records read and what each parsed to. `read` is counted where records are read and the
 * kinds where they are parsed (possibly in other threads, merged with `add`), so a record lost on
 * the way shows as totals that do not add up.
 */
export class Tally {
  #read = 0;
  #valid = 0;
  #invalid = 0;
  #malformed = 0;

  /** One record read (or `n`). */
  countRead(n = 1): void {
    this.#read += n;
  }

  /** One record parsed. */
  count(outcome: ParsedRecord | RecordKind): void {
    const kind = typeof outcome === "string" ? outcome : outcome.kind;
    if (kind === "valid") this.#valid++;
    else if (kind === "invalid") this.#invalid++;
    else if (kind === "malformed") this.#malformed++;
    else throw new TypeError(`unknown record kind \`${String(kind)}\``);
  }

  /** Adds other totals (another worker's) to these. */
  add(totals: Totals): void {
    this.#read += totals.read;
    this.#valid += totals.valid;
    this.#invalid += totals.invalid;
    this.#malformed += totals.malformed;
  }

  get totals(): Totals {
    return {
      read: this.#read,
      valid: this.#valid,
      invalid: this.#invalid,
      malformed: this.#malformed,
    };
  }

  /** True when every record read was counted as exactly one of valid, invalid and malformed. */
  get balanced(): boolean {
    return this.#read === this.#valid + this.#invalid + this.#malformed;
  }

  /** Throws an Error naming the numbers when the totals do not add up. */
  assertBalanced(): void {
    if (!this.balanced) {
      const t = this.totals;
      throw new Error(
        `totals do not add up: ${t.read} read, but ${t.valid} valid + ${t.invalid} invalid + ${t.malformed} malformed = ${t.valid + t.invalid + t.malformed}`,
      );
    }
  }

  toJSON(): Totals {
    return this.totals;
  }
}
