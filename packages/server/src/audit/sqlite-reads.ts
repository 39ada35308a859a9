// The SQLite audit store's reads, over one connection. The server runs them on reader threads
// (`sqlite-reader.ts`), each with a read-only connection of its own, so that an export, a
// verification or a search never runs a long SQLite call on the event loop; tools run them inline,
// and the writer reads its chains' heads with them.
import type Database from "better-sqlite3";
import type {
  Checkpoint,
  DecisionRow,
  EntryRow,
  ExportChunk,
  HitCount,
  HitsQuery,
  KindQuery,
  PageQuery,
  RecordedHead,
} from "./backend.js";
import { exportChunkOf } from "./entry.js";
import { idFloor } from "./ids.js";
import { JournalReader, journalDir } from "./journal.js";
import { verifyJournal } from "./journal-verify.js";
import { DECISION_KIND, type EntryKind, kindForQuery, selectList } from "./kinds.js";
import {
  candidateChunks,
  ftsPhrase,
  indexablePart,
  NAME_CANDIDATES,
  NAME_PROBE_ROWS,
} from "./name-search.js";
import type { ChainHead } from "./seal.js";
import { type ChainPosition, type VerifyStep, verifyRows } from "./verify.js";

/** Lines of `PRAGMA quick_check` kept in a report: the first ones name the damage. */
const PAGE_PROBLEMS_KEPT = 10;

const DECISIONS = `SELECT ${selectList(DECISION_KIND)} FROM ${DECISION_KIND.table}`;

/** The kinds among `kinds` whose tables `db` has. */
export function heldKinds(db: Database.Database, kinds: readonly EntryKind[]): EntryKind[] {
  const tables = new Set(
    (
      db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as { name: string }[]
    ).map((r) => r.name),
  );
  return kinds.filter((k) => tables.has(k.table));
}

// One pass over the decisions in the range, a range scan of the primary key: a time range is an
// id range (UUIDv7 ids begin with their time; migration 4 dropped the time index for that reason),
// as `page` reads it. Each body is parsed once (one json_extract of the three paths, which answers
// them as a small array) and the rows are grouped at once by what is counted: decisions repeat their
// `matched` lists, so the groups are few, and the lists are expanded (json_each) per group, not
// per decision. Times are stored as RFC 3339 UTC, so strftime('%s') is the second, and `from` is
// on a bucket's first second: integer division gives the bucket.
export const HITS_SQL = `
WITH g AS MATERIALIZED (
  SELECT bucket, rule, decision, counted, COUNT(*) AS n FROM (
    SELECT (CAST(strftime('%s', time) AS INTEGER) - CAST(:fromSeconds AS INTEGER)) / CAST(:bucketSeconds AS INTEGER) AS bucket,
      rule, decision,
      json_extract(body, '$.matched', '$.monitored', '$.shadow.decision') AS counted
    FROM entries WHERE id >= :fromId AND id < :toId AND time >= :from AND time < :to
  ) GROUP BY bucket, rule, decision, counted
)
SELECT bucket, rule, decision AS kind, SUM(n) AS count FROM g GROUP BY bucket, rule, decision
UNION ALL
SELECT bucket, m.value, 'matched', SUM(n) FROM g, json_each(g.counted, '$[0]') AS m GROUP BY bucket, m.value
UNION ALL
SELECT bucket, m.value, 'monitored', SUM(n) FROM g, json_each(g.counted, '$[1]') AS m GROUP BY bucket, m.value
UNION ALL
SELECT bucket, rule, 'disagreements', SUM(n) FROM g
  WHERE json_extract(g.counted, '$[2]') NOT IN (g.decision, 'error')
  GROUP BY bucket, rule`;

/** An input snapshot's row: its text, or (empty text) where the journal holds it. */
interface InputLocation {
  hash: string;
  body: string;
  segment?: number | null;
  at?: number | null;
  bytes?: number | null;
}

/** Every read the log makes of an SQLite store, as plain synchronous calls. */
export class SqliteReads {
  private readonly statements = new Map<string, Database.Statement>();
  /** whether the database has migration 9's index of file names (a log opened read-only may not) */
  private readonly namesIndexed: boolean;
  /** whether input snapshots may be in the journal (migration 12): their rows say where */
  private readonly journaled: boolean;
  private journal: JournalReader | undefined;

  /**
   * `kinds` is the store's registry; `held` the kinds whose tables the database has, which chain
   * reads read: all of them, but for a log opened read-only on an older schema (a log of schema
   * version 7 has no review tables until a writer migrates it, and no entries of them either).
   */
  constructor(
    private readonly db: Database.Database,
    private readonly kinds: readonly EntryKind[],
    private readonly held: readonly EntryKind[] = kinds,
  ) {
    this.namesIndexed =
      db
        .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'entry_names_fts'")
        .get() !== undefined;
    this.journaled =
      db.prepare("SELECT 1 FROM pragma_table_info('inputs') WHERE name = 'segment'").get() !==
      undefined;
  }

  /**
   * An input snapshot's text: in its row (written before the journal, or by a store without one),
   * or in the journal where the row says it is.
   */
  private inputText(row: InputLocation): string {
    if (row.body !== "" || row.segment === null || row.segment === undefined) return row.body;
    this.journal ??= new JournalReader(journalDir(this.db.name));
    return this.journal.input(row.segment, row.at!, row.bytes!);
  }

  private get inputColumns(): string {
    return this.journaled ? "hash, body, segment, at, bytes" : "hash, body";
  }

  /** A statement prepared once per connection. */
  private statement(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  get(id: string): DecisionRow | undefined {
    return this.statement(`${DECISIONS} WHERE id = ?`).get(id) as DecisionRow | undefined;
  }

  input(hash: string): string | undefined {
    const row = this.statement(`SELECT ${this.inputColumns} FROM inputs WHERE hash = ?`).get(
      hash,
    ) as InputLocation | undefined;
    try {
      return row && this.inputText(row);
    } finally {
      this.journal?.release();
    }
  }

  inputs(hashes: readonly string[]): Map<string, string> {
    const found = new Map<string, string>();
    if (hashes.length === 0) return found;
    const rows = this.statement(
      `SELECT ${this.inputColumns} FROM inputs WHERE hash IN (SELECT value FROM json_each(?))`,
    ).all(JSON.stringify([...new Set(hashes)])) as InputLocation[];
    try {
      for (const r of rows) found.set(r.hash, this.inputText(r));
    } finally {
      this.journal?.release();
    }
    return found;
  }

  latestFor(sha256: string): DecisionRow | undefined {
    return this.statement(`${DECISIONS} WHERE sha256 = ? ORDER BY id DESC LIMIT 1`).get(sha256) as
      | DecisionRow
      | undefined;
  }

  latestForEach(sha256s: readonly string[]): DecisionRow[] {
    const out: DecisionRow[] = [];
    for (const sha256 of new Set(sha256s)) {
      const row = this.latestFor(sha256);
      if (row) out.push(row);
    }
    return out;
  }

  page(q: PageQuery): DecisionRow[] {
    if (q.fileName !== undefined && this.namesIndexed && indexablePart(q.fileName)) {
      // the newest entries first: a common part fills the page there (`name-search.ts`)
      const probed = this.scan(q, undefined, NAME_PROBE_ROWS);
      if (probed.length >= q.limit) return probed;
      // candidates from the index of trigrams; too many: the part is common, read in id order
      const ids = (
        this.statement(
          "SELECT n.id FROM entry_names_fts f JOIN entry_names n ON n.n = f.rowid WHERE entry_names_fts MATCH ? LIMIT ?",
        ).all(ftsPhrase(q.fileName), NAME_CANDIDATES + 1) as { id: string }[]
      ).map((r) => r.id);
      if (ids.length <= NAME_CANDIDATES) {
        const rows: DecisionRow[] = [];
        for (const chunk of candidateChunks(ids, q)) {
          rows.push(...this.scan({ ...q, limit: q.limit - rows.length }, chunk));
          if (rows.length >= q.limit) break;
        }
        return rows;
      }
    }
    return this.scan(q);
  }

  /**
   * The page's query, over the entries whose ids are in `among` when given; with `probeRows`, the
   * file-name filter only over the first `probeRows` entries that the other conditions leave.
   */
  private scan(q: PageQuery, among?: readonly string[], probeRows?: number): DecisionRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const eq = (column: string, value: string | undefined) => {
      if (value === undefined) return;
      where.push(`${column} = ?`);
      args.push(value);
    };
    eq("sha256", q.sha256);
    eq("decision", q.decision);
    eq("rule", q.rule);
    eq("source", q.source);
    eq("requester", q.requester);
    // the name is in the body only: read from the rows the other conditions leave; instr() takes
    // the text literally (no LIKE wildcards), lower() folds ASCII letters only, as PostgreSQL's
    // lower() under the C collation does
    const name = "instr(lower(json_extract(body, '$.fileName')), lower(?)) > 0";
    if (q.fileName !== undefined && probeRows === undefined) {
      where.push(name);
      args.push(q.fileName);
    }
    // a time range is also an id range (UUIDv7 ids begin with their time), which the primary
    // key answers without a time index
    if (q.from !== undefined) {
      where.push("time >= ?", "id >= ?");
      args.push(q.from, idFloor(Date.parse(q.from)));
    }
    if (q.to !== undefined) {
      where.push("time < ?", "id < ?");
      args.push(q.to, idFloor(Date.parse(q.to) + 1));
    }
    if (q.before !== undefined) {
      where.push("id < ?");
      args.push(q.before);
    }
    if (q.after !== undefined) {
      where.push("id > ?");
      args.push(q.after);
    }
    if (among !== undefined) {
      where.push("id IN (SELECT value FROM json_each(?))");
      args.push(JSON.stringify(among));
    }
    const conditions = where.length ? `WHERE ${where.join(" AND ")}` : "";
    const order = `ORDER BY id ${q.ascending ? "ASC" : "DESC"}`;
    if (probeRows !== undefined && q.fileName !== undefined) {
      const first = `SELECT * FROM ${DECISION_KIND.table} ${conditions} ${order} LIMIT ?`;
      const sql = `SELECT ${selectList(DECISION_KIND)} FROM (${first}) AS ${DECISION_KIND.table} WHERE ${name} ${order} LIMIT ?`;
      return this.statement(sql).all(...args, probeRows, q.fileName, q.limit) as DecisionRow[];
    }
    return this.statement(`${DECISIONS} ${conditions} ${order} LIMIT ?`).all(
      ...args,
      q.limit,
    ) as DecisionRow[];
  }

  hits(q: HitsQuery): HitCount[] {
    return this.statement(HITS_SQL).all({
      from: q.from,
      to: q.to,
      fromId: idFloor(Date.parse(q.from)),
      toId: idFloor(Date.parse(q.to) + 1),
      fromSeconds: Math.floor(Date.parse(q.from) / 1000),
      bucketSeconds: q.bucketSeconds,
    }) as HitCount[];
  }

  /**
   * Entries of the kind named `kind` (never decisions), from every chain, oldest first (by id):
   * after `q.after`, at most `q.limit`, and only those whose column for `q.field` holds `q.value`
   * when a field is given. Throws TypeError for a kind or field this store does not hold.
   */
  kindPage(kindName: string, q: KindQuery): EntryRow[] {
    const { kind, column } = kindForQuery(this.kinds, kindName, q);
    // a log older than the kind: no table, no entries
    if (!this.held.includes(kind)) return [];
    const where: string[] = [];
    const args: unknown[] = [];
    if (column) {
      where.push(`${column.column} = ?`);
      args.push(q.value);
    }
    if (q.after !== undefined) {
      where.push("id > ?");
      args.push(q.after);
    }
    if (q.otherThanChain !== undefined) {
      where.push("chain <> ?");
      args.push(q.otherThanChain);
    }
    const sql = `SELECT ${selectList(kind)} FROM ${kind.table} ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id ASC LIMIT ?`;
    return this.statement(sql).all(...args, q.limit) as EntryRow[];
  }

  /**
   * The chains with entries or a checkpoint. One index seek per chain rather than a scan of every
   * entry: a log holds few chains and many entries.
   */
  chains(): string[] {
    const found = new Set<string>();
    for (const kind of this.held) {
      const next = this.statement(
        `SELECT chain FROM ${kind.table} WHERE chain > ? ORDER BY chain LIMIT 1`,
      );
      for (let row = next.get("") as { chain: string } | undefined; row; ) {
        found.add(row.chain);
        row = next.get(row.chain) as { chain: string } | undefined;
      }
    }
    const checkpointed = this.statement("SELECT chain FROM checkpoints").all() as {
      chain: string;
    }[];
    for (const r of checkpointed) found.add(r.chain);
    return [...found].sort();
  }

  /** The last entry of `chain`, of any kind, or its checkpoint when everything was pruned. */
  head(chain: string): ChainHead | undefined {
    let head: ChainHead | undefined;
    for (const kind of this.held) {
      const row = this.statement(
        `SELECT seq, hash FROM ${kind.table} WHERE chain = ? ORDER BY seq DESC LIMIT 1`,
      ).get(chain) as ChainHead | undefined;
      if (row && (!head || row.seq > head.seq)) head = row;
    }
    if (head) return head;
    return this.statement("SELECT seq, hash FROM checkpoints WHERE chain = ?").get(chain) as
      | ChainHead
      | undefined;
  }

  /** Entries of one chain, of every kind, in seq order, from `afterSeq + 1`, at most `limit`. */
  chainRows(chain: string, afterSeq: number, limit: number): EntryRow[] {
    const of = (kind: EntryKind) =>
      this.statement(
        `SELECT ${selectList(kind)} FROM ${kind.table} WHERE chain = ? AND seq > ? ORDER BY seq LIMIT ?`,
      ).all(chain, afterSeq, limit) as EntryRow[];
    if (this.held.length === 1) return of(this.held[0]!);
    return this.held
      .flatMap(of)
      .sort((a, b) => a.seq - b.seq)
      .slice(0, limit);
  }

  checkpoint(chain: string): Checkpoint | undefined {
    return this.statement(
      "SELECT chain, seq, hash, mac, pruned_at AS prunedAt FROM checkpoints WHERE chain = ?",
    ).get(chain) as Checkpoint | undefined;
  }

  lastBefore(chain: string, before: string): EntryRow | undefined {
    let last: EntryRow | undefined;
    for (const kind of this.held) {
      const row = this.statement(
        `SELECT ${selectList(kind)} FROM ${kind.table} WHERE chain = ? AND time < ? ORDER BY seq DESC LIMIT 1`,
      ).get(chain, before) as EntryRow | undefined;
      if (row && (!last || row.seq > last.seq)) last = row;
    }
    return last;
  }

  recordedHeads(): RecordedHead[] {
    // a log opened read-only may predate the table (migration 6)
    const table = this.statement(
      "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'chain_heads'",
    ).get();
    if (!table) return [];
    return this.statement(
      "SELECT chain, seq, hash FROM chain_heads ORDER BY chain",
    ).all() as RecordedHead[];
  }

  verifyChunk(chain: string, from: ChainPosition, key: string | null, limit: number): VerifyStep {
    const rows = this.chainRows(chain, from.seq, limit);
    const inputs = this.inputs(rows.flatMap((r) => (r.inputHash === null ? [] : [r.inputHash])));
    return verifyRows(rows, (hash) => inputs.get(hash), chain, from, key, this.kinds);
  }

  exportChunk(query: PageQuery, withInputs: boolean, maxBytes: number): ExportChunk {
    const rows = this.page({ ...query, ascending: true });
    const inputs = withInputs ? this.inputs(rows.map((r) => r.inputHash)) : new Map();
    return exportChunkOf(rows, query.limit, withInputs, (h) => inputs.get(h), maxBytes);
  }

  /**
   * What `PRAGMA quick_check` finds (every page read and its structure checked), and with a journal
   * what `verifyJournal` finds.
   */
  checkPages(): string[] {
    const rows = this.db.transaction(() => {
      // FTS5 keeps its index's structure per connection, and quick_check does not read it again:
      // on a long-lived reader, writes made since would look like corruption. A read of the table
      // in the same transaction brings it up to date.
      if (this.namesIndexed) this.db.prepare("SELECT 1 FROM entry_names_fts LIMIT 1").get();
      return this.db.pragma(`quick_check(${PAGE_PROBLEMS_KEPT})`) as { quick_check: string }[];
    })();
    const lines = rows
      .flatMap((r) => r.quick_check.split("\n"))
      .filter((l) => l !== "ok" && !l.startsWith("*** in database"));
    // a log with a journal: the journal intact, and the index agreeing with it
    if (this.journaled) lines.push(...verifyJournal(this.db, journalDir(this.db.name), this.kinds));
    return lines.slice(0, PAGE_PROBLEMS_KEPT);
  }
}
