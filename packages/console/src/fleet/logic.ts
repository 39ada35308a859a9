// The Fleet page's rules as plain functions (no DOM; unit-tested under Node): its filter and
// addresses, what makes a machine worth a look, and what the API's refusals mean here.
import { ApiError, describeError, type SantaMachine } from "../api.js";
import { searchHash } from "../query.js";

export interface FleetFilter {
  group?: string;
}

/** `group` as `GET /v1/santa/machines` takes it: 1 to 64 characters. */
const GROUP_MAX = 64;

/** The filter from an address or the form, checked as the API checks it. */
export function readFleetFilter(values: { group?: string | null }): {
  filter: FleetFilter;
  problems: { field: "group"; message: string }[];
} {
  const group = values.group?.trim();
  if (!group) return { filter: {}, problems: [] };
  if (group.length > GROUP_MAX)
    return {
      filter: {},
      problems: [
        {
          field: "group",
          message: `a group's name has at most ${GROUP_MAX} characters; this one has ${group.length}`,
        },
      ],
    };
  return { filter: { group }, problems: [] };
}

/** A page of machines, by id, from `cursor` (the previous page's `nextCursor`). */
export function machinesUrl(filter: FleetFilter, limit: number, cursor?: string): string {
  const params = new URLSearchParams();
  if (filter.group) params.set("group", filter.group);
  params.set("limit", String(limit));
  if (cursor !== undefined) params.set("cursor", cursor);
  return `/v1/santa/machines?${params}`;
}

/** The console's address of the fleet with a filter (`#/fleet?group=engineering`). */
export function fleetHash(filter: FleetFilter): string {
  return filter.group ? `#/fleet?${new URLSearchParams({ group: filter.group })}` : "#/fleet";
}

/** One machine's page; its id is the agent's, any text, so it is encoded. */
export function machineHash(id: string): string {
  return `#/fleet/${encodeURIComponent(id)}`;
}

/** What about a machine's sync needs a look, as the API's fields say it. */
export interface Trouble {
  /** no sync of this machine ever completed: it has confirmed none of its group's rules */
  neverSynced: boolean;
  /** the type of a sync it began and did not complete (its postflight never came), or null */
  syncOpen: string | null;
  /** the group's rule changes it has not confirmed */
  behind: number;
}

export function troubleOf(m: SantaMachine): Trouble {
  return { neverSynced: m.lastSyncAt === null, syncOpen: m.syncing, behind: m.rulesBehind };
}

export function needsALook(t: Trouble): boolean {
  return t.neverSynced || t.syncOpen !== null || t.behind > 0;
}

/** The troubles of the machines on a page, counted (the API gives no totals for the fleet). */
export function pageTroubles(machines: readonly SantaMachine[]): {
  machines: number;
  behind: number;
  neverSynced: number;
  syncOpen: number;
} {
  const troubles = machines.map(troubleOf);
  return {
    machines: machines.length,
    behind: troubles.filter((t) => t.behind > 0).length,
    neverSynced: troubles.filter((t) => t.neverSynced).length,
    syncOpen: troubles.filter((t) => t.syncOpen !== null).length,
  };
}

/** `1 rule change`, `3 rule changes`. */
export function ruleChanges(n: number): string {
  return `${n} rule change${n === 1 ? "" : "s"}`;
}

/**
 * The audit log's Santa decisions, and those of the machine's primary user on it: the log's
 * requester is `santa:<executing user>@<machine id>` and the API matches it exactly, so no one
 * address finds every user's executions on one machine.
 */
export function decisionLinks(m: Pick<SantaMachine, "id" | "primaryUser">): {
  santa: string;
  primaryUser: { user: string; hash: string } | null;
} {
  return {
    santa: searchHash({ source: "santa" }),
    primaryUser:
      m.primaryUser === ""
        ? null
        : {
            user: m.primaryUser,
            hash: searchHash({ source: "santa", requester: `santa:${m.primaryUser}@${m.id}` }),
          },
  };
}

/**
 * A 404 from `GET /v1/santa/machines`: the routes exist only with `santa.enabled` (a machine's own
 * 404 says it is not registered, and is told apart by asking the list).
 */
export function santaIsOff(error: unknown): boolean {
  return error instanceof ApiError && error.status === 404;
}

/** What an analyst reads when the fleet could not be read. */
export function fleetFailure(error: unknown): string {
  if (error instanceof ApiError && error.status === 403)
    return `The server refused this request (403 forbidden): ${error.detail}. Reading the fleet needs the audit:read scope.`;
  return describeError(error);
}
