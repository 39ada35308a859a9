import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { gunzipSync } from "node:zlib";
import { toCanonical } from "@clearance/engine";
import { afterAll, describe, expect, it } from "vitest";
import { runGenHistory } from "../src/gen-history-main.js";
import {
  generateRecords,
  generateResults,
  historyLines,
  NOW,
  VIRUSTOTAL_MESS,
  virusTotalHistory,
} from "../src/generate.js";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** A temporary directory, removed after the file's tests. */
function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "clearance-testdata-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe("the generator", () => {
  it("is deterministic: same count and seed, same bytes", () => {
    const a = [...historyLines(300, 7)].join("\n");
    expect([...historyLines(300, 7)].join("\n")).toBe(a);
    expect([...historyLines(300, 8)].join("\n")).not.toBe(a);
    // A prefix of a longer run is the shorter run.
    expect([...historyLines(600, 7)].slice(0, 300).join("\n")).toBe(a);
    const vt = [...historyLines(40, 7, "virustotal")].join("\n");
    expect([...historyLines(40, 7, "virustotal")].join("\n")).toBe(vt);
  });

  it("makes the data the engine benchmark was measured on", () => {
    // Pinned: a change in the order of random draws changes bench/engine's data (and its figures).
    const lines = generateResults(200, 42).map((r) => JSON.stringify(r));
    expect(sha256(lines.join("\n"))).toBe(sha256([...historyLines(200, 42)].join("\n")));
    expect(sha256(lines.join("\n"))).toMatchInlineSnapshot(
      `"95a8b4aaa321b24ec9e5c18628bf8a3b0fd9a54393452d3bcf541df9315f1f11"`,
    );
  });

  it("makes results that all pass toCanonical", () => {
    for (const line of historyLines(2000, 3)) {
      const outcome = toCanonical(JSON.parse(line));
      expect(outcome.ok && outcome.format === "canonical" && outcome.warnings).toEqual(undefined);
      if (!outcome.ok) expect(outcome.problems).toEqual([]);
    }
  });

  it("makes VirusTotal objects that all pass toCanonical, keeping what VirusTotal has", () => {
    const canonical = [...generateRecords(300, 5)];
    let k = 0;
    for (const { object, mess } of virusTotalHistory(300, 5)) {
      const outcome = toCanonical(JSON.parse(JSON.stringify(object)));
      expect(outcome.ok && outcome.format).toBe("virustotal");
      const original = canonical[k++]!;
      const result = outcome.ok ? outcome.result : undefined;
      expect(result?.sha256).toBe(original.sha256);
      expect(result?.fileName).toBe(original.fileName);
      expect(result?.engines?.length).toBe(original.engines?.length);
      const malicious = original.engines!.filter((e) => e.category === "malicious").length;
      expect(result?.detections?.malicious ?? 0).toBe(malicious);
      expect(result?.signature?.status ?? "unsigned").toBe(
        mess.includes("no_verified") ? "unsigned" : (original.signature?.status ?? "unsigned"),
      );
    }
  });

  it("shows every kind of VirusTotal mess within 20 records of the shipped seed", () => {
    const seen = new Set([...virusTotalHistory(20, 17)].flatMap(({ mess }) => mess));
    expect([...seen].sort()).toEqual([...VIRUSTOTAL_MESS].sort());
  });

  it("makes realistic results", () => {
    const results = [...generateRecords(5000, 7)];
    const share = (f: (r: (typeof results)[number]) => boolean) =>
      results.filter(f).length / results.length;
    const bytes = results.reduce((s, r) => s + JSON.stringify(r).length, 0) / results.length;
    expect(bytes).toBeGreaterThan(4000);
    expect(bytes).toBeLessThan(6000);
    // Verdicts follow scores; detections count the engines.
    for (const r of results) {
      if (r.trustScore !== undefined) {
        const expected =
          r.trustScore >= 80 ? "clean" : r.trustScore >= 50 ? "caution" : "high_risk";
        expect(r.verdict).toBe(expected);
      }
      expect(r.engines).toHaveLength(60);
      if (r.detections) {
        const malicious = r.engines!.filter((e) => e.category === "malicious").length;
        expect(r.detections.malicious).toBe(malicious);
      }
      expect(Date.parse(r.analyzedAt!)).toBeLessThanOrEqual(NOW);
      if (r.firstSeen)
        expect(Date.parse(r.firstSeen)).toBeLessThanOrEqual(Date.parse(r.analyzedAt!));
    }
    const missing = share(
      (r) =>
        !r.signature ||
        !r.detections ||
        r.trustScore === undefined ||
        !r.tags ||
        !r.category ||
        !r.scoreBreakdown ||
        !r.contentType ||
        !r.firstSeen ||
        (r.vendor !== undefined &&
          (r.vendor.name === undefined || r.vendor.verified === undefined)),
    );
    expect(missing).toBeGreaterThan(0.05);
    expect(missing).toBeLessThan(0.15);
    for (const status of ["valid", "expired", "self_signed", "unsigned", "invalid"]) {
      expect(share((r) => r.signature?.status === status)).toBeGreaterThan(0.02);
    }
    for (const verdict of ["clean", "caution", "high_risk"]) {
      expect(share((r) => r.verdict === verdict)).toBeGreaterThan(0.1);
    }
    expect(new Set(results.map((r) => r.vendor?.name)).size).toBeGreaterThan(12);
    expect(new Set(results.map((r) => r.category)).size).toBeGreaterThan(8);
    expect(
      share((r) => NOW - Date.parse(r.firstSeen ?? "2000-01-01T00:00:00Z") < 86_400_000),
    ).toBeGreaterThan(0.04);
  });

  it.each([
    [-1, 7, "count must be a non-negative integer, got `-1`"],
    [1.5, 7, "count must be a non-negative integer, got `1.5`"],
    [10, Number.NaN, "seed must be an integer, got `NaN`"],
  ])("rejects count %j and seed %j", (count, seed, message) => {
    expect(() => [...generateRecords(count, seed)]).toThrow(message);
  });
});

describe("gen:history", () => {
  const dir = scratchDir();
  async function run(args: string[]) {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    stdout.on("data", (c: Buffer) => out.push(c));
    stderr.on("data", (c: Buffer) => err.push(c));
    const status: (string | null)[] = [];
    let clock = 1_000;
    const code = await runGenHistory(args, {
      stdout,
      stderr,
      status: (line) => status.push(line),
      now: () => (clock += 1_250),
    });
    return {
      code,
      stdout: Buffer.concat(out).toString(),
      stderr: Buffer.concat(err).toString(),
      status,
    };
  }

  it("shows progress while writing and ends with a summary on stderr", async () => {
    const plain = join(dir, "progress.ndjson");
    const { code, stdout, stderr, status } = await run(["--count", "600", "--out", plain]);
    expect(code).toBe(0);
    expect(stdout).toBe("");
    const bytes = readFileSync(plain).length;
    expect(bytes).toBeGreaterThan(1 << 20);
    // One status line per flushed batch of about 1 MiB, then the line is cleared.
    expect(status.length).toBeGreaterThan(1);
    expect(status[0]).toMatch(/^gen:history: \d+% \([\d,]+ of 600 records, [\d.]+ MB\)$/);
    expect(status.at(-1)).toBeNull();
    expect(stderr).toBe(
      `wrote 600 records (${(bytes / 1e6).toFixed(1)} MB of NDJSON) to \`${plain}\` in 1.3 s\n`,
    );
    const zipped = await run(["--count", "2", "--out", `${plain}.gz`]);
    expect(zipped.stderr).toMatch(
      /^wrote 2 records \([\d.]+ KB of NDJSON\) to `.*\.gz` \(gzip\) in 1\.3 s\n$/,
    );
  });

  it("writes NDJSON to standard output", async () => {
    const { code, stdout } = await run(["--count", "25", "--seed", "9"]);
    expect(code).toBe(0);
    expect(stdout).toBe(`${[...historyLines(25, 9)].join("\n")}\n`);
  });

  it("writes a file, gzip-compressed for `.gz`", async () => {
    const plain = join(dir, "h.ndjson");
    const zipped = join(dir, "h.ndjson.gz");
    expect((await run(["--count", "40", "--out", plain])).code).toBe(0);
    expect((await run(["--count", "40", "--out", zipped])).code).toBe(0);
    const expected = `${[...historyLines(40, 7)].join("\n")}\n`;
    expect(readFileSync(plain, "utf8")).toBe(expected);
    expect(gunzipSync(readFileSync(zipped)).toString()).toBe(expected);
  });

  it("writes VirusTotal objects", async () => {
    const { stdout } = await run(["--count", "3", "--format", "virustotal"]);
    expect(stdout).toBe(`${[...historyLines(3, 7, "virustotal")].join("\n")}\n`);
  });

  it.each([
    [["--count", "ten"], "error: --count `ten` must be an integer of at least 0"],
    [["--count=-5"], "error: --count `-5` must be an integer of at least 0"],
    [["--seed", "1e3"], "error: --seed `1e3` must be an integer"],
    [["--format", "csv"], "error: --format `csv` is not a format"],
    [["--counts", "1"], "error: unknown option '--counts'"],
    [["extra"], "error: unexpected argument 'extra'"],
  ])("rejects %j", async (args, message) => {
    const { code, stderr, stdout } = await run(args);
    expect(code).toBe(1);
    expect(stderr).toContain(message);
    expect(stderr).toContain("usage: pnpm -s gen:history");
    expect(stdout).toBe("");
  });

  it("reports a file it cannot write", async () => {
    const { code, stderr } = await run([
      "--count",
      "1",
      "--out",
      join(dir, "no", "such", "dir.ndjson"),
    ]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^error: cannot write `.*dir\.ndjson`: ENOENT/);
  });
});
