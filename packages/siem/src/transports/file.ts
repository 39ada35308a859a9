// Rotating NDJSON files for log shippers (Filebeat, Vector, Fluent Bit): events are appended to
// `<dir>/<prefix>.ndjson`, one per line, and a batch counts as delivered once it is written and
// fsynced. Before a batch that would take the file past `maxBytes` (or once it is older than
// `rotateEveryMs`) the file is renamed `<prefix>-<UTC time>-<n>.ndjson`, names that sort in time
// order, and the oldest rotated files beyond `keep` are deleted. A batch is never split between
// two files, and a line is never split.

import type { FileHandle } from "node:fs/promises";
import { mkdir, open, readdir, rename, truncate, unlink } from "node:fs/promises";
import { join } from "node:path";
import { type Static, Type } from "@clearance/options";
import { DeliveryError, type Transport } from "../transport.js";
import { Nullable, resolveTransportOptions, Section } from "./options.js";
import { abortMessage, Serial } from "./serial.js";

const DIR_MODE = 0o750;
const FILE_MODE = 0o640;

export const FileTransportOptionsSchema = Section({
  type: Type.Literal("file"),
  /** created (mode 0750) when missing */
  dir: Type.String({ minLength: 1 }),
  /** the file's name without `.ndjson`; no path separators */
  prefix: Type.String({
    pattern: "^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$",
    default: "clearance-events",
  }),
  /** rotate before a batch would take the file past this size */
  maxBytes: Type.Integer({ minimum: 1024, default: 100 * 1024 * 1024 }),
  /** also rotate a file once it is this old (when the next batch comes); null: by size only */
  rotateEveryMs: Nullable(Type.Integer({ minimum: 1000 })),
  /** rotated files kept; older ones are deleted */
  keep: Type.Integer({ minimum: 0, default: 10 }),
});

export type FileTransportOptions = Static<typeof FileTransportOptionsSchema>;

export function parseFileTransportOptions(
  value: unknown,
  path: string,
): Readonly<FileTransportOptions> {
  return resolveTransportOptions(FileTransportOptionsSchema, value, path);
}

/** `2026-12-05T01:20:34.123Z` -> `20261205T012034.123Z`: sortable, and valid in any file name. */
function compactTime(date: Date): string {
  return date.toISOString().replace(/[-:]/g, "");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function createFileTransport(input: FileTransportOptions): Transport {
  const options = parseFileTransportOptions(input, "");
  const current = join(options.dir, `${options.prefix}.ndjson`);
  // rotated names: the time to milliseconds, then a counter for rotations in the same millisecond
  const rotatedName = new RegExp(
    `^${escapeRegExp(options.prefix)}-\\d{8}T\\d{6}\\.\\d{3}Z-\\d{3}\\.ndjson$`,
  );
  const serial = new Serial();
  let handle: FileHandle | null = null;
  let size = 0;
  let startedAt = 0;
  let closed = false;

  async function openCurrent(): Promise<FileHandle> {
    if (handle !== null) return handle;
    await mkdir(options.dir, { recursive: true, mode: DIR_MODE });
    const h = await open(current, "a", FILE_MODE);
    const info = await h.stat();
    size = info.size;
    // a file left by an earlier run is as old as its first write; birthtime where the system has it
    startedAt = info.size === 0 ? Date.now() : info.birthtimeMs || info.mtimeMs;
    handle = h;
    return h;
  }

  async function syncDir(): Promise<void> {
    // a rename is durable once the directory is synced
    const dir = await open(options.dir, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  async function rotate(): Promise<void> {
    if (handle !== null) {
      await handle.close();
      handle = null;
    }
    const stamp = compactTime(new Date());
    const existing = new Set(await readdir(options.dir));
    let n = 0;
    while (existing.has(`${options.prefix}-${stamp}-${String(n).padStart(3, "0")}.ndjson`)) n++;
    await rename(
      current,
      join(options.dir, `${options.prefix}-${stamp}-${String(n).padStart(3, "0")}.ndjson`),
    );
    await syncDir();
    const rotated = (await readdir(options.dir)).filter((name) => rotatedName.test(name)).sort();
    for (const name of rotated.slice(0, Math.max(0, rotated.length - options.keep)))
      await unlink(join(options.dir, name));
  }

  return {
    type: "file",
    target: current,
    send(batch, signal) {
      return serial.run(async () => {
        if (closed) throw new DeliveryError(`file ${current}: transport is closed`, true);
        if (signal.aborted)
          throw new DeliveryError(`file ${current}: ${abortMessage(signal)}`, true);
        if (batch.length === 0) return;
        const data = Buffer.from(batch.map((event) => `${event.body}\n`).join(""), "utf8");
        let before: number | null = null;
        try {
          await openCurrent();
          const tooBig = size > 0 && size + data.length > options.maxBytes;
          const tooOld =
            options.rotateEveryMs !== null &&
            size > 0 &&
            Date.now() - startedAt >= options.rotateEveryMs;
          if (tooBig || tooOld) await rotate();
          const h = await openCurrent();
          before = size;
          let written = 0;
          while (written < data.length) {
            const { bytesWritten } = await h.write(data, written, data.length - written);
            written += bytesWritten;
          }
          await h.datasync();
          size += data.length;
        } catch (error) {
          // the handle may be broken (a full disk, a removed directory): open afresh next time
          const h = handle;
          handle = null;
          await h?.close().catch(() => undefined);
          // a half-written batch is cut off again, so no torn line stays for a shipper to read
          if (before !== null) await truncate(current, before).catch(() => undefined);
          const code = (error as NodeJS.ErrnoException).code;
          // a directory this process may not write, or a read-only file system, refuses every
          // event until someone fixes it: final, and about the sink, not these events
          const refused = code === "EACCES" || code === "EROFS";
          throw new DeliveryError(`file ${current}: ${(error as Error).message}`, !refused, {
            cause: error,
            sinkWide: refused,
          });
        }
      });
    },
    async close() {
      closed = true;
      await serial.run(async () => {
        const h = handle;
        handle = null;
        await h?.close();
      });
    },
  };
}
