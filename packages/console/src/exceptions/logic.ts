// The Exceptions pages' rules as plain functions (no DOM; unit-tested under Node): the tabs and
// filters over `GET /v1/exceptions`, what an exception covers in words, a revocation's checks.
import type { ExceptionKind, ExceptionView } from "../api.js";

const DAY = 86_400_000;

/** "Expiring soon": active, with an expiry within this long from now (as the server's metric). */
export const SOON_MS = 7 * DAY;

export const EXCEPTION_TABS = ["active", "soon", "expired", "revoked"] as const;
export type ExceptionTab = (typeof EXCEPTION_TABS)[number];
export const TAB_LABELS: Record<ExceptionTab, string> = {
  active: "Active",
  soon: "Expiring within 7 days",
  expired: "Expired",
  revoked: "Revoked",
};
export const KINDS: readonly ExceptionKind[] = ["file", "signer", "vendor"];

export interface ExceptionFilter {
  tab: ExceptionTab;
  kind?: ExceptionKind;
  sha256?: string;
}

const SHA256 = /^[0-9a-fA-F]{64}$/;

/** The exceptions' filter from an address, each value checked as the API checks it. */
export function readExceptionFilter(params: URLSearchParams): {
  filter: ExceptionFilter;
  problems: { field: "kind" | "sha256"; message: string }[];
} {
  const problems: { field: "kind" | "sha256"; message: string }[] = [];
  const tab = params.get("tab") ?? "active";
  const filter: ExceptionFilter = {
    tab: (EXCEPTION_TABS as readonly string[]).includes(tab) ? (tab as ExceptionTab) : "active",
  };
  const kind = params.get("kind")?.trim();
  if (kind) {
    if ((KINDS as readonly string[]).includes(kind)) filter.kind = kind as ExceptionKind;
    else problems.push({ field: "kind", message: `\`${kind}\` is not a kind` });
  }
  const sha = params.get("sha256")?.trim();
  if (sha) {
    if (SHA256.test(sha)) filter.sha256 = sha.toLowerCase();
    else
      problems.push({
        field: "sha256",
        message: `a SHA-256 is 64 hex digits; this has ${sha.length} characters`,
      });
  }
  return { filter, problems };
}

/** `GET /v1/exceptions` for a tab: "expiring soon" reads the active ones and keeps the soon. */
export function exceptionsUrl(filter: ExceptionFilter): string {
  const params = new URLSearchParams();
  params.set("state", filter.tab === "soon" ? "active" : filter.tab);
  if (filter.kind) params.set("kind", filter.kind);
  if (filter.sha256) params.set("sha256", filter.sha256);
  return `/v1/exceptions?${params}`;
}

export function exceptionsHash(filter: ExceptionFilter): string {
  const params = new URLSearchParams();
  if (filter.tab !== "active") params.set("tab", filter.tab);
  if (filter.kind) params.set("kind", filter.kind);
  if (filter.sha256) params.set("sha256", filter.sha256);
  return params.size === 0 ? "#/exceptions" : `#/exceptions?${params}`;
}

export function expiringSoon(e: Pick<ExceptionView, "state" | "expires">, now: number): boolean {
  return e.state === "active" && e.expires !== null && Date.parse(e.expires) - now <= SOON_MS;
}

/** The exceptions a tab shows, of those the API answered for it. */
export function tabRows(list: ExceptionView[], tab: ExceptionTab, now: number): ExceptionView[] {
  return tab === "soon" ? list.filter((e) => expiringSoon(e, now)) : list;
}

/** What an exception covers, as text. */
export function scopeText(e: Pick<ExceptionView, "kind" | "scope">): string {
  if (e.kind === "file") return `file ${e.scope.sha256 ?? "?"}`;
  if (e.kind === "signer") return `certificate ${e.scope.signer ?? "?"}`;
  return `${e.scope.vendor ?? "?"} / ${e.scope.product ?? "?"}`;
}

/** `group=finance`, or "every request". */
export function contextText(context: Record<string, string> | null): string {
  if (context === null || Object.keys(context).length === 0) return "every request";
  return Object.entries(context)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}

/** A revocation checked before it is sent. */
export function checkRevoke(
  justification: string,
  by: string,
): {
  body?: { justification: string; by: string };
  problems: { field: string; message: string }[];
} {
  const problems: { field: string; message: string }[] = [];
  if (by.trim() === "")
    problems.push({
      field: "by",
      message: "say who revokes: without API keys every revocation names its author",
    });
  if (justification.trim() === "")
    problems.push({ field: "justification", message: "a justification is required: say why" });
  else if (justification.trim().length > 4000)
    problems.push({ field: "justification", message: "at most 4000 characters" });
  if (problems.length > 0) return { problems };
  return { body: { justification: justification.trim(), by: by.trim() }, problems };
}
