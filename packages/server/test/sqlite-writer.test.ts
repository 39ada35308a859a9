import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { AuditUnavailableError } from "../src/audit/backend.js";
import { AuditLog } from "../src/audit/log.js";
import { SqliteBackend } from "../src/audit/sqlite.js";
import { inputFor, record } from "./audit-helpers.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("the SQLite writer thread", () => {
  test("keeps the write-ahead log bounded while writes never pause", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clearance-wal-"));
    dirs.push(dir);
    const path = join(dir, "audit.db");
    const log = new AuditLog(
      new SqliteBackend({ path, synchronous: "normal", writerThread: true, checkpointPages: 50 }),
      { chain: "main", hmacSecret: null, maxBatch: 100 },
    );
    await log.open();
    const walBytes = () => {
      try {
        return statSync(`${path}-wal`).size;
      } catch {
        return 0;
      }
    };
    // 40 clients appending back to back: the writer always has a transaction to run, so the
    // checkpointer's own pass can never catch up with it and the WAL could only grow
    const filler = "x".repeat(2_000);
    let largest = 0;
    let written = 0;
    await Promise.all(
      Array.from({ length: 40 }, async (_, client) => {
        for (let i = 0; i < 600; i++) {
          await log.append(record(), JSON.stringify({ client, i, filler }));
          written++;
          largest = Math.max(largest, walBytes());
        }
      }),
    );
    await log.close();
    expect(written).toBe(24_000);
    // 24,000 entries of ~4 kB write some 180 MB through the WAL. Without the writer finishing each
    // checkpoint, half of them grew it past 30 MB; with it, it stays about 6 MB on an idle machine.
    // On a loaded one the checkpointer thread gets less time and the high-water mark reached 17-26
    // MB (CI, beside other work): the bound sits well between that and the unbounded growth, which
    // grows with the entries written while the mark does not.
    const mb = (largest / 1024 / 1024).toFixed(1);
    expect(largest, `the WAL's largest size, ${mb} MB`).toBeGreaterThan(0);
    expect(largest, `the WAL's largest size, ${mb} MB`).toBeLessThan(45 * 1024 * 1024);
  }, 60_000);

  async function openLog(dir: string) {
    const backend = new SqliteBackend({
      path: join(dir, "audit.db"),
      synchronous: "normal",
      writerThread: true,
    });
    const log = new AuditLog(backend, { chain: "main", hmacSecret: "k", maxBatch: 100 });
    await log.open();
    return { log, backend };
  }

  test("one call's bad entry fails that call only, not the calls sharing its transaction", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clearance-writer-"));
    dirs.push(dir);
    const { log } = await openLog(dir);
    const first = await log.append(record(), "{}");
    // a large call keeps the thread busy while 30 one-entry calls (one an event-loop turn each)
    // queue behind it, to be written together in its next transaction
    const busy = Array.from({ length: 100 }, (_, i) => {
      const r = record();
      return log.append(r, JSON.stringify({ i, pad: "x".repeat(20_000) }));
    });
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setImmediate(r));
      const r = i === 15 ? { ...record(), id: first.id } : record();
      calls.push(log.append(r, inputFor(r, i)));
    }
    await Promise.all(busy);
    const settled = await Promise.allSettled(calls);
    const rejected = settled.filter((s) => s.status === "rejected");
    expect(rejected).toHaveLength(1);
    expect((rejected[0] as PromiseRejectedResult).reason).toBeInstanceOf(AuditUnavailableError);
    expect(await log.verify()).toMatchObject({ ok: true, entries: 130 });
    await log.close();
  });

  test("a crashed writer thread fails the calls in flight; the next append starts a new one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "clearance-writer-"));
    dirs.push(dir);
    const { log, backend } = await openLog(dir);
    await log.append(record(), "{}");
    const thread = (backend as unknown as { thread: { terminate(): Promise<number> } }).thread;
    const inFlight = log.append(record(), "{}");
    await thread.terminate();
    // written before the crash, or refused: never left hanging
    const outcome = await inFlight.then(
      () => "written",
      (e) => (e instanceof AuditUnavailableError ? "refused" : `other: ${e}`),
    );
    expect(["written", "refused"]).toContain(outcome);
    const next = await log.append(record(), "{}");
    expect(next.seq).toBe(outcome === "written" ? 3 : 2);
    expect(await log.verify()).toMatchObject({ ok: true });
    // and closing does not wait for the dead thread
    await log.close();
  });
});
