import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { historyLines } from "@clearance/testdata";
import { describe, expect, it } from "vitest";
import { parseRecord, recordLocation, Tally } from "../src/records.js";
import { listDirectory, openSource } from "../src/sources.js";

const HISTORY = fileURLToPath(new URL("../../../examples/history/", import.meta.url));

describe("examples/history", () => {
  it("every shipped record parses valid", async () => {
    const tally = new Tally();
    const formats = new Map<string, Set<string>>();
    const problems: string[] = [];
    for await (const raw of openSource(HISTORY)) {
      tally.countRead();
      const parsed = parseRecord(raw);
      tally.count(parsed);
      if (parsed.kind === "valid") {
        const seen = formats.get(raw.source) ?? new Set();
        formats.set(raw.source, seen.add(parsed.format));
      } else problems.push(`${recordLocation(raw)}: ${JSON.stringify(parsed)}`);
    }
    expect(problems).toEqual([]);
    tally.assertBalanced();
    expect(tally.totals).toEqual({ read: 3020, valid: 3020, invalid: 0, malformed: 0 });
    expect(
      Object.fromEntries([...formats].map(([f, s]) => [f.slice(HISTORY.length), [...s]])),
    ).toEqual({
      "history.ndjson": ["canonical"],
      "virustotal.ndjson": ["virustotal"],
    });
  });

  it("holds only the generated files", async () => {
    expect((await listDirectory(HISTORY)).map((f) => f.slice(HISTORY.length))).toEqual([
      "history.ndjson",
      "virustotal.ndjson",
    ]);
  });

  // The README gives the commands that make these files: they must still make them.
  it.each([
    ["history.ndjson", 3000, 7, "canonical"],
    ["virustotal.ndjson", 20, 17, "virustotal"],
  ] as const)(
    "%s is what the generator makes (count %d, seed %d, %s)",
    (file, count, seed, format) => {
      const shipped = readFileSync(`${HISTORY}${file}`, "utf8");
      expect(shipped === `${[...historyLines(count, seed, format)].join("\n")}\n`).toBe(true);
      expect(readFileSync(`${HISTORY}README.md`, "utf8")).toContain(
        `--count ${count} --seed ${seed}${format === "virustotal" ? " --format virustotal" : ""} --out examples/history/${file}`,
      );
    },
  );
});
