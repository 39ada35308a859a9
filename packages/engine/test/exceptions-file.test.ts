import {
  chmodSync,
  cpSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Diagnostic, formatDiagnostic, resolveLimits } from "@clearance/dsl";
import { afterAll, describe, expect, it } from "vitest";
import {
  type CompileResult,
  compile,
  type ExceptionRecord,
  ExceptionSet,
  InvalidExceptionsError,
  type LoadOptions,
  loadRuleset,
  RulesetLoader,
} from "../src/index.js";
import { makeRuleDir, OUTSIDE_SECRET, type RuleDir, write } from "../src/testing.js";
import { NOW } from "./helpers.js";

const DAY = 86_400_000;
const SHA = "20cf89b0d351e8e0e9ebf7304624be9db1bc3be8313bfd48ec55b28f0b193c57";

function record(over: Partial<ExceptionRecord> & Record<string, unknown> = {}): ExceptionRecord {
  return {
    id: "ex-1",
    status: "approved",
    scope: { sha256: SHA },
    created: "2026-11-01T00:00:00Z",
    expires: new Date(NOW + 60 * DAY).toISOString(),
    approvers: ["alice", "bob"],
    justification: "used by finance",
    case: "case-1",
    ...over,
  } as ExceptionRecord;
}

/** As `clearance exceptions export` writes it: 2-space JSON and a newline. */
const exported = (records: unknown[]) => `${JSON.stringify(records, null, 2)}\n`;

const RULES = `rule approved overrides review {
  when exception.status == "approved"
  allow "approved (exception {exception.id})"
}
rule unsigned {
  when signature.status == "unsigned"
  review "unsigned"
}
`;

const dirs: RuleDir[] = [];
function ruleDir(exceptions?: string | Buffer): RuleDir {
  const d = makeRuleDir();
  dirs.push(d);
  write(join(d.root, "main.rules"), RULES);
  if (exceptions !== undefined) write(join(d.root, "exceptions.json"), exceptions);
  return d;
}
afterAll(() => {
  for (const d of dirs) d.remove();
});

const OPTIONS: LoadOptions = { git: false, now: NOW };

/** Loads synchronously and asynchronously; both must agree. */
async function load(root: string, options: LoadOptions = OPTIONS): Promise<CompileResult> {
  const sync = loadRuleset(root, options);
  const async = await new RulesetLoader(root, options).load();
  expect(async.diagnostics).toEqual(sync.diagnostics);
  expect(async.ruleset?.revision).toEqual(sync.ruleset?.revision);
  expect(async.ruleset?.exceptions).toEqual(sync.ruleset?.exceptions);
  return sync;
}

function printed(r: CompileResult): string {
  return r.diagnostics.map((d) => formatDiagnostic(d, (p) => r.files.get(p))).join("\n");
}

/** Each diagnostic as its code, the text it underlines, and its message. */
function located(r: CompileResult): { code: string; at: string; message: string }[] {
  return r.diagnostics.map((d: Diagnostic) => ({
    code: d.code,
    at: r.files.get(d.span.file)?.text.slice(d.span.start, d.span.end) ?? "",
    message: d.message,
  }));
}

describe("exceptions.json in a rule directory", () => {
  it("is absent: the rule set has no exceptions, and its revision is the one it always had", async () => {
    const d = ruleDir();
    const r = await load(d.root);
    expect(r.diagnostics).toEqual([]);
    expect(r.ruleset!.exceptions).toEqual([]);
    expect(Object.isFrozen(r.ruleset!.exceptions)).toBe(true);
    const plain = compile([{ path: join(d.root, "main.rules"), text: RULES }], {
      root: d.root,
      now: NOW,
    });
    expect(r.ruleset!.revision).toBe(plain.ruleset!.revision);
  });

  it("is read, validated and kept frozen as ruleset.exceptions; the set finds them", async () => {
    const records = [record(), record({ id: "ex-2", scope: { vendor: "V", product: "P" } })];
    const d = ruleDir(exported(records));
    const r = await load(d.root);
    expect(r.diagnostics, printed(r)).toEqual([]);
    const rs = r.ruleset!;
    expect(rs.exceptions).toEqual(records);
    expect(Object.isFrozen(rs.exceptions)).toBe(true);
    expect(Object.isFrozen(rs.exceptions[0])).toBe(true);
    expect(Object.isFrozen(rs.exceptions[0]!.scope)).toBe(true);
    expect(Object.isFrozen(rs.exceptions[0]!.approvers)).toBe(true);
    expect(rs.exceptionSet.size).toBe(2);
    const found = rs.exceptionSet.find({ sha256: SHA }, undefined, NOW);
    expect(found?.id).toBe("ex-1");
    expect(rs.exceptionSet.find({ sha256: SHA }, undefined, NOW + 61 * DAY)).toBeUndefined();
  });

  it("changes the revision with its content, and a reload sees the change", async () => {
    const d = ruleDir();
    const loader = new RulesetLoader(d.root, OPTIONS);
    const without = (await loader.load()).ruleset!;
    write(join(d.root, "exceptions.json"), exported([record()]));
    const withOne = (await loader.load()).ruleset!;
    expect(withOne.revision).not.toBe(without.revision);
    expect(withOne.exceptions.map((e) => e.id)).toEqual(["ex-1"]);
    write(join(d.root, "exceptions.json"), exported([record({ justification: "changed" })]));
    const changed = loader.loadSync().ruleset!;
    expect(changed.revision).not.toBe(withOne.revision);
    // the same files give the same revision wherever the directory is
    const copy = mkdtempSync(join(tmpdir(), "clearance-exceptions-copy-"));
    try {
      cpSync(d.root, copy, { recursive: true });
      expect(loadRuleset(copy, OPTIONS).ruleset!.revision).toBe(changed.revision);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it("bad JSON is invalid_exceptions_file, located at the offending character", async () => {
    const d = ruleDir('[\n  {"id": "ex-1",}\n]\n');
    const r = await load(d.root);
    expect(r.ruleset).toBeUndefined();
    expect(r.diagnostics.map((x) => x.code)).toEqual(["invalid_exceptions_file"]);
    const [only] = located(r);
    expect(only!.message).toMatch(/^exceptions file is not valid JSON: /);
    expect(only!.at).toBe("");
    expect(r.diagnostics[0]!.span.start).toBe('[\n  {"id": "ex-1",'.length);
    expect(r.diagnostics[0]!.span.file).toBe(join(d.root, "exceptions.json"));
    expect(printed(r)).toContain('{"id": "ex-1",}');
  });

  it("a JSON value that is not an array is invalid_exceptions_file", async () => {
    const d = ruleDir(JSON.stringify(record()));
    const r = await load(d.root);
    expect(r.ruleset).toBeUndefined();
    expect(located(r).map((x) => [x.code, x.message])).toEqual([
      ["invalid_exceptions_file", "exceptions file should hold a JSON array of exceptions"],
    ]);
  });

  it("invalid records are invalid_exception, each at the value its JSON Pointer names", async () => {
    const d = ruleDir(
      exported([
        record(),
        record({ id: "ex-2", expires: null, extra: 1 }),
        record({ id: "ex-3", scope: { sha256: "not-a-hash" } }),
        record({ id: "ex-1" }),
      ]),
    );
    const r = await load(d.root);
    expect(r.ruleset).toBeUndefined();
    expect(located(r)).toEqual([
      {
        code: "invalid_exception",
        at: "null",
        message: "`/1/expires` is required: exceptions must expire",
      },
      { code: "invalid_exception", at: "1", message: "`/1/extra`: unknown field `extra`" },
      {
        code: "invalid_exception",
        at: '"not-a-hash"',
        message: "`/2/scope/sha256` should be 64 hex digits",
      },
      { code: "invalid_exception", at: '"ex-1"', message: "`/3/id`: duplicate id `ex-1`" },
    ]);
    expect(r.diagnostics[0]!.help).toContain("allowNoExpiry");
  });

  it("accepts exceptions that never expire only with exceptionOptions.allowNoExpiry", async () => {
    const d = ruleDir(exported([record({ expires: null })]));
    expect((await load(d.root)).ruleset).toBeUndefined();
    const r = await load(d.root, { ...OPTIONS, exceptionOptions: { allowNoExpiry: true } });
    expect(r.diagnostics).toEqual([]);
    expect(r.ruleset!.exceptions[0]!.expires).toBeNull();
    expect(r.ruleset!.exceptionSet.find({ sha256: SHA }, undefined, NOW + 1000 * DAY)?.id).toBe(
      "ex-1",
    );
  });

  it("warns about exceptions expiring within 14 days and those already expired", async () => {
    const d = ruleDir(
      exported([
        record({ id: "soon", expires: new Date(NOW + 3 * DAY).toISOString() }),
        record({ id: "gone", expires: NOW - DAY }),
        record({ id: "later", expires: new Date(NOW + 15 * DAY).toISOString() }),
      ]),
    );
    const r = await load(d.root);
    expect(r.ruleset, printed(r)).toBeDefined();
    expect(r.ruleset!.exceptions).toHaveLength(3);
    expect(r.diagnostics.every((x) => x.severity === "warning")).toBe(true);
    expect(located(r)).toEqual([
      {
        code: "exception_expiring_soon",
        at: `"${new Date(NOW + 3 * DAY).toISOString()}"`,
        message: `exception \`soon\` expires in 3 days (${new Date(NOW + 3 * DAY).toISOString()})`,
      },
      {
        code: "exception_expired",
        at: String(NOW - DAY),
        message: `exception \`gone\` expired on ${new Date(NOW - DAY).toISOString()} and no longer applies`,
      },
    ]);
  });

  it("a symlink to a file outside the rule directory is refused, its content never read", async () => {
    const d = ruleDir();
    const secret = join(d.outside, "exceptions.json");
    writeFileSync(secret, exported([record({ justification: OUTSIDE_SECRET })]));
    symlinkSync(secret, join(d.root, "exceptions.json"));
    const r = await load(d.root);
    expect(r.ruleset).toBeUndefined();
    expect(r.diagnostics.map((x) => x.code)).toEqual(["symlink_outside_root"]);
    expect(JSON.stringify(r)).not.toContain(OUTSIDE_SECRET);
  });

  it("a symlink inside the rule directory is followed", async () => {
    const d = ruleDir();
    write(join(d.root, "reviewed", "current.json"), exported([record()]));
    symlinkSync(join("reviewed", "current.json"), join(d.root, "exceptions.json"));
    const r = await load(d.root);
    expect(r.diagnostics, printed(r)).toEqual([]);
    expect(r.ruleset!.exceptions.map((e) => e.id)).toEqual(["ex-1"]);
  });

  it("a dangling symlink, a directory or a device is refused", async () => {
    const dangling = ruleDir();
    symlinkSync(join(dangling.root, "nowhere.json"), join(dangling.root, "exceptions.json"));
    expect((await load(dangling.root)).diagnostics.map((x) => x.code)).toEqual(["file_unreadable"]);
    const directory = ruleDir();
    write(join(directory.root, "exceptions.json", "a.json"), "[]");
    expect((await load(directory.root)).diagnostics.map((x) => x.code)).toEqual([
      "not_a_regular_file",
    ]);
    const device = ruleDir();
    symlinkSync("/dev/zero", join(device.root, "exceptions.json"));
    expect((await load(device.root)).diagnostics.map((x) => x.code)).toEqual([
      "symlink_outside_root",
    ]);
  });

  // root reads any file
  it.skipIf(process.getuid?.() === 0)("an unreadable file is file_unreadable", async () => {
    const d = ruleDir(exported([record()]));
    chmodSync(join(d.root, "exceptions.json"), 0o000);
    expect((await load(d.root)).diagnostics.map((x) => x.code)).toEqual(["file_unreadable"]);
  });

  it("maxExceptionsFileBytes bounds the file: at the limit it loads, one byte over it is refused", async () => {
    const text = exported([record()]);
    const bytes = Buffer.byteLength(text);
    const d = ruleDir(text);
    const at = await load(d.root, { ...OPTIONS, limits: { maxExceptionsFileBytes: bytes } });
    expect(at.diagnostics).toEqual([]);
    const over = await load(d.root, { ...OPTIONS, limits: { maxExceptionsFileBytes: bytes - 1 } });
    expect(over.ruleset).toBeUndefined();
    expect(located(over).map((x) => [x.code, x.message])).toEqual([
      [
        "exceptions_file_too_large",
        `exceptions file is larger than the limit of ${bytes - 1} bytes`,
      ],
    ]);
    expect(resolveLimits().maxExceptionsFileBytes).toBe(16 * 1024 * 1024);
    expect(() => resolveLimits({ maxExceptionsFileBytes: 0 })).toThrow(/maxExceptionsFileBytes/);
  });

  it("a million bad records give maxDiagnostics diagnostics and a count of the rest", async () => {
    const d = ruleDir(`[${Array.from({ length: 1_000_000 }, () => "{}").join(",")}]`);
    const started = performance.now();
    const r = loadRuleset(d.root, OPTIONS);
    expect(performance.now() - started).toBeLessThan(20_000);
    expect(r.ruleset).toBeUndefined();
    const max = resolveLimits().maxDiagnostics;
    const codes = r.diagnostics.map((x) => x.code);
    expect(codes.filter((c) => c === "invalid_exception")).toHaveLength(max);
    expect(codes.at(-1)).toBe("too_many_diagnostics");
    // each `{}` lacks 7 required fields and its scope; the first ones are located at the records
    expect(r.diagnostics.at(-1)!.message).toMatch(/^\d+ more diagnostics not shown$/);
    expect(Number(r.diagnostics.at(-1)!.message.split(" ")[0])).toBeGreaterThan(1_000_000);
    expect(located(r)[0]!.at).toBe("{}");
  });

  it("ExceptionSet keeps at most maxProblems problems, and counts the rest", () => {
    try {
      new ExceptionSet([{}, {}, {}], { maxProblems: 2 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidExceptionsError);
      const e = error as InvalidExceptionsError;
      expect(e.problems).toHaveLength(2);
      expect(e.omitted).toBeGreaterThan(10);
      expect(e.message).toMatch(new RegExp(`; and ${e.omitted} more$`));
    }
  });

  it("a file that is not UTF-8 is invalid_utf8", async () => {
    const d = ruleDir(Buffer.from([0x5b, 0xff, 0x5d]));
    expect((await load(d.root)).diagnostics.map((x) => x.code)).toEqual(["invalid_utf8"]);
  });

  it("a rule file loaded alone reads no exceptions.json beside it", async () => {
    const d = ruleDir("not json");
    const r = loadRuleset(join(d.root, "main.rules"), OPTIONS);
    expect(r.diagnostics).toEqual([]);
    expect(r.ruleset!.exceptions).toEqual([]);
  });

  it("the shipped rules/ with a copy of an exported file decide with the exceptions found", async () => {
    const copy = mkdtempSync(join(tmpdir(), "clearance-exceptions-rules-"));
    try {
      cpSync(join(import.meta.dirname, "../../../rules"), copy, { recursive: true });
      writeFileSync(join(copy, "exceptions.json"), exported([record()]));
      const rs = loadRuleset(copy, OPTIONS).ruleset!;
      const result = JSON.parse(
        readFileSync(
          join(import.meta.dirname, "../../../examples/results/unsigned-lowscore.json"),
          "utf8",
        ),
      );
      const without = rs.decide(result, { now: NOW });
      const exception = rs.exceptionSet.find(result, undefined, NOW)!;
      const withIt = rs.decide(result, { now: NOW, exception });
      expect(without.exception).toBeNull();
      expect(withIt.exception).toBe("ex-1");
      expect(withIt.decision).toBe("allow");
      expect(without.decision).not.toBe("allow");
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
