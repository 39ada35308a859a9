import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { AuditLog } from "../src/audit/log.js";
import { SqliteBackend } from "../src/audit/sqlite.js";
import { record } from "./audit-helpers.js";

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
        for (let i = 0; i < 300; i++) {
          await log.append(record(), JSON.stringify({ client, i, filler }));
          written++;
          largest = Math.max(largest, walBytes());
        }
      }),
    );
    await log.close();
    expect(written).toBe(12_000);
    // 12,000 entries of ~4 kB write some 90 MB through the WAL; without the writer finishing each
    // checkpoint it grew to over 30 MB here, with it to about 6 MB
    expect(largest).toBeGreaterThan(0);
    expect(largest).toBeLessThan(16 * 1024 * 1024);
  }, 60_000);
});
