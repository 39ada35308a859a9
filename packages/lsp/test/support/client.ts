import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  createMessageConnection,
  type MessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from "vscode-jsonrpc/node.js";
import type {
  Diagnostic,
  PublishDiagnosticsParams,
  TextDocumentContentChangeEvent,
} from "vscode-languageserver-protocol";

export const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
/** The built CLI (`pnpm build`), spawned as an editor spawns it. */
export const bin = join(repo, "packages", "cli", "dist", "bin.js");

export const uri = (path: string) => pathToFileURL(path).href;

/**
 * A language client as an editor runs one: the real `clearance lsp` process, spoken to over its
 * standard input and output with vscode-jsonrpc, and every `publishDiagnostics` it sends kept.
 */
export class Client {
  readonly connection: MessageConnection;
  private readonly child: ChildProcess;
  /** the last diagnostics published for each URI */
  readonly diagnostics = new Map<string, PublishDiagnosticsParams>();
  private waiters: {
    test: (p: PublishDiagnosticsParams) => boolean;
    resolve: (p: PublishDiagnosticsParams) => void;
  }[] = [];
  private versions = new Map<string, number>();
  stderr = "";

  constructor(args: string[], cwd = repo) {
    this.child = spawn(process.execPath, [bin, "lsp", ...args], {
      cwd,
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stderr!.on("data", (d) => {
      this.stderr += String(d);
    });
    this.connection = createMessageConnection(
      new StreamMessageReader(this.child.stdout!),
      new StreamMessageWriter(this.child.stdin!),
    );
    this.connection.onNotification(
      "textDocument/publishDiagnostics",
      (p: PublishDiagnosticsParams) => {
        this.diagnostics.set(p.uri, p);
        this.waiters = this.waiters.filter((w) => {
          if (!w.test(p)) return true;
          w.resolve(p);
          return false;
        });
      },
    );
    this.connection.onRequest("client/registerCapability", () => null);
    this.connection.onRequest("workspace/configuration", () => []);
    this.connection.listen();
  }

  async initialize(rootPath: string): Promise<Record<string, unknown>> {
    const result = await this.connection.sendRequest("initialize", {
      processId: process.pid,
      rootUri: uri(rootPath),
      workspaceFolders: [{ uri: uri(rootPath), name: "root" }],
      capabilities: {
        textDocument: { publishDiagnostics: { relatedInformation: true, versionSupport: true } },
      },
    });
    await this.connection.sendNotification("initialized", {});
    return (result as { capabilities: Record<string, unknown> }).capabilities;
  }

  /** Resolves with the next diagnostics for `path` that pass `test`. */
  next(
    path: string,
    test: (p: PublishDiagnosticsParams) => boolean = () => true,
  ): Promise<PublishDiagnosticsParams> {
    return new Promise((resolve) =>
      this.waiters.push({ test: (p) => p.uri === uri(path) && test(p), resolve }),
    );
  }

  /** Diagnostics for `path` once the server has published some for the document's version. */
  async settled(
    path: string,
    test: (d: Diagnostic[]) => boolean = () => true,
  ): Promise<Diagnostic[]> {
    const last = this.diagnostics.get(uri(path));
    if (last && test(last.diagnostics)) return last.diagnostics;
    return (await this.next(path, (p) => test(p.diagnostics))).diagnostics;
  }

  async open(path: string, text = readFileSync(path, "utf8")): Promise<void> {
    this.versions.set(path, 1);
    await this.connection.sendNotification("textDocument/didOpen", {
      textDocument: { uri: uri(path), languageId: "clearance", version: 1, text },
    });
  }

  async change(path: string, changes: TextDocumentContentChangeEvent[]): Promise<number> {
    const version = (this.versions.get(path) ?? 1) + 1;
    this.versions.set(path, version);
    await this.connection.sendNotification("textDocument/didChange", {
      textDocument: { uri: uri(path), version },
      contentChanges: changes,
    });
    return version;
  }

  request<T>(method: string, params: unknown): Promise<T> {
    return this.connection.sendRequest(method, params) as Promise<T>;
  }

  async close(): Promise<void> {
    try {
      await this.connection.sendRequest("shutdown");
      await this.connection.sendNotification("exit");
    } catch {
      // the process is gone already
    }
    await new Promise<void>((resolve) => {
      if (this.child.exitCode !== null) resolve();
      else this.child.once("exit", () => resolve());
      setTimeout(() => this.child.kill(), 2000).unref();
    });
    this.connection.dispose();
  }
}

/** The position (0-based line and UTF-16 character) of the `nth` occurrence of `needle` in `text`. */
export function positionOf(text: string, needle: string, nth = 0, shift = 0) {
  let at = -1;
  for (let i = 0; i <= nth; i++) {
    at = text.indexOf(needle, at + 1);
    if (at < 0) throw new Error(`\`${needle}\` not found`);
  }
  return offsetToPosition(text, at + shift);
}

export function offsetToPosition(text: string, offset: number) {
  const before = text.slice(0, offset);
  const line = before.split("\n").length - 1;
  return { line, character: offset - (before.lastIndexOf("\n") + 1) };
}
