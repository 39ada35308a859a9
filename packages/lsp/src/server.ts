import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Diagnostic as ClearanceDiagnostic, Severity } from "@clearance/dsl";
import { findFiles } from "@clearance/engine";
import {
  CodeActionKind,
  type CompletionItem,
  CompletionItemKind,
  type Connection,
  createConnection,
  DiagnosticSeverity,
  DidChangeWatchedFilesNotification,
  type DocumentSymbol,
  InsertTextFormat,
  type Location,
  type Diagnostic as LspDiagnostic,
  MarkupKind,
  type Range,
  SemanticTokensBuilder,
  StreamMessageReader,
  StreamMessageWriter,
  SymbolKind,
  TextDocumentSyncKind,
  type TextEdit,
  type WorkspaceEdit,
} from "vscode-languageserver/node.js";
import { TextDocument } from "vscode-languageserver-textdocument";
import { DirectoryChecker } from "./directory-checker.js";
import {
  type CompletionKind,
  complete,
  declarations,
  fixFor,
  formatted,
  hover,
  NAME_PATTERN,
  type OutlineEntry,
  outline,
  type Place,
  symbolAt,
  TOKEN_MODIFIERS,
  TOKEN_TYPES,
  testFileUses,
  tokens,
  uses,
} from "./features.js";
import { Workspace } from "./workspace.js";

export interface LanguageServerOptions {
  /** the rule directory; without it, each file's is found from where it is (see `ruleDirectoryOf`) */
  rules?: string;
  /** quiet time (ms) after the last edit before the whole directory is checked again; default 250 */
  settleMs?: number;
  /** the instant expiry warnings are computed against, in ms since the epoch (tests) */
  now?: number;
  /**
   * Where each diagnostic's code links to (LSP \`codeDescription\`), as the URL of
   * docs/diagnostics.md: \`#<code>\` is appended. Default: the page beside this package in a
   * checkout of the repository, when it is there; otherwise diagnostics carry no link.
   */
  diagnosticsDocs?: string;
  /** the protocol's streams; default standard input and output */
  input?: Readable;
  output?: Writable;
}

type Resolved = Readonly<{
  rules?: string;
  settleMs: number;
  now?: number;
  diagnosticsDocs?: string;
  input: Readable;
  output: Writable;
}>;

/** docs/diagnostics.md of the checkout this package runs from (src/ or dist/ alike). */
function checkoutDocs(): string | undefined {
  const page = fileURLToPath(new URL("../../../docs/diagnostics.md", import.meta.url));
  return existsSync(page) ? pathToFileURL(page).href : undefined;
}

/** Checks the options once, at the edge, and freezes them. */
export function resolveOptions(options: LanguageServerOptions = {}): Resolved {
  const settleMs = options.settleMs ?? 250;
  if (!Number.isInteger(settleMs) || settleMs < 0 || settleMs > 60_000)
    throw new RangeError(`settleMs must be an integer from 0 to 60000, not ${settleMs}`);
  if (options.now !== undefined && !Number.isFinite(options.now))
    throw new RangeError("now must be a finite number of milliseconds");
  let rules: string | undefined;
  if (options.rules !== undefined) {
    rules = resolve(options.rules);
    if (!existsSync(rules) || !statSync(rules).isDirectory())
      throw new RangeError(`the rule directory \`${options.rules}\` is not a directory`);
  }
  let diagnosticsDocs = options.diagnosticsDocs ?? checkoutDocs();
  if (diagnosticsDocs !== undefined) {
    try {
      diagnosticsDocs = new URL(diagnosticsDocs).href.replace(/#.*$/, "");
    } catch {
      throw new RangeError(`diagnosticsDocs must be a URL, not \`${diagnosticsDocs}\``);
    }
  }
  return Object.freeze({
    ...(rules !== undefined ? { rules } : {}),
    ...(diagnosticsDocs !== undefined ? { diagnosticsDocs } : {}),
    settleMs,
    ...(options.now !== undefined ? { now: options.now } : {}),
    input: options.input ?? process.stdin,
    output: options.output ?? process.stdout,
  });
}

/**
 * The rule directory a file belongs to when none was given: the highest directory above it, up to
 * the workspace folder, in which every directory on the way holds `.rules` files. `rules/a.rules`
 * belongs to `rules/`; a rule file in a sub-directory of it (which the loader reads too) to `rules/`.
 */
export function ruleDirectoryOf(file: string, stopAt: readonly string[]): string {
  let dir = dirname(file);
  for (;;) {
    const parent = dirname(dir);
    if (parent === dir || stopAt.includes(dir) || !holdsRuleFiles(parent)) return dir;
    dir = parent;
  }
}

function holdsRuleFiles(dir: string): boolean {
  try {
    return readdirSync(dir).some((n) => n.endsWith(".rules"));
  } catch {
    return false;
  }
}

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  info: DiagnosticSeverity.Information,
};

const COMPLETION_KIND: Record<CompletionKind, CompletionItemKind> = {
  field: CompletionItemKind.Field,
  enum: CompletionItemKind.EnumMember,
  list: CompletionItemKind.Variable,
  function: CompletionItemKind.Function,
  keyword: CompletionItemKind.Keyword,
  snippet: CompletionItemKind.Snippet,
  variable: CompletionItemKind.Variable,
  module: CompletionItemKind.Module,
};

const SYMBOL_KIND: Record<OutlineEntry["kind"], SymbolKind> = {
  rule: SymbolKind.Function,
  list: SymbolKind.Array,
  hashlist: SymbolKind.Array,
  context: SymbolKind.Struct,
  setting: SymbolKind.Property,
  field: SymbolKind.Field,
};

/**
 * Starts the language server on `options.input`/`output` and returns its connection. Rule files
 * are `*.rules`; a workspace per rule directory holds every file of it, open or not.
 */
export function startLanguageServer(options: LanguageServerOptions = {}): Connection {
  const opts = resolveOptions(options);
  const connection = createConnection(
    new StreamMessageReader(opts.input),
    new StreamMessageWriter(opts.output),
  );
  const workspaces = new Map<string, Workspace>();
  let folders: string[] = [];
  /** the LSP view of each file, for offsets to positions; rebuilt when its text changes */
  const documents = new Map<string, TextDocument>();
  /** files edited since their last check, checked together on the next turn */
  const pending = new Set<string>();
  let settleTimer: NodeJS.Timeout | undefined;
  let flushQueued = false;
  const published = new Map<string, string>();

  const workspaceFor = (path: string): Workspace => {
    const root = opts.rules ?? ruleDirectoryOf(path, folders);
    let ws = workspaces.get(root);
    if (!ws) {
      ws = new Workspace(root, opts.now !== undefined ? { now: opts.now } : {});
      workspaces.set(root, ws);
    }
    if (!ws.files.has(path) && existsSync(path)) ws.reload(path);
    return ws;
  };
  /** texts of other files the answers point into (rule tests), read when they are searched */
  const otherTexts = new Map<string, string>();
  const documentOf = (path: string, ws: Workspace): TextDocument => {
    const state = ws.files.get(path);
    const text = state?.text ?? otherTexts.get(path) ?? "";
    let doc = documents.get(path);
    if (!doc || doc.getText() !== text) {
      doc = TextDocument.create(pathToFileURL(path).href, "clearance", state?.version ?? 0, text);
      documents.set(path, doc);
    }
    return doc;
  };
  const range = (place: Place, ws: Workspace): Range => {
    const doc = documentOf(place.file, ws);
    return { start: doc.positionAt(place.start), end: doc.positionAt(place.end) };
  };
  const location = (place: Place, ws: Workspace): Location => ({
    uri: pathToFileURL(place.file).href,
    range: range(place, ws),
  });
  const toLsp = (d: ClearanceDiagnostic, ws: Workspace): LspDiagnostic => {
    const out: LspDiagnostic = {
      range: range(d.span, ws),
      severity: SEVERITY[d.severity],
      code: d.code,
      ...(opts.diagnosticsDocs
        ? { codeDescription: { href: `${opts.diagnosticsDocs}#${d.code}` } }
        : {}),
      source: "clearance",
      message: d.help ? `${d.message}\nhelp: ${d.help}` : d.message,
      data: { help: d.help ?? null, span: { start: d.span.start, end: d.span.end } },
    };
    if (d.related)
      out.relatedInformation = d.related.map((r) => ({
        location: ws.files.has(r.span.file)
          ? location(r.span, ws)
          : { uri: pathToFileURL(r.span.file).href, range: zero },
        message: r.message,
      }));
    return out;
  };
  const publish = (path: string, list: readonly ClearanceDiagnostic[], ws: Workspace) => {
    const diagnostics = list.map((d) => toLsp(d, ws));
    const key = JSON.stringify(diagnostics);
    const state = ws.files.get(path);
    // Unchanged diagnostics of a file not being typed in are not sent again.
    if (published.get(path) === key && state?.version === undefined) return;
    published.set(path, key);
    void connection.sendDiagnostics({
      uri: pathToFileURL(path).href,
      ...(state?.version !== undefined ? { version: state.version } : {}),
      diagnostics,
    });
  };
  const checker = new DirectoryChecker();
  let checking = false;
  let checkAgain = false;
  // One whole check at a time, off this thread; a check that an edit overtook is dropped (the
  // edit's own settle timer asks for the next).
  const checkDirectories = async () => {
    settleTimer = undefined;
    if (checking) {
      checkAgain = true;
      return;
    }
    checking = true;
    try {
      for (const ws of workspaces.values()) {
        const generation = ws.generation;
        let found: ClearanceDiagnostic[];
        try {
          found = await checker.check(ws.directoryRequest());
        } catch (error) {
          connection.console.error(`the rule directory check failed: ${(error as Error).message}`);
          continue;
        }
        if (ws.generation !== generation) continue;
        for (const [path, list] of ws.applyDirectoryCheck(found)) publish(path, list, ws);
      }
    } finally {
      checking = false;
      if (checkAgain) {
        checkAgain = false;
        void checkDirectories();
      }
    }
  };
  const flush = () => {
    flushQueued = false;
    // An edit to a declaration reaches the rules of every file: the open ones are checked again
    // now, the others with the whole directory.
    for (const path of [...pending]) {
      const ws = workspaceFor(path);
      if (!ws.declarationsChanged) continue;
      ws.declarationsChanged = false;
      for (const f of ws.files.values()) if (f.version !== undefined) pending.add(f.path);
    }
    for (const path of pending) {
      const ws = workspaceFor(path);
      publish(path, ws.checkFile(path), ws);
    }
    pending.clear();
    if (settleTimer) clearTimeout(settleTimer);
    settleTimer = setTimeout(checkDirectories, opts.settleMs);
  };
  const changed = (path: string) => {
    pending.add(path);
    // Edits that arrived together are checked once, after the protocol has read them all.
    if (!flushQueued) {
      flushQueued = true;
      setImmediate(flush);
    }
  };
  const pathOf = (uri: string): string | undefined =>
    uri.startsWith("file:") ? fileURLToPath(uri) : undefined;
  const at = (uri: string, position: { line: number; character: number }) => {
    const path = pathOf(uri);
    if (!path) return undefined;
    const ws = workspaceFor(path);
    const state = ws.files.get(path);
    if (!state) return undefined;
    return { path, ws, state, offset: documentOf(path, ws).offsetAt(position) };
  };

  connection.onInitialize((params) => {
    folders = (params.workspaceFolders ?? []).map((f) => fileURLToPath(f.uri));
    if (folders.length === 0 && params.rootUri) folders = [fileURLToPath(params.rootUri)];
    return {
      capabilities: {
        textDocumentSync: {
          openClose: true,
          change: TextDocumentSyncKind.Incremental,
          save: false,
        },
        hoverProvider: true,
        completionProvider: { triggerCharacters: [".", '"'] },
        definitionProvider: true,
        referencesProvider: true,
        renameProvider: { prepareProvider: true },
        documentFormattingProvider: true,
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
        documentSymbolProvider: true,
        semanticTokensProvider: {
          legend: { tokenTypes: [...TOKEN_TYPES], tokenModifiers: [...TOKEN_MODIFIERS] },
          full: true,
        },
      },
      serverInfo: { name: "clearance" },
    };
  });
  connection.onInitialized(() => {
    // The whole directory is checked at once when a rule directory was named.
    if (opts.rules) {
      workspaces.set(
        opts.rules,
        new Workspace(opts.rules, opts.now !== undefined ? { now: opts.now } : {}),
      );
      settleTimer = setTimeout(checkDirectories, 0);
    }
    void connection.client
      .register(DidChangeWatchedFilesNotification.type, {
        watchers: [
          { globPattern: "**/*.rules" },
          { globPattern: "**/exceptions.json" },
          { globPattern: "**/lists/**" },
        ],
      })
      .catch(() => undefined);
  });

  connection.onDidOpenTextDocument(({ textDocument }) => {
    const path = pathOf(textDocument.uri);
    if (!path) return;
    workspaceFor(path).set(path, textDocument.text, textDocument.version);
    changed(path);
  });
  connection.onDidChangeTextDocument(({ textDocument, contentChanges }) => {
    const path = pathOf(textDocument.uri);
    if (!path) return;
    const ws = workspaceFor(path);
    let doc = documentOf(path, ws);
    doc = TextDocument.update(doc, contentChanges, textDocument.version);
    documents.set(path, doc);
    ws.set(path, doc.getText(), textDocument.version);
    changed(path);
  });
  connection.onDidCloseTextDocument(({ textDocument }) => {
    const path = pathOf(textDocument.uri);
    if (!path) return;
    workspaceFor(path).reload(path);
    changed(path);
  });
  connection.onDidChangeWatchedFiles(({ changes }) => {
    for (const change of changes) {
      const path = pathOf(change.uri);
      if (!path) continue;
      if (path.endsWith(".rules")) {
        const ws = workspaceFor(path);
        if (ws.files.get(path)?.version === undefined) ws.reload(path);
      }
    }
    if (settleTimer) clearTimeout(settleTimer);
    settleTimer = setTimeout(checkDirectories, opts.settleMs);
  });

  connection.onHover(({ textDocument, position }) => {
    const here = at(textDocument.uri, position);
    if (!here) return null;
    const found = hover(here.state.parsed.ast, here.ws.fileProgram(here.path), here.offset);
    if (!found) return null;
    return {
      contents: { kind: MarkupKind.Markdown, value: found.markdown },
      range: range(found.span, here.ws),
    };
  });

  connection.onCompletion(({ textDocument, position }): CompletionItem[] => {
    const here = at(textDocument.uri, position);
    if (!here) return [];
    const program = here.ws.fileProgram(here.path);
    return complete(here.state.text, here.offset, program).map((c) => {
      const item: CompletionItem = { label: c.label, kind: COMPLETION_KIND[c.kind] };
      if (c.detail) item.detail = c.detail;
      if (c.documentation) item.documentation = c.documentation;
      if (c.snippet) {
        item.insertText = c.snippet;
        item.insertTextFormat = InsertTextFormat.Snippet;
      }
      return item;
    });
  });

  const symbolHere = (uri: string, position: { line: number; character: number }) => {
    const here = at(uri, position);
    if (!here) return undefined;
    const program = here.ws.program();
    const symbol = symbolAt(here.state.parsed.ast, program, here.offset);
    if (!symbol) return undefined;
    const asts = [...here.ws.files.values()].map((f) => f.parsed.ast);
    return { ...here, program, symbol, asts };
  };
  /** Where the directory's rule tests name the rule `name`. */
  const ruleUsesInTests = (ws: Workspace, name: string): Place[] => {
    const out: Place[] = [];
    let tests: string[];
    try {
      tests = findFiles(ws.root, (n) => n.endsWith(".test.yaml") || n.endsWith(".test.yml"));
    } catch {
      return out;
    }
    for (const test of tests) {
      let text: string;
      try {
        text = readFileSync(test, "utf8");
      } catch {
        continue;
      }
      otherTexts.set(test, text);
      documents.delete(test);
      out.push(...testFileUses(test, text, name));
    }
    return out;
  };
  const usesOf = (found: NonNullable<ReturnType<typeof symbolHere>>): Place[] =>
    found.symbol.kind === "rule"
      ? ruleUsesInTests(found.ws, found.symbol.name)
      : uses(found.asts, found.program, found.symbol);

  connection.onDefinition(({ textDocument, position }) => {
    const found = symbolHere(textDocument.uri, position);
    if (!found) return null;
    return declarations(found.asts, found.symbol).map((p) => location(p, found.ws));
  });
  connection.onReferences(({ textDocument, position, context }) => {
    const found = symbolHere(textDocument.uri, position);
    if (!found) return null;
    const places = [
      ...(context.includeDeclaration ? declarations(found.asts, found.symbol) : []),
      ...usesOf(found),
    ];
    return places.map((p) => location(p, found.ws));
  });
  connection.onPrepareRename(({ textDocument, position }) => {
    const found = symbolHere(textDocument.uri, position);
    if (!found || found.symbol.kind === "context") return null;
    return { defaultBehavior: true };
  });
  connection.onRenameRequest(({ textDocument, position, newName }): WorkspaceEdit | null => {
    const found = symbolHere(textDocument.uri, position);
    if (!found || found.symbol.kind === "context") return null;
    if (!NAME_PATTERN.test(newName))
      throw new Error(
        `\`${newName}\` is not a name: letters, digits and \`_\`, not starting with a digit`,
      );
    const changes: Record<string, TextEdit[]> = {};
    for (const p of [...declarations(found.asts, found.symbol), ...usesOf(found)]) {
      const uri = pathToFileURL(p.file).href;
      (changes[uri] ??= []).push({ range: range(p, found.ws), newText: newName });
    }
    return { changes };
  });

  connection.onDocumentFormatting(({ textDocument }) => {
    const path = pathOf(textDocument.uri);
    if (!path) return [];
    const ws = workspaceFor(path);
    const state = ws.files.get(path);
    if (!state) return [];
    const text = formatted(path, state.text);
    if (text === undefined) return [];
    const doc = documentOf(path, ws);
    return [
      {
        range: { start: doc.positionAt(0), end: doc.positionAt(state.text.length) },
        newText: text,
      },
    ];
  });

  connection.onCodeAction(({ textDocument, range: wanted }) => {
    const path = pathOf(textDocument.uri);
    if (!path) return [];
    const ws = workspaceFor(path);
    const state = ws.files.get(path);
    if (!state) return [];
    const doc = documentOf(path, ws);
    const from = doc.offsetAt(wanted.start);
    const to = doc.offsetAt(wanted.end);
    const actions = [];
    for (const d of ws.checkFile(path)) {
      if (d.span.end < from || d.span.start > to) continue;
      const fix = fixFor(d, state.text);
      if (!fix) continue;
      actions.push({
        title: fix.title,
        kind: CodeActionKind.QuickFix,
        diagnostics: [toLsp(d, ws)],
        isPreferred: true,
        edit: {
          changes: { [textDocument.uri]: [{ range: range(fix.span, ws), newText: fix.newText }] },
        },
      });
    }
    return actions;
  });

  connection.onDocumentSymbol(({ textDocument }) => {
    const path = pathOf(textDocument.uri);
    if (!path) return [];
    const ws = workspaceFor(path);
    const state = ws.files.get(path);
    if (!state) return [];
    const convert = (e: OutlineEntry): DocumentSymbol => ({
      name: e.name,
      kind: SYMBOL_KIND[e.kind],
      ...(e.detail ? { detail: e.detail } : {}),
      range: range(e.span, ws),
      selectionRange: range(e.selection, ws),
      ...(e.children ? { children: e.children.map(convert) } : {}),
    });
    return outline(state.parsed.ast).map(convert);
  });

  connection.languages.semanticTokens.on(({ textDocument }) => {
    const path = pathOf(textDocument.uri);
    const builder = new SemanticTokensBuilder();
    if (!path) return builder.build();
    const ws = workspaceFor(path);
    const state = ws.files.get(path);
    if (!state) return builder.build();
    const doc = documentOf(path, ws);
    for (const t of tokens(state.parsed.ast, state.text, ws.fileProgram(path))) {
      const p = doc.positionAt(t.start);
      let mods = 0;
      for (const m of t.modifiers ?? []) mods |= 1 << TOKEN_MODIFIERS.indexOf(m);
      builder.push(p.line, p.character, t.end - t.start, TOKEN_TYPES.indexOf(t.type), mods);
    }
    return builder.build();
  });

  // The client gone (its end of the stream closed): nothing more will be asked, so the worker
  // thread and the timer must not keep the process alive.
  opts.input.once("end", () => {
    if (settleTimer) clearTimeout(settleTimer);
    void checker.close();
  });
  connection.onShutdown(async () => {
    if (settleTimer) clearTimeout(settleTimer);
    await checker.close();
  });
  connection.listen();
  return connection;
}

const zero: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
