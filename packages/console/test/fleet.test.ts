// The Fleet page's logic under Node: its filter and addresses, what marks a machine, and how the
// API's answers are read.
import { describe, expect, it } from "vitest";
import { ApiError, type SantaMachine } from "../src/api.js";
import {
  decisionLinks,
  fleetFailure,
  fleetHash,
  machineHash,
  machinesUrl,
  needsALook,
  pageTroubles,
  readFleetFilter,
  ruleChanges,
  santaIsOff,
  troubleOf,
} from "../src/fleet/logic.js";
import { parseHash } from "../src/router.js";

function machine(over: Partial<SantaMachine> = {}): SantaMachine {
  return {
    id: "M-1",
    group: "engineering",
    serial: "C02X",
    hostname: "ana-mbp",
    osVersion: "15.3.1",
    osBuild: "24D70",
    model: "Mac15,3",
    santaVersion: "2025.2",
    primaryUser: "ana",
    clientMode: "MONITOR",
    ruleCount: 3,
    registeredAt: "2026-12-01T10:00:00.000Z",
    lastPreflightAt: "2026-12-04T10:00:00.000Z",
    lastSyncAt: "2026-12-04T10:00:01.000Z",
    syncing: null,
    rulesAcked: 4,
    rulesBehind: 0,
    rulesReceived: 1,
    rulesProcessed: 1,
    eventsReceived: 7,
    ...over,
  };
}

describe("the fleet's filter and addresses", () => {
  it("reads a group, trimmed, and leaves a blank one out", () => {
    expect(readFleetFilter({ group: " finance " })).toEqual({
      filter: { group: "finance" },
      problems: [],
    });
    expect(readFleetFilter({ group: "  " })).toEqual({ filter: {}, problems: [] });
    expect(readFleetFilter({ group: null })).toEqual({ filter: {}, problems: [] });
  });

  it("refuses a group the API would refuse (over 64 characters), naming the field", () => {
    expect(readFleetFilter({ group: "g".repeat(64) }).problems).toEqual([]);
    expect(readFleetFilter({ group: "g".repeat(65) })).toEqual({
      filter: {},
      problems: [
        { field: "group", message: "a group's name has at most 64 characters; this one has 65" },
      ],
    });
  });

  it("asks the API for a page by cursor, and keeps the group in the console's address", () => {
    expect(machinesUrl({}, 50)).toBe("/v1/santa/machines?limit=50");
    expect(machinesUrl({ group: "a b&c" }, 50, "M-049")).toBe(
      "/v1/santa/machines?group=a+b%26c&limit=50&cursor=M-049",
    );
    expect(fleetHash({})).toBe("#/fleet");
    expect(fleetHash({ group: "finance" })).toBe("#/fleet?group=finance");
    expect(parseHash(fleetHash({ group: "a b&c" })).params.get("group")).toBe("a b&c");
  });

  it("addresses a machine by its id, whatever characters the agent used", () => {
    const id = "weird/id?#1";
    expect(machineHash(id)).toBe("#/fleet/weird%2Fid%3F%231");
    expect(parseHash(machineHash(id)).segments).toEqual(["fleet", id]);
  });
});

describe("what marks a machine", () => {
  it("marks nothing on a machine that synced and confirmed every rule change", () => {
    const t = troubleOf(machine());
    expect(t).toEqual({ neverSynced: false, syncOpen: null, behind: 0 });
    expect(needsALook(t)).toBe(false);
  });

  it("marks a machine never synced, one with a sync left open, one behind on rules", () => {
    expect(needsALook(troubleOf(machine({ lastSyncAt: null })))).toBe(true);
    expect(troubleOf(machine({ syncing: "CLEAN" })).syncOpen).toBe("CLEAN");
    expect(needsALook(troubleOf(machine({ syncing: "NORMAL" })))).toBe(true);
    expect(needsALook(troubleOf(machine({ rulesBehind: 1 })))).toBe(true);
  });

  it("counts a page's troubles, a machine once under each of its troubles", () => {
    expect(
      pageTroubles([
        machine(),
        machine({ rulesBehind: 2 }),
        machine({ lastSyncAt: null, syncing: "CLEAN", rulesBehind: 2 }),
        machine({ syncing: "NORMAL" }),
      ]),
    ).toEqual({ machines: 4, behind: 2, neverSynced: 1, syncOpen: 2 });
    expect(pageTroubles([])).toEqual({ machines: 0, behind: 0, neverSynced: 0, syncOpen: 0 });
  });

  it("says rule changes in the singular and the plural", () => {
    expect(ruleChanges(1)).toBe("1 rule change");
    expect(ruleChanges(3)).toBe("3 rule changes");
  });
});

describe("a machine's decisions in the audit log", () => {
  it("links Santa's decisions, and its primary user's on it by the exact requester", () => {
    expect(decisionLinks(machine({ id: "M-1", primaryUser: "ana" }))).toEqual({
      santa: "#/audit?source=santa",
      primaryUser: { user: "ana", hash: "#/audit?requester=santa%3Aana%40M-1&source=santa" },
    });
  });

  it("offers no user's link when the agent reported no primary user", () => {
    expect(decisionLinks(machine({ primaryUser: "" })).primaryUser).toBeNull();
  });
});

describe("the API's refusals", () => {
  it("reads a 404 of the list as Santa off, and nothing else", () => {
    expect(santaIsOff(new ApiError(404, "not_found", "no route `GET /v1/santa/machines`"))).toBe(
      true,
    );
    expect(santaIsOff(new ApiError(403, "forbidden", "needs audit:read"))).toBe(false);
    expect(santaIsOff(new Error("network"))).toBe(false);
  });

  it("says which scope a 403 lacks, and the server's words otherwise", () => {
    expect(fleetFailure(new ApiError(403, "forbidden", "the key lacks `audit:read`"))).toBe(
      "The server refused this request (403 forbidden): the key lacks `audit:read`. Reading the fleet needs the audit:read scope.",
    );
    expect(fleetFailure(new ApiError(503, "audit_unavailable", "the store is down"))).toBe(
      "The server answered 503 audit_unavailable: the store is down",
    );
  });
});
