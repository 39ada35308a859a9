// The full canonical record of every VirusTotal report in examples/virustotal/ (the real reports
// of real/ and the ones written here in their shapes), with the adapter's warnings, pinned in a
// golden file beside the reports: examples/virustotal/golden/<path>.golden. Each golden was read
// by hand against its report (signature status and leaf, file name, vendor, the VirusTotal
// section); a change of the mapping shows here as a diff to read the same way.
// `UPDATE_GOLDEN=1 pnpm exec vitest run packages/engine/test/virustotal-golden.test.ts` rewrites them.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { toCanonical } from "../src/adapters/detect.js";

const DIR = join(import.meta.dirname, "..", "..", "..", "examples", "virustotal");
const GOLDEN = join(DIR, "golden");
const update = process.env.UPDATE_GOLDEN === "1";

const reports = readdirSync(DIR, { recursive: true })
  .map(String)
  .filter((name) => name.endsWith(".json") && !name.startsWith("golden"))
  .sort();

describe("VirusTotal reports: golden canonical records", () => {
  it("covers every report, and every golden has its report", () => {
    expect(reports.length).toBeGreaterThanOrEqual(25);
    const goldens = readdirSync(GOLDEN, { recursive: true })
      .map(String)
      .filter((name) => name.endsWith(".golden"))
      .map((name) => name.replace(/\.golden$/, ".json"))
      .sort();
    expect(goldens).toEqual(reports);
  });

  it.each(reports)("%s", (name) => {
    const input = JSON.parse(readFileSync(join(DIR, name), "utf8")) as unknown;
    // one real report is 1.07 MB: the limit is the CLI's business, not the mapping's
    const outcome = toCanonical(input, { format: "virustotal", limits: { maxBytes: 4 << 20 } });
    expect(outcome.ok, JSON.stringify(outcome)).toBe(true);
    if (!outcome.ok) return;
    const printed = `${JSON.stringify(
      { format: outcome.format, warnings: outcome.warnings ?? [], result: outcome.result },
      null,
      2,
    )}\n`;
    const golden = join(GOLDEN, name.replace(/\.json$/, ".golden"));
    if (update) {
      mkdirSync(dirname(golden), { recursive: true });
      writeFileSync(golden, printed);
    }
    expect(printed).toBe(readFileSync(golden, "utf8"));
  });
});
