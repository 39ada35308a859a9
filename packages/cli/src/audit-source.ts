import { Readable } from "node:stream";
import {
  type AuditBackend,
  type AuditFilter,
  AuditLog,
  PostgresBackend,
  SqliteBackend,
} from "@clearance/server";
import { CliError } from "./output.js";

const POSTGRES = /^postgres(ql)?:\/\//i;

/** Whether `spec` names an audit log rather than a file: `audit:<sqlite file>` or a PostgreSQL URL. */
export function isAuditSource(spec: string): boolean {
  return spec.startsWith("audit:") || POSTGRES.test(spec);
}

function openBackend(spec: string): AuditBackend {
  if (spec.startsWith("audit:")) {
    const path = spec.slice("audit:".length);
    try {
      return new SqliteBackend({ path, synchronous: "normal", readonly: true });
    } catch (error) {
      throw new CliError(
        `cannot read the audit log \`${path}\`: ${(error as Error).message}`,
        "give the SQLite file the server writes (`audit.sqlite.path`, default data/audit.db)",
      );
    }
  }
  // `?schema=` picks the schema (audit.postgres.schema); the rest of the URL goes to pg as is
  const url = new URL(spec);
  const schema = url.searchParams.get("schema") ?? "public";
  url.searchParams.delete("schema");
  return new PostgresBackend({ url: url.toString(), poolSize: 2, schema });
}

/**
 * The inputs recorded in an audit log as an NDJSON stream of exported entries (oldest first), for
 * `clearance dry-run --from audit:data/audit.db`. Each line carries the recorded result and context.
 */
export function auditSource(spec: string, filter: AuditFilter): Readable | undefined {
  if (!isAuditSource(spec)) return undefined;
  const log = new AuditLog(openBackend(spec), { chain: "dry-run", hmacSecret: null, maxBatch: 1 });
  async function* lines(): AsyncGenerator<string> {
    try {
      for await (const entry of log.export(filter, { inputs: true }))
        yield `${JSON.stringify(entry)}\n`;
    } finally {
      await log.close();
    }
  }
  return Readable.from(lines(), { objectMode: false });
}
