import { createHash } from "node:crypto";
import {
  type CheckOptions,
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
import { INPUT_PROFILES } from "@clearance/result";
import { compileProgram, type ListValues, RuleCompileError } from "./codegen.js";
import { ListFileError, ListFileTooLarge, listFilePath, revisionPath } from "./confine.js";
import type { ExceptionRecord, ExceptionSetOptions } from "./exceptions.js";
import { parseExceptionsFile } from "./exceptions-file.js";
import { type ParsedHashlist, parseHashlist, parseStringList } from "./lists.js";
import { Ruleset } from "./ruleset.js";
import { Budget } from "./runtime.js";
import { RESULT_SCHEMA } from "./validate.js";

/** What the compiler asks of a `loadList`, beside the path as written and the declaring file. */
export interface ListRequest {
  kind: "list" | "hashlist";
  /**
   * The list file: the path as written, joined to the declaring file's directory. The compiler has
   * checked it is relative and lexically inside the rule directory (`root`).
   */
  file: string;
  /** Read at most this many bytes: throw `ListFileTooLarge` for a longer file. */
  maxBytes: number;
}

/** A list file read (and perhaps parsed) by the loader, as `loadList` may return it. */
export interface ListFile {
  /** the text, named `request.file` */
  file: SourceFile;
  /** bytes read */
  bytes: number;
  /** SHA-256 of the bytes, in hex: what the revision records */
  digest: string;
  /** the hash list, when the loader parsed it (with this compile's `maxHashlistEntries`) */
  hashlist?: ParsedHashlist;
}

export interface CompileOptions {
  /**
   * Reads a list file named by `list x from "..."` or `hashlist x from "..."`, given the path as
   * written, the rule file declaring it and what is asked (`request.file`, `request.maxBytes`).
   * May throw `ListFileError` (a diagnostic of its own) or `ListFileTooLarge`; any other error is
   * reported as `file_unreadable`. `loadRuleset` supplies one that reads from disk.
   */
  loadList?: (
    path: string,
    declaredIn: string,
    request: ListRequest,
  ) => string | Uint8Array | ListFile;
  /**
   * The rule directory the sources' paths start with. The revision names files relative to it, so
   * it does not depend on how the directory was spelled or where it is; list paths must stay
   * inside it. Without it, the revision uses the paths as given and each rule file's directory
   * bounds the lists it declares.
   */
  root?: string;
  limits?: Partial<LanguageLimits>;
  /** the instant expiry warnings are computed against; defaults to now */
  now?: number;
  /** the git commit of the rules, recorded with the revision */
  commit?: { sha: string; dirty: boolean };
  /**
   * The rule directory's `exceptions.json` (`loadRuleset` reads it): a JSON array of
   * ExceptionRecord, validated, counted in the revision and kept as `ruleset.exceptions`.
   */
  exceptions?: SourceFile;
  /**
   * How its records are validated (ExceptionSet's options): by default each must expire;
   * `{allowNoExpiry: true}` accepts `expires: null`.
   */
  exceptionOptions?: ExceptionSetOptions;
}

export interface CompileResult {
  /** undefined when any diagnostic is an error */
  ruleset?: Ruleset;
  diagnostics: Diagnostic[];
  /** every file read (rules and lists), for printing diagnostics with code frames */
  files: ReadonlyMap<string, SourceFile>;
}

const NO_EXCEPTIONS: readonly ExceptionRecord[] = Object.freeze([]);

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
    listDigests: [],
    exceptions: NO_EXCEPTIONS,
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
  /** every list file loaded, by revision path, with the SHA-256 of its bytes */
  listDigests: { path: string; digest: string }[];
  /** the records of `exceptions.json`, validated and frozen */
  exceptions: readonly ExceptionRecord[];
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
      const checkOptions: CheckOptions = { limits, inputProfiles: INPUT_PROFILES };
      if (options.now !== undefined) checkOptions.now = options.now;
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
    name: "exceptions",
    stopOnError: false,
    run(state, options, limits) {
      const file = options.exceptions;
      if (!file) return;
      state.at = file.path;
      state.files.set(file.path, file);
      const parsed = parseExceptionsFile(file, {
        ...options.exceptionOptions,
        now: options.now ?? Date.now(),
        maxDiagnostics: limits.maxDiagnostics,
      });
      for (const d of parsed.diagnostics) state.diagnostics.push(d);
      state.omitted += parsed.omitted;
      state.exceptions = parsed.records;
      state.at = undefined;
    },
  },
  {
    name: "load lists",
    stopOnError: true,
    run(state, options, limits) {
      const program = state.program!;
      // The whole rule set, rule files and list files together, stays under maxRulesetBytes.
      let used = 0;
      for (const source of state.sources) {
        used += Buffer.byteLength(source.text);
        if (used > limits.maxRulesetBytes) {
          state.diagnostics.push(
            diagnostic(
              "ruleset_too_large",
              `the rule files hold more than the limit of ${limits.maxRulesetBytes} bytes together`,
              { file: source.path, start: 0, end: 0 },
              { help: RULESET_TOO_LARGE_HELP },
            ),
          );
          return;
        }
      }
      const read = (
        kind: ListRequest["kind"],
        from: { path: string; span: Diagnostic["span"] },
        declaredIn: string,
      ): ListFile | undefined => {
        const report = (code: Diagnostic["code"], message: string, help: string) => {
          state.diagnostics.push(diagnostic(code, message, from.span, { help }));
          return undefined;
        };
        const where = listFilePath(options.root, declaredIn, from.path);
        if ("problem" in where)
          return report(where.problem.code, where.problem.message, where.problem.help);
        if (!options.loadList)
          return report(
            "file_unreadable",
            `cannot read list file \`${from.path}\`: no list loader was given`,
            "compile with a `loadList` option, or use loadRuleset(dir)",
          );
        const left = Math.max(0, limits.maxRulesetBytes - used);
        const maxBytes = Math.min(limits.maxListFileBytes, left);
        const tooLarge = () =>
          limits.maxListFileBytes <= left
            ? report(
                "list_file_too_large",
                `list file \`${from.path}\` is larger than the limit of ${limits.maxListFileBytes} bytes`,
                "split the list, or raise the `maxListFileBytes` limit",
              )
            : report(
                "ruleset_too_large",
                `list file \`${from.path}\` takes the rule set over the limit of ${limits.maxRulesetBytes} bytes`,
                RULESET_TOO_LARGE_HELP,
              );
        let content: string | Uint8Array | ListFile;
        try {
          content = options.loadList(from.path, declaredIn, { kind, file: where.file, maxBytes });
        } catch (error) {
          if (error instanceof ListFileTooLarge) return tooLarge();
          if (error instanceof ListFileError)
            return report(error.problem.code, error.problem.message, error.problem.help);
          return report(
            "file_unreadable",
            `cannot read list file \`${from.path}\`: ${(error as Error).message}`,
            "the path is relative to the rule file that declares the list",
          );
        }
        const loaded = listFileOf(where.file, content, maxBytes);
        if (loaded === "too large") return tooLarge();
        if ("badByteOffset" in loaded)
          return report(
            "invalid_utf8",
            `list file \`${from.path}\` is not UTF-8 (byte ${loaded.badByteOffset})`,
            "save the file as UTF-8",
          );
        used += loaded.bytes;
        state.listDigests.push({
          path: revisionPath(options.root, where.file),
          digest: loaded.digest,
        });
        return loaded;
      };
      for (const [name, info] of program.lists) {
        if (info.values) {
          state.listValues.lists.set(name, new Set(info.values));
          continue;
        }
        const from = info.decl.from!;
        const loaded = read("list", from, info.decl.span.file);
        if (!loaded) continue;
        const parsed = parseStringList(
          loaded.file.path,
          loaded.file.text,
          limits.maxListLength,
          from.span,
        );
        for (const d of parsed.diagnostics) state.diagnostics.push(d);
        state.listValues.lists.set(name, parsed.values);
      }
      for (const [name, info] of program.hashlists) {
        const loaded = read("hashlist", info.decl.from, info.decl.span.file);
        if (!loaded) continue;
        const file = loaded.file;
        const parsed =
          loaded.hashlist ?? parseHashlist(file.path, file.text, limits.maxHashlistEntries);
        for (const d of parsed.diagnostics) state.diagnostics.push(d);
        state.listValues.hashlists.set(name, parsed.hashes);
        state.files.set(file.path, file);
      }
    },
  },
  {
    name: "generate code",
    stopOnError: true,
    run(state, options, limits) {
      const values: ListValues = state.listValues;
      const revision = contentRevision(
        state.sources,
        state.listDigests,
        options.root,
        options.exceptions,
      );
      const compiled = compileProgram(state.program!, values, {
        budget: new Budget(limits.maxEvaluationSteps),
        revision,
      });
      state.ruleset = new Ruleset(
        state.program!,
        compiled,
        values,
        state.files,
        options.commit ? { revision, commit: options.commit } : { revision },
        state.exceptions,
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
      d.code === "unknown_keyword" ||
      d.code === "unexpected_character" ||
      d.code === "unterminated_string",
  );
  if (syntax.length === 0) return [];
  const out: Diagnostic["span"][] = [];
  for (const ast of asts) {
    ast.items.forEach((item, i) => {
      const s = item.span;
      // The parser may end an item at the error it recovered from: an error up to the next
      // item (`rule a { wen ... }`) still belongs to this one.
      const next = ast.items[i + 1]?.span.start ?? Number.POSITIVE_INFINITY;
      if (
        syntax.some((d) => d.span.file === s.file && d.span.start >= s.start && d.span.start < next)
      )
        out.push(s);
    });
  }
  return out;
}

const RULESET_TOO_LARGE_HELP =
  "rule files and list files may hold `maxRulesetBytes` bytes together: remove unused lists, or raise the limit";

/**
 * A list loader's answer as a ListFile named `file`: "too large" over `maxBytes` (checked before
 * decoding or hashing), or the offset of an invalid byte when bytes are not UTF-8.
 */
function listFileOf(
  file: string,
  content: string | Uint8Array | ListFile,
  maxBytes: number,
): ListFile | "too large" | { badByteOffset: number } {
  if (typeof content === "string") {
    // a string is at most 3 bytes a UTF-16 unit: only a long one needs counting
    if (content.length * 3 > maxBytes && Buffer.byteLength(content) > maxBytes) return "too large";
    return {
      file: { path: file, text: content },
      bytes: Buffer.byteLength(content),
      digest: createHash("sha256").update(content).digest("hex"),
    };
  }
  if (content instanceof Uint8Array) {
    if (content.length > maxBytes) return "too large";
    const decoded = decodeSource(file, content);
    if (!decoded.file) return { badByteOffset: decoded.badByteOffset ?? 0 };
    return {
      file: decoded.file,
      bytes: content.length,
      digest: createHash("sha256").update(content).digest("hex"),
    };
  }
  return content.bytes > maxBytes ? "too large" : content;
}

/**
 * A content hash of every rule file and list file, and of the exceptions file when there is one,
 * each named relative to the rule directory: the same files give the same revision wherever they
 * are and however the directory is spelled.
 */
function contentRevision(
  sources: readonly SourceFile[],
  lists: readonly { path: string; digest: string }[],
  root: string | undefined,
  exceptions: SourceFile | undefined,
): string {
  const entries = [
    ...sources.map((s) => ({
      key: `rules ${revisionPath(root, s.path)}`,
      digest: createHash("sha256").update(s.text).digest("hex"),
    })),
    ...lists.map((l) => ({ key: `list ${l.path}`, digest: l.digest })),
    ...(exceptions
      ? [
          {
            key: `exceptions ${revisionPath(root, exceptions.path)}`,
            digest: createHash("sha256").update(exceptions.text).digest("hex"),
          },
        ]
      : []),
  ].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const hash = createHash("sha256");
  for (const e of entries) hash.update(`${e.key.length}:${e.key}${e.digest}`);
  return `sha256:${hash.digest("hex").slice(0, 16)}`;
}
