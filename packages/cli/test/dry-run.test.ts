import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { NOW, root, run } from "./helpers.js";

let dir: string;
let history: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "clearance-dry-cli-"));
  // The example results as NDJSON, plus one malformed and one invalid line.
  const results = readdirSync(join(root, "examples", "results")).map((f) =>
    JSON.stringify(JSON.parse(readFileSync(join(root, "examples", "results", f), "utf8"))),
  );
  history = join(dir, "history.ndjson");
  writeFileSync(history, `${[...results, "{oops", '{"sha256": 1}'].join("\n")}\n`);
});

const args = (...extra: string[]) => [
  "dry-run",
  "-r",
  join(root, "examples", "rules-tightened"),
  "--from",
  history,
  "--now",
  NOW,
  "--no-progress",
  ...extra,
];

describe("clearance dry-run", () => {
  it("prints totals that add up, outcomes, rules and changes against a baseline", async () => {
    const r = await run(...args("--baseline", join(root, "rules")));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/read 11 = decided 9 \+ invalid 1 \+ malformed 1/);
    expect(r.out).toContain("never matched:");
    expect(r.out).toMatch(/Changes against .*rules/);
  });

  it("writes the reports and the decisions", async () => {
    const md = join(dir, "out", "impact.md");
    const json = join(dir, "out", "impact.json");
    const html = join(dir, "out", "impact.html");
    const csv = join(dir, "out", "decisions.csv");
    const r = await run(
      ...args(
        "--baseline",
        join(root, "rules"),
        "--report",
        md,
        "--report",
        json,
        "--report",
        html,
        "--decisions",
        csv,
      ),
    );
    expect(r.code).toBe(0);
    const report = JSON.parse(readFileSync(json, "utf8"));
    expect(report.totals.read).toBe(
      report.totals.decided + report.totals.invalid + report.totals.malformed,
    );
    expect(readFileSync(md, "utf8")).toContain("Clearance dry-run");
    expect(readFileSync(html, "utf8")).toMatch(/^<!doctype html>/i);
    expect(readFileSync(csv, "utf8").split("\n").filter(Boolean)).toHaveLength(10);
  });

  it("exits 3 when a --fail-on transition happens, 0 when none does", async () => {
    // The tightened low_trust threshold (30 -> 40) turns pdf-merge-free-setup.exe (trust 38) to deny.
    const fails = await run(
      ...args("--baseline", join(root, "rules"), "--fail-on", "review->deny,allow->deny"),
    );
    expect(fails.code).toBe(3);
    expect(fails.out).toContain("review -> deny: 1");
    expect(fails.out).toContain(
      "pdf-merge-free-setup.exe 20cf89b0d351  default -> low_trust: too little trust (trust score 38, VirusTotal reputation unknown)",
    );
    expect(fails.out).toContain("--fail-on: review->deny (1)");
    const none = await run(...args("--baseline", join(root, "rules"), "--fail-on", "allow->deny"));
    expect(none.code).toBe(0);
    const same = await run(...args("--baseline", join(root, "examples", "rules-tightened")));
    expect(same.out).toContain("no decision changes");
  });

  it("errors exit 1 with a clear message", async () => {
    expect((await run(...args("--baseline", "no-such-ref-anywhere"))).err).toMatch(
      /no git commit of that name exists|not in a git work tree/,
    );
    expect((await run(...args("--fail-on", "allow->maybe"))).code).toBe(1);
    expect((await run(...args("--report", join(dir, "x.pdf")))).code).toBe(1);
    expect((await run(...args("--strict"))).code).toBe(1);
    const missing = await run("dry-run", "--from", join(dir, "nope.ndjson"), "--no-progress");
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("nope.ndjson");
  });
});

const PG_URL = process.env.CLEARANCE_TEST_PG;
describe.skipIf(!PG_URL)(
  `clearance dry-run --from postgres://...${PG_URL ? "" : " (skipped: set CLEARANCE_TEST_PG to a PostgreSQL URL)"}`,
  () => {
    it("a schema with no audit log is named, with the ?schema= hint", async () => {
      const url = new URL(PG_URL!);
      url.searchParams.set("schema", "no_audit_log_here");
      const r = await run(...args(), "--from", url.toString());
      expect(r.code).toBe(1);
      expect(r.err).toContain(
        "there is no audit log in PostgreSQL schema `no_audit_log_here`: a server writes the schema of its `audit.postgres.schema` (`public` unless set); name it with `?schema=<name>` in the URL",
      );
      expect(r.err).not.toContain('relation "entries"');
    });
  },
);
