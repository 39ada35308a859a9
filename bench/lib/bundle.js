// What the built console makes a browser load for its first page, read from Vite's manifest
// (packages/server/console/.vite/manifest.json, written by `pnpm build`): index.html's entry chunk,
// every chunk it imports statically, transitively, and their CSS. Chunks reached only through a
// dynamic import() (the rule editor, charts) are listed apart: a page loads them when it needs them.
// Shared by the `console` benchmark and packages/console/test/bundle-size.test.ts.

import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

/** Where `pnpm build` puts the console (packages/console/vite.config.ts). */
export const CONSOLE_DIR = resolve(
  fileURLToPath(import.meta.url),
  "../../../packages/server/console",
);

/** The budget of the issue: the console's JavaScript without the rule editor, gzipped. */
export const FIRST_LOAD_JS_BUDGET_BYTES = 150 * 1024;

/**
 * @typedef {{file: string, bytes: number, gzipBytes: number}} SizedFile
 * @typedef {{
 *   firstLoad: {js: SizedFile[], css: SizedFile[]},
 *   deferred: SizedFile[],
 *   jsGzipBytes: number,
 *   cssGzipBytes: number,
 *   deferredGzipBytes: number,
 *   indexGzipBytes: number,
 * }} ConsoleSizes
 */

/** The manifest's path under `dir`, or undefined when the console is not built with one. */
export function manifestPath(dir = CONSOLE_DIR) {
  const path = resolve(dir, ".vite/manifest.json");
  return existsSync(path) ? path : undefined;
}

/**
 * Files of the first page and deferred chunks, each with its size and its size gzipped (level 9,
 * as a server compressing static files ahead of time would). Throws when `dir` holds no manifest,
 * or a manifest whose entry is not index.html.
 * @param {string} [dir]
 * @returns {ConsoleSizes}
 */
export function consoleSizes(dir = CONSOLE_DIR) {
  const path = manifestPath(dir);
  if (!path) throw new Error(`no Vite manifest under ${dir}: run \`pnpm build\``);
  /** @type {Record<string, {file: string, isEntry?: boolean, imports?: string[], dynamicImports?: string[], css?: string[]}>} */
  const manifest = JSON.parse(readFileSync(path, "utf8"));
  const entries = Object.entries(manifest).filter(([, chunk]) => chunk.isEntry);
  if (entries.length !== 1 || entries[0][0] !== "index.html")
    throw new Error(
      `${path}: expected one entry, index.html (found ${entries.map(([k]) => k).join(", ") || "none"})`,
    );
  const sized = (file) => {
    const bytes = readFileSync(resolve(dir, file));
    return { file, bytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
  };
  /** chunk keys reached from the entry through static imports */
  const statics = new Set();
  const visit = (key) => {
    if (statics.has(key)) return;
    const chunk = manifest[key];
    if (!chunk) throw new Error(`${path}: \`${key}\` is imported but not in the manifest`);
    statics.add(key);
    for (const next of chunk.imports ?? []) visit(next);
  };
  visit("index.html");
  const js = [];
  const css = new Set();
  for (const key of statics) {
    const chunk = manifest[key];
    if (chunk.file.endsWith(".js")) js.push(sized(chunk.file));
    for (const c of chunk.css ?? []) css.add(c);
  }
  const deferredFiles = new Set(
    Object.entries(manifest)
      .filter(([key, chunk]) => !statics.has(key) && chunk.file.endsWith(".js"))
      .map(([, chunk]) => chunk.file),
  );
  const deferred = [...deferredFiles].map(sized);
  const cssSized = [...css].map(sized);
  const sum = (xs) => xs.reduce((n, x) => n + x.gzipBytes, 0);
  return {
    firstLoad: { js, css: cssSized },
    deferred,
    jsGzipBytes: sum(js),
    cssGzipBytes: sum(cssSized),
    deferredGzipBytes: sum(deferred),
    indexGzipBytes: sized("index.html").gzipBytes,
  };
}

/** 153600 -> "150.0 KB" (KB of 1,024 bytes, as the budget counts them). */
export function fmtKB(bytes) {
  return `${(bytes / 1024).toFixed(1)} KB`;
}
