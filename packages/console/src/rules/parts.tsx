import type { ComponentChildren } from "preact";
import type { RuleInfo } from "../api.js";
import { DecisionBadge } from "../audit/format.js";
import type { Loaded } from "./data.js";
import { RANGES, type RangeId } from "./model.js";

/** The rule pages' address: `#/rules`, with the range and anything else as parameters. */
export function rulesHash(path: string, params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, v);
  const s = q.toString();
  return `#/rules${path}${s ? `?${s}` : ""}`;
}

export function ruleHash(name: string, range: RangeId): string {
  return rulesHash(`/${encodeURIComponent(name)}`, { range });
}

export function fileHash(path: string, line: number | undefined, range: RangeId, set?: "shadow") {
  return rulesHash("", {
    range,
    file: path,
    line: line === undefined ? undefined : String(line),
    set,
  });
}

/** Last 24 hours / 7 days / 30 days, as links: the range is part of the address. */
export function RangePicker({
  current,
  hashFor,
}: {
  current: RangeId;
  hashFor: (r: RangeId) => string;
}) {
  return (
    <nav class="range-picker" aria-label="Time range">
      <span class="muted">Hits in:</span>
      <ul>
        {RANGES.map((r) => (
          <li key={r.id}>
            <a href={hashFor(r.id)} aria-current={r.id === current ? "true" : undefined}>
              {r.label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/** A rule's action as the decision badges show decisions: mark, word and shape. */
export function ActionBadge({ rule }: { rule: RuleInfo }) {
  return <DecisionBadge decision={rule.action} />;
}

/** A request still loading or failed, in words; the children once it answered. */
export function Await<T>({
  loaded,
  what,
  children,
}: {
  loaded: Loaded<T>;
  what: string;
  children: (value: T) => ComponentChildren;
}) {
  if (loaded.state === "loading") return <p class="muted">Loading {what}…</p>;
  if (loaded.state === "error")
    return (
      <p class="notice error" role="alert">
        Could not load {what}. {loaded.message}
      </p>
    );
  return <>{children(loaded.value)}</>;
}

/**
 * A rule file's path without its rule set's directory (`threats.rules`): the live and the shadow
 * directories both, which need share nothing.
 */
export function relativePaths(
  status: { dir: string; shadow?: { dir: string } | null } | undefined,
): (path: string) => string {
  const dirs = [status?.dir, status?.shadow?.dir]
    .filter((d): d is string => d !== undefined)
    .map((d) => (d.endsWith("/") ? d : `${d}/`));
  return (path) => {
    const dir = dirs.find((d) => path.startsWith(d));
    return dir ? path.slice(dir.length) : path;
  };
}
