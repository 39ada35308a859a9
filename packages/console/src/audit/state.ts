import { ListMemory } from "../paged-list.js";

/**
 * The audit log's list an analyst left to open an entry: going back shows the same page with the
 * same row selected rather than the first page; with none kept, the whole log.
 */
export const auditLists = new ListMemory("#/audit");
