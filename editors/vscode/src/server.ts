// The server's command line, from the extension's settings. Kept apart from the `vscode` API so
// a test can build it and start the real CLI with it.
import { isAbsolute, join } from "node:path";

export interface ServerSettings {
  /** `clearance.path`: the CLI, a name on PATH or a path; empty means `clearance`. */
  path?: string | undefined;
  /** `clearance.rulesDirectory`: empty lets the server find each file's rule directory. */
  rulesDirectory?: string | undefined;
}

/**
 * `clearance lsp [--rules <dir>]`; the language client appends `--stdio`. A relative rule
 * directory is the workspace folder's, not VS Code's own working directory (wherever the editor
 * was started from).
 */
export function serverCommand(
  settings: ServerSettings,
  workspaceFolder: string | undefined,
): { command: string; args: string[] } {
  const command = settings.path?.trim() || "clearance";
  const args = ["lsp"];
  const rules = settings.rulesDirectory?.trim();
  if (rules) {
    const dir =
      isAbsolute(rules) || workspaceFolder === undefined ? rules : join(workspaceFolder, rules);
    args.push("--rules", dir);
  }
  return { command, args };
}
