import { type Diagnostic, formatDiagnostic } from "@clearance/dsl";
import { expect } from "vitest";
import {
  type CompileOptions,
  compile,
  type DecideOptions,
  type Decision,
  type Ruleset,
  validateResult,
} from "../src/index.js";

export const SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
export const NOW = Date.parse("2026-11-26T12:00:00Z");

/** Compiles rule text (one file, `test.rules`); fails the test with printed diagnostics on errors. */
export function rules(
  text: string,
  options: CompileOptions & { files?: Record<string, string> } = {},
): Ruleset {
  const { files, ...compileOptions } = options;
  if (files)
    compileOptions.loadList = (path) =>
      files[path] ??
      (() => {
        throw new Error("no such file");
      })();
  const result = compile([{ path: "test.rules", text }], { now: NOW, ...compileOptions });
  if (!result.ruleset) {
    const printed = result.diagnostics
      .map((d) => formatDiagnostic(d, (p) => result.files.get(p)))
      .join("\n");
    throw new Error(`rules did not compile:\n${printed}`);
  }
  return result.ruleset;
}

/** Diagnostics of rule text, each as {code, at: the underlined text, help}. */
export function diagnosticsOf(
  text: string,
  options: CompileOptions = {},
): { code: string; at: string; help?: string; severity: string; message: string }[] {
  const result = compile([{ path: "test.rules", text }], { now: NOW, ...options });
  return result.diagnostics.map((d: Diagnostic) => {
    const source = result.files.get(d.span.file)?.text ?? "";
    const out: { code: string; at: string; help?: string; severity: string; message: string } = {
      code: d.code,
      at: source.slice(d.span.start, d.span.end),
      severity: d.severity,
      message: d.message,
    };
    if (d.help) out.help = d.help;
    return out;
  });
}

export function result(fields: Record<string, unknown> = {}): Record<string, unknown> {
  const v = validateResult({ sha256: SHA, ...fields });
  if (!v.ok) throw new Error(`bad test input: ${JSON.stringify(v.problems)}`);
  return v.result as Record<string, unknown>;
}

export function decide(
  ruleset: Ruleset,
  input: Record<string, unknown>,
  options: DecideOptions = {},
): Decision {
  return ruleset.decide(result(input), { now: NOW, ...options });
}

/**
 * The value of one condition on one input: "true", "false", "unknown" or "error", computed by the
 * compiled evaluator and by the explaining interpreter, which must agree.
 */
export function truth(
  condition: string,
  input: Record<string, unknown>,
  decls = "",
  options: DecideOptions = {},
): string {
  const rs = rules(
    `${decls}\ndefault allow "none"\non-error ignore\nrule t {\n  when ${condition}\n  deny "hit"\n}\n`,
  );
  const fast = decide(rs, input, options);
  const slow = decide(rs, input, { ...options, explain: true });
  const outcome = slow.explain!.rules.find((r) => r.rule === "t")!.outcome;
  const fastOutcome =
    fast.errors.length > 0 ? "error" : fast.decision === "deny" ? "matched" : "not";
  const slowOutcome = outcome === "matched" ? "matched" : outcome === "error" ? "error" : "not";
  expect(fastOutcome, `compiled and interpreted disagree on \`${condition}\``).toBe(slowOutcome);
  return outcome === "matched" ? "true" : outcome === "not_matched" ? "false" : outcome;
}
