/**
 * One writer per SQLite log. Two servers on one file would both start and report ready, then race
 * for the same sequence numbers (`UNIQUE constraint failed: entries.chain, entries.seq`) and answer
 * a third of decisions with 503. A writer holds `<log>.lock`, a small SQLite database in
 * rollback-journal mode, with a write transaction open for as long as it runs: SQLite's file locks
 * (POSIX advisory locks, released by the system when the process ends, even by SIGKILL) make a
 * second writer's `BEGIN IMMEDIATE` fail at once, while it can still read who holds the lock.
 */
import { hostname } from "node:os";
import Database from "better-sqlite3";
import { AuditUnavailableError } from "./backend.js";

/** Another process (or another log object in this one) writes to this log. */
export class AuditInUseError extends AuditUnavailableError {
  override name = "AuditInUseError";
  constructor(
    message: string,
    /** who holds it, as it recorded itself */
    readonly holder: { pid: number; host: string; since: string } | null,
  ) {
    super(message, { scope: "store" });
  }
}

export interface Holder {
  pid: number;
  host: string;
  since: string;
}

export class WriterLock {
  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {}

  /** Takes the lock of the log at `logPath`, or throws AuditInUseError naming its holder. */
  static acquire(logPath: string, me: Holder = self()): WriterLock {
    const path = `${logPath}.lock`;
    let db: Database.Database;
    try {
      db = new Database(path, { timeout: 0 });
      db.pragma("journal_mode = DELETE");
      db.exec(
        "CREATE TABLE IF NOT EXISTS holder (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, host TEXT NOT NULL, since TEXT NOT NULL)",
      );
    } catch (error) {
      if (isBusy(error)) throw inUse(logPath, path, null);
      throw new AuditUnavailableError(
        `cannot open the lock \`${path}\` of the audit log: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const take = () => {
      try {
        db.exec("BEGIN IMMEDIATE");
        return true;
      } catch (error) {
        if (isBusy(error)) return false;
        throw error;
      }
    };
    // Record who holds it (committed, so a second writer can read it), then hold it: a writer
    // that slips in between takes the lock, and this one reports it as the holder.
    if (take()) {
      db.prepare("INSERT OR REPLACE INTO holder (id, pid, host, since) VALUES (1, ?, ?, ?)").run(
        me.pid,
        me.host,
        me.since,
      );
      db.exec("COMMIT");
      if (take()) return new WriterLock(db, path);
    }
    const holder = readHolder(db);
    db.close();
    throw inUse(logPath, path, holder);
  }

  release(): void {
    if (!this.db.open) return;
    try {
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
    } finally {
      this.db.close();
    }
  }
}

function self(): Holder {
  return { pid: process.pid, host: hostname(), since: new Date().toISOString() };
}

function readHolder(db: Database.Database): Holder | null {
  try {
    return (db.prepare("SELECT pid, host, since FROM holder WHERE id = 1").get() as Holder) ?? null;
  } catch {
    return null;
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === "SQLITE_BUSY" || code === "SQLITE_LOCKED";
}

function inUse(logPath: string, lockPath: string, holder: Holder | null): AuditInUseError {
  const who = holder
    ? `process ${holder.pid} on ${holder.host}, since ${holder.since}`
    : "another process";
  return new AuditInUseError(
    `the audit log \`${logPath}\` is already being written by ${who} (it holds \`${lockPath}\`)`,
    holder,
  );
}
