// The platform's error codes (PLATFORM_ERROR_CODES) and the "Errors" table of
// docs/platform-api.md list the same codes with the same statuses.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PLATFORM_ERROR_CODES } from "../src/index.js";

const DOC = readFileSync(new URL("../../../docs/platform-api.md", import.meta.url), "utf8");

/** `code -> status` from the table rows `| 400 | \`invalid_request\` | ...` ("5xx": 500-599). */
function documented(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of DOC.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < 4 || !/^(\d{3}|5xx)$/.test(cells[1]!)) continue;
    for (const [, code] of cells[2]!.matchAll(/`([a-z0-9_]+)`/g)) rows.set(code!, cells[1]!);
  }
  return rows;
}

describe("PLATFORM_ERROR_CODES", () => {
  it("lists the codes of the documented table, with their statuses", () => {
    const table = documented();
    expect([...table.keys()].sort()).toEqual(Object.keys(PLATFORM_ERROR_CODES).sort());
    for (const [code, status] of Object.entries(PLATFORM_ERROR_CODES)) {
      const shown = table.get(code);
      if (shown === "5xx") expect(status, code).toBeGreaterThanOrEqual(500);
      else expect(String(status), code).toBe(shown);
    }
  });
});
