import {
  cpSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { type Diagnostic, formatDiagnostic } from "@clearance/dsl";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  type CompileResult,
  compile,
  ListFileError,
  ListFileTooLarge,
  type ListRequest,
  loadRuleset,
  RulesetLoader,
} from "../src/index.js";
import { readListFile } from "../src/rule-files.js";
import { runAsync, runSync } from "../src/steps.js";
import {
  environMarker,
  HOSTILE_CASES,
  INSIDE_CASES,
  makeRuleDir,
  OUTSIDE_SECRET,
  passwdLine,
  type RuleDir,
  usesHashlist,
  write,
} from "../src/testing.js";
import { NOW, result } from "./helpers.js";

const dirs: RuleDir[] = [];
const ruleDir = () => {
  const d = makeRuleDir();
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) d.remove();
});

function printed(r: CompileResult): string {
  return r.diagnostics.map((d) => formatDiagnostic(d, (p) => r.files.get(p))).join("\n");
}

/** Each error as its code, the text it underlines, and its file. */
function errorsOf(r: CompileResult): { code: string; at: string; file: string }[] {
  return r.diagnostics
    .filter((d: Diagnostic) => d.severity === "error")
    .map((d) => ({
      code: d.code,
      at: r.files.get(d.span.file)?.text.slice(d.span.start, d.span.end) ?? "",
      file: d.span.file,
    }));
}

describe("a rule set reads only regular files inside its directory", () => {
  describe.each(HOSTILE_CASES)("$name", (c) => {
    it("is refused with located diagnostics, the same by loadRuleset and RulesetLoader.load", async () => {
      const d = ruleDir();
      c.setup(d);
      const options = { git: false, now: NOW, ...(c.limits ? { limits: c.limits } : {}) };
      const sync = loadRuleset(d.root, options);
      const async = await new RulesetLoader(d.root, options).load();
      expect(sync.diagnostics).toEqual(async.diagnostics);
      expect(sync.ruleset).toBeUndefined();
      expect(async.ruleset).toBeUndefined();
      const errors = errorsOf(sync);
      expect(errors.map((e) => e.code).sort(), printed(sync)).toEqual(
        c.expect.map((e) => e.code).sort(),
      );
      for (const want of c.expect) {
        const match = errors.find(
          (e) =>
            e.code === want.code &&
            (want.at === undefined || e.at === want.at) &&
            (want.file === undefined || e.file === want.file(d)),
        );
        expect(
          match,
          `${want.code} at ${want.at ?? want.file?.(d)}\n${printed(sync)}`,
        ).toBeDefined();
      }
      for (const e of sync.diagnostics) expect(e.help, e.code).toBeTruthy();
      const text = `${printed(sync)}\n${JSON.stringify(sync.diagnostics)}`;
      expect(text).not.toContain(OUTSIDE_SECRET);
      expect(text).not.toContain(passwdLine());
      expect(text).not.toContain(environMarker());
    });
  });

  describe.each(INSIDE_CASES)("$name", (c) => {
    it("loads, following the symlinks that stay inside", async () => {
      const d = ruleDir();
      c.setup(d);
      for (const r of [
        loadRuleset(d.root, { git: false, now: NOW }),
        await new RulesetLoader(d.root, { git: false, now: NOW }).load(),
      ]) {
        expect(printed(r)).toBe("");
        expect(r.ruleset?.rules.map((x) => x.name).sort()).toEqual(c.rules);
      }
    });
  });

  it("a list reached through a symlink inside the root is read", () => {
    const d = ruleDir();
    INSIDE_CASES.find((c) => c.name === "a symlinked list file inside the root")!.setup(d);
    const rs = loadRuleset(d.root, { git: false, now: NOW }).ruleset!;
    expect(rs.decide(result({ fileName: "setup.exe" }), { now: NOW })).toMatchObject({
      decision: "deny",
      reason: "listed: setup.exe",
    });
  });

  describe("a file that reports size 0 (/proc) is still cut at the limit while reading", () => {
    const root = { given: "/proc/self", real: realpathSync("/proc/self") };
    const request = (maxBytes: number): ListRequest => ({
      kind: "list",
      file: "/proc/self/status",
      maxBytes,
    });
    it("synchronously", () => {
      expect(() => runSync(readListFile(root, "status", request(64), 10))).toThrow(
        ListFileTooLarge,
      );
      const whole = runSync(readListFile(root, "status", request(1 << 20), 10));
      expect(whole.bytes).toBeGreaterThan(64);
      expect(whole.file.text).toContain("Name:");
    });
    it("asynchronously", async () => {
      await expect(runAsync(readListFile(root, "status", request(64), 10))).rejects.toThrow(
        ListFileTooLarge,
      );
    });
  });

  it("a bad hash line inside the root is echoed as a short excerpt only", () => {
    const d = ruleDir();
    const line = `${"z".repeat(40)}THE-REST-OF-THE-LINE`;
    write(join(d.root, "bad.sha256"), `${line}\n`);
    write(join(d.root, "a.rules"), usesHashlist("bad.sha256"));
    const r = loadRuleset(d.root, { git: false, now: NOW });
    const bad = r.diagnostics.find((x) => x.code === "list_file_bad_line")!;
    expect(bad.message).toBe(`line is not a SHA-256: \`${"z".repeat(40)}...\``);
    expect(bad.span.file).toBe(join(d.root, "bad.sha256"));
  });
});

describe("compile() with a caller's own loadList", () => {
  const text = 'list x from "lists/names.txt"\nrule r { when fileName in x deny "x" }';

  it("gets the list file, its kind and the byte bound, and may still return text", () => {
    const requests: ListRequest[] = [];
    const r = compile([{ path: "rules/a.rules", text }], {
      now: NOW,
      root: "rules",
      // the bound is what is left of the whole set's bytes after the rule file, when smaller
      limits: { maxListFileBytes: 1000, maxRulesetBytes: 100 },
      loadList: (path, declaredIn, request) => {
        expect([path, declaredIn]).toEqual(["lists/names.txt", "rules/a.rules"]);
        requests.push(request);
        return "setup.exe\n";
      },
    });
    expect(printed(r)).toBe("");
    expect(requests).toEqual([
      { kind: "list", file: join("rules", "lists", "names.txt"), maxBytes: 100 - text.length },
    ]);
  });

  it("is never asked for an absolute or escaping path", () => {
    let asked = 0;
    const loadList = () => {
      asked++;
      return "";
    };
    for (const [path, code] of [
      ["/etc/passwd", "list_path_absolute"],
      ["../../etc/passwd", "path_outside_root"],
      ["lists/../../x.txt", "path_outside_root"],
    ] as const) {
      const r = compile(
        [
          {
            path: "rules/a.rules",
            text: `list x from "${path}"\nrule r { when fileName in x deny "x" }`,
          },
        ],
        { now: NOW, root: "rules", loadList },
      );
      expect(errorsOf(r).map((e) => [e.code, e.at])).toEqual([[code, `"${path}"`]]);
    }
    // without a root, the declaring file's directory is the limit
    const r = compile(
      [{ path: "a.rules", text: 'list x from "../x.txt"\nrule r { when fileName in x deny "x" }' }],
      { now: NOW, loadList },
    );
    expect(errorsOf(r).map((e) => e.code)).toEqual(["path_outside_root"]);
    expect(asked).toBe(0);
  });

  it("may refuse a file with ListFileError or ListFileTooLarge", () => {
    const refuse = (error: Error) =>
      compile([{ path: "a.rules", text }], {
        now: NOW,
        loadList: () => {
          throw error;
        },
      });
    const own = refuse(
      new ListFileError({ code: "not_a_regular_file", message: "not a file", help: "use a file" }),
    );
    expect(errorsOf(own)).toEqual([
      { code: "not_a_regular_file", at: '"lists/names.txt"', file: "a.rules" },
    ]);
    expect(errorsOf(refuse(new ListFileTooLarge("lists/names.txt"))).map((e) => e.code)).toEqual([
      "list_file_too_large",
    ]);
  });

  it("content over the bound is refused even when the loader ignored it", () => {
    const r = compile([{ path: "a.rules", text }], {
      now: NOW,
      limits: { maxListFileBytes: 10 },
      loadList: () => "0123456789\n",
    });
    expect(errorsOf(r).map((e) => e.code)).toEqual(["list_file_too_large"]);
  });
});

describe("reloading with a list file cache", () => {
  const hashes = (n: number, seed = 0) =>
    Array.from({ length: n }, (_, i) => (i + seed).toString(16).padStart(64, "0"));
  const setup = () => {
    const d = ruleDir();
    write(join(d.root, "lists", "bad.sha256"), `${hashes(100).join("\n")}\n`);
    write(join(d.root, "a.rules"), `# first\n${usesHashlist("lists/bad.sha256")}`);
    return d;
  };
  const decision = (r: CompileResult, sha: string) =>
    r.ruleset!.decide(result({ sha256: sha }), { now: NOW }).decision;

  it("a comment-only edit of a rule file does not parse the hash list again", async () => {
    const d = setup();
    const loader = new RulesetLoader(d.root, { git: false, now: NOW });
    const first = await loader.load();
    expect(loader.lists.counts.parses).toBe(1);
    write(join(d.root, "a.rules"), `# second\n${usesHashlist("lists/bad.sha256")}`);
    const second = await loader.load();
    expect(second.ruleset!.revision).not.toBe(first.ruleset!.revision);
    expect(loader.lists.counts.parses).toBe(1);
    // the same through the synchronous path
    const third = loader.loadSync();
    expect(third.ruleset!.revision).toBe(second.ruleset!.revision);
    expect(loader.lists.counts.parses).toBe(1);
  });

  it("a same-size change right after a load is seen", async () => {
    const d = setup();
    const loader = new RulesetLoader(d.root, { git: false, now: NOW });
    const before = await loader.load();
    const listed = hashes(100)[0]!;
    const fresh = hashes(1, 5000)[0]!;
    expect(decision(before, listed)).toBe("deny");
    // same size, same second, maybe the same timestamp
    const file = join(d.root, "lists", "bad.sha256");
    writeFileSync(file, readFileSync(file, "utf8").replace(listed, fresh));
    const after = await loader.load();
    expect(decision(after, listed)).toBe("review");
    expect(decision(after, fresh)).toBe("deny");
    expect(after.ruleset!.revision).not.toBe(before.ruleset!.revision);
    expect(loader.lists.counts.parses).toBe(2);
  });

  it("a file changed just before it was read is verified by its content at the next load", async () => {
    // Its timestamps could be those of a later change within the same clock tick.
    const d = setup();
    const loader = new RulesetLoader(d.root, { git: false, now: NOW });
    await loader.load();
    expect(loader.lists.counts).toMatchObject({ reads: 1, parses: 1 });
    await loader.load();
    expect(loader.lists.counts).toMatchObject({
      reads: 2,
      parses: 1,
      reusedVerified: 1,
      reusedUnread: 0,
    });
  });

  it("the same bytes under a new timestamp are verified by their hash, not parsed", async () => {
    const d = setup();
    const loader = new RulesetLoader(d.root, { git: false, now: NOW });
    await loader.load();
    const file = join(d.root, "lists", "bad.sha256");
    writeFileSync(file, readFileSync(file));
    utimesSync(file, new Date(2020, 0, 1), new Date(2020, 0, 1));
    await loader.load();
    expect(loader.lists.counts).toMatchObject({ parses: 1, reusedVerified: 1 });
  });

  it("a file left alone for longer than the timestamp margin is reused unread", async () => {
    const d = setup();
    const loader = new RulesetLoader(d.root, { git: false, now: NOW });
    await loader.load(); // just written: racy, so the next load verifies the content
    await new Promise((r) => setTimeout(r, 2_100));
    await loader.load();
    const reads = loader.lists.counts.reads;
    await loader.load();
    expect(loader.lists.counts.reads).toBe(reads);
    expect(loader.lists.counts.reusedUnread).toBe(1);
    expect(loader.lists.counts.parses).toBe(1);
  });

  it("a list no longer declared leaves the cache", async () => {
    const d = setup();
    const loader = new RulesetLoader(d.root, { git: false, now: NOW });
    await loader.load();
    expect(loader.lists.size).toBe(1);
    write(join(d.root, "a.rules"), 'rule r { when true deny "x" }\n');
    await loader.load();
    expect(loader.lists.size).toBe(0);
  });
});

describe("the revision depends only on the files' content and their paths inside the directory", () => {
  const name = fc.stringMatching(/^[a-z]{1,6}$/);
  const ruleSetFiles = fc.record({
    rules: fc.uniqueArray(
      fc.record({
        dir: fc.constantFrom("", "teams/", "a/b/"),
        name,
        comment: fc.stringMatching(/^[ -~]{0,20}$/),
        word: name,
      }),
      { minLength: 1, maxLength: 3, selector: (r) => `${r.dir}${r.name}` },
    ),
    names: fc.array(name, { minLength: 1, maxLength: 5 }),
  });
  type Files = Record<string, string>;
  type Spec = typeof ruleSetFiles extends fc.Arbitrary<infer T> ? T : never;
  const filesOf = (spec: Spec): Files => {
    const files: Files = {};
    spec.rules.forEach((r, i) => {
      const up = "../".repeat(r.dir.split("/").length - 1);
      files[`${r.dir}${r.name}.rules`] =
        `# ${r.comment}\n` +
        (i === 0 ? `list names from "${up}lists/names.txt"\n` : "") +
        `rule r${i} { when fileName == "${r.word}"${i === 0 ? " or fileName in names" : ""} deny "x" }\n`;
    });
    files["lists/names.txt"] = `${spec.names.join("\n")}\n`;
    return files;
  };
  const writeAll = (dir: string, files: Files) => {
    for (const [path, text] of Object.entries(files)) write(join(dir, path), text);
  };
  const revision = (dir: string) => {
    const r = loadRuleset(dir, { git: false, now: NOW });
    if (!r.ruleset) throw new Error(printed(r));
    return r.ruleset.revision;
  };

  it("same files under any spelling or location of the directory: the same revision; any change: another", () => {
    fc.assert(
      fc.property(
        ruleSetFiles,
        fc.nat(),
        fc.stringMatching(/^[a-z0-9 #]{1,8}$/),
        (spec, which, extra) => {
          const base = mkdtempSync(join(tmpdir(), "clearance-revision-"));
          try {
            const files = filesOf(spec);
            const here = join(base, "rules");
            const there = join(base, "elsewhere", "deeper", "copy");
            writeAll(here, files);
            writeAll(there, files);
            symlinkSync(here, join(base, "link"));
            const rel = relative(process.cwd(), here);
            const spellings = [
              here,
              `${here}/`,
              rel,
              rel.startsWith("..") ? rel : `./${rel}`,
              join(base, "elsewhere", "..", "rules"),
              there,
              join(base, "link"),
            ];
            const revisions = new Set(spellings.map(revision));
            expect([...revisions]).toHaveLength(1);
            // change one file's bytes: the revision changes
            const paths = Object.keys(files).sort();
            const changed = paths[which % paths.length]!;
            cpSync(here, join(base, "changed"), { recursive: true });
            const added = changed.endsWith(".rules") ? `# ${extra}` : extra;
            write(join(base, "changed", changed), `${files[changed]}${added}\n`);
            expect(revision(join(base, "changed"))).not.toBe([...revisions][0]);
            // and moving a file changes it too (paths inside the directory count)
            const moved = join(base, "moved");
            writeAll(
              moved,
              Object.fromEntries(
                Object.entries(files).map(([p, t]) => [p === "lists/names.txt" ? p : `x${p}`, t]),
              ),
            );
            expect(revision(moved)).not.toBe([...revisions][0]);
          } finally {
            rmSync(base, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 15 },
    );
  });

  it("is the same for the synchronous and the asynchronous load of the shipped rules", async () => {
    const rules = join(import.meta.dirname, "..", "..", "..", "rules");
    const sync = loadRuleset(rules, { now: NOW }).ruleset!;
    const async = (await new RulesetLoader(rules, { now: NOW }).load()).ruleset!;
    expect(async.revision).toBe(sync.revision);
    expect(async.commit).toEqual(sync.commit);
  });
});
