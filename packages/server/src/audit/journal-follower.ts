// The index follower, on its own thread: applies what the writer journaled to the SQLite index in
// large transactions, off the path of every answer. The main thread tells it where the journal ends
// after each group commit; it answers how far it has applied. Its connection does not wait for the
// disk (`synchronous = NORMAL` in WAL mode): the journal is what survives a power loss, and an index
// that lost its last transactions applies them again from the journal at the next start.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { IndexApplier } from "./journal-index.js";
import type { EntryKind } from "./kinds.js";
import { failure } from "./sqlite-append.js";

export interface FollowerInit {
  path: string;
  dir: string;
  kinds: readonly EntryKind[];
  /** most entries in one transaction */
  maxEntries: number;
}

/** What the follower tells the main thread. */
export type FollowerReport =
  | "ready"
  | { applied: number; entries: number }
  | { failed: string; code: string | undefined }
  | "closed";

/** The main thread's messages: where the journal ends now, or to apply what is left and stop. */
export type FollowerMessage = { journaled: number } | "close";

/** How long the follower waits before trying again after a failed transaction. */
const RETRY_MS = 500;

const init = workerData as FollowerInit;
const db = new Database(init.path, { fileMustExist: true });
db.pragma("journal_mode = WAL");
db.pragma("synchronous = NORMAL");
db.pragma("busy_timeout = 5000");
// entries and inputs are keyed by random hashes: a cache that holds the indexes saves reads
db.pragma("cache_size = -65536");
const applier = new IndexApplier(db, init.dir, init.kinds, init.maxEntries);

let target = 0;
let applied = applier.appliedTo();
let running = false;
let closing = false;

function report(message: FollowerReport): void {
  parentPort!.postMessage(message);
}

function run(): void {
  running = false;
  if (applied >= target) {
    finish();
    return;
  }
  try {
    const done = applier.catchUp(target);
    applied = done.position;
    report({ applied: done.position, entries: done.entries });
  } catch (error) {
    const { message, code } = failure(error);
    report({ failed: message, code });
    // closing: what is left stays in the journal, applied at the next start
    if (closing) {
      finish();
      return;
    }
    running = true;
    setTimeout(run, RETRY_MS);
    return;
  }
  if (applied < target) schedule();
  else finish();
}

function schedule(): void {
  if (running) return;
  running = true;
  setImmediate(run);
}

function finish(): void {
  if (!closing) return;
  db.close();
  report("closed");
  parentPort!.close();
}

parentPort!.on("message", (message: FollowerMessage) => {
  if (message === "close") {
    closing = true;
    if (!running) finish();
    return;
  }
  if (message.journaled > target) target = message.journaled;
  schedule();
});
report("ready");
