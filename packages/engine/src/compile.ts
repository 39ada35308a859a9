import { createHash } from "node:crypto";
import {
  checkProgram,
  type Diagnostic,
  decodeSource,
  diagnostic,
  failureMessage,
  finalizeDiagnostics,
  hasErrors,
  type LanguageLimits,
  type Program,
  parseFile,
  type RuleFile,
  resolveLimits,
  type SourceFile,
  typeFromJsonSchema,
} from "@clearance/dsl";
import { compileProgram, type ListValues, RuleCompileError } from "./codegen.js";
import { parseHashlist, parseStringList } from "./lists.js";
import { Ruleset } from "./ruleset.js";
import { Budget } from "./runtime.js";
import { RESULT_SCHEMA } from "./validate.js";

export interface CompileOptions {
  /**
   * Reads a list file named by `list x from "..."` or `hashlist x from "..."`, given the path as
   * written and the rule file declaring it. `loadRuleset` supplies one that reads from disk.
   */
  loadList?: (path: string, declaredIn: string) => string | Uint8Array;
  limits?: Partial<LanguageLimits>;
  /** the instant expiry warnings are computed against; defaults to now */
  now?: number;
  /** the git commit of the rules, recorded with the revision */
  commit?: { sha: string; dirty: boolean };
}

export interface CompileResult {
  /** undefined when any diagnostic is an error */
  ruleset?: Ruleset;
  diagnostics: Diagnostic[];
  /** every file read (rules and lists), for printing diagnostics with code frames */
  files: ReadonlyMap<string, SourceFile>;
}

const INPUT_TYPE = typeFromJsonSchema(RESULT_SCHEMA as never);

/**
 * Source files -> rule set, as a table of named passes (each adds diagnostics; the pipeline
 * stops before code generation when any pass found an error).
 */
export function compile(
  sources: readonly SourceFile[],
  options: CompileOptions = {},
): CompileResult {
  const limits = resolveLimits(options.limits);
  const state: PipelineState = {
    sources: [...sources].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    files: new Map(sources.map((s) => [s.path, s])),
    asts: [],
    diagnostics: [],
    omitted: 0,
    listValues: { lists: new Map(), hashlists: new Map() },
    listTexts: [],
  };
  for (const pass of PASSES) {
    try {
      pass.run(state, options, limits);
    } catch (error) {
      // The last line of defence: no pass recurses as deep as a chain is long and nesting is
      // limited, but a rule set the compiler cannot handle must be a diagnostic, never a throw.
      state.diagnostics.push(compileFailed(pass.name, error, state));
      break;
    }
    if (pass.stopOnError && hasErrors(state.diagnostics)) break;
  }
  const diagnostics = finalizeDiagnostics(state.diagnostics, limits.maxDiagnostics, state.omitted);
  const result: CompileResult = { diagnostics, files: state.files };
  if (state.ruleset && !hasErrors(diagnostics)) result.ruleset = state.ruleset;
  return result;
}

interface PipelineState {
  sources: SourceFile[];
  files: Map<string, SourceFile>;
  asts: RuleFile[];
  program?: Program;
  diagnostics: Diagnostic[];
  /** diagnostics found beyond the limit, counted but not kept */
  omitted: number;
  /** the file a pass is working on, to locate a failure */
  at?: string;
  listValues: { lists: Map<string, Set<unknown>>; hashlists: Map<string, Set<string>> };
  listTexts: { path: string; text: string }[];
  ruleset?: Ruleset;
}

interface Pass {
  name: string;
  /** later passes need this one's output to be free of errors */
  stopOnError: boolean;
  run(state: PipelineState, options: CompileOptions, limits: Readonly<LanguageLimits>): void;
}

const PASSES: readonly Pass[] = [
  {
    name: "parse",
    stopOnError: false,
    run(state, _options, limits) {
      for (const source of state.sources) {
        state.at = source.path;
        const { ast, diagnostics, omitted } = parseFile(source, limits);
        state.asts.push(ast);
        for (const d of diagnostics) state.diagnostics.push(d);
        state.omitted += omitted;
      }
      state.at = undefined;
    },
  },
  {
    name: "check",
    stopOnError: false,
    run(state, options, limits) {
      const checkOptions = options.now === undefined ? { limits } : { limits, now: options.now };
      const { program, diagnostics, omitted } = checkProgram(state.asts, INPUT_TYPE, checkOptions);
      state.program = program;
      state.omitted += omitted;
      // A rule the parser had to repair yields follow-on type errors that only add noise.
      const repaired = repairedRules(state.asts, state.diagnostics);
      const parseFailed = hasErrors(state.diagnostics);
      for (const d of diagnostics) {
        if (
          repaired.some(
            (r) => r.file === d.span.file && r.start <= d.span.start && d.span.end <= r.end,
          )
        )
          continue;
        // "no rules" says nothing new when a file could not be parsed at all
        if (d.code === "no_rules" && parseFailed) continue;
        state.diagnostics.push(d);
      }
    },
  },
  {
    name: "load lists",
    stopOnError: true,
    run(state, options, limits) {
      const program = state.program!;
      const read = (
        path: string,
        declaredIn: string,
        span: Diagnostic["span"],
      ): SourceFile | undefined => {
        if (!options.loadList) {
          state.diagnostics.push(
            diagnostic(
              "file_unreadable",
              `cannot read list file \`${path}\`: no list loader was given`,
              span,
              { help: "compile with a `loadList` option, or use loadRuleset(dir)" },
            ),
          );
          return undefined;
        }
        let content: string | Uint8Array;
        try {
          content = options.loadList(path, declaredIn);
        } catch (error) {
          state.diagnostics.push(
            diagnostic(
              "file_unreadable",
              `cannot read list file \`${path}\`: ${(error as Error).message}`,
              span,
              { help: "the path is relative to the rule file that declares the list" },
            ),
          );
          return undefined;
        }
        if (typeof content === "string") return { path, text: content };
        const decoded = decodeSource(path, content);
        if (!decoded.file) {
          state.diagnostics.push(
            diagnostic(
              "invalid_utf8",
              `list file \`${path}\` is not UTF-8 (byte ${decoded.badByteOffset})`,
              span,
              { help: "save the file as UTF-8" },
            ),
          );
          return undefined;
        }
        return decoded.file;
      };
      for (const [name, info] of program.lists) {
        if (info.values) {
          state.listValues.lists.set(name, new Set(info.values));
          continue;
        }
        const from = info.decl.from!;
        const file = read(from.path, info.decl.span.file, from.span);
        if (!file) continue;
        const parsed = parseStringList(file.path, file.text, limits.maxListLength, from.span);
        for (const d of parsed.diagnostics) state.diagnostics.push(d);
        state.listValues.lists.set(name, parsed.values);
        state.listTexts.push(file);
      }
      for (const [name, info] of program.hashlists) {
        const from = info.decl.from;
        const file = read(from.path, info.decl.span.file, from.span);
        if (!file) continue;
        const parsed = parseHashlist(file.path, file.text, limits.maxHashlistEntries);
        for (const d of parsed.diagnostics) state.diagnostics.push(d);
        state.listValues.hashlists.set(name, parsed.hashes);
        state.listTexts.push(file);
        state.files.set(file.path, file);
      }
    },
  },
  {
    name: "generate code",
    stopOnError: true,
    run(state, options, limits) {
      const values: ListValues = state.listValues;
      const compiled = compileProgram(
        state.program!,
        values,
        new Budget(limits.maxEvaluationSteps),
      );
      const revision = contentRevision(state.sources, state.listTexts);
      state.ruleset = new Ruleset(
        state.program!,
        compiled,
        values,
        state.files,
        options.commit ? { revision, commit: options.commit } : { revision },
      );
    },
  },
];

/**
 * The diagnostic for a pass that threw: located at the rule when the code generator names it,
 * else at the start of the file being read, else of the first file.
 */
function compileFailed(pass: string, error: unknown, state: PipelineState): Diagnostic {
  const help =
    "split long conditions and reasons into smaller rules; if the rules are small, this is a bug in Clearance: please report it";
  if (error instanceof RuleCompileError) {
    return diagnostic(
      "compile_failed",
      `rule \`${error.rule.name.name}\` cannot be compiled: ${failureMessage(error.failure)}`,
      error.rule.name.span,
      { help },
    );
  }
  const file = state.at ?? state.sources[0]?.path ?? "<rules>";
  return diagnostic(
    "compile_failed",
    `the rules cannot be compiled (in the \`${pass}\` pass): ${failureMessage(error)}`,
    { file, start: 0, end: 0 },
    { help },
  );
}

/** Spans of the items that contain a syntax error. */
function repairedRules(
  asts: readonly RuleFile[],
  diagnostics: readonly Diagnostic[],
): Diagnostic["span"][] {
  const syntax = diagnostics.filter(
    (d) =>
      d.code === "syntax_error" ||
      d.code === "unexpected_character" ||
      d.code === "unterminated_string",
  );
  if (syntax.length === 0) return [];
  const out: Diagnostic["span"][] = [];
  for (const ast of asts) {
    for (const item of ast.items) {
      const s = item.span;
      if (
        syntax.some(
          (d) => d.span.file === s.file && d.span.start >= s.start && d.span.start <= s.end,
        )
      )
        out.push(s);
    }
  }
  return out;
}

/** A content hash of every rule file and list: the same rules give the same revision anywhere. */
function contentRevision(
  sources: readonly SourceFile[],
  lists: readonly { path: string; text: string }[],
): string {
  const hash = createHash("sha256");
  for (const f of [...sources, ...lists].sort((a, b) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : 0,
  )) {
    hash.update(`${f.path.length}:${f.path}${f.text.length}:`);
    hash.update(f.text);
  }
  return `sha256:${hash.digest("hex").slice(0, 16)}`;
}
