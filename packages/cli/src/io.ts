import { readFileSync } from "node:fs";
import {
  type CanonicalOutcome,
  type InputFormat,
  parseJsonText,
  toCanonical,
} from "@clearance/engine";
import { CliError } from "./output.js";

export function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(
      `cannot read ${what} \`${path}\`: ${code === "ENOENT" ? "no such file" : (error as Error).message}`,
    );
  }
}

/** Reads a JSON file; a syntax error names the file, line and column. */
export function readJson(path: string, what: string): unknown {
  const parsed = parseJsonText(readText(path, what));
  if (!parsed.ok)
    throw new CliError(
      `${what} \`${path}\` is not valid JSON: ${parsed.problems.map((p) => p.message).join("; ")}`,
    );
  return parsed.value;
}

/** An analysis result in either format, validated; every problem listed by JSON Pointer. */
export function toResult(
  value: unknown,
  source: string,
  format?: InputFormat,
): CanonicalOutcome & { ok: true } {
  const outcome = toCanonical(value, format ? { format } : {});
  if (!outcome.ok) {
    const lines = outcome.problems.map((p) => `  ${p.pointer || "/"}: ${p.message}`).join("\n");
    throw new CliError(
      `${source} is not a valid analysis result:\n${lines}`,
      "see docs/language.md for the result's fields, or pass --format virustotal",
    );
  }
  return outcome;
}

/** A point in time: RFC 3339, or `30d` / `12h` / `15m` ago. */
export function parseTime(value: string, what: string, now = Date.now()): number {
  const m = /^(\d+)([dhm])$/.exec(value);
  if (m)
    return now - Number(m[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[m[2] as "d" | "h" | "m"];
  return parseNow(value, what)!;
}

export function parseNow(value: string | undefined, what = "--now"): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new CliError(
      `${what} \`${value}\` is not a timestamp`,
      "write it as 2026-11-26T12:00:00Z",
    );
  return ms;
}
