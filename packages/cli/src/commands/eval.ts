import { DEFAULT_INPUT_LIMITS, type InputFormat } from "@clearance/engine";
import { parseNow, readJson, toResult } from "../io.js";
import type { Output } from "../output.js";
import { renderDecision } from "../render.js";
import { loadRulesOrFail } from "../rules.js";

export interface EvalOptions {
  input: string;
  rules: string;
  context?: string;
  now?: string;
  explain: boolean;
  format?: InputFormat;
  json: boolean;
  /** print the canonical record the input became, with the adapter's warnings */
  showInput?: boolean;
  maxInputBytes?: number;
}

/** `clearance eval --input file.json`: decide one result and say why. */
export function evalCommand(output: Output, options: EvalOptions): number {
  const ruleset = loadRulesOrFail(output, options.rules, {}, true);
  const limit = {
    maxBytes: options.maxInputBytes ?? DEFAULT_INPUT_LIMITS.maxBytes,
    option: "--max-input-bytes",
  };
  const raw = readJson(options.input, "input", undefined, limit);
  const canonical = toResult(raw, `input \`${options.input}\``, options.format, limit.maxBytes);
  const context = options.context ? readJson(options.context, "context") : undefined;
  const now = parseNow(options.now);
  const decision = ruleset.decide(canonical.result, {
    context,
    explain: options.explain,
    ...(now === undefined ? {} : { now }),
  });
  for (const w of canonical.warnings ?? []) output.err(`warning: ${w}`);
  if (options.json) {
    output.out(
      JSON.stringify(
        {
          sha256: canonical.result.sha256,
          fileName: canonical.result.fileName ?? null,
          ...decision,
          ...(options.showInput
            ? {
                input: {
                  format: canonical.format ?? null,
                  result: canonical.result,
                  warnings: canonical.warnings ?? [],
                },
              }
            : {}),
        },
        null,
        2,
      ),
    );
  } else {
    if (options.showInput) {
      // the record the rules read, before the decision they made of it
      output.out(`input (read as ${canonical.format ?? "canonical"}):`);
      output.out(JSON.stringify(canonical.result, null, 2));
      output.out("");
    }
    const title = `${canonical.result.fileName ?? "(no file name)"} ${canonical.result.sha256.slice(0, 12)}…`;
    output.out(renderDecision(output, decision, title));
  }
  return 0;
}
