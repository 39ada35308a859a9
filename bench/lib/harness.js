// Small helpers shared by the benchmarks: timing, statistics, Markdown tables, JSON output,
// generated input files.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** bench/ */
export const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** bench/out/ (git-ignored): every generated file goes there */
export const OUT_DIR = resolve(BENCH_DIR, "out");
/** The history generator (built by `pnpm build`) */
export const GEN_HISTORY = resolve(BENCH_DIR, "../packages/testdata/dist/gen-history.js");

export function outDir(...parts) {
  const dir = resolve(OUT_DIR, ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Milliseconds taken by `fn()` (synchronous). */
export function timeMs(fn) {
  const t0 = performance.now();
  const value = fn();
  return { ms: performance.now() - t0, value };
}

/** Milliseconds taken by `await fn()`. */
export async function timeMsAsync(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

/** Human figures: 1234567 -> "1.23 M", 45678 -> "45.7 k". */
export function fmtRate(x) {
  if (!Number.isFinite(x)) return "n/a";
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e4) return `${(x / 1e3).toFixed(1)} k`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(2)} k`;
  return x.toFixed(0);
}

export function fmtRatio(x) {
  if (!Number.isFinite(x)) return "n/a";
  if (x >= 100) return `${x.toFixed(0)}x`;
  if (x >= 10) return `${x.toFixed(1)}x`;
  return `${x.toFixed(2)}x`;
}

export function fmtMs(ms) {
  if (!Number.isFinite(ms)) return "n/a";
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms >= 100 ? 0 : 1)} ms`;
}

/** A Markdown table; `align` is a string of "l"/"r" per column. */
export function table(headers, rows, align = "") {
  const sep = headers.map((_, i) => (align[i] === "r" ? "---:" : "---"));
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [line(headers), line(sep), ...rows.map(line)].join("\n");
}

export function environment() {
  const cpu = cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform}-${process.arch}`,
    cpu: cpu[0]?.model ?? "unknown",
    cores: cpu.length,
    execArgv: process.execArgv,
    date: new Date().toISOString(),
  };
}

export function writeJson(path, data) {
  const file = resolve(process.cwd(), path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/** A target line: "PASS"/"FAIL"/"n/a" with the figures. */
export function verdict(pass) {
  return pass === undefined ? "n/a" : pass ? "PASS" : "FAIL";
}

/**
 * Writes `count` generated results (`gen-history --seed`) to `file` once: kept when it is there,
 * written through a `.part` file so that an interrupted run leaves nothing half-written. Exits the
 * process when the generator fails. Returns the milliseconds spent (0 when the file was there).
 */
export function generateHistory(count, seed, file) {
  if (existsSync(file)) return 0;
  const part = `${file}.part`;
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [GEN_HISTORY, "--count", String(count), "--seed", String(seed), "--out", part],
    { stdio: "inherit" },
  );
  if (r.status !== 0) {
    rmSync(part, { force: true });
    console.error(`gen-history failed (${r.error?.message ?? `exit ${r.status}`})`);
    process.exit(1);
  }
  renameSync(part, file);
  return performance.now() - t0;
}
