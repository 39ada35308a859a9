import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { format } from "@clearance/dsl";
import { loadRuleset } from "@clearance/engine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  CodeAction,
  CompletionItem,
  DocumentSymbol,
  Hover,
  Location,
  SemanticTokens,
  TextEdit,
  WorkspaceEdit,
} from "vscode-languageserver-protocol";
import { Client, positionOf, repo, uri } from "./support/client.js";

// The server on the repository's own rule directory, driven over stdio by a real client. Nothing
// is written: every edit is an editor's unsaved change.
const rules = join(repo, "rules");
const file = (name: string) => join(rules, name);
const text = (name: string) => readFileSync(file(name), "utf8");

let client: Client;

beforeAll(async () => {
  client = new Client([]);
  await client.initialize(repo);
});
afterAll(async () => {
  await client.close();
});

describe("diagnostics on rules/", () => {
  it("are those of `clearance check` for every file of the directory, once a file is opened", async () => {
    const expected = loadRuleset(rules, { git: false }).diagnostics;
    await client.open(file("threats.rules"));
    for (const name of [
      "governance.rules",
      "publishers.rules",
      "reviews.rules",
      "teams.rules",
      "threats.rules",
    ]) {
      const got = await client.settled(file(name));
      const want = expected.filter((d) => d.span.file === file(name));
      const lines = text(name).split("\n");
      const offset = (p: { line: number; character: number }) =>
        lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
      expect(
        got.map((d) => [d.code, d.severity, d.message, offset(d.range.start), offset(d.range.end)]),
      ).toEqual(
        want.map((d) => [
          d.code,
          { error: 1, warning: 2, info: 3 }[d.severity],
          d.help ? `${d.message}\nhelp: ${d.help}` : d.message,
          d.span.start,
          d.span.end,
        ]),
      );
    }
  });

  it("follow typing, with the checker's help, code and a link to the docs", async () => {
    const path = file("teams.rules");
    const source = text("teams.rules");
    await client.open(path, source);
    const at = positionOf(source, "trustScore < 90");
    const version = await client.change(path, [
      { range: { start: at, end: { ...at, character: at.character + 10 } }, text: "trustscore" },
    ]);
    const published = await client.next(path, (p) => p.version === version);
    const d = published.diagnostics.find((x) => x.code === "unknown_field");
    expect(d?.message).toContain("unknown field `trustscore`");
    expect(d?.message).toContain("did you mean `trustScore`?");
    expect(d?.codeDescription?.href).toBe(
      `${uri(join(repo, "docs", "diagnostics.md"))}#unknown_field`,
    );
    expect(d?.range.start).toEqual(at);

    const actions = await client.request<CodeAction[]>("textDocument/codeAction", {
      textDocument: { uri: uri(path) },
      range: d!.range,
      context: { diagnostics: [d] },
    });
    const edit = actions[0]!.edit!.changes![uri(path)]![0]!;
    expect(edit.newText).toBe("trustScore");
    const fixed = await client.change(path, [{ range: edit.range, text: edit.newText }]);
    const after = await client.next(path, (p) => p.version === fixed);
    expect(after.diagnostics.filter((x) => x.severity === 1)).toEqual([]);
    await client.change(path, [{ text: source }]);
  });

  it("carry related spans: a duplicate across files points at the first, after the whole directory is checked", async () => {
    const path = file("teams.rules");
    await client.change(path, [
      {
        text: `${text("teams.rules")}\nrule low_trust {\n  when trustScore < 1\n  deny "again"\n}\n`,
      },
    ]);
    // files are read in path order: teams.rules has the first `low_trust` now
    const list = await client.settled(file("threats.rules"), (ds) =>
      ds.some((d) => d.code === "duplicate_rule"),
    );
    const dup = list.find((d) => d.code === "duplicate_rule")!;
    expect(dup.relatedInformation?.[0]?.location.uri).toBe(uri(path));
    expect(dup.relatedInformation?.[0]?.location.range.start.line).toBe(
      text("teams.rules").split("\n").length,
    );
    await client.change(path, [{ text: text("teams.rules") }]);
  });
});

// Broken variants of rules/: the server's diagnostics for every file, once the directory is checked
// whole, are `clearance check`'s (loadRuleset) of a copy of rules/ with the same edit on disk; and
// for the codes a file's own check can tell, they come with the keystroke already.
const VARIANTS: { name: string; file: string; append: string; codes: string[] }[] = [
  {
    name: "an unknown field",
    file: "teams.rules",
    append: 'rule v {\n  when trustscore > 3\n  review "x"\n}\n',
    codes: ["unknown_field"],
  },
  {
    name: "an unguarded element field",
    file: "teams.rules",
    append: 'rule v {\n  when any e in engines: e.category == "malicious"\n  review "x"\n}\n',
    codes: ["unguarded_element_field"],
  },
  {
    name: "a syntax error",
    file: "reviews.rules",
    append: 'rule v {\n  when trustScore = 3\n  review "x"\n}\n',
    codes: ["syntax_error"],
  },
  {
    name: "an expired rule",
    file: "reviews.rules",
    append: 'rule v expires 2020-01-01 {\n  when trustScore > 3\n  review "x"\n}\n',
    codes: ["rule_expired"],
  },
  {
    name: "a duplicate across files",
    file: "teams.rules",
    append: 'rule malware {\n  when detections.malicious > 3\n  review "x"\n}\n',
    codes: ["duplicate_rule"],
  },
  {
    name: "an unused list",
    file: "governance.rules",
    append: 'list nobody = ["x"]\n',
    codes: ["unused_list"],
  },
  {
    name: "a missing list file",
    file: "governance.rules",
    append:
      'hashlist gone from "lists/gone.sha256"\nrule v {\n  when sha256 in gone\n  deny "x"\n}\n',
    codes: ["file_unreadable"],
  },
];

describe("diagnostics of broken variants of rules/ are `clearance check`'s", () => {
  it.each(VARIANTS)("$name", async ({ file: name, append, codes }) => {
    const copy = mkdtempSync(join(tmpdir(), "clearance-lsp-rules-"));
    try {
      cpSync(rules, copy, { recursive: true });
      const source = `${text(name)}\n${append}`;
      writeFileSync(join(copy, name), source);
      const expected = loadRuleset(copy, { git: false }).diagnostics;
      expect(expected.map((d) => d.code)).toEqual(codes);

      const path = file(name);
      await client.open(path, text(name));
      const version = await client.change(path, [{ text: source }]);
      const fast = await client.next(path, (p) => p.version === version);
      const whole = await client.next(path, (p) => p.version === version);
      await new Promise((r) => setTimeout(r, 100)); // the other files' notifications of the same check
      const shape = (d: { code?: unknown; message: string; range: { start: unknown } }) => [
        d.code,
        d.message,
        d.range.start,
      ];
      for (const f of [
        "governance.rules",
        "publishers.rules",
        "reviews.rules",
        "teams.rules",
        "threats.rules",
      ]) {
        const lines = (f === name ? source : text(f)).split("\n");
        const pos = (offset: number) => {
          let line = 0;
          let at = offset;
          while (line < lines.length && at > lines[line]!.length) at -= lines[line++]!.length + 1;
          return { line, character: at };
        };
        const want = expected
          .filter((d) => d.span.file === join(copy, f))
          .map((d) => [
            d.code,
            d.help ? `${d.message}\nhelp: ${d.help}` : d.message,
            pos(d.span.start),
          ]);
        const got =
          f === name
            ? whole.diagnostics
            : (client.diagnostics.get(uri(file(f)))?.diagnostics ?? []);
        expect(got.map(shape), f).toEqual(want);
        if (f === name && !["duplicate_rule", "unused_list", "file_unreadable"].includes(codes[0]!))
          expect(fast.diagnostics.map(shape), JSON.stringify(fast.diagnostics)).toEqual(want);
      }
      await client.change(path, [{ text: text(name) }]);
      await client.next(path, (p) => p.diagnostics.length === 0);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe("an edit to a declaration", () => {
  it("re-checks the other open files that read it", async () => {
    await client.open(file("publishers.rules"));
    await client.open(file("governance.rules"));
    await client.settled(file("publishers.rules"), (ds) => ds.length === 0);
    const renamed = text("governance.rules").replace(
      "list trusted_vendors",
      "list trusted_vendorz",
    );
    await client.change(file("governance.rules"), [{ text: renamed }]);
    const list = await client.settled(file("publishers.rules"), (ds) => ds.length > 0);
    expect(list.map((d) => d.code)).toEqual(["unknown_list"]);
    expect(list[0]!.message).toContain("did you mean `trusted_vendorz`?");
    await client.change(file("governance.rules"), [{ text: text("governance.rules") }]);
    expect(await client.settled(file("publishers.rules"), (ds) => ds.length === 0)).toEqual([]);
  });
});

// Quick fixes: a broken line, the diagnostic it gives and the text after the fix.
const FIXES: { name: string; line: string; code: string; fixed: string }[] = [
  {
    name: "did you mean a field",
    line: 'when signature.stauts == "valid"',
    code: "unknown_field",
    fixed: 'when signature.status == "valid"',
  },
  {
    name: "did you mean an enum value",
    line: 'when signature.status == "vaild"',
    code: "unknown_enum_value",
    fixed: 'when signature.status == "valid"',
  },
  {
    name: "did you mean a list",
    line: "when vendor.name in trusted_vendor",
    code: "unknown_list",
    fixed: "when vendor.name in trusted_vendors",
  },
  {
    name: "did you mean a function",
    line: 'when lowr(fileName) == "a"',
    code: "unknown_function",
    fixed: 'when lower(fileName) == "a"',
  },
  {
    name: "`=` to `==`",
    line: "when trustScore = 3",
    code: "syntax_error",
    fixed: "when trustScore == 3",
  },
  {
    name: "single quotes",
    line: "when fileName == 'setup.exe'",
    code: "unexpected_character",
    fixed: 'when fileName == "setup.exe"',
  },
  {
    name: "did you mean a keyword",
    line: "wen trustScore > 3",
    code: "unknown_keyword",
    fixed: "when trustScore > 3",
  },
  {
    name: "`&&` to `and`",
    line: "when trustScore > 3 && trustScore < 9",
    code: "unexpected_character",
    fixed: "when trustScore > 3 and trustScore < 9",
  },
  {
    name: "quoted number",
    line: 'when trustScore >= "70"',
    code: "type_mismatch",
    fixed: "when trustScore >= 70",
  },
];

describe("quick fixes", () => {
  it.each(FIXES)("$name", async ({ line, code, fixed }) => {
    const path = file("reviews.rules");
    const original = text("reviews.rules");
    const source = `${original}\nrule quick_fix_case {\n  ${line}\n  review "x"\n}\n`;
    await client.open(path, original);
    const version = await client.change(path, [{ text: source }]);
    const published = await client.next(path, (p) => p.version === version);
    const d = published.diagnostics.find((x) => x.code === code);
    expect(d, JSON.stringify(published.diagnostics)).toBeDefined();
    const actions = await client.request<CodeAction[]>("textDocument/codeAction", {
      textDocument: { uri: uri(path) },
      range: d!.range,
      context: { diagnostics: [d] },
    });
    const action = actions.find((a) => a.diagnostics?.[0]?.code === code);
    expect(action).toBeDefined();
    const edit = action!.edit!.changes![uri(path)]![0]!;
    const lines = source.split("\n");
    const row = lines[edit.range.start.line]!;
    lines[edit.range.start.line] =
      row.slice(0, edit.range.start.character) + edit.newText + row.slice(edit.range.end.character);
    expect(lines.join("\n")).toContain(fixed);
    await client.change(path, [{ text: original }]);
  });
});

// Hover: where, and what the text must say.
const HOVERS: { name: string; file: string; needle: string; shift: number; says: string[] }[] = [
  {
    name: "an enum field",
    file: "publishers.rules",
    needle: "signature.status",
    shift: 11,
    says: ["signature.status: string", '"valid"', '"expired"'],
  },
  {
    name: "a field's documentation",
    file: "threats.rules",
    needle: "trustScore < 30",
    shift: 1,
    says: [
      "trustScore: number",
      "(optional)",
      "Trust score from 0 (untrusted) to 100 (fully trusted)",
    ],
  },
  {
    name: "a hash list",
    file: "threats.rules",
    needle: "known_bad\n",
    shift: 1,
    says: ["hashlist known_bad", "lists/known-bad.sha256"],
  },
  {
    name: "a list",
    file: "publishers.rules",
    needle: "trusted_vendors",
    shift: 1,
    says: ["list trusted_vendors: list<string>"],
  },
  {
    name: "a function",
    file: "teams.rules",
    needle: "age(",
    shift: 1,
    says: ["age(timestamp) -> duration"],
  },
  {
    name: "a rule",
    file: "threats.rules",
    needle: "malware",
    shift: 1,
    says: ["rule malware priority 100", "deny"],
  },
  {
    name: "a context field",
    file: "teams.rules",
    needle: "context.group",
    shift: 9,
    says: ["context.group: string", "request context"],
  },
];

describe("hover", () => {
  it.each(HOVERS)("on $name", async ({ file: name, needle, shift, says }) => {
    await client.open(file(name));
    const hover = await client.request<Hover | null>("textDocument/hover", {
      textDocument: { uri: uri(file(name)) },
      position: positionOf(text(name), needle, 0, shift),
    });
    const value = (hover?.contents as { value: string } | undefined)?.value ?? "";
    for (const s of says) expect(value).toContain(s);
  });
});

describe("completion", () => {
  const cases: { name: string; typed: string; includes: string[] }[] = [
    { name: "nested fields", typed: "signature.", includes: ["status", "signer"] },
    {
      name: "enum values in a comparison",
      typed: 'signature.status == "',
      includes: ["valid", "self_signed"],
    },
    { name: "context fields", typed: "context.", includes: ["group", "tags"] },
    {
      name: "fields of a quantifier's items",
      typed: "any e in engines: e.",
      includes: ["category", "result"],
    },
    {
      name: "fields, lists, functions and keywords",
      typed: "",
      includes: ["trustScore", "trusted_vendors", "known_bad", "age", "exists", "and", "context"],
    },
  ];
  it.each(cases)("$name", async ({ typed, includes }) => {
    const path = file("teams.rules");
    const original = text("teams.rules");
    const source = `${original}\nrule completing {\n  when ${typed}`;
    await client.open(path, original);
    await client.change(path, [{ text: source }]);
    const items = await client.request<CompletionItem[]>("textDocument/completion", {
      textDocument: { uri: uri(path) },
      position: positionOf(source, `when ${typed}`, 0, 5 + typed.length),
    });
    const labels = items.map((i) => i.label.replace(/"/g, ""));
    for (const x of includes) expect(labels).toContain(x);
    await client.change(path, [{ text: original }]);
  });

  it("offers a rule snippet outside rules", async () => {
    const path = file("teams.rules");
    const source = text("teams.rules");
    await client.open(path, source);
    const items = await client.request<CompletionItem[]>("textDocument/completion", {
      textDocument: { uri: uri(path) },
      position: positionOf(source, "rule fresh_files"),
    });
    const snippet = items.find((i) => i.label === "rule" && i.insertTextFormat === 2);
    expect(snippet?.insertText).toMatch(/^rule \$\{1:name\} \{/);
  });
});

describe("definitions, references and rename", () => {
  it("go from a list's use to its declaration in another file", async () => {
    await client.open(file("publishers.rules"));
    const locations = await client.request<Location[]>("textDocument/definition", {
      textDocument: { uri: uri(file("publishers.rules")) },
      position: positionOf(text("publishers.rules"), "trusted_vendors", 0, 2),
    });
    expect(locations.map((l) => l.uri)).toEqual([uri(file("governance.rules"))]);
    expect(locations[0]!.range.start.line).toBe(
      positionOf(text("governance.rules"), "trusted_vendors").line,
    );
  });

  it("go from a hash list's and a context field's use to their declarations", async () => {
    for (const [name, needle, shift, decl] of [
      ["threats.rules", "known_bad\n", 0, "known_bad from"],
      ["teams.rules", "context.group", 9, "group: string"],
    ] as const) {
      await client.open(file(name));
      const locations = await client.request<Location[]>("textDocument/definition", {
        textDocument: { uri: uri(file(name)) },
        position: positionOf(text(name), needle, 0, shift),
      });
      expect(locations).toEqual([
        expect.objectContaining({
          uri: uri(file("governance.rules")),
          range: expect.objectContaining({ start: positionOf(text("governance.rules"), decl) }),
        }),
      ]);
    }
  });

  it("find every use of a list, across files", async () => {
    await client.open(file("governance.rules"));
    const locations = await client.request<Location[]>("textDocument/references", {
      textDocument: { uri: uri(file("governance.rules")) },
      position: positionOf(text("governance.rules"), "trusted_vendors", 0, 1),
      context: { includeDeclaration: true },
    });
    expect(locations.map((l) => l.uri).sort()).toEqual([
      uri(file("governance.rules")),
      uri(file("publishers.rules")),
    ]);
  });

  it("rename a list in every file that names it, and a rule", async () => {
    const edit = await client.request<WorkspaceEdit>("textDocument/rename", {
      textDocument: { uri: uri(file("governance.rules")) },
      position: positionOf(text("governance.rules"), "trusted_vendors", 0, 1),
      newName: "approved_vendors",
    });
    expect(Object.keys(edit.changes!).sort()).toEqual([
      uri(file("governance.rules")),
      uri(file("publishers.rules")),
    ]);
    for (const edits of Object.values(edit.changes!))
      for (const e of edits) expect(e.newText).toBe("approved_vendors");
    const rule = await client.request<WorkspaceEdit>("textDocument/rename", {
      textDocument: { uri: uri(file("threats.rules")) },
      position: positionOf(text("threats.rules"), "low_trust", 0, 1),
      newName: "little_trust",
    });
    expect(rule.changes![uri(file("threats.rules"))]).toHaveLength(1);
    await expect(
      client.request("textDocument/rename", {
        textDocument: { uri: uri(file("threats.rules")) },
        position: positionOf(text("threats.rules"), "low_trust", 0, 1),
        newName: "not a name",
      }),
    ).rejects.toThrow(/is not a name/);
  });
});

describe("rules named by the directory's tests", () => {
  const tests = ["reviews.test.yaml", "virustotal.test.yaml", "governance.test.yaml"].map((n) =>
    join(rules, "tests", n),
  );
  /** `text` with `edits` applied (from the end, so earlier ranges stay right). */
  const apply = (text: string, edits: TextEdit[]) => {
    const offset = (p: { line: number; character: number }) =>
      text
        .split("\n")
        .slice(0, p.line)
        .reduce((n, l) => n + l.length + 1, 0) + p.character;
    let out = text;
    for (const e of [...edits].sort((a, b) => offset(b.range.start) - offset(a.range.start)))
      out = out.slice(0, offset(e.range.start)) + e.newText + out.slice(offset(e.range.end));
    return out;
  };

  it.each([
    ["reviews.rules", "any_malicious_detection"],
    ["teams.rules", "fresh_files"],
    ["publishers.rules", "trusted_publisher"],
  ])(
    "%s: references and rename of `%s` reach `rule:`, `monitored` and `approvalForbiddenBy`",
    async (name, rule) => {
      await client.open(file(name));
      const position = positionOf(text(name), `rule ${rule}`, 0, 6);
      const refs = await client.request<Location[]>("textDocument/references", {
        textDocument: { uri: uri(file(name)) },
        position,
        context: { includeDeclaration: false },
      });
      expect(refs.length).toBeGreaterThan(0);
      for (const r of refs) {
        const lines = readFileSync(new URL(r.uri), "utf8").split("\n");
        expect(
          lines[r.range.start.line]!.slice(r.range.start.character, r.range.end.character),
        ).toBe(rule);
      }
      const edit = await client.request<WorkspaceEdit>("textDocument/rename", {
        textDocument: { uri: uri(file(name)) },
        position,
        newName: "renamed_rule",
      });
      for (const test of tests) {
        const after = apply(readFileSync(test, "utf8"), edit.changes![uri(test)] ?? []);
        expect(after).not.toMatch(new RegExp(`rule:\\s*${rule}\\b`));
        expect(after).not.toMatch(
          new RegExp(`(monitored|approvalForbiddenBy): \\[[^\\]]*\\b${rule}\\b`),
        );
      }
    },
  );
});

describe("formatting, outline and tokens", () => {
  it("formats with the real formatter", async () => {
    const path = file("teams.rules");
    const messy = text("teams.rules").replace(
      "rule fresh_files monitor {",
      "rule   fresh_files   monitor{",
    );
    await client.open(path, text("teams.rules"));
    await client.change(path, [{ text: messy }]);
    const edits = await client.request<TextEdit[]>("textDocument/formatting", {
      textDocument: { uri: uri(path) },
      options: { tabSize: 2, insertSpaces: true },
    });
    expect(edits).toHaveLength(1);
    expect(edits[0]!.newText).toBe(format({ path, text: messy }).text);
    await client.change(path, [{ text: text("teams.rules") }]);
    const none = await client.request<TextEdit[]>("textDocument/formatting", {
      textDocument: { uri: uri(path) },
      options: { tabSize: 2, insertSpaces: true },
    });
    expect(none).toEqual(
      format({ path, text: text("teams.rules") }).text === text("teams.rules")
        ? []
        : expect.any(Array),
    );
  });

  it("outlines rules, lists and the context", async () => {
    await client.open(file("governance.rules"));
    const symbols = await client.request<DocumentSymbol[]>("textDocument/documentSymbol", {
      textDocument: { uri: uri(file("governance.rules")) },
    });
    const names = symbols.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(["trusted_vendors", "known_bad", "context"]));
    expect(symbols.find((s) => s.name === "context")!.children!.map((c) => c.name)).toEqual([
      "group",
      "tags",
    ]);
    await client.open(file("threats.rules"));
    const rulesOutline = await client.request<DocumentSymbol[]>("textDocument/documentSymbol", {
      textDocument: { uri: uri(file("threats.rules")) },
    });
    expect(rulesOutline.map((s) => s.name)).toContain("malware");
  });

  it("colours keywords, fields, lists, functions, strings and comments", async () => {
    const path = file("threats.rules");
    const source = text("threats.rules");
    await client.open(path, source);
    const result = await client.request<SemanticTokens>("textDocument/semanticTokens/full", {
      textDocument: { uri: uri(path) },
    });
    // decode the relative encoding into (text, type index)
    const lines = source.split("\n");
    const seen: [string, number][] = [];
    let line = 0;
    let char = 0;
    for (let i = 0; i < result.data.length; i += 5) {
      const [dl, dc, len, type] = result.data.slice(i, i + 4) as [number, number, number, number];
      line += dl;
      char = dl === 0 ? char + dc : dc;
      seen.push([lines[line]!.slice(char, char + len), type]);
    }
    const typeOf = (word: string) => seen.find(([w]) => w === word)?.[1];
    expect(typeOf("rule")).toBe(0); // keyword
    expect(typeOf("known_bad")).toBe(8); // class: the rule's name comes first
    expect(typeOf("sha256")).toBe(5); // property
    expect(typeOf("exists")).toBe(7); // function
    expect(seen.some(([w, t]) => w.startsWith("#") && t === 1)).toBe(true);
    expect(seen.some(([w, t]) => w.startsWith('"listed') && t === 2)).toBe(true);
  });
});
