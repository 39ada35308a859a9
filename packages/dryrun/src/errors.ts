/**
 * The errors that stop reading, registered in one place. Everything else about bad input (a
 * malformed line, an invalid record) is data: a record outcome, counted, and the run goes on.
 * Invalid options are programming errors and throw a TypeError.
 */

/** Stable codes, with what each means. `docs/` and the tests list them from here. */
export const SOURCE_ERROR_CODES = Object.freeze({
  source_not_found: "a source path does not exist",
  source_unreadable: "a source could not be read (permissions, I/O error, a directory walk failed)",
  source_empty_directory: "a directory source holds no `.json`, `.ndjson`, `.jsonl` or `.gz` file",
  source_stdin_twice: "standard input (`-`) was given more than once",
  gzip_truncated: "a gzip source ends before its compressed stream does",
  gzip_corrupt: "a gzip source is not valid gzip data",
  strict_malformed: "strict mode: a record is not valid JSON (or is too long)",
  strict_invalid: "strict mode: a record is not a valid analysis result",
} as const);

export type SourceErrorCode = keyof typeof SOURCE_ERROR_CODES;

/** An error that stops reading, naming the source (and the record, when there is one). */
export class SourceError extends Error {
  override readonly name = "SourceError";
  readonly code: SourceErrorCode;
  /** The file path, or `<stdin>`. */
  readonly source: string;
  /** The record's line (or element index), when the error is about one record. */
  readonly line: number | undefined;
  /** How to fix it, when there is something to say. */
  readonly help: string | undefined;

  constructor(
    code: SourceErrorCode,
    source: string,
    message: string,
    extra: { line?: number; help?: string; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.code = code;
    this.source = source;
    this.line = extra.line;
    this.help = extra.help;
  }
}
