// The journal's promise, tested against real files, real threads and real processes: an answered
// append survives a SIGKILL (and a power loss: it is answered only after its group's fdatasync), a
// torn tail left by a crash is cut back to the last commit marker and reported, damage to what was
// acknowledged is refused rather than cut, a deleted index is rebuilt from the journal, an index
// behind its journal (the process killed before the follower caught up) catches up at the next
// open, a writer thread that dies is replaced, and a failed fdatasync takes back its group.
//
// Faults are real where they can be (SIGKILL, truncated and overwritten files, a held SQLite lock,
// a terminated thread); a failing disk is `node:fs` wrapped in this process, so those tests run the
// journal inline. Tests that fail today show bugs in src, each named in the test's comment.
import { type ChildProcess, spawn } from "node:child_process";
import fs, {
  appendFileSync,
  existsSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { join } from "node:path";
import type { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import { afterEach, describe, expect, test } from "vitest";
import { AuditDamagedError, AuditUnavailableError } from "../src/audit/backend.js";
import {
  encodeRecord,
  HEADER_BYTES,
  journalDir,
  listSegments,
  position,
  RecordType,
  readSegment,
  segmentHeader,
  segmentName,
} from "../src/audit/journal.js";
import type { JournalSettings } from "../src/audit/journal-store.js";
import { AuditLog } from "../src/audit/log.js";
import { SqliteBackend } from "../src/audit/sqlite.js";
import { fillSqliteLog, inputFor, record, until } from "./audit-helpers.js";
import { tempDir } from "./helpers.js";

const CHILD = join(import.meta.dirname, "fixtures/journal-writer-child.mjs");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** A new directory for one log, removed after the test. */
function logPath(): string {
  const tmp = tempDir("clearance-journal-");
  cleanups.push(() => tmp.remove());
  return join(tmp.dir, "audit.db");
}

interface Opened {
  backend: SqliteBackend;
  log: AuditLog;
  close(): Promise<void>;
}

/**
 * The store as the server runs it (writer, follower and reader threads) unless `inline`; closed
 * after the test if the test did not close it.
 */
async function openLog(
  path: string,
  options: { chain?: string; inline?: boolean; journal?: Partial<JournalSettings> } = {},
): Promise<Opened> {
  const backend = new SqliteBackend({
    path,
    synchronous: "full",
    journal: options.journal ?? true,
    ...(options.inline ? {} : { writerThread: true, readers: 2 }),
  });
  const log = new AuditLog(backend, {
    chain: options.chain ?? "main",
    hmacSecret: null,
    maxBatch: 1000,
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await log.close();
    await backend.close();
  };
  cleanups.push(close);
  try {
    await log.open();
  } catch (error) {
    await close();
    throw error;
  }
  return { backend, log, close };
}

/** Appends `count` decisions, all in flight at once; their ids, once every one was answered. */
/**
 * Appends `count` entries, 50 at a time (a group commit each, or a few): a segment is closed
 * between two groups, so a small segment bound gives several segments.
 */
async function appendMany(log: AuditLog, count: number, time?: () => string): Promise<string[]> {
  const ids: string[] = [];
  for (let done = 0; done < count; done += 50) {
    const entries = await Promise.all(
      Array.from({ length: Math.min(50, count - done) }, () => {
        const r = record(time ? { time: time() } : {});
        return log.append(r, inputFor(r));
      }),
    );
    ids.push(...entries.map((e) => e.id));
  }
  return ids;
}

/** The last segment of the log at `path`: its number, file and size. */
function lastSegment(path: string): { segment: number; file: string; size: number } {
  const dir = journalDir(path);
  const segment = listSegments(dir).at(-1)!;
  const file = join(dir, segmentName(segment));
  return { segment, file, size: statSync(file).size };
}

/** Where the journal ends: the last segment's size as a journal position. */
function journalEnd(path: string): number {
  const { segment, size } = lastSegment(path);
  return position(segment, size);
}

/** The index's own record of how far it applied the journal, read behind the store's back. */
function indexPosition(path: string): number | undefined {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare("SELECT position FROM journal_state WHERE id = 1").get() as
      | { position: number }
      | undefined;
    return row?.position;
  } finally {
    db.close();
  }
}

/** Asserts that every id is readable with its input, and that the chain verifies and has no gap. */
async function expectWhole(log: AuditLog, ids: Iterable<string>): Promise<number> {
  const report = await log.verify();
  expect(report.ok, JSON.stringify(report.broken ?? report.damage)).toBe(true);
  const seqs = new Set<number>();
  let n = 0;
  for (const id of ids) {
    const found = await log.get(id);
    expect(found, `acknowledged entry ${id}`).toBeDefined();
    expect(found!.input, `input of ${id}`).not.toBeNull();
    seqs.add(found!.entry.seq);
    n++;
  }
  // one place in the chain each: no entry was written twice or over another
  expect(seqs.size).toBe(n);
  for (const chain of report.chains) {
    // contiguous: every seq from the chain's start to its head was walked and found whole
    expect(chain.entries, `chain ${chain.chain}`).toBe(chain.to - chain.from + 1);
    for (const seq of seqs)
      if (report.chains.length === 1) expect(seq).toBeLessThanOrEqual(chain.to);
  }
  return report.entries;
}

// --- child processes ---

interface Child {
  child: ChildProcess;
  /** the ids the child printed as acknowledged, in order */
  ids: string[];
  /** every other line it printed */
  lines: string[];
  stderr(): string;
  /** resolves once the process has exited and its output was read to the end */
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startChild(path: string, ...args: string[]): Child {
  const child = spawn(process.execPath, [CHILD, path, ...args], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const ids: string[] = [];
  const lines: string[] = [];
  let stderr = "";
  let rest = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    rest += chunk;
    for (let nl = rest.indexOf("\n"); nl >= 0; nl = rest.indexOf("\n")) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      (UUID.test(line) ? ids : lines).push(line);
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal })),
  );
  let exited = false;
  void closed.then(() => {
    exited = true;
  });
  cleanups.push(async () => {
    if (!exited) {
      child.kill("SIGKILL");
      await closed;
    }
  });
  return { child, ids, lines, stderr: () => stderr, closed };
}

/** Waits for `condition`, failing at once (with what the child said) when the child exits first. */
async function waitForChild(c: Child, condition: () => boolean, what: string): Promise<void> {
  let exited = false;
  void c.closed.then(() => {
    exited = true;
  });
  await until(
    () => {
      if (condition()) return true;
      if (exited)
        throw new Error(
          `the child exited before ${what}:\n${c.lines.join("\n")}\n${c.stderr().slice(-4000)}`,
        );
      return false;
    },
    30_000,
    what,
  );
}

describe("SIGKILL of a writer process under load", () => {
  test("three kills of the same log: every acknowledged entry is there, the chain verifies and has no gap", async () => {
    const path = logPath();
    const acknowledged: string[] = [];
    // how many acknowledgements to read before each kill: varied, so that the kill falls at a
    // different point of a group commit each round
    for (const [round, killAfter] of [300, 550, 800].entries()) {
      const c = startChild(path, "load");
      await waitForChild(c, () => c.ids.length >= killAfter, `${killAfter} acknowledgements`);
      c.child.kill("SIGKILL");
      const { signal } = await c.closed;
      expect(signal, c.stderr()).toBe("SIGKILL");
      // every id printed was acknowledged, including those read after the kill
      acknowledged.push(...c.ids);
      expect(
        c.lines.filter((l) => l.startsWith("error")),
        `round ${round}`,
      ).toEqual([]);

      const { backend, log, close } = await openLog(path);
      // opening applied the whole journal to the index, up to its end
      expect(indexPosition(path), `round ${round}`).toBe(journalEnd(path));
      const status = backend.journalStatus()!;
      expect(status.applied).toBe(journalEnd(path));
      const entries = await expectWhole(log, acknowledged);
      // at least everything acknowledged; more when a group was durable but its answer was lost
      expect(entries).toBeGreaterThanOrEqual(acknowledged.length);
      await close();
    }
    // the rounds went on from each other: one chain, every round's entries in it
    const { log, close } = await openLog(path);
    const report = await log.verify();
    expect(report.chains.map((c) => c.chain)).toEqual(["main"]);
    expect(report.chains[0]!.from).toBe(1);
    await close();
  }, 60_000);
});

// --- torn tails ---

/** A group commit as a crash would leave it half written: records of entries never acknowledged. */
function unacknowledgedGroup(): Buffer[] {
  const meta = (n: number) =>
    JSON.stringify({
      kind: "decision",
      id: `torn-${n}`,
      chain: "main",
      seq: 1_000_000 + n,
      time: new Date().toISOString(),
      columns: [],
      inputHash: "f".repeat(64),
      hash: "0".repeat(64),
    });
  return [
    encodeRecord(RecordType.input, `${"f".repeat(64)}{"torn":true}`),
    encodeRecord(RecordType.entry, `${meta(1)}\n{"torn":1}`),
    encodeRecord(RecordType.entry, `${meta(2)}\n{"torn":2}`),
    encodeRecord(RecordType.commit, JSON.stringify({ time: new Date().toISOString() })),
  ];
}

/** The same "random" bytes on every run. */
function seededBytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

interface TailCase {
  name: string;
  /** what the crash left after the last commit marker */
  tail: () => Buffer;
  problem: RegExp;
}

const TAIL_CASES: TailCase[] = [
  {
    name: "a group cut in the middle of its last record (the commit marker)",
    tail: () => {
      const whole = Buffer.concat(unacknowledgedGroup());
      const marker = unacknowledgedGroup().at(-1)!;
      return whole.subarray(0, whole.length - Math.ceil(marker.length / 2));
    },
    problem: /^a record is cut short$/,
  },
  {
    name: "a group cut in the middle of an entry record",
    tail: () => {
      const [input, entry] = unacknowledgedGroup();
      return Buffer.concat([input!, entry!.subarray(0, 20)]);
    },
    problem: /^a record is cut short$/,
  },
  {
    name: "a group cut after whole records, before its commit marker",
    tail: () => Buffer.concat(unacknowledgedGroup().slice(0, -1)),
    problem: /^records after the last commit marker$/,
  },
  {
    name: "random garbage",
    tail: () => seededBytes(777, 42),
    problem: /claims|cut short|checksum/,
  },
  {
    name: "zeroes (a file extended by the crash, its blocks never written)",
    tail: () => Buffer.alloc(4096),
    problem: /^a record claims 0 bytes$/,
  },
  {
    name: "a whole record with a valid-looking header and a bad CRC",
    tail: () => {
      const bad = Buffer.from(unacknowledgedGroup()[1]!);
      bad.writeUInt32LE((bad.readUInt32LE(4) ^ 0x5a5a5a5a) >>> 0, 4);
      return bad;
    },
    problem: /^a record fails its checksum$/,
  },
  {
    name: "a whole group whose commit marker fails its checksum",
    tail: () => {
      const group = unacknowledgedGroup();
      const marker = Buffer.from(group.at(-1)!);
      marker.writeUInt8(marker.readUInt8(marker.length - 1) ^ 0xff, marker.length - 1);
      return Buffer.concat([...group.slice(0, -1), marker]);
    },
    problem: /^a record fails its checksum$/,
  },
];

describe("a torn tail is cut back to the last commit marker", () => {
  test.each(TAIL_CASES)(
    "$name",
    async ({ tail, problem }) => {
      const path = logPath();
      const first = await openLog(path);
      const ids = await appendMany(first.log, 300);
      await first.close();
      const before = lastSegment(path);
      const torn = tail();
      appendFileSync(before.file, torn);

      const { backend, log, close } = await openLog(path);
      const repaired = backend.journalStatus()!.repaired;
      expect(repaired).toEqual({
        segment: before.segment,
        offset: before.size,
        bytes: torn.length,
        problem: expect.stringMatching(problem),
      });
      // the file ends at the last commit marker again
      expect(statSync(before.file).size).toBe(before.size);
      const records = readSegment(journalDir(path), before.segment).records;
      expect(records.at(-1)!.type).toBe(RecordType.commit);
      expect(await expectWhole(log, ids)).toBe(300);
      // and the log goes on after it (verified after a restart: verifying again on this store
      // trips over the FTS5 bug shown by the last test of this file)
      const more = await appendMany(log, 50);
      await close();

      // the repair was made once: the next start finds nothing to cut
      const again = await openLog(path);
      expect(again.backend.journalStatus()!.repaired).toBeUndefined();
      expect(await expectWhole(again.log, [...ids, ...more])).toBe(350);
      await again.close();
    },
    20_000,
  );

  test("a new segment whose header a crash cut short is removed", async () => {
    const path = logPath();
    const first = await openLog(path, { journal: { segmentBytes: 64 * 1024 } });
    const ids = await appendMany(first.log, 300);
    await first.close();
    const before = lastSegment(path);
    expect(before.segment, "the test needs more than one segment").toBeGreaterThan(1);
    const next = join(journalDir(path), segmentName(before.segment + 1));
    writeFileSync(next, segmentHeader(before.segment + 1).subarray(0, 10));

    const { backend, log, close } = await openLog(path);
    expect(backend.journalStatus()!.repaired).toEqual({
      segment: before.segment + 1,
      offset: 0,
      bytes: 10,
      problem: "a segment's header is cut short",
    });
    expect(existsSync(next)).toBe(false);
    expect(statSync(before.file).size).toBe(before.size);
    expect(await expectWhole(log, ids)).toBe(300);
    const more = await appendMany(log, 50);
    await close();
    const again = await openLog(path);
    expect(await expectWhole(again.log, [...ids, ...more])).toBe(350);
    await again.close();
  }, 20_000);
});

// --- damage to what was acknowledged ---

interface CutCase {
  name: string;
  /** damages the journal of the log at `path`; returns the file it damaged */
  damage: (path: string) => string;
  /** the message names this file (else the journal's directory) */
  namesFile: boolean;
}

const CUT_CASES: CutCase[] = [
  {
    name: "the last segment cut in the middle of a record, far before its end",
    damage: (path) => {
      const { file, segment } = lastSegment(path);
      const records = readSegment(journalDir(path), segment).records;
      const early = records[Math.floor(records.length / 4)]!;
      truncateSync(file, early.offset + 5);
      return file;
    },
    namesFile: true,
  },
  {
    name: "the last segment cut exactly after its first commit marker (no torn record to see)",
    damage: (path) => {
      const { file, segment } = lastSegment(path);
      const records = readSegment(journalDir(path), segment).records;
      const marker = records.find((r) => r.type === RecordType.commit)!;
      truncateSync(file, marker.offset + marker.bytes);
      return file;
    },
    namesFile: false,
  },
  {
    name: "the last segment removed",
    damage: (path) => {
      const { file } = lastSegment(path);
      rmSync(file);
      return file;
    },
    namesFile: false,
  },
  {
    name: "the last segment cut inside its header",
    damage: (path) => {
      const { file } = lastSegment(path);
      truncateSync(file, 10);
      return file;
    },
    namesFile: true,
  },
];

describe("damage before what the index applied is refused, never cut", () => {
  test.each(CUT_CASES)(
    "$name",
    async ({ damage, namesFile }) => {
      const path = logPath();
      // several (small) segments, then a last segment holding four acknowledged, indexed groups
      const first = await openLog(path, { journal: { segmentBytes: 64 * 1024 } });
      await appendMany(first.log, 400);
      await first.close();
      const second = await openLog(path);
      for (let i = 0; i < 4; i++) await appendMany(second.log, 5);
      await second.close();
      expect(listSegments(journalDir(path)).length).toBeGreaterThan(1);
      const last = lastSegment(path);
      expect(indexPosition(path)).toBe(position(last.segment, last.size));
      expect(readSegment(journalDir(path), last.segment).records.length).toBeGreaterThanOrEqual(8);
      const file = damage(path);
      const sizes = () =>
        listSegments(journalDir(path)).map(
          (s) => statSync(join(journalDir(path), segmentName(s))).size,
        );
      const left = sizes();

      for (let attempt = 0; attempt < 2; attempt++) {
        // refused each time (the refusal released the writer lock: the second attempt is refused
        // for the damage again, not because the log seems in use)
        const error = await openLog(path).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(AuditDamagedError);
        const message = (error as Error).message;
        expect(message).toContain(namesFile ? file : journalDir(path));
        expect(message).toMatch(/damaged|missing|before what the index has applied/);
      }
      // nothing was cut by the refused opens
      expect(sizes()).toEqual(left);
    },
    20_000,
  );
});

// --- the index deleted ---

describe("an index deleted is rebuilt from the journal", () => {
  test("two chains, a prune and removed segments: every entry and input is back, verify counts the same", async () => {
    const path = logPath();
    const settings = { segmentBytes: 32 * 1024 };
    // chain `main`: 300 entries two days old, then 300 of now; `other`: 200 of now
    const main = await openLog(path, { journal: settings });
    const old = Date.now() - 2 * 86_400_000;
    let n = 0;
    const pruned = await appendMany(main.log, 300, () => new Date(old + n++).toISOString());
    const mainIds = await appendMany(main.log, 300);
    const removed = await main.log.prune(new Date(Date.now() - 86_400_000));
    expect(removed).toBe(300);
    await main.close();
    const other = await openLog(path, { chain: "other", journal: settings });
    const otherIds = await appendMany(other.log, 200);
    const reportBefore = await other.log.verify();
    expect(reportBefore.ok).toBe(true);
    await other.close();
    // the prune removed the segments that held only pruned entries
    expect(listSegments(journalDir(path))[0]).toBeGreaterThan(1);

    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
    const { backend, log, close } = await openLog(path);
    expect(backend.created, "an index rebuilt is not a new log").toBe(false);
    expect(backend.journalStatus()!.applied).toBe(journalEnd(path));
    const report = await log.verify();
    expect(report.ok, JSON.stringify(report.broken ?? report.damage)).toBe(true);
    expect(report.entries).toBe(reportBefore.entries);
    expect(report.chains).toEqual(reportBefore.chains);
    expect(report.entries).toBe(500);
    for (const id of [...mainIds, ...otherIds]) {
      const found = await log.get(id);
      expect(found, id).toBeDefined();
      const input = await backend.entries.input(found!.entry.inputHash);
      expect(input, `input of ${id}`).toBe(
        inputFor({ sha256: found!.entry.sha256, fileName: found!.entry.fileName } as never),
      );
    }
    // pruned stays pruned
    for (const id of pruned.slice(0, 20)) expect(await log.get(id), id).toBeUndefined();
    // and the chain goes on where it ended
    const more = await appendMany(log, 10);
    await close();
    const again = await openLog(path);
    expect(await expectWhole(again.log, [...mainIds, ...more])).toBe(510);
    await again.close();
  }, 30_000);

  // A checkpoint is journaled in the segment being written when the chain is pruned; segments are
  // removed once every entry in them is pruned, counting entries only. A segment holding another
  // chain's checkpoint (and nothing live) goes with it, and a rebuilt index no longer knows where
  // that chain starts.
  test("a chain pruned whole, then written again, after another chain's prune removed the segment of its checkpoint", async () => {
    const path = logPath();
    const settings = { segmentBytes: 8 * 1024 };
    const old = Date.now() - 2 * 86_400_000;
    let n = 0;
    const oldTime = () => new Date(old + n++).toISOString();
    const dayAgo = () => new Date(Date.now() - 86_400_000);
    // `other`: 20 old entries, all pruned: its checkpoint is journaled in the current segment
    const x1 = await openLog(path, { chain: "other", journal: settings });
    await appendMany(x1.log, 20, oldTime);
    expect(await x1.log.prune(dayAgo())).toBe(20);
    await x1.close();
    const checkpointSegment = lastSegment(path).segment;
    // `main`: 100 old entries (many segments), 10 of now, then its prune
    const y = await openLog(path, { journal: settings });
    await appendMany(y.log, 100, oldTime);
    const mainIds = await appendMany(y.log, 10);
    expect(await y.log.prune(dayAgo())).toBe(100);
    await y.close();
    // `other` goes on after its checkpoint
    const x2 = await openLog(path, { chain: "other", journal: settings });
    const otherIds = await appendMany(x2.log, 10);
    const before = await x2.log.verify();
    expect(before.ok, JSON.stringify(before.broken ?? before.damage)).toBe(true);
    await x2.close();
    // the precondition of the case: the segment holding `other`'s checkpoint was removed
    expect(listSegments(journalDir(path))[0]).toBeGreaterThan(checkpointSegment);

    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
    const rebuilt = await openLog(path, { chain: "other" });
    const after = await rebuilt.log.verify();
    expect(after.ok, JSON.stringify(after.broken ?? after.damage)).toBe(true);
    expect(after.chains).toEqual(before.chains);
    await expectWhole(rebuilt.log, [...mainIds, ...otherIds]);
    await rebuilt.close();
  }, 30_000);
});

// --- the follower killed mid-apply ---

const BURST = 20_000;

describe("a process killed with acknowledged entries the index has not applied", () => {
  test.each([
    {
      name: "the follower blocked (another connection holds the index's write lock): nothing applied",
      block: true,
    },
    { name: "the follower running: killed wherever it got to", block: false },
  ])(
    "$name: opening applies the rest",
    async ({ block }) => {
      const path = logPath();
      const c = startChild(path, "burst", String(BURST), "wait");
      await waitForChild(c, () => c.lines.includes("ready"), "the store to open");
      const blocker = block ? new Database(path) : undefined;
      blocker?.prepare("BEGIN IMMEDIATE").run();
      c.child.stdin!.write("go\n");
      const { signal } = await c.closed;
      blocker?.prepare("ROLLBACK").run();
      blocker?.close();
      expect(signal, c.lines.join("\n") + c.stderr()).toBe("SIGKILL");
      // what the child had when every append was answered, written just before it killed itself
      const acked = JSON.parse(readFileSync(`${path}.acked.json`, "utf8")) as {
        status: { journaled: number; applied: number; lagEntries: number };
        ids: string[];
      };
      const status = acked.status;
      expect(acked.ids).toHaveLength(BURST);
      if (block) expect(status.lagEntries).toBe(BURST);
      // where the index stood when the process died: behind the journal (else nothing is tested)
      const before = indexPosition(path)!;
      if (block) expect(before).toBeLessThan(status.journaled);
      console.info(
        `killed with ${status.lagEntries} of ${BURST} entries not applied; the index had recorded ${before} of ${status.journaled}`,
      );

      const { backend, log, close } = await openLog(path);
      const end = journalEnd(path);
      expect(end).toBe(status.journaled);
      expect(indexPosition(path)).toBe(end);
      expect(backend.journalStatus()).toMatchObject({
        applied: end,
        journaled: end,
        lagEntries: 0,
      });
      const report = await log.verify();
      expect(report.ok, JSON.stringify(report.broken ?? report.damage)).toBe(true);
      expect(report.entries).toBe(BURST);
      // every acknowledged id, read back by id (a sample of inputs: all 20,000 cost seconds)
      for (const [i, id] of acked.ids.entries()) {
        const found = await log.get(id);
        expect(found, id).toBeDefined();
        if (i % 1000 === 0) expect(found!.input).not.toBeNull();
      }
      await close();
    },
    60_000,
  );
});

// --- a crash while an old log is copied into a new journal ---

describe("a crash while a log written before the journal is copied into it", () => {
  // The copy appends a group per 1,000 entries, then records in the index that it applied the
  // journal (`journal_state`). A crash in between leaves a journal holding a prefix of the log and
  // an index without that record, which is also what an index deleted beside a whole journal looks
  // like. The journal must end up holding the whole log either way: it is the durable record, and
  // an index rebuilt from it later must find every entry.
  test("the next open leaves a journal holding every entry of the log", async () => {
    const path = logPath();
    await fillSqliteLog(path, 5_000, { key: null, chain: "main" });
    // the copy, whole, as the first open with the journal makes it
    const first = await openLog(path);
    expect(first.backend.journalStatus()!.migrated).toBe(5_000);
    await first.close();
    // ... then put back as a crash after the copy's second group would have left it: the copy is
    // made beside the journal's place (`.journal.copying`) and moved there once whole, so a crash
    // leaves a partial copy there, no journal, and an index without its record of one
    const { file, segment } = lastSegment(path);
    const markers = readSegment(journalDir(path), segment).records.filter(
      (r) => r.type === RecordType.commit,
    );
    expect(markers.length).toBeGreaterThanOrEqual(5);
    truncateSync(file, markers[1]!.offset + markers[1]!.bytes);
    renameSync(journalDir(path), `${journalDir(path)}.copying`);
    const db = new Database(path);
    db.prepare("DELETE FROM journal_state").run();
    db.close();

    const second = await openLog(path);
    const report = await second.log.verify();
    // soft: the rebuild below shows what a failure here costs
    expect.soft(report.ok, JSON.stringify(report.broken ?? report.damage)).toBe(true);
    expect.soft(report.entries).toBe(5_000);
    await second.close();
    // the journal is what a rebuilt index is made from: every entry must come back from it
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
    const rebuilt = await openLog(path);
    const after = await rebuilt.log.verify();
    expect(after.ok, JSON.stringify(after.broken ?? after.damage)).toBe(true);
    expect(after.entries, "entries in the journal").toBe(5_000);
    await rebuilt.close();
  }, 30_000);
});

// --- the writer thread dies ---

describe("the journal writer thread dies under load (the process lives on)", () => {
  test("appends go on with a new writer: every answered entry is there, the chain verifies and has no gap", async () => {
    const path = logPath();
    const { backend, log, close } = await openLog(path);
    const answered: string[] = [];
    const refused: string[] = [];
    let stop = false;
    // ~50 appends in flight, as in the SIGKILL test, until told to stop
    const lane = async () => {
      while (!stop) {
        const r = record();
        await log.append(r, inputFor(r)).then(
          (e) => answered.push(e.id),
          (e: Error) => refused.push(e.message),
        );
      }
    };
    const lanes = Array.from({ length: 50 }, lane);
    const journal = (backend as unknown as { journal: { writer: Worker | undefined } }).journal;
    for (const killAt of [300, 900]) {
      await until(() => answered.length >= killAt, 20_000, `${killAt} answers`);
      const writer = journal.writer;
      expect(writer, "the store runs a writer thread").toBeDefined();
      // as a thread that crashed: whatever it was doing, at whatever point
      await writer!.terminate();
    }
    await until(() => answered.length >= 1_500, 20_000, "answers from the third writer");
    stop = true;
    await Promise.all(lanes);
    // refusals are allowed (a group in flight when the thread died), and only with the writer's
    // stop as their reason
    for (const m of refused) expect(m).toMatch(/writer stopped/);
    console.info(`${answered.length} answered, ${refused.length} refused by the writers' deaths`);
    await close();

    const again = await openLog(path);
    const entries = await expectWhole(again.log, answered);
    expect(entries).toBeGreaterThanOrEqual(answered.length);
    expect(entries).toBeLessThanOrEqual(answered.length + refused.length);
    expect(indexPosition(path)).toBe(journalEnd(path));
    await again.close();
  }, 40_000);
});

describe("the index follower thread dies while it applies (the process lives on)", () => {
  test("a new follower resumes where the index recorded it stopped: every answered entry is read back, nothing twice", async () => {
    const path = logPath();
    const { backend, log, close } = await openLog(path);
    const journal = (backend as unknown as { journal: { follower: Worker | undefined } }).journal;
    const answered: string[] = [];
    for (let round = 0; round < 3; round++) {
      // a burst the follower is still applying when it is terminated
      answered.push(...(await appendMany(log, 2_000)));
      // the one before started again (a second after it died)
      await until(() => journal.follower !== undefined, 10_000, "a follower thread");
      await journal.follower!.terminate();
    }
    // reads wait for the index: a new follower (started a second after the last one died) applies
    // the rest from `journal_state`
    for (const id of [answered[0]!, answered[2_500]!, answered.at(-1)!])
      expect((await log.get(id))?.entry.id).toBe(id);
    expect(backend.journalStatus()!.lagEntries).toBe(0);
    expect(indexPosition(path)).toBe(journalEnd(path));
    const report = await log.verify();
    expect(report).toMatchObject({ ok: true, entries: 6_000 });
    await close();
  }, 60_000);
});

// --- power loss: answers only after the group's fdatasync ---

/**
 * For each answered id, what is wrong with the order of `events`: its write, then a sync that
 * started after that write and ended, then its answer. Empty when every answer waited.
 */
function orderProblems(events: readonly string[], answered: readonly string[]): string[] {
  const problems: string[] = [];
  for (const id of answered) {
    const answer = events.indexOf(`answered ${id}`);
    const write = events.findIndex((e) => e.startsWith("write ") && e.includes(id));
    const syncStart = write < 0 ? -1 : events.indexOf("sync-start", write);
    const syncEnd = syncStart < 0 ? -1 : events.indexOf("sync-end", syncStart);
    if (write < 0) problems.push(`${id}: never written`);
    else if (syncStart < 0 || syncEnd < 0) problems.push(`${id}: no sync after its write`);
    else if (answer < syncEnd) problems.push(`${id}: answered before its sync ended`);
  }
  return problems;
}

const originalFdatasync = fs.fdatasyncSync;
const originalWritev = fs.writevSync;
const originalWriteSync = fs.writeSync;

function restoreFs(): void {
  fs.fdatasyncSync = originalFdatasync;
  fs.writevSync = originalWritev;
  fs.writeSync = originalWriteSync;
  syncBuiltinESMExports();
}

describe("fdatasync: no answer before it returned, and its failures (inline journal, node:fs wrapped)", () => {
  afterEach(restoreFs);

  test("the order of writes, syncs and answers", async () => {
    const path = logPath();
    const { log, close } = await openLog(path, { inline: true });
    const events: string[] = [];
    fs.writevSync = ((fd: number, buffers: readonly NodeJS.ArrayBufferView[], pos?: number) => {
      const ids = Buffer.concat(buffers as Buffer[])
        .toString("latin1")
        .match(/"id":"[0-9a-f-]{36}"/g);
      events.push(`write ${(ids ?? []).map((m) => m.slice(6, -1)).join(" ")}`);
      return originalWritev(fd, buffers, pos);
    }) as typeof fs.writevSync;
    fs.fdatasyncSync = ((fd: number) => {
      events.push("sync-start");
      originalFdatasync(fd);
      events.push("sync-end");
    }) as typeof fs.fdatasyncSync;
    // the journal module imports these by name: the wrappers must be what it calls
    syncBuiltinESMExports();

    const answered: string[] = [];
    await Promise.all(
      Array.from({ length: 400 }, () => {
        const r = record();
        return log.append(r, inputFor(r)).then((e) => {
          events.push(`answered ${e.id}`);
          answered.push(e.id);
        });
      }),
    );
    restoreFs();
    const syncs = events.filter((e) => e === "sync-end").length;
    expect(
      syncs,
      "the wrapped fdatasyncSync was never called: the journal did not see it",
    ).toBeGreaterThan(0);
    // grouped: fewer syncs than entries
    expect(syncs).toBeLessThan(400);
    expect(orderProblems(events, answered)).toEqual([]);
    // the check itself can fail: an answer given between a write and its sync is caught
    const early = ["write a", "answered a", "sync-start", "sync-end"];
    expect(orderProblems(early, ["a"])).toHaveLength(1);
    expect(orderProblems(["write a", "sync-start", "answered a", "sync-end"], ["a"])).toHaveLength(
      1,
    );
    await expectWhole(log, answered);
    await close();
  });

  test("an fdatasync that fails (EIO): the append is refused, the segment cut back, the next append succeeds", async () => {
    const path = logPath();
    const { backend, log, close } = await openLog(path, { inline: true });
    const ids = await appendMany(log, 20);
    const before = lastSegment(path);
    let failures = 0;
    fs.fdatasyncSync = ((fd: number) => {
      if (failures++ === 0)
        throw Object.assign(new Error("EIO: i/o error, fdatasync"), {
          code: "EIO",
          errno: -5,
          syscall: "fdatasync",
        });
      originalFdatasync(fd);
    }) as typeof fs.fdatasyncSync;
    syncBuiltinESMExports();

    const lost = record();
    const refused = await log.append(lost, inputFor(lost)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failures, "the wrapped fdatasyncSync was never called").toBeGreaterThan(0);
    expect(refused).toBeInstanceOf(AuditUnavailableError);
    expect((refused as Error).message).toMatch(/EIO/);
    // the bytes of the failed group were cut: the journal ends where it did
    expect(statSync(before.file).size).toBe(before.size);
    expect(backend.journalStatus()!.journaled).toBe(journalEnd(path));
    expect(await log.get(lost.id)).toBeUndefined();

    const next = await appendMany(log, 5);
    restoreFs();
    expect(await expectWhole(log, [...ids, ...next])).toBe(25);
    await close();

    // and after a restart: nothing to repair, the same 25 entries
    const again = await openLog(path, { inline: true });
    expect(again.backend.journalStatus()!.repaired).toBeUndefined();
    expect(await expectWhole(again.log, [...ids, ...next])).toBe(25);
    expect(await again.log.get(lost.id)).toBeUndefined();
    await again.close();
  });

  // A group commit that fills its segment is durable once its fdatasync returned; the new
  // segment is made after that. When making it fails (its fdatasync fails here; ENOSPC or EMFILE
  // would do the same), the group is in the journal, closed by its commit marker, and will be
  // indexed. Whatever its callers are told, the chain must not fork: the next group must follow
  // it, never reuse its seqs.
  test("the new segment cannot be made after a durable group commit filled the last one: the chain does not fork", async () => {
    const path = logPath();
    const { log, close } = await openLog(path, {
      inline: true,
      journal: { segmentBytes: 16 * 1024 },
    });
    const ids = await appendMany(log, 5);
    // one group (all sent in one turn of the event loop), larger than a segment: it fills it
    const filled = await Promise.all(
      Array.from({ length: 30 }, () => {
        const r = record();
        return log.append(r, inputFor(r));
      }),
    );
    let headerWritten = false;
    let failed = 0;
    fs.writeSync = ((fd: number, buffer: Buffer, ...rest: unknown[]) => {
      if (Buffer.isBuffer(buffer) && buffer.subarray(0, 8).toString("latin1") === "CLRJRNL1")
        headerWritten = true;
      return (originalWriteSync as (...a: unknown[]) => number)(fd, buffer, ...rest);
    }) as typeof fs.writeSync;
    fs.fdatasyncSync = ((fd: number) => {
      if (headerWritten && failed === 0) {
        failed++;
        throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
      }
      originalFdatasync(fd);
    }) as typeof fs.fdatasyncSync;
    syncBuiltinESMExports();

    // the next group starts the next segment first: its header's sync fails, and fails that group
    // alone (the one before is durable, and was answered)
    const settled = await Promise.allSettled([log.append(record(), "{}")]);
    expect(failed, "the new segment's fdatasync was never called").toBe(1);
    expect(settled[0]!.status).toBe("rejected");
    restoreFs();
    const answered = [...filled.map((e) => e.id)];
    // the failure was transient: the log writes again (a refusal here would last until a restart)
    const after: string[] = [];
    const refusals: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = record();
      await log.append(r, inputFor(r)).then(
        (e) => after.push(e.id),
        (e: Error) => refusals.push(e.message),
      );
    }
    await close();

    const again = await openLog(path, { inline: true });
    const report = await again.log.verify();
    expect(report.ok, JSON.stringify(report.broken ?? report.damage)).toBe(true);
    // every entry answered is there, each at a seq of its own
    expect(await expectWhole(again.log, [...ids, ...answered, ...after])).toBeGreaterThanOrEqual(
      ids.length + answered.length + after.length,
    );
    await again.close();
    expect(refusals, "appends after the transient failure").toEqual([]);
  });
});

// --- found while writing these tests ---

describe("found while writing these tests", () => {
  // SQLite's FTS5 keeps an index's structure cached per connection, and `PRAGMA quick_check` does
  // not refresh it: on a long-lived reader thread's connection, another connection's writes since
  // its last check are reported as "fts5: corruption found reading blob ..." in `damage.pages`.
  // Independent of the journal (it happens without one too), but it makes `verify()` on the
  // server's store report an intact log as damaged after any write.
  test("verify, append, verify on one store with reader threads: no damage reported", async () => {
    const path = logPath();
    const { log, close } = await openLog(path);
    await appendMany(log, 300);
    expect((await log.verify()).damage?.pages ?? []).toEqual([]);
    const more = await appendMany(log, 50);
    const report = await log.verify();
    expect(report.damage?.pages ?? [], "a fresh connection finds the file intact").toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.entries).toBe(350);
    expect(more).toHaveLength(50);
    await close();
  });

  // The index records how far it applied the journal (`journal_state.position`) in each
  // transaction, but a `catchUp` that applied entries does not record its last step, to the next
  // segment's start, when the journal goes on in a new segment holding only its header (the last
  // group filled the segment before it). An open that applied entries (an index rebuilt, or one
  // behind after a crash) then leaves the record at the end of the full segment while the journal
  // and the store's `status().applied` are at the new one's header; a later `catchUp` with no
  // entries to apply fixes it. Nothing is lost, but the record is not the journal's end, and the
  // check of a cut against what the index applied (`JournalFiles.open`) is that much weaker.
  test("journal_state records the journal's end after an open that applied entries up to a new, empty segment", async () => {
    const path = logPath();
    const { log, close } = await openLog(path, { journal: { segmentBytes: 16 * 1024 } });
    await appendMany(log, 30);
    await close();
    // a crash after the next segment was made, before its first group was written: the journal
    // goes on in a segment holding its header only
    const full = lastSegment(path);
    writeFileSync(
      join(journalDir(path), segmentName(full.segment + 1)),
      segmentHeader(full.segment + 1),
    );
    const last = lastSegment(path);
    expect(last.segment).toBe(full.segment + 1);
    expect(last.size).toBe(HEADER_BYTES);
    // the index deleted: the open applies every entry again
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
    const reopened = await openLog(path);
    const end = journalEnd(path);
    expect(reopened.backend.journalStatus()!.applied).toBe(end);
    expect(indexPosition(path)).toBe(end);
    await reopened.close();
  });
});
