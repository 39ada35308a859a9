import type { ExceptionView, HitCounts, HitKind, Hits, RuleHits, RuleInfo } from "../api.js";

// What the Rules page computes from the API's answers: the range asked for, each rule's counts,
// the series a chart draws, what never matched and what expires soon. No DOM here: tested alone.

/** The ranges offered, in the address as `range=`; each with a bucket that gives 24 to 31 points. */
export const RANGES = [
  { id: "24h", label: "Last 24 hours", ms: 24 * 3600_000, bucket: "1h" },
  { id: "7d", label: "Last 7 days", ms: 7 * 24 * 3600_000, bucket: "6h" },
  { id: "30d", label: "Last 30 days", ms: 30 * 24 * 3600_000, bucket: "1d" },
] as const;

export type RangeId = (typeof RANGES)[number]["id"];
export const DEFAULT_RANGE: RangeId = "24h";

export function rangeOf(params: URLSearchParams): (typeof RANGES)[number] {
  return RANGES.find((r) => r.id === params.get("range")) ?? RANGES[0];
}

/** The hits query of a range ending now. */
export function hitsQuery(range: (typeof RANGES)[number], now: number) {
  return {
    from: new Date(now - range.ms).toISOString(),
    to: new Date(now).toISOString(),
    bucket: range.bucket,
  };
}

/** The series a chart draws and its table shows, in this order, with words for the legend. */
export const SERIES: readonly { kind: HitKind; label: string }[] = [
  { kind: "deny", label: "Denied by it" },
  { kind: "review", label: "Sent to review by it" },
  { kind: "allow", label: "Allowed by it" },
  { kind: "matched", label: "Matched" },
  { kind: "monitored", label: "Monitor matches" },
  { kind: "disagreements", label: "Shadow disagreed" },
];

export const ZERO: HitCounts = Object.freeze({
  allow: 0,
  deny: 0,
  review: 0,
  matched: 0,
  monitored: 0,
  disagreements: 0,
});

/** A rule's counts in the range (zeros when the answer has none for it). */
export function totalsOf(hits: Hits | undefined, rule: string): HitCounts {
  return hits?.rules.find((r) => r.rule === rule)?.totals ?? ZERO;
}

/**
 * One rule's buckets, every one of the range (the API sends only those with counts): the times
 * in seconds, as uPlot reads them, and one array per kind.
 */
export function denseSeries(
  hits: Hits,
  rule: RuleHits | undefined,
): { times: number[]; values: Record<HitKind, number[]> } {
  const start = Date.parse(hits.from) / 1000;
  const times = Array.from({ length: hits.bucketCount }, (_, i) => start + i * hits.bucketSeconds);
  const values = Object.fromEntries(
    SERIES.map((s) => [s.kind, new Array<number>(hits.bucketCount).fill(0)]),
  ) as Record<HitKind, number[]>;
  for (const b of rule?.buckets ?? []) {
    const i = Math.round((Date.parse(b.at) / 1000 - start) / hits.bucketSeconds);
    if (i < 0 || i >= hits.bucketCount) continue;
    for (const s of SERIES) values[s.kind][i] = b[s.kind];
  }
  return { times, values };
}

export type SortKey = "hits" | "name" | "priority";

/**
 * The live rules in the table's order: most matched first (a monitor rule's matches are its monitor
 * matches; by name on ties), by name, or by priority.
 */
export function sortRules(rules: readonly RuleInfo[], hits: Hits | undefined, by: SortKey) {
  const matched = (r: RuleInfo) => {
    const t = totalsOf(hits, r.name);
    return t.matched + t.monitored;
  };
  return [...rules].sort((a, b) => {
    if (by === "hits") return matched(b) - matched(a) || a.name.localeCompare(b.name);
    if (by === "priority") return b.priority - a.priority || a.name.localeCompare(b.name);
    return a.name.localeCompare(b.name);
  });
}

/** Live rules that matched no decision in the range (monitor rules: no monitor match either). */
export function neverMatched(rules: readonly RuleInfo[], hits: Hits): RuleInfo[] {
  return rules.filter((r) => {
    const t = totalsOf(hits, r.name);
    return t.matched === 0 && t.monitored === 0;
  });
}

/** How soon is soon: rules and exceptions that stop applying within this many days. */
export const EXPIRING_DAYS = 14;

export function expiringRules(rules: readonly RuleInfo[], now: number): RuleInfo[] {
  const until = now + EXPIRING_DAYS * 86400_000;
  return rules
    .filter((r) => r.expires !== undefined && Date.parse(r.expires) <= until)
    .sort((a, b) => Date.parse(a.expires!) - Date.parse(b.expires!));
}

export function expiringExceptions(list: readonly ExceptionView[], now: number): ExceptionView[] {
  const until = now + EXPIRING_DAYS * 86400_000;
  return list
    .filter((e) => e.state === "active" && e.expires !== null && Date.parse(e.expires) <= until)
    .sort((a, b) => Date.parse(a.expires!) - Date.parse(b.expires!));
}

/** "in 3 days", "in 5 hours", "2 days ago": how far `time` is from `now`, in words. */
export function fromNow(time: string, now: number): string {
  const ms = Date.parse(time) - now;
  const abs = Math.abs(ms);
  const [n, unit] =
    abs >= 86400_000
      ? [Math.round(abs / 86400_000), "day"]
      : abs >= 3600_000
        ? [Math.round(abs / 3600_000), "hour"]
        : [Math.max(1, Math.round(abs / 60_000)), "minute"];
  const words = `${n} ${unit}${n === 1 ? "" : "s"}`;
  return ms >= 0 ? `in ${words}` : `${words} ago`;
}

/** What an exception covers, in a few words. */
export function exceptionScope(e: ExceptionView): string {
  if (e.kind === "file") return `file ${e.scope.sha256 ?? ""}`;
  if (e.kind === "signer") return `signer ${e.scope.signer ?? ""}`;
  return `vendor ${e.scope.vendor ?? ""}${e.scope.product ? ` / ${e.scope.product}` : ""}`;
}
