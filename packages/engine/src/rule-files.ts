import { createHash } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { dirname, join } from "node:path";
import {
  type Diagnostic,
  decodeSource,
  diagnostic,
  type LanguageLimits,
  type SourceFile,
} from "@clearance/dsl";
import type { ListFile, ListRequest } from "./compile.js";
import { type FileProblem, isInside, ListFileError, ListFileTooLarge } from "./confine.js";
import { hashlistParser } from "./lists.js";
import {
  closeStep,
  fstatStep,
  lstatStep,
  openStep,
  type Program,
  pauseStep,
  readdirStep,
  readStep,
  realpathStep,
  statStep,
} from "./steps.js";

/*
 * What a rule set may read on disk, and how much: every file is reached from the rule directory,
 * its real location (symlinks resolved) must be inside that directory, it must be a regular file,
 * and its bytes are counted before (fstat) and while it is read. Written as step programs (see
 * steps.ts) so that the CLI's synchronous load and the server's asynchronous reload share it.
 */

/** The rule directory: as the caller spelled it (for messages), and its real path (for checks). */
export interface RuleRoot {
  given: string;
  real: string;
}

/** Bytes read per step: a slice of hashing that never holds the event loop for long. */
const CHUNK_BYTES = 1 << 20;

const SYMLINK_HELP =
  "symlinks are followed only inside the rule directory: copy the file into it instead";
const REGULAR_HELP = "rule files and list files must be regular files";

/** A file's identity and version as the file system reports them. */
interface Fingerprint {
  real: string;
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

interface Opened {
  fd: number;
  stats: BigIntStats;
  real: string;
}

function describeError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case "ENOENT":
      return "no such file";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ELOOP":
      return "too many levels of symbolic links";
    case "ENOTDIR":
      return "a part of the path is not a directory";
    case "EISDIR":
      return "it is a directory";
    default:
      return code ?? (error as Error).message;
  }
}

function fileKind(stats: BigIntStats): string {
  if (stats.isDirectory()) return "a directory";
  if (stats.isFIFO()) return "a FIFO";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * Opens `path` when its real location is inside the root and it is a regular file. `what` names
 * the file in messages (``list file `lists/a.txt` ``). The caller closes the descriptor.
 */
function* openInside(root: RuleRoot, path: string, what: string): Program<Opened | FileProblem> {
  let real: string;
  try {
    real = yield* realpathStep(path);
  } catch (error) {
    return {
      code: "file_unreadable",
      message: `cannot read ${what}: ${describeError(error)}`,
      help: "check the path; a list path is relative to the rule file that declares it",
    };
  }
  if (!isInside(root.real, real))
    return {
      code: "symlink_outside_root",
      message: `${what} is a symlink to a place outside the rule directory`,
      help: SYMLINK_HELP,
    };
  let fd: number;
  try {
    fd = yield* openStep(real);
  } catch (error) {
    // a Unix socket cannot be opened; any other failure is a plain read error
    if ((error as NodeJS.ErrnoException).code === "ENXIO")
      return {
        code: "not_a_regular_file",
        message: `${what} is a socket, not a regular file`,
        help: REGULAR_HELP,
      };
    return {
      code: "file_unreadable",
      message: `cannot read ${what}: ${describeError(error)}`,
      help: "check the file's permissions",
    };
  }
  let stats: BigIntStats;
  try {
    stats = yield* fstatStep(fd);
  } catch (error) {
    yield* closeStep(fd);
    return {
      code: "file_unreadable",
      message: `cannot read ${what}: ${describeError(error)}`,
      help: "check the file's permissions",
    };
  }
  if (!stats.isFile()) {
    yield* closeStep(fd);
    return {
      code: "not_a_regular_file",
      message: `${what} is ${fileKind(stats)}, not a regular file`,
      help: REGULAR_HELP,
    };
  }
  return { fd, stats, real };
}

/** A file read whole: its bytes in chunks, their total and their SHA-256. */
interface Read {
  chunks: Buffer[];
  length: number;
  digest: string;
}

/**
 * Reads an opened file whole, refusing it as soon as it is known to be over `maxBytes`: from its
 * size before reading, and while reading, since a file may grow and `/proc` files report size 0.
 */
function* readBounded(opened: Opened, maxBytes: number): Program<Read | "too large"> {
  if (opened.stats.size > BigInt(maxBytes)) return "too large";
  const expected = Number(opened.stats.size);
  const hash = createHash("sha256");
  const chunks: Buffer[] = [];
  let length = 0;
  for (;;) {
    // Up to the announced size plus one byte (to see the end), and beyond it in modest steps.
    const want = Math.min(
      CHUNK_BYTES,
      maxBytes + 1 - length,
      Math.max(expected + 1 - length, 64 * 1024),
    );
    const buffer = Buffer.allocUnsafe(want);
    const n = yield* readStep(opened.fd, buffer, want);
    if (n === 0) break;
    length += n;
    if (length > maxBytes) return "too large";
    const chunk = buffer.subarray(0, n);
    hash.update(chunk);
    chunks.push(chunk);
  }
  return { chunks, length, digest: hash.digest("hex") };
}

/**
 * The text of a file read in chunks, decoded strictly as UTF-8 a chunk at a time with pause
 * points in between (decoding 65 MB at once holds a thread for a tenth of a second and more);
 * the offset of the first invalid byte when it is not UTF-8.
 */
function* decodeChunks(
  path: string,
  read: Read,
): Program<{ file: SourceFile } | { badByteOffset: number }> {
  if (read.chunks.length <= 1) {
    const decoded = decodeSource(path, read.chunks[0] ?? Buffer.alloc(0));
    return decoded.file ? { file: decoded.file } : { badByteOffset: decoded.badByteOffset ?? 0 };
  }
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  const pieces: string[] = [];
  try {
    for (let i = 0; i < read.chunks.length; i++) {
      pieces.push(decoder.decode(read.chunks[i], { stream: i < read.chunks.length - 1 }));
      yield* pauseStep();
    }
  } catch {
    const whole = decodeSource(path, Buffer.concat(read.chunks, read.length));
    return { badByteOffset: whole.badByteOffset ?? 0 };
  }
  return { file: { path, text: pieces.join("") } };
}

/** Where a rule set starts: the directory named (or the directory of the file named). */
export function* openRoot(dir: string): Program<{ root: RuleRoot; single: boolean }> {
  const stats = yield* statStep(dir);
  const single = !stats.isDirectory();
  const given = single ? dirname(dir) : dir;
  return { root: { given, real: yield* realpathStep(given) }, single };
}

/**
 * The `*.rules` files under `root` (sorted), and the problems that kept any from being read:
 * symlinks are followed only when their real target is inside the root (a directory reached
 * twice is read once); entries starting with `.` and `node_modules` are skipped.
 */
export function* findRuleFilesIn(
  root: RuleRoot,
): Program<{ files: string[]; problems: { path: string; problem: FileProblem }[] }> {
  const isRules = (name: string) => name.endsWith(".rules");
  const files: string[] = [];
  const problems: { path: string; problem: FileProblem }[] = [];
  const visited = new Set<string>([root.real]);
  const walk = function* (dir: string): Program<void> {
    let entries: import("node:fs").Dirent[];
    try {
      entries = yield* readdirStep(dir);
    } catch (error) {
      problems.push({
        path: dir,
        problem: {
          code: "file_unreadable",
          message: `cannot read directory \`${dir}\`: ${describeError(error)}`,
          help: "check the directory's permissions",
        },
      });
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        let real: string;
        try {
          real = yield* realpathStep(path);
        } catch {
          continue; // removed while being listed: the reload after the change sees the rest
        }
        if (!visited.has(real)) {
          visited.add(real);
          yield* walk(path);
        }
      } else if (entry.isFile()) {
        if (isRules(entry.name)) files.push(path);
      } else if (entry.isSymbolicLink()) {
        let real: string;
        let target: BigIntStats;
        try {
          real = yield* realpathStep(path);
          target = yield* statStep(real);
        } catch (error) {
          if (isRules(entry.name))
            problems.push({
              path,
              problem: {
                code: "file_unreadable",
                message: `cannot read rule file \`${path}\`: ${describeError(error)}`,
                help: "the symlink points nowhere: fix or remove it",
              },
            });
          continue;
        }
        const what = target.isDirectory() ? "directory" : "rule file";
        if (!target.isDirectory() && !isRules(entry.name)) continue;
        if (!isInside(root.real, real)) {
          problems.push({
            path,
            problem: {
              code: "symlink_outside_root",
              message: `${what} \`${path}\` is a symlink to a place outside the rule directory`,
              help: SYMLINK_HELP,
            },
          });
        } else if (target.isDirectory()) {
          if (!visited.has(real)) {
            visited.add(real);
            yield* walk(path);
          }
        } else if (target.isFile()) files.push(path);
        else
          problems.push({
            path,
            problem: {
              code: "not_a_regular_file",
              message: `rule file \`${path}\` is ${fileKind(target)}, not a regular file`,
              help: REGULAR_HELP,
            },
          });
      } else if (isRules(entry.name)) {
        // FIFOs, sockets and devices named *.rules
        problems.push({
          path,
          problem: {
            code: "not_a_regular_file",
            message: `rule file \`${path}\` is not a regular file`,
            help: REGULAR_HELP,
          },
        });
      }
    }
  };
  yield* walk(root.given);
  return { files: files.sort(), problems };
}

/**
 * Reads the rule files `paths` within the limits: `maxFileBytes` each, `maxRulesetBytes` together.
 * Returns the sources, the problems as diagnostics, and the bytes read.
 */
export function* readRuleFiles(
  root: RuleRoot,
  paths: readonly string[],
  limits: Readonly<LanguageLimits>,
): Program<{ sources: SourceFile[]; diagnostics: Diagnostic[]; bytes: number }> {
  const sources: SourceFile[] = [];
  const diagnostics: Diagnostic[] = [];
  let used = 0;
  for (const path of paths) {
    const span = { file: path, start: 0, end: 0 };
    const opened = yield* openInside(root, path, `rule file \`${path}\``);
    if ("code" in opened) {
      diagnostics.push(diagnostic(opened.code, opened.message, span, { help: opened.help }));
      continue;
    }
    let read: Read | "too large";
    const left = Math.max(0, limits.maxRulesetBytes - used);
    try {
      read = yield* readBounded(opened, Math.min(limits.maxFileBytes, left));
    } catch (error) {
      diagnostics.push(
        diagnostic(
          "file_unreadable",
          `cannot read rule file \`${path}\`: ${describeError(error)}`,
          span,
        ),
      );
      continue;
    } finally {
      yield* closeStep(opened.fd);
    }
    if (read === "too large") {
      diagnostics.push(
        limits.maxFileBytes <= left
          ? diagnostic(
              "file_too_large",
              `file is larger than the limit of ${limits.maxFileBytes} bytes`,
              span,
              { help: "split the rules over several files" },
            )
          : diagnostic(
              "ruleset_too_large",
              `the rule files hold more than the limit of ${limits.maxRulesetBytes} bytes together`,
              span,
              {
                help: "rule files and list files may hold `maxRulesetBytes` bytes together: split the rule set, or raise the limit",
              },
            ),
      );
      continue;
    }
    used += read.length;
    const decoded = yield* decodeChunks(path, read);
    if (!("file" in decoded)) {
      diagnostics.push(
        diagnostic(
          "invalid_utf8",
          `file is not UTF-8: byte ${decoded.badByteOffset} is invalid`,
          span,
          { help: "save the file as UTF-8" },
        ),
      );
      continue;
    }
    sources.push(decoded.file);
  }
  return { sources, diagnostics, bytes: used };
}

/** The name of the exceptions file, at the top of a rule directory. */
export const EXCEPTIONS_FILE = "exceptions.json";

/**
 * Reads `exceptions.json` at the top of the rule directory when there is one, confined like a
 * rule file (inside the directory, a regular file) and bounded by `maxExceptionsFileBytes`.
 * Returns its text, nothing when there is no such entry, or the problem as a diagnostic.
 */
export function* readExceptionsFile(
  root: RuleRoot,
  limits: Readonly<LanguageLimits>,
): Program<{ file?: SourceFile; diagnostics: Diagnostic[] }> {
  const path = join(root.given, EXCEPTIONS_FILE);
  try {
    yield* lstatStep(path);
  } catch (error) {
    // no such entry: the rule set has no exceptions; anything else is reported by the open below
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { diagnostics: [] };
  }
  const span = { file: path, start: 0, end: 0 };
  const opened = yield* openInside(root, path, `exceptions file \`${path}\``);
  if ("code" in opened)
    return {
      diagnostics: [
        diagnostic(opened.code, opened.message, span, {
          help:
            opened.code === "symlink_outside_root"
              ? SYMLINK_HELP
              : opened.code === "not_a_regular_file"
                ? "the exceptions file must be a regular file"
                : "check the file, or remove it: a rule set without exceptions needs none",
        }),
      ],
    };
  let read: Read | "too large";
  try {
    read = yield* readBounded(opened, limits.maxExceptionsFileBytes);
  } catch (error) {
    return {
      diagnostics: [
        diagnostic(
          "file_unreadable",
          `cannot read exceptions file \`${path}\`: ${describeError(error)}`,
          span,
        ),
      ],
    };
  } finally {
    yield* closeStep(opened.fd);
  }
  if (read === "too large")
    return {
      diagnostics: [
        diagnostic(
          "exceptions_file_too_large",
          `exceptions file is larger than the limit of ${limits.maxExceptionsFileBytes} bytes`,
          span,
          {
            help: "remove expired exceptions (`clearance exceptions export` writes only active ones), or raise the `maxExceptionsFileBytes` limit",
          },
        ),
      ],
    };
  const decoded = yield* decodeChunks(path, read);
  if (!("file" in decoded))
    return {
      diagnostics: [
        diagnostic(
          "invalid_utf8",
          `file is not UTF-8: byte ${decoded.badByteOffset} is invalid`,
          span,
          { help: "save the file as UTF-8" },
        ),
      ],
    };
  return { file: decoded.file, diagnostics: [] };
}

interface CacheEntry {
  fingerprint: Fingerprint;
  /**
   * The file changed so shortly before it was read that a later change could carry the same
   * timestamps: its content is verified (read and hashed, not parsed) before it is trusted again.
   */
  racy: boolean;
  list: ListFile;
}

/**
 * Timestamps are coarse (a few milliseconds on Linux, 2 s on FAT) and clocks of network file
 * systems drift: a file whose timestamps are this close to the moment it was read is "racy".
 */
const RACY_MARGIN_MS = 2_000;

/**
 * List files read before, so that a reload parses only what changed. An entry is reused without
 * reading when the file's real path, device, inode, size, mtime and ctime are those it was read
 * with, and it was not racy then (ctime cannot be set back by tools such as `touch -d`, `cp -p` or
 * `rsync -t`, unlike mtime). Otherwise the file is read and hashed, and the entry is reused when
 * the content hash is unchanged (a `git checkout` or `touch` of the same bytes costs no parse).
 */
export class ListFileCache {
  private readonly entries = new Map<string, CacheEntry>();
  /** what the cache did: `reads` of list files, `parses` of hash lists, reuses without a read */
  readonly counts = { reads: 0, parses: 0, reusedUnread: 0, reusedVerified: 0 };

  get(request: ListRequest): CacheEntry | undefined {
    return this.entries.get(cacheKey(request));
  }

  set(request: ListRequest, entry: CacheEntry): void {
    this.entries.set(cacheKey(request), entry);
  }

  /** Forgets the files the last compile did not ask for: lists no longer declared. */
  keepOnly(requests: Iterable<ListRequest>): void {
    const keep = new Set<string>();
    for (const request of requests) keep.add(cacheKey(request));
    for (const key of this.entries.keys()) if (!keep.has(key)) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

function cacheKey(request: ListRequest): string {
  return `${request.kind}\0${request.file}`;
}

function fingerprintOf(opened: Opened): Fingerprint {
  const s = opened.stats;
  return {
    real: opened.real,
    dev: s.dev,
    ino: s.ino,
    size: s.size,
    mtimeNs: s.mtimeNs,
    ctimeNs: s.ctimeNs,
  };
}

function sameFingerprint(a: Fingerprint, b: Fingerprint): boolean {
  return (
    a.real === b.real &&
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs
  );
}

/**
 * Reads the list file of `request` (named `written` in the rule file) as a ListFile, parsing a
 * hash list with pause points; throws ListFileError or ListFileTooLarge as `loadList` may.
 */
export function* readListFile(
  root: RuleRoot,
  written: string,
  request: ListRequest,
  maxHashlistEntries: number,
  cache?: ListFileCache,
): Program<ListFile> {
  const startedAt = Date.now();
  const opened = yield* openInside(root, request.file, `list file \`${written}\``);
  if ("code" in opened) throw new ListFileError(opened);
  try {
    const fingerprint = fingerprintOf(opened);
    const cached = cache?.get(request);
    if (cached && !cached.racy && sameFingerprint(cached.fingerprint, fingerprint)) {
      cache!.counts.reusedUnread++;
      return cached.list;
    }
    const read = yield* readBounded(opened, request.maxBytes);
    if (read === "too large") throw new ListFileTooLarge(request.file);
    if (cache) cache.counts.reads++;
    const changedAt = Math.max(
      Number(fingerprint.ctimeNs / 1_000_000n),
      Number(fingerprint.mtimeNs / 1_000_000n),
    );
    const racy = changedAt + RACY_MARGIN_MS >= startedAt;
    if (cached && cached.list.digest === read.digest) {
      cache!.counts.reusedVerified++;
      cache!.set(request, { fingerprint, racy, list: cached.list });
      return cached.list;
    }
    const decoded = yield* decodeChunks(request.file, read);
    if (!("file" in decoded))
      throw new ListFileError({
        code: "invalid_utf8",
        message: `list file \`${written}\` is not UTF-8 (byte ${decoded.badByteOffset})`,
        help: "save the file as UTF-8",
      });
    const list: ListFile = { file: decoded.file, bytes: read.length, digest: read.digest };
    if (request.kind === "hashlist") {
      list.hashlist = yield* hashlistParser(
        decoded.file.path,
        decoded.file.text,
        maxHashlistEntries,
      );
      if (cache) cache.counts.parses++;
    }
    cache?.set(request, { fingerprint, racy, list });
    return list;
  } finally {
    yield* closeStep(opened.fd);
  }
}
