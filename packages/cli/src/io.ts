import { execFileSync } from "node:child_process";
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
} from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";
import {
  type CanonicalOutcome,
  DEFAULT_INPUT_LIMITS,
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

/**
 * The directory a rule set's test files may read inputs from: the git work tree holding `dir`,
 * or, outside one, the directory the command runs in. Test files come with rule changes from
 * many authors: an input such as `/proc/self/environ` would print the CI runner's secrets in the
 * error that says it is not JSON.
 */
export function inputRoot(dir: string): string {
  try {
    const top = execFileSync("git", ["-C", dir, "rev-parse", "--show-toplevel"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 5_000,
    }).trim();
    if (top) return realpathSync(top);
  } catch {
    // not in a work tree, or no git: the current directory bounds the inputs
  }
  return realpathSync(resolve("."));
}

/**
 * Reads a regular file whose real path is inside `root`, of at most `maxBytes`: a symlink out of
 * the root, a FIFO (opened without blocking), a device or an oversized file is an error that
 * shows none of its content.
 */
export function readTextInside(
  path: string,
  root: string,
  what: string,
  maxBytes: number,
  option?: string,
): string {
  let real: string;
  try {
    real = realpathSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(
      `cannot read ${what} \`${path}\`: ${code === "ENOENT" ? "no such file" : (error as Error).message}`,
    );
  }
  const rel = relative(root, real);
  if (isAbsolute(rel) || rel === ".." || rel.startsWith(`..${sep}`))
    throw new CliError(
      `${what} \`${path}\` is outside \`${root}\``,
      "test inputs must be files of the repository that holds the rules",
    );
  const fd = openSync(real, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) throw new CliError(`${what} \`${path}\` is not a regular file`);
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (let n = 1; n > 0 && length < buffer.length; length += n)
      n = readSync(fd, buffer, length, buffer.length - length, null);
    if (length > maxBytes)
      throw new CliError(
        `${what} \`${path}\` is over the limit of ${maxBytes} bytes`,
        option === undefined ? undefined : `raise it with ${option}`,
      );
    return buffer.subarray(0, length).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a JSON file; a syntax error names the file, line and column. A text over `maxBytes` (the
 * input limit, 1 MiB unless given) is refused as over the limit, not as malformed.
 */
export function readJson(
  path: string,
  what: string,
  text = readText(path, what),
  limit?: { maxBytes: number; option: string },
): unknown {
  const maxBytes = limit?.maxBytes ?? DEFAULT_INPUT_LIMITS.maxBytes;
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > maxBytes)
    throw new CliError(
      `${what} \`${path}\` is ${bytes} bytes, over the limit of ${maxBytes} bytes`,
      limit ? `raise it with ${limit.option}` : undefined,
    );
  const parsed = parseJsonText(text, { maxBytes });
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
  maxBytes?: number,
): CanonicalOutcome & { ok: true } {
  return resultOrFail(
    toCanonical(value, {
      ...(format ? { format } : {}),
      ...(maxBytes === undefined ? {} : { limits: { maxBytes } }),
    }),
    source,
  );
}

/** The result of an outcome, or a CliError listing its problems by JSON Pointer. */
export function resultOrFail(
  outcome: CanonicalOutcome,
  source: string,
): CanonicalOutcome & { ok: true } {
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
