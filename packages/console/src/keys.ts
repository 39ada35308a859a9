import type { RefObject } from "preact";
import { useLayoutEffect } from "preact/hooks";
import { navigate } from "./router.js";

// The console's keys, the same on every page: `j`/`k` move in a list and `Enter` opens its row,
// `Esc` goes back to where a page was opened from. Handlers are registered as the page renders
// (a layout effect): a deferred effect waits for a paint that headless Chromium may delay, and
// keys pressed meanwhile would be lost.

/** Whether a key event's target takes text (a field, a select, an editor): keys are its own. */
export function typing(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName))
  );
}

/** `Esc` goes to `back()`, unless a field has the cursor or something else took the key. */
export function useEscapeTo(back: () => string, deps: readonly unknown[] = []): void {
  useLayoutEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== "Escape" || event.defaultPrevented || typing(event.target)) return;
      navigate(back());
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, deps);
}

export interface ListKeys {
  /** rows in the list shown */
  count: number;
  selected: number;
  select(index: number): void;
  /** the list's body: each row's `a.open` link takes the focus as it is selected */
  rows: RefObject<HTMLElement | null>;
  /** opens a row (Enter anywhere but on a link or a button, which act themselves) */
  open(index: number): void;
}

/** `j`/`k` select the next and previous row, focusing its link; `Enter` opens the selected one. */
export function useListKeys(list: ListKeys): void {
  const { count, selected } = list;
  useLayoutEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (typing(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
      if (count === 0) return;
      if (event.key === "j" || event.key === "k") {
        event.preventDefault();
        const to = Math.max(0, Math.min(count - 1, selected + (event.key === "j" ? 1 : -1)));
        list.select(to);
        list.rows.current?.querySelectorAll<HTMLAnchorElement>("a.open")[to]?.focus();
      } else if (
        event.key === "Enter" &&
        !(event.target instanceof HTMLAnchorElement) &&
        !(event.target instanceof HTMLButtonElement)
      ) {
        event.preventDefault();
        list.open(selected);
      }
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, [count, selected, list.open]);
}
