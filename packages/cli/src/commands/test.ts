import { readFileSync } from "node:fs";
import {
  DEFAULT_INPUT_LIMITS,
  type DecideOptions,
  type Decision,
  type Ruleset,
} from "@clearance/engine";
import {
  ConditionCoverage,
  type ConditionCoverageReport,
  percentOf,
  renderConditionCoverage,
} from "../coverage.js";
import { inputRoot, parseNow, readJson, readTextInside, toResult } from "../io.js";
import { CliError, type Output, paint } from "../output.js";
import { renderExplanation } from "../render.js";
import { loadRulesWithDiagnostics } from "../rules.js";
import { findTestFiles, parseTestFile, resolveInputPath, type TestCase } from "../testfile.js";

export interface TestOptions {
  /** report condition coverage too */
  coverage?: boolean;
  minCoverage?: number;
  minConditionCoverage?: number;
  json: boolean;
}

export interface TestReport {
  passed: number;
  failed: number;
  failures: { file: string; name: string; problems: string[] }[];
  coverage: {
    rules: number;
    covered: number;
    percent: number;
    uncovered: string[];
    /** with --coverage: the conditions' outcomes the cases saw */
    conditions?: ConditionCoverageReport;
  };
}

/**
 * Runs every `*.test.yaml` under `dir` against the rules in `dir`. With `conditions`, each case's
 * explanation is also counted there (condition coverage); its report is the caller's to make.
 */
export function runTests(
  ruleset: Ruleset,
  dir: string,
  output: Output,
  conditions?: ConditionCoverage,
): TestReport {
  const files = findTestFiles(dir);
  if (files.length === 0)
    throw new CliError(`no test files (*.test.yaml) under \`${dir}\``, "see docs/testing.md");
  const root = inputRoot(dir);
  const covered = new Set<string>();
  const report: TestReport = {
    passed: 0,
    failed: 0,
    failures: [],
    coverage: { rules: 0, covered: 0, percent: 0, uncovered: [] },
  };
  for (const path of files) {
    const file = parseTestFile(path, readFileSync(path, "utf8"));
    const maxBytes = file.maxInputBytes ?? DEFAULT_INPUT_LIMITS.maxBytes;
    const limit = { maxBytes, option: `\`maxInputBytes\` in \`${path}\`` };
    for (const c of file.cases) {
      const raw =
        typeof c.input === "string"
          ? readJson(
              resolveInputPath(path, c.input),
              "test input",
              readTextInside(
                resolveInputPath(path, c.input),
                root,
                "test input",
                maxBytes,
                limit.option,
              ),
              limit,
            )
          : c.input;
      const where =
        typeof c.input === "string"
          ? `input \`${c.input}\` of \`${c.name}\``
          : `the input of \`${c.name}\``;
      const canonical = toResult(raw, where, c.format, maxBytes);
      const now = parseNow(c.now ?? file.now, `\`now\` in \`${path}\` (case \`${c.name}\`)`);
      const context = c.context ?? file.context;
      const options: DecideOptions = {
        ...(context ? { context } : {}),
        ...(c.exception ? { exception: c.exception } : {}),
        ...(c.case ? { case: c.case } : {}),
        ...(now === undefined ? {} : { now }),
        explain: true,
      };
      const d = ruleset.decide(
        canonical.result,
        conditions ? { ...options, conditions: true } : options,
      );
      for (const r of [...d.matched, ...d.monitored]) covered.add(r);
      conditions?.record(d.explain!);
      const problems = compare(c, d);
      if (problems.length === 0) {
        report.passed++;
        continue;
      }
      report.failed++;
      report.failures.push({ file: path, name: c.name, problems });
      output.err(`${paint(output, ["bold", "red"], "FAIL")} ${path} › ${c.name}`);
      for (const p of problems) output.err(`  ${p}`);
      // A failure shows the explanation people read everywhere else: the coverage trace, with a
      // node for every operand, would print differently with --coverage than without. Failures
      // are few, so deciding again costs little.
      // (at the same instant: a case without `now` is decided at the current time)
      const shown = conditions
        ? ruleset.decide(canonical.result, { ...options, now: d.explain!.now })
        : d;
      output.err(renderExplanation(output, shown.explain!));
      output.err("");
    }
  }
  const names = ruleset.rules.map((r) => r.name);
  const uncovered = names.filter((n) => !covered.has(n));
  report.coverage = {
    rules: names.length,
    covered: names.length - uncovered.length,
    percent: percentOf(names.length - uncovered.length, names.length),
    uncovered,
  };
  return report;
}

function compare(c: TestCase, d: Decision): string[] {
  const problems: string[] = [];
  const e = c.expect;
  if (d.decision !== e.decision)
    problems.push(
      `decision: expected ${e.decision}, got ${d.decision} (rule ${d.rule ?? "default"}: ${d.reason})`,
    );
  if (e.rule !== undefined && d.rule !== e.rule)
    problems.push(`rule: expected ${e.rule ?? "the default"}, got ${d.rule ?? "the default"}`);
  if (e.reason !== undefined && d.reason !== e.reason)
    problems.push(`reason: expected "${e.reason}", got "${d.reason}"`);
  if (e.monitored !== undefined && JSON.stringify(d.monitored) !== JSON.stringify(e.monitored)) {
    problems.push(
      `monitored: expected [${e.monitored.join(", ")}], got [${d.monitored.join(", ")}]`,
    );
  }
  if (
    e.approvalForbiddenBy !== undefined &&
    JSON.stringify(d.approvalForbiddenBy) !== JSON.stringify(e.approvalForbiddenBy)
  ) {
    problems.push(
      `approvalForbiddenBy: expected [${e.approvalForbiddenBy.join(", ")}], got [${d.approvalForbiddenBy.join(", ")}]`,
    );
  }
  if (e.exception !== undefined && d.exception !== e.exception)
    problems.push(`exception: expected ${e.exception ?? "none"}, got ${d.exception ?? "none"}`);
  const errors = e.errors ?? 0;
  if (d.errors.length !== errors)
    problems.push(
      `errors: expected ${errors}, got ${d.errors.length}${d.errors.length ? ` (${d.errors.map((x) => `${x.rule}: ${x.message}`).join("; ")})` : ""}`,
    );
  return problems;
}

/**
 * `clearance test [dir]`: exit 1 when a case fails, rule coverage is below --min-coverage or
 * condition coverage below --min-condition-coverage.
 */
export function testCommand(output: Output, dir: string, options: TestOptions): number {
  const { ruleset, files } = loadRulesWithDiagnostics(output, dir, {}, true);
  // A gate on condition coverage needs it counted, and a failing gate must show what is missing.
  const withConditions = options.coverage === true || options.minConditionCoverage !== undefined;
  const conditions = withConditions ? new ConditionCoverage(ruleset.conditions()) : undefined;
  const report = runTests(ruleset, dir, output, conditions);
  if (conditions) report.coverage.conditions = conditions.report(files);
  const belowCoverage =
    options.minCoverage !== undefined && report.coverage.percent < options.minCoverage;
  const conditionPercent = report.coverage.conditions?.percent;
  const belowConditionCoverage =
    options.minConditionCoverage !== undefined &&
    conditionPercent !== undefined &&
    conditionPercent < options.minConditionCoverage;
  if (options.json) output.out(JSON.stringify(report, null, 2));
  else {
    const status =
      report.failed === 0
        ? paint(output, ["bold", "green"], "✓")
        : paint(output, ["bold", "red"], "✗");
    output.out(`${status} ${report.passed} passed, ${report.failed} failed`);
    const { covered, rules, percent, uncovered } = report.coverage;
    output.out(
      `coverage: ${covered}/${rules} rules matched by a test (${percent}%)${uncovered.length ? `; never matched: ${uncovered.join(", ")}` : ""}`,
    );
    if (report.coverage.conditions)
      output.out(renderConditionCoverage(output, report.coverage.conditions, files));
    if (belowCoverage)
      output.err(
        paint(
          output,
          "red",
          `coverage ${percent}% is below --min-coverage ${options.minCoverage}%`,
        ),
      );
    if (belowConditionCoverage)
      output.err(
        paint(
          output,
          "red",
          `condition coverage ${conditionPercent}% is below --min-condition-coverage ${options.minConditionCoverage}%`,
        ),
      );
  }
  return report.failed > 0 || belowCoverage || belowConditionCoverage ? 1 : 0;
}
