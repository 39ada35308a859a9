/**
 * Parsers for option values, used while the command tree is built. They live apart from the
 * commands so that building the tree (and `--help`, `--version`) loads nothing heavy: each
 * command's module, with the engine, the server or the client behind it, is imported only when
 * that command runs.
 */
import { InvalidArgumentError } from "commander";
import { CliError } from "./output.js";

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError("a whole number of 1 or more");
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError("a whole number of 0 or more");
  return n;
}

export function exitCode(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || n > 125)
    throw new InvalidArgumentError("an exit code from 0 to 125");
  return n;
}

export function port(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError("a port number from 0 to 65535");
  return n;
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function percent(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 100)
    throw new InvalidArgumentError("a percentage from 0 to 100");
  return n;
}

/** A duration: `90s`, `5m`, `2h`, `1d`, or plain milliseconds. */
export function parseDurationArg(value: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!m)
    throw new CliError(`${what} \`${value}\` is not a duration`, "write it as 90s, 5m, 2h or 1d");
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    (m[2] ?? "ms") as "ms" | "s" | "m" | "h" | "d"
  ];
  return Math.round(Number(m[1]) * unit);
}

type Action = "allow" | "deny" | "review";
const ACTIONS = new Set(["allow", "deny", "review"]);

/** `allow->deny,review->allow` -> pairs; a bad entry is an error naming it. */
export function parseFailOn(
  value: string,
  previous: { from: Action; to: Action }[] = [],
): { from: Action; to: Action }[] {
  const out = [...previous];
  for (const part of value
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^(\w+)\s*->\s*(\w+)$/.exec(part);
    if (!m || !ACTIONS.has(m[1]!) || !ACTIONS.has(m[2]!) || m[1] === m[2]) {
      throw new CliError(
        `--fail-on \`${part}\` is not a transition`,
        "write transitions like `allow->deny,review->allow`",
      );
    }
    out.push({ from: m[1] as Action, to: m[2] as Action });
  }
  return out;
}
