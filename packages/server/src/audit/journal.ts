// The audit journal as files: the durable record of the embedded (SQLite) log. Entries are appended
// to segment files, one `fdatasync` per group commit, before any of them is answered; the SQLite
// database is an index of the journal, filled behind (`journal-index.ts`).
//
// A journal is a directory beside the database (`data/audit.db.journal/`) of segment files named by
// their number (`00000001.seg`, ...). A segment starts with a 32-byte header:
//
//   magic "CLRJRNL1" (8) · format version u32 · segment number u32 · 12 zero bytes · CRC-32 of the 28
//   bytes before it (u32)
//
// then records, each:
//
//   length u32 (of type and payload) · CRC-32 of type and payload (u32) · type (1) · payload
//
// all little-endian. Types: an input snapshot (its content hash in hex, then its JSON text), an
// entry (its place, columns and hash as a JSON line, a newline, then its canonical body: the bytes
// the chain hashes), a checkpoint (a pruned chain's new start), and a commit marker closing each
// group commit. Only what a commit marker closes was ever acknowledged: at start, a tail after the
// last marker of the last segment (a group cut short by a crash, garbage) is cut and reported;
// anything wrong before it is damage.
//
// A position in the journal is one number: `segment * 2^32 + offset`, so positions compare as
// numbers (segments stay far below 4 GiB, `MAX_SEGMENT_BYTES`).
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  statSync,
  unlinkSync,
  writeSync,
  writevSync,
} from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { AuditDamagedError } from "./backend.js";

export const HEADER_BYTES = 32;
const MAGIC = Buffer.from("CLRJRNL1", "latin1");
const FORMAT_VERSION = 1;
/** length and CRC in front of every record */
const RECORD_HEAD = 8;
/** no record is larger: a length beyond it is damage, not a record */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;
/** a segment closes once it holds this much; positions need it below 2^32 */
export const MAX_SEGMENT_BYTES = 1024 * 1024 * 1024;
const SEGMENT_SPAN = 2 ** 32;

export const RecordType = {
  input: 1,
  entry: 2,
  checkpoint: 3,
  commit: 4,
} as const;
export type RecordTypeCode = (typeof RecordType)[keyof typeof RecordType];

/** The directory of the journal kept beside the database at `dbPath`. */
export function journalDir(dbPath: string): string {
  return `${dbPath}.journal`;
}

export function position(segment: number, offset: number): number {
  return segment * SEGMENT_SPAN + offset;
}

export function segmentOf(pos: number): number {
  return Math.floor(pos / SEGMENT_SPAN);
}

export function offsetOf(pos: number): number {
  return pos % SEGMENT_SPAN;
}

/** `00000012.seg` for segment 12. */
export function segmentName(segment: number): string {
  return `${String(segment).padStart(8, "0")}.seg`;
}

/** The segment numbers in `dir`, in order; files that are not segments are left alone. */
export function listSegments(dir: string): number[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /^\d{8}\.seg$/.test(name))
    .map((name) => Number(name.slice(0, 8)))
    .sort((a, b) => a - b);
}

export function segmentHeader(segment: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(FORMAT_VERSION, 8);
  header.writeUInt32LE(segment, 12);
  header.writeUInt32LE(crc32(header.subarray(0, 28)), 28);
  return header;
}

/** Why `header` is not segment `segment`'s, or undefined when it is. */
function headerProblem(header: Buffer, segment: number): string | undefined {
  if (header.length < HEADER_BYTES) return "its header is cut short";
  if (!header.subarray(0, 8).equals(MAGIC)) return "it does not start as a journal segment";
  if (header.readUInt32LE(28) !== crc32(header.subarray(0, 28)))
    return "its header fails its checksum";
  const version = header.readUInt32LE(8);
  if (version !== FORMAT_VERSION)
    return `its format version is ${version}, which this Clearance does not know`;
  const named = header.readUInt32LE(12);
  if (named !== segment) return `its header names segment ${named}`;
  return undefined;
}

/** Why segment `segment`'s header in `dir` is not right, or undefined when it is. */
export function segmentHeaderProblem(dir: string, segment: number): string | undefined {
  const fd = openSync(join(dir, segmentName(segment)), "r");
  try {
    return headerProblem(readAt(fd, 0, HEADER_BYTES), segment);
  } finally {
    closeSync(fd);
  }
}

/** One record: a type and its payload as UTF-8 text, framed and checksummed. */
export function encodeRecord(type: RecordTypeCode, payload: string): Buffer {
  const bytes = Buffer.byteLength(payload);
  const buffer = Buffer.allocUnsafe(RECORD_HEAD + 1 + bytes);
  buffer.writeUInt32LE(1 + bytes, 0);
  buffer[RECORD_HEAD] = type;
  buffer.write(payload, RECORD_HEAD + 1, "utf8");
  buffer.writeUInt32LE(crc32(buffer.subarray(RECORD_HEAD)), 4);
  return buffer;
}

/** A record as read: its type, its payload's bytes, and where it is (offset of its first byte). */
export interface JournalRecord {
  type: number;
  payload: Buffer;
  segment: number;
  offset: number;
  /** the whole record's bytes, framing included */
  bytes: number;
}

/** Records parsed from a piece of a segment, and where they stopped. */
export interface ParsedRecords {
  records: JournalRecord[];
  /** the offset after the last whole, intact record */
  end: number;
  /** set when the piece does not end with a whole, intact record: why, at `end` */
  problem?: string;
}

/**
 * Parses the records in `data`, which starts at `offset` of `segment`: every whole record whose
 * checksum holds, up to the first that does not (or is cut short).
 */
export function parseRecords(data: Buffer, segment: number, offset: number): ParsedRecords {
  const records: JournalRecord[] = [];
  let at = 0;
  while (at < data.length) {
    if (data.length - at < RECORD_HEAD + 1)
      return { records, end: offset + at, problem: "a record is cut short" };
    const length = data.readUInt32LE(at);
    if (length < 1 || length > MAX_RECORD_BYTES)
      return { records, end: offset + at, problem: `a record claims ${length} bytes` };
    if (data.length - at < RECORD_HEAD + length)
      return { records, end: offset + at, problem: "a record is cut short" };
    const body = data.subarray(at + RECORD_HEAD, at + RECORD_HEAD + length);
    if (crc32(body) !== data.readUInt32LE(at + 4))
      return { records, end: offset + at, problem: "a record fails its checksum" };
    records.push({
      type: body[0]!,
      payload: body.subarray(1),
      segment,
      offset: offset + at,
      bytes: RECORD_HEAD + length,
    });
    at += RECORD_HEAD + length;
  }
  return { records, end: offset + at };
}

/** Reads `length` bytes at `offset` of an open file (fewer at its end). */
function readAt(fd: number, offset: number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, offset + done);
    if (n === 0) break;
    done += n;
  }
  return done === length ? buffer : buffer.subarray(0, done);
}

/** Reads a segment's records from `from` up to `to` (its end when absent). */
export function readSegment(
  dir: string,
  segment: number,
  from: number = HEADER_BYTES,
  to?: number,
): ParsedRecords {
  const fd = openSync(join(dir, segmentName(segment)), "r");
  try {
    const end = to ?? fstatSync(fd).size;
    const data = readAt(fd, from, Math.max(0, end - from));
    return parseRecords(data, segment, from);
  } finally {
    closeSync(fd);
  }
}

/** The offset after the last commit marker among `records`, or `from` when there is none. */
function lastCommitEnd(records: readonly JournalRecord[], from: number): number {
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i]!;
    if (r.type === RecordType.commit) return r.offset + r.bytes;
  }
  return from;
}

/** What opening a journal found and did at its tail. */
export interface TailRepair {
  segment: number;
  /** where the journal now ends: the last commit marker */
  offset: number;
  /** bytes cut after it */
  bytes: number;
  /** what was wrong there, as the scan found it */
  problem: string;
}

/** Damage to the journal itself; its code carries it across threads (`failure`). */
export class JournalDamagedError extends AuditDamagedError {
  override name = "JournalDamagedError";
  readonly code = "CLEARANCE_JOURNAL_DAMAGED";
}

export function damaged(dir: string, segment: number, what: string): JournalDamagedError {
  return new JournalDamagedError(
    `the audit journal \`${join(dir, segmentName(segment))}\` is damaged: ${what}`,
  );
}

export function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The readiness probe's scratch file (not a segment's name) and what it writes: a group's worth. */
const PROBE_FILE = "probe.tmp";
const PROBE_BYTES = Buffer.alloc(64 * 1024);

/** Thrown when the segment being written is no longer the file at its path. */
export class SegmentReplacedError extends Error {
  readonly code = "CLEARANCE_FILE_REPLACED";
}

/**
 * The journal's files, open for appending: the last segment's descriptor and where it ends. One
 * process appends (the SQLite writer lock beside the database says which); everything else reads.
 */
export class JournalFiles {
  private fd: number;
  private inode: bigint;
  /** the segment being appended to, and where it ends */
  segment: number;
  offset: number;
  /** what was cut from the tail when the journal was opened */
  readonly repaired: TailRepair | undefined;
  /** the journal did not exist and was made */
  readonly created: boolean;
  /** an append failed and its bytes could not be taken back: nothing more may be written */
  private broken: Error | undefined;

  private constructor(
    readonly dir: string,
    private readonly segmentBytes: number,
    state: {
      fd: number;
      inode: bigint;
      segment: number;
      offset: number;
      repaired: TailRepair | undefined;
      created: boolean;
    },
  ) {
    this.fd = state.fd;
    this.inode = state.inode;
    this.segment = state.segment;
    this.offset = state.offset;
    this.repaired = state.repaired;
    this.created = state.created;
  }

  /**
   * Opens the journal in `dir` for appending, making it when there is none. Every segment's header
   * is checked; the last one's records are read, and a tail after its last commit marker (a group
   * commit a crash cut short, never acknowledged) is cut and reported in `repaired`. `appliedTo`
   * is how far the index has applied the journal: a cut before it would lose acknowledged entries,
   * and is damage, not a torn tail.
   */
  static open(dir: string, segmentBytes: number, appliedTo = 0): JournalFiles {
    const created = !existsSync(dir);
    mkdirSync(dir, { recursive: true });
    const segments = listSegments(dir);
    let repaired: TailRepair | undefined;
    for (const segment of segments.slice(0, -1)) {
      const fd = openSync(join(dir, segmentName(segment)), "r");
      try {
        const problem = headerProblem(readAt(fd, 0, HEADER_BYTES), segment);
        if (problem) throw damaged(dir, segment, problem);
      } finally {
        closeSync(fd);
      }
    }
    let last = segments[segments.length - 1];
    if (last !== undefined) {
      const path = join(dir, segmentName(last));
      const size = statSync(path).size;
      // a segment made by a crash before its header reached the disk: nothing in it was written
      if (size < HEADER_BYTES && position(last, size) >= appliedTo && segments.length > 1) {
        unlinkSync(path);
        syncDir(dir);
        repaired = {
          segment: last,
          offset: 0,
          bytes: size,
          problem: "a segment's header is cut short",
        };
        segments.pop();
        last = segments[segments.length - 1]!;
      }
    }
    if (last === undefined) {
      const fd = JournalFiles.createSegment(dir, 1);
      return new JournalFiles(dir, segmentBytes, {
        fd,
        inode: fstatSync(fd, { bigint: true }).ino,
        segment: 1,
        offset: HEADER_BYTES,
        repaired,
        created,
      });
    }
    const fd = openSync(join(dir, segmentName(last)), "r+");
    try {
      const size = fstatSync(fd).size;
      const problem = headerProblem(readAt(fd, 0, HEADER_BYTES), last);
      if (problem) throw damaged(dir, last, problem);
      const parsed = parseRecords(
        readAt(fd, HEADER_BYTES, size - HEADER_BYTES),
        last,
        HEADER_BYTES,
      );
      const end = lastCommitEnd(parsed.records, HEADER_BYTES);
      if (end < size) {
        if (position(last, end) < appliedTo)
          throw damaged(
            dir,
            last,
            `${parsed.problem ?? "records without their commit"} at byte ${parsed.end}, before what the index has already applied (byte ${offsetOf(appliedTo)})`,
          );
        ftruncateSync(fd, end);
        fdatasyncSync(fd);
        repaired = {
          segment: last,
          offset: end,
          bytes: size - end,
          problem: parsed.problem ?? "records after the last commit marker",
        };
      }
      return new JournalFiles(dir, segmentBytes, {
        fd,
        inode: fstatSync(fd, { bigint: true }).ino,
        segment: last,
        offset: end,
        repaired: repaired && repaired.bytes > 0 ? repaired : undefined,
        created,
      });
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /**
   * Opens the journal for appending where `open` found it ending (`end`), without reading it again:
   * the writer thread takes over a journal the store opened and repaired.
   */
  static resume(dir: string, segmentBytes: number, end: number): JournalFiles {
    const segment = segmentOf(end);
    const fd = openSync(join(dir, segmentName(segment)), "r+");
    const size = fstatSync(fd).size;
    if (size !== offsetOf(end)) {
      closeSync(fd);
      throw damaged(
        dir,
        segment,
        `it is ${size} bytes long where the journal was found to end at ${offsetOf(end)}`,
      );
    }
    return new JournalFiles(dir, segmentBytes, {
      fd,
      inode: fstatSync(fd, { bigint: true }).ino,
      segment,
      offset: size,
      repaired: undefined,
      created: false,
    });
  }

  /** Makes segment `segment` with its header, durably (the file and its directory entry). */
  private static createSegment(dir: string, segment: number): number {
    const fd = openSync(join(dir, segmentName(segment)), "wx+");
    try {
      writeSync(fd, segmentHeader(segment), 0, HEADER_BYTES, 0);
      fdatasyncSync(fd);
      syncDir(dir);
      return fd;
    } catch (error) {
      closeSync(fd);
      // a half-made segment would make every later attempt fail (it exists)
      try {
        unlinkSync(join(dir, segmentName(segment)));
      } catch {
        // the next start finds and removes a segment cut short in its header
      }
      throw error;
    }
  }

  /** the position after the last byte written */
  get end(): number {
    return position(this.segment, this.offset);
  }

  /**
   * Writes and syncs a scratch file beside the segments, then removes it: a full disk, a
   * read-only or failing device fails it as it would fail the next group.
   */
  probeWrite(): void {
    const path = join(this.dir, PROBE_FILE);
    const fd = openSync(path, "w");
    try {
      writeSync(fd, PROBE_BYTES, 0, PROBE_BYTES.length, 0);
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
      unlinkSync(path);
    }
  }

  /** Throws when the segment being written is no longer the file at its path. */
  checkFile(): void {
    if (this.broken) throw this.broken;
    const path = join(this.dir, segmentName(this.segment));
    let inode: bigint;
    try {
      inode = statSync(path, { bigint: true }).ino;
    } catch {
      throw new SegmentReplacedError(
        `the audit journal segment \`${path}\` was removed while the server was writing it`,
      );
    }
    if (inode !== this.inode)
      throw new SegmentReplacedError(
        `the audit journal segment \`${path}\` was replaced by another file while the server was writing it`,
      );
  }

  /**
   * Appends `records` (the last one a commit marker) and waits for the disk (`fdatasync`); returns
   * where they start. On failure the bytes written are cut again, so that the journal ends where
   * it did; when even that fails nothing more is written until the process starts again.
   */
  append(records: readonly Buffer[]): number {
    this.checkFile();
    const start = this.offset;
    try {
      const pending = records.slice();
      let at = start;
      while (pending.length > 0) {
        let written = writevSync(this.fd, pending, at);
        at += written;
        // a short write: go on from the first byte not written
        while (pending.length > 0 && written >= pending[0]!.length)
          written -= pending.shift()!.length;
        if (written > 0) pending[0] = pending[0]!.subarray(written);
      }
      fdatasyncSync(this.fd);
      this.offset = at;
    } catch (error) {
      try {
        ftruncateSync(this.fd, start);
      } catch (cut) {
        this.broken = new Error(
          `an append to the audit journal failed (${(error as Error).message}) and its bytes could not be cut (${(cut as Error).message}): restart the server, which cuts them`,
        );
      }
      throw error;
    }
    return position(this.segment, start);
  }

  /**
   * Starts the next segment when the current one is full. Called before a group is encoded, never
   * after one is durable: a failure here fails the group about to be written, not one written.
   */
  rollIfFull(): void {
    if (this.offset >= this.segmentBytes) this.roll();
  }

  /** Closes the full segment and starts the next. */
  private roll(): void {
    const next = this.segment + 1;
    const fd = JournalFiles.createSegment(this.dir, next);
    closeSync(this.fd);
    this.fd = fd;
    this.inode = fstatSync(fd, { bigint: true }).ino;
    this.segment = next;
    this.offset = HEADER_BYTES;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Reads records by location, for input snapshots: a descriptor per segment, opened as needed. */
export class JournalReader {
  private readonly open = new Map<number, number>();

  constructor(readonly dir: string) {}

  private fdOf(segment: number): number {
    let fd = this.open.get(segment);
    if (fd === undefined) {
      try {
        fd = openSync(join(this.dir, segmentName(segment)), "r");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
        throw damaged(
          this.dir,
          segment,
          "it is missing, and the index says an input snapshot is in it",
        );
      }
      this.open.set(segment, fd);
    }
    return fd;
  }

  /** The record at `offset` of `segment`, `bytes` long; throws when it is not intact. */
  record(segment: number, offset: number, bytes: number): JournalRecord {
    const data = readAt(this.fdOf(segment), offset, bytes);
    const parsed = parseRecords(data, segment, offset);
    const record = parsed.records[0];
    if (!record || record.bytes !== bytes)
      throw damaged(this.dir, segment, `${parsed.problem ?? "no record"} at byte ${offset}`);
    return record;
  }

  /** An input snapshot's text from its record. */
  input(segment: number, offset: number, bytes: number): string {
    const record = this.record(segment, offset, bytes);
    if (record.type !== RecordType.input)
      throw damaged(this.dir, segment, `the record at byte ${offset} is not an input snapshot`);
    return record.payload.toString("utf8", 64);
  }

  /** Closes what it opened: call after a batch of reads, so a pruned segment's space is freed. */
  release(): void {
    for (const fd of this.open.values()) closeSync(fd);
    this.open.clear();
  }
}
