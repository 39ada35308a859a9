/**
 * The corpus of real VirusTotal reports in examples/virustotal/real/: every file is a VirusTotal v3
 * file object, and PROVENANCE.md lists exactly the files that are there, each with the repository,
 * commit and licence it was taken from. A report added without its provenance, or a row left behind
 * after a file is removed, fails here. What the adapter makes of each report is not checked here.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const DIR = join(ROOT, "examples", "virustotal");
const REAL = join(DIR, "real");

interface Row {
  file: string;
  repository: string;
  path: string;
  commit: string;
  licence: string;
}

/** The rows of PROVENANCE.md's table of reports: the lines whose first cell names a JSON file. */
function provenanceRows(): Row[] {
  const text = readFileSync(join(DIR, "PROVENANCE.md"), "utf8");
  const rows: Row[] = [];
  for (const line of text.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    // "| a | b |" splits into ["", "a", "b", ""].
    if (cells.length < 7 || !/^`[^`]+\.json`$/.test(cells[1] ?? "")) continue;
    const [file, repository, path, commit, licence] = cells
      .slice(1, 6)
      .map((c) => c.replace(/^`|`$/g, ""));
    rows.push({
      file: file ?? "",
      repository: repository ?? "",
      path: path ?? "",
      commit: commit ?? "",
      licence: licence ?? "",
    });
  }
  return rows;
}

const files = readdirSync(REAL)
  .filter((f) => f.endsWith(".json"))
  .sort();
const rows = provenanceRows();

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

describe("examples/virustotal/real", () => {
  it("holds at least 15 reports", () => {
    expect(files.length).toBeGreaterThanOrEqual(15);
  });

  it.each(files)("%s is a VirusTotal v3 file object", (file) => {
    const parsed: unknown = JSON.parse(readFileSync(join(REAL, file), "utf8"));
    expect(isObject(parsed)).toBe(true);
    const root = parsed as Record<string, unknown>;
    const object = isObject(root.data) ? root.data : root;
    const attributes = object.attributes;
    expect(object.type === "file" || isObject(attributes)).toBe(true);
    expect(isObject(attributes)).toBe(true);
    expect(isObject((attributes as Record<string, unknown>).last_analysis_stats)).toBe(true);
  });

  it("lists every report in PROVENANCE.md, and only reports that exist", () => {
    const listed = rows.map((r) => r.file).sort();
    expect(listed).toEqual(files);
  });

  it("names a repository, a path, a full commit and a licence for every report", () => {
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.repository, row.file).toMatch(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/);
      expect(row.path, row.file).not.toBe("");
      expect(row.commit, row.file).toMatch(/^[0-9a-f]{40}$/);
      expect(row.licence, row.file).not.toBe("");
    }
  });
});
