// `clearance audit verify` on a damaged or emptied SQLite log: exit 3, naming the file, what SQLite
// said and the entries it lost; never a stack trace. The other audit commands say it too (exit 1);
// `clearance serve` refuses it unless `--new-log`.
import { spawn } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { fillAuditLog, root, runWith } from "./helpers.js";

const env = { HMAC: "cli-damage-hmac-secret" };
const ENTRIES = 1_500;

describe("clearance audit verify on a damaged log", () => {
  let dir: string;
  let healthy: string;
  let config: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "clearance-cli-damage-"));
    healthy = join(dir, "healthy.db");
    config = join(dir, "clearance.yaml");
    writeFileSync(config, `audit: { chain: cli, hmacSecret: "\${HMAC}" }\n`);
    await fillAuditLog(healthy, { chain: "cli", hmacSecret: env.HMAC, entries: ENTRIES });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A copy of the healthy log, damaged by `damage`. */
  function damaged(name: string, damage: (path: string) => void): string {
    const path = join(dir, `${name}.db`);
    copyFileSync(healthy, path);
    damage(path);
    return path;
  }

  function overwrite(path: string, offset: number, bytes: Buffer): void {
    const fd = openSync(path, "r+");
    writeSync(fd, bytes, 0, bytes.length, offset);
    closeSync(fd);
  }

  /** A leaf page of the entries table in the middle of the chain. */
  function entriesLeaf(path: string): number {
    const db = new Database(path, { readonly: true });
    try {
      const leaves = db
        .prepare(
          "SELECT pageno FROM dbstat WHERE name = 'entries' AND pagetype = 'leaf' ORDER BY pageno",
        )
        .all() as { pageno: number }[];
      return leaves[Math.floor(leaves.length / 2)]!.pageno;
    } finally {
      db.close();
    }
  }

  const verify = (path: string, ...more: string[]) =>
    runWith(env, "audit", "verify", "--config", config, "--db", path, ...more);

  test("the healthy copy verifies (exit 0)", async () => {
    const r = await verify(healthy);
    expect(r.err).toBe("");
    expect(r.out).toContain(`ok: ${ENTRIES} entries verified`);
    expect(r.code).toBe(0);
  });

  test("a log migrated by a newer Clearance is refused, never migrated back or misread (exit 1)", async () => {
    const path = damaged("newer", (p) => {
      const db = new Database(p);
      db.prepare(
        "INSERT INTO schema_migrations (version, description, applied_at) VALUES (99, 'from the future', '2030-01-01T00:00:00.000Z')",
      ).run();
      db.close();
    });
    const r = await verify(path);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /error: the audit database `.*newer\.db` has schema version 99, newer than this Clearance knows \(\d+\): upgrade Clearance/,
    );
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  test.each([
    {
      what: "emptied to 0 bytes",
      damage: (p: string) => truncateSync(p, 0),
      says: /error: the audit database `.*empty\.db` is empty \(0 bytes\)/,
    },
    {
      what: "header destroyed",
      damage: (p: string) => overwrite(p, 0, Buffer.alloc(100, 0x41)),
      says: /error: the audit database `.*header\.db` is not an SQLite database/,
    },
    {
      what: "truncated mid-page",
      damage: (p: string) => truncateSync(p, Math.floor(statSync(p).size / 2) + 123),
      says: /error: the audit database `.*truncated\.db` is truncated/,
    },
  ])("$what: exit 3 with the damage named, no stack trace", async ({ what, damage, says }) => {
    const name = what.startsWith("emptied")
      ? "empty"
      : what.startsWith("header")
        ? "header"
        : "truncated";
    const r = await verify(damaged(name, damage));
    expect(r.code).toBe(3);
    expect(r.err).toMatch(says);
    expect(r.err).toContain("hint: restore the log from a backup");
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  test("a damaged page: the file, what SQLite said, and the seqs it lost; the rest is checked", async () => {
    const path = damaged("page", (p) =>
      overwrite(p, (entriesLeaf(p) - 1) * 4096, Buffer.alloc(4096, 0x5a)),
    );
    const r = await verify(path);
    expect(r.code).toBe(3);
    expect(r.out).toContain(
      `damaged: \`${path}\`: SQLite says \`database disk image is malformed\` (SQLITE_CORRUPT)`,
    );
    const lost = /chain cli: seq (\d+)\.\.(\d+) could not be read/.exec(r.out);
    expect(lost, r.out).not.toBeNull();
    const [from, to] = [Number(lost![1]), Number(lost![2])];
    expect(from).toBeGreaterThan(1);
    expect(to).toBeLessThan(ENTRIES);
    expect(r.out).toMatch(
      new RegExp(`chain cli: ${ENTRIES - (to - from + 1)} entries \\(seq 1\\.\\.${ENTRIES}\\)`),
    );
    expect(r.err).not.toMatch(/\n\s+at /);

    const json = await verify(path, "--json");
    expect(json.code).toBe(3);
    const report = JSON.parse(json.out) as {
      ok: boolean;
      damage: {
        where: string;
        code: string;
        unreadable: { chain: string; from: number; to: number }[];
      };
    };
    expect(report.ok).toBe(false);
    expect(report.damage).toMatchObject({ where: `\`${path}\``, code: "SQLITE_CORRUPT" });
    expect(report.damage.unreadable).toEqual([{ chain: "cli", from, to }]);

    // the other commands say so too, without a stack trace
    const exported = await runWith(
      env,
      "audit",
      "export",
      "--config",
      config,
      "--db",
      path,
      "--out",
      join(dir, "x.ndjson"),
    );
    expect(exported.code).toBe(1);
    expect(exported.err).toMatch(
      /error: the audit database `.*page\.db` is damaged: SQLite says `database disk image is malformed`/,
    );
    expect(exported.err).not.toMatch(/\n\s+at /);
  });

  test("serve refuses a damaged log, naming it and the way out; --new-log moves it aside and serves", async () => {
    const path = damaged("serve", (p) => truncateSync(p, 0));
    const serveConfig = join(dir, "serve.yaml");
    writeFileSync(
      serveConfig,
      `server: { port: 0, logLevel: warn }\nrules: { dir: ${JSON.stringify(join(root, "rules"))}, watch: false }\naudit: { chain: cli, hmacSecret: "\${HMAC}", sqlite: { path: ${JSON.stringify(path)} } }\n`,
    );
    const refused = await runWith(env, "serve", "--config", serveConfig);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`error: the audit database \`${path}\` is empty (0 bytes)`);
    expect(refused.err).toMatch(/hint: .*start with `--new-log` to move it aside/);

    const bin = join(root, "packages", "cli", "dist", "bin.js");
    if (!existsSync(bin)) return; // the built CLI is needed to serve in a process of its own
    const child = spawn(process.execPath, [bin, "serve", "--config", serveConfig, "--new-log"], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`did not start:\n${err}`)), 20_000);
      child.stderr!.on("data", (d: Buffer) => {
        err += d.toString();
        // the banner's last line: the lines before it may come in later chunks
        if (/curl -s \S+\/v1\/audit/.test(err)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on("exit", () => reject(new Error(`exited:\n${err}`)));
    });
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
    expect(err).toMatch(
      /started a new audit log; the damaged one was moved to .*serve\.db\.damaged-/,
    );
    expect(readdirSync(dir).some((f) => f.startsWith("serve.db.damaged-"))).toBe(true);
  }, 30_000);
});
