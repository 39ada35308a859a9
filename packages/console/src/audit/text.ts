// How the audit pages write times, hashes, durations and paths: plain functions, tested under Node.

/** `2026-12-04 10:30:12.345` from an RFC 3339 UTC time; the label says UTC. */
export function utc(time: string): string {
  return time.replace("T", " ").replace(/Z$/, "");
}

/** `2026-12-04 10:30:12`: a table's time, to the second. */
export function utcSeconds(time: string): string {
  return utc(time).replace(/\.\d+$/, "");
}

/** A latency in microseconds as people read it: `420 µs`, `8.3 ms`, `1.20 s`. */
export function latency(us: number): string {
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(us < 10_000 ? 1 : 0)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

/**
 * The rule files' paths without the directory they share (the server's rule directory, which
 * says nothing to the reader): `threats.rules`, `vendors/known.rules`.
 */
export function relativeTo(paths: readonly string[]): (path: string) => string {
  if (paths.length === 0) return (p) => p;
  const dirs = paths.map((p) => p.split("/").slice(0, -1));
  let shared = dirs[0]!.length;
  for (const d of dirs)
    for (let i = 0; i < shared; i++)
      if (d[i] !== dirs[0]![i]) {
        shared = i;
        break;
      }
  return (p) => p.split("/").slice(shared).join("/");
}

/** A SHA-256 shortened for a table: enough to tell files apart, the whole in the title. */
export function shortHash(hash: string): string {
  return hash.length > 20 ? `${hash.slice(0, 12)}…${hash.slice(-6)}` : hash;
}
