// Each rule's hits over time (`GET /v1/ruleset/hits`): the range and bucket checked and aligned
// here, the counting done by the audit store in one aggregate read, the counts arranged per rule.
import type { HitKind } from "./audit/backend.js";
import type { AuditLog } from "./audit/log.js";
import { InvalidRequestError } from "./errors.js";

/** More buckets than this would be a chart nobody reads, and an answer without bound. */
export const MAX_HIT_BUCKETS = 1000;
/** The longest range counted: each count reads every decision in the range. */
export const MAX_HIT_RANGE_DAYS = 92;
/** `1h`, `15m`, `1d`: a whole number of minutes, hours or days. */
export const BUCKET_PATTERN = "^[1-9][0-9]{0,3}[mhd]$";
const DEFAULT_RANGE_MS = 24 * 3600_000;
const DEFAULT_BUCKET = "1h";
const UNIT_SECONDS = { m: 60, h: 3600, d: 86400 } as const;

export const HIT_KINDS: readonly HitKind[] = [
  "allow",
  "deny",
  "review",
  "matched",
  "monitored",
  "disagreements",
];

export type HitCounts = Record<HitKind, number>;

export interface RuleHits {
  /** null: decisions no rule decided (the rule set's default) */
  rule: string | null;
  totals: HitCounts;
  /** the buckets with a count, oldest first; `at` is the bucket's start */
  buckets: (HitCounts & { at: string })[];
}

export interface HitsAnswer {
  from: string;
  to: string;
  bucket: string;
  bucketSeconds: number;
  /** how many buckets the range has (those of `rules[].buckets` are the ones with counts) */
  bucketCount: number;
  /** rules with a count in the range, most matched first */
  rules: RuleHits[];
}

export interface HitsRequest {
  from?: string | undefined;
  to?: string | undefined;
  bucket?: string | undefined;
}

const zero = (): HitCounts => ({
  allow: 0,
  deny: 0,
  review: 0,
  matched: 0,
  monitored: 0,
  disagreements: 0,
});

function bucketSeconds(bucket: string): number {
  const match = new RegExp(BUCKET_PATTERN).exec(bucket);
  if (!match)
    throw new InvalidRequestError(
      `bucket \`${bucket}\` must be a whole number of minutes, hours or days, such as \`15m\`, \`1h\` or \`1d\``,
      [{ pointer: "querystring:/bucket", message: "not a bucket size" }],
    );
  return Number(bucket.slice(0, -1)) * UNIT_SECONDS[bucket.at(-1) as keyof typeof UNIT_SECONDS];
}

function instant(name: "from" | "to", value: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms))
    throw new InvalidRequestError(`\`${name}\` must be an RFC 3339 time, got \`${value}\``, [
      { pointer: `querystring:/${name}`, message: "not a time" },
    ]);
  return ms;
}

/**
 * Counts the decisions of `[from, to)` per bucket and rule. The range is widened to whole buckets
 * (counted from the Unix epoch, in UTC), so that the same bucket always covers the same time.
 * `to` defaults to now, `from` to a day before `to`, `bucket` to `1h`.
 */
export async function ruleHits(
  audit: AuditLog,
  request: HitsRequest,
  now = new Date(),
): Promise<HitsAnswer> {
  const bucket = request.bucket ?? DEFAULT_BUCKET;
  const size = bucketSeconds(bucket) * 1000;
  const toMs = request.to === undefined ? now.getTime() : instant("to", request.to);
  const fromMs =
    request.from === undefined ? toMs - DEFAULT_RANGE_MS : instant("from", request.from);
  if (fromMs >= toMs)
    throw new InvalidRequestError(
      `\`from\` (${new Date(fromMs).toISOString()}) must be before \`to\` (${new Date(toMs).toISOString()})`,
      [{ pointer: "querystring:/from", message: "not before `to`" }],
    );
  if (toMs - fromMs > MAX_HIT_RANGE_DAYS * 86400_000)
    throw new InvalidRequestError(
      `the range from \`from\` to \`to\` must be at most ${MAX_HIT_RANGE_DAYS} days, got ${Math.ceil((toMs - fromMs) / 86400_000)}`,
      [
        {
          pointer: "querystring:/from",
          message: `more than ${MAX_HIT_RANGE_DAYS} days before \`to\``,
        },
      ],
    );
  const start = Math.floor(fromMs / size) * size;
  const end = Math.ceil(toMs / size) * size;
  const count = (end - start) / size;
  if (count > MAX_HIT_BUCKETS)
    throw new InvalidRequestError(
      `the range holds ${count} buckets of \`${bucket}\`, more than ${MAX_HIT_BUCKETS}: choose a larger bucket or a shorter range`,
      [{ pointer: "querystring:/bucket", message: `more than ${MAX_HIT_BUCKETS} buckets` }],
    );
  const from = new Date(start).toISOString();
  const to = new Date(end).toISOString();
  const counts = await audit.hits({ from, to, bucketSeconds: size / 1000 });

  const byRule = new Map<string | null, Map<number, HitCounts>>();
  for (const c of counts) {
    let buckets = byRule.get(c.rule);
    if (!buckets) byRule.set(c.rule, (buckets = new Map()));
    let at = buckets.get(c.bucket);
    if (!at) buckets.set(c.bucket, (at = zero()));
    at[c.kind] += c.count;
  }
  const rules = [...byRule].map(([rule, buckets]): RuleHits => {
    const totals = zero();
    const list = [...buckets]
      .sort(([a], [b]) => a - b)
      .map(([b, counts]) => {
        for (const k of HIT_KINDS) totals[k] += counts[k];
        return { at: new Date(start + b * size).toISOString(), ...counts };
      });
    return { rule, totals, buckets: list };
  });
  rules.sort(
    (a, b) =>
      b.totals.matched - a.totals.matched || (a.rule ?? "\uffff").localeCompare(b.rule ?? "\uffff"),
  );
  return { from, to, bucket, bucketSeconds: size / 1000, bucketCount: count, rules };
}
