/**
 * The file-name filter (`fileName`: a literal part of the name, ASCII letters in any case) through
 * an index of trigrams (migration 9: FTS5 on SQLite, pg_trgm on PostgreSQL). The index only
 * proposes candidates, a superset of the entries whose name holds the part; the page's query keeps
 * the filter itself, so results are the same as reading every body.
 *
 * How a page is read:
 * - a part of fewer than `MIN_INDEXED_PART` characters has no trigram: the bodies are read, in id
 *   order, until the page is full (quick when the part is common, a scan of the log when not);
 * - otherwise the newest `NAME_PROBE_ROWS` entries the other filters leave are read first: a
 *   common part fills the page there, for less than asking the index would cost;
 * - when it does not, at most `NAME_CANDIDATES + 1` candidates are read from the index. When there are no
 *   more than `NAME_CANDIDATES`, the page is read from them alone, `CANDIDATE_CHUNK` ids at a time
 *   in the page's order: its cost is bounded by the number of candidates, whatever the log's size;
 * - when there are more, the part is common (one entry in `log size / NAME_CANDIDATES` at least):
 *   reading in id order finds a page after about `limit × log size / NAME_CANDIDATES` entries when
 *   no other filter narrows it (some 5,000 entries for a page of 50 in a million).
 */
import type { PageQuery } from "./backend.js";

/** The name's expression on PostgreSQL, which migration 9's index is built on: never change it. */
export const POSTGRES_NAME_EXPRESSION = `lower((body::jsonb ->> 'fileName') COLLATE "C")`;
export const POSTGRES_NAME_INDEX_NAME = "entries_file_name";

/** Parts shorter than this (in characters) have no trigram the index could look up. */
export const MIN_INDEXED_PART = 3;
/** Entries read in id order before the index is asked: a part held by 1 in 20 fills a page of 50. */
export const NAME_PROBE_ROWS = 1_000;
/** The most candidates a page is read from; a part of more entries reads in id order. */
export const NAME_CANDIDATES = 10_000;
/** Candidates' ids in one query's IN list. */
export const CANDIDATE_CHUNK = 500;

/** Whether the index can look `part` up. */
export function indexablePart(part: string): boolean {
  return [...part].length >= MIN_INDEXED_PART;
}

/** `part` as an FTS5 phrase: with the trigram tokenizer, a phrase matches as a substring. */
export function ftsPhrase(part: string): string {
  return `"${part.replaceAll('"', '""')}"`;
}

/**
 * The candidates that can be on the page (those within the cursor), in the page's order (ids sort
 * as bytes; they are ASCII, so JavaScript's order is the same), in chunks of `CANDIDATE_CHUNK`.
 */
export function candidateChunks(ids: readonly string[], q: PageQuery): string[][] {
  const within = ids.filter(
    (id) => (q.before === undefined || id < q.before) && (q.after === undefined || id > q.after),
  );
  within.sort();
  if (!q.ascending) within.reverse();
  const chunks: string[][] = [];
  for (let i = 0; i < within.length; i += CANDIDATE_CHUNK)
    chunks.push(within.slice(i, i + CANDIDATE_CHUNK));
  return chunks;
}

const FILE_NAME_KEY = ',"fileName":';

/**
 * A decision's file name, read from its canonical body without parsing the rest of it (SQLite's
 * `json_extract` read the whole body, twice, for every entry written). The fields before it are
 * flat strings and numbers, whose quotes are escaped, so the first `,"fileName":` is the key. Null
 * when the body has no name.
 */
export function fileNameOf(body: string): string | null {
  const at = body.indexOf(FILE_NAME_KEY);
  if (at < 0) return null;
  const start = at + FILE_NAME_KEY.length;
  if (body.charCodeAt(start) !== 34) return null;
  for (let quote = body.indexOf('"', start + 1); quote > 0; quote = body.indexOf('"', quote + 1)) {
    let backslashes = 0;
    while (body.charCodeAt(quote - 1 - backslashes) === 92) backslashes++;
    if (backslashes % 2 === 0) return JSON.parse(body.slice(start, quote + 1)) as string;
  }
  return null;
}

/** Where a decision's file name is indexed: its writers add it (`fileNameOf`), a trigger removes it. */
export const INSERT_ENTRY_NAME = "INSERT INTO entry_names (id, name) VALUES (?, ?)";
