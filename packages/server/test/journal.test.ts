import {
  appendFileSync,
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { AuditDamagedError } from "../src/audit/backend.js";
import {
  encodeRecord,
  HEADER_BYTES,
  journalDir,
  listSegments,
  parseRecords,
  RecordType,
  readSegment,
  segmentName,
} from "../src/audit/journal.js";
import { AuditLog } from "../src/audit/log.js";
import { fileNameOf } from "../src/audit/name-search.js";
import { entryParts } from "../src/audit/seal.js";
import { SqliteBackend } from "../src/audit/sqlite.js";
import { inputFor, record } from "./audit-helpers.js";

const dirs: string[] = [];
const logs: AuditLog[] = [];
afterEach(async () => {
  for (const l of logs.splice(0)) await l.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "clearance-journal-"));
  dirs.push(dir);
  return join(dir, "audit.db");
}

async function openLog(path: string, options: { segmentBytes?: number } = {}): Promise<AuditLog> {
  const backend = new SqliteBackend({
    path,
    synchronous: "normal",
    journal: { segmentBytes: options.segmentBytes ?? 64 * 1024 * 1024 },
  });
  const log = new AuditLog(backend, { chain: "main", hmacSecret: "k".repeat(16), maxBatch: 100 });
  await log.open();
  logs.push(log);
  return log;
}

describe("records", () => {
  it("read back as written, each where it starts, whatever their text", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.constantFrom(1, 2, 3, 4), fc.string({ unit: "grapheme", maxLength: 300 })),
          {
            maxLength: 20,
          },
        ),
        (items) => {
          const buffers = items.map(([type, text]) => encodeRecord(type as 1 | 2 | 3 | 4, text));
          const parsed = parseRecords(Buffer.concat(buffers), 7, HEADER_BYTES);
          expect(parsed.problem).toBeUndefined();
          expect(parsed.records.map((r) => [r.type, r.payload.toString("utf8")])).toEqual(items);
          let offset = HEADER_BYTES;
          for (const [i, r] of parsed.records.entries()) {
            expect(r).toMatchObject({ segment: 7, offset, bytes: buffers[i]!.length });
            offset += buffers[i]!.length;
          }
        },
      ),
    );
  });

  it("a cut anywhere, or a byte changed anywhere, is found where it is and never read as data", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 200 }), { minLength: 1, maxLength: 8 }),
        fc.nat(),
        fc.boolean(),
        (texts, at, flip) => {
          const buffers = texts.map((t) => encodeRecord(RecordType.entry, t));
          const whole = Buffer.concat(buffers);
          const where = at % whole.length;
          const damaged = flip
            ? Buffer.from(whole).fill(whole[where]! ^ 0x5a, where, where + 1)
            : whole.subarray(0, where);
          const parsed = parseRecords(damaged, 1, 0);
          // the records before the damaged one are read whole, and nothing after it
          let start = 0;
          let intact = 0;
          for (const b of buffers) {
            if (start + b.length > where) break;
            start += b.length;
            intact++;
          }
          expect(parsed.records).toHaveLength(intact);
          expect(parsed.end).toBe(start);
          // a cut between two records leaves whole records only: nothing to find
          if (!flip && start === where) expect(parsed.problem).toBeUndefined();
          else expect(parsed.problem).toMatch(/cut short|fails its checksum|claims/);
        },
      ),
    );
  });
});

describe("fileNameOf", () => {
  it("reads what JSON.parse reads from a canonical body, for any name", () => {
    fc.assert(
      fc.property(
        fc.option(fc.string({ unit: "binary", maxLength: 80 })),
        fc.string({ maxLength: 40 }),
        (fileName, requester) => {
          const r = record({ fileName, requester, reason: `says ,"fileName":"x" ${requester}` });
          const { before, after } = entryParts(r);
          const body = `{"v":1,${before},"inputHash":"${"0".repeat(64)}",${after}}`;
          expect(fileNameOf(body)).toBe((JSON.parse(body) as { fileName: string | null }).fileName);
        },
      ),
    );
  });
});

describe("the journal on disk", () => {
  it("closes segments at their size bound and reads every entry back, inputs from the journal", async () => {
    const path = tempPath();
    const log = await openLog(path, { segmentBytes: 64 * 1024 });
    const written = [];
    for (let i = 0; i < 60; i++) {
      const r = record();
      written.push(await log.append(r, inputFor(r, "x".repeat(3_000))));
    }
    const segments = listSegments(journalDir(path));
    expect(segments.length).toBeGreaterThan(2);
    for (const e of written) {
      const read = await log.get(e.id);
      expect(read?.entry).toEqual(e);
      expect(read?.input).toMatchObject({ extra: "x".repeat(3_000) });
    }
    expect(await log.verify()).toMatchObject({ ok: true, entries: 60 });
  });

  it("keeps each input once a segment, so that a segment removed takes no other segment's input", async () => {
    const path = tempPath();
    const log = await openLog(path, { segmentBytes: 1024 * 1024 });
    const shared = JSON.stringify({ shared: "y".repeat(500) });
    for (let i = 0; i < 5; i++) await log.append(record(), shared);
    const { records } = readSegment(journalDir(path), 1);
    expect(records.filter((r) => r.type === RecordType.input)).toHaveLength(1);
    expect(records.filter((r) => r.type === RecordType.entry)).toHaveLength(5);
    expect(records.filter((r) => r.type === RecordType.commit)).toHaveLength(5);
  });

  it("retention removes whole segments once every entry in them is pruned, and what is left verifies", async () => {
    const path = tempPath();
    const log = await openLog(path, { segmentBytes: 64 * 1024 });
    const old = (i: number) => `2020-01-01T00:00:${String(i).padStart(2, "0")}.000Z`;
    for (let i = 0; i < 40; i++) {
      const r = record({ time: old(i) });
      await log.append(r, inputFor(r, "o".repeat(3_000)));
    }
    const recent = [];
    for (let i = 0; i < 5; i++) {
      const r = record();
      recent.push(await log.append(r, inputFor(r, "n".repeat(3_000))));
    }
    const before = listSegments(journalDir(path));
    expect(await log.prune(new Date("2021-01-01T00:00:00.000Z"))).toBe(40);
    const after = listSegments(journalDir(path));
    expect(after.length).toBeLessThan(before.length);
    expect(after[0]).toBeGreaterThan(before[0]!);
    for (const e of recent)
      expect((await log.get(e.id))?.input).toMatchObject({ extra: "n".repeat(3_000) });
    expect(await log.verify()).toMatchObject({ ok: true, entries: 5 });
    await log.close();
    // the index rebuilt from what is left has the checkpoint and the recent entries only
    for (const f of ["", "-wal", "-shm"]) rmSync(`${path}${f}`, { force: true });
    const again = await openLog(path, { segmentBytes: 64 * 1024 });
    expect(await again.verify()).toMatchObject({ ok: true, entries: 5 });
    expect((await again.append(record(), "{}")).seq).toBe(46);
  });
});

describe("verification of the journal against its index", () => {
  const cases: { what: string; damage: (path: string) => void; finds: RegExp }[] = [
    {
      what: "a byte of an entry record changed",
      damage: (path) => {
        const file = join(journalDir(path), segmentName(1));
        const bytes = readFileSync(file);
        const at = bytes.indexOf('"decision":"', HEADER_BYTES) + 12;
        const fd = openSync(file, "r+");
        writeSync(fd, Buffer.from("X"), 0, 1, at);
        closeSync(fd);
      },
      finds: /journal segment `00000001\.seg`: a record fails its checksum at byte \d+/,
    },
    {
      what: "a segment's header overwritten",
      damage: (path) => {
        const fd = openSync(join(journalDir(path), segmentName(1)), "r+");
        writeSync(fd, Buffer.from("NOTAJRNL"), 0, 8, 0);
        closeSync(fd);
      },
      finds: /journal segment `00000001\.seg`: it does not start as a journal segment/,
    },
    {
      what: "an entry removed from the index",
      damage: (path) => {
        const db = new Database(path);
        db.prepare("DELETE FROM entries WHERE seq = 2").run();
        db.close();
      },
      finds: /entry `[0-9a-f-]+` \(chain `main` seq 2\) is in the journal but not in the index/,
    },
  ];

  it.each(cases)("$what: $finds", async ({ damage, finds }) => {
    const path = tempPath();
    const log = await openLog(path);
    for (let i = 0; i < 4; i++) await log.append(record({ decision: "deny" }), "{}");
    expect(await log.verify()).toMatchObject({ ok: true, entries: 4 });
    await log.close();
    logs.length = 0;
    damage(path);
    const reader = new SqliteBackend({ path, synchronous: "normal", readonly: true });
    try {
      await reader.open();
      const problems = await reader.entries.checkPages();
      expect(problems.join("\n")).toMatch(finds);
    } finally {
      await reader.close();
    }
  });

  it("a torn tail being written is not damage to a reader", async () => {
    const path = tempPath();
    const log = await openLog(path);
    await log.append(record(), "{}");
    const file = join(journalDir(path), segmentName(1));
    const size = statSync(file).size;
    appendFileSync(file, encodeRecord(RecordType.entry, "{}").subarray(0, 10));
    const reader = new SqliteBackend({ path, synchronous: "normal", readonly: true });
    try {
      await reader.open();
      expect(await reader.entries.checkPages()).toEqual([]);
    } finally {
      await reader.close();
    }
    expect(statSync(file).size).toBe(size + 10);
  });
});

describe("a hostile record whose checksum holds", () => {
  /** A log of two entries, closed, with `records` and a commit marker appended to its journal. */
  async function withGroup(records: Buffer[]): Promise<string> {
    const path = tempPath();
    const log = await openLog(path);
    await log.append(record(), "{}");
    await log.append(record(), "{}");
    await log.close();
    logs.length = 0;
    appendFileSync(
      join(journalDir(path), segmentName(1)),
      Buffer.concat([...records, encodeRecord(RecordType.commit, "{}")]),
    );
    return path;
  }

  const cases: { what: string; records: Buffer[]; says: RegExp }[] = [
    {
      what: "an entry whose first line is not JSON",
      records: [encodeRecord(RecordType.entry, '{"kind":"decision",\n{}')],
      says: /cannot be applied: .*JSON/,
    },
    {
      what: "an entry of a kind this store does not know",
      records: [
        encodeRecord(
          RecordType.entry,
          `${JSON.stringify({ kind: "mystery", id: "x", chain: "main", seq: 3, time: "t", columns: [], inputHash: null, hash: "h" })}\n{}`,
        ),
      ],
      says: /cannot be applied: the journal holds an entry of kind `mystery`/,
    },
    {
      what: "a record of a type this Clearance does not know",
      records: [encodeRecord(99 as 1, "{}")],
      says: /cannot be applied: the journal holds a record of type 99/,
    },
    {
      what: "a checkpoint that is not JSON",
      records: [encodeRecord(RecordType.checkpoint, "checkpoint")],
      says: /cannot be applied: .*JSON/,
    },
  ];

  it.each(cases)(
    "$what: the log is refused as damaged, saying where",
    async ({ records, says }) => {
      const path = await withGroup(records);
      const backend = new SqliteBackend({ path, synchronous: "normal", journal: true });
      const opening = backend.open();
      await expect(opening).rejects.toBeInstanceOf(AuditDamagedError);
      await expect(opening).rejects.toThrow(
        /the audit journal `.*00000001\.seg` is damaged: the group at byte \d+/,
      );
      await expect(opening).rejects.toThrow(says);
      await backend.close();
    },
  );

  it("any text as an entry's first line: applied, or refused as damage; never another failure", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "binary", maxLength: 200 }), async (text) => {
        const path = await withGroup([encodeRecord(RecordType.entry, `${text}\n{}`)]);
        const backend = new SqliteBackend({ path, synchronous: "normal", journal: true });
        try {
          await backend.open();
        } catch (error) {
          expect(error).toBeInstanceOf(AuditDamagedError);
        } finally {
          await backend.close();
        }
      }),
      { numRuns: 25 },
    );
  });
});
