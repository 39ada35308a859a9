import type { BigIntStats, Dirent } from "node:fs";
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  realpathSync,
  statSync,
} from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { lstat, open, readdir, realpath, stat } from "node:fs/promises";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";

/*
 * Reading a rule set is written once, as generators that yield the file-system steps they need
 * (the pattern of Babel's `gensync`). `runSync` performs the steps with the synchronous fs calls
 * (the CLI); `runAsync` with the asynchronous ones, and gives the event loop a turn at `pause`
 * steps (the server's reload). So the confinement and the limits have one implementation.
 */

/** Opened read-only and non-blocking (a FIFO never hangs), without following a final symlink. */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0);

export type Step =
  | { op: "realpath"; path: string }
  | { op: "open"; path: string }
  | { op: "fstat"; fd: number }
  | { op: "stat"; path: string }
  /** the entry itself, a symlink not followed */
  | { op: "lstat"; path: string }
  | { op: "read"; fd: number; buffer: Uint8Array; length: number }
  | { op: "close"; fd: number }
  | { op: "readdir"; path: string }
  /** a point where an asynchronous run may let other work run */
  | { op: "pause" };

/** A computation that yields file-system steps and returns `T`. */
export type Program<T> = Generator<Step, T, unknown>;

function* step<T>(s: Step): Program<T> {
  return (yield s) as T;
}

export const realpathStep = (path: string) => step<string>({ op: "realpath", path });
/** the descriptor of `path` opened read-only, non-blocking, not through a final symlink */
export const openStep = (path: string) => step<number>({ op: "open", path });
export const fstatStep = (fd: number) => step<BigIntStats>({ op: "fstat", fd });
export const statStep = (path: string) => step<BigIntStats>({ op: "stat", path });
export const lstatStep = (path: string) => step<BigIntStats>({ op: "lstat", path });
/** reads at most `length` bytes at the current position; 0 at the end of the file */
export const readStep = (fd: number, buffer: Uint8Array, length: number) =>
  step<number>({ op: "read", fd, buffer, length });
export const closeStep = (fd: number) => step<void>({ op: "close", fd });
export const readdirStep = (path: string) => step<Dirent[]>({ op: "readdir", path });
export const pauseStep = () => step<void>({ op: "pause" });

function doSync(s: Step): unknown {
  switch (s.op) {
    case "realpath":
      return realpathSync(s.path);
    case "open":
      return openSync(s.path, OPEN_FLAGS);
    case "fstat":
      return fstatSync(s.fd, { bigint: true });
    case "stat":
      return statSync(s.path, { bigint: true });
    case "lstat":
      return lstatSync(s.path, { bigint: true });
    case "read":
      return readSync(s.fd, s.buffer, 0, s.length, null);
    case "close":
      return closeSync(s.fd);
    case "readdir":
      return readdirSync(s.path, { withFileTypes: true });
    case "pause":
      return undefined;
  }
}

/** Runs `program` with synchronous file-system calls; `pause` steps do nothing. */
export function runSync<T>(program: Program<T>): T {
  let input: unknown;
  let error: unknown;
  let failed = false;
  for (;;) {
    const next = failed ? program.throw(error) : program.next(input);
    if (next.done) return next.value;
    failed = false;
    try {
      input = doSync(next.value);
    } catch (e) {
      failed = true;
      error = e;
    }
  }
}

export interface AsyncRunOptions {
  /** at a `pause` step, let the event loop run when this long has passed since it last ran */
  sliceMs: number;
}

/**
 * Runs `program` with asynchronous file-system calls. Between two awaits it holds the event loop
 * at most about `sliceMs` (plus one step of the program: a parse slice, a hashed chunk).
 */
export async function runAsync<T>(
  program: Program<T>,
  options: AsyncRunOptions = { sliceMs: 10 },
): Promise<T> {
  // Descriptors are plain numbers in the programs; the handles that own them live here.
  const handles = new Map<number, FileHandle>();
  let lastTurn = performance.now();
  let input: unknown;
  let error: unknown;
  let failed = false;
  try {
    for (;;) {
      const next = failed ? program.throw(error) : program.next(input);
      if (next.done) return next.value;
      failed = false;
      const s = next.value;
      try {
        switch (s.op) {
          case "realpath":
            input = await realpath(s.path);
            break;
          case "open": {
            const handle = await open(s.path, OPEN_FLAGS);
            handles.set(handle.fd, handle);
            input = handle.fd;
            break;
          }
          case "fstat":
            input = await handleOf(handles, s.fd).stat({ bigint: true });
            break;
          case "stat":
            input = await stat(s.path, { bigint: true });
            break;
          case "lstat":
            input = await lstat(s.path, { bigint: true });
            break;
          case "read":
            input = (await handleOf(handles, s.fd).read(s.buffer, 0, s.length, null)).bytesRead;
            break;
          case "close": {
            const handle = handleOf(handles, s.fd);
            handles.delete(s.fd);
            input = await handle.close();
            break;
          }
          case "readdir":
            input = await readdir(s.path, { withFileTypes: true });
            break;
          case "pause":
            input = undefined;
            if (performance.now() - lastTurn < options.sliceMs) continue;
            await yieldToEventLoop();
            break;
        }
        lastTurn = performance.now();
      } catch (e) {
        failed = true;
        error = e;
      }
    }
  } finally {
    // a program that stopped half way (a bug) leaves no descriptor open
    for (const handle of handles.values()) await handle.close().catch(() => {});
  }
}

function handleOf(handles: Map<number, FileHandle>, fd: number): FileHandle {
  const handle = handles.get(fd);
  if (!handle) throw new Error(`descriptor ${fd} is not open`);
  return handle;
}
