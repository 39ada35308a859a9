import { styleText } from "node:util";

/** Where a command writes, and whether it may use colour. Built once in main from the process. */
export interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
  color: boolean;
  /** redraws one transient status line (a progress bar) on a terminal; absent elsewhere */
  status?: (line: string | null) => void;
}

type Style = Parameters<typeof styleText>[0];

export function paint(output: Output, style: Style, text: string): string {
  return output.color ? styleText(style, text) : text;
}

/** A user-facing failure: printed as `error: message` with an optional hint, exit code 1. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly hint?: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
