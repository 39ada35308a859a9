import { dirname, resolve } from "node:path";
import { type CaseInput, type ExceptionInput, findFiles, Ruleset } from "@clearance/engine";
import { Ajv } from "ajv";
import { parseDocument } from "yaml";
import { CliError } from "./output.js";

/** One test case: an input, optional context and time, and what the rules must decide. */
export interface TestCase {
  name: string;
  /** an inline result, or a path relative to the test file */
  input: string | Record<string, unknown>;
  format?: "canonical" | "virustotal";
  context?: Record<string, unknown>;
  /** the exception that applies (`exception.*` in the rules), as `decide` takes it */
  exception?: ExceptionInput;
  /** the file's review case (`case.*` in the rules) */
  case?: CaseInput;
  now?: string;
  expect: {
    decision: "allow" | "deny" | "review";
    rule?: string | null;
    reason?: string;
    monitored?: string[];
    approvalForbiddenBy?: string[];
    exception?: string | null;
    errors?: number;
  };
}

export interface TestFile {
  path: string;
  now?: string;
  /** the largest input file read, in bytes (eval's `--max-input-bytes`) */
  maxInputBytes?: number;
  context?: Record<string, unknown>;
  cases: TestCase[];
}

const decision = { enum: ["allow", "deny", "review"] };
/** The most `maxInputBytes` may raise the input limit to: 256 MiB, as eval's option. */
const MAX_INPUT_BYTES = 256 * 1024 * 1024;
const SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["cases"],
  properties: {
    now: { type: "string" },
    context: { type: "object" },
    maxInputBytes: { type: "integer", minimum: 1, maximum: MAX_INPUT_BYTES },
    cases: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name", "input", "expect"],
        properties: {
          name: { type: "string", minLength: 1 },
          input: { anyOf: [{ type: "string" }, { type: "object" }] },
          format: { enum: ["canonical", "virustotal"] },
          context: { type: "object" },
          // their fields are checked below, against the one declaration decide uses
          exception: { type: "object" },
          case: { type: "object" },
          now: { type: "string" },
          expect: {
            type: "object",
            additionalProperties: false,
            required: ["decision"],
            properties: {
              decision,
              rule: { type: ["string", "null"] },
              reason: { type: "string" },
              monitored: { type: "array", items: { type: "string" } },
              approvalForbiddenBy: { type: "array", items: { type: "string" } },
              exception: { type: ["string", "null"] },
              errors: { type: "integer", minimum: 0 },
            },
          },
        },
      },
    },
  },
} as const;

const validate = new Ajv({ allErrors: true, strict: true }).compile(SCHEMA);

export function findTestFiles(dir: string): string[] {
  return findFiles(dir, (name) => /\.test\.ya?ml$/.test(name));
}

/** Parses and validates a test file; an unknown key or a bad value names its place. */
export function parseTestFile(path: string, text: string): TestFile {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0)
    throw new CliError(
      `test file \`${path}\` is not valid YAML:\n${doc.errors.map((e) => `  ${e.message}`).join("\n")}`,
    );
  const value = doc.toJS() as unknown;
  if (!validate(value)) {
    const problems: string[] = (validate.errors ?? []).map((e) => {
      const where = e.instancePath || "/";
      if (e.keyword === "additionalProperties")
        return `  ${where}: unknown key \`${(e.params as { additionalProperty: string }).additionalProperty}\``;
      if (e.keyword === "enum")
        return `  ${where}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => `\`${String(v)}\``).join(", ")}`;
      return `  ${where}: ${e.message}`;
    });
    throw invalid(path, problems);
  }
  const file = value as Omit<TestFile, "path">;
  const problems: string[] = [];
  file.cases.forEach((c, i) => {
    for (const root of ["exception", "case"] as const) {
      for (const p of Ruleset.checkBuiltin(root, c[root]))
        problems.push(`  /cases/${i}/${root}${p.pointer}: ${p.message}`);
    }
  });
  if (problems.length > 0) throw invalid(path, problems);
  return { path, ...file };
}

function invalid(path: string, problems: string[]): CliError {
  return new CliError(
    `test file \`${path}\` is invalid:\n${[...new Set(problems)].join("\n")}`,
    "see docs/testing.md for the test file format",
  );
}

export function resolveInputPath(testFile: string, input: string): string {
  return resolve(dirname(testFile), input);
}
