import { AbortedError } from "./errors.js";

/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"):
 * the delay before retry `n` (0 for the first retry) is uniform in
 * [0, min(maxDelayMs, baseDelayMs * 2^n)). Full jitter spreads the retries of many clients that
 * failed together, so they do not come back in step.
 */
export interface BackoffOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

/** The upper bound of the delay before retry `retry` (0-based). */
export function backoffCeiling(retry: number, options: BackoffOptions): number {
  const exponential = options.baseDelayMs * 2 ** Math.min(Math.max(retry, 0), 52);
  return Math.min(options.maxDelayMs, exponential);
}

/**
 * The delay before retry `retry` (0-based): `random()` (in [0, 1)) times the ceiling, rounded
 * down to whole milliseconds. A `random` returning values outside [0, 1) is clamped.
 */
export function backoffDelay(retry: number, options: BackoffOptions, random: () => number): number {
  const r = random();
  const clamped = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
  return Math.floor(clamped * backoffCeiling(retry, options));
}

/** Throws AbortedError once `signal` has fired. */
export function checkSignal(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(what, signal.reason);
}

/** `sleep(ms)` (injectable, for tests), cut short by `signal` with AbortedError. */
export async function sleepUnlessAborted(
  sleep: (ms: number) => Promise<void>,
  ms: number,
  signal: AbortSignal | undefined,
  what: string,
): Promise<void> {
  checkSignal(signal, what);
  if (signal === undefined) return sleep(ms);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new AbortedError(what, signal.reason));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await Promise.race([sleep(ms), aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort!);
  }
}
