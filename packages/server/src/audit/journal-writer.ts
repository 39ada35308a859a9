// The journal writer, on its own thread: sealing, encoding and the group commit's `fdatasync` never
// block the event loop. Appends that arrive while a group is written go into the next group (they
// queue as messages), at most `maxBatch` entries to a group. Each reply leaves only after its
// group's `fdatasync` returned; the main thread then tells the index follower where the journal
// ends.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import type { Checkpoint } from "./backend.js";
import { GroupQueue } from "./group-queue.js";
import { JournalFiles } from "./journal.js";
import { JournalAppender } from "./journal-append.js";
import type { EntryKind } from "./kinds.js";
import {
  type AppendRequest,
  failure,
  type ProbeRequest,
  type WriteReply,
} from "./sqlite-append.js";

export interface JournalWriterInit {
  /** the index (SQLite), for ids already taken */
  path: string;
  dir: string;
  segmentBytes: number;
  /** where the journal ends, as the store found it when it opened */
  end: number;
  maxBatch: number;
  kinds: readonly EntryKind[];
  heads: { chain: string; seq: number; hash: string }[];
}

/** Messages the writer takes besides appends and probes. */
export type JournalWriterMessage =
  | { id: number; checkpoint: Checkpoint }
  /** the index has applied the journal up to `applied` */
  | { applied: number }
  | "close";

const init = workerData as JournalWriterInit;
const index = new Database(init.path, { readonly: true, fileMustExist: true });
const files = JournalFiles.resume(init.dir, init.segmentBytes, init.end);
const appender = new JournalAppender(files, init.heads, index, init.kinds);

const groups = new GroupQueue(init.maxBatch, (group) => {
  for (const reply of appender.commit(group)) parentPort!.postMessage(reply);
});

parentPort!.on("message", (message: AppendRequest | ProbeRequest | JournalWriterMessage) => {
  if (message === "close") {
    groups.drain();
    files.close();
    index.close();
    parentPort!.close();
    return;
  }
  if ("applied" in message) {
    appender.applied(message.applied);
    return;
  }
  if ("probe" in message) {
    // after the appends already queued, as the next group would be
    groups.drain();
    parentPort!.postMessage(appender.probe(message.id));
    return;
  }
  if ("checkpoint" in message) {
    groups.drain();
    let reply: WriteReply;
    try {
      const position = appender.checkpoint(message.checkpoint);
      reply = {
        id: message.id,
        ok: true,
        placements: [],
        commit: { entries: 0, seconds: 0, position },
      };
    } catch (error) {
      reply = { id: message.id, ok: false, ...failure(error) };
    }
    parentPort!.postMessage(reply);
    return;
  }
  groups.push(message);
});
parentPort!.postMessage("ready");
