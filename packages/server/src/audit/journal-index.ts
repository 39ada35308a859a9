// The SQLite index of the journal: applying journal records to the tables every read uses. Entries
// go to their kind's table with their searchable columns and body, input snapshots are recorded by
// where they are in the journal (their text stays there), notifications, delivery ids, chain heads
// and checkpoints as they always were. Each transaction applies whole group commits and records how
// far the journal is applied, in the same transaction, so applying again after a crash starts where
// the last committed transaction ended and nothing is applied twice or skipped.
//
// It runs on the follower thread (`journal-follower.ts`) behind the writer, at open to catch up
// with what the index had not applied (a crash, an index deleted and rebuilt), and inline for tools.
import type Database from "better-sqlite3";
import type { Checkpoint } from "./backend.js";
import {
  damaged,
  HEADER_BYTES,
  type JournalRecord,
  listSegments,
  offsetOf,
  position,
  RecordType,
  readSegment,
  segmentOf,
} from "./journal.js";
import type { EntryMeta } from "./journal-append.js";
import { DECISION_KIND, type EntryKind, insertColumns } from "./kinds.js";
import { fileNameOf, INSERT_ENTRY_NAME } from "./name-search.js";
import { outboxRow, rowValues } from "./seal.js";
import { INSERT_DELIVERY, INSERT_OUTBOX, RECORD_HEAD } from "./sqlite-append.js";

/** What one `catchUp` applied. */
export interface Applied {
  /** the journal position applied up to (the end of the last commit marker applied) */
  position: number;
  entries: number;
}

/** The index's own record of how far it has applied the journal. */
export const JOURNAL_STATE_TABLE = "journal_state";

export class IndexApplier {
  private readonly insertEntry = new Map<string, Database.Statement>();
  private readonly insertInput: Database.Statement;
  private readonly insertName: Database.Statement;
  private readonly insertOutbox: Database.Statement;
  private readonly insertDelivery: Database.Statement;
  private readonly recordHead: Database.Statement;
  private readonly recordSegment: Database.Statement;
  private readonly recordCheckpoint: Database.Statement;
  private readonly saveState: Database.Statement;
  private readonly readState: Database.Statement;
  private readonly removeBefore: Database.Statement[];
  private readonly removeUnreferencedInputs: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly dir: string,
    kinds: readonly EntryKind[],
    /** most entries in one transaction: it holds SQLite's write lock for as long as it runs */
    private readonly maxEntries = 2_000,
  ) {
    for (const kind of kinds) {
      const columns = insertColumns(kind);
      // an entry already there is one a migrated log copied into the journal: the index had it
      this.insertEntry.set(
        kind.name,
        db.prepare(
          `INSERT OR IGNORE INTO ${kind.table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
        ),
      );
    }
    // the newest copy's place; a snapshot whose text the index holds (written before the journal)
    // keeps it
    this.insertInput = db.prepare(
      `INSERT INTO inputs (hash, body, segment, at, bytes) VALUES (?, '', ?, ?, ?)
       ON CONFLICT (hash) DO UPDATE SET segment = excluded.segment, at = excluded.at, bytes = excluded.bytes
       WHERE inputs.segment IS NOT NULL`,
    );
    this.insertName = db.prepare(INSERT_ENTRY_NAME);
    this.insertOutbox = db.prepare(INSERT_OUTBOX);
    this.insertDelivery = db.prepare(INSERT_DELIVERY);
    this.recordHead = db.prepare(RECORD_HEAD);
    this.recordSegment = db.prepare(
      `INSERT INTO journal_segments (segment, chain, max_seq) VALUES (?, ?, ?)
       ON CONFLICT (segment, chain) DO UPDATE SET max_seq = MAX(max_seq, excluded.max_seq)`,
    );
    this.recordCheckpoint = db.prepare(
      `INSERT INTO checkpoints (chain, seq, hash, mac, pruned_at) VALUES (@chain, @seq, @hash, @mac, @prunedAt)
       ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac, pruned_at = excluded.pruned_at
       WHERE excluded.seq >= checkpoints.seq`,
    );
    this.saveState = db.prepare(
      `INSERT INTO ${JOURNAL_STATE_TABLE} (id, position, entries, updated_at) VALUES (1, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET position = excluded.position, entries = ${JOURNAL_STATE_TABLE}.entries + excluded.entries, updated_at = excluded.updated_at`,
    );
    this.readState = db.prepare(`SELECT position FROM ${JOURNAL_STATE_TABLE} WHERE id = 1`);
    this.removeBefore = kinds.map((k) =>
      db.prepare(`DELETE FROM ${k.table} WHERE chain = ? AND seq <= ?`),
    );
    const withInputs = kinds.filter((k) => k.input);
    this.removeUnreferencedInputs = db.prepare(
      `DELETE FROM inputs WHERE hash NOT IN (${withInputs.map((k) => `SELECT input_hash FROM ${k.table}`).join(" UNION ALL ")})`,
    );
  }

  /** How far the index has applied the journal; the first segment's start when it has applied none. */
  appliedTo(): number {
    const row = this.readState.get() as { position: number } | undefined;
    if (row) return row.position;
    const first = listSegments(this.dir)[0] ?? 1;
    return position(first, HEADER_BYTES);
  }

  /**
   * Applies the journal from where the index stopped up to `to` (the journal's end when absent),
   * whole group commits only, in transactions of at most `maxEntries` entries.
   */
  catchUp(to = Number.POSITIVE_INFINITY): Applied {
    let at = this.appliedTo();
    let entries = 0;
    const segments = listSegments(this.dir).filter((s) => s >= segmentOf(at));
    for (const segment of segments) {
      if (position(segment, HEADER_BYTES) > to) break;
      const from = segment === segmentOf(at) ? offsetOf(at) : HEADER_BYTES;
      const until = segment === segmentOf(to) ? offsetOf(to) : undefined;
      const { records } = readSegment(this.dir, segment, from, until);
      // whole groups, a transaction at a time
      let group: JournalRecord[] = [];
      let batch: JournalRecord[][] = [];
      let batchEntries = 0;
      const flush = () => {
        if (batch.length === 0) return;
        const last = batch[batch.length - 1]!;
        const marker = last[last.length - 1]!;
        const end = position(segment, marker.offset + marker.bytes);
        this.db.transaction(() => {
          for (const g of batch) this.applyGroup(g);
          this.saveState.run(end, batchEntries, new Date().toISOString());
        })();
        entries += batchEntries;
        at = end;
        batch = [];
        batchEntries = 0;
      };
      for (const record of records) {
        group.push(record);
        if (record.type !== RecordType.commit) continue;
        batch.push(group);
        batchEntries += group.filter((r) => r.type === RecordType.entry).length;
        group = [];
        if (batchEntries >= this.maxEntries) flush();
      }
      flush();
      // a segment closed and every record in it applied: what follows is in the next one
      if (until === undefined && segments[segments.length - 1] !== segment)
        at = Math.max(at, position(segment + 1, HEADER_BYTES));
    }
    if (at !== this.appliedTo()) this.saveState.run(at, 0, new Date().toISOString());
    return { position: at, entries };
  }

  private applyGroup(records: readonly JournalRecord[]): void {
    try {
      this.applyRecords(records);
    } catch (error) {
      // SQLite's own failures (busy, full, corrupt) are the index's, and say so themselves
      if (typeof (error as { code?: unknown }).code === "string") throw error;
      // anything else is a record whose checksum holds but whose content does not
      const first = records[0]!;
      throw damaged(
        this.dir,
        first.segment,
        `the group at byte ${first.offset} cannot be applied: ${(error as Error).message}`,
      );
    }
  }

  private applyRecords(records: readonly JournalRecord[]): void {
    const heads = new Map<string, EntryMeta>();
    const now = new Date().toISOString();
    for (const record of records) {
      switch (record.type) {
        case RecordType.input:
          this.insertInput.run(
            record.payload.toString("latin1", 0, 64),
            record.segment,
            record.offset,
            record.bytes,
          );
          break;
        case RecordType.entry: {
          const newline = record.payload.indexOf(10);
          const meta = JSON.parse(record.payload.toString("utf8", 0, newline)) as EntryMeta;
          const body = record.payload.toString("utf8", newline + 1);
          const insert = this.insertEntry.get(meta.kind);
          if (!insert)
            throw new Error(
              `the journal holds an entry of kind \`${meta.kind}\`, which this store does not`,
            );
          // a migrated log's entries are in the index already, with their names
          if (
            insert.run(...rowValues({ ...meta, body })).changes > 0 &&
            meta.kind === DECISION_KIND.name
          ) {
            const name = fileNameOf(body);
            if (name !== null) this.insertName.run(meta.id, name);
          }
          for (const n of meta.notifications ?? [])
            this.insertOutbox.run(outboxRow(meta, meta.chain, n));
          if (meta.deliveryId !== undefined)
            this.insertDelivery.run({ id: meta.deliveryId, time: meta.time, entryId: meta.id });
          const seen = heads.get(meta.chain);
          if (!seen || meta.seq > seen.seq) heads.set(meta.chain, meta);
          break;
        }
        case RecordType.checkpoint: {
          const cp = JSON.parse(record.payload.toString("utf8")) as Checkpoint;
          this.recordCheckpoint.run(cp);
          // an index rebuilt from the journal: what the prune removed is removed again
          let removed = 0;
          for (const remove of this.removeBefore) removed += remove.run(cp.chain, cp.seq).changes;
          if (removed > 0) this.removeUnreferencedInputs.run();
          break;
        }
        case RecordType.commit:
          break;
        default:
          throw new Error(
            `the journal holds a record of type ${record.type} at byte ${record.offset} of segment ${record.segment}, which this Clearance does not know`,
          );
      }
    }
    for (const h of heads.values()) {
      this.recordHead.run(h.chain, h.seq, h.hash, now);
      // a group is never split across segments: its last entry of a chain is the segment's newest
      this.recordSegment.run(records[0]!.segment, h.chain, h.seq);
    }
  }
}
