// A damaged or emptied SQLite log is named and refused, never taken for a new one: at start (the
// server does not start), while the server runs (readiness fails, decisions are refused), and by
// verification (which says what SQLite said and which entries it lost). `audit.startNewLog` moves
// a damaged log aside and starts a new one.
import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, test } from "vitest";
import { AuditDamagedError } from "../src/audit/backend.js";
import { AuditLog } from "../src/audit/log.js";
import { SqliteBackend } from "../src/audit/sqlite.js";
import { resolveConfig } from "../src/config.js";
import { type RunningServer, startServer } from "../src/server.js";
import { fillSqliteLog, until } from "./audit-helpers.js";
import { example, RULES, tempDir, waitFor } from "./helpers.js";

const KEY = "damage-test-hmac-key";
const ENTRIES = 3_000;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** A directory holding a healthy log of ENTRIES entries at `path`. */
async function healthyLog(): Promise<{ dir: string; path: string }> {
  const tmp = tempDir("clearance-damage-");
  cleanups.push(() => tmp.remove());
  const path = join(tmp.dir, "audit.db");
  await fillSqliteLog(path, ENTRIES, { key: KEY, chain: "main" });
  return { dir: tmp.dir, path };
}

function overwrite(path: string, offset: number, bytes: Buffer): void {
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** The first page of the named table or index (pages are 1-based). */
function rootPage(path: string, name: string): { offset: number; pageSize: number } {
  const db = new Database(path, { readonly: true });
  try {
    const { rootpage } = db
      .prepare("SELECT rootpage FROM sqlite_schema WHERE name = ?")
      .get(name) as {
      rootpage: number;
    };
    const pageSize = db.pragma("page_size", { simple: true }) as number;
    return { offset: (rootpage - 1) * pageSize, pageSize };
  } finally {
    db.close();
  }
}

function sql(path: string, statement: string, ...params: unknown[]): void {
  const db = new Database(path);
  try {
    db.prepare(statement).run(...params);
  } finally {
    db.close();
  }
}

/** A seeded stream of bytes: the same "random" damage on every run. */
function noise(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1_103_515_245 + 12_345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** The SQLite log written alone, without a journal: the protections of that write path. */
const WITHOUT_JOURNAL = { journal: { enabled: false } };

function config(path: string, extra: Record<string, unknown> = {}) {
  return resolveConfig({
    server: { port: 0, logLevel: "silent" },
    rules: { dir: RULES, watch: false },
    audit: { chain: "main", hmacSecret: KEY, sqlite: { path, synchronous: "normal" }, ...extra },
  });
}

async function serve(
  path: string,
  extra: Record<string, unknown> = {},
  logs?: Record<string, unknown>[],
): Promise<RunningServer> {
  const logger = logs
    ? { level: "warn", stream: { write: (l: string) => logs.push(JSON.parse(l)) } }
    : false;
  const server = await startServer(config(path, extra), {
    logger,
    hooks: { processMetrics: false },
  });
  cleanups.push(() => server.close());
  return server;
}

async function decide(
  server: RunningServer,
): Promise<{ status: number; body: Record<string, string> }> {
  const res = await fetch(`${server.url}/v1/decisions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ result: example("malware") }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

/** What `clearance audit verify --db` does: a read-only open, then verify. */
async function verifyReadOnly(path: string) {
  const backend = new SqliteBackend({ path, synchronous: "normal", readonly: true });
  const log = new AuditLog(backend, { chain: "main", hmacSecret: KEY, maxBatch: 1 });
  try {
    await log.open();
    return await log.verify();
  } finally {
    await log.close();
  }
}

interface StartCase {
  what: string;
  damage: (path: string) => void;
  /** how the refusal names it */
  refused: RegExp;
}

const startCases: StartCase[] = [
  {
    what: "truncated mid-page",
    damage: (p) => truncateSync(p, Math.floor(statSync(p).size * 0.6) + 100),
    refused: /is truncated: \d+ bytes is not a whole number of 4096-byte pages/,
  },
  {
    what: "truncated at a page boundary (its last pages gone)",
    damage: (p) => truncateSync(p, Math.floor(statSync(p).size / 4096 / 2) * 4096),
    refused: /is truncated: \d+ bytes where its header counts \d+ pages/,
  },
  {
    what: "random bytes over a page in the middle",
    damage: (p) => overwrite(p, Math.floor(statSync(p).size / 4096 / 2) * 4096, noise(200, 7)),
    refused:
      /is damaged: (SQLite says `database disk image is malformed`|`PRAGMA quick_check` says)/,
  },
  {
    what: "random bytes over the root of an index every write uses",
    damage: (p) => {
      const { offset } = rootPage(p, "entries_sha256");
      overwrite(p, offset, noise(64, 11));
    },
    refused: /is damaged: `PRAGMA quick_check` says `.*page \d+/,
  },
  {
    what: "header destroyed",
    damage: (p) => overwrite(p, 0, noise(100, 3)),
    refused: /is not an SQLite database: its header is damaged or it was replaced/,
  },
  {
    what: "emptied to 0 bytes",
    damage: (p) => truncateSync(p, 0),
    refused: /is empty \(0 bytes\): the log that was there has been emptied/,
  },
  {
    what: "every entry deleted (the recorded head remains)",
    damage: (p) => sql(p, "DELETE FROM entries"),
    refused:
      /chain `main` in `.*` has no entries, but its last write recorded seq 3000: the log was emptied/,
  },
  {
    what: "its newest entries deleted",
    damage: (p) => sql(p, "DELETE FROM entries WHERE seq > 2900"),
    refused:
      /chain `main` .* ends at seq 2900, but its last write recorded seq 3000: its newest entries were removed/,
  },
  {
    what: "its newest entry edited",
    damage: (p) =>
      sql(
        p,
        "UPDATE entries SET body = replace(body, '\"generated\"', '\"edited\"') WHERE seq = 3000",
      ),
    refused: /the newest entries of chain `main` .* do not verify: hash mismatch at seq 3000/,
  },
  {
    what: "the file removed, its write-ahead log left behind",
    damage: (p) => {
      writeFileSync(`${p}-wal`, randomBytes(4096));
      rmSync(p);
    },
    refused: /is missing but `.*-wal` is still there: the database file was removed/,
  },
];

describe("a damaged or emptied SQLite log at start", () => {
  test.each(startCases)(
    "$what: the server refuses to start, naming it",
    async ({ damage, refused }) => {
      const { path } = await healthyLog();
      damage(path);
      const starting = serve(path);
      await expect(starting).rejects.toBeInstanceOf(AuditDamagedError);
      await expect(starting).rejects.toThrow(refused);
      // and leaves the file as it found it, for recovery
      expect(existsSync(`${path}.damaged`)).toBe(false);
    },
  );

  test.each(startCases)(
    "$what: with audit.startNewLog it is moved aside and a new log starts at seq 1",
    async ({ damage }) => {
      const { dir, path } = await healthyLog();
      damage(path);
      const logs: Record<string, unknown>[] = [];
      const server = await serve(path, { startNewLog: true }, logs);
      const moved = readdirSync(dir).filter((f) => f.includes(".damaged-"));
      expect(moved.length).toBeGreaterThan(0);
      expect(server.services.replacedLog?.movedTo.map((m) => m.split("/").pop())).toEqual(moved);
      expect(
        logs.some((l) => /the audit log was damaged; started a new, empty one/.test(String(l.msg))),
      ).toBe(true);
      const { status, body } = await decide(server);
      expect(status).toBe(200);
      const entry = await (await fetch(`${server.url}/v1/audit/${body.decisionId}`)).json();
      expect((entry as { entry: { seq: number } }).entry.seq).toBe(1);
    },
  );
});

describe("a log that is not there", () => {
  test("is a first start, said in the log; an existing log is not", async () => {
    const tmp = tempDir("clearance-damage-");
    cleanups.push(() => tmp.remove());
    const path = join(tmp.dir, "audit.db");
    const start = async () => {
      const lines: Record<string, unknown>[] = [];
      const server = await startServer(config(path), {
        logger: { level: "info", stream: { write: (l: string) => lines.push(JSON.parse(l)) } },
        hooks: { processMetrics: false },
      });
      await decide(server);
      await server.close();
      return lines.map((l) => String(l.msg));
    };
    expect(await start()).toContain(`no audit log at \`${path}\`: started a new, empty one`);
    expect((await start()).filter((m) => m.startsWith("no audit log"))).toEqual([]);
  });
});

describe("verifying a damaged log names the damage", () => {
  const cases = startCases.filter((c) => !/file removed|emptied to 0/.test(c.what));
  test.each(cases)("$what", async ({ what, damage }) => {
    const { path } = await healthyLog();
    damage(path);
    let report: Awaited<ReturnType<typeof verifyReadOnly>>;
    try {
      report = await verifyReadOnly(path);
    } catch (error) {
      // a file SQLite cannot open at all is refused at open, as damage naming the file
      expect(error).toBeInstanceOf(AuditDamagedError);
      expect((error as Error).message).toContain(path);
      return;
    }
    expect(report.ok, what).toBe(false);
    if (report.damage) {
      expect(report.damage.where).toBe(`\`${path}\``);
      expect(report.damage.message).not.toBe("");
    } else expect(report.broken?.problem).toMatch(/^(head_mismatch|hash_mismatch)$/);
  });

  test("unreadable entries are given as seq ranges, and the walk goes on after them", async () => {
    const { path } = await healthyLog();
    // a leaf page of the entries table, about a third of the way along the chain
    const db = new Database(path, { readonly: true });
    const { page } = db
      .prepare(
        "SELECT pageno AS page FROM dbstat WHERE name = 'entries' AND pagetype = 'leaf' ORDER BY pageno LIMIT 1 OFFSET ?",
      )
      .get(
        Math.floor(
          (
            db
              .prepare(
                "SELECT COUNT(*) AS n FROM dbstat WHERE name = 'entries' AND pagetype = 'leaf'",
              )
              .get() as { n: number }
          ).n / 3,
        ),
      ) as { page: number };
    db.close();
    overwrite(path, (page - 1) * 4096, noise(4096, 5));
    const report = await verifyReadOnly(path);
    expect(report.ok).toBe(false);
    expect(report.damage?.code).toMatch(/^SQLITE_CORRUPT/);
    const [range] = report.damage!.unreadable;
    expect(range).toBeDefined();
    expect(range!.chain).toBe("main");
    expect(range!.from).toBeGreaterThan(1);
    expect(range!.to).not.toBeNull();
    expect(range!.to!).toBeGreaterThanOrEqual(range!.from);
    // a page holds a few entries, not the chain
    expect(range!.to! - range!.from).toBeLessThan(50);
    // the entries after the gap were read and checked
    expect(report.chains[0]!.to).toBe(ENTRIES);
    expect(report.entries).toBe(ENTRIES - (range!.to! - range!.from + 1));
  });
});

describe("damage while the server runs", () => {
  test("an index every write uses, damaged: decisions are refused, readiness fails and says why, one error line", async () => {
    const { path } = await healthyLog();
    const { offset } = rootPage(path, "entries_sha256");
    overwrite(path, offset, noise(64, 11));
    const logs: Record<string, unknown>[] = [];
    // `fast` reads no page at start: the damage is found by the first write that needs the index
    const server = await serve(
      path,
      { sqlite: { path, synchronous: "normal", startupCheck: "fast", ...WITHOUT_JOURNAL } },
      logs,
    );
    const refused = await decide(server);
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe("audit_unavailable");
    expect(refused.body.detail).toMatch(/database disk image is malformed/);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: { audit: string } }).checks.audit).toMatch(
      /^damaged: the audit database `.*audit\.db` is damaged: SQLite says `database disk image is malformed`/,
    );
    // verification over HTTP names it too
    const report = (await (
      await fetch(`${server.url}/v1/audit/verify`, { method: "POST" })
    ).json()) as {
      ok: boolean;
      damage?: { pages: string[] };
    };
    expect(report.ok).toBe(false);
    expect(report.damage?.pages.join("\n")).toMatch(/page \d+/);
    const damage = logs.filter(
      (l) => (l.audit as { status?: string } | undefined)?.status === "damaged",
    );
    expect(damage).toHaveLength(1);
    expect(damage[0]!.level).toBe(50);
  });

  test.each([
    {
      what: "its write-ahead log removed",
      act: (path: string) => rmSync(`${path}-wal`),
      says: /the write-ahead log `.*-wal` was removed while the server was writing it/,
    },
    {
      what: "the file replaced by another",
      act: (path: string) => {
        writeFileSync(`${path}.other`, "");
        renameSync(`${path}.other`, path);
      },
      says: /the audit database `.*` was replaced by another file while the server was writing it/,
    },
  ])(
    "$what: decisions are refused rather than written where they would be lost (without a journal)",
    async ({ act, says }) => {
      const { path } = await healthyLog();
      const server = await serve(path, {
        sqlite: { path, synchronous: "normal", ...WITHOUT_JOURNAL },
      });
      expect((await decide(server)).status).toBe(200);
      expect(existsSync(`${path}-wal`)).toBe(true);
      act(path);
      const refused = await decide(server);
      expect(refused.status).toBe(503);
      expect(refused.body.detail).toMatch(says);
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: { audit: string } }).checks.audit).toMatch(says);
      // it stays so: damage does not heal
      expect((await decide(server)).status).toBe(503);
    },
  );
});

describe("the readiness probe", () => {
  test("writes as a decision does and leaves nothing behind", async () => {
    const { path } = await healthyLog();
    const server = await serve(path);
    for (let i = 0; i < 3; i++) expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    expect((await decide(server)).status).toBe(200);
    // with the journal, the probe writes a scratch file beside the segments and removes it
    expect(readdirSync(`${path}.journal`)).toEqual(["00000001.seg"]);
    await server.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare("SELECT COUNT(*) AS n FROM entries").get()).toEqual({ n: ENTRIES + 1 });
      expect(db.prepare("SELECT chain FROM chain_heads").all()).toEqual([{ chain: "main" }]);
    } finally {
      db.close();
    }
    const report = await verifyReadOnly(path);
    expect(report).toMatchObject({ ok: true, entries: ENTRIES + 1 });
  });
});

describe("an outage of an SQLite log (another process holds the write lock)", () => {
  test("readiness fails at once, the outage is logged once, and its end with its duration (without a journal)", async () => {
    const { path } = await healthyLog();
    const logs: Record<string, unknown>[] = [];
    const server = await serve(
      path,
      { sqlite: { path, synchronous: "normal", ...WITHOUT_JOURNAL } },
      logs,
    );
    expect((await decide(server)).status).toBe(200);
    const other = new Database(path);
    cleanups.push(() => other.close());
    other.exec("BEGIN IMMEDIATE");
    const started = Date.now();
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: { audit: string } }).checks.audit).toMatch(
      /^unreachable: the audit database `.*` cannot be written: database is locked/,
    );
    await new Promise((r) => setTimeout(r, 1_500));
    other.exec("ROLLBACK");
    const heldSeconds = (Date.now() - started) / 1000;
    // the log probes itself while unavailable: its recovery is seen without a request
    await waitFor(
      () => logs.some((l) => (l.audit as { status?: string } | undefined)?.status === "available"),
      5_000,
      "the recovery line",
    );
    const outage = logs.filter((l) => (l.audit as { status?: string } | undefined)?.status);
    expect(outage.map((l) => [l.level, (l.audit as { status: string }).status])).toEqual([
      [40, "unavailable"],
      [40, "available"],
    ]);
    const down = (outage[1]!.audit as { downSeconds: number }).downSeconds;
    expect(down).toBeGreaterThanOrEqual(heldSeconds - 0.5);
    expect(down).toBeLessThan(heldSeconds + 5);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    expect((await decide(server)).status).toBe(200);
  });
});

describe("with its journal, what was answered reads back at once", () => {
  test("every decision of a burst, read by id and by file the moment its answer arrives", async () => {
    const { path } = await healthyLog();
    const server = await serve(path);
    const base = example("malware") as { sha256: string };
    const ask = async (i: number) => {
      // a file of its own each: its newest decision is this one
      const sha256 = `${base.sha256.slice(0, 56)}${i.toString(16).padStart(8, "0")}`;
      const res = await fetch(`${server.url}/v1/decisions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ result: { ...base, sha256 } }),
      });
      expect(res.status).toBe(200);
      const { decisionId } = (await res.json()) as { decisionId: string };
      const [byId, byFile] = await Promise.all([
        fetch(`${server.url}/v1/audit/${decisionId}`),
        fetch(`${server.url}/v1/decisions/${sha256}`),
      ]);
      expect(byId.status).toBe(200);
      expect(byFile.status).toBe(200);
      expect(((await byFile.json()) as { decisionId: string }).decisionId).toBe(decisionId);
    };
    // 20 clients asking 10 each, within the server's limit of requests in flight
    await Promise.all(
      Array.from({ length: 20 }, async (_, lane) => {
        for (let i = 0; i < 10; i++) await ask(lane * 10 + i);
      }),
    );
    // and while the index cannot apply anything (another connection holds its write lock), the
    // reads wait for it rather than answer 404: the lock goes after 700 ms, and they all find theirs
    const other = new Database(path);
    cleanups.push(() => other.close());
    other.exec("BEGIN IMMEDIATE");
    setTimeout(() => other.exec("ROLLBACK"), 700);
    const started = Date.now();
    await Promise.all(Array.from({ length: 20 }, (_, i) => ask(1_000 + i)));
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
  }, 60_000);
});

describe("with its journal, trouble with the index does not lose what the journal records", () => {
  /** `/metrics`' value of one unlabelled gauge. */
  async function gauge(server: RunningServer, name: string): Promise<number> {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    return Number(line?.split(" ")[1]);
  }

  test("another process holding the index's write lock: decisions are recorded, the lag shows, readiness fails past its bound and recovers", async () => {
    const { path } = await healthyLog();
    const logs: Record<string, unknown>[] = [];
    const server = await serve(
      path,
      {
        sqlite: {
          path,
          synchronous: "normal",
          journal: { maxIndexLagSeconds: 1, indexWaitMs: 500 },
        },
      },
      logs,
    );
    expect((await decide(server)).status).toBe(200);
    const other = new Database(path);
    cleanups.push(() => other.close());
    other.exec("BEGIN IMMEDIATE");
    // the journal records them: answered at once, the index cannot take them
    const answered: string[] = [];
    for (let i = 0; i < 5; i++) {
      const d = await decide(server);
      expect(d.status).toBe(200);
      answered.push(d.body.decisionId!);
    }
    expect(await gauge(server, "clearance_audit_index_lag_entries")).toBeGreaterThanOrEqual(5);
    // a read of what was answered waits for the index, then says why it cannot answer
    const read = await fetch(`${server.url}/v1/audit/${answered[0]}`);
    expect(read.status).toBe(503);
    expect(((await read.json()) as { detail: string }).detail).toMatch(
      /the audit index `.*audit\.db` did not apply the journal's last \d+ entries within 0\.5 s/,
    );
    await until(
      async () => (await fetch(`${server.url}/readyz`)).status === 503,
      10_000,
      "readiness to fail",
    );
    const ready = (await (await fetch(`${server.url}/readyz`)).json()) as {
      checks: { audit: string };
    };
    expect(ready.checks.audit).toMatch(
      /behind its journal, more than `audit\.sqlite\.maxIndexLagSeconds` \(1 s\)/,
    );
    other.exec("ROLLBACK");
    // the follower applies what waited, and every answered decision reads back
    await until(
      async () => (await fetch(`${server.url}/readyz`)).status === 200,
      15_000,
      "readiness again",
    );
    expect(await gauge(server, "clearance_audit_index_lag_entries")).toBe(0);
    for (const id of answered)
      expect((await fetch(`${server.url}/v1/audit/${id}`)).status).toBe(200);
    const report = (await (
      await fetch(`${server.url}/v1/audit/verify`, { method: "POST" })
    ).json()) as { ok: boolean; entries: number };
    expect(report.ok).toBe(true);
  }, 60_000);

  test("the index damaged where the follower writes: decisions are refused once it is found, readiness says so, and an index rebuilt from the journal holds every answered decision", async () => {
    const { path } = await healthyLog();
    // the journal made (the log copied into it) before the damage
    await (await serve(path)).close();
    const { offset } = rootPage(path, "entries_sha256");
    overwrite(path, offset, noise(64, 11));
    const logs: Record<string, unknown>[] = [];
    const server = await serve(
      path,
      { sqlite: { path, synchronous: "normal", startupCheck: "fast" } },
      logs,
    );
    // the first is journaled and answered; the follower then meets the damage
    const first = await decide(server);
    expect(first.status).toBe(200);
    let refused: { status: number; body: Record<string, string> } | undefined;
    await until(
      async () => {
        refused = await decide(server);
        return refused.status === 503;
      },
      10_000,
      "a refusal",
    );
    expect(refused!.body.detail).toMatch(/database disk image is malformed/);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: { audit: string } }).checks.audit).toMatch(
      /^damaged: the audit database `.*audit\.db` is damaged: SQLite says `database disk image is malformed`/,
    );
    await server.close();
    // the index is derived: removed, it is rebuilt from the journal at the next start
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
    const again = await serve(path);
    expect((await fetch(`${again.url}/v1/audit/${first.body.decisionId}`)).status).toBe(200);
    const report = (await (
      await fetch(`${again.url}/v1/audit/verify`, { method: "POST" })
    ).json()) as { ok: boolean; entries: number };
    expect(report).toMatchObject({ ok: true });
    expect(report.entries).toBeGreaterThanOrEqual(ENTRIES + 1);
  }, 60_000);
});
