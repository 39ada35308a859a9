/**
 * Incremental splitters: bytes in (any chunking), raw records out, never more than one record (and
 * the chunk holding it) in memory. Both work on bytes, so record sizes are exact UTF-8 sizes and a
 * chunk boundary inside a multi-byte character does no harm: text is decoded one whole record at a
 * time.
 *
 * - `LineSplitter`: NDJSON. Lines end at `\n`; a `\r` before it is dropped; blank lines are skipped
 *   (they still count for line numbers).
 * - `JsonSplitter`: a JSON array (`"array"`: each element is a record, numbered by index) or a
 *   sequence of JSON values (`"values"`: each top-level value, usually just one, is a record
 *   numbered by the line it starts on). It tracks nesting depth and strings (with escapes) and
 *   nothing else: each record's text is parsed later, so a syntax error inside an element stays
 *   in that element. Structural problems (an empty element, an unclosed array, text after the
 *   array) become records with an `error`, never a silent short count.
 *
 * A record over `maxBytes` is not kept: its bytes are counted and dropped, and it comes out with
 * an empty text and an `error`.
 */
import type { RawRecord } from "./records.js";

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

function isWs(c: number): boolean {
  return c === SPACE || c === LF || c === CR || c === TAB;
}

export interface Splitter {
  /** Consumes one chunk, appending the records it completes to `out`. */
  push(chunk: Buffer, out: RawRecord[]): void;
  /** End of input: appends the last record, if any, to `out`. */
  end(out: RawRecord[]): void;
}

function tooLong(what: string, bytes: number, max: number): string {
  return `${what} is ${bytes} bytes, over the limit of ${max} bytes`;
}

function decode(parts: Buffer[]): string {
  if (parts.length === 0) return "";
  return (parts.length === 1 ? parts[0]! : Buffer.concat(parts)).toString("utf8");
}

// ---------------------------------------------------------------------------------------------
// NDJSON

export class LineSplitter implements Splitter {
  readonly #source: string;
  readonly #max: number;
  #line = 0;
  /** Pieces of the current line from earlier chunks. */
  #parts: Buffer[] = [];
  /** Bytes of the current line so far (counted even when dropped). */
  #bytes = 0;
  #dropping = false;

  constructor(source: string, maxBytes: number) {
    this.#source = source;
    this.#max = maxBytes;
  }

  push(chunk: Buffer, out: RawRecord[]): void {
    const n = chunk.length;
    let pos = 0;
    while (pos < n) {
      const nl = chunk.indexOf(LF, pos);
      if (nl === -1) {
        this.#keep(chunk, pos, n);
        return;
      }
      this.#line++;
      if (this.#bytes === 0 && !this.#dropping) this.#emit(chunk, pos, nl, out);
      else {
        this.#keep(chunk, pos, nl);
        this.#emitKept(out);
      }
      pos = nl + 1;
    }
  }

  end(out: RawRecord[]): void {
    if (this.#bytes > 0 || this.#dropping) {
      this.#line++;
      this.#emitKept(out);
    }
  }

  #keep(chunk: Buffer, start: number, end: number): void {
    if (end === start) return;
    this.#bytes += end - start;
    if (this.#dropping) return;
    // One byte of slack for a `\r` before the `\n`.
    if (this.#bytes > this.#max + 1) {
      this.#dropping = true;
      this.#parts = [];
      return;
    }
    this.#parts.push(chunk.subarray(start, end));
  }

  #emitKept(out: RawRecord[]): void {
    if (this.#dropping) {
      out.push(this.#tooLong(this.#bytes));
    } else {
      const joined = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
      this.#emit(joined, 0, joined.length, out);
    }
    this.#parts = [];
    this.#bytes = 0;
    this.#dropping = false;
  }

  #emit(buffer: Buffer, start: number, end: number, out: RawRecord[]): void {
    if (end > start && buffer[end - 1] === CR) end--;
    if (end - start > this.#max) {
      out.push(this.#tooLong(end - start));
      return;
    }
    // Blank: nothing but spaces and tabs (the usual first byte, `{`, ends the check at once).
    let k = start;
    while (k < end && isWs(buffer[k]!)) k++;
    if (k === end) return;
    out.push({
      source: this.#source,
      line: this.#line,
      unit: "line",
      text: buffer.toString("utf8", start, end),
    });
  }

  #tooLong(bytes: number): RawRecord {
    // A dropped line's length may include the `\r` of a CRLF ending.
    return {
      source: this.#source,
      line: this.#line,
      unit: "line",
      text: "",
      error: tooLong("line", bytes, this.#max),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// JSON arrays and value sequences

/** Where the splitter is, outside strings. */
const BEFORE = 0; // array mode: before the opening `[`
const INSIDE = 1; // array mode: inside the array; values mode: always
const AFTER = 2; // array mode: after the closing `]`
const DONE = 3; // stop looking (content after the array was reported)

export type JsonSplitMode = "array" | "values";

export class JsonSplitter implements Splitter {
  readonly #source: string;
  readonly #max: number;
  readonly #array: boolean;
  #phase: number;
  /** Open arrays and objects, the enclosing array included (array mode). */
  #depth = 0;
  #inString = false;
  /** The previous chunk ended with a backslash inside a string. */
  #escape = false;
  /** Values mode: a top-level scalar (number, literal, garbage) is in progress. */
  #scalar = false;
  /** A record's text has started (array mode: since the last `[` or `,`). */
  #inRecord = false;
  /** Array mode: a `,` was seen since the `[` (so `[1,]` has an empty element). */
  #afterComma = false;
  #parts: Buffer[] = [];
  #bytes = 0;
  #dropping = false;
  /** Array mode: the next element's index. */
  #index = 0;
  /** Values mode: the current line, and the line the current record started on. */
  #line = 1;
  #startLine = 1;

  constructor(source: string, maxBytes: number, mode: JsonSplitMode) {
    this.#source = source;
    this.#max = maxBytes;
    this.#array = mode === "array";
    this.#phase = this.#array ? BEFORE : INSIDE;
  }

  push(chunk: Buffer, out: RawRecord[]): void {
    const n = chunk.length;
    let i = 0;
    /** Where the current record's text starts in this chunk. */
    let start = 0;
    let depth = this.#depth;
    const array = this.#array;

    while (i < n) {
      if (this.#inString) {
        if (this.#escape) {
          this.#escape = false;
          i++;
        }
        for (; i < n; i++) {
          const c = chunk[i]!;
          if (c === BACKSLASH) {
            if (++i === n) this.#escape = true;
          } else if (c === QUOTE) {
            this.#inString = false;
            i++;
            break;
          }
        }
        if (!this.#inString && !array && depth === 0) {
          // A top-level string value ends here.
          this.#finish(chunk, start, i, out);
        }
        continue;
      }
      const c = chunk[i]!;
      if (this.#phase !== INSIDE) {
        if (this.#phase === BEFORE) {
          if (c === OPEN_BRACKET) {
            this.#phase = INSIDE;
            depth = 1;
          } else if (!isWs(c)) {
            this.#phase = DONE;
            out.push(this.#problem(0, "expected a JSON array starting with `[`"));
          }
        } else if (this.#phase === AFTER && !isWs(c)) {
          this.#phase = DONE;
          out.push(this.#problem(this.#index, "unexpected content after the end of the array"));
        }
        if (this.#phase === DONE) break;
        i++;
        continue;
      }
      if (array ? depth === 1 : depth === 0) {
        // Between records, or in a record at its top level.
        if (array) {
          if (c === COMMA || c === CLOSE_BRACKET) {
            if (this.#inRecord) this.#finish(chunk, start, i, out);
            else if (c === COMMA || this.#afterComma) out.push(this.#empty());
            if (c === COMMA) this.#afterComma = true;
            else {
              this.#phase = AFTER;
              depth = 0;
            }
            i++;
            continue;
          }
        } else if (this.#scalar) {
          if (isWs(c) || c === OPEN_BRACE || c === OPEN_BRACKET || c === QUOTE) {
            this.#finish(chunk, start, i, out);
            continue; // reconsider this byte between records
          }
          i++;
          continue;
        }
        if (isWs(c)) {
          if (!array && c === LF) this.#line++;
          i++;
          continue;
        }
        if (!this.#inRecord) {
          this.#inRecord = true;
          start = i;
          this.#startLine = this.#line;
        }
        if (c === QUOTE) this.#inString = true;
        else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
        else if (!array) this.#scalar = true;
        i++;
        continue;
      }
      // Inside a record's arrays and objects: the bulk of the bytes, in one tight loop that
      // returns to the top level (or stops at the end of the chunk, inside a string or not).
      const base = array ? 1 : 0;
      for (; i < n; i++) {
        const b = chunk[i]!;
        if (b === QUOTE) {
          for (i++; i < n; i++) {
            const d = chunk[i]!;
            if (d === BACKSLASH) {
              if (++i === n) this.#escape = true;
            } else if (d === QUOTE) break;
          }
          if (i >= n) this.#inString = true;
        } else if (b === OPEN_BRACE || b === OPEN_BRACKET) depth++;
        else if ((b === CLOSE_BRACE || b === CLOSE_BRACKET) && --depth === base) {
          i++;
          if (!array) {
            this.#depth = depth;
            this.#finish(chunk, start, i, out);
          }
          break;
        }
      }
    }
    this.#depth = depth;
    if (this.#inRecord) this.#keep(chunk, start, n);
  }

  end(out: RawRecord[]): void {
    if (this.#array) {
      if (this.#phase !== INSIDE) return;
      const text = this.#inRecord ? this.#text() : "";
      out.push({
        ...this.#problem(this.#index++, "unexpected end of input: the array is not closed"),
        text,
      });
      return;
    }
    if (!this.#inRecord) return;
    if (this.#scalar) {
      this.#scalar = false;
      this.#inRecord = false;
      out.push(this.#record(this.#text()));
      return;
    }
    out.push({
      ...this.#record(this.#text()),
      error: this.#inString
        ? "unexpected end of input inside a string"
        : "unexpected end of input: an object or array is not closed",
    });
  }

  #keep(chunk: Buffer, start: number, end: number): void {
    if (end === start) return;
    this.#bytes += end - start;
    if (!this.#array) {
      // Lines inside a dropped record still count.
      if (this.#dropping || this.#bytes > this.#max) {
        for (let k = start; k < end; k++) if (chunk[k] === LF) this.#line++;
      }
    }
    if (this.#dropping) return;
    if (this.#bytes > this.#max) {
      this.#dropping = true;
      if (!this.#array) {
        for (const part of this.#parts) for (const byte of part) if (byte === LF) this.#line++;
      }
      this.#parts = [];
      return;
    }
    this.#parts.push(chunk.subarray(start, end));
  }

  /** The current record's text, and a reset of its state. */
  #text(): string {
    const text = this.#dropping ? "" : decode(this.#parts);
    this.#parts = [];
    return text;
  }

  /** Completes the record whose text ends at `end` in `chunk`. */
  #finish(chunk: Buffer, start: number, end: number, out: RawRecord[]): void {
    this.#keep(chunk, start, end);
    const bytes = this.#bytes;
    const dropping = this.#dropping;
    const text = dropping ? "" : decode(this.#parts);
    if (!this.#array && !dropping) {
      for (let k = text.indexOf("\n"); k !== -1; k = text.indexOf("\n", k + 1)) this.#line++;
    }
    this.#parts = [];
    this.#bytes = 0;
    this.#dropping = false;
    this.#inRecord = false;
    this.#scalar = false;
    const record = this.#record(text);
    if (dropping) {
      record.error = tooLong(this.#array ? "array element" : "JSON value", bytes, this.#max);
    }
    out.push(record);
  }

  #record(text: string): RawRecord {
    return this.#array
      ? { source: this.#source, line: this.#index++, unit: "index", text }
      : { source: this.#source, line: this.#startLine, unit: "line", text };
  }

  #empty(): RawRecord {
    return this.#problem(this.#index++, "empty array element (a doubled or trailing `,`)");
  }

  #problem(index: number, error: string): RawRecord {
    return this.#array
      ? { source: this.#source, line: index, unit: "index", text: "", error }
      : { source: this.#source, line: this.#line, unit: "line", text: "", error };
  }
}
