// The kinds of entry a chain holds. Every kind shares the chain: a place in it (seq, the previous
// entry's hash), a canonical body and a hash over both, checked alike by verification. What a kind
// adds is its body's fields and the columns queries filter on, kept in a table of its own beside the
// others. Stores read this registry instead of naming a kind's columns, so adding a kind is:
//
//   1. its type, and an `EntryKind` for it here (name, table, body fields, indexed columns);
//   2. a migration creating its table: `kindTableSql(kind, engine)` for each engine;
//   3. `AuditLog.appendEntry(kind, fields)` where entries of it are recorded.
//
// No store method changes: writes insert into the kind's table, chain reads (heads, verification,
// pruning) read every kind's table, and verification checks each kind's columns against its body.
// Entries of any other kind are read by kind (`kindPage`, `AuditLog.entriesOf`): oldest first,
// across chains, filtered on one of its columns. Searches and exports (`page`, `exportChunk`,
// `get`, `latestFor`) are over decisions: a kind that needs a search of its own adds one when it
// comes. A store opened read-only on a schema older than a kind has no table for it, and reads it
// as having no entries.

/** A body field stored in a column of the kind's table, so that queries can filter on it. */
export interface KindColumn {
  /** the body field; its value must be a string or null */
  readonly field: string;
  /** the column holding it (text) */
  readonly column: string;
  /** whether the column has an index (`<table>_<column>` on the column and the id) */
  readonly indexed: boolean;
  /**
   * whether two entries may not share a value (a unique index, `<table>_<column>`, across every
   * chain): what makes an event happen once however many replicas try it at once. Null repeats.
   */
  readonly unique?: boolean;
}

export interface EntryKind {
  /**
   * The kind's name: written as `"kind"` in its canonical body, right after the version. Decisions
   * carry none, as every body written before kinds existed: their bytes, and the hashes over them,
   * stay as they were.
   */
  readonly name: string;
  /** the table of its entries: the chain columns, its indexed columns, the body and the hash */
  readonly table: string;
  /**
   * The body's fields, in canonical order, after the chain position (`v`, `kind`, `chain`, `seq`,
   * `prevHash`, which the sealing writes). Must include `id` (a UUIDv7 of the entry's time) and
   * `time` (RFC 3339), which every kind's table holds; `inputHash` marks where the hash of the
   * entry's input snapshot goes, for a kind with one.
   */
  readonly fields: readonly string[];
  readonly columns: readonly KindColumn[];
  /** whether each entry has an input snapshot (stored once per content in `inputs`) */
  readonly input: boolean;
}

/** Where the input snapshot's hash goes among a kind's fields. */
export const INPUT_HASH_FIELD = "inputHash";

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const FIELD = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Fields the sealing writes itself, or that a row carries for every kind. */
const RESERVED_FIELDS = new Set(["v", "kind", "chain", "seq", "prevHash", "hash"]);
/** Columns every kind's table has, and the kind a read names. */
const CHAIN_COLUMNS = new Set(["kind", "id", "chain", "seq", "time", "input_hash", "body", "hash"]);
/** Fields a read's row carries for every kind: an indexed column cannot take their names. */
const ROW_FIELDS = new Set([
  "kind",
  "id",
  "chain",
  "seq",
  "time",
  INPUT_HASH_FIELD,
  "body",
  "hash",
]);

/**
 * Checks and freezes a kind. Throws TypeError naming what is wrong: names that are not SQL
 * identifiers, missing `id` or `time`, a column for a field the body does not have.
 */
export function defineEntryKind(kind: EntryKind): EntryKind {
  const problem = (what: string) => new TypeError(`entry kind \`${kind.name}\`: ${what}`);
  if (!IDENTIFIER.test(kind.name))
    throw problem("its name must be a lowercase SQL identifier (letters, digits, _)");
  if (!IDENTIFIER.test(kind.table))
    throw problem(`table \`${kind.table}\` must be a lowercase SQL identifier`);
  const fields = new Set(kind.fields);
  if (fields.size !== kind.fields.length) throw problem("a field is listed twice");
  for (const f of kind.fields) {
    if (!FIELD.test(f)) throw problem(`field \`${f}\` is not an identifier`);
    if (RESERVED_FIELDS.has(f)) throw problem(`field \`${f}\` is written by the sealing`);
  }
  for (const f of ["id", "time"])
    if (!fields.has(f)) throw problem(`its fields must include \`${f}\``);
  if (kind.input !== fields.has(INPUT_HASH_FIELD))
    throw problem(
      `a kind with an input snapshot lists \`${INPUT_HASH_FIELD}\` among its fields, and only then`,
    );
  const columns = new Set<string>();
  for (const c of kind.columns) {
    if (!fields.has(c.field))
      throw problem(`column \`${c.column}\` is for \`${c.field}\`, which is not one of its fields`);
    if (ROW_FIELDS.has(c.field))
      throw problem(`column \`${c.column}\` is for \`${c.field}\`, which every entry has already`);
    if (!IDENTIFIER.test(c.column) || CHAIN_COLUMNS.has(c.column) || columns.has(c.column))
      throw problem(`column \`${c.column}\` is not a free lowercase SQL identifier`);
    if (c.unique === true && c.indexed)
      throw problem(`column \`${c.column}\` is unique, which is an index already`);
    columns.add(c.column);
  }
  return Object.freeze({
    name: kind.name,
    table: kind.table,
    fields: Object.freeze([...kind.fields]),
    columns: Object.freeze(kind.columns.map((c) => Object.freeze({ ...c }))),
    input: kind.input,
  });
}

/**
 * A decision: what the rules answered for a file, with the input they were given. Its table is
 * `entries`, as it has been since the first release; its body is the v1 canonical form (`seal.ts`).
 */
export const DECISION_KIND: EntryKind = defineEntryKind({
  name: "decision",
  table: "entries",
  fields: [
    "id",
    "time",
    "source",
    "requester",
    "sha256",
    "fileName",
    "decision",
    "rule",
    "reason",
    "matched",
    "monitored",
    "errors",
    "ruleset",
    "latencyUs",
    INPUT_HASH_FIELD,
    "shadow",
    "deliveryId",
    "explain",
  ],
  // time ranges are id ranges (ids are UUIDv7) and decision and rule filters ride the id order:
  // only the file's hash has an index of its own (migration 4 dropped the others)
  columns: [
    { field: "source", column: "source", indexed: false },
    { field: "requester", column: "requester", indexed: false },
    { field: "sha256", column: "sha256", indexed: true },
    { field: "decision", column: "decision", indexed: false },
    { field: "rule", column: "rule", indexed: false },
  ],
  input: true,
});

// Reviews (docs/reviews.md). Each entry of these kinds says what happened once: its `once` field
// names the event ("vote:<case>:<voter>"), and a unique index on it across every chain makes a
// second replica's attempt at the same event fail instead of happening twice.

/**
 * A review case's life: `opened` (by an enforced `review` decision), then one of `resolved` (by
 * votes), `withdrawn` (the file's decision is no longer `review`) or `expired` (nobody answered in
 * time). `caseId` is the id of its `opened` entry; `detail` holds what the event adds.
 */
export const REVIEW_CASE_KIND: EntryKind = defineEntryKind({
  name: "review_case",
  table: "review_cases",
  fields: ["id", "time", "event", "caseId", "sha256", "scope", "once", "detail"],
  columns: [
    { field: "event", column: "event", indexed: false },
    { field: "caseId", column: "case_id", indexed: true },
    { field: "sha256", column: "sha256", indexed: true },
    { field: "once", column: "once_key", indexed: false, unique: true },
  ],
  input: false,
});

/** One person's answer to a case, with why, and the exception they asked for when approving. */
export const REVIEW_VOTE_KIND: EntryKind = defineEntryKind({
  name: "review_vote",
  table: "review_votes",
  fields: ["id", "time", "caseId", "voter", "vote", "justification", "exception", "once"],
  columns: [
    { field: "caseId", column: "case_id", indexed: true },
    { field: "voter", column: "voter", indexed: false },
    { field: "once", column: "once_key", indexed: false, unique: true },
  ],
  input: false,
});

/**
 * An exception's life: `created` (by a resolved case, or by an admin: `record` is the exception),
 * `revoked` (by an admin, with a justification) or `expired`.
 */
export const EXCEPTION_KIND: EntryKind = defineEntryKind({
  name: "exception",
  table: "exceptions",
  fields: ["id", "time", "event", "exceptionId", "record", "by", "justification", "once"],
  columns: [
    { field: "event", column: "event", indexed: false },
    { field: "exceptionId", column: "exception_id", indexed: true },
    { field: "once", column: "once_key", indexed: false, unique: true },
  ],
  input: false,
});

/**
 * The server's own events: a reload that made a rule set of another revision live
 * (`ruleset_loaded`), a reload refused (`ruleset_failed`), and audit verification that found damage
 * (`verify_failed`). Recorded so that the log says when the rules changed, and so that SIEMs hear
 * of it like everything else.
 */
export const SERVER_EVENT_KIND: EntryKind = defineEntryKind({
  name: "server_event",
  table: "server_events",
  fields: ["id", "time", "event", "detail"],
  columns: [{ field: "event", column: "event", indexed: false }],
  input: false,
});

/** Every kind the log records. A new kind goes here, with the migration creating its table. */
export const ENTRY_KINDS: readonly EntryKind[] = Object.freeze([
  DECISION_KIND,
  REVIEW_CASE_KIND,
  REVIEW_VOTE_KIND,
  EXCEPTION_KIND,
  SERVER_EVENT_KIND,
]);

/** Checks a store's registry: kinds defined with `defineEntryKind`, decisions first, unique names and tables. */
export function checkRegistry(kinds: readonly EntryKind[]): readonly EntryKind[] {
  if (kinds[0] !== DECISION_KIND)
    throw new TypeError("the entry kinds must begin with `DECISION_KIND`");
  const names = new Set<string>();
  const tables = new Set<string>();
  for (const k of kinds) {
    if (!Object.isFrozen(k))
      throw new TypeError(`entry kind \`${k.name}\` must be made with \`defineEntryKind\``);
    if (names.has(k.name) || tables.has(k.table))
      throw new TypeError(`entry kind \`${k.name}\` (table \`${k.table}\`) is listed twice`);
    names.add(k.name);
    tables.add(k.table);
  }
  return Object.freeze([...kinds]);
}

/**
 * The columns a read selects from a kind's table, as the fields of an `EntryRow`: the kind, the
 * chain columns, its indexed columns under their field names, the input hash (null for a kind
 * without one), the body and the hash.
 */
export function selectList(kind: EntryKind): string {
  const columns = kind.columns.map((c) =>
    c.column === c.field ? c.column : `${c.column} AS "${c.field}"`,
  );
  return [
    `'${kind.name}' AS kind`,
    "id",
    "chain",
    "seq",
    "time",
    ...columns,
    kind.input ? `input_hash AS "${INPUT_HASH_FIELD}"` : `NULL AS "${INPUT_HASH_FIELD}"`,
    "body",
    "hash",
  ].join(", ");
}

/** The columns an insert into a kind's table names, in the order `sealBatch` gives the values. */
export function insertColumns(kind: EntryKind): string[] {
  return [
    "id",
    "chain",
    "seq",
    "time",
    ...kind.columns.map((c) => c.column),
    ...(kind.input ? ["input_hash"] : []),
    "body",
    "hash",
  ];
}

/**
 * The statements creating a kind's table, for its migration. Ids and times sort as bytes: on
 * PostgreSQL they are compared with the "C" collation, as the decision table's are.
 */
export function kindTableSql(kind: EntryKind, engine: "sqlite" | "postgres"): string {
  const collate = engine === "postgres" ? ' COLLATE "C"' : "";
  const columns = [
    `id TEXT${collate} PRIMARY KEY`,
    "chain TEXT NOT NULL",
    "seq BIGINT NOT NULL",
    `time TEXT${collate} NOT NULL`,
    ...kind.columns.map((c) => `${c.column} TEXT`),
    ...(kind.input ? ["input_hash TEXT NOT NULL"] : []),
    "body TEXT NOT NULL",
    "hash TEXT NOT NULL",
    "UNIQUE (chain, seq)",
  ];
  const indexes = kind.columns.flatMap((c) =>
    c.unique === true
      ? [`CREATE UNIQUE INDEX ${kind.table}_${c.column} ON ${kind.table} (${c.column});`]
      : c.indexed
        ? [`CREATE INDEX ${kind.table}_${c.column} ON ${kind.table} (${c.column}, id);`]
        : [],
  );
  return [`CREATE TABLE ${kind.table} (${columns.join(", ")});`, ...indexes].join("\n");
}

/**
 * The kind named `name` among `kinds` for a read of its entries (`EntryStore.kindPage`), and the
 * column holding `query.field` when the query filters on one. Throws TypeError for decisions (read
 * with the decision searches), a kind not among `kinds`, a field the kind keeps in no column, or
 * a field without a value (or a value without a field).
 */
export function kindForQuery(
  kinds: readonly EntryKind[],
  name: string,
  query: { field?: string; value?: string },
): { kind: EntryKind; column: KindColumn | undefined } {
  if (name === DECISION_KIND.name)
    throw new TypeError("decisions are read with the decision searches, not `kindPage`");
  const kind = kinds.find((k) => k.name === name);
  if (!kind)
    throw new TypeError(
      `there is no entry kind \`${name}\` (there are ${kinds.map((k) => `\`${k.name}\``).join(", ")})`,
    );
  const { field, value } = query;
  if ((field === undefined) !== (value === undefined))
    throw new TypeError("a query of entries filters with a `field` and a `value`, or neither");
  if (field === undefined) return { kind, column: undefined };
  const column = kind.columns.find((c) => c.field === field);
  if (!column)
    throw new TypeError(
      `entry kind \`${name}\` keeps no column for \`${field}\` (it has ${kind.columns.map((c) => `\`${c.field}\``).join(", ")})`,
    );
  return { kind, column };
}
