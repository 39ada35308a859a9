import { findFiles } from "@clearance/engine";
import { parseNow, readJson, toResult } from "../io.js";
import { type Output, paint } from "../output.js";
import { decisionLabel, summarizeDiagnostics } from "../render.js";
import { loadRulesWithDiagnostics } from "../rules.js";
import { runTests } from "./test.js";

export interface TourOptions {
  rules: string;
  examples: string;
  context?: string;
  now?: string;
}

/**
 * An offline look at a rule set (`pnpm tour`): check the rules, run their tests, and decide every
 * example result, printing decision, rule and reason per file.
 */
export function tourCommand(output: Output, options: TourOptions): number {
  const now = parseNow(options.now);
  output.out(paint(output, "bold", `1. check ${options.rules}`));
  const { ruleset, diagnostics } = loadRulesWithDiagnostics(output, options.rules);
  output.out(
    `   ${ruleset.rules.length} rules, strategy ${ruleset.strategy}, revision ${ruleset.revision}${ruleset.commit ? `, commit ${ruleset.commit.sha.slice(0, 12)}${ruleset.commit.dirty ? " (dirty)" : ""}` : ""}; ${summarizeDiagnostics(diagnostics)}`,
  );

  output.out(paint(output, "bold", `\n2. test ${options.rules}`));
  const report = runTests(ruleset, options.rules, output);
  output.out(
    `   ${report.passed} passed, ${report.failed} failed; coverage ${report.coverage.percent}% of rules`,
  );

  output.out(paint(output, "bold", `\n3. decide every result in ${options.examples}`));
  const files = listJson(options.examples);
  const context = options.context ? readJson(options.context, "context") : undefined;
  const counts = { allow: 0, deny: 0, review: 0 };
  for (const path of files) {
    const raw = readJson(path, "example");
    const canonical = toResult(raw, `example \`${path}\``);
    const d = ruleset.decide(canonical.result, {
      ...(context ? { context } : {}),
      ...(now === undefined ? {} : { now }),
    });
    counts[d.decision]++;
    const name = (canonical.result.fileName ?? path).padEnd(28);
    output.out(
      `   ${decisionLabel(output, d.decision)} ${name} ${paint(output, "dim", (d.rule ?? "(default)").padEnd(20))} ${d.reason}`,
    );
  }
  output.out(
    `\n   ${files.length} files: ${counts.allow} allow, ${counts.deny} deny, ${counts.review} review`,
  );
  output.out(
    paint(
      output,
      "dim",
      "\nnext: `pnpm clearance eval --input <file> --explain` shows why; `pnpm clearance --help` lists the commands",
    ),
  );
  return report.failed > 0 ? 1 : 0;
}

/**
 * Example results: every `*.json` file, except request contexts and bodies, the dry-run history, and
 * the corpus of real VirusTotal reports (`virustotal/real`), which is test material for the adapter
 * and holds a report over the input size limit.
 */
function listJson(dir: string): string[] {
  return findFiles(dir, (name) => name.endsWith(".json")).filter(
    (p) => !/[\\/](contexts|history|requests|virustotal[\\/]real)[\\/]/.test(p),
  );
}
