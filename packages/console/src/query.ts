// The Audit page's state as data: the filter of `GET /v1/audit` (kept in the page's address, so a
// search can be shared and reloaded), the requests it makes, and keyset paging over the API's
// cursors. No DOM here: the unit tests run it under Node.

export const DECISIONS = ["allow", "deny", "review"] as const;
export type Decision = (typeof DECISIONS)[number];
/** `source` values the audit log records (packages/server/src/audit/entry.ts) */
export const SOURCES = ["api", "batch", "webhook", "gate", "sync", "review", "santa"] as const;
export type Source = (typeof SOURCES)[number];

/** The filter of `GET /v1/audit` and `GET /v1/audit/export`, every field optional. */
export interface AuditFilter {
  sha256?: string;
  fileName?: string;
  decision?: Decision;
  rule?: string;
  requester?: string;
  source?: Source;
  /** inclusive, RFC 3339 UTC */
  from?: string;
  /** exclusive, RFC 3339 UTC */
  to?: string;
}

/** The keys in the order they appear in addresses, forms and exports. */
export const FILTER_KEYS = [
  "sha256",
  "fileName",
  "decision",
  "rule",
  "requester",
  "source",
  "from",
  "to",
] as const satisfies readonly (keyof AuditFilter)[];
export type FilterKey = (typeof FILTER_KEYS)[number];

export interface FieldProblem {
  field: FilterKey;
  message: string;
}

const SHA256 = /^[0-9a-fA-F]{64}$/;
/** A time without a zone (`2026-12-04T10:30`, seconds and fractions optional): read as UTC. */
const LOCAL_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,3})?)?$/;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/;

/** A time as typed (without a zone, taken as UTC) or as RFC 3339, to RFC 3339 UTC. */
export function toUtc(value: string): string | undefined {
  const text = LOCAL_TIME.test(value) ? `${value}Z` : value;
  if (!RFC3339.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** An RFC 3339 time as the form shows it, in UTC without a zone (`2026-12-04T10:30:00`). */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return "";
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? "" : new Date(ms).toISOString().slice(0, 19);
}

/**
 * Reads a filter from text values (a form's fields, or an address's query): blanks are left out,
 * every other value is checked as the API would check it, and each problem names its field.
 */
export function readFilter(values: Partial<Record<FilterKey, string | null | undefined>>): {
  filter: AuditFilter;
  problems: FieldProblem[];
} {
  const filter: AuditFilter = {};
  const problems: FieldProblem[] = [];
  for (const key of FILTER_KEYS) {
    const value = values[key]?.trim();
    if (!value) continue;
    switch (key) {
      case "sha256":
        if (SHA256.test(value)) filter.sha256 = value.toLowerCase();
        else
          problems.push({
            field: key,
            message: `a SHA-256 is 64 hex digits; \`${short(value)}\` has ${value.length} characters`,
          });
        break;
      case "decision":
        if ((DECISIONS as readonly string[]).includes(value)) filter.decision = value as Decision;
        else problems.push({ field: key, message: `\`${short(value)}\` is not a decision` });
        break;
      case "source":
        if ((SOURCES as readonly string[]).includes(value)) filter.source = value as Source;
        else problems.push({ field: key, message: `\`${short(value)}\` is not a source` });
        break;
      case "from":
      case "to": {
        const utc = toUtc(value);
        if (utc) filter[key] = utc;
        else
          problems.push({
            field: key,
            message: `\`${short(value)}\` is not a time: write \`2026-12-04T10:30\` (UTC)`,
          });
        break;
      }
      default:
        filter[key] = value;
    }
  }
  if (filter.from && filter.to && filter.from >= filter.to)
    problems.push({ field: "to", message: "`to` must be later than `from`" });
  return { filter, problems };
}

function short(value: string): string {
  return value.length > 24 ? `${value.slice(0, 24)}...` : value;
}

/** The filter as query parameters, in FILTER_KEYS order, without empty fields. */
export function filterParams(filter: AuditFilter): URLSearchParams {
  const params = new URLSearchParams();
  for (const key of FILTER_KEYS) {
    const value = filter[key];
    if (value !== undefined && value !== "") params.set(key, value);
  }
  return params;
}

/** The page of `GET /v1/audit` for a filter, from `cursor` (the previous page's `nextCursor`). */
export function searchUrl(filter: AuditFilter, limit: number, cursor?: string): string {
  const params = filterParams(filter);
  params.set("limit", String(limit));
  if (cursor !== undefined) params.set("cursor", cursor);
  return `/v1/audit?${params}`;
}

/** `GET /v1/audit/export` for the same filter: every matching decision as NDJSON, oldest first. */
export function exportUrl(filter: AuditFilter): string {
  const params = filterParams(filter);
  return params.size === 0 ? "/v1/audit/export" : `/v1/audit/export?${params}`;
}

/** The console's own address of a search (`#/audit?decision=deny`). */
export function searchHash(filter: AuditFilter): string {
  const params = filterParams(filter);
  return params.size === 0 ? "#/audit" : `#/audit?${params}`;
}

/**
 * Keyset paging: the API gives each page the cursor of the next (older) one, never an offset. The
 * way back is the cursors already followed: `trail[i]` is the cursor page `i` was read from (the
 * first page has none), so Previous re-reads the page before with the cursor it was read with.
 */
export interface Paging {
  readonly trail: readonly (string | undefined)[];
  /** the cursor of the page after the one shown; null on the last page */
  readonly next: string | null;
}

export const FIRST_PAGE: Paging = Object.freeze({ trail: Object.freeze([undefined]), next: null });

/** The cursor the page shown was read with. */
export function currentCursor(paging: Paging): string | undefined {
  return paging.trail[paging.trail.length - 1];
}

/** The page shown was read, and the API answered with `nextCursor`. */
export function loaded(paging: Paging, nextCursor: string | null): Paging {
  return { trail: paging.trail, next: nextCursor };
}

/** Move to the next (older) page; undefined on the last page. */
export function older(paging: Paging): Paging | undefined {
  if (paging.next === null) return undefined;
  return { trail: [...paging.trail, paging.next], next: null };
}

/** Move to the previous (newer) page; undefined on the first. */
export function newer(paging: Paging): Paging | undefined {
  if (paging.trail.length <= 1) return undefined;
  return { trail: paging.trail.slice(0, -1), next: null };
}

/** 1-based number of the page shown. */
export function pageNumber(paging: Paging): number {
  return paging.trail.length;
}
