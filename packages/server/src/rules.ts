import { type FSWatcher, watch } from "node:fs";
import { relative, sep } from "node:path";
import {
  type Diagnostic,
  type DiagnosticData,
  diagnosticData,
  failureMessage,
  formatDiagnostic,
  formatDiagnosticShort,
  type SourceFile,
} from "@clearance/dsl";
import { type CompileResult, type Ruleset, RulesetLoader } from "@clearance/engine";

export interface ReloadError {
  at: string;
  /** one line per error diagnostic, `file:line:col: message [code]` */
  messages: string[];
  /** the diagnostics printed with code frames, as `clearance check` shows them */
  printed: string;
  /** the same errors as data, each with its place and its code frame as plain text */
  diagnostics: DiagnosticData[];
}

export interface RulesStatus {
  dir: string;
  revision: string;
  commit: { sha: string; dirty: boolean } | null;
  loadedAt: string;
  reloads: number;
  lastError: ReloadError | null;
}

export type ReloadOutcome =
  | { ok: true; changed: boolean; revision: string }
  | { ok: false; error: ReloadError };

/** Thrown at start-up when the rules do not compile: the server has nothing to serve. */
export class RulesLoadError extends Error {
  override name = "RulesLoadError";
  constructor(
    readonly dir: string,
    readonly error: ReloadError,
  ) {
    super(`the rules in \`${dir}\` do not compile:\n${error.printed}`);
  }
}

function reloadError(result: CompileResult): ReloadError {
  const errors = result.diagnostics.filter((d: Diagnostic) => d.severity === "error");
  const lookup = (path: string) => result.files.get(path);
  return {
    at: new Date().toISOString(),
    messages: errors.map((d) => formatDiagnosticShort(d, lookup)),
    printed: errors.map((d) => formatDiagnostic(d, lookup, { color: false })).join("\n"),
    diagnostics: errors.map((d) => diagnosticData(d, lookup)),
  };
}

/** Loads the rules; a failure of the loader itself (a bug) is a reload error, never a crash. */
async function compileWith(
  loader: RulesetLoader,
): Promise<{ ruleset?: Ruleset; files?: ReadonlyMap<string, SourceFile>; error?: ReloadError }> {
  let result: CompileResult;
  try {
    result = await loader.load();
  } catch (error) {
    // The loader reports every problem with the rules as a diagnostic; this is for the rest (a
    // bug): a reload by file watch or SIGHUP runs outside any request, and a throw there would
    // take the server down, with rules it then cannot start on.
    const message = `the rules could not be loaded: ${failureMessage(error)}; this is a bug in Clearance, please report it`;
    return {
      error: {
        at: new Date().toISOString(),
        messages: [message],
        printed: message,
        diagnostics: [],
      },
    };
  }
  return result.ruleset
    ? { ruleset: result.ruleset, files: result.files }
    : { error: reloadError(result) };
}

export interface RulesHolderOptions {
  watch: boolean;
  debounceMs: number;
  /** told of every reload attempt, for logs and metrics */
  onReload?: (outcome: ReloadOutcome, trigger: string) => void;
  /** accept exceptions in `exceptions.json` that never expire (`reviews.exceptionExpiry.allowNoExpiry`) */
  allowNoExpiry?: boolean;
}

/**
 * The live rule set of one directory. A reload compiles the new rules aside and swaps the reference
 * in one assignment: a decision in progress keeps the rule set it started with, and rules that do
 * not compile never replace working ones. Reloads run one at a time: triggers that arrive during
 * one are coalesced into a single reload after it, which reads the files as they are then, so the
 * last change always wins and two compiles never race.
 */
export class RulesHolder {
  private current: Ruleset;
  /** the files `current` was compiled from (rules, lists, `exceptions.json`), by the loader's path */
  private currentFiles: ReadonlyMap<string, SourceFile>;
  private loadedAt: string;
  private reloads = 0;
  private lastError: ReloadError | null = null;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<ReloadOutcome> | undefined;
  private queued: Promise<ReloadOutcome> | undefined;

  private constructor(
    readonly dir: string,
    /** reads the directory; keeps the list files it parsed for the next reload */
    readonly loader: RulesetLoader,
    ruleset: Ruleset,
    files: ReadonlyMap<string, SourceFile>,
    private readonly options: RulesHolderOptions,
  ) {
    this.current = ruleset;
    this.currentFiles = files;
    this.loadedAt = new Date().toISOString();
  }

  /** Compiles `dir`; rejects with RulesLoadError when it has errors. */
  static async load(dir: string, options: RulesHolderOptions): Promise<RulesHolder> {
    const loader = new RulesetLoader(dir, {
      exceptionOptions: { allowNoExpiry: options.allowNoExpiry === true },
    });
    const { ruleset, files, error } = await compileWith(loader);
    if (!ruleset) throw new RulesLoadError(dir, error!);
    const holder = new RulesHolder(dir, loader, ruleset, files!, options);
    if (options.watch) holder.startWatching();
    return holder;
  }

  get ruleset(): Ruleset {
    return this.current;
  }

  /**
   * The text of every file the live rule set was compiled from, named relative to the rule
   * directory with `/` separators, in path order: the same revision as `ruleset`, whatever the
   * directory holds now.
   */
  get files(): { path: string; text: string }[] {
    return [...this.currentFiles.values()]
      .map((f) => ({ path: relative(this.dir, f.path).split(sep).join("/"), text: f.text }))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  status(): RulesStatus {
    return {
      dir: this.dir,
      revision: this.current.revision,
      commit: this.current.commit ?? null,
      loadedAt: this.loadedAt,
      reloads: this.reloads,
      lastError: this.lastError,
    };
  }

  /**
   * Compiles the directory again and swaps it in when it compiles. While a reload runs, the next
   * one waits for it, and every trigger in between shares that next one: its outcome reflects the
   * files as they were after the last trigger.
   */
  reload(trigger = "api"): Promise<ReloadOutcome> {
    if (this.queued) return this.queued;
    if (!this.running) return this.start(trigger);
    const queued = this.running.then(() => {
      this.queued = undefined;
      return this.start(trigger);
    });
    this.queued = queued;
    return queued;
  }

  private start(trigger: string): Promise<ReloadOutcome> {
    const running = this.reloadNow(trigger).finally(() => {
      if (this.running === running) this.running = undefined;
    });
    this.running = running;
    return running;
  }

  private async reloadNow(trigger: string): Promise<ReloadOutcome> {
    const { ruleset, files, error } = await compileWith(this.loader);
    let outcome: ReloadOutcome;
    if (ruleset) {
      const changed =
        ruleset.revision !== this.current.revision ||
        ruleset.commit?.sha !== this.current.commit?.sha;
      // the swap: one assignment, after everything else was built
      this.current = ruleset;
      this.currentFiles = files!;
      this.loadedAt = new Date().toISOString();
      this.lastError = null;
      this.reloads++;
      outcome = { ok: true, changed, revision: ruleset.revision };
    } else {
      this.lastError = error!;
      outcome = { ok: false, error: error! };
    }
    try {
      this.options.onReload?.(outcome, trigger);
    } catch {
      // a failing listener (logging, metrics) does not fail the reload
    }
    return outcome;
  }

  private startWatching(): void {
    try {
      // recursive watching works on Linux from Node 20; editors' rename-on-save shows up as events
      this.watcher = watch(this.dir, { recursive: true, persistent: false }, () => this.debounce());
      this.watcher.on("error", () => this.stopWatching());
    } catch {
      this.watcher = undefined;
    }
  }

  private debounce(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // Node's recursive watch on Linux follows inodes: a file replaced by rename (editors, sed -i)
      // would no longer be watched. Watching afresh after each change keeps every file covered.
      this.stopWatching();
      this.startWatching();
      void this.reload("watch");
    }, this.options.debounceMs);
    this.timer.unref();
  }

  get watching(): boolean {
    return this.watcher !== undefined;
  }

  stopWatching(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearTimeout(this.timer);
  }
}
