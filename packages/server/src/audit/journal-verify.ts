// Verifying the journal itself and that the index agrees with it (`clearance audit verify`, and
// `POST /v1/audit/verify`): the chain's hashes are verified over the index's rows, as for every
// store; this checks what the chain cannot see. Every segment's header and every record's checksum;
// that every group the index has applied is closed by its commit marker; and that each entry the
// index has applied is in the index with the journal's hash, and nothing more is (entries behind a
// chain's checkpoint excepted: they were pruned).
import type Database from "better-sqlite3";
import {
  HEADER_BYTES,
  listSegments,
  position,
  RecordType,
  readSegment,
  segmentHeaderProblem,
  segmentName,
} from "./journal.js";
import type { EntryMeta } from "./journal-append.js";
import type { EntryKind } from "./kinds.js";

/** Problems past this many are counted, not listed. */
const PROBLEMS_KEPT = 20;
/** Ids looked up in the index at a time. */
const LOOKUP_CHUNK = 500;

interface Seen {
  kind: string;
  id: string;
  chain: string;
  seq: number;
  hash: string;
  where: string;
  /** its place in the journal, so that problems are told in journal order */
  at: number;
}

/**
 * What is wrong with the journal in `dir` and the index `db` of it; empty when they agree. Only
 * what the index has applied is compared: the writer may be appending after it.
 */
export function verifyJournal(
  db: Database.Database,
  dir: string,
  kinds: readonly EntryKind[],
): string[] {
  // one snapshot of the index: the follower may apply more while the journal is read
  return db.transaction(() => verifyAgainst(db, dir, kinds))();
}

function verifyAgainst(db: Database.Database, dir: string, kinds: readonly EntryKind[]): string[] {
  const problems: string[] = [];
  const report = (problem: string) => {
    if (problems.length < PROBLEMS_KEPT) problems.push(problem);
  };
  const say = report;
  const state = db.prepare("SELECT position FROM journal_state WHERE id = 1").get() as
    | { position: number }
    | undefined;
  if (!state) return [];
  const applied = state.position;
  const tables = new Map(kinds.map((k) => [k.name, k.table]));
  const checkpoints = new Map(
    (
      db.prepare("SELECT chain, seq FROM checkpoints").all() as { chain: string; seq: number }[]
    ).map((c) => [c.chain, c.seq]),
  );
  const journalCounts = new Map<string, number>();
  let pending: Seen[] = [];
  const compare = () => {
    const found: [number, string][] = [];
    const say = (problem: string, at = 0) => found.push([at, problem]);
    const byKind = new Map<string, Seen[]>();
    for (const s of pending) byKind.set(s.kind, [...(byKind.get(s.kind) ?? []), s]);
    for (const [kind, seen] of byKind) {
      const table = tables.get(kind);
      if (!table) {
        say(`${seen[0]!.where}: an entry of kind \`${kind}\`, which this store does not know`);
        continue;
      }
      const rows = db
        .prepare(`SELECT id, hash FROM ${table} WHERE id IN (SELECT value FROM json_each(?))`)
        .all(JSON.stringify(seen.map((s) => s.id))) as { id: string; hash: string }[];
      const hashes = new Map(rows.map((r) => [r.id, r.hash]));
      for (const s of seen) {
        const hash = hashes.get(s.id);
        if (hash === undefined)
          say(
            `${s.where}: entry \`${s.id}\` (chain \`${s.chain}\` seq ${s.seq}) is in the journal but not in the index`,
            s.at,
          );
        else if (hash !== s.hash)
          say(
            `${s.where}: entry \`${s.id}\` (chain \`${s.chain}\` seq ${s.seq}) has hash ${s.hash.slice(0, 12)}... in the journal and ${hash.slice(0, 12)}... in the index`,
            s.at,
          );
      }
    }
    for (const [, problem] of found.sort((a, b) => a[0] - b[0])) report(problem);
    pending = [];
  };
  const segments = listSegments(dir);
  for (const segment of segments) {
    const name = segmentName(segment);
    const header = segmentHeaderProblem(dir, segment);
    if (header) {
      say(`journal segment \`${name}\`: ${header}`);
      continue;
    }
    const { records, end, problem } = readSegment(dir, segment);
    // a torn tail past what the index applied is a group being written (or cut at the next start)
    if (problem && position(segment, end) < applied)
      say(`journal segment \`${name}\`: ${problem} at byte ${end}`);
    let group: Seen[] = [];
    let lastCommit = HEADER_BYTES;
    for (const record of records) {
      if (position(segment, record.offset) >= applied) break;
      if (record.type === RecordType.commit) {
        pending.push(...group);
        group = [];
        lastCommit = record.offset + record.bytes;
        if (pending.length >= LOOKUP_CHUNK) compare();
        continue;
      }
      if (record.type !== RecordType.entry) continue;
      const newline = record.payload.indexOf(10);
      const meta = JSON.parse(record.payload.toString("utf8", 0, newline)) as EntryMeta;
      if (meta.seq <= (checkpoints.get(meta.chain) ?? 0)) continue;
      journalCounts.set(meta.chain, (journalCounts.get(meta.chain) ?? 0) + 1);
      group.push({
        ...meta,
        where: `journal segment \`${name}\` byte ${record.offset}`,
        at: position(segment, record.offset),
      });
    }
    if (group.length > 0 && position(segment, lastCommit) < applied)
      say(`journal segment \`${name}\`: a group at byte ${lastCommit} has no commit marker`);
  }
  compare();
  for (const kind of kinds) {
    const counts = db
      .prepare(`SELECT chain, COUNT(*) AS n FROM ${kind.table} GROUP BY chain`)
      .all() as { chain: string; n: number }[];
    for (const c of counts) journalCounts.set(c.chain, (journalCounts.get(c.chain) ?? 0) - c.n);
  }
  for (const [chain, difference] of journalCounts)
    if (difference < 0)
      say(
        `chain \`${chain}\`: the index holds ${-difference} entries more than the journal it was filled from`,
      );
  return problems;
}
