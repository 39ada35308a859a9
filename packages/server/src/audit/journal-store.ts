// The journal as the embedded store keeps it, on the main thread: opening it (repairing a torn
// tail, copying a log written before the journal into it, applying what the index had not), the
// writer and follower threads (or inline writes for tools), how far the index is behind, and reads
// that wait for it. `SqliteBackend` holds one when `journal` is on.
//
// Read your writes: every read of the index first waits until the index has applied what had been
// journaled when the read began (`indexed`), bounded; an answer that was given can be read back at
// once. A lag past the bound makes reads and readiness fail, never return a stale "not found".
import { existsSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";
import { AuditDamagedError, AuditUnavailableError, type Checkpoint } from "./backend.js";
import {
  encodeRecord,
  JournalFiles,
  journalDir,
  listSegments,
  offsetOf,
  RecordType,
  segmentName,
  segmentOf,
  syncDir,
  type TailRepair,
} from "./journal.js";
import { JournalAppender } from "./journal-append.js";
import type { FollowerInit, FollowerMessage, FollowerReport } from "./journal-follower.js";
import { IndexApplier, JOURNAL_STATE_TABLE } from "./journal-index.js";
import type { JournalWriterInit, JournalWriterMessage } from "./journal-writer.js";
import type { EntryKind } from "./kinds.js";
import type { SealItem } from "./seal.js";
import {
  type AppendRequest,
  failure,
  type ProbeRequest,
  type WriteReply,
} from "./sqlite-append.js";
import type { SqliteReads } from "./sqlite-reads.js";

export interface JournalSettings {
  /** a segment is closed once it holds this many bytes */
  segmentBytes: number;
  /** readiness fails once the oldest entry the index has not applied is older than this */
  maxIndexLagSeconds: number;
  /** how long a read waits for the index to apply what was journaled before it */
  indexWaitMs: number;
  /** most entries the follower applies in one transaction */
  followerBatch: number;
}

export const DEFAULT_JOURNAL: Readonly<JournalSettings> = Object.freeze({
  segmentBytes: 64 * 1024 * 1024,
  maxIndexLagSeconds: 30,
  indexWaitMs: 5_000,
  followerBatch: 2_000,
});

/** How far the index is behind the journal, and what opening the journal found. */
export interface JournalStatus {
  /** entries acknowledged that the index has not applied */
  lagEntries: number;
  /** age of the oldest of them, 0 when there are none */
  lagSeconds: number;
  /** journal positions (see `journal.ts`) */
  journaled: number;
  applied: number;
  /** the follower's last failure, until it applies again */
  followerError: string | undefined;
  repaired: TailRepair | undefined;
  /** entries of a log written before the journal, copied into it when it was made */
  migrated: number;
  /** the journal was made when the store opened */
  created: boolean;
  /** its directory, and the bytes its segments take */
  dir: string;
  bytes: number;
}

/** What the main thread needs to start threads: their module URLs. */
export type ThreadUrl = (name: string) => URL;

interface Waiter {
  target: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** SQLite's codes for a database it cannot read: the index is damaged, not merely busy. */
function isDamage(code: string | undefined): boolean {
  return (
    code !== undefined &&
    (code.startsWith("SQLITE_CORRUPT") ||
      code === "SQLITE_NOTADB" ||
      code === "CLEARANCE_JOURNAL_DAMAGED")
  );
}

export class Journal {
  readonly dir: string;
  readonly repaired: TailRepair | undefined;
  readonly migrated: number;
  /** there was no journal: it was made (and the log so far copied into it) */
  readonly created: boolean;
  /** the position after the last group commit acknowledged (or found at open) */
  private journaled: number;
  private applied: number;
  /** acknowledged group commits the index has not applied: where each ends, when, how many entries */
  private readonly unapplied: { position: number; at: number; entries: number }[] = [];
  private readonly waiters = new Set<Waiter>();
  private followerError: string | undefined;
  /** the follower was asked to apply at once, and has not reported since */
  private hurried = false;
  /**
   * The index found damaged by the follower: SQLite's message and code. Nothing ends it but an
   * operator (the index is rebuilt from the journal once removed), so appends and reads fail with it.
   */
  damage: { message: string; code: string } | undefined;
  /** inline: the files and the appender, on this thread */
  private inline:
    | { files: JournalFiles; appender: JournalAppender; applier: IndexApplier }
    | undefined;
  private writer: Worker | undefined;
  private writerReady: Promise<void> | undefined;
  private follower: Worker | undefined;
  private readonly replies = new Map<number, (reply: WriteReply) => void>();
  private nextId = 0;
  private closing = false;
  private writerExit: Promise<void> | undefined;
  private followerExit: Promise<void> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly path: string,
    private readonly db: Database.Database,
    private readonly reads: SqliteReads,
    private readonly kinds: readonly EntryKind[],
    private readonly settings: Readonly<JournalSettings>,
    private readonly threads: { url: ThreadUrl; maxBatch: number } | undefined,
    opened: {
      end: number;
      repaired: TailRepair | undefined;
      migrated: number;
      files: JournalFiles;
      created: boolean;
      applier: IndexApplier;
    },
  ) {
    this.dir = journalDir(path);
    this.journaled = opened.end;
    this.applied = opened.end;
    this.repaired = opened.repaired;
    this.migrated = opened.migrated;
    this.created = opened.created;
    if (!threads)
      this.inline = {
        files: opened.files,
        appender: new JournalAppender(opened.files, this.heads(), db, kinds),
        applier: opened.applier,
      };
    else opened.files.close();
  }

  /**
   * Opens the journal beside the index at `path` (made by the migrations already): repairs its
   * tail, copies a log written before the journal into it, and applies to the index what it had
   * not. `threads`: the server's writer and follower threads; without, everything runs inline.
   */
  static open(args: {
    path: string;
    db: Database.Database;
    reads: SqliteReads;
    kinds: readonly EntryKind[];
    settings: Readonly<JournalSettings>;
    threads?: { url: ThreadUrl; maxBatch: number };
  }): Journal {
    const { path, db, reads, kinds, settings } = args;
    const dir = journalDir(path);
    const applier = new IndexApplier(db, dir, kinds, settings.followerBatch);
    const hadState = db.prepare(`SELECT 1 FROM ${JOURNAL_STATE_TABLE}`).get() !== undefined;
    const existed = existsSync(dir);
    if (!existed && hadState)
      throw new AuditDamagedError(
        `the audit journal \`${dir}\` is missing: the index \`${path}\` was filled from it, and the journal is the log (restore it, or start a new log)`,
      );
    // No journal yet: the log so far (if any) is copied into a new one, beside it, and put in its
    // place once whole: a crash in the middle leaves no journal that looks complete. A journal
    // without the index's record of it is an index deleted (or replaced): rebuilt from it below.
    let migrated = 0;
    if (!hadState && !existed) {
      const copying = `${dir}.copying`;
      rmSync(copying, { recursive: true, force: true });
      const into = JournalFiles.open(copying, settings.segmentBytes, 0);
      try {
        migrated = copyIntoJournal(reads, into, kinds);
      } finally {
        into.close();
      }
      renameSync(copying, dir);
      syncDir(dirname(dir));
    }
    const files = JournalFiles.open(dir, settings.segmentBytes, hadState ? applier.appliedTo() : 0);
    try {
      if (!hadState && !existed) {
        // the index has every entry copied: it applied the journal so far
        db.prepare(
          `INSERT INTO ${JOURNAL_STATE_TABLE} (id, position, entries, updated_at) VALUES (1, ?, ?, ?)`,
        ).run(files.end, migrated, new Date().toISOString());
      }
      if (applier.appliedTo() > files.end)
        throw new AuditDamagedError(
          `the audit journal \`${dir}\` ends at segment ${files.segment} byte ${files.offset}, before what the index has applied (segment ${segmentOf(applier.appliedTo())} byte ${offsetOf(applier.appliedTo())}): acknowledged entries are missing from it`,
        );
      applier.catchUp(files.end);
      return new Journal(path, db, reads, kinds, settings, args.threads, {
        end: files.end,
        repaired: files.repaired,
        migrated,
        files,
        created: !existed,
        applier,
      });
    } catch (error) {
      files.close();
      throw error;
    }
  }

  /** every chain's head as the index has it (caught up) */
  private heads(): { chain: string; seq: number; hash: string }[] {
    return this.reads.chains().flatMap((chain) => {
      const head = this.reads.head(chain);
      return head ? [{ chain, ...head }] : [];
    });
  }

  status(now = performance.now()): JournalStatus {
    const lag = this.lag(now);
    return {
      lagEntries: lag.entries,
      lagSeconds: lag.seconds,
      journaled: this.journaled,
      applied: this.applied,
      followerError: this.followerError,
      repaired: this.repaired,
      migrated: this.migrated,
      created: this.created,
      dir: this.dir,
      bytes: this.bytes(),
    };
  }

  /** entries acknowledged the index has not applied, and the age of the oldest (seconds) */
  lag(now = performance.now()): { entries: number; seconds: number } {
    const oldest = this.unapplied[0];
    return {
      entries: this.unapplied.reduce((n, c) => n + c.entries, 0),
      seconds: oldest ? (now - oldest.at) / 1000 : 0,
    };
  }

  /** Throws when the index is further behind than `maxIndexLagSeconds`. */
  checkLag(): void {
    const { entries: lagEntries, seconds: lagSeconds } = this.lag();
    if (lagSeconds > this.settings.maxIndexLagSeconds)
      throw new AuditUnavailableError(
        `the audit index \`${this.path}\` is ${lagEntries} entries (${lagSeconds.toFixed(1)} s) behind its journal, more than \`audit.sqlite.maxIndexLagSeconds\` (${this.settings.maxIndexLagSeconds} s)${this.followerError ? `: the follower says \`${this.followerError}\`` : ""}`,
      );
  }

  /** A group commit acknowledged, ending at `position`. */
  private acknowledged(position: number, entries: number): void {
    if (position <= this.journaled) return;
    this.journaled = position;
    this.unapplied.push({ position, at: performance.now(), entries });
    this.follower?.postMessage({ journaled: position } satisfies FollowerMessage);
  }

  /** The index has applied the journal up to `position`. */
  private appliedTo(position: number): void {
    this.hurried = false;
    if (position <= this.applied) return;
    this.applied = position;
    while (this.unapplied.length > 0 && this.unapplied[0]!.position <= position)
      this.unapplied.shift();
    for (const w of this.waiters)
      if (w.target <= position) {
        this.waiters.delete(w);
        w.resolve();
      }
  }

  /**
   * Resolves once the index has applied everything journaled before this call; throws after
   * `indexWaitMs` (the follower stopped, or fell far behind).
   */
  indexed(): Promise<void> {
    const target = this.journaled;
    if (this.applied >= target) return Promise.resolve();
    if (this.damage) return Promise.reject(this.damageError());
    // the follower may be lingering for more to apply: a read waits, so it applies now
    if (!this.hurried) {
      this.hurried = true;
      this.follower?.postMessage({
        journaled: this.journaled,
        now: true,
      } satisfies FollowerMessage);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        target,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(
          new AuditUnavailableError(
            `the audit index \`${this.path}\` did not apply the journal's last ${this.lag().entries} entries within ${this.settings.indexWaitMs / 1000} s${this.followerError ? `: the follower says \`${this.followerError}\`` : ""}`,
          ),
        );
      }, this.settings.indexWaitMs);
      this.waiters.add(waiter);
    });
  }

  /** The damage as SQLite said it, for the store to map (`sqliteFailure`). */
  damageError(): Error {
    return Object.assign(new Error(this.damage!.message), { code: this.damage!.code });
  }

  async append(chain: string, key: string | null, items: readonly SealItem[]): Promise<WriteReply> {
    const request: AppendRequest = { id: ++this.nextId, chain, key, items };
    // an index that cannot be read cannot answer for what is journaled: refused until it is rebuilt
    if (this.damage) return { id: request.id, ok: false, ...this.damage };
    if (this.inline) {
      const reply = this.inline.appender.commit([request])[0]!;
      this.applyInline(reply);
      return reply;
    }
    return this.send(request);
  }

  /** Inline: the index applies the group at once, on this thread. */
  private applyInline(reply: WriteReply): void {
    const position = reply.commit?.position;
    if (position === undefined || position <= this.journaled) return;
    this.journaled = position;
    this.appliedTo(this.inline!.applier.catchUp(position).position);
    this.inline!.appender.applied(this.applied);
  }

  /** Whether an append would fail now (nothing is written). */
  async probe(): Promise<WriteReply> {
    if (this.inline) return this.inline.appender.probe(0);
    return this.send({ id: ++this.nextId, probe: true } satisfies ProbeRequest);
  }

  /** Journals a checkpoint (see `EntryStore.prune`), so that an index rebuilt from the journal has it. */
  async checkpoint(cp: Checkpoint): Promise<void> {
    if (this.inline) {
      const position = this.inline.appender.checkpoint(cp);
      this.applyInline({
        id: 0,
        ok: true,
        placements: [],
        commit: { entries: 0, seconds: 0, position },
      });
      return;
    }
    const reply = await this.send({ id: ++this.nextId, checkpoint: cp });
    if (!reply.ok)
      throw new AuditUnavailableError(`journaling a checkpoint failed: ${reply.message}`);
    await this.indexed();
  }

  /**
   * Removes the segments whose every entry is pruned (behind its chain's checkpoint), applied by
   * the index, and not being written; and the index's rows of them. Returns how many.
   */
  removePrunedSegments(): number {
    const current = segmentOf(this.journaled);
    const applied = segmentOf(this.applied);
    const rows = this.db
      .prepare(
        `SELECT s.segment AS segment, MAX(CASE WHEN c.seq IS NULL OR s.max_seq > c.seq THEN 1 ELSE 0 END) AS live
         FROM journal_segments s LEFT JOIN checkpoints c ON c.chain = s.chain
         GROUP BY s.segment ORDER BY s.segment`,
      )
      .all() as { segment: number; live: number }[];
    const removable: number[] = [];
    for (const r of rows) {
      // segments go oldest first: a live one keeps those after it (the journal has no holes)
      if (r.live === 1 || r.segment >= current || r.segment >= applied) break;
      removable.push(r.segment);
    }
    for (const segment of removable) {
      rmSync(join(this.dir, segmentName(segment)), { force: true });
      this.db.transaction(() => {
        this.db.prepare("DELETE FROM journal_segments WHERE segment = ?").run(segment);
        this.db.prepare("DELETE FROM inputs WHERE segment = ?").run(segment);
      })();
    }
    return removable.length;
  }

  /** The bytes the journal's segments take. */
  bytes(): number {
    let total = 0;
    for (const s of listSegments(this.dir)) {
      try {
        total += statSync(join(this.dir, segmentName(s))).size;
      } catch {
        // removed by a prune in between
      }
    }
    return total;
  }

  // --- threads ---

  private async send(
    message:
      | AppendRequest
      | ProbeRequest
      | Extract<JournalWriterMessage, { checkpoint: Checkpoint }>,
  ): Promise<WriteReply> {
    const writer = await this.startWriter();
    if (!writer.ok)
      return { id: message.id, ok: false, message: writer.message, code: writer.code };
    return new Promise((resolve) => {
      this.replies.set(message.id, resolve);
      writer.worker.postMessage(message);
    });
  }

  private onReply(reply: WriteReply): void {
    const position = reply.commit?.position;
    if (position !== undefined) this.acknowledged(position, reply.commit!.entries);
    const settle = this.replies.get(reply.id);
    if (!settle) return;
    this.replies.delete(reply.id);
    settle(reply);
  }

  /** The writer thread, started when first needed, and again after it stopped. */
  private async startWriter(): Promise<
    { ok: true; worker: Worker } | { ok: false; message: string; code: string | undefined }
  > {
    if (this.closing) return { ok: false, message: "the audit store is closed", code: undefined };
    this.writerReady ??= this.spawnWriter();
    try {
      await this.writerReady;
    } catch (error) {
      this.writerReady = undefined;
      const { message, code } = failure(error);
      return { ok: false, message: `the audit journal writer did not start: ${message}`, code };
    }
    const worker = this.writer;
    if (!worker) return { ok: false, message: "the audit journal writer stopped", code: undefined };
    return { ok: true, worker };
  }

  private async spawnWriter(): Promise<void> {
    this.startFollower();
    // after a writer that stopped: what it wrote whole is journaled (acknowledged or not), a group
    // it was writing is cut; the index applies the journal to its end before the heads are read
    let end = this.journaled;
    if (this.writerExit) {
      const files = JournalFiles.open(this.dir, this.settings.segmentBytes, this.applied);
      end = files.end;
      files.close();
      if (end > this.journaled) this.acknowledged(end, 0);
      await this.indexed();
    }
    const init: JournalWriterInit = {
      path: this.path,
      dir: this.dir,
      segmentBytes: this.settings.segmentBytes,
      end,
      maxBatch: this.threads!.maxBatch,
      kinds: this.kinds,
      heads: this.heads(),
    };
    const worker = new Worker(this.threads!.url("journal-writer"), {
      workerData: init,
      execArgv: [],
    });
    this.writer = worker;
    this.writerExit = new Promise((resolve) => worker.once("exit", () => resolve()));
    const fail = (error: Error) => {
      if (this.writer === worker) {
        this.writer = undefined;
        this.writerReady = undefined;
      }
      const message = `the audit journal writer stopped: ${error.message}`;
      for (const [id, settle] of this.replies) settle({ id, ok: false, message, code: undefined });
      this.replies.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => {
      if (this.closing && code === 0) return;
      fail(new Error(`exit code ${code}`));
    });
    await new Promise<void>((resolve, reject) => {
      worker.once("error", reject);
      worker.on("message", (m: WriteReply | "ready") => {
        if (m !== "ready") return this.onReply(m);
        worker.off("error", reject);
        resolve();
      });
    });
  }

  private startFollower(): void {
    if (this.follower || this.closing) return;
    const init: FollowerInit = {
      path: this.path,
      dir: this.dir,
      kinds: this.kinds,
      maxEntries: this.settings.followerBatch,
    };
    const worker = new Worker(this.threads!.url("journal-follower"), {
      workerData: init,
      execArgv: [],
    });
    this.follower = worker;
    this.followerExit = new Promise((resolve) => worker.once("exit", () => resolve()));
    worker.on("message", (m: FollowerReport) => {
      if (m === "ready") {
        if (this.journaled > this.applied)
          worker.postMessage({ journaled: this.journaled, now: true } satisfies FollowerMessage);
        return;
      }
      if (m === "closed") return;
      if ("failed" in m) {
        this.followerError = m.failed;
        if (isDamage(m.code) && !this.damage) {
          this.damage = { message: m.failed, code: m.code! };
          for (const w of this.waiters) w.reject(this.damageError());
          this.waiters.clear();
        }
        return;
      }
      this.followerError = undefined;
      this.appliedTo(m.applied);
      this.writer?.postMessage({ applied: m.applied } satisfies JournalWriterMessage);
    });
    worker.on("error", (error) => {
      this.followerError = error.message;
    });
    worker.on("exit", () => {
      if (this.follower === worker) this.follower = undefined;
      if (this.closing) return;
      // a follower that died starts again from what the index recorded it applied
      this.restartTimer = setTimeout(() => this.startFollower(), 1_000);
      this.restartTimer.unref();
    });
  }

  /** Writes what was sent, lets the index apply all of it, and stops the threads. */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.restartTimer);
    await this.writerReady?.catch(() => {});
    if (this.writer) {
      this.writer.postMessage("close" satisfies JournalWriterMessage);
      await this.writerExit;
      this.writer = undefined;
    }
    if (this.follower) {
      this.follower.postMessage("close" satisfies FollowerMessage);
      await this.followerExit;
      this.follower = undefined;
    }
    for (const w of this.waiters) w.resolve();
    this.waiters.clear();
    this.inline?.files.close();
    this.inline = undefined;
  }
}

/**
 * Copies a log written before the journal into it, chain by chain in chain order: each chain's
 * checkpoint, its entries and their input snapshots, as they are (bodies and hashes unchanged, so
 * the chain verifies as it did). Returns how many entries.
 */
function copyIntoJournal(
  reads: SqliteReads,
  files: JournalFiles,
  kinds: readonly EntryKind[],
): number {
  const byName = new Map(kinds.map((k) => [k.name, k]));
  const time = () => JSON.stringify({ time: new Date().toISOString() });
  let copied = 0;
  let inSegment = new Set<string>();
  let segment = files.segment;
  for (const chain of reads.chains()) {
    const cp = reads.checkpoint(chain);
    if (cp) {
      files.rollIfFull();
      files.append([
        encodeRecord(RecordType.checkpoint, JSON.stringify(cp)),
        encodeRecord(RecordType.commit, time()),
      ]);
    }
    let after = cp?.seq ?? 0;
    for (;;) {
      const rows = reads.chainRows(chain, after, 1_000);
      if (rows.length === 0) break;
      files.rollIfFull();
      if (files.segment !== segment) {
        inSegment = new Set();
        segment = files.segment;
      }
      const inputs = reads.inputs(rows.flatMap((r) => (r.inputHash === null ? [] : [r.inputHash])));
      const records: Buffer[] = [];
      for (const row of rows) {
        const kind = byName.get(row.kind);
        if (!kind)
          throw new Error(
            `the log holds an entry of kind \`${row.kind}\` this store does not know`,
          );
        if (row.inputHash !== null && !inSegment.has(row.inputHash)) {
          const body = inputs.get(row.inputHash);
          if (body !== undefined) {
            inSegment.add(row.inputHash);
            records.push(encodeRecord(RecordType.input, row.inputHash + body));
          }
        }
        const meta = {
          kind: row.kind,
          id: row.id,
          chain: row.chain,
          seq: row.seq,
          time: row.time,
          columns: kind.columns.map((c) => (row[c.field] ?? null) as string | null),
          inputHash: row.inputHash,
          hash: row.hash,
        };
        records.push(encodeRecord(RecordType.entry, `${JSON.stringify(meta)}\n${row.body}`));
      }
      records.push(encodeRecord(RecordType.commit, time()));
      files.append(records);
      copied += rows.length;
      after = rows[rows.length - 1]!.seq;
    }
  }
  return copied;
}
