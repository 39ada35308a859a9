import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { posix, relative, resolve } from "node:path";
import {
  type CompileResult,
  compile,
  DEFAULT_LIMITS,
  EXCEPTIONS_FILE,
  ListFileTooLarge,
  loadRuleset,
} from "@clearance/engine";

/** A failure to obtain a rule set: the CLI prints it and exits 1. */
export class RulesError extends Error {
  override name = "RulesError";
}

export interface LoadedRules {
  result: CompileResult;
  /** what the report calls it: the directory, or `<dir> @ <ref>` */
  label: string;
}

/**
 * The baseline: a directory, or a git ref of the repository holding `rulesDir`, read with git
 * itself (`git ls-tree`, `git show`) so the work tree is never touched.
 */
export function loadBaseline(spec: string, rulesDir: string, now?: number): LoadedRules {
  const opts = now === undefined ? {} : { now };
  if (existsSync(spec) && statSync(spec).isDirectory())
    return { result: loadRuleset(spec, opts), label: spec };
  const dir = resolve(rulesDir);
  const git = (...args: string[]): string =>
    execFileSync("git", ["-C", dir, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 1 << 30,
    });
  let top: string;
  try {
    top = git("rev-parse", "--show-toplevel").trim();
  } catch {
    throw new RulesError(
      `baseline \`${spec}\` is neither a directory nor usable as a git ref: \`${rulesDir}\` is not in a git work tree`,
    );
  }
  let sha: string;
  try {
    sha = git("rev-parse", "--verify", "--quiet", `${spec}^{commit}`).trim();
  } catch {
    throw new RulesError(
      `baseline \`${spec}\` is not a directory, and no git commit of that name exists`,
    );
  }
  const prefix = relative(top, dir).split("\\").join("/");
  // Paths below are relative to the repository's root: run these from there.
  const atTop = (...args: string[]): string =>
    execFileSync("git", ["-C", top, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 1 << 30,
    });
  const tree = atTop("ls-tree", "-r", "--name-only", sha, "--", prefix === "" ? "." : prefix).split(
    "\n",
  );
  const listing = tree.filter((p) => p.endsWith(".rules"));
  const exceptionsPath = posix.join(prefix, EXCEPTIONS_FILE);
  if (listing.length === 0)
    throw new RulesError(`baseline \`${spec}\` has no .rules files under \`${prefix || "."}\``);
  const show = (path: string): string => atTop("show", `${sha}:${path}`);
  // Paths relative to the rules directory, as loadRuleset names them, so reports line up.
  const display = (path: string): string =>
    posix.join(rulesDir.split("\\").join("/"), posix.relative(prefix, path));
  const sources: { path: string; text: string }[] = listing.map((p) => ({
    path: display(p),
    text: show(p),
  }));
  const root = rulesDir.split("\\").join("/");
  // the baseline's own exceptions.json, as loadRuleset reads one from a directory (bounded)
  let exceptions: { path: string; text: string } | undefined;
  if (tree.includes(exceptionsPath)) {
    const path = display(exceptionsPath);
    try {
      exceptions = {
        path,
        text: execFileSync("git", ["-C", top, "show", `${sha}:${exceptionsPath}`], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
          maxBuffer: DEFAULT_LIMITS.maxExceptionsFileBytes,
        }),
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOBUFS")
        throw new RulesError(
          `baseline \`${spec}\`: \`${path}\` is larger than the limit of ${DEFAULT_LIMITS.maxExceptionsFileBytes} bytes`,
        );
      throw error;
    }
  }
  const result = compile(sources, {
    ...opts,
    ...(exceptions ? { exceptions } : {}),
    commit: { sha, dirty: false },
    // compile() has checked that the list is inside the rules directory (`root`)
    root,
    loadList: (_path, _declaredIn, request) => {
      const inRepo = posix.join(prefix, posix.relative(root, request.file.split("\\").join("/")));
      try {
        return execFileSync("git", ["-C", top, "show", `${sha}:${inRepo}`], {
          stdio: ["ignore", "pipe", "pipe"],
          maxBuffer: request.maxBytes,
        });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOBUFS")
          throw new ListFileTooLarge(request.file);
        throw error;
      }
    },
  });
  return { result, label: `${rulesDir} @ ${spec}` };
}
