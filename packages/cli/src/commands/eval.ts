import {
  type CanonicalOutcome,
  DEFAULT_INPUT_LIMITS,
  type Decision,
  type InputFormat,
  type InputItem,
  toCanonicalItems,
} from "@clearance/engine";
import { parseNow, readJson, resultOrFail } from "../io.js";
import { CliError, type Output } from "../output.js";
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

type Valid = CanonicalOutcome & { ok: true };

/**
 * `clearance eval --input file.json`: decide one result and say why. An input that is a list of
 * results (a VirusTotal search answer, vt-cli's output) has each item decided: exit 1 when an item
 * could not be, else 0 whatever the decisions.
 */
export function evalCommand(output: Output, options: EvalOptions): number {
  const ruleset = loadRulesOrFail(output, options.rules, {}, true);
  const limit = {
    maxBytes: options.maxInputBytes ?? DEFAULT_INPUT_LIMITS.maxBytes,
    option: "--max-input-bytes",
  };
  const raw = readJson(options.input, "input", undefined, limit);
  const source = `input \`${options.input}\``;
  const read = toCanonicalItems(raw, {
    ...(options.format ? { format: options.format } : {}),
    limits: { maxBytes: limit.maxBytes },
  });
  const context = options.context ? readJson(options.context, "context") : undefined;
  const now = parseNow(options.now);
  const decide = (canonical: Valid) =>
    ruleset.decide(canonical.result, {
      context,
      explain: options.explain,
      ...(now === undefined ? {} : { now }),
    });
  if (read.list) return evalList(output, options, source, read.what, read.items, decide);

  const canonical = resultOrFail(read.outcome, source);
  const decision = decide(canonical);
  for (const w of canonical.warnings ?? []) output.err(`warning: ${w}`);
  if (options.json) output.out(JSON.stringify(answer(canonical, decision, options), null, 2));
  else output.out(renderText(output, canonical, decision, options));
  return 0;
}

/** The JSON answer for one decided result: `sha256`, `fileName`, the decision, `input` on request. */
function answer(canonical: Valid, decision: Decision, options: EvalOptions): object {
  return {
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
  };
}

function renderText(
  output: Output,
  canonical: Valid,
  decision: Decision,
  options: EvalOptions,
  at?: string,
): string {
  const lines: string[] = [];
  if (options.showInput) {
    // the record the rules read, before the decision they made of it
    lines.push(
      `input${at === undefined ? "" : ` ${at}`} (read as ${canonical.format ?? "canonical"}):`,
    );
    lines.push(JSON.stringify(canonical.result, null, 2), "");
  }
  const title = `${canonical.result.fileName ?? "(no file name)"} ${canonical.result.sha256.slice(0, 12)}…${at === undefined ? "" : ` (${at})`}`;
  lines.push(renderDecision(output, decision, title));
  return lines.join("\n");
}

/**
 * Decides every item of a list input, in order. Text: one decision per item, then a count; the
 * items that cannot be decided as errors on standard error. JSON: `{"items": [...]}` as
 * `POST /v1/decisions/batch` answers, each item the single answer with `item` (where it is in the
 * input), or `{item, error: {code: "invalid_result", problems}}`.
 */
function evalList(
  output: Output,
  options: EvalOptions,
  source: string,
  what: string,
  items: InputItem[],
  decide: (canonical: Valid) => Decision,
): number {
  if (items.length === 0)
    throw new CliError(`${source} is an empty list (${what}): there is no result to decide`);
  const answers: object[] = [];
  const texts: string[] = [];
  let failed = 0;
  for (const { at, pointer, outcome } of items) {
    if (!outcome.ok) {
      failed++;
      const problems = outcome.problems.map((p) => ({ ...p, pointer: `${pointer}${p.pointer}` }));
      output.err(
        `error: \`${at}\` of ${source} is not a valid analysis result:\n${problems.map((p) => `  ${p.pointer}: ${p.message}`).join("\n")}`,
      );
      answers.push({ item: at, error: { code: "invalid_result", problems } });
      continue;
    }
    for (const w of outcome.warnings ?? []) output.err(`warning: ${at}: ${w}`);
    const decision = decide(outcome);
    if (options.json) answers.push({ item: at, ...answer(outcome, decision, options) });
    else texts.push(renderText(output, outcome, decision, options, at));
  }
  if (options.json) output.out(JSON.stringify({ items: answers }, null, 2));
  else {
    const decided = items.length - failed;
    texts.push(
      `${items.length} item${items.length === 1 ? "" : "s"} (${what}): ${decided} decided${failed > 0 ? `, ${failed} not an analysis result` : ""}`,
    );
    output.out(texts.join("\n\n"));
  }
  return failed > 0 ? 1 : 0;
}
