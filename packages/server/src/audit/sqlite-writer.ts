// The SQLite write connection, on its own thread: sealing (hashes, canonical bodies), the group
// commit and its fsync never block the event loop that parses requests and decides. The main thread
// keeps a connection for reads.
//
// The thread keeps each chain's head, so the main thread posts entries as soon as it has them,
// without waiting for the previous commit: requests that arrive while a transaction runs are written
// together in the next one (group commit).
import { randomBytes, randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { GENESIS_HASH } from "./entry.js";
import { type ChainHead, type Placement, type SealItem, sealBatch } from "./seal.js";
import { prepareBatchWriter, readHead } from "./sqlite-batch.js";
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
}

export interface AppendRequest {
  id: number;
  chain: string;
  key: string | null;
  items: readonly SealItem[];
}

/** A write that is rolled back: what fails real writes (a full disk, damage, a lock) fails it too. */
export interface ProbeRequest {
  id: number;
  probe: true;
}

export type WriteReply = (
  | { id: number; ok: true; placements: Placement[] }
  | { id: number; ok: false; message: string; code: string | undefined }
) & { commit?: { entries: number; seconds: number } };

/** Thrown when the file written is no longer the file at the log's path. */
class ReplacedError extends Error {
  readonly code = "CLEARANCE_FILE_REPLACED";
}

function failure(error: unknown): { message: string; code: string | undefined } {
  const e = error as Error & { code?: unknown };
  return { message: e.message, code: typeof e.code === "string" ? e.code : undefined };
}

/**
 * Refuses to write into a file that is no longer the log: one replaced, removed or whose WAL was
 * removed would take the commit with it at the next start, after its decision was answered.
 */
function checkIdentity(): void {
  const problem = identityProblem(init.path, init.identity);
  if (problem) throw new ReplacedError(problem);
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
/** How many checkpoint intervals the writer waits for the checkpointer before doing it itself. */
const CHECKPOINTER_SILENT = 4;
const writeBatch = prepareBatchWriter(db);

/** Heads of the chains written here; dropped after a failed transaction and read again. */
const heads = new Map<string, ChainHead>();
const queue: AppendRequest[] = [];
let scheduled = false;

function headOf(chain: string): ChainHead {
  let head = heads.get(chain);
  if (!head) {
    head = readHead(db, chain) ?? { seq: 0, hash: GENESIS_HASH };
    heads.set(chain, head);
  }
  return head;
}

/** Seals and writes `requests` in one transaction; replies to each. */
function commit(requests: readonly AppendRequest[]): void {
  const started = performance.now();
  const tentative = new Map<string, ChainHead>();
  const placements: Placement[][] = [];
  let entries = 0;
  try {
    checkIdentity();
    const all = db.transaction(() => {
      for (const r of requests) {
        const head = tentative.get(r.chain) ?? headOf(r.chain);
        const sealed = sealBatch(r.items, r.chain, head, r.key);
        writeBatch(sealed.rows, sealed.inputs, sealed.outbox, sealed.deliveries);
        tentative.set(r.chain, sealed.head);
        placements.push(sealed.placements);
        entries += r.items.length;
      }
    });
    // IMMEDIATE takes the write lock before the head is read: no other writer (another process on
    // this file) can append in between, and waiting for the lock honours busy_timeout
    all.immediate();
  } catch (error) {
    // the chain as stored is the one certain state: read it again before the next transaction
    for (const r of requests) heads.delete(r.chain);
    if (requests.length > 1) {
      // one call's bad entry must not fail the calls it happened to share a transaction with
      for (const r of requests) commit([r]);
      return;
    }
    const { message, code } = failure(error);
    const seconds = (performance.now() - started) / 1000;
    requests.forEach((r, i) => {
      const reply: WriteReply = { id: r.id, ok: false, message, code };
      if (i === 0) reply.commit = { entries: 0, seconds };
      parentPort!.postMessage(reply);
    });
    return;
  }
  for (const [chain, head] of tentative) heads.set(chain, head);
  const seconds = (performance.now() - started) / 1000;
  requests.forEach((r, i) => {
    const reply: WriteReply = { id: r.id, ok: true, placements: placements[i]! };
    if (i === 0) reply.commit = { entries, seconds };
    parentPort!.postMessage(reply);
  });
  // roughly: an entry and its input fill a few pages
  pagesSinceCheckpoint += entries * 4;
  if (pagesSinceCheckpoint >= CHECKPOINTER_SILENT * init.checkpointPages) {
    // the checkpointer has not answered for that long (it failed, or died): do it here
    checkpointHere();
  } else if (pagesSinceCheckpoint >= init.checkpointPages && !checkpointAsked) {
    checkpointAsked = true;
    init.checkpoints.postMessage("checkpoint");
  }
}

/** A complete checkpoint between two commits: the WAL starts over at the next transaction. */
function checkpointHere(): void {
  pagesSinceCheckpoint = 0;
  checkpointAsked = false;
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
  } catch {
    // retried after later commits
  }
}

/** What a probe writes and takes out again in the same transaction. */
const PROBE_CHAIN = "(probe)";
const removeProbe = {
  entry: db.prepare("DELETE FROM entries WHERE id = ?"),
  input: db.prepare("DELETE FROM inputs WHERE hash = ?"),
  head: db.prepare("DELETE FROM chain_heads WHERE chain = ?"),
};

/**
 * A write as a decision's, committed: an entry and an input written and taken out again in one
 * transaction, without waiting for another writer's lock. It touches the pages a decision's write
 * would (random keys land on random index pages) and commits through the WAL (so a full disk fails
 * it as it fails decisions), and leaves nothing behind.
 */
function probe(request: ProbeRequest): void {
  let reply: WriteReply;
  db.pragma("busy_timeout = 0");
  try {
    checkIdentity();
    const hex = randomBytes(32).toString("hex");
    const id = randomUUID();
    db.transaction(() => {
      writeBatch(
        [
          {
            id,
            chain: PROBE_CHAIN,
            seq: 1,
            time: new Date().toISOString(),
            source: "api",
            requester: null,
            sha256: hex,
            decision: "allow",
            rule: null,
            inputHash: hex,
            body: "{}",
            hash: hex,
          },
        ],
        [{ hash: hex, body: "{}" }],
        [],
        [],
      );
      removeProbe.entry.run(id);
      removeProbe.input.run(hex);
      removeProbe.head.run(PROBE_CHAIN);
    }).immediate();
    reply = { id: request.id, ok: true, placements: [] };
  } catch (error) {
    reply = { id: request.id, ok: false, ...failure(error) };
  } finally {
    db.pragma("busy_timeout = 5000");
  }
  parentPort!.postMessage(reply);
}

/** Writes everything queued, `maxBatch` entries to a transaction. */
function drain(): void {
  scheduled = false;
  while (queue.length > 0) {
    let n = 0;
    let entries = 0;
    while (n < queue.length && (n === 0 || entries + queue[n]!.items.length <= init.maxBatch))
      entries += queue[n++]!.items.length;
    commit(queue.splice(0, n));
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
    drain();
    probe(message);
    return;
  }
  if (message === "close") {
    drain();
    db.close();
    init.checkpoints.postMessage("close");
    init.checkpoints.close();
    parentPort!.close();
    return;
  }
  queue.push(message);
  // messages that arrived during a transaction are all delivered before this runs
  if (!scheduled) {
    scheduled = true;
    setImmediate(drain);
  }
});
parentPort!.postMessage("ready");
