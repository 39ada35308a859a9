#!/usr/bin/env node
/**
 * `pnpm gen:history [--count N] [--seed S] [--format canonical|virustotal] [--out file|-]`:
 * writes generated results as NDJSON (gzip-compressed when the file name ends in `.gz`).
 * The only module of the package that does something when loaded.
 */
import { runGenHistory } from "./gen-history-main.js";

process.exitCode = await runGenHistory(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  ...(process.stderr.isTTY === true
    ? {
        status: (line: string | null) =>
          process.stderr.write(line === null ? "\r\x1b[K" : `\r${line}\x1b[K`),
      }
    : {}),
});
