import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NOW, root, run } from "./helpers.js";

/* `clearance check` and `clearance dry-run` on a copy of rules/ keeping an exceptions.json. */

const DAY = 86_400_000;
const at = (days: number) => new Date(Date.parse(NOW) + days * DAY).toISOString();
const sha = (name: string): string =>
  JSON.parse(readFileSync(join(root, "examples/results", `${name}.json`), "utf8")).sha256;
const record = (id: string, expires: string, name: string) => ({
  id,
  status: "approved",
  scope: { sha256: sha(name) },
  created: "2026-11-01T00:00:00Z",
  expires,
  approvers: ["alice"],
  justification: "reviewed",
  case: null,
});

let base: string;
let rules: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), "clearance-cli-exceptions-"));
  rules = join(base, "rules");
  cpSync(join(root, "rules"), rules, { recursive: true });
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

const write = (records: unknown) =>
  writeFileSync(join(rules, "exceptions.json"), `${JSON.stringify(records, null, 2)}\n`);

describe("clearance check with exceptions.json", () => {
  it("warns about exceptions expiring soon and expired, counts them, and exits 0", async () => {
    write([
      record("soon", at(6), "unsigned-lowscore"),
      record("gone", at(-1), "fresh-unknown"),
      record("later", at(90), "self-signed-tool"),
    ]);
    const r = await run("check", rules, "--now", NOW);
    expect(r.code).toBe(0);
    expect(r.err).toContain(
      `warning[exception_expiring_soon]: exception \`soon\` expires in 6 days (${at(6)})`,
    );
    expect(r.err).toContain(
      `warning[exception_expired]: exception \`gone\` expired on ${at(-1)} and no longer applies`,
    );
    expect(r.err).toContain(`${join(rules, "exceptions.json")}:9:16`);
    expect(r.out).toMatch(/18 rules in 4 files, 3 exceptions in exceptions\.json, revision /);
    expect(r.out).toMatch(/0 errors, 2 warnings$/);
    const json = JSON.parse((await run("check", rules, "--now", NOW, "--format", "json")).out);
    expect(json.ruleset.exceptions).toBe(3);
    expect(json.diagnostics.map((d: { code: string }) => d.code)).toEqual([
      "exception_expiring_soon",
      "exception_expired",
    ]);
  });

  it("an invalid record is an error printed with its code frame, and exits 1", async () => {
    write([{ ...record("bad", at(30), "malware"), expires: null }]);
    const r = await run("check", rules, "--now", NOW);
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      "error[invalid_exception]: `/0/expires` is required: exceptions must expire",
    );
    expect(r.err).toContain('"expires": null,');
    writeFileSync(join(rules, "exceptions.json"), "[\n  {\n");
    const broken = await run("check", rules, "--now", NOW);
    expect(broken.code).toBe(1);
    expect(broken.err).toContain(
      "error[invalid_exceptions_file]: exceptions file is not valid JSON",
    );
  });
});

describe("clearance dry-run with exceptions.json", () => {
  const args = (...extra: string[]) => [
    "dry-run",
    "-r",
    rules,
    "--from",
    join(root, "examples/results"),
    "--now",
    NOW,
    "--no-progress",
    ...extra,
  ];

  it("applies them by default, and --no-exceptions replays without them", async () => {
    write([record("approve-pdf", at(90), "unsigned-lowscore")]);
    const json = join(base, "with.json");
    const r = await run(...args("--report", json));
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      "1 exception in exceptions.json: found for 1 record, 1 decided by an exception, 1 decision changed by exceptions",
    );
    expect(JSON.parse(readFileSync(json, "utf8")).exceptions).toEqual({
      applied: true,
      candidate: 1,
      baseline: null,
      found: 1,
      decided: 1,
      changed: 1,
    });
    const off = await run(...args("--no-exceptions", "--baseline", join(root, "rules")));
    expect(off.code).toBe(0);
    expect(off.out).toContain(
      "1 exception in exceptions.json (baseline 0), not applied (--no-exceptions)",
    );
    expect(off.out).toContain("no decision changes");
  });
});
