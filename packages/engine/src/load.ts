import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import {
  type Diagnostic,
  decodeSource,
  diagnostic,
  resolveLimits,
  type SourceFile,
} from "@clearance/dsl";
import { type CompileOptions, type CompileResult, compile } from "./compile.js";

export interface LoadOptions extends Omit<CompileOptions, "loadList" | "commit"> {
  /** record the git commit of the directory (default true) */
  git?: boolean;
}

/**
 * Reads every `*.rules` file under `dir` (recursively, in path order), the lists they name
 * (relative to the declaring file), and the git commit when `dir` is in a work tree.
 */
export function loadRuleset(dir: string, options: LoadOptions = {}): CompileResult {
  const limits = resolveLimits(options.limits);
  const diagnostics: Diagnostic[] = [];
  const sources: SourceFile[] = [];
  let paths: string[];
  try {
    paths = findRuleFiles(dir);
  } catch (error) {
    const d = diagnostic(
      "file_unreadable",
      `cannot read rule directory \`${dir}\`: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      { file: dir, start: 0, end: 0 },
      { help: "pass the directory that holds your `.rules` files" },
    );
    return { diagnostics: [d], files: new Map() };
  }
  for (const path of paths) {
    const span = { file: path, start: 0, end: 0 };
    let bytes: Buffer;
    try {
      if (statSync(path).size > limits.maxFileBytes) {
        diagnostics.push(
          diagnostic(
            "file_too_large",
            `file is larger than the limit of ${limits.maxFileBytes} bytes`,
            span,
            { help: "split the rules over several files" },
          ),
        );
        continue;
      }
      bytes = readFileSync(path);
    } catch (error) {
      diagnostics.push(
        diagnostic("file_unreadable", `cannot read \`${path}\`: ${(error as Error).message}`, span),
      );
      continue;
    }
    const decoded = decodeSource(path, bytes);
    if (!decoded.file) {
      diagnostics.push(
        diagnostic(
          "invalid_utf8",
          `file is not UTF-8: byte ${decoded.badByteOffset} is invalid`,
          span,
          { help: "save the file as UTF-8" },
        ),
      );
      continue;
    }
    sources.push(decoded.file);
  }
  const compileOptions: CompileOptions = {
    ...options,
    loadList: (path, declaredIn) =>
      readFileSync(isAbsolute(path) ? path : join(dirname(declaredIn), path)),
  };
  if (options.git !== false) {
    const commit = gitCommit(dir);
    if (commit) compileOptions.commit = commit;
  }
  const result = compile(sources, compileOptions);
  if (diagnostics.length === 0) return result;
  const { ruleset: _dropped, ...rest } = result;
  return { ...rest, diagnostics: [...diagnostics, ...result.diagnostics] };
}

/**
 * Files under `dir` (recursively, sorted) whose name `matches`; `node_modules` and dot-entries
 * are skipped. A file given as `dir` is returned as is.
 */
export function findFiles(dir: string, matches: (name: string) => boolean): string[] {
  if (statSync(dir).isFile()) return [dir];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile() && matches(entry.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** `*.rules` files under `dir`, sorted. */
export function findRuleFiles(dir: string): string[] {
  return findFiles(dir, (name) => name.endsWith(".rules"));
}

/** The HEAD commit of the work tree holding `dir`, and whether `dir` has uncommitted changes. */
export function gitCommit(dir: string): { sha: string; dirty: boolean } | undefined {
  try {
    const run = (...args: string[]) =>
      execFileSync("git", ["-C", dir, ...args], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
        timeout: 5_000,
      }).trim();
    const sha = run("rev-parse", "HEAD");
    if (!/^[0-9a-f]{40,64}$/.test(sha)) return undefined;
    // `git -C dir` runs inside dir, so "." limits the status to the rules' own files.
    const dirty = run("status", "--porcelain", "--", ".") !== "";
    return { sha, dirty };
  } catch {
    return undefined;
  }
}
