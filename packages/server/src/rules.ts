import { type FSWatcher, watch } from "node:fs";
import {
  type Diagnostic,
  failureMessage,
  formatDiagnostic,
  formatDiagnosticShort,
} from "@clearance/dsl";
import { loadRuleset, type Ruleset } from "@clearance/engine";

export interface ReloadError {
  at: string;
  /** one line per error diagnostic, `file:line:col: message [code]` */
  messages: string[];
  /** the diagnostics printed with code frames, as `clearance check` shows them */
  printed: string;
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

function compileDir(dir: string): { ruleset?: Ruleset; error?: ReloadError } {
  let result: ReturnType<typeof loadRuleset>;
  try {
    result = loadRuleset(dir);
  } catch (error) {
    // loadRuleset reports every problem with the rules as a diagnostic; this is for the rest (a
    // bug): a reload by file watch or SIGHUP runs outside any request, and a throw there would
    // take the server down, with rules it then cannot start on.
    const message = `the rules in \`${dir}\` could not be loaded: ${failureMessage(error)}`;
    return { error: { at: new Date().toISOString(), messages: [message], printed: message } };
  }
  if (result.ruleset) return { ruleset: result.ruleset };
  const errors = result.diagnostics.filter((d: Diagnostic) => d.severity === "error");
  const lookup = (path: string) => result.files.get(path);
  return {
    error: {
      at: new Date().toISOString(),
      messages: errors.map((d) => formatDiagnosticShort(d, lookup)),
      printed: errors.map((d) => formatDiagnostic(d, lookup, { color: false })).join("\n"),
    },
  };
}

export interface RulesHolderOptions {
  watch: boolean;
  debounceMs: number;
  /** told of every reload attempt, for logs and metrics */
  onReload?: (outcome: ReloadOutcome, trigger: string) => void;
}

/**
 * The live rule set of one directory. A reload compiles the new rules aside and swaps the reference
 * in one assignment: a decision in progress keeps the rule set it started with, and rules that do
 * not compile never replace working ones.
 */
export class RulesHolder {
  private current: Ruleset;
  private loadedAt: string;
  private reloads = 0;
  private lastError: ReloadError | null = null;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    readonly dir: string,
    ruleset: Ruleset,
    private readonly options: RulesHolderOptions,
  ) {
    this.current = ruleset;
    this.loadedAt = new Date().toISOString();
  }

  /** Compiles `dir`; throws RulesLoadError when it has errors. */
  static load(dir: string, options: RulesHolderOptions): RulesHolder {
    const { ruleset, error } = compileDir(dir);
    if (!ruleset) throw new RulesLoadError(dir, error!);
    const holder = new RulesHolder(dir, ruleset, options);
    if (options.watch) holder.startWatching();
    return holder;
  }

  get ruleset(): Ruleset {
    return this.current;
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

  /** Compiles the directory again and swaps it in when it compiles. */
  reload(trigger = "api"): ReloadOutcome {
    const { ruleset, error } = compileDir(this.dir);
    let outcome: ReloadOutcome;
    if (ruleset) {
      const changed =
        ruleset.revision !== this.current.revision ||
        ruleset.commit?.sha !== this.current.commit?.sha;
      this.current = ruleset;
      this.loadedAt = new Date().toISOString();
      this.lastError = null;
      this.reloads++;
      outcome = { ok: true, changed, revision: ruleset.revision };
    } else {
      this.lastError = error!;
      outcome = { ok: false, error: error! };
    }
    this.options.onReload?.(outcome, trigger);
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
      this.reload("watch");
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
