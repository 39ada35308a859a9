/**
 * Rate-limit headers, in both forms the platform sends (docs/platform-api.md):
 *
 *     X-RateLimit-Limit: 600
 *     X-RateLimit-Remaining: 597
 *     X-RateLimit-Reset: 1795707000          (Unix seconds when the window resets)
 *     RateLimit-Policy: "default";q=600;w=60 (IETF draft: quota q per window w seconds)
 *     RateLimit: "default";r=597;t=42        (IETF draft: remaining r, seconds to reset t)
 *
 * Older IETF draft forms are read too: `RateLimit-Limit` / `-Remaining` / `-Reset` (seconds to
 * reset), `RateLimit: limit=600, remaining=597, reset=42` and `RateLimit-Policy: 600;w=60`.
 * Parsing never throws: what cannot be read is ignored.
 */

/** What the last answer said about the request rate. */
export interface RateLimitState {
  /** Requests allowed per window. */
  limit: number | undefined;
  /** Requests left in the current window. */
  remaining: number | undefined;
  /** When the window resets, epoch milliseconds. */
  resetAt: number | undefined;
  /** Window length in seconds (`RateLimit-Policy` `w`), when known. */
  windowSeconds?: number;
  /** Policy name (`RateLimit-Policy` item), when known. */
  policy?: string;
}

export type HeaderBag =
  | Record<string, string | string[] | undefined>
  | { get(name: string): string | null };

/** The value of a header (case-insensitive), several values joined by ", ". */
export function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as { get?: unknown }).get === "function") {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
    if (key.toLowerCase() !== lower || value === undefined) continue;
    return Array.isArray(value) ? value.join(", ") : String(value);
  }
  return undefined;
}

/** A non-negative decimal number, or undefined. */
function number(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed)) return undefined;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : undefined;
}

type Bare = string | number | boolean;

/** One item of a structured-field list (RFC 8941): a bare value and its parameters. */
export interface SfItem {
  value: Bare;
  params: Map<string, Bare>;
}

/** Splits on `sep` outside double-quoted strings (honouring backslash escapes). */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted && c === "\\" && i + 1 < text.length) {
      current += c + text[i + 1]!;
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === sep && !quoted) {
      parts.push(current);
      current = "";
    } else current += c;
  }
  parts.push(current);
  return parts;
}

function bare(text: string): Bare {
  const t = text.trim();
  if (t.startsWith('"') && t.endsWith('"') && t.length >= 2) {
    return t.slice(1, -1).replace(/\\(.)/g, "$1");
  }
  if (t === "?1") return true;
  if (t === "?0") return false;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  return t;
}

/**
 * A lenient RFC 8941 list parser: `item;key=value;flag, item2;...`. Items and parameters that do
 * not parse are skipped; `key=value` items (dictionary members) keep the key as the value and the
 * member value as the parameter `=`.
 */
export function parseStructuredList(text: string): SfItem[] {
  const items: SfItem[] = [];
  for (const member of splitOutsideQuotes(text, ",")) {
    if (member.trim() === "") continue;
    const [head = "", ...rest] = splitOutsideQuotes(member, ";");
    const params = new Map<string, Bare>();
    let value: Bare;
    const eq = head.indexOf("=");
    if (eq > 0 && !head.trim().startsWith('"')) {
      value = head.slice(0, eq).trim().toLowerCase();
      params.set("=", bare(head.slice(eq + 1)));
    } else {
      value = bare(head);
    }
    for (const param of rest) {
      const at = param.indexOf("=");
      const key = (at < 0 ? param : param.slice(0, at)).trim().toLowerCase();
      if (key === "") continue;
      params.set(key, at < 0 ? true : bare(param.slice(at + 1)));
    }
    items.push({ value, params });
  }
  return items;
}

function nonNegative(value: Bare | undefined): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** Unix seconds (or, below 10^9, seconds from now: some servers send a delta) -> epoch ms. */
function resetFromEpoch(seconds: number | undefined, now: number): number | undefined {
  if (seconds === undefined) return undefined;
  return seconds < 1e9 ? now + seconds * 1000 : seconds * 1000;
}

/**
 * Reads the rate-limit headers of one answer. The IETF headers win over the `X-RateLimit-*` ones
 * where both give a value; with several `RateLimit` items the one with the fewest remaining
 * requests counts. Undefined when the answer has no rate-limit header.
 */
export function parseRateLimitHeaders(headers: HeaderBag, now: number): RateLimitState | undefined {
  // X-RateLimit-*
  let limit = number(header(headers, "x-ratelimit-limit"));
  let remaining = number(header(headers, "x-ratelimit-remaining"));
  let resetAt = resetFromEpoch(number(header(headers, "x-ratelimit-reset")), now);
  let windowSeconds: number | undefined;
  let policy: string | undefined;

  // Older IETF drafts: RateLimit-Limit / -Remaining / -Reset (seconds to reset).
  limit = number(header(headers, "ratelimit-limit")) ?? limit;
  remaining = number(header(headers, "ratelimit-remaining")) ?? remaining;
  const oldReset = number(header(headers, "ratelimit-reset"));
  if (oldReset !== undefined) resetAt = now + oldReset * 1000;

  // RateLimit-Policy: "name";q=600;w=60 (or, older, 600;w=60).
  const policies = new Map<string, { q?: number; w?: number }>();
  let firstPolicy: { name: string; q?: number; w?: number } | undefined;
  const policyText = header(headers, "ratelimit-policy");
  if (policyText !== undefined) {
    for (const item of parseStructuredList(policyText)) {
      const q = nonNegative(item.params.get("q")) ?? nonNegative(item.value);
      const w = nonNegative(item.params.get("w"));
      const name = typeof item.value === "string" ? item.value : "";
      const entry: { q?: number; w?: number } = {};
      if (q !== undefined) entry.q = q;
      if (w !== undefined) entry.w = w;
      policies.set(name, entry);
      firstPolicy ??= { name, ...entry };
    }
  }

  // RateLimit: "name";r=597;t=42 (or, older, limit=600, remaining=597, reset=42).
  const rateText = header(headers, "ratelimit");
  let matched: { name: string; q?: number; w?: number } | undefined;
  if (rateText !== undefined) {
    const items = parseStructuredList(rateText);
    const dictionary = new Map<string, number>();
    let best: { name: string; r: number; t: number | undefined } | undefined;
    for (const item of items) {
      const member = nonNegative(item.params.get("="));
      if (typeof item.value === "string" && member !== undefined && item.params.has("=")) {
        dictionary.set(item.value, member);
        continue;
      }
      const r = nonNegative(item.params.get("r"));
      if (r === undefined) continue;
      if (best === undefined || r < best.r) {
        best = {
          name: typeof item.value === "string" ? item.value : "",
          r,
          t: nonNegative(item.params.get("t")),
        };
      }
    }
    if (best !== undefined) {
      remaining = best.r;
      if (best.t !== undefined) resetAt = now + best.t * 1000;
      const p = policies.get(best.name);
      if (p !== undefined) matched = { name: best.name, ...p };
    } else {
      limit = dictionary.get("limit") ?? limit;
      remaining = dictionary.get("remaining") ?? remaining;
      const reset = dictionary.get("reset");
      if (reset !== undefined) resetAt = now + reset * 1000;
    }
  }
  const chosen = matched ?? firstPolicy;
  if (chosen !== undefined) {
    if (chosen.q !== undefined) limit = chosen.q;
    if (chosen.w !== undefined) windowSeconds = chosen.w;
    if (chosen.name !== "") policy = chosen.name;
  }

  if (limit === undefined && remaining === undefined && resetAt === undefined) return undefined;
  const state: RateLimitState = { limit, remaining, resetAt };
  if (windowSeconds !== undefined) state.windowSeconds = windowSeconds;
  if (policy !== undefined) state.policy = policy;
  return state;
}

/**
 * `Retry-After` in milliseconds from `now`: delay seconds (decimals accepted) or an HTTP date.
 * Undefined when absent or unreadable; never negative.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const seconds = number(value);
  if (seconds !== undefined) return seconds * 1000;
  const date = Date.parse(value.trim());
  if (Number.isNaN(date) || !/[a-z]/i.test(value)) return undefined;
  return Math.max(0, date - now);
}
