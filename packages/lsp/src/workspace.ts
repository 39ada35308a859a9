import { existsSync, readFileSync } from "node:fs";
import {
  type Ast,
  checkProgram,
  type Diagnostic,
  type Expr,
  finalizeDiagnostics,
  hasErrors,
  type Item,
  type ParseResult,
  type Program,
  parseFile,
  type RuleFile,
  resolveLimits,
  type SourceFile,
  type Type,
  typeFromJsonSchema,
} from "@clearance/dsl";
import { findRuleFiles, RESULT_SCHEMA, RulesetLoader } from "@clearance/engine";
import { INPUT_PROFILES } from "@clearance/result";

/** The type the checker checks rules against: the canonical result, as `clearance check` does. */
export const INPUT_TYPE: Type = typeFromJsonSchema(RESULT_SCHEMA as never);

/**
 * Codes whose truth depends on the whole directory (every rule's uses, names across files, the
 * whole set): a check of one file against the others' declarations cannot tell them, so they come
 * from the last whole-directory check until the next one.
 */
const DIRECTORY_CODES: ReadonlySet<string> = new Set([
  "unused_list",
  "no_rules",
  "duplicate_rule",
  "duplicate_declaration",
  "duplicate_list",
  "duplicate_context_field",
  "name_conflict",
  "too_many_rules",
  "too_many_diagnostics",
]);

/**
 * Codes only the whole check's later passes give (reading files, list files, `exceptions.json`,
 * code generation): a keystroke's check does not run them, so their last findings are kept
 * rather than dropped and shown again a moment later.
 */
const LOAD_CODES: ReadonlySet<string> = new Set([
  "invalid_utf8",
  "file_too_large",
  "file_unreadable",
  "list_path_absolute",
  "path_outside_root",
  "symlink_outside_root",
  "not_a_regular_file",
  "ruleset_too_large",
  "list_file_bad_line",
  "list_file_too_large",
  "compile_failed",
  "invalid_exceptions_file",
  "invalid_exception",
  "exceptions_file_too_large",
  "exception_expired",
  "exception_expiring_soon",
]);

/** Codes of the parser's recovery: a rule holding one gets no type errors (as in compile()). */
const SYNTAX_CODES: ReadonlySet<string> = new Set([
  "syntax_error",
  "unknown_keyword",
  "unexpected_character",
  "unterminated_string",
]);

/** One rule file as the server knows it: the editor's text when open, else the disk's. */
export interface FileState {
  readonly path: string;
  text: string;
  /** the editor's version while open */
  version: number | undefined;
  parsed: ParseResult;
  /** the file's declarations alone (no rules): what other files are checked against */
  declarations: RuleFile;
  /** the declarations' text: when it changes, the other files' rules must be checked again */
  declarationKey: string;
}

export interface WorkspaceOptions {
  /** the instant expiry warnings are computed against (tests); defaults to the time of each check */
  now?: number;
}

/**
 * A rule directory: its rule files (open ones as the editor has them), parsed once per change, and
 * the results of checking them. A keystroke re-parses the file typed in and re-checks that file's
 * rules against the declarations of all the others (`checkFile`); the whole directory goes through
 * the engine's own compile (`checkDirectory`, what `clearance check` runs) when typing pauses, for
 * what only the whole set tells (unused lists, duplicate names across files, list files, the
 * exceptions file, code generation).
 */
export class Workspace {
  readonly files = new Map<string, FileState>();
  /** diagnostics of the last whole-directory check, by file */
  private directoryDiagnostics = new Map<string, Diagnostic[]>();
  /** the last program of a whole-directory check of the ASTs: for names, hovers, references */
  private programCache: Program | undefined;
  private readonly limits = resolveLimits();

  constructor(
    readonly root: string,
    private readonly options: Readonly<WorkspaceOptions> = {},
  ) {
    for (const path of findRuleFiles(root)) {
      try {
        this.set(path, readFileSync(path, "utf8"), undefined);
      } catch {
        // unreadable: the whole-directory check reports it as `clearance check` does
      }
    }
  }

  /** Updates (or adds) a file's text and parses it again. */
  set(path: string, text: string, version: number | undefined): FileState {
    const existing = this.files.get(path);
    if (existing && existing.text === text) {
      existing.version = version;
      return existing;
    }
    const parsed = parseFile({ path, text }, this.limits);
    const items = parsed.ast.items.filter((i) => i.kind !== "rule");
    const state: FileState = {
      path,
      text,
      version,
      parsed,
      declarations: { ...parsed.ast, items },
      declarationKey: items.map((i) => text.slice(i.span.start, i.span.end)).join("\0"),
    };
    this.declarationsChanged ||=
      existing === undefined || existing.declarationKey !== state.declarationKey;
    this.files.set(path, state);
    this.programCache = undefined;
    this.generation++;
    return state;
  }

  /** Forgets the editor's text of a closed file: the disk's counts again (or none, if deleted). */
  reload(path: string): void {
    if (!existsSync(path)) {
      this.files.delete(path);
      this.directoryDiagnostics.delete(path);
      this.programCache = undefined;
      this.generation++;
      return;
    }
    try {
      this.set(path, readFileSync(path, "utf8"), undefined);
    } catch {
      this.files.delete(path);
    }
  }

  private sortedFiles(): FileState[] {
    return [...this.files.values()].sort((a, b) =>
      a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
    );
  }

  /**
   * The diagnostics of one file after an edit: its parse, its rules checked against every file's
   * declarations, and the directory-wide findings of the last whole check for this file. The
   * rules of other files are not checked again: one file's edit cannot change their types.
   */
  checkFile(path: string): Diagnostic[] {
    const state = this.files.get(path);
    if (!state) return [];
    const asts = this.sortedFiles().map((f) => (f.path === path ? f.parsed.ast : f.declarations));
    const checked = checkProgram(asts, INPUT_TYPE, this.checkOptions());
    const own = state.parsed.diagnostics.slice();
    const repaired = repairedItems(state.parsed.ast, own);
    const parseFailed = hasErrors(own);
    for (const d of checked.diagnostics) {
      if (d.span.file !== path || DIRECTORY_CODES.has(d.code)) continue;
      if (repaired.some((r) => r.start <= d.span.start && d.span.end <= r.end)) continue;
      if (d.code === "no_rules" && parseFailed) continue;
      own.push(d);
    }
    for (const d of this.directoryDiagnostics.get(path) ?? [])
      if (
        (DIRECTORY_CODES.has(d.code) ||
          LOAD_CODES.has(d.code) ||
          // a finding about rules of two files (one rule shadowing another, say): the file's own
          // check cannot see the other file's rules, so the whole check's finding stands (one
          // pointing at a declaration elsewhere, such as `inputs`, the file's check gives itself)
          d.related?.some((r) => r.span.file !== path && this.inRule(r.span))) &&
        d.span.end <= state.text.length
      )
        own.push(d);
    return finalizeDiagnostics(own, this.limits.maxDiagnostics);
  }

  /**
   * Set when an edit changed some file's declarations (a list, the context, the strategy): the
   * rules of every other file may read them, so the server checks the open files again. The
   * server clears it.
   */
  declarationsChanged = false;

  /** Whether `span` lies in a rule (not a declaration) of the file it names. */
  private inRule(span: Ast.Node["span"]): boolean {
    const items = this.files.get(span.file)?.parsed.ast.items ?? [];
    return items.some(
      (i) => i.kind === "rule" && i.span.start <= span.start && span.end <= i.span.end,
    );
  }

  /** Bumped by every change of a file's text: a whole check of an older generation is stale. */
  generation = 0;

  /** What a whole-directory check needs: every file's current text (see `checkSources`). */
  directoryRequest(): DirectoryRequest {
    return {
      root: this.root,
      sources: this.sortedFiles().map((f) => ({ path: f.path, text: f.text })),
      ...(this.options.now !== undefined ? { now: this.options.now } : {}),
    };
  }

  /** Keeps a whole-directory check's diagnostics (see `checkFile`) and returns them by file. */
  applyDirectoryCheck(diagnostics: readonly Diagnostic[]): Map<string, Diagnostic[]> {
    const byFile = new Map<string, Diagnostic[]>();
    for (const path of this.files.keys()) byFile.set(path, []);
    for (const d of diagnostics) {
      const list = byFile.get(d.span.file) ?? [];
      list.push(d);
      byFile.set(d.span.file, list);
    }
    this.directoryDiagnostics = byFile;
    return byFile;
  }

  /** The whole-directory check, here and now (the server runs it on a worker thread instead). */
  checkDirectory(): Map<string, Diagnostic[]> {
    return this.applyDirectoryCheck(checkSources(this.directoryRequest()));
  }

  /** The whole directory checked (types and resolutions of every path), cached until an edit. */
  program(): Program {
    if (!this.programCache)
      this.programCache = checkProgram(
        this.sortedFiles().map((f) => f.parsed.ast),
        INPUT_TYPE,
        this.checkOptions(),
      ).program;
    return this.programCache;
  }

  /**
   * One file's rules checked against the others' declarations: types and resolutions for the
   * file being typed in, without checking every rule of the directory.
   */
  fileProgram(path: string): Program {
    return checkProgram(
      this.sortedFiles().map((f) => (f.path === path ? f.parsed.ast : f.declarations)),
      INPUT_TYPE,
      this.checkOptions(),
    ).program;
  }

  private checkOptions() {
    return {
      limits: this.limits,
      inputProfiles: INPUT_PROFILES,
      ...(this.options.now !== undefined ? { now: this.options.now } : {}),
    };
  }
}

/** A whole-directory check's input: plain data, so that it can go to a worker thread. */
export interface DirectoryRequest {
  root: string;
  /** every rule file's text as the server holds it, by path */
  sources: SourceFile[];
  now?: number;
}

/** One loader per directory, kept across checks: it caches list files (a big hash list). */
const loaders = new Map<string, RulesetLoader>();

/**
 * Every file's diagnostics as `clearance check` reports them: the engine's loader on the
 * directory (rule files found, list files and `exceptions.json` read as it reads them), with the
 * server's texts of the rule files in place of the disk's.
 */
export function checkSources(request: DirectoryRequest): Diagnostic[] {
  const key = `${request.root}\0${request.now ?? ""}`;
  let loader = loaders.get(key);
  if (!loader) {
    loader = new RulesetLoader(request.root, {
      git: false,
      ...(request.now !== undefined ? { now: request.now } : {}),
    });
    loaders.set(key, loader);
  }
  return loader.loadSync(new Map(request.sources.map((s) => [s.path, s.text]))).diagnostics;
}

/** Spans of the items of `ast` holding a syntax error (see the engine's compile()). */
function repairedItems(ast: RuleFile, diagnostics: readonly Diagnostic[]): Ast.Node["span"][] {
  const syntax = diagnostics.filter((d) => SYNTAX_CODES.has(d.code));
  if (syntax.length === 0) return [];
  const out: Ast.Node["span"][] = [];
  ast.items.forEach((item: Item, i) => {
    const next = ast.items[i + 1]?.span.start ?? Number.POSITIVE_INFINITY;
    if (syntax.some((d) => d.span.start >= item.span.start && d.span.start < next))
      out.push(item.span);
  });
  return out;
}

/** Calls `visit` on every expression under `e`, parents first. */
export function walkExpr(e: Expr | undefined, visit: (e: Expr) => void): void {
  if (!e) return;
  visit(e);
  switch (e.kind) {
    case "list":
      for (const i of e.items) walkExpr(i, visit);
      break;
    case "unary":
      walkExpr(e.operand, visit);
      break;
    case "binary":
      walkExpr(e.left, visit);
      walkExpr(e.right, visit);
      break;
    case "match":
      walkExpr(e.operand, visit);
      break;
    case "quantifier":
    case "count":
      walkExpr(e.collection, visit);
      walkExpr(e.body, visit);
      break;
    case "call":
      for (const a of e.args) walkExpr(a, visit);
      break;
    default:
      break;
  }
}

/** Every expression of a rule: its condition, its `unless` clauses and its reason's holes. */
export function ruleExprs(rule: Ast.RuleDecl): Expr[] {
  const out: Expr[] = [];
  if (rule.when) out.push(rule.when);
  out.push(...rule.unless);
  for (const part of rule.outcome?.reason.parts ?? []) if (typeof part !== "string") out.push(part);
  return out;
}
