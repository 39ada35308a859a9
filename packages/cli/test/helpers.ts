import { join } from "node:path";
import { AuditLog, SqliteBackend } from "@clearance/server";
import { decisionRecord } from "@clearance/server/testing";
import { main } from "../src/index.js";

/** The repository's root: tests read its rules/ and examples/. */
export const root = join(import.meta.dirname, "..", "..", "..");
export const NOW = "2026-11-26T12:00:00Z";

/** Runs the CLI in-process; returns its exit code and what it printed. */
export function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return runWith({}, ...args);
}

/** Runs the CLI in-process with `env` as its environment. */
export async function runWith(
  env: Readonly<Record<string, string>>,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    args,
    { out: (t) => out.push(t), err: (t) => err.push(t), color: false },
    env,
  );
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/**
 * An SQLite audit log at `path` holding `entries` decisions on `chain`, each with a long reason so
 * that they fill many pages: the log the damage tests damage.
 */
export async function fillAuditLog(
  path: string,
  options: { chain: string; hmacSecret: string | null; entries: number },
): Promise<void> {
  const log = new AuditLog(new SqliteBackend({ path, synchronous: "normal" }), {
    chain: options.chain,
    hmacSecret: options.hmacSecret,
    maxBatch: 500,
  });
  await log.open();
  await Promise.all(
    Array.from({ length: options.entries }, (_, i) =>
      log.append(
        decisionRecord({
          sha256: i.toString(16).padStart(64, "0"),
          fileName: `file-${i}.exe`,
          reason: "a reason long enough to fill pages ".repeat(8),
        }),
        JSON.stringify({ i }),
      ),
    ),
  );
  await log.close();
}
