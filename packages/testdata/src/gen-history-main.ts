/**
 * The `gen:history` command, as a function of its arguments and output streams (tested without a
 * process). Lines are written in batches of about 1 MiB, waiting for the stream to drain, so a
 * million records take flat memory.
 */
import { createWriteStream } from "node:fs";
import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { parseArgs } from "node:util";
import { createGzip } from "node:zlib";
import { type HistoryFormat, historyLines } from "./generate.js";

export const GEN_HISTORY_USAGE = `usage: pnpm -s gen:history [--count N] [--seed S] [--format canonical|virustotal] [--out FILE|-]

Writes N generated analysis results (default 3000, seed 7) as NDJSON to FILE, or to standard output
with \`--out -\` (the default; use \`pnpm -s\` so that pnpm's banner stays out of the data). A FILE
ending in \`.gz\` is gzip-compressed. The same count, seed and format always give the same bytes.`;

export interface GenHistoryIo {
  stdout: Writable;
  stderr: Writable;
  /** a status line rewritten in place (a terminal on stderr), or null to clear it */
  status?: (line: string | null) => void;
  /** the clock, for the summary's duration */
  now?: () => number;
}

const BATCH_CHARS = 1 << 20;

/** Runs the command; resolves to the exit code (0, or 1 for bad arguments and write errors). */
export async function runGenHistory(argv: readonly string[], io: GenHistoryIo): Promise<number> {
  let count: number;
  let seed: number;
  let format: HistoryFormat;
  let out: string;
  try {
    const { values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        count: { type: "string", default: "3000" },
        seed: { type: "string", default: "7" },
        format: { type: "string", default: "canonical" },
        out: { type: "string", default: "-" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      io.stdout.write(`${GEN_HISTORY_USAGE}\n`);
      return 0;
    }
    count = integer("--count", values.count, 0);
    seed = integer("--seed", values.seed, -(2 ** 31));
    if (values.format !== "canonical" && values.format !== "virustotal") {
      throw new Error(
        `--format \`${values.format}\` is not a format (known formats: \`canonical\`, \`virustotal\`)`,
      );
    }
    format = values.format;
    out = values.out;
  } catch (error) {
    const message = (error as Error).message.replace(/\.$/, "");
    io.stderr.write(`error: ${message.charAt(0).toLowerCase()}${message.slice(1)}\n`);
    io.stderr.write(`${GEN_HISTORY_USAGE}\n`);
    return 1;
  }

  let sink: Writable = io.stdout;
  let file: Writable | undefined;
  if (out !== "-") {
    file = createWriteStream(out);
    sink = file;
    if (out.toLowerCase().endsWith(".gz")) {
      const gzip = createGzip();
      gzip.pipe(file);
      sink = gzip;
    }
  }
  const now = io.now ?? Date.now;
  const started = now();
  const progress = { records: 0, bytes: 0 };
  try {
    await write(sink, historyLines(count, seed, format), progress, (p) =>
      io.status?.(
        `gen:history: ${count === 0 ? 100 : Math.floor((p.records / count) * 100)}% (${p.records.toLocaleString("en-US")} of ${count.toLocaleString("en-US")} records, ${size(p.bytes)})`,
      ),
    );
    if (sink !== io.stdout) {
      sink.end();
      await finished(file!);
    }
    io.status?.(null);
    // The data goes to stdout or the file; the summary to stderr, so a pipe stays pure NDJSON.
    const where = out === "-" ? "standard output" : `\`${out}\`${sink !== file ? " (gzip)" : ""}`;
    const seconds = ((now() - started) / 1000).toFixed(1);
    io.stderr.write(
      `wrote ${progress.records.toLocaleString("en-US")} ${progress.records === 1 ? "record" : "records"} (${size(progress.bytes)} of NDJSON) to ${where} in ${seconds} s\n`,
    );
    return 0;
  } catch (error) {
    // A closed pipe (`| head`) is the reader's choice, not an error.
    if ((error as NodeJS.ErrnoException).code === "EPIPE") return 0;
    io.stderr.write(`error: cannot write \`${out}\`: ${(error as Error).message}\n`);
    return 1;
  }
}

function integer(name: string, text: string, min: number): number {
  const value = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
    throw new Error(`${name} \`${text}\` must be an integer of at least ${min}`);
  }
  return value;
}

/** Bytes as a short human figure: 512 B, 4.9 KB, 4.7 GB (powers of 1000, as `ls -h --si`). */
function size(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${v} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

async function write(
  sink: Writable,
  lines: Iterable<string>,
  progress: { records: number; bytes: number },
  report: (p: { records: number; bytes: number }) => void,
): Promise<void> {
  let failure: Error | undefined;
  const onError = (error: Error) => {
    failure = error;
  };
  sink.on("error", onError);
  try {
    let batch = "";
    for (const line of lines) {
      batch += `${line}\n`;
      progress.records++;
      if (batch.length >= BATCH_CHARS) {
        await flush(sink, batch, () => failure);
        progress.bytes += Buffer.byteLength(batch);
        batch = "";
        report(progress);
      }
    }
    if (batch !== "") await flush(sink, batch, () => failure);
    progress.bytes += Buffer.byteLength(batch);
    if (failure) throw failure;
  } finally {
    sink.off("error", onError);
  }
}

function flush(sink: Writable, text: string, failed: () => Error | undefined): Promise<void> {
  const error = failed();
  if (error) return Promise.reject(error);
  if (sink.write(text)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      sink.off("error", onFail);
      resolve();
    };
    const onFail = (e: Error) => {
      sink.off("drain", onDrain);
      reject(e);
    };
    sink.once("drain", onDrain);
    sink.once("error", onFail);
  });
}
