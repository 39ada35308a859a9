// The SQLite write connection, on its own thread: sealing (hashes, canonical bodies), the group
// commit and its fsync never block the event loop that parses requests and decides. The main thread
// keeps a connection for reads.
//
// The appends that arrive while a transaction runs are written together in the next one (they are
// queued behind it as messages); sealing and writing are `SqliteAppender`'s, the same code that
// writes inline.
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { GroupQueue } from "./group-queue.js";
import type { EntryKind } from "./kinds.js";
import { type AppendRequest, type ProbeRequest, SqliteAppender } from "./sqlite-append.js";
import { type FileIdentity, identityProblem } from "./sqlite-files.js";

export interface WriterInit {
  path: string;
  synchronous: "full" | "normal";
  /** most entries in one transaction (a single request larger than this is written whole) */
  maxBatch: number;
  /** WAL pages written after which a checkpoint is due */
  checkpointPages: number;
  /** the database file and its write-ahead log as opened: checked before every commit */
  identity: FileIdentity;
  /** the store's entry kinds (plain data) */
  kinds: readonly EntryKind[];
}

/** Thrown when the file written is no longer the file at the log's path. */
class ReplacedError extends Error {
  readonly code = "CLEARANCE_FILE_REPLACED";
}

/** The writer's page cache, in KiB. */
const CACHE_KIB = 65_536;

const init = workerData as WriterInit & {
  /** the checkpointer thread's requests */
  checkpoints: MessagePort;
};
const db = new Database(init.path, { fileMustExist: true });
db.pragma("journal_mode = WAL");
db.pragma(`synchronous = ${init.synchronous === "full" ? "FULL" : "NORMAL"}`);
db.pragma("busy_timeout = 5000");
// Entries and inputs are keyed by hashes, so each insert lands on a random index page: a cache that
// holds the indexes saves a read per page (the default is 2 MiB).
db.pragma(`cache_size = -${CACHE_KIB}`);
// Checkpoints copy the WAL into the database. Run inside a commit they delay every answer waiting
// on it; here the checkpointer thread runs them beside the writer, once enough has accumulated.
db.pragma("wal_autocheckpoint = 0");
/** WAL pages written since the last complete checkpoint (roughly) */
let pagesSinceCheckpoint = 0;
/** a pass was asked of the checkpointer thread and it has not answered yet */
let checkpointAsked = false;
/** How long the writer's own checkpoint waits for the checkpointer and readers (its commits wait). */
const RESTART_WAIT_MS = 200;
/** How many checkpoint intervals the writer waits for the checkpointer before doing it itself. */
const CHECKPOINTER_SILENT = 4;

/**
 * Refuses to write into a file that is no longer the log: one replaced, removed or whose WAL was
 * removed would take the commit with it at the next start, after its decision was answered.
 */
const appender = new SqliteAppender(db, init.kinds, () => {
  const problem = identityProblem(init.path, init.identity);
  if (problem) throw new ReplacedError(problem);
});

const groups = new GroupQueue(init.maxBatch, commit);

/** Seals and writes `requests` in one transaction; replies to each. */
function commit(requests: readonly AppendRequest[]): void {
  let entries = 0;
  for (const reply of appender.commit(requests)) {
    if (reply.ok && reply.commit) entries += reply.commit.entries;
    parentPort!.postMessage(reply);
  }
  // roughly: an entry and its input fill a few pages
  pagesSinceCheckpoint += entries * 4;
  if (pagesSinceCheckpoint >= CHECKPOINTER_SILENT * init.checkpointPages) {
    // the checkpointer has not answered for that long: it failed, died, or its pass is slower than
    // the writes (a disk shared with other writers), and a passive checkpoint here would find it
    // still running and give up, every time, while the WAL grows. This one waits for it (and for
    // readers on older pages, up to the busy timeout), then finishes, so the WAL starts over.
    checkpointHere("RESTART");
  } else if (pagesSinceCheckpoint >= init.checkpointPages && !checkpointAsked) {
    checkpointAsked = true;
    init.checkpoints.postMessage("checkpoint");
  }
}

/** A complete checkpoint between two commits: the WAL starts over at the next transaction. */
function checkpointHere(mode: "PASSIVE" | "RESTART" = "PASSIVE"): void {
  pagesSinceCheckpoint = 0;
  checkpointAsked = false;
  // a RESTART waits for the checkpointer and for readers, but commits wait behind it: briefly
  if (mode === "RESTART") db.pragma(`busy_timeout = ${RESTART_WAIT_MS}`);
  try {
    db.pragma(`wal_checkpoint(${mode})`);
  } catch {
    // retried after later commits
  } finally {
    if (mode === "RESTART") db.pragma("busy_timeout = 5000");
  }
}

init.checkpoints.on("message", () => {
  // the checkpointer has copied the WAL up to where it began: the rest is short, and a complete
  // checkpoint lets the next transaction start the WAL over instead of growing it
  checkpointHere();
});

parentPort!.on("message", (message: AppendRequest | ProbeRequest | "close") => {
  if (message !== "close" && "probe" in message) {
    // after the appends already queued, as the next commit would be
    groups.drain();
    parentPort!.postMessage(appender.probe(message.id));
    return;
  }
  if (message === "close") {
    groups.drain();
    db.close();
    init.checkpoints.postMessage("close");
    init.checkpoints.close();
    parentPort!.close();
    return;
  }
  groups.push(message);
});
parentPort!.postMessage("ready");
