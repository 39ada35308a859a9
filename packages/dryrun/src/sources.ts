/**
 * Streaming record sources: files (NDJSON, JSON arrays, JSON documents, any of them gzip-compressed),
 * directories of such files, and standard input. Memory stays flat whatever the input size: a
 * source holds one chunk and one record at a time.
 *
 * How a source is read:
 * - gzip is detected by its magic bytes (a `.gz` name without them is an error);
 * - the first non-space byte (after a byte-order mark) `[` means a JSON array: each element is a
 *   record;
 * - otherwise a `.json` file (or `.json.gz`) holds JSON values, usually one, each a record (so a
 *   pretty-printed result is one record); any other file, and standard input, is NDJSON.
 * - a directory is every `*.json`, `*.ndjson`, `*.jsonl` and `*.gz` file under it, recursively,
 *   sorted by path (names starting with `.` are skipped, symbolic links to directories are not
 *   followed).
 *
 * Reading errors (a missing path, an I/O error, a truncated or corrupt gzip stream) throw a
 * `SourceError` naming the source; bad records do not: they come out as records with an `error`
 * or as text that does not parse, for `parseRecord` to report.
 */
import { createReadStream, type Dirent } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline, Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { defaultsOf, resolveOptions, type Static, Type } from "@clearance/options";
import { SourceError } from "./errors.js";
import type { RawRecord } from "./records.js";
import { JsonSplitter, LineSplitter, type Splitter } from "./split.js";

// Reading and parsing are separate steps; the record types are re-exported for callers of both.
export {
  type ParsedRecord,
  type ParseRecordOptions,
  parseRecord,
  type RawRecord,
  Tally,
} from "./records.js";

/** The most a record may be: the largest string V8 makes is about 512 MiB. */
export const MAX_RECORD_BYTES_LIMIT = 256 * 1_048_576;

/** Source options, declared once: the type, the check and the defaults. */
const SOURCE_OPTIONS = Type.Object(
  {
    /** Longest record, in UTF-8 bytes without its line ending; a longer one is malformed. */
    maxRecordBytes: Type.Integer({
      minimum: 1,
      maximum: MAX_RECORD_BYTES_LIMIT,
      default: 1_048_576,
    }),
    /** Read size for files, in bytes. */
    chunkBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1_048_576, default: 262_144 }),
    /** The stream read for `-` (default: `process.stdin`); checked below, it is not data. */
    stdin: Type.Optional(Type.Unsafe<NodeJS.ReadableStream>({})),
    /**
     * Opens sources that are not files: NDJSON streams for specs such as `audit:data/audit.db` or
     * `postgres://...`, supplied by the caller (this package reads no databases). Undefined for a
     * spec it does not handle, which is then read as a path.
     */
    external: Type.Optional(
      Type.Unsafe<(spec: string) => NodeJS.ReadableStream | undefined>({ type: "function" }),
    ),
  },
  { additionalProperties: false },
);

export type SourceOptions = Partial<Static<typeof SOURCE_OPTIONS>>;

type ResolvedSourceOptions = Readonly<Static<typeof SOURCE_OPTIONS>>;

export const DEFAULT_SOURCE_OPTIONS = defaultsOf(SOURCE_OPTIONS);

/** The name standard input goes by in records and errors. */
export const STDIN = "<stdin>";

/** File names a directory source reads. */
const RECORD_FILE = /\.(json|ndjson|jsonl|gz)$/i;

/**
 * Checks source options: unknown keys and bad values throw a TypeError naming them.
 * `maxRecordBytes` is an integer from 1 to 256 MiB; `chunkBytes` from 1 KiB to 64 MiB.
 */
export function resolveSourceOptions(options: SourceOptions = {}): ResolvedSourceOptions {
  const resolved = resolveOptions(SOURCE_OPTIONS, options, { noun: "source option" });
  const stdin = resolved.stdin;
  if (stdin !== undefined && typeof (stdin as Readable)[Symbol.asyncIterator] !== "function") {
    throw new TypeError("source option `stdin` must be a readable stream");
  }
  return resolved;
}

/**
 * Reads the sources one after another (each directory in path order) and yields every record.
 * Checks the options and the list at once (a TypeError for bad options, a `SourceError` for `-`
 * given twice); then, while reading, throws a `SourceError` at the first source that cannot be
 * read, after the records before it. Stopping the iteration closes the open file.
 */
export function openSources(
  specs: readonly string[],
  options?: SourceOptions,
): AsyncGenerator<RawRecord> {
  const opts = resolveSourceOptions(options);
  if (specs.filter((spec) => spec === "-").length > 1) {
    throw new SourceError("source_stdin_twice", STDIN, "standard input (`-`) is given twice", {
      help: "give `-` once",
    });
  }
  return readAll(specs, opts);
}

async function* readAll(
  specs: readonly string[],
  opts: ResolvedSourceOptions,
): AsyncGenerator<RawRecord> {
  for (const spec of specs) yield* read(spec, opts);
}

/** Reads one source (a file, a directory or `-`) and yields its records. See `openSources`. */
export function openSource(spec: string, options?: SourceOptions): AsyncGenerator<RawRecord> {
  return read(spec, resolveSourceOptions(options));
}

async function* read(spec: string, opts: ResolvedSourceOptions): AsyncGenerator<RawRecord> {
  if (spec === "-") {
    const stdin = opts.stdin ?? process.stdin;
    yield* readStream(stdin, STDIN, "stream", opts);
    return;
  }
  const external = opts.external?.(spec);
  if (external !== undefined) {
    yield* readStream(external, spec, "stream", opts);
    return;
  }
  const info = await stat(spec).catch((error: NodeJS.ErrnoException) => {
    throw unreadable(spec, error);
  });
  if (info.isDirectory()) {
    const files = await listDirectory(spec);
    if (files.length === 0) {
      throw new SourceError(
        "source_empty_directory",
        spec,
        `directory \`${spec}\` holds no \`.json\`, \`.ndjson\`, \`.jsonl\` or \`.gz\` file`,
      );
    }
    for (const file of files) yield* readFile(file, opts);
    return;
  }
  yield* readFile(spec, opts);
}

/** Every record file under `dir`, recursively, sorted by path (code-unit order). */
export async function listDirectory(dir: string): Promise<string[]> {
  const found: string[] = [];
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop()!;
    let entries: Dirent[];
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch (error) {
      throw unreadable(current, error as NodeJS.ErrnoException);
    }
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const path = join(current, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (RECORD_FILE.test(entry.name)) {
        if (entry.isFile()) found.push(path);
        else if (entry.isSymbolicLink()) {
          const target = await stat(path).catch(() => undefined);
          if (target?.isFile()) found.push(path);
        }
      }
    }
  }
  return found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

type Hint = "ndjson" | "json" | "stream";

function hintOf(path: string): Hint {
  const name = path.toLowerCase().replace(/\.gz$/, "");
  return name.endsWith(".json") ? "json" : "ndjson";
}

function readFile(path: string, opts: ResolvedSourceOptions): AsyncGenerator<RawRecord> {
  const stream = createReadStream(path, { highWaterMark: opts.chunkBytes });
  return readStream(stream, path, hintOf(path), opts, /\.gz$/i.test(path));
}

const GZIP_MAGIC_1 = 0x1f;
const GZIP_MAGIC_2 = 0x8b;

async function* readStream(
  stream: NodeJS.ReadableStream,
  source: string,
  hint: Hint,
  opts: ResolvedSourceOptions,
  gzipName = false,
): AsyncGenerator<RawRecord> {
  const input = (stream as Readable)[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  let chunks: AsyncIterator<Buffer> | undefined;
  try {
    // Enough bytes to tell gzip from text.
    const head = await readAtLeast(input, 2, source);
    if (head.length === 0) return;
    const gzip = head[0] === GZIP_MAGIC_1 && head[1] === GZIP_MAGIC_2;
    if (!gzip && gzipName) {
      throw new SourceError("gzip_corrupt", source, `\`${source}\` is not gzip data`, {
        help: "a `.gz` file must start with the gzip magic bytes `1f 8b`; rename it if it is plain text",
      });
    }
    chunks = prepend(head, bytes(input, source));
    if (gzip) chunks = gunzip(chunks, source, opts.chunkBytes);

    // Drop a byte-order mark, then look past leading white space for the first byte of content.
    let first = await nextChunk(chunks);
    if (first === undefined) return;
    while (first.length < 3) {
      const more = await nextChunk(chunks);
      if (more === undefined) break;
      first = Buffer.concat([first, more]);
    }
    if (first[0] === 0xef && first[1] === 0xbb && first[2] === 0xbf) first = first.subarray(3);
    let k = 0;
    for (;;) {
      while (k < first.length && isSpace(first[k]!)) k++;
      if (k < first.length) break;
      const more = await nextChunk(chunks);
      if (more === undefined) return; // nothing but white space
      first = Buffer.concat([first, more]);
    }
    const splitter: Splitter =
      first[k] === 0x5b
        ? new JsonSplitter(source, opts.maxRecordBytes, "array")
        : hint === "json"
          ? new JsonSplitter(source, opts.maxRecordBytes, "values")
          : new LineSplitter(source, opts.maxRecordBytes);
    // Leading white space goes to the splitter too: it holds line breaks.
    const out: RawRecord[] = [];
    splitter.push(first, out);
    for (const record of out) yield record;
    for (;;) {
      const chunk = await nextChunk(chunks);
      if (chunk === undefined) break;
      out.length = 0;
      splitter.push(chunk, out);
      for (const record of out) yield record;
    }
    out.length = 0;
    splitter.end(out);
    for (const record of out) yield record;
  } finally {
    await chunks?.return?.();
    await input.return?.();
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

async function nextChunk(chunks: AsyncIterator<Buffer>): Promise<Buffer | undefined> {
  for (;;) {
    const next = await chunks.next();
    if (next.done) return undefined;
    if (next.value.length > 0) return next.value;
  }
}

function toBuffer(chunk: Buffer | string): Buffer {
  return typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
}

async function readAtLeast(
  input: AsyncIterator<Buffer | string>,
  bytes: number,
  source: string,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  let length = 0;
  while (length < bytes) {
    let next: IteratorResult<Buffer | string>;
    try {
      next = await input.next();
    } catch (error) {
      throw unreadable(source, error as NodeJS.ErrnoException);
    }
    if (next.done) break;
    const chunk = toBuffer(next.value);
    parts.push(chunk);
    length += chunk.length;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** The rest of `input` as Buffers, with read errors named after the source. */
async function* bytes(
  input: AsyncIterator<Buffer | string>,
  source: string,
): AsyncGenerator<Buffer> {
  for (;;) {
    let next: IteratorResult<Buffer | string>;
    try {
      next = await input.next();
    } catch (error) {
      throw unreadable(source, error as NodeJS.ErrnoException);
    }
    if (next.done) return;
    yield toBuffer(next.value);
  }
}

async function* prepend(head: Buffer, rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  yield head;
  for (;;) {
    const next = await rest.next();
    if (next.done) return;
    yield next.value;
  }
}

/** Decompresses gzip (every member of a multi-member file); a short or corrupt stream throws. */
async function* gunzip(
  compressed: AsyncIterator<Buffer>,
  source: string,
  chunkBytes: number,
): AsyncGenerator<Buffer> {
  const input = Readable.from({ [Symbol.asyncIterator]: () => compressed });
  const inflate = createGunzip({ chunkSize: Math.min(chunkBytes, 1_048_576) });
  pipeline(input, inflate, () => {});
  try {
    for await (const chunk of inflate) yield chunk as Buffer;
  } catch (error) {
    if (error instanceof SourceError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "Z_BUF_ERROR") {
      throw new SourceError(
        "gzip_truncated",
        source,
        `\`${source}\` is truncated: the gzip stream ends early`,
        { cause: error, help: "the file was cut short (an interrupted copy or download?)" },
      );
    }
    throw new SourceError(
      "gzip_corrupt",
      source,
      `\`${source}\` is not valid gzip data: ${(error as Error).message}`,
      { cause: error },
    );
  } finally {
    input.destroy();
    inflate.destroy();
  }
}

function unreadable(path: string, error: NodeJS.ErrnoException): SourceError {
  if (error instanceof SourceError) return error;
  if (error.code === "ENOENT") {
    return new SourceError(
      "source_not_found",
      path,
      `cannot read \`${path}\`: no such file or directory`,
      {
        cause: error,
      },
    );
  }
  const reason =
    error.code === "EACCES" || error.code === "EPERM"
      ? "permission denied"
      : error.code === "EISDIR"
        ? "is a directory"
        : (error.message ?? String(error));
  return new SourceError("source_unreadable", path, `cannot read \`${path}\`: ${reason}`, {
    cause: error,
  });
}
