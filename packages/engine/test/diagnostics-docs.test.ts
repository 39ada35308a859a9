/**
 * docs/diagnostics.md documents every diagnostic code, and only real ones: each key of
 * DIAGNOSTIC_CODES has a "### `code`" section whose "**Severity:**" line matches the registry.
 */
import { readFileSync } from "node:fs";
import { DIAGNOSTIC_CODES } from "@clearance/dsl";
import { describe, expect, it } from "vitest";

const text = readFileSync(new URL("../../../docs/diagnostics.md", import.meta.url), "utf8");

/** code -> the text of its section (up to the next heading of level 1 to 3). */
function sections(markdown: string): Map<string, string> {
  const out = new Map<string, string>();
  const headings = [...markdown.matchAll(/^#{1,3} .*$/gm)];
  headings.forEach((h, i) => {
    const m = /^### `([a-z0-9_]+)`\s*$/.exec(h[0]);
    if (!m) return;
    const end = headings[i + 1]?.index ?? markdown.length;
    if (out.has(m[1]!)) throw new Error(`\`${m[1]}\` has two sections`);
    out.set(m[1]!, markdown.slice(h.index! + h[0].length, end));
  });
  return out;
}

const documented = sections(text);
const codes = Object.keys(DIAGNOSTIC_CODES) as (keyof typeof DIAGNOSTIC_CODES)[];

describe("docs/diagnostics.md", () => {
  it.each(codes)("documents `%s`", (code) => {
    expect(documented.has(code), `no "### \`${code}\`" section`).toBe(true);
  });

  it("documents only real codes", () => {
    const unknown = [...documented.keys()].filter((c) => !Object.hasOwn(DIAGNOSTIC_CODES, c));
    expect(unknown).toEqual([]);
  });

  it.each(codes)("gives the severity of `%s`", (code) => {
    const section = documented.get(code) ?? "";
    const severity = /\*\*Severity:\*\*\s*(error|warning|info)\b/.exec(section)?.[1];
    expect(severity).toBe(DIAGNOSTIC_CODES[code]);
  });

  it("lists the sections in the order of DIAGNOSTIC_CODES", () => {
    expect([...documented.keys()]).toEqual(codes);
  });
});
