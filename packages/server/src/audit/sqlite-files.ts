// The SQLite audit log as files: what is checked before SQLite opens one, how the server notices
// the file it writes being replaced or its write-ahead log removed, and how a damaged log is set
// aside when a new one is started. SQLite itself would open an emptied (0-byte) file as a new,
// empty database and start its chains again at seq 1; a replaced file keeps being written through
// the descriptors already open, and everything written then is gone at the next start.
import { closeSync, existsSync, openSync, readSync, renameSync, statSync } from "node:fs";
import { AuditDamagedError } from "./backend.js";

/** The first 16 bytes of every SQLite database file. */
const MAGIC = Buffer.from("SQLite format 3\0", "latin1");
/** The database header's length. */
const HEADER_BYTES = 100;

/** The files a database opened in WAL mode has beside it. */
export const SIDE_FILES = ["-wal", "-shm"] as const;

/** Which file is at a path: device and inode, as text (inodes may not fit a double). */
export interface FileIdentity {
  db: string;
  /** the write-ahead log, or null when there was none */
  wal: string | null;
}

function identityOf(path: string): string | null {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.dev}:${s.ino}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

export function fileIdentity(path: string): FileIdentity {
  const db = identityOf(path);
  if (db === null) throw new Error(`\`${path}\` does not exist`);
  return { db, wal: identityOf(`${path}-wal`) };
}

/** Why the files at `path` are no longer the ones opened, or undefined when they are. */
export function identityProblem(path: string, opened: FileIdentity): string | undefined {
  const db = identityOf(path);
  if (db === null)
    return `the audit database \`${path}\` was removed while the server was writing it`;
  if (db !== opened.db)
    return `the audit database \`${path}\` was replaced by another file while the server was writing it`;
  if (opened.wal !== null) {
    const wal = identityOf(`${path}-wal`);
    if (wal === null)
      return `the write-ahead log \`${path}-wal\` was removed while the server was writing it: the commits it held are lost to the next start`;
    if (wal !== opened.wal)
      return `the write-ahead log \`${path}-wal\` was replaced while the server was writing it`;
  }
  return undefined;
}

function sizeOf(path: string): number | null {
  try {
    return statSync(path).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/**
 * Checks the file at `path` before SQLite opens it; throws AuditDamagedError for a log that is
 * there but cannot be one: emptied to 0 bytes, a header that is not SQLite's, cut short of its
 * pages, or gone while its write-ahead log remains. Returns whether the file exists (a missing file
 * with nothing beside it is a new log).
 */
export function preflight(path: string): boolean {
  const size = sizeOf(path);
  if (size === null) {
    const left = SIDE_FILES.map((s) => `${path}${s}`).filter((f) => existsSync(f));
    if (left.length > 0)
      throw new AuditDamagedError(
        `the audit database \`${path}\` is missing but \`${left[0]}\` is still there: the database file was removed`,
      );
    return false;
  }
  if (size === 0)
    throw new AuditDamagedError(
      `the audit database \`${path}\` is empty (0 bytes): the log that was there has been emptied`,
    );
  const header = Buffer.alloc(HEADER_BYTES);
  const fd = openSync(path, "r");
  let read: number;
  try {
    read = readSync(fd, header, 0, HEADER_BYTES, 0);
  } finally {
    closeSync(fd);
  }
  if (read < HEADER_BYTES || !header.subarray(0, MAGIC.length).equals(MAGIC))
    throw new AuditDamagedError(
      `the audit database \`${path}\` is not an SQLite database: its header is damaged or it was replaced by another file`,
    );
  const rawPageSize = header.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65_536 : rawPageSize;
  if (pageSize < 512 || pageSize > 65_536 || (pageSize & (pageSize - 1)) !== 0)
    throw new AuditDamagedError(
      `the audit database \`${path}\` has a damaged header (page size ${rawPageSize})`,
    );
  if (size % pageSize !== 0)
    throw new AuditDamagedError(
      `the audit database \`${path}\` is truncated: ${size} bytes is not a whole number of ${pageSize}-byte pages`,
    );
  // The page count in the header is valid when the change counter matches the copy beside it. A
  // write-ahead log with frames may hold pages a checkpoint was copying when the process stopped:
  // SQLite recovers those, so the count is checked only without one.
  const pages = header.readUInt32BE(28);
  const valid = pages > 0 && header.readUInt32BE(24) === header.readUInt32BE(92);
  if (valid && size < pages * pageSize && !(sizeOf(`${path}-wal`) ?? 0))
    throw new AuditDamagedError(
      `the audit database \`${path}\` is truncated: ${size} bytes where its header counts ${pages} pages of ${pageSize} bytes`,
    );
  return true;
}

/**
 * Moves a damaged log (the database and the files beside it) out of the way, keeping it for
 * recovery: `<path>.damaged-<time>`. Returns the new names.
 */
export function setAside(path: string, now = new Date()): string[] {
  const stamp = now.toISOString().replace(/[:.]/g, "-");
  const moved: string[] = [];
  // the journal too (`journal.ts`): a new log must not be rebuilt from the damaged one's
  for (const suffix of ["", ...SIDE_FILES, ".journal"]) {
    const from = `${path}${suffix}`;
    if (!existsSync(from)) continue;
    const to = `${path}.damaged-${stamp}${suffix}`;
    renameSync(from, to);
    moved.push(to);
  }
  return moved;
}
