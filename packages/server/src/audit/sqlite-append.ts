// The SQLite write path. One for both ways the store writes: on the writer thread (the server,
// `sqlite-writer.ts`) and inline on the caller's thread (tools and tests). Entries are sealed inside
// the transaction that writes them: the transaction is IMMEDIATE, so the write lock is held before a
// chain's head is read, and no other writer can append in between. Heads are then kept here, from
// one commit to the next, and read again after a failure: the chain as stored is the one certain
// state.
import { randomBytes, randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import type Database from "better-sqlite3";
import type { OutboxRow } from "./backend.js";
import { GENESIS_HASH } from "./entry.js";
import { DECISION_KIND, type EntryKind, insertColumns } from "./kinds.js";
import { fileNameOf, INSERT_ENTRY_NAME } from "./name-search.js";
import {
  type ChainHead,
  type DeliveryRow,
  type InputRow,
  type Placement,
  rowValues,
  type SealedRow,
  type SealItem,
  sealBatch,
} from "./seal.js";
import { SqliteReads } from "./sqlite-reads.js";

/** One `entries.append` call, as the writer receives it. */
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
) & {
  /** the transaction this reply shares with others, told once; `position`: where the journal ends after it */
  commit?: { entries: number; seconds: number; position?: number };
};

/** An error as it crosses between threads: its message and its code (SQLite's, the system's). */
export function failure(error: unknown): { message: string; code: string | undefined } {
  const e = error as Error & { code?: unknown };
  return { message: e.message, code: typeof e.code === "string" ? e.code : undefined };
}

/** A notification queued with its entry (`OutboxRow`, named parameters). */
export const INSERT_OUTBOX = `INSERT OR IGNORE INTO outbox (id, chain, entry_id, target, payload, attempts, next_attempt_at, last_error, delivered_at, created_at)
VALUES (@id, @chain, @entryId, @target, @payload, @attempts, @nextAttemptAt, @lastError, @deliveredAt, @createdAt)`;

/** A delivery id with the entry written with it (`DeliveryRow`, named parameters). */
export const INSERT_DELIVERY =
  "INSERT OR IGNORE INTO deliveries (id, received_at, entry_id) VALUES (@id, @time, @entryId)";

/**
 * Each chain's newest entry (chain, seq, hash, time), recorded with it: at start, a log whose
 * entries stop short of their recorded head (emptied, truncated, restored without its newest
 * pages) is refused. Never moved back.
 */
export const RECORD_HEAD = `INSERT INTO chain_heads (chain, seq, hash, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, updated_at = excluded.updated_at
WHERE excluded.seq > chain_heads.seq`;

/** What a probe writes and takes out again in the same transaction. */
const PROBE_CHAIN = "(probe)";

/** Seals and writes appends over one SQLite connection. */
export class SqliteAppender {
  /** heads of the chains written here; dropped after a failed transaction and read again */
  private readonly heads = new Map<string, ChainHead>();
  private readonly reads: SqliteReads;
  private readonly insertEntry = new Map<string, Database.Statement>();
  private readonly insertInput: Database.Statement;
  private readonly insertName: Database.Statement;
  private readonly insertOutbox: Database.Statement;
  private readonly insertDelivery: Database.Statement;
  private readonly recordHead: Database.Statement;
  private readonly removeProbe: Database.Statement[];

  constructor(
    private readonly db: Database.Database,
    kinds: readonly EntryKind[],
    /** throws when the files are no longer the log's (`sqlite-files.ts`); checked before each commit */
    private readonly checkFiles: () => void = () => {},
  ) {
    this.reads = new SqliteReads(db, kinds);
    for (const kind of kinds) {
      const columns = insertColumns(kind);
      this.insertEntry.set(
        kind.name,
        db.prepare(
          `INSERT INTO ${kind.table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
        ),
      );
    }
    this.insertInput = db.prepare(
      "INSERT OR IGNORE INTO inputs (hash, body) VALUES (@hash, @body)",
    );
    this.insertName = db.prepare(INSERT_ENTRY_NAME);
    this.insertOutbox = db.prepare(INSERT_OUTBOX);
    this.insertDelivery = db.prepare(INSERT_DELIVERY);
    this.recordHead = db.prepare(RECORD_HEAD);
    this.removeProbe = [
      db.prepare(`DELETE FROM ${DECISION_KIND.table} WHERE id = ?`),
      db.prepare("DELETE FROM inputs WHERE hash = ?"),
      db.prepare("DELETE FROM chain_heads WHERE chain = ?"),
    ];
  }

  private headOf(chain: string): ChainHead {
    let head = this.heads.get(chain);
    if (!head) {
      head = this.reads.head(chain) ?? { seq: 0, hash: GENESIS_HASH };
      this.heads.set(chain, head);
    }
    return head;
  }

  /** One request's rows, inputs, notifications, delivery ids and head; inside a transaction. */
  private write(
    chain: string,
    rows: readonly SealedRow[],
    inputs: readonly InputRow[],
    outbox: readonly OutboxRow[],
    deliveries: readonly DeliveryRow[],
  ): void {
    for (const i of inputs) this.insertInput.run(i);
    for (const r of rows) {
      const insert = this.insertEntry.get(r.kind);
      if (!insert) throw new Error(`entry kind \`${r.kind}\` is not one of this store's`);
      insert.run(...rowValues(r));
      if (r.kind === DECISION_KIND.name) {
        const name = fileNameOf(r.body);
        if (name !== null) this.insertName.run(r.id, name);
      }
    }
    for (const o of outbox) this.insertOutbox.run(o);
    for (const d of deliveries) this.insertDelivery.run(d);
    const last = rows[rows.length - 1];
    if (last) this.recordHead.run(chain, last.seq, last.hash, new Date().toISOString());
  }

  /**
   * Seals and writes `requests` in one transaction; a reply to each, in order. One request's bad
   * entry does not fail the requests it happened to share the transaction with: they are written
   * again one by one.
   */
  commit(requests: readonly AppendRequest[]): WriteReply[] {
    const started = performance.now();
    const tentative = new Map<string, ChainHead>();
    const placements: Placement[][] = [];
    let entries = 0;
    try {
      this.checkFiles();
      this.db
        .transaction(() => {
          for (const r of requests) {
            const head = tentative.get(r.chain) ?? this.headOf(r.chain);
            const sealed = sealBatch(r.items, r.chain, head, r.key);
            this.write(r.chain, sealed.rows, sealed.inputs, sealed.outbox, sealed.deliveries);
            tentative.set(r.chain, sealed.head);
            placements.push(sealed.placements);
            entries += r.items.length;
          }
        })
        // IMMEDIATE takes the write lock before the head is read: no other writer (another
        // process on this file) can append in between, and waiting for the lock honours
        // busy_timeout
        .immediate();
    } catch (error) {
      // the chain as stored is the one certain state: read it again before the next transaction
      for (const r of requests) this.heads.delete(r.chain);
      if (requests.length > 1) return requests.flatMap((r) => this.commit([r]));
      const seconds = (performance.now() - started) / 1000;
      return requests.map((r) => ({
        id: r.id,
        ok: false,
        ...failure(error),
        commit: { entries: 0, seconds },
      }));
    }
    for (const [chain, head] of tentative) this.heads.set(chain, head);
    const seconds = (performance.now() - started) / 1000;
    return requests.map((r, i) => {
      const reply: WriteReply = { id: r.id, ok: true, placements: placements[i]! };
      if (i === 0) reply.commit = { entries, seconds };
      return reply;
    });
  }

  /**
   * A write as a decision's, committed: an entry and an input written and taken out again in one
   * transaction, without waiting for another writer's lock. It touches the pages a decision's write
   * would (random keys land on random index pages) and commits through the WAL (so a full disk
   * fails it as it fails decisions), and leaves nothing behind.
   */
  probe(id: number): WriteReply {
    this.db.pragma("busy_timeout = 0");
    try {
      this.checkFiles();
      const hex = randomBytes(32).toString("hex");
      const entryId = randomUUID();
      this.db
        .transaction(() => {
          this.write(
            PROBE_CHAIN,
            [
              {
                kind: DECISION_KIND.name,
                id: entryId,
                chain: PROBE_CHAIN,
                seq: 1,
                time: new Date().toISOString(),
                columns: ["api", null, hex, "allow", null],
                inputHash: hex,
                body: "{}",
                hash: hex,
              },
            ],
            [{ hash: hex, body: "{}" }],
            [],
            [],
          );
          const [entry, input, head] = this.removeProbe;
          entry!.run(entryId);
          input!.run(hex);
          head!.run(PROBE_CHAIN);
        })
        .immediate();
      return { id, ok: true, placements: [] };
    } catch (error) {
      return { id, ok: false, ...failure(error) };
    } finally {
      this.db.pragma("busy_timeout = 5000");
    }
  }
}
