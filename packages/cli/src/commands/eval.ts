import type { InputFormat } from "@clearance/engine";
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
}

/** `clearance eval --input file.json`: decide one result and say why. */
export function evalCommand(output: Output, options: EvalOptions): number {
  const ruleset = loadRulesOrFail(output, options.rules, {}, true);
  const raw = readJson(options.input, "input");
  const canonical = toResult(raw, `input \`${options.input}\``, options.format);
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
        },
        null,
        2,
      ),
    );
  } else {
    const title = `${canonical.result.fileName ?? "(no file name)"} ${canonical.result.sha256.slice(0, 12)}…`;
    output.out(renderDecision(output, decision, title));
  }
  return 0;
}
