/**
 * bench/lib/bundle.js reads what the console's first page loads from Vite's manifest: a made-up
 * build here, with a shared chunk imported statically, a dynamically imported editor chunk that
 * imports the shared one, and CSS.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { consoleSizes } from "../lib/bundle.js";

const dir = mkdtempSync(join(tmpdir(), "clearance-bundle-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function build(manifest: object, files: Record<string, string>) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, ".vite"), { recursive: true });
  mkdirSync(join(dir, "assets"), { recursive: true });
  writeFileSync(join(dir, ".vite/manifest.json"), JSON.stringify(manifest));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

describe("consoleSizes", () => {
  it("counts the entry and its static imports, transitively, and leaves dynamic chunks apart", () => {
    build(
      {
        "index.html": {
          file: "assets/index.js",
          isEntry: true,
          imports: ["_shared.js"],
          dynamicImports: ["src/editor.ts"],
          css: ["assets/index.css"],
        },
        "_shared.js": { file: "assets/shared.js", imports: ["_deep.js"] },
        "_deep.js": { file: "assets/deep.js" },
        "src/editor.ts": {
          file: "assets/editor.js",
          isDynamicEntry: true,
          imports: ["_shared.js"],
        },
      },
      {
        "index.html": "<!doctype html>",
        "assets/index.js": "a".repeat(1000),
        "assets/shared.js": "shared();".repeat(50),
        "assets/deep.js": "deep",
        "assets/editor.js": Array.from({ length: 500 }, (_, i) => `e${i * 7919}`).join(";"),
        "assets/index.css": "body{}",
      },
    );
    const sizes = consoleSizes(dir);
    expect(sizes.firstLoad.js.map((f) => f.file).sort()).toEqual([
      "assets/deep.js",
      "assets/index.js",
      "assets/shared.js",
    ]);
    expect(sizes.firstLoad.css.map((f) => f.file)).toEqual(["assets/index.css"]);
    expect(sizes.deferred.map((f) => f.file)).toEqual(["assets/editor.js"]);
    const index = sizes.firstLoad.js.find((f) => f.file === "assets/index.js")!;
    expect(index.bytes).toBe(1000);
    // 1,000 equal letters compress to a few dozen bytes
    expect(index.gzipBytes).toBeLessThan(60);
    expect(sizes.jsGzipBytes).toBe(sizes.firstLoad.js.reduce((n, f) => n + f.gzipBytes, 0));
    expect(sizes.deferredGzipBytes).toBeGreaterThan(sizes.jsGzipBytes);
  });

  it.each([
    ["no manifest", null, /no Vite manifest/],
    [
      "no entry",
      { "_a.js": { file: "assets/a.js" } },
      /expected one entry, index.html \(found none\)/,
    ],
    [
      "a missing import",
      { "index.html": { file: "assets/index.js", isEntry: true, imports: ["_gone.js"] } },
      /`_gone.js` is imported but not in the manifest/,
    ],
  ])("says what is wrong with %s", (_, manifest, message) => {
    if (manifest === null) rmSync(join(dir, ".vite"), { recursive: true, force: true });
    else build(manifest, { "index.html": "", "assets/index.js": "", "assets/a.js": "" });
    expect(() => consoleSizes(dir)).toThrow(message);
  });
});
