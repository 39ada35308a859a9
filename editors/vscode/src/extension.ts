// Starts `clearance lsp --stdio` from the installed CLI for `.rules` files. Everything the editor
// shows beyond colours (diagnostics, hover, completion, rename, formatting, quick fixes) comes from
// that server, so this file only finds the command and restarts the server when its settings change.
import {
  commands,
  type ExtensionContext,
  FoldingRange,
  languages,
  window,
  workspace,
} from "vscode";
import {
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";
import { bracketFoldingRanges } from "./folding.js";
import { serverCommand } from "./server.js";

const LANGUAGE_ID = "clearance-rules";

let client: LanguageClient | undefined;

async function start(): Promise<void> {
  const config = workspace.getConfiguration("clearance");
  const { command, args } = serverCommand(
    { path: config.get<string>("path"), rulesDirectory: config.get<string>("rulesDirectory") },
    workspace.workspaceFolders?.[0]?.uri.fsPath,
  );
  // TransportKind.stdio appends `--stdio`, which `clearance lsp` accepts.
  const server: ServerOptions = { command, args, transport: TransportKind.stdio };
  const options: LanguageClientOptions = {
    documentSelector: [{ scheme: "file", language: LANGUAGE_ID }],
    outputChannelName: "Clearance",
  };
  client = new LanguageClient("clearance", "Clearance", server, options);
  try {
    await client.start();
  } catch (error) {
    // The usual cause is a CLI that is not installed: say which command was tried and where to
    // change it, instead of leaving the file without diagnostics and no word why.
    client = undefined;
    const message = error instanceof Error ? error.message : String(error);
    void window.showErrorMessage(
      `Clearance: could not start \`${command} ${args.join(" ")} --stdio\` (${message}). ` +
        "Install the CLI, or set `clearance.path`.",
    );
  }
}

async function restart(): Promise<void> {
  const running = client;
  client = undefined;
  await running?.stop();
  await start();
}

export async function activate(context: ExtensionContext): Promise<void> {
  context.subscriptions.push(
    commands.registerCommand("clearance.restartServer", restart),
    languages.registerFoldingRangeProvider(LANGUAGE_ID, {
      provideFoldingRanges: (document) =>
        bracketFoldingRanges(document.getText()).map((r) => new FoldingRange(r.start, r.end)),
    }),
    workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("clearance")) void restart();
    }),
  );
  await start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
