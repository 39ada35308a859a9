// Checkpoints of the SQLite write-ahead log, on a thread and connection of their own. A checkpoint
// copies the WAL's pages into the database file: tens of milliseconds under load. In WAL mode it
// runs beside the writer (PASSIVE never takes the write lock), so commits, and the answers waiting
// on them, do not stall behind it. It cannot finish while the writer keeps appending, though, and
// the WAL starts over only after a complete checkpoint: when this one is done, the writer copies
// the few pages appended meanwhile itself, between two commits.
import { type MessagePort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

export interface CheckpointerInit {
  path: string;
  /** the writer thread posts here when a checkpoint is due ("close" ends the thread); "done" answers */
  requests: MessagePort;
}

const init = workerData as CheckpointerInit;
const db = new Database(init.path, { fileMustExist: true });
db.pragma("busy_timeout = 5000");
let scheduled = false;

const end = (): void => {
  if (db.open) db.close();
  init.requests.close();
};
// the writer gone (closed, or died): nothing will ask for checkpoints any more
init.requests.on("close", end);
init.requests.on("message", (m: "checkpoint" | "close") => {
  if (m === "close") {
    end();
    return;
  }
  // requests that arrived during a checkpoint are served by one more
  if (scheduled) return;
  scheduled = true;
  setImmediate(() => {
    scheduled = false;
    if (!db.open) return;
    try {
      db.pragma("wal_checkpoint(PASSIVE)");
    } catch {
      // busy or failed: the writer's own checkpoint does it all, as it would without this thread
    }
    init.requests.postMessage("done");
  });
});
