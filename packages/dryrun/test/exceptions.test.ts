import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderHtml } from "../src/render-html.js";
import { renderMarkdown } from "../src/render-markdown.js";
import { renderTerminal } from "../src/render-terminal.js";
import { dryRun } from "../src/run.js";

/*
 * The shipped rules/ decide the shipped examples/results, with and without an exceptions.json
 * kept in a copy of the rule directory.
 */

const NOW = Date.parse("2026-11-26T12:00:00Z");
const REPO = join(import.meta.dirname, "../../..");
const RESULTS = join(REPO, "examples/results");
const HISTORY = join(REPO, "examples/history/history.ndjson");
const sha = (name: string): string =>
  JSON.parse(readFileSync(join(RESULTS, `${name}.json`), "utf8")).sha256;

const record = (id: string, over: Record<string, unknown>) => ({
  id,
  status: "approved",
  created: "2026-11-01T00:00:00Z",
  expires: "2027-06-01T00:00:00Z",
  approvers: ["alice", "bob"],
  justification: "reviewed",
  case: `case-${id}`,
  ...over,
});

const EXCEPTIONS = [
  // a review the rules resolve with `approved_by_people`: review -> allow
  record("approve-pdf", { scope: { sha256: sha("unsigned-lowscore") } }),
  // `rejected_by_people`: review -> deny
  record("reject-contoso", {
    status: "rejected",
    scope: { vendor: "Contoso DevOps", product: "Contoso Build Helper" },
    case: null,
  }),
  // found, but a deny decides: not decided by the exception, not changed
  record("approve-malware", { scope: { sha256: sha("malware") } }),
  // expired before the evaluation time: never found
  record("expired", {
    scope: { sha256: sha("signed-microsoft") },
    expires: "2026-11-01T00:00:00Z",
  }),
];

const exported = (records: unknown[]) => `${JSON.stringify(records, null, 2)}\n`;

let base: string;
let withExceptions: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), "clearance-dryrun-exceptions-"));
  withExceptions = join(base, "rules");
  cpSync(join(REPO, "rules"), withExceptions, { recursive: true });
  writeFileSync(join(withExceptions, "exceptions.json"), exported(EXCEPTIONS));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe("dry-run with the exceptions kept in the rule directory", () => {
  it("applies them by default and counts what they decided and changed", async () => {
    const decisions: string[] = [];
    const r = await dryRun({
      rules: withExceptions,
      from: [RESULTS],
      now: NOW,
      decisions: { format: "ndjson", write: (l) => decisions.push(...l) },
    });
    expect(r.totals.decided).toBe(readdirSync(RESULTS).length);
    expect(r.exceptions).toEqual({
      applied: true,
      candidate: 4,
      baseline: null,
      found: 3,
      decided: 2,
      changed: 2,
    });
    const byId = new Map(decisions.map((l) => JSON.parse(l)).map((d) => [d.sha256, d]));
    expect(byId.get(sha("unsigned-lowscore"))).toMatchObject({
      decision: "allow",
      rule: "approved_by_people",
      exception: "approve-pdf",
    });
    expect(byId.get(sha("self-signed-tool"))).toMatchObject({
      decision: "deny",
      rule: "rejected_by_people",
      exception: "reject-contoso",
    });
    expect(byId.get(sha("malware"))!.decision).toBe("deny");
    expect(byId.get(sha("malware"))!.exception).toBeUndefined();
    expect(byId.get(sha("signed-microsoft"))!.exception).toBeUndefined();
  });

  it("--no-exceptions replays as the rules without exceptions.json decide", async () => {
    const without = await dryRun({
      rules: withExceptions,
      from: [RESULTS],
      now: NOW,
      exceptions: false,
    });
    const plain = await dryRun({ rules: join(REPO, "rules"), from: [RESULTS], now: NOW });
    expect(without.outcomes).toEqual(plain.outcomes);
    expect(without.rules).toEqual(plain.rules);
    expect(without.exceptions).toEqual({
      applied: false,
      candidate: 4,
      baseline: null,
      found: 0,
      decided: 0,
      changed: 0,
    });
    expect(plain.exceptions).toMatchObject({ applied: true, candidate: 0, found: 0 });
    // the two changed decisions: one review became allow, one became deny
    const applied = await dryRun({ rules: withExceptions, from: [RESULTS], now: NOW });
    expect(applied.outcomes.candidate.allow).toBe(plain.outcomes.candidate.allow + 1);
    expect(applied.outcomes.candidate.deny).toBe(plain.outcomes.candidate.deny + 1);
    expect(applied.outcomes.candidate.review).toBe(plain.outcomes.candidate.review - 2);
    expect(applied.candidate.revision).not.toBe(plain.candidate.revision);
  });

  it("against the rules without them, the changed decisions are the exceptions' (rules/ as baseline)", async () => {
    const r = await dryRun({
      rules: withExceptions,
      baseline: join(REPO, "rules"),
      from: [RESULTS],
      now: NOW,
    });
    expect(r.changed).toBe(r.exceptions.changed);
    expect(r.exceptions.baseline).toBe(0);
    expect(
      r.changes.map((c) => [c.baseline.decision, c.candidate.decision, c.candidate.rule]),
    ).toEqual(
      expect.arrayContaining([
        ["review", "allow", "approved_by_people"],
        ["review", "deny", "rejected_by_people"],
      ]),
    );
  });

  it("a git-ref baseline applies the exceptions.json it held at that commit", async () => {
    const repo = join(base, "repo");
    const rules = join(repo, "rules");
    cpSync(withExceptions, rules, { recursive: true });
    const git = (...args: string[]) =>
      execFileSync(
        "git",
        ["-C", repo, "-c", "user.email=t@example.com", "-c", "user.name=t", ...args],
        { stdio: "pipe" },
      );
    git("init", "-q");
    git("add", ".");
    git("commit", "-qm", "baseline with four exceptions");
    // the pull request drops the approval of the PDF tool
    writeFileSync(join(rules, "exceptions.json"), exported(EXCEPTIONS.slice(1)));
    const r = await dryRun({ rules, baseline: "HEAD", from: [RESULTS], now: NOW });
    expect(r.exceptions).toMatchObject({ candidate: 3, baseline: 4, found: 2, changed: 1 });
    expect(r.changed).toBe(1);
    expect(r.changes[0]).toMatchObject({
      sha256: sha("unsigned-lowscore"),
      baseline: { decision: "allow", rule: "approved_by_people" },
    });
  });

  it("workers decide with the same exceptions as the main thread", async () => {
    const history = readFileSync(HISTORY, "utf8").split("\n").filter(Boolean);
    const shas = history.slice(0, 400).map((l) => JSON.parse(l).sha256 as string);
    const dir = join(base, "history-rules");
    cpSync(join(REPO, "rules"), dir, { recursive: true });
    writeFileSync(
      join(dir, "exceptions.json"),
      exported(
        shas.map((s, i) =>
          record(`h${i}`, { scope: { sha256: s }, status: i % 3 === 0 ? "rejected" : "approved" }),
        ),
      ),
    );
    const one = await dryRun({ rules: dir, from: [HISTORY], now: NOW });
    const two = await dryRun({ rules: dir, from: [HISTORY], now: NOW, workers: 2 });
    // a file seen several times is found each time
    const excepted = new Set(shas);
    expect(one.exceptions.found).toBe(
      history.filter((l) => excepted.has(JSON.parse(l).sha256)).length,
    );
    expect(one.exceptions.changed).toBeGreaterThan(0);
    expect(two.exceptions).toEqual(one.exceptions);
    expect(two.outcomes).toEqual(one.outcomes);
    expect(two.rules).toEqual(one.rules);
  });

  it("every report shows the counts", async () => {
    const r = await dryRun({ rules: withExceptions, from: [RESULTS], now: NOW });
    const sentence =
      "4 exceptions in exceptions.json: found for 3 records, 2 decided by an exception, 2 decisions changed by exceptions";
    expect(renderTerminal(r)).toContain(sentence);
    expect(renderMarkdown(r)).toContain(`**Exceptions**: ${sentence}.`);
    const html = renderHtml(r);
    expect(html).toContain(`data-testid="exceptions">Exceptions: ${sentence}.`);
    expect(html).toMatch(/data-testid="total-by-exception"><div class="value">2</);
    expect(html).toMatch(/data-testid="total-exceptions-changed"><div class="value">2</);
    const off = await dryRun({
      rules: withExceptions,
      from: [RESULTS],
      now: NOW,
      exceptions: false,
    });
    expect(renderMarkdown(off)).toContain(
      "**Exceptions**: 4 exceptions in exceptions.json, not applied (--no-exceptions).",
    );
    // rules without exceptions.json: no exceptions line at all
    const plain = await dryRun({ rules: join(REPO, "rules"), from: [RESULTS], now: NOW });
    expect(renderTerminal(plain)).not.toContain("Exceptions");
    expect(renderMarkdown(plain)).not.toContain("Exceptions");
  });
});
