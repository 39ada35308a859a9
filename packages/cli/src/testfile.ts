import { dirname, resolve } from "node:path";
import { findFiles } from "@clearance/engine";
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
  now?: string;
  expect: {
    decision: "allow" | "deny" | "review";
    rule?: string | null;
    reason?: string;
    monitored?: string[];
    errors?: number;
  };
}

export interface TestFile {
  path: string;
  now?: string;
  context?: Record<string, unknown>;
  cases: TestCase[];
}

const decision = { enum: ["allow", "deny", "review"] };
const SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["cases"],
  properties: {
    now: { type: "string" },
    context: { type: "object" },
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
    const problems = (validate.errors ?? []).map((e) => {
      const where = e.instancePath || "/";
      if (e.keyword === "additionalProperties")
        return `  ${where}: unknown key \`${(e.params as { additionalProperty: string }).additionalProperty}\``;
      if (e.keyword === "enum")
        return `  ${where}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => `\`${String(v)}\``).join(", ")}`;
      return `  ${where}: ${e.message}`;
    });
    throw new CliError(
      `test file \`${path}\` is invalid:\n${[...new Set(problems)].join("\n")}`,
      "see docs/testing.md for the test file format",
    );
  }
  return { path, ...(value as Omit<TestFile, "path">) };
}

export function resolveInputPath(testFile: string, input: string): string {
  return resolve(dirname(testFile), input);
}
