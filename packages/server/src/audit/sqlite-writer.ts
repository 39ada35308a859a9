// The SQLite write connection, on its own thread: a group commit (and its fsync) never blocks the
// event loop that parses requests and decides. The main thread keeps a connection for reads.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import type { DeliveryRow, EntryRow, InputRow, OutboxRow } from "./backend.js";
import { prepareBatchWriter } from "./sqlite-batch.js";

export interface WriterInit {
  path: string;
  synchronous: "full" | "normal";
}

export interface WriteRequest {
  id: number;
  rows: readonly EntryRow[];
  inputs: readonly InputRow[];
  outbox: readonly OutboxRow[];
  deliveries: readonly DeliveryRow[];
}

/** The writer's page cache, in KiB. */
const CACHE_KIB = 65_536;
/** WAL pages after which the writer checkpoints (SQLite's own default is 1000). */
const CHECKPOINT_PAGES = 4_000;

export type WriteReply = { id: number; ok: true } | { id: number; ok: false; message: string };

const init = workerData as WriterInit;
const db = new Database(init.path, { fileMustExist: true });
db.pragma("journal_mode = WAL");
db.pragma(`synchronous = ${init.synchronous === "full" ? "FULL" : "NORMAL"}`);
db.pragma("busy_timeout = 5000");
// Entries and inputs are keyed by hashes, so each insert lands on a random index page: a cache that
// holds the indexes saves a read per page (the default is 2 MiB).
db.pragma(`cache_size = -${CACHE_KIB}`);
// Checkpoints copy the WAL into the database. Run inside a commit they delay every answer waiting
// on it; here they run after a commit, once enough has accumulated, while requests queue up for the
// next group commit.
db.pragma("wal_autocheckpoint = 0");
let pagesSinceCheckpoint = 0;
const writeBatch = prepareBatchWriter(db);
const write = (r: WriteRequest) => writeBatch(r.rows, r.inputs, r.outbox, r.deliveries);

parentPort!.on("message", (request: WriteRequest | "close") => {
  if (request === "close") {
    db.close();
    parentPort!.close();
    return;
  }
  let reply: WriteReply;
  try {
    write(request);
    reply = { id: request.id, ok: true };
  } catch (error) {
    reply = { id: request.id, ok: false, message: (error as Error).message };
  }
  parentPort!.postMessage(reply);
  // roughly: an entry and its input fill a few pages
  pagesSinceCheckpoint += request.rows.length * 2 + request.inputs.length * 2;
  if (pagesSinceCheckpoint >= CHECKPOINT_PAGES) {
    pagesSinceCheckpoint = 0;
    try {
      db.pragma("wal_checkpoint(PASSIVE)");
    } catch {
      // a busy checkpoint is retried after a later commit
    }
  }
});
parentPort!.postMessage("ready");
