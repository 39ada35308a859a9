import type { RefObject } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { useListKeys } from "./keys.js";
import {
  currentCursor,
  FIRST_PAGE,
  loaded,
  newer,
  older,
  type Paging,
  pageNumber,
} from "./query.js";
import { navigate } from "./router.js";

// A list read a page at a time with the API's cursors (the Audit log, the review queue): which
// page is shown, the selected row, and where an analyst left it to open a row, so that coming back
// shows the same page with the same row selected.

/** The list an analyst left to open a row: its address, the page and the row. */
export interface KeptList {
  hash: string;
  paging: Paging;
  selected: number;
}

/** Where one kind of list is kept while one of its rows is open (one per page of the console). */
export class ListMemory {
  private kept: KeptList | undefined;

  constructor(private readonly home: string) {}

  keep(list: KeptList): void {
    this.kept = list;
  }

  /** The kept list when it is the list at `hash`. */
  of(hash: string): KeptList | undefined {
    return this.kept?.hash === hash ? this.kept : undefined;
  }

  /** Where a row's "back" goes: the last list shown, or the list's own page. */
  back(): string {
    return this.kept?.hash ?? this.home;
  }
}

export interface PagedListOptions<A> {
  /** the list's address: another address is another list, from its first page */
  hash: string;
  memory: ListMemory;
  /** one page, from the API: the first with `undefined` */
  load(cursor: string | undefined): Promise<A>;
  rows(answer: A): readonly { id: string }[];
  nextCursor(answer: A): string | null;
  describeError(error: unknown): string;
  /** a row's own page */
  rowHash(id: string): string;
}

export interface PagedList<A> {
  /** the answer shown: until the page asked for arrives, the previous one stays (dimmed) */
  answer: A | null;
  error: string | null;
  loading: boolean;
  /** the page's number, from 1 */
  depth: number;
  selected: number;
  select(index: number): void;
  /** the table body whose rows' `a.open` links the keys move between */
  body: RefObject<HTMLTableSectionElement | null>;
  pager: PagerState;
}

export interface PagerState {
  depth: number;
  loading: boolean;
  toPrevious: (() => void) | undefined;
  toNext: (() => void) | undefined;
}

export function usePagedList<A>(o: PagedListOptions<A>): PagedList<A> {
  const kept = o.memory.of(o.hash);
  const [paging, setPaging] = useState<Paging>(kept?.paging ?? FIRST_PAGE);
  const [shown, setShown] = useState<{ key: string; answer: A } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState(kept?.selected ?? 0);
  const body = useRef<HTMLTableSectionElement>(null);
  const cursor = currentCursor(paging);
  const depth = pageNumber(paging);
  const key = `${depth} ${cursor ?? ""}`;
  const loading = shown?.key !== key && error === null;

  useEffect(() => {
    let stale = false;
    setError(null);
    o.load(cursor).then(
      (answer) => {
        if (stale) return;
        setShown({ key, answer });
        setPaging((p) => loaded(p, o.nextCursor(answer)));
        setSelected((s) => Math.min(s, Math.max(0, o.rows(answer).length - 1)));
      },
      (e: unknown) => {
        if (!stale) setError(o.describeError(e));
      },
    );
    return () => {
      stale = true;
    };
  }, [key]);

  // kept as the row is selected, not after the next paint: Enter on a row focused a moment ago
  // leaves the page before a deferred effect would run (headless Chromium paints late, if at all)
  useLayoutEffect(() => {
    o.memory.keep({ hash: o.hash, paging, selected });
  }, [paging, selected]);

  const answer = shown?.answer ?? null;
  const rows = answer === null ? [] : o.rows(answer);
  useListKeys({
    count: rows.length,
    selected,
    select: setSelected,
    rows: body,
    open: (i) => navigate(o.rowHash(rows[i]!.id)),
  });

  const go = (to: Paging | undefined) =>
    to &&
    (() => {
      setSelected(0);
      setPaging(to);
    });
  return {
    answer,
    error,
    loading,
    depth,
    selected,
    select: setSelected,
    body,
    pager: { depth, loading, toPrevious: go(newer(paging)), toNext: go(older(paging)) },
  };
}

/**
 * The page buttons and the page's number and count. `reversed` lists oldest first: the earlier
 * pages hold older rows, and the buttons say so. A list in another order (machines by id) names
 * its buttons with `buttons`.
 */
export function Pager({
  state,
  label,
  count,
  noun,
  reversed = false,
  buttons = reversed ? ["← Older", "Newer →"] : ["← Newer", "Older →"],
}: {
  state: PagerState;
  label: string;
  count: number;
  noun: readonly [one: string, many: string];
  reversed?: boolean;
  buttons?: readonly [previous: string, next: string];
}) {
  const { depth, loading, toPrevious, toNext } = state;
  return (
    <nav class="pager" aria-label={label}>
      <button type="button" disabled={!toPrevious || loading} onClick={toPrevious}>
        {buttons[0]}
      </button>
      <span>
        Page {depth}
        {loading ? " · loading…" : ` · ${count} ${count === 1 ? noun[0] : noun[1]}`}
      </span>
      <button type="button" disabled={!toNext || loading} onClick={toNext}>
        {buttons[1]}
      </button>
    </nav>
  );
}
