/**
 * Every relative link and image in README.md and docs/*.md points at a file that exists, and
 * every `#anchor` into a Markdown file names one of its headings: a moved page or a renamed
 * heading breaks a test, not a reader's click. Screenshots in docs/images/ come from the browser
 * tests (scripts/docs-screenshots.mjs copies them there).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const PAGES = [
  join(ROOT, "README.md"),
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => join(ROOT, "docs", f)),
];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, "")
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchorsOf(path: string): Set<string> {
  const text = readFileSync(path, "utf8").replace(/```[\s\S]*?```/g, "");
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const m of text.matchAll(/^#{1,6}\s+(.+)$/gm)) {
    const base = anchorOf(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Links outside code: `[text](target)` and `![alt](target)`, with their line. */
function linksOf(path: string): { target: string; line: number }[] {
  const text = readFileSync(path, "utf8");
  const links: { target: string; line: number }[] = [];
  let inFence = false;
  text.split("\n").forEach((line, i) => {
    if (line.startsWith("```")) inFence = !inFence;
    if (inFence) return;
    const prose = line.replace(/`[^`]*`/g, "");
    for (const m of prose.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g))
      links.push({ target: m[1]!, line: i + 1 });
  });
  return links;
}

describe("links in the docs", () => {
  it("finds the pages and their links (the scanner works)", () => {
    expect(PAGES.length).toBeGreaterThan(10);
    expect(linksOf(join(ROOT, "docs", "reviews.md")).length).toBeGreaterThan(3);
    expect(anchorsOf(join(ROOT, "docs", "http-api.md")).size).toBeGreaterThan(10);
  });

  it.each(PAGES.map((p) => [relative(ROOT, p), p]))("%s links only to what exists", (_n, page) => {
    const broken: string[] = [];
    for (const { target, line } of linksOf(page)) {
      if (/^[a-z]+:/i.test(target)) continue; // http:, https:, mailto:
      const [file, anchor] = target.split("#") as [string, string | undefined];
      const path = file === "" ? page : resolve(dirname(page), decodeURIComponent(file));
      const where = `${relative(ROOT, page)}:${line} → ${target}`;
      if (!existsSync(path)) {
        broken.push(`${where} (no such file)`);
        continue;
      }
      if (anchor !== undefined && path.endsWith(".md") && !anchorsOf(path).has(anchor))
        broken.push(`${where} (no such heading)`);
    }
    expect(broken).toEqual([]);
  });
});
