// Loading @clearance/engine for the benchmarks, tolerating its absence (the peers then run alone).

import { readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { BENCH_DIR } from "../lib/harness.js";

export const BENCH_RULES = resolve(BENCH_DIR, "engine/rules/bench.rules");

/**
 * Imports @clearance/engine (its built `dist`), or the module named by BENCH_CLEARANCE_MODULE
 * (a path or specifier: to compare another build, or to test the harness with a stand-in).
 * @returns {Promise<{engine?: any, note?: string, module: string}>} `engine` when it exports compile(); else a note.
 */
export async function loadClearance() {
  const specifier = process.env.BENCH_CLEARANCE_MODULE || "@clearance/engine";
  const url = /^[./]/.test(specifier) ? pathToFileURL(resolve(specifier)).href : specifier;
  let mod;
  try {
    mod = await import(url);
  } catch (e) {
    return {
      note: `${specifier} cannot be imported (${e.message.split("\n")[0]}); run \`pnpm build\``,
      module: specifier,
    };
  }
  if (typeof mod.compile !== "function") {
    return {
      note: `${specifier} does not export compile() yet (not written or not built: \`pnpm build\`)`,
      module: specifier,
    };
  }
  return { engine: mod, module: specifier };
}

/** A loadList for compile(): paths relative to `baseDir` unless absolute. */
export function listLoader(baseDir) {
  return (path) => readFileSync(isAbsolute(path) ? path : resolve(baseDir, path), "utf8");
}

/** Writes `hashes` one a line (the format of a `hashlist ... from` file). */
export function writeHashList(file, hashes) {
  writeFileSync(file, `${hashes.join("\n")}\n`);
}

/**
 * Copies bench.rules into `dir` and writes the known-bad list next to it.
 * @returns {{path: string, text: string}} the rule file to compile
 */
export function prepareBenchRules(dir, knownBad) {
  const text = readFileSync(BENCH_RULES, "utf8");
  const path = resolve(dir, "bench.rules");
  writeFileSync(path, text);
  writeHashList(resolve(dir, "known-bad.sha256"), knownBad);
  return { path, text };
}

/** compile(), timed; throws with the diagnostics when no ruleset comes out. */
export function compileOrThrow(engine, files, baseDir) {
  const t0 = performance.now();
  const out = engine.compile(files, { loadList: listLoader(baseDir) });
  const ms = performance.now() - t0;
  if (!out.ruleset) {
    const err = new Error(
      `Clearance did not compile the rules:\n${formatDiagnostics(out.diagnostics)}`,
    );
    err.diagnostics = out.diagnostics;
    throw err;
  }
  const warnings = out.diagnostics.filter((d) => d.severity !== "info");
  return { ruleset: out.ruleset, ms, warnings };
}

const pos = (p) =>
  typeof p === "number"
    ? p
    : p?.line !== undefined
      ? `${p.line}:${p.column ?? p.col ?? ""}`
      : JSON.stringify(p);

export function formatDiagnostics(diagnostics = []) {
  return diagnostics
    .map((d) => {
      const where = d.span ? `${d.span.file}:${pos(d.span.start)}-${pos(d.span.end)}` : "";
      const help = d.help ? `\n    help: ${d.help}` : "";
      return `  ${d.severity} ${d.code} ${where}: ${d.message}${help}`;
    })
    .join("\n");
}
