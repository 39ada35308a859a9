// Checking a chain, one bounded chunk of entries at a time. Pure functions of the rows they are
// given, so they run wherever the rows are read: on the event loop for PostgreSQL, on a reader
// thread for SQLite (`sqlite-reader.ts`), where a long verification never holds the event loop.
// Every kind of entry is checked alike; its registry entry (`kinds.ts`) says which columns must
// repeat what its body says.
import type { EntryRow } from "./backend.js";
import { chainHash, contentHash } from "./entry.js";
import { DECISION_KIND, type EntryKind } from "./kinds.js";

/**
 * Where a walk along a chain stands: the last entry checked. `hash: null` after entries that could
 * not be read: the next entry's link cannot be checked, so its own `prevHash` is taken as given.
 */
export interface ChainPosition {
  seq: number;
  hash: string | null;
}

/** What checking one chunk found. */
export interface VerifyStep {
  /** rows read: fewer than asked for means the chain ends here */
  rows: number;
  /** entries checked and found whole */
  entries: number;
  /** after the last whole entry (unchanged when the first one is broken) */
  position: ChainPosition;
  /** the first broken link in the chunk, when any: the walk stops there */
  broken?: { seq: number; id: string | null; problem: string };
}

/**
 * Checks `rows` (the entries of `chain` after `from`, in seq order, of the `kinds` given) and their
 * input snapshots: `inputOf` gives a snapshot's text by hash, undefined when it is not stored.
 */
export function verifyRows(
  rows: readonly EntryRow[],
  inputOf: (hash: string) => string | undefined,
  chain: string,
  from: ChainPosition,
  key: string | null,
  kinds: readonly EntryKind[],
): VerifyStep {
  let position = from;
  let entries = 0;
  for (const row of rows) {
    const expected = position.seq + 1;
    const kind = kinds.find((k) => k.name === row.kind)!;
    const problem = checkRow(row, kind, inputOf, chain, expected, position.hash, key);
    if (problem)
      return {
        rows: rows.length,
        entries,
        position,
        broken: { seq: expected, id: row.id, problem },
      };
    position = { seq: row.seq, hash: row.hash };
    entries++;
  }
  return { rows: rows.length, entries, position };
}

/** A body as parsed: any kind's fields, and the chain position every body has. */
type Body = Record<string, unknown>;

/** The body's JSON; undefined when it is not JSON, or is null. */
function parseBody(body: string): Body | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    // a number or a string is no entry either: it fails the link check, as it always has
    return parsed === null ? undefined : (Object(parsed) as Body);
  } catch {
    return undefined;
  }
}

function checkRow(
  row: EntryRow,
  kind: EntryKind,
  inputOf: (hash: string) => string | undefined,
  chain: string,
  seq: number,
  prevHash: string | null,
  key: string | null,
): string | undefined {
  if (row.seq !== seq) return row.seq > seq ? "entry_missing" : "entry_out_of_order";
  let entry: Body | undefined;
  if (prevHash === null) {
    // after a gap: the entry's own link is all there is to start from again
    entry = parseBody(row.body);
    if (!entry) return "body_unreadable";
    prevHash = typeof entry.prevHash === "string" ? entry.prevHash : "";
  }
  if (chainHash(prevHash, row.body, key) !== row.hash) return "hash_mismatch";
  entry ??= parseBody(row.body);
  if (!entry) return "body_unreadable";
  if (entry.prevHash !== prevHash || entry.seq !== seq || entry.chain !== chain)
    return "link_mismatch";
  // the table the entry is in and the columns queries filter on must say what the hashed body says
  // (a decision's body names no kind: every v1 body is one)
  if (
    (entry.kind ?? DECISION_KIND.name) !== kind.name ||
    entry.id !== row.id ||
    entry.time !== row.time
  )
    return "column_mismatch";
  for (const c of kind.columns) if (entry[c.field] !== row[c.field]) return "column_mismatch";
  if (!kind.input) return undefined;
  if (entry.inputHash !== row.inputHash || typeof entry.inputHash !== "string")
    return "column_mismatch";
  const input = inputOf(entry.inputHash);
  if (input === undefined) return "input_missing";
  if (contentHash(input) !== entry.inputHash) return "input_mismatch";
  return undefined;
}
