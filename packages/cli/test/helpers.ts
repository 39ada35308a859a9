import { join } from "node:path";
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
