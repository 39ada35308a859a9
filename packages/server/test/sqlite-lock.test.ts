import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { AuditDamagedError } from "../src/audit/backend.js";
import { SqliteBackend } from "../src/audit/sqlite.js";
import { AuditInUseError, WriterLock } from "../src/audit/sqlite-lock.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function logPath(): string {
  const d = mkdtempSync(join(tmpdir(), "clearance-lock-"));
  dirs.push(d);
  return join(d, "audit.db");
}

test("one writer per log: a second is refused, readers are not, and closing frees it", async () => {
  const path = logPath();
  const first = new SqliteBackend({ path, synchronous: "normal" });
  await first.open();
  let refused: unknown;
  try {
    await new SqliteBackend({ path, synchronous: "normal" }).open();
  } catch (error) {
    refused = error;
  }
  expect(refused).toBeInstanceOf(AuditInUseError);
  expect((refused as AuditInUseError).holder).toMatchObject({ pid: process.pid, host: hostname() });
  expect((refused as Error).message).toBe(
    `the audit log \`${path}\` is already being written by process ${process.pid} on ${hostname()}, since ${(refused as AuditInUseError).holder!.since} (it holds \`${path}.lock\`)`,
  );
  // `clearance audit verify|export|query|tail` open read-only and take no lock
  const reader = new SqliteBackend({ path, synchronous: "normal", readonly: true });
  await reader.open();
  await reader.close();
  await first.close();
  const again = new SqliteBackend({ path, synchronous: "normal" });
  await again.open();
  await again.close();
});

test("a log that cannot be opened releases the lock it took", async () => {
  const path = logPath();
  writeFileSync(path, "this is not an SQLite database, and it is long enough to look like one");
  await expect(new SqliteBackend({ path, synchronous: "normal" }).open()).rejects.toThrow(
    AuditDamagedError,
  );
  const lock = WriterLock.acquire(path);
  expect(() => WriterLock.acquire(path)).toThrow(AuditInUseError);
  lock.release();
  lock.release(); // twice is harmless
  WriterLock.acquire(path).release();
});
