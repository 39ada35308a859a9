import type Database from "better-sqlite3";
import type { DeliveryRow, EntryRow, InputRow, OutboxRow } from "./backend.js";
import { type ChainHead, lastOfEachChain } from "./seal.js";

export type BatchWriter = (
  rows: readonly EntryRow[],
  inputs: readonly InputRow[],
  outbox: readonly OutboxRow[],
  deliveries: readonly DeliveryRow[],
) => void;

/** One group commit as one transaction; shared by the inline writer and the writer thread. */
export function prepareBatchWriter(db: Database.Database): BatchWriter {
  const insertEntry = db.prepare(
    `INSERT INTO entries (id, chain, seq, time, source, requester, sha256, decision, rule, input_hash, body, hash)
     VALUES (@id, @chain, @seq, @time, @source, @requester, @sha256, @decision, @rule, @inputHash, @body, @hash)`,
  );
  const insertInput = db.prepare("INSERT OR IGNORE INTO inputs (hash, body) VALUES (@hash, @body)");
  const insertOutbox = db.prepare(
    `INSERT INTO outbox (id, chain, entry_id, target, payload, attempts, next_attempt_at, last_error, delivered_at, created_at)
     VALUES (@id, @chain, @entryId, @target, @payload, @attempts, @nextAttemptAt, @lastError, @deliveredAt, @createdAt)`,
  );
  const insertDelivery = db.prepare(
    "INSERT OR IGNORE INTO deliveries (id, received_at) VALUES (@id, @time)",
  );
  // each chain's newest entry, recorded with it: at start, a log whose entries stop short of their
  // recorded head (emptied, truncated, restored without its newest pages) is refused
  const recordHead = db.prepare(
    `INSERT INTO chain_heads (chain, seq, hash, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, updated_at = excluded.updated_at`,
  );
  return db.transaction((rows, inputs, outbox, deliveries) => {
    for (const i of inputs) insertInput.run(i);
    for (const r of rows) insertEntry.run(r);
    for (const o of outbox) insertOutbox.run(o);
    for (const d of deliveries) insertDelivery.run(d);
    const now = new Date().toISOString();
    for (const head of lastOfEachChain(rows)) recordHead.run(head.chain, head.seq, head.hash, now);
  }) as BatchWriter;
}

/** The last entry of `chain`, or its checkpoint when everything was pruned. */
export function readHead(db: Database.Database, chain: string): ChainHead | undefined {
  const row = db
    .prepare("SELECT seq, hash FROM entries WHERE chain = ? ORDER BY seq DESC LIMIT 1")
    .get(chain) as ChainHead | undefined;
  if (row) return row;
  return db.prepare("SELECT seq, hash FROM checkpoints WHERE chain = ?").get(chain) as
    | ChainHead
    | undefined;
}
