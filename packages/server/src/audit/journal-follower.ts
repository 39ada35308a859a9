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
export type FollowerMessage =
  /** `now`: a read waits for it; else it may wait to apply more in one transaction */
  { journaled: number; now?: boolean } | "close";

/** How long the follower waits before trying again after a failed transaction. */
const RETRY_MS = 500;
/**
 * How long what was journaled may wait for more, so that one transaction applies several group
 * commits: a transaction's cost is mostly per page, and entries of consecutive groups share pages.
 * A read waiting for it does not wait this long (`now`).
 */
const LINGER_MS = 25;

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
/** the next run, when one is set: at once, after the linger, or after a failure */
let next: { when: "now" | "later" | "retry"; cancel: () => void } | undefined;
let closing = false;

function report(message: FollowerReport): void {
  parentPort!.postMessage(message);
}

function run(): void {
  next = undefined;
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
    const timer = setTimeout(run, RETRY_MS);
    next = { when: "retry", cancel: () => clearTimeout(timer) };
    return;
  }
  if (applied < target) schedule(true);
  else finish();
}

/** Sets the next run, at once or after the linger; a run set already at once stays so. */
function schedule(now: boolean): void {
  if (next?.when === "now" || next?.when === "retry") return;
  if (next?.when === "later") {
    if (!now) return;
    next.cancel();
  }
  if (now) {
    const immediate = setImmediate(run);
    next = { when: "now", cancel: () => clearImmediate(immediate) };
  } else {
    const timer = setTimeout(run, LINGER_MS);
    next = { when: "later", cancel: () => clearTimeout(timer) };
  }
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
    if (next === undefined) finish();
    else schedule(true);
    return;
  }
  if (message.journaled > target) target = message.journaled;
  schedule(message.now === true);
});
report("ready");
