import { execFile, execFileSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  type Diagnostic,
  diagnostic,
  type LanguageLimits,
  resolveLimits,
  type SourceFile,
} from "@clearance/dsl";
import {
  type CompileOptions,
  type CompileResult,
  compile,
  type ListFile,
  type ListRequest,
} from "./compile.js";
import {
  findRuleFilesIn,
  ListFileCache,
  openRoot,
  type RuleRoot,
  readExceptionsFile,
  readListFile,
  readRuleFiles,
} from "./rule-files.js";
import { type Program, runAsync, runSync } from "./steps.js";

export interface LoadOptions
  extends Omit<CompileOptions, "loadList" | "commit" | "root" | "exceptions"> {
  /** record the git commit of the directory (default true) */
  git?: boolean;
}

/**
 * Reads every `*.rules` file under `dir` (recursively, in path order), the lists they name
 * (relative to the declaring file, inside `dir`), `exceptions.json` at the top of `dir` when there
 * is one (as `ruleset.exceptions`), and the git commit when `dir` is in a work tree.
 * Synchronous: for the CLI. A server reloads with `RulesetLoader.load()`, which does the same
 * without holding the event loop.
 */
export function loadRuleset(dir: string, options: LoadOptions = {}): CompileResult {
  return new RulesetLoader(dir, options).loadSync();
}

/** The rule files of a directory, read: where to stop and report, or the sources. */
type RuleSetRead =
  | { failed: CompileResult }
  | {
      root: RuleRoot;
      sources: SourceFile[];
      /** `exceptions.json`, when the directory has one and it could be read */
      exceptions?: SourceFile;
      diagnostics: Diagnostic[];
      bytes: number;
    };

function* readRuleSet(dir: string, limits: Readonly<LanguageLimits>): Program<RuleSetRead> {
  let root: RuleRoot;
  let paths: string[];
  let single = false;
  const problems: Diagnostic[] = [];
  try {
    const opened = yield* openRoot(dir);
    root = opened.root;
    single = opened.single;
    if (opened.single) paths = [dir];
    else {
      const found = yield* findRuleFilesIn(root);
      paths = found.files;
      for (const { path, problem } of found.problems)
        problems.push(
          diagnostic(
            problem.code,
            problem.message,
            { file: path, start: 0, end: 0 },
            {
              help: problem.help,
            },
          ),
        );
    }
  } catch (error) {
    const d = diagnostic(
      "file_unreadable",
      `cannot read rule directory \`${dir}\`: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      { file: dir, start: 0, end: 0 },
      { help: "pass the directory that holds your `.rules` files" },
    );
    return { failed: { diagnostics: [d], files: new Map() } };
  }
  const read = yield* readRuleFiles(root, paths, limits);
  // a rule file named alone has no exceptions: they belong to a rule directory
  const exceptions = single ? { diagnostics: [] } : yield* readExceptionsFile(root, limits);
  return {
    root,
    sources: read.sources,
    ...(exceptions.file ? { exceptions: exceptions.file } : {}),
    diagnostics: [...problems, ...read.diagnostics, ...exceptions.diagnostics],
    bytes: read.bytes,
  };
}

/** The rule files read, with the texts given in place of the disk's (see `loadSync`). */
function withTexts(set: RuleSetRead, texts: ReadonlyMap<string, string> | undefined): RuleSetRead {
  if (!texts || "failed" in set) return set;
  return {
    ...set,
    sources: set.sources.map((s) => {
      const text = texts.get(s.path);
      return text === undefined ? s : { path: s.path, text };
    }),
  };
}

/** The compile result, without a rule set when reading the rule files found errors. */
function withReadDiagnostics(result: CompileResult, diagnostics: Diagnostic[]): CompileResult {
  if (diagnostics.length === 0) return result;
  const { ruleset: _dropped, ...rest } = result;
  return { ...rest, diagnostics: [...diagnostics, ...result.diagnostics] };
}

/** A list request remembered from one load to the next, to read the list ahead of compiling. */
interface RememberedRequest {
  written: string;
  declaredIn: string;
  request: ListRequest;
}

/** A list file read ahead of compiling, or why it could not be. */
interface Prepared {
  /** the bound it was read with: a compile asking for more reads it again */
  maxBytes: number;
  outcome: { list: ListFile } | { error: unknown };
}

/** Thrown into compile() for a list not read ahead; the load reads it and compiles again. */
class NotReadYet extends Error {}

/** A load gives the event loop a turn at least this often (ms) while it parses. */
const SLICE_MS = 10;

/**
 * Loads one rule directory again and again, as a server does. List files are cached across loads
 * (see ListFileCache): an unchanged list is not parsed again. `load()` reads with asynchronous
 * file-system calls and parses hash lists in slices with turns for the event loop in between, so
 * a reload of a big list does not stall requests; compiling the rule files themselves stays one
 * synchronous step.
 */
export class RulesetLoader {
  readonly lists = new ListFileCache();
  private readonly limits: Readonly<LanguageLimits>;
  /** the lists the last load asked for, read ahead by the next */
  private remembered: RememberedRequest[] = [];

  constructor(
    readonly dir: string,
    private readonly options: LoadOptions = {},
  ) {
    this.limits = resolveLimits(options.limits);
  }

  /**
   * `texts`: rule files' texts as an editor holds them, by path as the directory's files are found
   * (`findRuleFiles`): used instead of what is on disk, so that a language server checks unsaved
   * edits exactly as `clearance check` would check them saved.
   */
  loadSync(texts?: ReadonlyMap<string, string>): CompileResult {
    const set = withTexts(runSync(readRuleSet(this.dir, this.limits)), texts);
    if ("failed" in set) return set.failed;
    const commit = this.options.git === false ? undefined : gitCommit(this.dir);
    const asked: ListRequest[] = [];
    const result = compile(
      set.sources,
      this.compileOptions(
        set,
        (written, _declaredIn, request) => {
          asked.push(request);
          return runSync(
            readListFile(set.root, written, request, this.limits.maxHashlistEntries, this.lists),
          );
        },
        commit,
      ),
    );
    this.lists.keepOnly(asked);
    return withReadDiagnostics(result, set.diagnostics);
  }

  async load(): Promise<CompileResult> {
    const run = <T>(program: Program<T>) => runAsync(program, { sliceMs: SLICE_MS });
    const set = await run(readRuleSet(this.dir, this.limits));
    if ("failed" in set) return set.failed;
    const prepared = new Map<string, Prepared>();
    const keyOf = (request: ListRequest) => `${request.kind}\0${request.file}`;
    const prepare = async (wanted: readonly RememberedRequest[]) => {
      for (const { written, request } of wanted) {
        const key = keyOf(request);
        if ((prepared.get(key)?.maxBytes ?? -1) >= request.maxBytes) continue;
        let outcome: Prepared["outcome"];
        try {
          outcome = {
            list: await run(
              readListFile(set.root, written, request, this.limits.maxHashlistEntries, this.lists),
            ),
          };
        } catch (error) {
          outcome = { error };
        }
        prepared.set(key, { maxBytes: request.maxBytes, outcome });
      }
    };
    // The lists of the last load are read first; those compile() asks for that are not ready yet
    // are read next, and compile() runs again (the second run asks for the same lists).
    const commitLookup =
      this.options.git === false ? Promise.resolve(undefined) : gitCommitAsync(this.dir);
    await prepare(this.remembered);
    const commit = await commitLookup;
    let result: CompileResult;
    let asked: RememberedRequest[];
    for (let attempt = 1; ; attempt++) {
      asked = [];
      const missing: RememberedRequest[] = [];
      result = compile(
        set.sources,
        this.compileOptions(
          set,
          (written, declaredIn, request) => {
            const wanted = { written, declaredIn, request };
            asked.push(wanted);
            const ready = prepared.get(keyOf(request));
            if (!ready || ready.maxBytes < request.maxBytes) {
              missing.push(wanted);
              throw new NotReadYet(`list file \`${written}\` was not read yet`);
            }
            if ("error" in ready.outcome) throw ready.outcome.error;
            return ready.outcome.list;
          },
          commit,
        ),
      );
      if (missing.length === 0 || attempt === 3) break;
      await prepare(missing);
    }
    this.remembered = asked;
    this.lists.keepOnly(asked.map((a) => a.request));
    return withReadDiagnostics(result, set.diagnostics);
  }

  private compileOptions(
    set: { root: RuleRoot; exceptions?: SourceFile },
    loadList: CompileOptions["loadList"],
    commit: CompileOptions["commit"],
  ): CompileOptions {
    const { git: _git, ...compileOptions } = this.options;
    const options: CompileOptions = { ...compileOptions, root: set.root.given, loadList };
    if (commit) options.commit = commit;
    if (set.exceptions) options.exceptions = set.exceptions;
    return options;
  }
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

/**
 * `*.rules` files under `dir`, sorted, as `loadRuleset` finds them: symlinks are followed when
 * their target is inside `dir` (the ones leading outside are left out; `loadRuleset` reports them).
 */
export function findRuleFiles(dir: string): string[] {
  const { root, single } = runSync(openRoot(dir));
  return single ? [dir] : runSync(findRuleFilesIn(root)).files;
}

const GIT_HEAD = ["rev-parse", "HEAD"];
// `git -C dir` runs inside dir, so "." limits the status to the rules' own files.
const GIT_STATUS = ["status", "--porcelain", "--", "."];
const GIT_OPTIONS = { encoding: "utf8", timeout: 5_000 } as const;

function commitOf(sha: string, status: string): { sha: string; dirty: boolean } | undefined {
  const head = sha.trim();
  if (!/^[0-9a-f]{40,64}$/.test(head)) return undefined;
  return { sha: head, dirty: status.trim() !== "" };
}

/** The HEAD commit of the work tree holding `dir`, and whether `dir` has uncommitted changes. */
export function gitCommit(dir: string): { sha: string; dirty: boolean } | undefined {
  try {
    const run = (args: string[]) =>
      execFileSync("git", ["-C", dir, ...args], {
        ...GIT_OPTIONS,
        stdio: ["ignore", "pipe", "ignore"],
      });
    return commitOf(run(GIT_HEAD), run(GIT_STATUS));
  } catch {
    return undefined;
  }
}

const execFileAsync = promisify(execFile);

/** `gitCommit` without blocking: git may take a while to scan a big list file. */
export async function gitCommitAsync(
  dir: string,
): Promise<{ sha: string; dirty: boolean } | undefined> {
  try {
    const run = async (args: string[]) =>
      (await execFileAsync("git", ["-C", dir, ...args], GIT_OPTIONS)).stdout;
    return commitOf(await run(GIT_HEAD), await run(GIT_STATUS));
  } catch {
    return undefined;
  }
}
