import { Readable } from "node:stream";
import { PlatformClient } from "@clearance/client";
import {
  type AuditFilter,
  AuditLog,
  type AuditStore,
  PostgresBackend,
  SqliteBackend,
} from "@clearance/server";
import { CliError } from "./output.js";

const POSTGRES = /^postgres(ql)?:\/\//i;

/** Whether `spec` names an audit log rather than a file: `audit:<sqlite file>` or a PostgreSQL URL. */
export function isAuditSource(spec: string): boolean {
  return spec.startsWith("audit:") || POSTGRES.test(spec);
}

/** `--from platform`: the platform's results, read through the client. */
export const PLATFORM_SOURCE = "platform";

/**
 * The platform's completed results in a time range, as NDJSON of its file objects (the dry-run
 * detects their format per record). The key and URL come from the environment, as for the gate.
 */
export function platformSource(
  spec: string,
  range: { since: string; until?: string },
  env: Readonly<Record<string, string | undefined>>,
): Readable | undefined {
  if (spec !== PLATFORM_SOURCE) return undefined;
  const baseUrl = env.CLEARANCE_PLATFORM_URL;
  const apiKey = env.CLEARANCE_PLATFORM_KEY;
  if (!baseUrl || !apiKey)
    throw new CliError(
      "`--from platform` needs CLEARANCE_PLATFORM_URL and CLEARANCE_PLATFORM_KEY (scope files.read)",
    );
  const client = new PlatformClient({ baseUrl, apiKey });
  async function* lines(): AsyncGenerator<string> {
    try {
      for await (const { file } of client.listFiles(range)) yield `${JSON.stringify(file)}\n`;
    } finally {
      await client.close();
    }
  }
  return Readable.from(lines(), { objectMode: false });
}

/** The log named by `spec`, for reading only (not opened yet). */
function storeOf(spec: string): AuditStore {
  if (spec.startsWith("audit:")) {
    const path = spec.slice("audit:".length);
    return new SqliteBackend({ path, synchronous: "normal", readonly: true });
  }
  // `?schema=` picks the schema (audit.postgres.schema); the rest of the URL goes to pg as is
  const url = new URL(spec);
  const schema = url.searchParams.get("schema") ?? "public";
  url.searchParams.delete("schema");
  return new PostgresBackend({ url: url.toString(), poolSize: 2, schema, readonly: true });
}

/** Opens the log named by `spec`; an SQLite file that cannot be read is said so, with the fix. */
async function openLog(spec: string): Promise<AuditLog> {
  const log = new AuditLog(storeOf(spec), { chain: "dry-run", hmacSecret: null, maxBatch: 1 });
  try {
    await log.open();
    return log;
  } catch (error) {
    await log.close().catch(() => {});
    if (!spec.startsWith("audit:")) throw error;
    throw new CliError(
      `cannot read the audit log \`${spec.slice("audit:".length)}\`: ${(error as Error).message}`,
      "give the SQLite file the server writes (`audit.sqlite.path`, default data/audit.db)",
    );
  }
}

/** Runs `work` on the log named by `spec`, opened for reading; closes it after. */
export async function withAuditLog<T>(
  spec: string,
  work: (log: AuditLog) => Promise<T>,
): Promise<T> {
  let log: AuditLog | undefined;
  try {
    log = await openLog(spec);
    return await work(log);
  } catch (error) {
    throw noLogHere(spec, error) ?? error;
  } finally {
    await log?.close();
  }
}

/** PostgreSQL's "relation does not exist", said as what it means here: no log in that schema. */
function noLogHere(spec: string, error: unknown): Error | undefined {
  if (!POSTGRES.test(spec)) return undefined;
  const codes = [error, (error as { cause?: unknown }).cause].map(
    (e) => (e as { code?: string } | undefined)?.code,
  );
  if (!codes.includes("42P01") && !/relation "[^"]*entries" does not exist/.test(String(error)))
    return undefined;
  const schema = new URL(spec).searchParams.get("schema") ?? "public";
  return new Error(
    `there is no audit log in PostgreSQL schema \`${schema}\`: a server writes the schema of its \`audit.postgres.schema\` (\`public\` unless set); name it with \`?schema=<name>\` in the URL`,
  );
}

/**
 * The inputs recorded in an audit log as an NDJSON stream of exported entries (oldest first), for
 * `clearance dry-run --from audit:data/audit.db`. Each line carries the recorded result and context.
 */
export function auditSource(spec: string, filter: AuditFilter): Readable | undefined {
  if (!isAuditSource(spec)) return undefined;
  async function* lines(): AsyncGenerator<string> {
    let log: AuditLog | undefined;
    try {
      log = await openLog(spec);
      for await (const entry of log.export(filter, { inputs: true }))
        yield `${JSON.stringify(entry)}\n`;
    } catch (error) {
      throw noLogHere(spec, error) ?? error;
    } finally {
      await log?.close();
    }
  }
  return Readable.from(lines(), { objectMode: false });
}
