import { describe, expect, it } from "vitest";
import { latency, relativeTo, shortHash, utc, utcSeconds } from "../src/audit/text.js";
import {
  currentCursor,
  exportUrl,
  FIRST_PAGE,
  loaded,
  newer,
  older,
  pageNumber,
  readFilter,
  searchHash,
  searchUrl,
  toLocalInput,
  toUtc,
} from "../src/query.js";
import { parseHash } from "../src/router.js";

const HASH = "D521D88C".padEnd(64, "a");

describe("readFilter", () => {
  it.each([
    ["blanks are left out", { sha256: "  ", rule: "" }, {}],
    ["a SHA-256 is lower-cased", { sha256: HASH }, { sha256: HASH.toLowerCase() }],
    [
      "text is trimmed",
      { rule: " malware ", fileName: " inv" },
      { rule: "malware", fileName: "inv" },
    ],
    ["a decision", { decision: "deny" }, { decision: "deny" }],
    ["a source", { source: "webhook" }, { source: "webhook" }],
    ["a Santa agent's execution's source", { source: "santa" }, { source: "santa" }],
    [
      "times without a zone are UTC",
      { from: "2026-12-01T10:30", to: "2026-12-02T00:00:05" },
      { from: "2026-12-01T10:30:00.000Z", to: "2026-12-02T00:00:05.000Z" },
    ],
    [
      "RFC 3339 with an offset becomes UTC",
      { from: "2026-12-01T10:30:00+02:00" },
      { from: "2026-12-01T08:30:00.000Z" },
    ],
  ])("%s", (_, values, filter) => {
    expect(readFilter(values)).toEqual({ filter, problems: [] });
  });

  it.each([
    [{ sha256: "abc" }, "sha256", "a SHA-256 is 64 hex digits; `abc` has 3 characters"],
    [{ sha256: "g".repeat(64) }, "sha256", /`g{24}\.\.\.` has 64 characters/],
    [{ decision: "block" }, "decision", "`block` is not a decision"],
    [{ source: "email" }, "source", "`email` is not a source"],
    [{ from: "yesterday" }, "from", "`yesterday` is not a time: write `2026-12-04T10:30` (UTC)"],
    [{ to: "2026-13-01T00:00" }, "to", /is not a time/],
    [{ from: "2026-12-02T00:00", to: "2026-12-01T00:00" }, "to", "`to` must be later than `from`"],
  ])("refuses %o", (values, field, message) => {
    const { problems } = readFilter(values);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.field).toBe(field);
    expect(problems[0]!.message).toMatch(message);
  });
});

describe("requests", () => {
  const filter = {
    decision: "deny" as const,
    sha256: HASH.toLowerCase(),
    from: "2026-12-01T00:00:00.000Z",
  };

  it("a search page carries the filter, the page size and the cursor, in a fixed order", () => {
    expect(searchUrl({}, 50)).toBe("/v1/audit?limit=50");
    expect(searchUrl(filter, 50, "0193a1b2-0000-7000-8000-000000000000")).toBe(
      `/v1/audit?sha256=${HASH.toLowerCase()}&decision=deny&from=2026-12-01T00%3A00%3A00.000Z&limit=50&cursor=0193a1b2-0000-7000-8000-000000000000`,
    );
  });

  it("the export has the same filter and no paging", () => {
    expect(exportUrl({})).toBe("/v1/audit/export");
    expect(exportUrl(filter)).toBe(
      `/v1/audit/export?sha256=${HASH.toLowerCase()}&decision=deny&from=2026-12-01T00%3A00%3A00.000Z`,
    );
  });

  it("file names with reserved characters are encoded", () => {
    expect(exportUrl({ fileName: "a&b=<c>.exe" })).toBe(
      "/v1/audit/export?fileName=a%26b%3D%3Cc%3E.exe",
    );
  });

  it("the console's address reads back to the same filter", () => {
    const hash = searchHash({ ...filter, fileName: "a&b #1.exe" });
    const route = parseHash(hash);
    expect(route.segments).toEqual(["audit"]);
    expect(readFilter(Object.fromEntries(route.params))).toEqual({
      filter: { ...filter, fileName: "a&b #1.exe" },
      problems: [],
    });
    expect(searchHash({})).toBe("#/audit");
  });

  it("an entry's address names it", () => {
    expect(parseHash("#/audit/0193a1b2-0000-7000-8000-000000000000").segments).toEqual([
      "audit",
      "0193a1b2-0000-7000-8000-000000000000",
    ]);
    expect(parseHash("").segments).toEqual([]);
  });
});

describe("times in inputs", () => {
  it.each([
    ["2026-12-04T10:30:12.345Z", "2026-12-04T10:30:12"],
    [undefined, ""],
    ["not a time", ""],
  ])("toLocalInput(%s)", (iso, local) => {
    expect(toLocalInput(iso)).toBe(local);
  });
  it("round-trips through toUtc", () => {
    expect(toUtc(toLocalInput("2026-12-04T10:30:12.000Z"))).toBe("2026-12-04T10:30:12.000Z");
  });
});

describe("keyset paging", () => {
  it("follows the API's cursors forward and back, never an offset", () => {
    let p = loaded(FIRST_PAGE, "c1");
    expect([pageNumber(p), currentCursor(p), newer(p)]).toEqual([1, undefined, undefined]);
    p = loaded(older(p)!, "c2");
    expect([pageNumber(p), currentCursor(p)]).toEqual([2, "c1"]);
    p = loaded(older(p)!, null);
    expect([pageNumber(p), currentCursor(p), older(p)]).toEqual([3, "c2", undefined]);
    p = loaded(newer(p)!, "c2");
    expect([pageNumber(p), currentCursor(p)]).toEqual([2, "c1"]);
    p = loaded(newer(p)!, "c1");
    expect([pageNumber(p), currentCursor(p), newer(p)]).toEqual([1, undefined, undefined]);
  });

  it("has no next page before the page is read", () => {
    expect(older(FIRST_PAGE)).toBeUndefined();
    expect(older(newer(loaded(older(loaded(FIRST_PAGE, "c1"))!, "c2"))!)).toBeUndefined();
  });
});

describe("how the pages write values", () => {
  it.each([
    [0, "0 µs"],
    [420.4, "420 µs"],
    [8331.633, "8.3 ms"],
    [45_000, "45 ms"],
    [1_200_000, "1.20 s"],
  ])("latency(%d) is %s", (us, text) => {
    expect(latency(us)).toBe(text);
  });

  it.each([
    [["/srv/rules/a.rules", "/srv/rules/b.rules"], "/srv/rules/a.rules", "a.rules"],
    [
      ["/srv/rules/a.rules", "/srv/rules/vendors/b.rules"],
      "/srv/rules/vendors/b.rules",
      "vendors/b.rules",
    ],
    [["/srv/rules/a.rules"], "/srv/rules/a.rules", "a.rules"],
    [["rules/a.rules", "other/b.rules"], "other/b.rules", "other/b.rules"],
  ])("relativeTo(%j) writes %s as %s", (all, path, shown) => {
    expect(relativeTo(all)(path)).toBe(shown);
  });

  it("writes times to the second in tables, and whole elsewhere", () => {
    expect(utcSeconds("2026-12-04T10:30:12.345Z")).toBe("2026-12-04 10:30:12");
    expect(utc("2026-12-04T10:30:12.345Z")).toBe("2026-12-04 10:30:12.345");
  });

  it("shortens a SHA-256 to its ends", () => {
    expect(shortHash("d521d88ca78e97c3cb32235b28e21936aed27e45ffbbc1b12e4a3d37e02f4610")).toBe(
      "d521d88ca78e…2f4610",
    );
  });
});
