import { startLanguageServer } from "@clearance/lsp";
import { CliError } from "../output.js";

export interface LspOptions {
  rules?: string;
  docsUrl?: string;
  /** accepted because editors' clients pass it: standard input and output is the only transport */
  stdio?: boolean;
}

/**
 * `clearance lsp`: the language server over standard input and output, until the editor sends
 * `exit` (the protocol library ends the process) or closes the stream.
 */
export function lspCommand(options: LspOptions): Promise<number> {
  try {
    const connection = startLanguageServer({
      ...(options.rules !== undefined ? { rules: options.rules } : {}),
      ...(options.docsUrl !== undefined ? { diagnosticsDocs: options.docsUrl } : {}),
      input: process.stdin,
      output: process.stdout,
    });
    return new Promise((resolve) => {
      connection.onExit(() => resolve(0));
      // An editor that goes away without \`exit\` closes the stream: stop too, as the protocol
      // says for an exit without shutdown (status 1), rather than linger as an orphan.
      process.stdin.once("end", () => resolve(1));
    });
  } catch (error) {
    if (error instanceof RangeError)
      throw new CliError(error.message, "check `--rules` (a directory) and `--docs-url` (a URL)");
    throw error;
  }
}
