import { once } from "node:events";
import { createWriteStream } from "node:fs";
import {
  AuditDamagedError,
  type AuditEntry,
  type AuditFilter,
  AuditLog,
  AuditUnavailableError,
  openBackend,
  SqliteBackend,
  type VerifyReport,
} from "@clearance/server";
import { parseTime } from "../io.js";
import { CliError, type Output, paint } from "../output.js";
import { type Env, readConfig } from "./serve.js";

export interface AuditOptions {
  config?: string;
  db?: string;
}

export interface FilterOptions {
  sha256?: string;
  decision?: string;
  rule?: string;
  source?: string;
  requester?: string;
  fileName?: string;
  since?: string;
  until?: string;
}

/** Exit code of `audit verify` for a broken chain or a damaged log (docs/cli.md). */
const BROKEN = 3;
const DAMAGE_HINT =
  "restore the log from a backup, or start the server with a new one (`clearance serve --new-log`); see docs/operations.md#damaged-logs";

/** A damaged store as a CLI error: `verify` exits 3 for it, the other commands 1. */
function damaged(error: AuditDamagedError, exitCode: number): CliError {
  return new CliError(error.message, DAMAGE_HINT, exitCode);
}

/** Runs a command's reads; the log's errors become messages, never stack traces. */
async function reading<T>(work: () => Promise<T>, damageExit = 1): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AuditDamagedError) throw damaged(error, damageExit);
    if (error instanceof AuditUnavailableError) throw new CliError(error.message);
    throw error;
  }
}

/**
 * Opens the configured audit log (or `--db`, an SQLite file) for reading and checking. It never
 * creates or migrates anything: a mistyped path is an error, not a new empty log that verifies.
 */
export async function openLog(options: AuditOptions, env: Env, damageExit = 1): Promise<AuditLog> {
  const config = readConfig(options.config, env);
  const store =
    options.db !== undefined || config.audit.backend === "sqlite"
      ? new SqliteBackend({
          path: options.db ?? config.audit.sqlite.path,
          synchronous: "normal",
          readonly: true,
        })
      : openBackend(config, { readonly: true });
  const log = new AuditLog(store, {
    chain: config.audit.chain,
    hmacSecret: config.audit.hmacSecret,
    maxBatch: config.audit.maxBatch,
  });
  try {
    await log.open();
    return log;
  } catch (error) {
    await log.close().catch(() => {});
    if (error instanceof AuditDamagedError) throw damaged(error, damageExit);
    if (error instanceof AuditUnavailableError) throw new CliError(error.message);
    throw error;
  }
}

function filterOf(o: FilterOptions): AuditFilter {
  const f: AuditFilter = {};
  if (o.sha256) f.sha256 = o.sha256.toLowerCase();
  if (o.decision) f.decision = o.decision;
  if (o.rule) f.rule = o.rule;
  if (o.source) f.source = o.source;
  if (o.requester) f.requester = o.requester;
  if (o.fileName) f.fileName = o.fileName;
  if (o.since) f.from = new Date(parseTime(o.since, "--since")).toISOString();
  if (o.until) f.to = new Date(parseTime(o.until, "--until")).toISOString();
  return f;
}

export async function auditVerifyCommand(
  output: Output,
  options: AuditOptions & { json?: boolean },
  env: Env,
): Promise<number> {
  const log = await openLog(options, env, BROKEN);
  try {
    const report = await reading(() => log.verify(), BROKEN);
    if (options.json) output.out(JSON.stringify(report, null, 2));
    else printReport(output, report);
    if (report.damage && !options.json) output.err(`hint: ${DAMAGE_HINT}`);
    return report.ok ? 0 : BROKEN;
  } finally {
    await log.close();
  }
}

/** `1 entry`, `2 entries` */
const entries = (n: number) => `${n} ${n === 1 ? "entry" : "entries"}`;

function printReport(output: Output, report: VerifyReport): void {
  const b = report.broken;
  const d = report.damage;
  for (const c of report.chains) {
    if (b && c.chain === b.chain) continue;
    const lost = d?.unreadable.filter((u) => u.chain === c.chain).length ?? 0;
    output.out(
      `chain ${c.chain}: ${entries(c.entries)} (seq ${c.from}..${c.to}), head ${c.head.slice(0, 16) || "-"}${lost ? `, ${lost} unreadable stretch${lost > 1 ? "es" : ""}` : ""}`,
    );
  }
  if (d) {
    output.out(
      paint(
        output,
        "red",
        `damaged: ${d.where}: ${d.code ? `SQLite says \`${d.message}\` (${d.code})` : d.message}`,
      ),
    );
    for (const u of d.unreadable)
      output.out(
        `  chain ${u.chain}: ${u.to === null ? `seq ${u.from} to the end` : u.from === u.to ? `seq ${u.from}` : `seq ${u.from}..${u.to}`} could not be read`,
      );
    // the first finding is the message when nothing else was: not said twice
    for (const p of d.pages) if (p !== d.message) output.out(`  store check: ${p}`);
  }
  if (b)
    output.out(
      paint(
        output,
        "red",
        `broken: chain ${b.chain} at seq ${b.seq}${b.id ? ` (entry ${b.id})` : ""}: ${b.problem.replaceAll("_", " ")}`,
      ),
    );
  else if (report.ok)
    output.out(
      paint(
        output,
        "green",
        report.entries === 0 ? "ok: the log is empty" : `ok: ${entries(report.entries)} verified`,
      ),
    );
}

export async function auditExportCommand(
  output: Output,
  options: AuditOptions & FilterOptions & { out?: string; inputs: boolean; kind?: string },
  env: Env,
): Promise<number> {
  const kind = options.kind ?? "decision";
  if (kind !== "decision") {
    const filters = (
      ["sha256", "decision", "rule", "source", "requester", "fileName", "since", "until"] as const
    )
      .filter((f) => options[f] !== undefined)
      .map((f) => (f === "fileName" ? "--file-name" : `--${f}`));
    if (filters.length > 0)
      throw new CliError(
        `${filters.join(", ")} ${filters.length === 1 ? "filters" : "filter"} decisions; \`--kind ${kind}\` exports every entry of its kind`,
      );
  }
  const log = await openLog(options, env);
  let count = 0;
  try {
    const names = log.store.kinds.map((k) => k.name);
    if (kind !== "all" && !names.includes(kind))
      throw new CliError(
        `\`--kind ${kind}\` is not an entry kind (${names.map((n) => `\`${n}\``).join(", ")}, or \`all\`)`,
      );
    const stream = options.out ? createWriteStream(options.out) : undefined;
    const ofKind = (name: string): AsyncIterable<{ id: string }> =>
      name === "decision"
        ? log.export(filterOf(options), { inputs: options.inputs })
        : log.exportKind(name);
    const source: AsyncIterable<unknown> = kind === "all" ? byId(names.map(ofKind)) : ofKind(kind);
    await reading(async () => {
      for await (const entry of source) {
        const line = JSON.stringify(entry);
        if (stream) {
          if (!stream.write(`${line}\n`)) await once(stream, "drain");
        } else output.out(line);
        count++;
      }
    });
    if (stream) {
      stream.end();
      await once(stream, "finish");
      output.err(`${entries(count)} written to ${options.out}`);
    }
    return 0;
  } finally {
    await log.close();
  }
}

/** Entries of several kinds, each read oldest first, as one sequence oldest first (by id). */
async function* byId<T extends { id: string }>(sources: AsyncIterable<T>[]): AsyncGenerator<T> {
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  const heads = await Promise.all(iterators.map((i) => i.next()));
  for (;;) {
    let at = -1;
    for (const [i, h] of heads.entries())
      if (!h.done && (at < 0 || h.value.id < (heads[at]!.value as T).id)) at = i;
    if (at < 0) return;
    yield heads[at]!.value as T;
    heads[at] = await iterators[at]!.next();
  }
}

function line(output: Output, e: AuditEntry): string {
  const color = e.decision === "allow" ? "green" : e.decision === "deny" ? "red" : "yellow";
  return `${e.time}  ${paint(output, color, e.decision.padEnd(6))} ${e.sha256.slice(0, 12)}  ${(e.fileName ?? "-").slice(0, 32).padEnd(32)}  ${(e.rule ?? "(default)").padEnd(24)} ${e.source}${e.requester ? `/${e.requester}` : ""}  ${e.reason}`;
}

export async function auditQueryCommand(
  output: Output,
  options: AuditOptions & FilterOptions & { limit: number; json?: boolean },
  env: Env,
): Promise<number> {
  const log = await openLog(options, env);
  try {
    const page = await reading(() => log.query(filterOf(options), options.limit));
    if (options.json) output.out(JSON.stringify(page, null, 2));
    else {
      for (const e of page.entries) output.out(line(output, e));
      if (page.entries.length === 0) output.err("no entries match");
      else if (page.nextCursor)
        output.err(`(more: raise --limit, or use \`clearance audit export\`)`);
    }
    return 0;
  } finally {
    await log.close();
  }
}

/** The last entries, oldest first; with --follow, new entries as they are written. */
export async function auditTailCommand(
  output: Output,
  options: AuditOptions & FilterOptions & { lines: number; follow?: boolean; intervalMs?: number },
  env: Env,
  stop: AbortSignal = new AbortController().signal,
): Promise<number> {
  const log = await openLog(options, env);
  try {
    const filter = filterOf(options);
    const page = await reading(() => log.query(filter, options.lines));
    const entries = page.entries.reverse();
    for (const e of entries) output.out(line(output, e));
    if (!options.follow) return 0;
    let last = entries[entries.length - 1]?.id;
    while (!stop.aborted) {
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 1000));
      await reading(async () => {
        for await (const e of log.export(filter, {
          inputs: false,
          ...(last ? { after: last } : {}),
        })) {
          output.out(line(output, e));
          last = e.id;
        }
      });
    }
    return 0;
  } finally {
    await log.close();
  }
}
