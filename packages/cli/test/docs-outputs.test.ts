/**
 * Every command output shown in README.md and docs/*.md is what the command prints: each
 * ```console block is run and compared with what it shows.
 *
 * The convention. A ```console block holds commands and their output. A line starting with `$ `
 * is a command (a line ending in `\` continues it on the next); the lines after it, up to the next
 * command, are what it prints: standard output and standard error together, as a terminal shows
 * them (for a command that keeps running, `clearance serve` or `audit tail -f`: what it printed
 * on standard error, then on standard output, up to the point the block shows). The comparison
 * is line by line, byte for byte but for trailing whitespace, except for these placeholders:
 *
 *   ...       left out: alone on a line, any number of lines (none too); inside a line, any text
 *   <id>      a UUIDv7 (decision and entry ids)
 *   <time>    an RFC 3339 UTC time
 *   <n>       a number (durations, latencies, process ids, Unix times, attempts)
 *   <hex>     lower-case hex digits: hashes of what the run made (entries, keys, signatures)
 *   <commit>  a git commit (the rules' work tree)
 *   <host>    the machine's host name (also the default audit chain)
 *   <dir>     an absolute path: the directory the examples ran in
 *
 * Revisions (`sha256:...` of a rule set) are content hashes, the same anywhere: they are compared.
 * A line `NAME=value` sets a variable for the block's later commands (each line is its own shell).
 * A block that cannot run is tagged ```console skip: <reason>; the test lists every skipped block.
 *
 * How the commands run: in one scratch directory (copies of rules/ and examples/ committed to a git
 * work tree of their own, as in this repository), reset at each page. A plain `clearance ...` line
 * runs the CLI in-process (main()); `clearance serve`, `audit tail -f` and every line with pipes,
 * redirections or substitutions run in bash, with `clearance` on PATH as the built binary and
 * `sqlite3` as a stand-in on better-sqlite3 (`.backup FILE` and SQL, rows printed as sqlite3 prints
 * them), so the test needs no sqlite3 CLI; `curl`, `jq` and `openssl` are the real ones (a block
 * that needs one that is missing is skipped, and listed). `http://127.0.0.1:8080` in a command (and
 * `$CLEARANCE_SERVER_URL`, the default of `reviews` and `exceptions`) is a server the test started
 * for the page (`startServer` on 127.0.0.1, port 0, an SQLite log in the
 * scratch directory), and `/tmp/` is the scratch directory's `tmp/`; outputs are mapped back. What
 * a block needs beyond that (a damaged log, decisions already recorded, the typo in a rule file
 * that the prose describes) is made by a setup below, found by the block's page, section and
 * first command; every setup must be used.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fences } from "@clearance/engine/testing";
import { DEFAULT_KEY, type RunningSimulator, startSimulator } from "@clearance/platform-sim";
import {
  AuditLog,
  createApiKey,
  loadConfig,
  type RunningServer,
  resolveConfig,
  type ServerConfig,
  SqliteBackend,
  startServer,
} from "@clearance/server";
import { decisionRecord } from "@clearance/server/testing";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { main } from "../src/index.js";
import { fillAuditLog, root } from "./helpers.js";

const BUILT = existsSync(join(root, "packages", "cli", "dist", "bin.js"));
const PAGES = [
  "README.md",
  ...readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
];

// ---------------------------------------------------------------------------------------------
// Blocks

interface Step {
  command: string;
  /** 1-based line of the command in the page */
  line: number;
  expected: string[];
}

interface ConsoleBlock {
  page: string;
  line: number;
  /** the heading the block is under, without its #s */
  section: string;
  steps: Step[];
  skip?: string;
}

/** `$ ` lines in blocks that are not ```console: they would never run. */
const strayCommands: string[] = [];

function consoleBlocks(page: string): ConsoleBlock[] {
  const text = readFileSync(join(root, page), "utf8");
  const out: ConsoleBlock[] = [];
  const all = text.split("\n");
  const blocks = fences(text);
  // headings are the `#` lines outside code blocks
  const fenced = new Set(
    blocks.flatMap((f) => Array.from({ length: f.next - f.line + 1 }, (_, k) => f.line - 1 + k)),
  );
  for (const fence of blocks) {
    const [kind, ...rest] = fence.info.split(/\s+/);
    if (kind !== "console") {
      fence.lines.forEach((l, k) => {
        if (l.startsWith("$ ")) strayCommands.push(`${page}:${fence.line + 1 + k}`);
      });
      continue;
    }
    const steps: Step[] = [];
    for (let k = 0; k < fence.lines.length; k++) {
      const line = fence.lines[k]!;
      if (line.startsWith("$ ")) {
        const start = k;
        let command = line.slice(2);
        while (command.endsWith("\\") && k + 1 < fence.lines.length)
          command += `\n${fence.lines[++k]}`;
        steps.push({ command, line: fence.line + 1 + start, expected: [] });
      } else if (steps.length === 0) {
        throw new Error(`${page}:${fence.line}: a console block starts with a command (\`$ ...\`)`);
      } else steps.at(-1)!.expected.push(line);
    }
    const skip = /^skip:\s*(.+)$/.exec(rest.join(" "));
    const heading = all
      .slice(0, fence.line - 1)
      .map((l, k) => (fenced.has(k) ? "" : l))
      .reverse()
      .find((l) => /^#{1,6} /.test(l));
    const section = heading?.replace(/^#+ /, "") ?? "";
    out.push({ page, line: fence.line, section, steps, ...(skip ? { skip: skip[1]! } : {}) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Matching

const PLACEHOLDERS: Record<string, string> = {
  "<id>": "[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
  "<time>": "\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:\\.\\d{1,9})?Z",
  "<n>": "-?\\d+(?:\\.\\d+)?",
  "<hex>": "[0-9a-f]+",
  "<commit>": "[0-9a-f]{7,40}",
  "<host>": "[A-Za-z0-9][A-Za-z0-9._-]*",
  "<dir>": "/[^\\s\"'`]*?",
};
const TOKEN = /\.\.\.|<id>|<time>|<n>|<hex>|<commit>|<host>|<dir>/g;
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

type Pattern = { gap: true } | { gap: false; re: RegExp };

function pattern(line: string): Pattern {
  if (/^\s*\.\.\.\s*$/.test(line)) return { gap: true };
  let source = "";
  let last = 0;
  for (const m of line.matchAll(TOKEN)) {
    source += escapeRegExp(line.slice(last, m.index));
    source += m[0] === "..." ? ".*?" : PLACEHOLDERS[m[0]];
    last = m.index! + m[0].length;
  }
  source += escapeRegExp(line.slice(last));
  return { gap: false, re: new RegExp(`^${source}$`) };
}

/** Lines without trailing whitespace (and carriage returns), without trailing empty lines. */
function normalise(lines: string[]): string[] {
  const out = lines.map((l) => l.replace(/\s+$/, ""));
  while (out.length > 0 && out.at(-1) === "") out.pop();
  return out;
}

/**
 * The best alignment of the block's lines with the output: `ok` when every line matches; else
 * a diff, `-` for the block's lines the output lacks and `+` for output lines the block lacks.
 */
function compare(
  expectedLines: string[],
  actualLines: string[],
): { ok: boolean; diff: string[]; merged: string[] } {
  const expected = normalise(expectedLines).map(pattern);
  const docLines = normalise(expectedLines);
  // the block's lines brought up to date: its own where they match (placeholders and gaps kept),
  // the output's where they differ (UPDATE_DOCS=1 writes them back)
  const merged: string[] = [];
  const actual = normalise(actualLines);
  const m = expected.length;
  const n = actual.length;
  // cost[i][j]: fewest unmatched lines aligning expected[i..] with actual[j..]
  const cost: Int32Array[] = Array.from({ length: m + 1 }, () => new Int32Array(n + 1));
  for (let i = m; i >= 0; i--)
    for (let j = n; j >= 0; j--) {
      if (i === m) {
        cost[i]![j] = n - j;
        continue;
      }
      const p = expected[i]!;
      if (p.gap) {
        cost[i]![j] = j < n ? Math.min(cost[i + 1]![j]!, cost[i]![j + 1]!) : cost[i + 1]![j]!;
        continue;
      }
      let best = 1 + cost[i + 1]![j]!;
      if (j < n) {
        best = Math.min(best, 1 + cost[i]![j + 1]!);
        if (p.re.test(actual[j]!)) best = Math.min(best, cost[i + 1]![j + 1]!);
      }
      cost[i]![j] = best;
    }
  const diff: string[] = [];
  let i = 0;
  let j = 0;
  let skipped = 0;
  const flush = () => {
    if (skipped > 0) diff.push(`  ... (${skipped} line${skipped === 1 ? "" : "s"})`);
    skipped = 0;
  };
  while (i < m || j < n) {
    const p = expected[i];
    if (i < m && p!.gap) {
      if (j < n && cost[i]![j] === cost[i]![j + 1]) {
        skipped++;
        j++;
      } else {
        flush();
        merged.push(docLines[i]!);
        i++;
      }
      continue;
    }
    if (i < m && j < n && p!.re.test(actual[j]!) && cost[i]![j] === cost[i + 1]![j + 1]) {
      diff.push(`  ${actual[j]}`);
      merged.push(docLines[i]!);
      i++;
      j++;
    } else if (i < m && cost[i]![j] === 1 + cost[i + 1]![j]!) {
      diff.push(`- ${docLines[i]}`);
      i++;
    } else {
      diff.push(`+ ${actual[j]}`);
      merged.push(actual[j]!);
      j++;
    }
  }
  flush();
  return { ok: cost[0]![0] === 0, diff, merged };
}

// ---------------------------------------------------------------------------------------------
// The scratch directory, its servers and what the commands run with

const HMAC = "docs-hmac-secret-0123456789";
const WEBHOOK_SECRET = "wh-secret-for-docs-0123456789";

type ServerName = "default" | "configured" | "reviews";

interface Keys {
  ci: string;
  soc: string;
  ops: string;
}

class World {
  readonly dir = mkdtempSync(join(tmpdir(), "clearance-docs-"));
  readonly bin = join(this.dir, ".bin");
  /** variables set by the blocks (`NAME=value`) and by setups */
  vars: Record<string, string> = {};
  /** variables a setup takes out of the environment */
  readonly unset = new Set<string>();
  keys!: Keys;
  sim!: RunningSimulator;
  receiver!: Server;
  receiverUrl = "";
  /** the server `http://127.0.0.1:8080` stands for, while there is one */
  server: RunningServer | undefined;
  /** the page whose blocks run now */
  page = "";
  private servers = new Map<ServerName, RunningServer>();

  async init(): Promise<void> {
    // examples/history/ (the dry-run demo's 3,000 records) is the bulk of examples/ and no block reads it
    const history = join(root, "examples", "history");
    for (const d of ["rules", "examples"])
      cpSync(join(root, d), join(this.dir, d), {
        recursive: true,
        filter: (src) => src !== history,
      });
    mkdirSync(join(this.dir, "tmp"));
    mkdirSync(this.bin);
    writeFileSync(join(this.dir, ".gitignore"), ".bin/\n.cache/\ndata/\ntmp/\n");
    this.keys = this.writeKeys();
    this.git("init", "-q");
    this.git("add", "-A");
    this.git("commit", "-q", "-m", "the docs' examples");
    writeFileSync(
      join(this.bin, "clearance"),
      `#!/bin/sh\nexec "${process.execPath}" "${join(root, "packages", "cli", "dist", "bin.js")}" "$@"\n`,
    );
    writeFileSync(join(this.bin, "sqlite3"), SQLITE3_STAND_IN);
    chmodSync(join(this.bin, "clearance"), 0o755);
    chmodSync(join(this.bin, "sqlite3"), 0o755);
    this.sim = await startSimulator({ port: 0, seedFiles: 500 });
    // the configuration's notification target: a receiver that fails, so deliveries wait in the outbox
    this.receiver = createServer((req, res) => {
      req.resume();
      res.statusCode = 500;
      res.end();
    });
    await new Promise<void>((r) => this.receiver.listen(0, "127.0.0.1", r));
    const address = this.receiver.address();
    this.receiverUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/collect`;
  }

  git(...args: string[]): void {
    execFileSync(
      "git",
      [
        "-c",
        "user.name=docs",
        "-c",
        "user.email=docs@example.invalid",
        "-c",
        "commit.gpgsign=false",
        ...args,
      ],
      { cwd: this.dir, stdio: "ignore", env: withoutGit(process.env) },
    );
  }

  /**
   * The example configurations hold placeholder keys ("Replace these with your own"): the scratch
   * copies get keys the test holds, with the same ids and scopes.
   */
  private writeKeys(): Keys {
    const keys = {} as Keys;
    const hashes = {} as Keys;
    for (const id of ["ci", "soc", "ops"] as const) {
      const key = createApiKey();
      keys[id] = key.secret;
      hashes[id] = key.sha256;
    }
    for (const name of ["clearance.yaml", "postgres-replica.yaml"]) {
      const file = join(this.dir, "examples", "configs", name);
      let text = readFileSync(file, "utf8");
      for (const id of ["ci", "soc", "ops"] as const) {
        const line = new RegExp(`(\\{ id: ${id}, scopes: \\[[^\\]]*\\], sha256: )[0-9a-f]{64}`);
        if (!line.test(text))
          throw new Error(`examples/configs/${name} has no key \`${id}\` any more`);
        text = text.replace(line, `$1${hashes[id]}`);
      }
      writeFileSync(file, text);
    }
    return keys;
  }

  /** What every command sees: the secrets examples/configs/clearance.yaml reads, and the block's variables. */
  env(): Record<string, string> {
    const env: Record<string, string> = {
      ...withoutGit(process.env),
      PATH: `${this.bin}:${process.env.PATH}`,
      NO_COLOR: "1",
      CLEARANCE_HMAC_SECRET: HMAC,
      CLEARANCE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      CLEARANCE_PLATFORM_URL: this.sim.url,
      CLEARANCE_PLATFORM_KEY: DEFAULT_KEY,
      CLEARANCE_VT_KEY: "a-virustotal-key",
      CLEARANCE_SIEM_URL: this.receiverUrl,
      CLEARANCE_SIEM_SECRET: "siem-secret-0123456789",
      CLEARANCE_OIDC_SECRET: "an-oidc-client-secret",
      CLEARANCE_SESSION_SECRET: "a-session-secret-of-32-characters-or-more",
      // a collector nobody runs: the complete example's Splunk sink retries in the background
      CLEARANCE_HEC_URL: "http://127.0.0.1:9",
      CLEARANCE_HEC_TOKEN: "hec-token-0123456789",
      // the default of `reviews` and `exceptions`: the server `http://127.0.0.1:8080` stands for
      ...(this.server ? { CLEARANCE_SERVER_URL: this.server.url } : {}),
      ...this.vars,
    };
    for (const name of this.unset) delete env[name];
    return env;
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  /**
   * Makes `name` the server `http://127.0.0.1:8080` stands for, starting it when it is not running:
   * `default` is `pnpm start`'s (rules/, data/audit.db, no keys) with the simulator as its
   * platform (`clearance serve --platform`); `configured` is examples/configs/clearance.yaml's
   * (data/clearance.db, keys, HMAC chain `main`, shadow rules), on 127.0.0.1 rather than 0.0.0.0;
   * `reviews` is examples/configs/reviews-demo.yaml's (docs/reviews.md's walkthrough: no keys,
   * data/reviews-demo.db, two approvals a case). All listen on port 0.
   */
  async use(name: ServerName): Promise<RunningServer> {
    let server = this.servers.get(name);
    if (!server) {
      const env = this.env();
      let config: Readonly<ServerConfig>;
      if (name === "default")
        config = resolveConfig(
          {
            server: { host: "127.0.0.1", port: 0 },
            rules: { dir: this.path("rules") },
            audit: { sqlite: { path: this.path("data", "audit.db") } },
            platform: { url: this.sim.url, apiKey: DEFAULT_KEY },
          },
          { env },
        );
      else {
        const file = name === "reviews" ? "reviews-demo.yaml" : "clearance.yaml";
        const plain = structuredClone(
          loadConfig(this.path("examples", "configs", file), env),
        ) as ServerConfig;
        plain.server.host = "127.0.0.1";
        plain.server.port = 0;
        config = resolveConfig(plain, { env });
      }
      server = await startServer(config, { logger: false });
      this.servers.set(name, server);
    }
    this.server = server;
    return server;
  }

  async stop(name?: ServerName): Promise<void> {
    for (const [n, s] of [...this.servers])
      if (name === undefined || n === name) {
        this.servers.delete(n);
        if (this.server === s) this.server = undefined;
        await s.close();
      }
  }

  /** Back to the committed copies, with no log, no scratch files, no variables, for `page`. */
  async reset(page: string): Promise<void> {
    this.page = page;
    await this.stop();
    this.git("checkout", "-q", "--", ".");
    this.git("clean", "-qfdx", "-e", ".bin", "-e", ".cache");
    mkdirSync(this.path("tmp"), { recursive: true });
    this.vars = {};
  }

  async close(): Promise<void> {
    await this.stop();
    await this.sim?.close();
    await new Promise((r) => this.receiver?.close(r));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The environment without git's own variables: a GIT_DIR set by a hook running the tests would
 * point the scratch work tree's git (and the CLI's commit lookup) at this repository.
 */
function withoutGit(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter(
      (e): e is [string, string] => e[1] !== undefined && !e[0].startsWith("GIT_"),
    ),
  );
}

/** `sqlite3 FILE "SQL or .backup FILE"`, on better-sqlite3 (the test's own dependency). */
const SQLITE3_STAND_IN = `#!${process.execPath}
import { createRequire } from "node:module";
const Database = createRequire(${JSON.stringify(createRequire(import.meta.url).resolve("better-sqlite3"))})(${JSON.stringify(createRequire(import.meta.url).resolve("better-sqlite3"))});
const [file, command] = process.argv.slice(2);
const db = new Database(file, { fileMustExist: true });
if (command.startsWith(".backup ")) {
  await db.backup(command.slice(".backup ".length).trim());
} else if (/^\\s*select\\b/i.test(command)) {
  for (const row of db.prepare(command).raw().all())
    console.log(row.map((v) => (v === null ? "" : String(v))).join("|"));
} else {
  db.exec(command);
}
db.close();
`;

// ---------------------------------------------------------------------------------------------
// Running a command

/** The words of a plain command line, or null when it needs a shell (pipes, `$`, redirections). */
function words(line: string): string[] | null {
  const out: string[] = [];
  let word: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return null;
      word = (word ?? "") + line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      const end = line.indexOf('"', i + 1);
      if (end < 0) return null;
      const inner = line.slice(i + 1, end);
      if (/[$`\\]/.test(inner)) return null;
      word = (word ?? "") + inner;
      i = end;
    } else if (/\s/.test(c)) {
      if (word !== null) out.push(word);
      word = null;
    } else if (/[|&;<>()$`\\*?#~]/.test(c)) return null;
    else word = (word ?? "") + c;
  }
  if (word !== null) out.push(word);
  return out;
}

/** Commands that keep running until stopped. */
const longRunning = (command: string) =>
  /^clearance serve\b/.test(command) || /^clearance audit tail\b.*\s(-f|--follow)\b/.test(command);

/** `/tmp/` in a command is the scratch directory's tmp/, and the test server answers for 8080. */
function mapCommand(w: World, command: string): string {
  let c = command.replace(/(^|[\s'"=@:])\/tmp\//g, `$1${w.path("tmp")}/`);
  if (w.server) c = c.replaceAll("http://127.0.0.1:8080", w.server.url);
  return c;
}

function mapOutput(w: World, text: string): string {
  let t = text.replaceAll(`${w.path("tmp")}/`, "/tmp/");
  if (w.server) t = t.replaceAll(w.server.url, "http://127.0.0.1:8080");
  return t;
}

async function runStep(
  w: World,
  step: Step,
  setup: Setup | undefined,
  cwd: string,
): Promise<string[]> {
  const command = mapCommand(w, step.command);
  const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(command);
  if (assignment) {
    const r = await shell(`${command}\nprintf %s "$${assignment[1]}"`, w, cwd, 30_000);
    w.vars[assignment[1]!] = r.stdout;
    return lines(mapOutput(w, r.stderr));
  }
  if (longRunning(command)) return lines(mapOutput(w, await runLong(w, step, setup, command, cwd)));
  const args = /^clearance\s/.test(command) ? words(command) : null;
  if (args) return lines(mapOutput(w, await inProcess(w, args.slice(1), cwd)));
  const r = await shell(command, w, cwd, 30_000, true);
  return lines(mapOutput(w, r.stdout));
}

const lines = (text: string) => text.replace(/\r\n/g, "\n").split("\n");

/** The CLI's main() in this process, in `cwd`, its two streams in the order written. */
async function inProcess(w: World, args: string[], cwd: string): Promise<string> {
  const out: string[] = [];
  const previous = process.cwd();
  process.chdir(cwd);
  try {
    await main(args, { out: (t) => out.push(t), err: (t) => out.push(t), color: false }, w.env());
  } finally {
    process.chdir(previous);
  }
  return out.join("\n");
}

function shell(
  command: string,
  w: World,
  cwd: string,
  timeoutMs: number,
  merged = false,
): Promise<{ stdout: string; stderr: string; code: number }> {
  const child = spawn("bash", ["-c", merged ? `exec 2>&1\n${command}` : command], {
    cwd,
    env: w.env(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code: code ?? -1 });
    }),
  );
}

/**
 * `clearance serve` (on port 0 unless the command names one) or `audit tail -f`, as a process:
 * its output up to the moment it matches the block (or it exits, or 10 s pass), then SIGTERM.
 * The setup's `during` runs once the command has printed its first line.
 */
async function runLong(
  w: World,
  step: Step,
  setup: Setup | undefined,
  command: string,
  cwd: string,
): Promise<string> {
  const serve = /^clearance serve\b/.test(command);
  const full = serve && !/\s--port\b/.test(command) ? `${command} --port 0` : command;
  const child: ChildProcess = spawn("bash", ["-c", `exec ${full}`], {
    cwd,
    env: w.env(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const complete = (t: string) => t.slice(0, t.lastIndexOf("\n") + 1);
  // what it printed so far, whole lines of each stream; the port the server chose stands for 8080
  const shown = (whole: (t: string) => string) =>
    mapOutput(w, `${whole(stderr)}${whole(stdout)}`).replace(
      /\b(127\.0\.0\.1|0\.0\.0\.0):\d+/g,
      "$1:8080",
    );
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  let during: Promise<void> | undefined;
  const text = await new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve(shown(complete)), 10_000);
    const check = () => {
      if (!during && setup?.during && `${stdout}${stderr}`.includes("\n")) during = setup.during(w);
      const soFar = shown(complete);
      if (compare(step.expected, lines(soFar)).ok) {
        clearTimeout(timer);
        resolve(soFar);
      }
    };
    child.stdout!.on("data", (d) => {
      stdout += d;
      check();
    });
    child.stderr!.on("data", (d) => {
      stderr += d;
      check();
    });
    exited.then(() => {
      clearTimeout(timer);
      resolve(shown((t) => (t === "" || t.endsWith("\n") ? t : `${t}\n`)));
    });
  });
  // the next block may use what it holds (the log's lock, the port): wait for it to end
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(killer);
  await during;
  return text;
}

// ---------------------------------------------------------------------------------------------
// Setups: what a block needs besides the scratch copies

interface Setup {
  page: string;
  /** the heading the block is under, when the command alone is not unique on the page */
  section?: string;
  /** the first command of the block (its first line), which the setup runs before */
  command: string | RegExp;
  /** run in the repository itself rather than the scratch directory (read-only commands) */
  inRepository?: boolean;
  before?(w: World): Promise<void> | void;
  /** while the block's long-running command runs, once it has printed a line */
  during?(w: World): Promise<void>;
  /** after the block's last command, whatever happened */
  after?(w: World): Promise<void> | void;
}

const used = new Map<Setup, number>();

/** The setup of a block, found by its page, section and first command. */
function setupFor(block: ConsoleBlock): Setup | undefined {
  const first = block.steps[0]!.command.split("\n")[0]!;
  const found = SETUPS.filter(
    (s) =>
      s.page === block.page &&
      (s.section === undefined || s.section === block.section) &&
      (typeof s.command === "string" ? s.command === first : s.command.test(first)),
  );
  if (found.length > 1)
    throw new Error(`${block.page}:${block.line}: more than one setup for \`${first}\``);
  if (found[0]) used.set(found[0], (used.get(found[0]) ?? 0) + 1);
  return found[0];
}

/** Replaces `from` with `to` in a scratch file; `from` must be there. */
function edit(w: World, file: string, from: string, to: string): void {
  const text = readFileSync(w.path(file), "utf8");
  if (!text.includes(from))
    throw new Error(`${file} no longer holds \`${from}\`: update the setup`);
  writeFileSync(w.path(file), text.replace(from, to));
}

/** The scratch rules/ and examples/ as committed. */
function restore(w: World): void {
  w.git("checkout", "-q", "--", "rules", "examples");
  w.git("clean", "-qfd", "--", "rules", "examples");
}

function removeLog(w: World, file: string): void {
  // the journal too: a log's entries are in it, and an index without it is rebuilt from it
  for (const suffix of ["", "-wal", "-shm", ".lock", ".journal"])
    rmSync(w.path("data", `${file}${suffix}`), { force: true, recursive: true });
}

const result = (w: World, name: string) =>
  JSON.parse(readFileSync(w.path("examples", "results", `${name}.json`), "utf8")) as Record<
    string,
    unknown
  >;

async function send(w: World, path: string, body: unknown, key?: string): Promise<void> {
  const res = await fetch(`${w.server!.url}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`setup: POST ${path} answered ${res.status}: ${text}`);
}

/** Decisions recorded by the current server, in order: `api`, `batch` or `webhook`. */
async function record(
  w: World,
  decisions: [source: "api" | "batch" | "webhook", example: string][],
  key?: string,
): Promise<void> {
  for (const [source, name] of decisions) {
    const r = result(w, name);
    if (source === "api") await send(w, "/v1/decisions", { result: r }, key);
    else if (source === "batch")
      await send(w, "/v1/decisions/batch", { items: [{ result: r }] }, key);
    else await send(w, "/v1/webhooks/platform", { event: "analysis.completed", data: r });
  }
}

/** An SQLite log of 1,500 entries on chain `main` with one page of entries overwritten (made once). */
async function damagedLog(w: World, path: string): Promise<void> {
  const made = w.path(".cache", "damaged.db");
  if (existsSync(made)) {
    cpSync(made, path);
    return;
  }
  await fillAuditLog(path, { chain: "main", hmacSecret: null, entries: 1_500 });
  const db = new Database(path, { readonly: true });
  const leaves = db
    .prepare(
      "SELECT pageno FROM dbstat WHERE name = 'entries' AND pagetype = 'leaf' ORDER BY pageno",
    )
    .all() as { pageno: number }[];
  const pageSize = db.pragma("page_size", { simple: true }) as number;
  db.close();
  const fd = openSync(path, "r+");
  writeSync(
    fd,
    Buffer.alloc(pageSize, 0x5a),
    0,
    pageSize,
    (leaves[Math.floor(leaves.length / 2)]!.pageno - 1) * pageSize,
  );
  closeSync(fd);
  mkdirSync(w.path(".cache"), { recursive: true });
  cpSync(path, made);
}

/** The `sh` block of a page that starts with `# <name>`, from that line on. */
function script(page: string, name: string): string {
  const block = fences(readFileSync(join(root, page), "utf8")).find(
    (f) => f.info === "sh" && f.lines.some((l) => l.startsWith(`# ${name}`)),
  );
  if (!block) throw new Error(`${page} has no sh block with \`# ${name}\``);
  const lines = block.lines.slice(block.lines.findIndex((l) => l.startsWith(`# ${name}`)));
  return `${lines.join("\n")}\n`;
}

/** The PostgreSQL schema of operations.md's replicas, made for the run. */
let replicaSchema = "";

const SETUPS: Setup[] = [
  // README.md
  {
    page: "README.md",
    command: /^curl -s http:\/\/127\.0\.0\.1:8080\/v1\/decisions /,
    before: async (w) => {
      await w.use("default");
    },
  },
  { page: "README.md", command: "pnpm tour", inRepository: true },
  {
    page: "README.md",
    command: "clearance check rules",
    // the prose: `trustscore` typed for `trustScore` in rules/publishers.rules
    before: (w) =>
      edit(
        w,
        "rules/publishers.rules",
        "(trustScore >= 70 or virustotal.reputation >= 0)",
        "(trustscore >= 70 or virustotal.reputation >= 0)",
      ),
    after: restore,
  },

  // docs/cli.md
  {
    page: "docs/cli.md",
    command: "cat bad.json",
    before: (w) =>
      writeFileSync(
        w.path("bad.json"),
        '{ "sha256": "abc", "trustScore": 900, "verdict": "bad" }\n',
      ),
  },
  {
    page: "docs/cli.md",
    command: "clearance fmt --check rules",
    // the prose: an edit left rules/governance.rules out of the canonical layout
    before: (w) =>
      edit(w, "rules/governance.rules", "strategy deny-overrides", "strategy   deny-overrides"),
    after: restore,
  },
  {
    page: "docs/cli.md",
    command: "clearance audit verify --db /tmp/damaged.db",
    before: async (w) => {
      await damagedLog(w, w.path("tmp", "damaged.db"));
      writeFileSync(w.path("tmp", "emptied.db"), "");
    },
  },
  {
    page: "docs/cli.md",
    command: "clearance audit verify",
    // the log the section reads: two decisions asked for, a batch of one, a webhook delivery;
    // /tmp/tamper.db is a copy with one entry edited, as operations.md shows
    before: async (w) => {
      await w.use("default");
      await record(w, [
        ["api", "malware"],
        ["api", "signed-microsoft"],
        ["batch", "malware"],
        ["webhook", "signed-microsoft"],
      ]);
      await w.stop("default");
      const db = new Database(w.path("data", "audit.db"));
      await db.backup(w.path("tmp", "tamper.db"));
      db.close();
      // the copy of a log with a journal is the index and the journal beside it
      cpSync(w.path("data", "audit.db.journal"), w.path("tmp", "tamper.db.journal"), {
        recursive: true,
      });
      const copy = new Database(w.path("tmp", "tamper.db"));
      copy
        .prepare(
          `update entries set body = replace(body, '"decision":"deny"', '"decision":"allow"'), decision = 'allow' where seq = 3`,
        )
        .run();
      copy.close();
    },
  },
  {
    page: "docs/cli.md",
    command: "clearance audit tail -f -n 1 --config examples/configs/clearance.yaml",
    // a decision already in the configured log, and one asked for while tail follows it
    before: async (w) => {
      await w.use("configured");
      await record(w, [["api", "malware"]], w.keys.ci);
    },
    during: async (w) => {
      await new Promise((r) => setTimeout(r, 200));
      await record(w, [["api", "signed-microsoft"]], w.keys.ci);
    },
    after: (w) => w.stop("configured"),
  },
  {
    page: "docs/cli.md",
    command: "clearance reviews list",
    // pnpm start's server (no keys), where a file was just decided `review`
    before: async (w) => {
      await w.use("default");
      await record(w, [["api", "unsigned-lowscore"]]);
    },
  },
  {
    page: "docs/cli.md",
    command: /^clearance exceptions add /,
    before: async (w) => {
      await w.use("default");
    },
  },

  // docs/configuration.md
  {
    page: "docs/configuration.md",
    section: "Rules of the file",
    command: "clearance serve --config examples/configs/clearance.yaml",
    before: (w) => {
      w.unset.add("CLEARANCE_WEBHOOK_SECRET");
    },
    after: (w) => {
      w.unset.clear();
    },
  },
  {
    page: "docs/configuration.md",
    command: "cat bad.yaml",
    before: (w) =>
      writeFileSync(
        w.path("bad.yaml"),
        "server:\n  prot: 8080\naudit:\n  backend: mysql\n  sqlite: { synchronous: off }\n",
      ),
  },

  // docs/http-api.md: pnpm start's server with the simulator as its platform, but for keys and
  // signatures, shown with examples/configs/clearance.yaml's
  {
    page: "docs/http-api.md",
    command:
      "curl -si http://127.0.0.1:8080/v1/decisions -H 'content-type: application/json' -d @examples/requests/malware.json",
    before: async (w) => {
      await w.use("configured");
      w.vars.CI_KEY = w.keys.ci;
    },
  },
  {
    page: "docs/http-api.md",
    command:
      "curl -s http://127.0.0.1:8080/v1/decisions -H 'content-type: application/json' -d @examples/requests/malware.json | jq",
    before: async (w) => {
      await w.use("default");
    },
  },
  {
    page: "docs/http-api.md",
    section: "`POST /v1/ruleset/reload`",
    command: "curl -s -X POST http://127.0.0.1:8080/v1/ruleset/reload | jq",
    // the prose: an edit that does not compile (threats.rules, line 19)
    before: (w) =>
      edit(w, "rules/threats.rules", "  when trustScore < 30", "  when trustscore < 30"),
    after: restore,
  },
  {
    page: "docs/http-api.md",
    command: /^SECRET=/,
    before: async (w) => {
      await w.use("configured");
    },
  },
  {
    page: "docs/http-api.md",
    command: "curl -s http://127.0.0.1:8080/readyz",
    before: async (w) => {
      await w.use("default");
    },
  },

  // docs/console.md: the headers of the console's page, from `pnpm start`'s server
  {
    page: "docs/console.md",
    command: "curl -sI http://127.0.0.1:8080/",
    before: async (w) => {
      await w.use("default");
    },
  },

  // docs/reviews.md: the walkthrough's server, examples/configs/reviews-demo.yaml, on a new log
  // (the page's `clearance serve` block made one and was stopped); its later blocks use it as it is
  {
    page: "docs/reviews.md",
    command:
      "jq '{result: .}' examples/results/unsigned-lowscore.json | curl -s http://127.0.0.1:8080/v1/decisions -H 'content-type: application/json' -d @- | jq '{decision, reason, rule, case}'",
    before: async (w) => {
      await w.stop("reviews");
      removeLog(w, "reviews-demo.db");
      await w.use("reviews");
    },
  },

  // docs/operations.md
  {
    page: "docs/operations.md",
    section: "What verification detects",
    command: "clearance audit verify",
    // the prose: a log of five decisions (the fifth entry a deny, which the next commands edit)
    // and the review cases of the two `review`s
    before: async (w) => {
      await w.use("default");
      await record(w, [
        ["api", "malware"],
        ["api", "signed-microsoft"],
        ["api", "minimal"],
        ["api", "malware"],
        ["api", "expired-signature"],
      ]);
      await w.stop("default");
    },
  },
  {
    page: "docs/operations.md",
    command: "clearance audit verify --db /tmp/damaged.db",
    before: (w) => damagedLog(w, w.path("tmp", "damaged.db")),
  },
  {
    page: "docs/operations.md",
    command: /^clearance audit verify --json \| jq/,
    // check-heads.sh is the page's own script
    before: (w) =>
      writeFileSync(w.path("check-heads.sh"), script("docs/operations.md", "check-heads.sh")),
  },
  {
    page: "docs/operations.md",
    command: "clearance audit query --decision deny -n 2 --config examples/configs/clearance.yaml",
    // the configured server's log, which the rest of the page reads too: decisions asked for by
    // `ci`, one of them a file the shadow rules decide differently
    before: async (w) => {
      await w.use("configured");
      await record(
        w,
        [
          ["api", "malware"],
          ["batch", "ransomware"],
          ["api", "unsigned-lowscore"],
          ["api", "malware"],
          ["api", "signed-microsoft"],
        ],
        w.keys.ci,
      );
    },
  },
  {
    page: "docs/operations.md",
    section: "Retention and checkpoints",
    command: "clearance audit verify",
    // the prose: the two oldest of three entries were pruned
    before: async (w) => {
      removeLog(w, "audit.db");
      mkdirSync(w.path("data"), { recursive: true });
      const log = new AuditLog(
        new SqliteBackend({ path: w.path("data", "audit.db"), synchronous: "normal" }),
        {
          chain: hostname(),
          hmacSecret: null,
          maxBatch: 10,
        },
      );
      await log.open();
      const day = 86_400_000;
      for (const [i, age] of [500, 450, 0].entries()) {
        const r = result(w, ["malware", "signed-microsoft", "minimal"][i]!);
        const time = Date.now() - age * day;
        await log.append(
          decisionRecord({
            time: new Date(time).toISOString(),
            sha256: r.sha256 as string,
            fileName: r.fileName as string,
            decision: "review",
            reason: "no rule matched",
            ruleset: { revision: "sha256:18fcf8eb764657d4", commit: null, dirty: false },
          }),
          JSON.stringify({ result: r }),
        );
      }
      expect(await log.prune(new Date(Date.now() - 400 * day))).toBe(2);
      await log.close();
    },
  },
  {
    page: "docs/operations.md",
    section: "Damaged logs",
    command: "clearance serve",
    before: (w) => {
      removeLog(w, "audit.db");
      writeFileSync(w.path("data", "audit.db"), "");
    },
  },
  {
    page: "docs/operations.md",
    section: "One server per SQLite log",
    command: "clearance serve",
    // another server on the log: this process, through startServer
    before: async (w) => {
      removeLog(w, "audit.db");
      await w.use("default");
    },
    after: (w) => w.stop("default"),
  },
  {
    page: "docs/operations.md",
    command: /^sqlite3 data\/clearance\.db 'select id, target, attempts/,
    // every notification has had its first attempt (the receiver answers 500)
    before: async (w) => {
      const db = new Database(w.path("data", "clearance.db"), { readonly: true });
      try {
        for (let i = 0; i < 100; i++) {
          const waiting = db
            .prepare("select count(*) as n from outbox where last_error is null")
            .get() as { n: number };
          if (waiting.n === 0) return;
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error("setup: the outbox's notifications were not attempted within 10 s");
      } finally {
        db.close();
      }
    },
  },

  {
    page: "docs/operations.md",
    command: "clearance audit verify --config examples/configs/postgres-replica.yaml",
    // two replicas of examples/configs/postgres-replica.yaml, one decision each, in a schema of
    // their own on CLEARANCE_TEST_PG (dropped after)
    before: async (w) => {
      replicaSchema = `docs_${randomBytes(6).toString("hex")}`;
      w.vars.CLEARANCE_PG_URL = process.env.CLEARANCE_TEST_PG!;
      // the command runs in replica-1's environment, as the page says
      w.vars.CLEARANCE_CHAIN = "replica-1";
      edit(
        w,
        "examples/configs/postgres-replica.yaml",
        "schema: clearance ",
        `schema: ${replicaSchema} `,
      );
      for (const chain of ["replica-1", "replica-2"]) {
        const env = { ...w.env(), CLEARANCE_CHAIN: chain };
        const plain = structuredClone(
          loadConfig(w.path("examples", "configs", "postgres-replica.yaml"), env),
        ) as ServerConfig;
        plain.server.host = "127.0.0.1";
        plain.server.port = 0;
        const server = await startServer(resolveConfig(plain, { env }), { logger: false });
        try {
          const res = await fetch(`${server.url}/v1/decisions`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${w.keys.ci}` },
            body: JSON.stringify({ result: result(w, "malware") }),
          });
          if (!res.ok)
            throw new Error(`setup: ${chain} answered ${res.status}: ${await res.text()}`);
        } finally {
          await server.close();
        }
      }
    },
    after: async (w) => {
      restore(w);
      // pg is the server package's dependency; the CLI's tests borrow it to drop the schema
      const pg = createRequire(join(root, "packages", "server", "package.json"))("pg") as {
        Client: new (o: {
          connectionString: string;
        }) => {
          connect(): Promise<void>;
          query(q: string): Promise<unknown>;
          end(): Promise<void>;
        };
      };
      const client = new pg.Client({ connectionString: process.env.CLEARANCE_TEST_PG! });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${replicaSchema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  },

  // docs/testing.md: the test file of rules/tests/, changed as each paragraph says
  {
    page: "docs/testing.md",
    command: "cat rules/tests/bad.test.yaml",
    before: (w) =>
      writeFileSync(
        w.path("rules", "tests", "bad.test.yaml"),
        'cases:\n  - name: an empty report\n    input: { sha256: "2222222222222222222222222222222222222222222222222222222222222222" }\n    expect: { decison: review }\n',
      ),
    after: restore,
  },
  {
    page: "docs/testing.md",
    section: "Failures",
    command: "clearance test rules",
    before: (w) =>
      edit(
        w,
        "rules/tests/governance.test.yaml",
        "    context: { group: finance }\n    expect: { decision: review, rule: finance_strict",
        "    context: { group: engineering }\n    expect: { decision: review, rule: finance_strict",
      ),
    after: restore,
  },
  {
    page: "docs/testing.md",
    section: "Coverage",
    command: "clearance test rules",
    before: (w) => {
      const file = "rules/tests/governance.test.yaml";
      const text = readFileSync(w.path(file), "utf8");
      const start = text.indexOf("  - name: a self-signed developer tool goes to review");
      const end = text.indexOf("  - name:", start + 1);
      if (start < 0 || end < 0) throw new Error(`${file} no longer has the self_signed case`);
      writeFileSync(w.path(file), text.slice(0, start) + text.slice(end));
    },
    after: restore,
  },
];

// ---------------------------------------------------------------------------------------------
// The test

/**
 * `UPDATE_DOCS=1` writes each failing block's output back into its page (its own lines kept where
 * they match, so placeholders and `...` gaps survive): read the diff before committing it.
 */
const UPDATE_DOCS = process.env.UPDATE_DOCS === "1";
const updates: { page: string; start: number; count: number; lines: string[] }[] = [];
afterAll(() => {
  const pages = new Set(updates.map((u) => u.page));
  for (const page of pages) {
    const lines = readFileSync(join(root, page), "utf8").split("\n");
    for (const u of updates.filter((x) => x.page === page).sort((a, b) => b.start - a.start))
      lines.splice(u.start, u.count, ...u.lines);
    writeFileSync(join(root, page), lines.join("\n"));
  }
});

const blocks = PAGES.flatMap(consoleBlocks);
const HAVE = {
  curl: commandExists("curl"),
  jq: commandExists("jq"),
  openssl: commandExists("openssl"),
  pnpm: commandExists("pnpm"),
  pg: Boolean(process.env.CLEARANCE_TEST_PG),
};

function commandExists(name: string): boolean {
  try {
    execFileSync("bash", ["-c", `command -v ${name}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Why a block cannot run here, if it cannot. */
function skipReason(block: ConsoleBlock): string | undefined {
  if (block.skip) return block.skip;
  if (!BUILT) return "the CLI is not built (pnpm build)";
  const all = block.steps.map((s) => s.command).join("\n");
  for (const tool of ["curl", "jq", "openssl", "pnpm"] as const)
    if (new RegExp(`(^|[|\\s(])${tool}\\s`).test(all) && !HAVE[tool])
      return `\`${tool}\` is not installed`;
  if (/postgres/.test(all) && !HAVE.pg) return "needs PostgreSQL: set CLEARANCE_TEST_PG";
  return undefined;
}

const skipped: string[] = [];
const world = new World();

describe("the command outputs shown in the docs", () => {
  beforeAll(() => world.init(), 30_000);
  afterAll(async () => {
    await world.close();
    console.log(
      skipped.length === 0
        ? `docs console blocks: all ${blocks.length} ran`
        : `docs console blocks not run (${skipped.length} of ${blocks.length}):\n${skipped.map((s) => `  ${s}`).join("\n")}`,
    );
  });

  test("every `$ ` line is in a console block", () => {
    expect(strayCommands, "make these ```console blocks, so that they are run").toEqual([]);
  });

  test("there are console blocks on the pages that show commands", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(40);
  });

  for (const block of blocks) {
    const name = `${block.page}:${block.line} ${block.steps[0]?.command.split("\n")[0] ?? ""}`;
    const reason = skipReason(block);
    if (reason) {
      setupFor(block); // its setup belongs to a block that is listed as not run
      skipped.push(`${block.page}:${block.line}: ${reason}`);
      test.skip(`${name} (${reason})`, () => {});
      continue;
    }
    test(name, async () => {
      if (world.page !== block.page) await world.reset(block.page);
      const problems: string[] = [];
      const setup = setupFor(block);
      const cwd = setup?.inRepository ? root : world.dir;
      await setup?.before?.(world);
      try {
        for (const step of block.steps) {
          const output = await runStep(world, step, setup, cwd);
          const { ok, diff, merged } = compare(step.expected, output);
          if (!ok && UPDATE_DOCS) {
            // the expected lines follow the command's own lines; trailing blank lines are kept
            const commandLines = step.command.split("\n").length;
            const kept = step.expected.length - normalise(step.expected).length;
            updates.push({
              page: block.page,
              start: step.line - 1 + commandLines,
              count: step.expected.length,
              lines: [...merged, ...Array<string>(kept).fill("")],
            });
          }
          if (!ok)
            problems.push(
              `${block.page}:${step.line}: \`$ ${step.command}\` printed something else (- the doc, + the command):\n${diff.join("\n")}`,
            );
        }
      } finally {
        await setup?.after?.(world);
      }
      if (problems.length > 0) throw new Error(problems.join("\n\n"));
    }, 60_000);
  }

  test.skipIf(!BUILT)("every setup was used once", () => {
    const unused = SETUPS.filter((s) => used.get(s) !== 1).map(
      (s) => `${s.page}: ${String(s.command)} (used ${used.get(s) ?? 0} times)`,
    );
    expect(unused).toEqual([]);
  });
});
