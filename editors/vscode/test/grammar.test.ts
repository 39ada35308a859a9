/**
 * The TextMate grammar, run through vscode-textmate and vscode-oniguruma as VS Code runs it:
 * - annotated files (fixtures/*.rules, in vscode-tmgrammar-test's format) pin the scopes of every
 *   construct of docs/language.md;
 * - every `rules` block of docs/language.md is tokenized, and no character of it is left without
 *   a scope, every reserved word has its keyword scope, every string is a string and every regex
 *   after `matches` is a regex;
 * - the grammar's reserved words are the language's (docs/language.md, packages/dsl's tokens
 *   and @clearance/codemirror-lang's keywords.ts, which the console colours with), so a keyword
 *   added to the language fails here until the grammar colours it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { bracketFoldingRanges } from "../src/folding.js";
import { SCOPE, type Token, tokenize } from "./tokenize.js";

const EDITOR = join(import.meta.dirname, "..");
const REPO = join(EDITOR, "..", "..");
const FIXTURES = join(import.meta.dirname, "fixtures");

// ---------------------------------------------------------------------------------------------
// Annotated files

/** One expectation: the columns [start, end) of a source line carry these scopes, and not those. */
interface Assertion {
  line: number;
  source: string;
  start: number;
  end: number;
  scopes: string[];
  absent: string[];
}

/**
 * vscode-tmgrammar-test's format: after a source line, `#` lines with `^^^` under the columns
 * (or `# <---`, the dashes counted from column 0) followed by the scopes those columns carry,
 * outermost first, and `- scope` for scopes they must not carry. A scope here is a prefix of
 * the token's (`keyword.control` matches `keyword.control.action.allow.clearance-rules`).
 */
function parseFixture(text: string): { source: string; assertions: Assertion[] } {
  const lines = text.split("\n");
  const header = lines.shift() ?? "";
  expect(header).toMatch(new RegExp(`^# SYNTAX TEST "${SCOPE}"`));
  const sourceLines: string[] = [];
  const assertions: Assertion[] = [];
  for (const line of lines) {
    const caret = /^#(\s*)(\^+)\s+(.*)$/.exec(line);
    const arrow = /^#\s*<(-+)\s+(.*)$/.exec(line);
    if (!caret && !arrow) {
      sourceLines.push(line);
      continue;
    }
    const [start, end, rest] = caret
      ? [1 + caret[1]!.length, 1 + caret[1]!.length + caret[2]!.length, caret[3]!]
      : [0, arrow![1]!.length, arrow![2]!];
    const [present, absent = ""] = rest.split(/\s+-\s+/);
    assertions.push({
      line: sourceLines.length - 1,
      source: sourceLines.at(-1) ?? "",
      start,
      end,
      scopes: present!.split(/\s+/).filter(Boolean),
      absent: absent.split(/\s+/).filter(Boolean),
    });
  }
  return { source: sourceLines.join("\n"), assertions };
}

const hasScope = (scopes: string[], want: string) =>
  scopes.some((s) => s === want || s.startsWith(`${want}.`));

/** Whether `want` appears in `scopes` in this order (each a prefix of a scope). */
function inOrder(scopes: string[], want: string[]): boolean {
  let at = 0;
  for (const w of want) {
    while (at < scopes.length && !(scopes[at] === w || scopes[at]!.startsWith(`${w}.`))) at++;
    if (at === scopes.length) return false;
    at++;
  }
  return true;
}

const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith(".rules"));

describe("annotated rule files", () => {
  it("exist for declarations, rules and expressions", () => {
    expect(fixtures.sort()).toEqual(["declarations.rules", "expressions.rules", "rules.rules"]);
  });

  it.each(fixtures)("%s has the scopes its annotations say", async (file) => {
    const { source, assertions } = parseFixture(readFileSync(join(FIXTURES, file), "utf8"));
    expect(assertions.length).toBeGreaterThan(10);
    const tokens = await tokenize(source);
    const failures: string[] = [];
    for (const a of assertions) {
      for (let col = a.start; col < a.end; col++) {
        const token = tokens[a.line]!.find((t) => t.start <= col && col < t.end);
        const scopes = token?.scopes ?? [];
        const ok = inOrder(scopes, a.scopes) && !a.absent.some((s) => hasScope(scopes, s));
        if (!ok) {
          failures.push(
            `line ${a.line + 1} col ${col} (${JSON.stringify(a.source.slice(a.start, a.end))}): ` +
              `want ${a.scopes.join(" ")}${a.absent.length ? ` - ${a.absent.join(" ")}` : ""}, ` +
              `got ${scopes.join(" ")}`,
          );
          break;
        }
      }
    }
    expect(failures).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// docs/language.md

const LANGUAGE_MD = readFileSync(join(REPO, "docs", "language.md"), "utf8");

/** The reserved words as docs/language.md lists them under "Keywords". */
const DOC_KEYWORDS = (() => {
  const section = /These words are reserved[^`]*`([^`]+)`/.exec(LANGUAGE_MD);
  if (!section) throw new Error("docs/language.md lists no reserved words");
  return section[1]!.split(/\s+/).filter(Boolean);
})();

/** The scope each reserved word must carry where it is a word of the language, not a field. */
const KEYWORD_SCOPE: Record<string, string> = {
  ruleset: "keyword.other.declaration.ruleset",
  strategy: "keyword.other.declaration.strategy",
  "deny-overrides": "keyword.other.strategy.deny-overrides",
  "first-match": "keyword.other.strategy.first-match",
  default: "keyword.other.declaration.default",
  "on-error": "keyword.other.declaration.on-error",
  ignore: "keyword.control.action.ignore",
  list: "keyword.other.declaration.list",
  hashlist: "keyword.other.declaration.hashlist",
  from: "keyword.other.from",
  context: "keyword.other.declaration.context",
  inputs: "keyword.other.declaration.inputs",
  rule: "keyword.other.declaration.rule",
  priority: "keyword.other.modifier.priority",
  monitor: "keyword.other.modifier.monitor",
  expires: "keyword.other.modifier.expires",
  overrides: "keyword.other.modifier.overrides",
  "forbid-approval": "keyword.other.modifier.forbid-approval",
  when: "keyword.control.conditional.when",
  unless: "keyword.control.conditional.unless",
  allow: "keyword.control.action.allow",
  deny: "keyword.control.action.deny",
  review: "keyword.control.action.review",
  and: "keyword.operator.logical.and",
  or: "keyword.operator.logical.or",
  not: "keyword.operator.logical.not",
  in: "keyword.operator.word.in",
  contains: "keyword.operator.word.contains",
  startsWith: "keyword.operator.word.startsWith",
  endsWith: "keyword.operator.word.endsWith",
  matches: "keyword.operator.word.matches",
  any: "keyword.other.quantifier.any",
  all: "keyword.other.quantifier.all",
  count: "keyword.other.quantifier.count",
  where: "keyword.other.where",
  true: "constant.language.boolean.true",
  false: "constant.language.boolean.false",
  exception: "variable.language.exception",
  case: "variable.language.case",
};
/** `context` starts a declaration before `{`, and is the built-in object before `.`. */
const CONTEXT_BUILTIN = "variable.language.context";

describe("the reserved words", () => {
  it("are the same in docs/language.md, packages/dsl's tokens, the CodeMirror package's copy and this grammar's table", () => {
    const tokens = readFileSync(join(REPO, "packages", "dsl", "src", "tokens.ts"), "utf8");
    const dsl = [...tokens.matchAll(/\bkeyword\("([^"]+)"/g)].map((m) => m[1]);
    expect(DOC_KEYWORDS).toEqual(dsl);
    // the CodeMirror package's copy, which colours rule text in the browser (the console's editor)
    const copy = readFileSync(
      join(REPO, "packages", "codemirror-lang", "src", "keywords.ts"),
      "utf8",
    );
    const listed = /KEYWORDS[^=]*=\s*\[([^\]]*)\]/.exec(copy)?.[1] ?? "";
    expect([...listed.matchAll(/"([^"]+)"/g)].map((m) => m[1])).toEqual(dsl);
    expect(Object.keys(KEYWORD_SCOPE)).toEqual(dsl);
  });

  it("each get their scope wherever the grammar meets them", async () => {
    const source = DOC_KEYWORDS.map((w) => `${w}\n`).join("");
    const lines = await tokenize(source);
    const got = Object.fromEntries(
      DOC_KEYWORDS.map((w, i) => [
        w,
        lines[i]![0]!.scopes.at(-1)!.replace(/\.clearance-rules$/, ""),
      ]),
    );
    // Alone on a line, `context` (no `{`) and `ignore` (no `on-error`) take their general scope.
    expect(got).toEqual({
      ...KEYWORD_SCOPE,
      context: CONTEXT_BUILTIN,
      ignore: "keyword.other.ignore",
    });
  });
});

/** The `rules` code blocks of a Markdown page, with the line each starts on. */
function rulesBlocks(markdown: string): { line: number; text: string }[] {
  const blocks: { line: number; text: string }[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== "```rules") continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end] !== "```") end++;
    blocks.push({ line: start + 1, text: lines.slice(start, end).join("\n") });
    i = end;
  }
  return blocks;
}

/**
 * Where the strings, regexes and comments of a line are, found without the grammar: a string
 * runs from `"` to its unescaped closing `"`, a regex from `/` right after `matches` to its
 * closing `/` outside a class, a comment from `#` outside both to the end.
 */
function lexicalSpans(
  line: string,
): { kind: "string" | "regex" | "comment"; start: number; end: number }[] {
  const spans: { kind: "string" | "regex" | "comment"; start: number; end: number }[] = [];
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "#") {
      spans.push({ kind: "comment", start: i, end: line.length });
      break;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < line.length && line[j] !== '"') j += line[j] === "\\" ? 2 : 1;
      spans.push({ kind: "string", start: i, end: Math.min(j + 1, line.length) });
      i = j;
    } else if (c === "/" && /\bmatches\s*$/.test(line.slice(0, i))) {
      let j = i + 1;
      let inClass = false;
      while (j < line.length && (line[j] !== "/" || inClass)) {
        if (line[j] === "\\") j++;
        else if (line[j] === "[") inClass = true;
        else if (line[j] === "]") inClass = false;
        j++;
      }
      spans.push({ kind: "regex", start: i, end: j + 1 });
      i = j;
    }
  }
  return spans;
}

/** Every `*.rules` file under a directory. */
function ruleFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".rules"))
    .map((f) => join(dir, f))
    .sort();
}

const blocks = rulesBlocks(LANGUAGE_MD);
/** What the check below runs on: docs/language.md's blocks, and the repository's rule sets. */
const sources = [
  ...blocks.map((b) => ({ file: "docs/language.md", first: b.line, text: b.text })),
  ...[join(REPO, "rules"), join(REPO, "examples")].flatMap(ruleFiles).map((path) => ({
    file: relative(REPO, path),
    first: 1,
    text: readFileSync(path, "utf8"),
  })),
];

describe("every rules block of docs/language.md, and every rule file of rules/ and examples/", () => {
  it("is found", () => {
    expect(blocks.length).toBeGreaterThan(20);
    expect(sources.length).toBeGreaterThan(blocks.length + 5);
  });

  it.each(sources.map((s) => [s.file, s.first, s.text] as const))(
    "%s:%i is scoped throughout",
    async (file, first, text) => {
      const lines = await tokenize(text);
      const problems: string[] = [];
      text.split("\n").forEach((line, n) => {
        const tokens = lines[n]!;
        const where = (t: Token) => `${file}:${first + n}:${t.start + 1} \`${t.text}\``;
        const at = (col: number) => tokens.find((t) => t.start <= col && col < t.end)!;
        // Nothing but white space is left with only the file's own scope.
        for (const t of tokens) {
          if (t.text.trim() !== "" && t.scopes.length === 1)
            problems.push(`${where(t)} has no scope`);
        }
        const spans = lexicalSpans(line);
        const inSpan = (col: number) => spans.some((s) => s.start <= col && col < s.end);
        for (const s of spans) {
          const want = {
            string: "string.quoted.double",
            regex: "string.regexp",
            comment: "comment.line.number-sign",
          }[s.kind];
          for (let col = s.start; col < s.end; col++) {
            if (!hasScope(at(col).scopes, want)) {
              problems.push(
                `${where(at(col))} is in a ${s.kind} but scoped ${at(col).scopes.join(" ")}`,
              );
              break;
            }
          }
        }
        // Reserved words outside strings, regexes and comments, not after a `.` (a field name).
        for (const m of line.matchAll(/(?<![\w.-])[A-Za-z][\w]*(?:-[a-z]+)?(?![\w-])/g)) {
          const word = m[0];
          if (!(word in KEYWORD_SCOPE) || inSpan(m.index)) continue;
          const scopes = at(m.index).scopes;
          const inHole = hasScope(scopes, "meta.embedded.expression");
          if (inSpan(m.index) && !inHole) continue;
          let want = KEYWORD_SCOPE[word]!;
          const next = line[m.index + word.length];
          if (word === "context" && next === ".") want = CONTEXT_BUILTIN;
          // `list<string>` in a context declaration is a type
          if (word === "list" && next === "<") want = "support.type.primitive";
          if (!hasScope(scopes, want))
            problems.push(`${where(at(m.index))} is not ${want}: ${scopes.join(" ")}`);
        }
        // Numbers, durations and timestamps outside strings are constants.
        for (const m of line.matchAll(/(?<![\w.])\d[\w.:+-]*/g)) {
          if (inSpan(m.index)) continue;
          const scopes = at(m.index).scopes;
          if (!hasScope(scopes, "constant.numeric"))
            problems.push(`${where(at(m.index))} is not a number: ${scopes.join(" ")}`);
        }
      });
      expect(problems).toEqual([]);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// Folding (src/folding.ts, registered by the extension)

describe("folding on brackets", () => {
  it("folds rule bodies, context blocks and lists, not brackets in strings, regexes or comments", () => {
    const text = [
      "context {", // 0
      "  group: string,",
      "}",
      "list names = [", // 3
      '  "a{", # a { in a comment',
      "]",
      "rule r {", // 6
      "  when fileName matches /a{2}[{]/ and (",
      "    trustScore > 1",
      "  )",
      '  deny "{fileName}"',
      "}",
      'rule one { when true deny "x" }',
    ].join("\n");
    expect(bracketFoldingRanges(text)).toEqual([
      { start: 0, end: 1 },
      { start: 3, end: 4 },
      { start: 6, end: 10 },
      { start: 7, end: 8 },
    ]);
  });
});
