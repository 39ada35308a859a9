import { readFileSync, statSync, writeFileSync } from "node:fs";
import { format } from "@clearance/dsl";
import { findRuleFiles } from "@clearance/engine";
import { CliError, type Output, paint } from "../output.js";
import { renderDiagnostics } from "../render.js";

export interface FmtOptions {
  check: boolean;
}

/** `clearance fmt [--check] [paths]`: rewrite files in the canonical layout, or list the ones that differ. */
export function fmtCommand(output: Output, paths: string[], options: FmtOptions): number {
  const files = new Set<string>();
  for (const p of paths.length ? paths : ["rules"]) {
    try {
      statSync(p);
    } catch {
      throw new CliError(`no such file or directory: \`${p}\``);
    }
    for (const f of findRuleFiles(p)) files.add(f);
  }
  let unformatted = 0;
  let broken = 0;
  for (const path of files) {
    const text = readFileSync(path, "utf8");
    const result = format({ path, text });
    if (result.text === undefined) {
      broken++;
      output.err(renderDiagnostics(output, result.diagnostics, new Map([[path, { path, text }]])));
      continue;
    }
    if (result.text === text) continue;
    unformatted++;
    if (options.check) output.out(`${paint(output, "yellow", "would reformat")} ${path}`);
    else {
      writeFileSync(path, result.text);
      output.out(`formatted ${path}`);
    }
  }
  if (broken > 0)
    output.err(
      `${broken} file${broken === 1 ? "" : "s"} not formatted: fix the syntax errors first`,
    );
  if (options.check && unformatted > 0)
    output.err(`${unformatted} of ${files.size} files need formatting: run \`clearance fmt\``);
  else if (unformatted === 0 && broken === 0)
    output.out(`${files.size} file${files.size === 1 ? "" : "s"} already formatted`);
  return broken > 0 || (options.check && unformatted > 0) ? 1 : 0;
}
