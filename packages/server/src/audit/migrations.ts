/**
 * Versioned schema migrations, shared by both backends where the SQL is the same. Each step runs in
 * a transaction with the row that records it in `schema_migrations`; steps are never edited once
 * released, only appended. They run when a store is opened for writing (`AuditStore.open`), never
 * when it is opened read-only. A new entry kind's table is a step like any other
 * (`kindTableSql` in `kinds.ts`).
 */
import { AuditUnavailableError } from "./backend.js";
import {
  EXCEPTION_KIND,
  kindTableSql,
  REVIEW_CASE_KIND,
  REVIEW_VOTE_KIND,
  SERVER_EVENT_KIND,
} from "./kinds.js";
import { POSTGRES_NAME_EXPRESSION, POSTGRES_NAME_INDEX_NAME } from "./name-search.js";
import { SANTA_TABLES } from "./santa-store.js";

export interface Migration {
  version: number;
  description: string;
  sqlite: string;
  postgres: string;
}

// Ids (UUIDv7) and times (RFC 3339, UTC, milliseconds) sort as bytes; PostgreSQL compares text by
// the database's collation unless told otherwise, and some collations skip the punctuation.
const ENTRIES_COLUMNS = (collate: string) => `
  id TEXT${collate} PRIMARY KEY,
  chain TEXT NOT NULL,
  seq BIGINT NOT NULL,
  time TEXT${collate} NOT NULL,
  source TEXT NOT NULL,
  requester TEXT,
  sha256 TEXT NOT NULL,
  decision TEXT NOT NULL,
  rule TEXT,
  input_hash TEXT NOT NULL,
  body TEXT NOT NULL,
  hash TEXT NOT NULL,
  UNIQUE (chain, seq)`;

const INDEXES = `
CREATE INDEX entries_sha256 ON entries (sha256, id);
CREATE INDEX entries_time ON entries (time);
CREATE INDEX entries_decision ON entries (decision, id);
CREATE INDEX entries_rule ON entries (rule, id);
CREATE INDEX entries_input ON entries (input_hash);`;

// One row per (entry, notification target); `delivered_at` set once the receiver acknowledged it.
const OUTBOX = `
CREATE TABLE outbox (
  id TEXT PRIMARY KEY,
  chain TEXT NOT NULL,
  entry_id TEXT NOT NULL,
  target TEXT NOT NULL,
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL,
  last_error TEXT,
  delivered_at TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX outbox_due ON outbox (chain, delivered_at, next_attempt_at);`;

// Events a SIEM sink could not take, kept with why (docs/siem.md, "Delivery"): one row per sink
// and event, so that sending one again after a fix is idempotent.
const SIEM_DEAD_LETTERS = (collate: string) => `
CREATE TABLE siem_dead_letters (
  sink TEXT${collate} NOT NULL,
  event_id TEXT${collate} NOT NULL,
  chain TEXT NOT NULL,
  seq BIGINT NOT NULL,
  kind TEXT NOT NULL,
  time TEXT NOT NULL,
  body TEXT NOT NULL,
  error TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (sink, event_id)
);`;

/** The columns a dead letter is written to, and read back as `DeadLetter` fields. */
export const DEAD_LETTER_INSERT = "sink, event_id, chain, seq, kind, time, body, error, created_at";
export const DEAD_LETTER_COLUMNS =
  'sink, event_id AS "eventId", chain, CAST(seq AS INTEGER) AS seq, kind, time, body, error, created_at AS "createdAt"';

const STATE =
  "CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL);";

const DROP_INDEXES = `
DROP INDEX entries_time;
DROP INDEX entries_decision;
DROP INDEX entries_rule;
DROP INDEX entries_input;`;

// Each chain's newest entry, written in the same transaction as the entries (filled from the entries
// already there). At start a log is checked against it: entries that stop short of their recorded
// head mean a log emptied, truncated or restored without its newest pages.
const CHAIN_HEADS = (collate: string, now: string) => `
CREATE TABLE chain_heads (chain TEXT${collate} PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL, updated_at TEXT NOT NULL);
INSERT INTO chain_heads (chain, seq, hash, updated_at)
  SELECT e.chain, e.seq, e.hash, ${now}
  FROM (SELECT chain, MAX(seq) AS seq FROM entries GROUP BY chain) m
  JOIN entries e ON e.chain = m.chain AND e.seq = m.seq;
INSERT INTO chain_heads (chain, seq, hash, updated_at)
  SELECT chain, seq, hash, pruned_at FROM checkpoints
  WHERE chain NOT IN (SELECT chain FROM chain_heads);`;

const IDEMPOTENCY = (collate: string) => `
ALTER TABLE deliveries ADD COLUMN entry_id TEXT;
CREATE TABLE idempotency_keys (requester TEXT${collate} NOT NULL, key TEXT${collate} NOT NULL, body_hash TEXT NOT NULL, created_at TEXT NOT NULL, locked_until TEXT NOT NULL, holder TEXT NOT NULL, PRIMARY KEY (requester, key));`;

// Searches by rule, requester or source: a value held by a few hundred entries of a million was a
// scan of the whole log in id order (half a second on SQLite). Decisions have three values, each
// common: that filter still rides the id order.
const SEARCH_INDEXES = `
CREATE INDEX entries_rule ON entries (rule, id);
CREATE INDEX entries_requester ON entries (requester, id);
CREATE INDEX entries_source ON entries (source, id);`;

// The file-name filter (a literal part of the name, ASCII letters in any case) read every body the
// other filters left. An index of trigrams finds the entries whose name may hold the part; the
// filter itself still decides (`name-search.ts`). SQLite: an FTS5 trigram index over a table of
// names kept by triggers, keyed by an INTEGER PRIMARY KEY (stable, unlike the entries' rowids,
// which VACUUM may renumber). Filled from the entries already there, before the triggers exist.
const SQLITE_NAME_INDEX = `
CREATE TABLE entry_names (n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL);
INSERT INTO entry_names (id, name)
  SELECT id, json_extract(body, '$.fileName') FROM entries
  WHERE json_extract(body, '$.fileName') IS NOT NULL ORDER BY id;
CREATE VIRTUAL TABLE entry_names_fts USING fts5(name, content='entry_names', content_rowid='n', tokenize='trigram');
INSERT INTO entry_names_fts (entry_names_fts) VALUES ('rebuild');
CREATE TRIGGER entries_name_added AFTER INSERT ON entries
  WHEN json_extract(new.body, '$.fileName') IS NOT NULL BEGIN
  INSERT INTO entry_names (id, name) VALUES (new.id, json_extract(new.body, '$.fileName'));
END;
CREATE TRIGGER entries_name_removed AFTER DELETE ON entries BEGIN
  DELETE FROM entry_names WHERE id = old.id;
END;
CREATE TRIGGER entry_names_added AFTER INSERT ON entry_names BEGIN
  INSERT INTO entry_names_fts (rowid, name) VALUES (new.n, new.name);
END;
CREATE TRIGGER entry_names_removed AFTER DELETE ON entry_names BEGIN
  INSERT INTO entry_names_fts (entry_names_fts, rowid, name) VALUES ('delete', old.n, old.name);
END;`;

// PostgreSQL: a pg_trgm GIN index on the filter's own expression, where the extension can be had
// (installed already, or installable by this role: it is a trusted extension since 13); without
// it the index is not made and the filter reads the bodies, as before. The operator class is named
// with the extension's schema, which need not be on the search path.
const POSTGRES_NAME_INDEX = `
DO $$
DECLARE
  trgm text;
BEGIN
  SELECT n.nspname INTO trgm FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
  IF trgm IS NULL THEN
    CREATE EXTENSION pg_trgm; -- into the first schema of the search path: the audit schema
    trgm := current_schema();
  END IF;
  EXECUTE format(
    $f$CREATE INDEX ${POSTGRES_NAME_INDEX_NAME} ON entries USING gin ((${POSTGRES_NAME_EXPRESSION}) %I.gin_trgm_ops)$f$,
    trgm);
EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported OR undefined_object THEN
  NULL; -- no pg_trgm here: file-name searches read the bodies
END
$$;`;

// as they were released: the step creates these tables once, and never changes
const REVIEW_KINDS = [REVIEW_CASE_KIND, REVIEW_VOTE_KIND, EXCEPTION_KIND];

export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    description: "entries, content-addressed inputs, checkpoints, webhook deliveries",
    sqlite: `
CREATE TABLE entries (${ENTRIES_COLUMNS("")});
CREATE TABLE inputs (hash TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE checkpoints (chain TEXT PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL, mac TEXT NOT NULL, pruned_at TEXT NOT NULL);
CREATE TABLE deliveries (id TEXT PRIMARY KEY, received_at TEXT NOT NULL);
${INDEXES}`,
    postgres: `
CREATE TABLE entries (${ENTRIES_COLUMNS(' COLLATE "C"')});
CREATE TABLE inputs (hash TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE checkpoints (chain TEXT PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL, mac TEXT NOT NULL, pruned_at TEXT NOT NULL);
CREATE TABLE deliveries (id TEXT PRIMARY KEY, received_at TEXT NOT NULL);
${INDEXES}`,
  },
  {
    version: 2,
    description: "outbox of decision notifications, written with their entries",
    sqlite: OUTBOX,
    postgres: OUTBOX.replaceAll("TEXT PRIMARY KEY", 'TEXT COLLATE "C" PRIMARY KEY'),
  },
  {
    version: 3,
    description: "state of background jobs (the platform sync's cursor)",
    sqlite: STATE,
    postgres: STATE,
  },
  {
    // Every index is written on every decision. Time ranges are id ranges (ids are UUIDv7, which
    // begin with the time), decision and rule filters ride the id order, and pruning's input
    // check runs rarely: these four cost more on the write path than they saved on reads.
    version: 4,
    description: "drop indexes the write path paid for and reads do not need",
    sqlite: DROP_INDEXES,
    postgres: DROP_INDEXES,
  },
  {
    // Input snapshots (about 5 kB of JSON each) are compressed by PostgreSQL; lz4 costs about a
    // fifth less of the one writer connection's time than the default pglz, for the same size.
    // Only new rows change; a server built without lz4 (or older than 14) keeps pglz.
    version: 5,
    description: "compress input snapshots with lz4 where PostgreSQL has it",
    sqlite: "-- SQLite does not compress: nothing to change",
    postgres: `
DO $$
BEGIN
  -- EXECUTE: the statement is parsed only when it runs, so 13 and older never see its syntax
  IF current_setting('server_version_num')::int >= 140000 THEN
    EXECUTE 'ALTER TABLE inputs ALTER COLUMN body SET COMPRESSION lz4';
  END IF;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
  NULL; -- built without lz4
END
$$;`,
  },
  {
    version: 6,
    description:
      "each chain's head, recorded with every write, to tell an emptied log from a new one",
    sqlite: CHAIN_HEADS("", "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"),
    postgres: CHAIN_HEADS(
      ' COLLATE "C"',
      `to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
    ),
  },
  {
    version: 7,
    description: "idempotency keys of batches, and the entry each delivery id was recorded with",
    sqlite: IDEMPOTENCY(""),
    postgres: IDEMPOTENCY(' COLLATE "C"'),
  },
  {
    version: 8,
    description: "review cases, votes and exceptions",
    sqlite: REVIEW_KINDS.map((k) => kindTableSql(k, "sqlite")).join("\n"),
    postgres: REVIEW_KINDS.map((k) => kindTableSql(k, "postgres")).join("\n"),
  },
  {
    version: 9,
    description: "indexes for searches by rule, requester, source and part of a file name",
    sqlite: `${SEARCH_INDEXES}\n${SQLITE_NAME_INDEX}`,
    postgres: `${SEARCH_INDEXES}\n${POSTGRES_NAME_INDEX}`,
  },
  {
    version: 10,
    description: "rule-set and verification events in the chain, and SIEM dead letters",
    sqlite: `${kindTableSql(SERVER_EVENT_KIND, "sqlite")}\n${SIEM_DEAD_LETTERS("")}`,
    postgres: `${kindTableSql(SERVER_EVENT_KIND, "postgres")}\n${SIEM_DEAD_LETTERS(' COLLATE "C"')}`,
  },
  {
    version: 11,
    description: "the Santa sync server's machines, reported files and rules",
    sqlite: SANTA_TABLES(""),
    postgres: SANTA_TABLES(' COLLATE "C"'),
  },
  {
    version: 12,
    description:
      "the embedded log's journal: where each input snapshot is in it, how far the index has applied it, and each segment's newest entry per chain",
    sqlite: `
ALTER TABLE inputs ADD COLUMN segment INTEGER;
ALTER TABLE inputs ADD COLUMN at INTEGER;
ALTER TABLE inputs ADD COLUMN bytes INTEGER;
CREATE TABLE journal_state (id INTEGER PRIMARY KEY CHECK (id = 1), position INTEGER NOT NULL, entries INTEGER NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE journal_segments (segment INTEGER NOT NULL, chain TEXT NOT NULL, max_seq INTEGER NOT NULL, PRIMARY KEY (segment, chain)) WITHOUT ROWID;`,
    // PostgreSQL keeps its own write path: nothing to add, but its schema keeps the same versions
    postgres: "SELECT 1",
  },
  {
    version: 13,
    description:
      "decisions' file names indexed by their writers, not by a trigger reading each body twice",
    sqlite: "DROP TRIGGER entries_name_added;",
    postgres: "SELECT 1",
  },
]);

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The table recording which steps were applied, created before the first one. */
export const MIGRATIONS_TABLE =
  "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)";

/**
 * Refuses a schema this Clearance does not know: a newer one may hold entries it cannot read or
 * check. `subject` names the database: "the audit database `data/audit.db`".
 */
export function checkKnownVersion(subject: string, current: number): void {
  if (current > SCHEMA_VERSION)
    throw new AuditUnavailableError(
      `${subject} has schema version ${current}, newer than this Clearance knows (${SCHEMA_VERSION}): upgrade Clearance`,
    );
}
