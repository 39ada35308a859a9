/**
 * The examples of docs/*.md are tests: every ```rules block must compile without errors, and a
 * ```rules block followed immediately by a ```json decide block must decide that block's input
 * as it says. Blocks tagged otherwise (```text for failing examples) are skipped.
 */
import { readdirSync, readFileSync } from "node:fs";
import { formatDiagnostic } from "@clearance/dsl";
import { describe, expect, it } from "vitest";
import {
  type CaseInput,
  compile,
  type ExceptionInput,
  type Ruleset,
  toCanonical,
} from "../src/index.js";
import { type Fence, fences } from "../src/markdown.js";

const DOCS = new URL("../../../docs/", import.meta.url);
const NOW = Date.parse("2026-11-26T12:00:00Z");

/** The list files every example sees; docs/language.md shows the hash list's content. */
const HASH_LIST = `# known-bad.sha256: one SHA-256 a line
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D1542D8  dropper.exe
`;
const STRING_LIST = `# one string a line
Google LLC
Microsoft Corporation
setup.exe
`;

/** Paths that look like hash lists get the hash list, every other path the string list. */
function loadList(path: string): string {
  return /sha256|hash/i.test(path) ? HASH_LIST : STRING_LIST;
}

interface Example {
  file: string;
  line: number;
  source: string;
  decide?: { line: number; spec: DecideSpec };
}

interface DecideSpec {
  input: Record<string, unknown>;
  context?: unknown;
  exception?: ExceptionInput;
  case?: CaseInput;
  now?: string;
  expect: {
    decision: string;
    rule: string | null;
    reason: string;
    matched?: string[];
    monitored?: string[];
    approvalForbiddenBy?: string[];
    exception?: string | null;
    errors?: number;
  };
}

/** `json decide` blocks that do not immediately follow a `rules` block: they would be skipped. */
const orphans: string[] = [];

function examples(): Example[] {
  const out: Example[] = [];
  const files = readdirSync(DOCS)
    .filter((f) => f.endsWith(".md"))
    .sort();
  for (const file of files) {
    const text = readFileSync(new URL(file, DOCS), "utf8");
    const lines = text.split("\n");
    const blocks = fences(text);
    // "Immediately followed": only blank lines between the two blocks.
    const adjacent = (a: Fence, b: Fence) =>
      lines.slice(a.next, b.line - 1).every((l) => l.trim() === "");
    blocks.forEach((block, k) => {
      const previous = blocks[k - 1];
      if (
        block.info === "json decide" &&
        !(previous?.info === "rules" && adjacent(previous, block))
      )
        orphans.push(`${file}:${block.line}`);
      if (block.info !== "rules") return;
      const example: Example = { file, line: block.line, source: `${block.lines.join("\n")}\n` };
      const following = blocks[k + 1];
      if (following?.info === "json decide" && adjacent(block, following)) {
        const first = following.lines[0]!;
        example.decide = { line: following.line, spec: JSON.parse(first) as DecideSpec };
      }
      out.push(example);
    });
  }
  return out;
}

function compileExample(example: Example): Ruleset {
  const path = `docs/${example.file}:${example.line}.rules`;
  const result = compile([{ path, text: example.source }], { now: NOW, loadList });
  const errors = result.diagnostics.filter((d) => d.severity === "error");
  const printed = errors.map((d) => formatDiagnostic(d, (p) => result.files.get(p))).join("\n");
  expect(errors, `the example compiles without errors:\n${printed}`).toEqual([]);
  expect(result.ruleset).toBeDefined();
  return result.ruleset!;
}

const all = examples();
const name = (e: Example) => `${e.file}:${e.line}`;

describe("docs examples", () => {
  it("there are enough of them", () => {
    expect(all.length).toBeGreaterThanOrEqual(15);
    expect(all.filter((e) => e.decide).length).toBeGreaterThanOrEqual(8);
  });

  it("every decide block immediately follows a rules block", () => {
    expect(orphans).toEqual([]);
  });

  it.each(all.map((e) => [name(e), e] as const))("%s compiles", (_, example) => {
    compileExample(example);
  });

  const decided = all.filter((e) => e.decide);
  it.each(decided.map((e) => [name(e), e] as const))("%s decides as documented", (_, example) => {
    const ruleset = compileExample(example);
    const { spec } = example.decide!;
    const canonical = toCanonical(spec.input);
    if (!canonical.ok) throw new Error(`invalid input: ${JSON.stringify(canonical.problems)}`);
    const decision = ruleset.decide(canonical.result, {
      now: spec.now ?? NOW,
      ...(spec.context === undefined ? {} : { context: spec.context }),
      ...(spec.exception === undefined ? {} : { exception: spec.exception }),
      ...(spec.case === undefined ? {} : { case: spec.case }),
    });
    expect({ decision: decision.decision, rule: decision.rule, reason: decision.reason }).toEqual({
      decision: spec.expect.decision,
      rule: spec.expect.rule,
      reason: spec.expect.reason,
    });
    if (spec.expect.matched) expect(decision.matched).toEqual(spec.expect.matched);
    if (spec.expect.monitored) expect(decision.monitored).toEqual(spec.expect.monitored);
    if (spec.expect.approvalForbiddenBy)
      expect(decision.approvalForbiddenBy).toEqual(spec.expect.approvalForbiddenBy);
    if (spec.expect.exception !== undefined) expect(decision.exception).toBe(spec.expect.exception);
    expect(decision.errors.length).toBe(spec.expect.errors ?? 0);
  });
});
