import { type AuditFilter, type Paging, searchHash } from "../query.js";

/**
 * The list an analyst left to open an entry: its filter's address, the page and the row, so that
 * going back shows the same page with the same row selected rather than the first page.
 */
export interface KeptList {
  hash: string;
  paging: Paging;
  selected: number;
}

let kept: KeptList | undefined;

export function keepList(list: KeptList): void {
  kept = list;
}

/** The kept list when it is of this filter. */
export function keptFor(filter: AuditFilter): KeptList | undefined {
  return kept?.hash === searchHash(filter) ? kept : undefined;
}

/** Where the entry page's "back" goes: the last list shown, or the whole log. */
export function backHash(): string {
  return kept?.hash ?? "#/audit";
}
