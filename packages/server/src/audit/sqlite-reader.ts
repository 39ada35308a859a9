// A reader thread of the SQLite audit store: a read-only connection of its own, serving one request
// at a time. Exports, verifications and searches are asked for in bounded chunks (`SqliteReads`),
// so a long one never holds the event loop, and other reads take turns with it between chunks.
// WAL mode lets these connections read while the writer thread commits.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import type { EntryKind } from "./kinds.js";
import { failure } from "./sqlite-append.js";
import { SqliteReads } from "./sqlite-reads.js";

export interface ReaderInit {
  path: string;
  /** the store's entry kinds (plain data) */
  kinds: readonly EntryKind[];
}

/** The reads a reader thread serves: the methods of `SqliteReads`, by name. */
export type ReadOp = {
  [K in keyof SqliteReads]: SqliteReads[K] extends (...args: never[]) => unknown ? K : never;
}[keyof SqliteReads];

export interface ReadRequest {
  id: number;
  op: ReadOp;
  args: unknown[];
}

export type ReadReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; message: string; code: string | undefined };

const init = workerData as ReaderInit;
const db = new Database(init.path, { readonly: true, fileMustExist: true });
db.pragma("busy_timeout = 5000");
const reads = new SqliteReads(db, init.kinds);

parentPort!.on("message", (message: ReadRequest | "close") => {
  if (message === "close") {
    db.close();
    parentPort!.close();
    return;
  }
  let reply: ReadReply;
  try {
    const method = reads[message.op] as (...args: unknown[]) => unknown;
    reply = { id: message.id, ok: true, value: method.apply(reads, message.args) };
  } catch (error) {
    reply = { id: message.id, ok: false, ...failure(error) };
  }
  parentPort!.postMessage(reply);
});
parentPort!.postMessage("ready");
