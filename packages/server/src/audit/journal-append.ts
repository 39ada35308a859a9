// The journal's write path, for both ways the store writes: on the journal writer thread (the
// server, `journal-writer.ts`) and inline (tools and tests). Entries are sealed here, after the
// chain's head as this writer keeps it, encoded as journal records, appended with one `fdatasync`
// for the whole group, and only then answered. The index is not written here: it follows
// (`journal-index.ts`).
//
// What the index would have refused, this refuses first: an entry id already taken fails its
// request alone (as SQLite's primary key would), looked up in the index and among the ids
// journaled that the index has not applied yet.
import { performance } from "node:perf_hooks";
import type Database from "better-sqlite3";
import type { Checkpoint } from "./backend.js";
import { GENESIS_HASH } from "./entry.js";
import { encodeRecord, type JournalFiles, RecordType } from "./journal.js";
import type { EntryKind } from "./kinds.js";
import {
  type ChainHead,
  type Notification,
  type Placement,
  type SealedRow,
  sealBatch,
} from "./seal.js";
import { type AppendRequest, failure, type WriteReply } from "./sqlite-append.js";

/**
 * An entry record's first line: the row as the index stores it but its body, which follows the
 * line, and what is written with the entry (its delivery id, its notifications).
 */
export interface EntryMeta extends Omit<SealedRow, "body"> {
  deliveryId?: string;
  notifications?: Notification[];
}

/** `SQLITE_CONSTRAINT_PRIMARYKEY`: the log maps it to a failure of this write alone. */
const TAKEN = "SQLITE_CONSTRAINT_PRIMARYKEY";

export class JournalAppender {
  private readonly heads = new Map<string, ChainHead>();
  /** input snapshots already in the segment being written: each segment holds its own */
  private inputsInSegment = new Set<string>();
  private inputsSegment: number;
  /** ids journaled and where, until the index has applied them */
  private readonly pending = new Map<string, number>();
  private readonly idLookups = new Map<string, Database.Statement>();
  /**
   * Each kind's largest id in the log (index and journal): ids are UUIDv7s of their time, so a new
   * entry's is almost always larger, and then cannot be taken: no lookup.
   */
  private readonly maxIds = new Map<string, string>();

  constructor(
    private readonly files: JournalFiles,
    /** the chains' heads as the index had them when it had applied the whole journal */
    heads: Iterable<{ chain: string; seq: number; hash: string }>,
    /** a connection to the index, for ids already taken */
    index: Database.Database,
    kinds: readonly EntryKind[],
  ) {
    for (const h of heads) this.heads.set(h.chain, { seq: h.seq, hash: h.hash });
    this.inputsSegment = files.segment;
    for (const kind of kinds) {
      this.idLookups.set(kind.name, index.prepare(`SELECT 1 FROM ${kind.table} WHERE id = ?`));
      const max = index.prepare(`SELECT MAX(id) AS id FROM ${kind.table}`).get() as {
        id: string | null;
      };
      this.maxIds.set(kind.name, max.id ?? "");
    }
  }

  /** The index has applied the journal up to `position`: ids journaled before are its to know. */
  applied(position: number): void {
    for (const [id, at] of this.pending) {
      // in journal order: the first one not applied ends the walk
      if (at >= position) break;
      this.pending.delete(id);
    }
  }

  private taken(kind: string, id: string): boolean {
    if (id > (this.maxIds.get(kind) ?? "")) return false;
    if (this.pending.has(id)) return true;
    const lookup = this.idLookups.get(kind);
    if (!lookup) throw new Error(`entry kind \`${kind}\` is not one of this store's`);
    return lookup.get(id) !== undefined;
  }

  /**
   * Seals and journals `requests` as one group commit; a reply to each, in order. A request with
   * an id already taken fails alone; a failed append fails them all and leaves the journal as it
   * was.
   */
  commit(requests: readonly AppendRequest[]): WriteReply[] {
    const started = performance.now();
    try {
      this.files.rollIfFull();
    } catch (error) {
      return requests.map((r) => ({ id: r.id, ok: false, ...failure(error) }));
    }
    if (this.files.segment !== this.inputsSegment) {
      this.inputsInSegment = new Set();
      this.inputsSegment = this.files.segment;
    }
    const tentative = new Map<string, ChainHead>();
    const newInputs = new Set<string>();
    const newIds = new Set<string>();
    const records: Buffer[] = [];
    const outcomes: (
      | { placements: Placement[] }
      | { message: string; code: string | undefined }
    )[] = [];
    let entries = 0;
    for (const r of requests) {
      const dup = r.items.find((item) => newIds.has(item.id) || this.taken(item.kind, item.id));
      if (dup) {
        outcomes.push({
          message: `UNIQUE constraint failed: the entry id \`${dup.id}\` is already in the log`,
          code: TAKEN,
        });
        continue;
      }
      const head = tentative.get(r.chain) ??
        this.heads.get(r.chain) ?? { seq: 0, hash: GENESIS_HASH };
      const sealed = sealBatch(r.items, r.chain, head, r.key);
      for (const input of sealed.inputs) {
        if (this.inputsInSegment.has(input.hash) || newInputs.has(input.hash)) continue;
        newInputs.add(input.hash);
        records.push(encodeRecord(RecordType.input, input.hash + input.body));
      }
      sealed.rows.forEach((row, i) => {
        const item = r.items[i]!;
        newIds.add(row.id);
        const meta: EntryMeta = {
          kind: row.kind,
          id: row.id,
          chain: row.chain,
          seq: row.seq,
          time: row.time,
          columns: row.columns,
          inputHash: row.inputHash,
          hash: row.hash,
        };
        if (item.deliveryId !== null) meta.deliveryId = item.deliveryId;
        if (item.notifications.length > 0)
          meta.notifications = item.notifications.map((n) => ({
            target: n.target,
            payload: n.payload,
          }));
        records.push(encodeRecord(RecordType.entry, `${JSON.stringify(meta)}\n${row.body}`));
      });
      tentative.set(r.chain, sealed.head);
      outcomes.push({ placements: sealed.placements });
      entries += r.items.length;
    }
    if (records.length > 0) {
      records.push(
        encodeRecord(RecordType.commit, JSON.stringify({ time: new Date().toISOString() })),
      );
      try {
        const at = this.files.append(records);
        for (const id of newIds) this.pending.set(id, at);
        for (const r of requests)
          for (const item of r.items)
            if (newIds.has(item.id) && item.id > (this.maxIds.get(item.kind) ?? ""))
              this.maxIds.set(item.kind, item.id);
      } catch (error) {
        const failed = failure(error);
        for (let i = 0; i < outcomes.length; i++)
          if ("placements" in outcomes[i]!) outcomes[i] = failed;
        entries = 0;
        tentative.clear();
        newInputs.clear();
      }
    }
    for (const [chain, head] of tentative) this.heads.set(chain, head);
    for (const hash of newInputs) this.inputsInSegment.add(hash);
    const seconds = (performance.now() - started) / 1000;
    const position = this.files.end;
    return requests.map((r, i) => {
      const outcome = outcomes[i]!;
      const reply: WriteReply =
        "placements" in outcome
          ? { id: r.id, ok: true, placements: outcome.placements }
          : { id: r.id, ok: false, message: outcome.message, code: outcome.code };
      if (i === 0) reply.commit = { entries, seconds, position };
      return reply;
    });
  }

  /** Journals a pruned chain's new start, so that an index rebuilt from the journal has it. */
  checkpoint(cp: Checkpoint): number {
    this.files.rollIfFull();
    this.files.append([
      encodeRecord(RecordType.checkpoint, JSON.stringify(cp)),
      encodeRecord(RecordType.commit, JSON.stringify({ time: new Date().toISOString() })),
    ]);
    return this.files.end;
  }

  /**
   * Whether an append would fail now: the segment replaced or removed, a failed append whose bytes
   * could not be cut, a disk that takes no write. Nothing is left in the journal.
   */
  probe(id: number): WriteReply {
    try {
      this.files.checkFile();
      this.files.probeWrite();
      return { id, ok: true, placements: [] };
    } catch (error) {
      return { id, ok: false, ...failure(error) };
    }
  }
}
