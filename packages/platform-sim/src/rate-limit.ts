/**
 * Fixed-window rate limiting per bucket (an API key, or one shared bucket for unauthenticated
 * requests). Windows are aligned to multiples of the window length, so `X-RateLimit-Reset` is the
 * same instant for every bucket, as on platforms that publish a reset time.
 */

export interface RateState {
  limit: number;
  remaining: number;
  windowMs: number;
  /** epoch ms when the window ends */
  resetMs: number;
  /** false: over the limit */
  allowed: boolean;
}

interface Bucket {
  windowStart: number;
  count: number;
}

/** Buckets kept before old windows are swept. */
const SWEEP_AT = 10_000;

export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  #bucket(name: string, nowMs: number): Bucket {
    const windowStart = nowMs - (((nowMs % this.windowMs) + this.windowMs) % this.windowMs);
    let bucket = this.#buckets.get(name);
    if (bucket === undefined || bucket.windowStart !== windowStart) {
      if (this.#buckets.size >= SWEEP_AT)
        for (const [k, b] of this.#buckets)
          if (b.windowStart !== windowStart) this.#buckets.delete(k);
      bucket = { windowStart, count: 0 };
      this.#buckets.set(name, bucket);
    }
    return bucket;
  }

  /** Counts one request against the bucket. */
  take(name: string, nowMs: number): RateState {
    const bucket = this.#bucket(name, nowMs);
    bucket.count++;
    return this.#state(bucket, bucket.count <= this.limit);
  }

  /** A refusal that does not count (a forced 429), reporting nothing left. */
  refuse(name: string, nowMs: number): RateState {
    return { ...this.#state(this.#bucket(name, nowMs), false), remaining: 0 };
  }

  reset(): void {
    this.#buckets.clear();
  }

  #state(bucket: Bucket, allowed: boolean): RateState {
    return {
      limit: this.limit,
      remaining: Math.max(0, this.limit - bucket.count),
      windowMs: this.windowMs,
      resetMs: bucket.windowStart + this.windowMs,
      allowed,
    };
  }
}

/** Both header forms (docs/platform-api.md, "Rate limits"), and `Retry-After` when refused. */
export function rateLimitHeaders(state: RateState, nowMs: number): Record<string, string> {
  const secondsLeft = Math.max(1, Math.ceil((state.resetMs - nowMs) / 1000));
  const headers: Record<string, string> = {
    "x-ratelimit-limit": String(state.limit),
    "x-ratelimit-remaining": String(state.remaining),
    "x-ratelimit-reset": String(Math.ceil(state.resetMs / 1000)),
    "ratelimit-policy": `"default";q=${state.limit};w=${state.windowMs / 1000}`,
    ratelimit: `"default";r=${state.remaining};t=${secondsLeft}`,
  };
  if (!state.allowed) headers["retry-after"] = String(secondsLeft);
  return headers;
}
