// Validates a CEF record against the extension dictionary transcribed from "Implementing ArcSight
// CEF" version 25 (test/schemas/cef-v25-extension-keys.json): the header's eight fields, their
// escaping and sizes, a severity of 0-10 or the standard's words, every extension key in the
// dictionary and used once, each value of its data type and within its length, and every custom
// field (cs<n>, cn<n>, flexString<n>, ...) together with its label.

import { readFileSync } from "node:fs";
import { parseCef } from "./cef-parse.js";

interface CefKeyDefinition {
  fullName: string;
  type: "String" | "Integer" | "Long" | "Time Stamp" | "IPv4 Address" | "Floating Point";
  maxLength?: number;
}
export interface CefDictionary {
  header: Record<
    "deviceVendor" | "deviceProduct" | "deviceVersion" | "deviceEventClassId" | "name",
    number
  >;
  severities: string[];
  labelled: [string, string][];
  keys: Record<string, CefKeyDefinition>;
}

export function loadCefDictionary(): CefDictionary {
  const url = new URL("../schemas/cef-v25-extension-keys.json", import.meta.url);
  return JSON.parse(readFileSync(url, "utf8")) as CefDictionary;
}

const HEADER_NAMES = [
  "deviceVendor",
  "deviceProduct",
  "deviceVersion",
  "deviceEventClassId",
  "name",
] as const;
const INT32 = 2 ** 31;
// The standard's formats for a Time Stamp: milliseconds since the epoch, or `MMM dd yyyy HH:mm:ss`
// with optional milliseconds and zone (and the same without the year).
const TIMESTAMP =
  /^(\d+|[A-Z][a-z]{2} \d{2}( \d{4})? \d{2}:\d{2}:\d{2}(\.\d{3})?( [A-Za-z0-9+:/_-]+)?)$/;

export function validateCef(dictionary: CefDictionary, line: string): string[] {
  const { header, extensions, problems } = parseCef(line);
  const errors = [...problems];
  if (header[0] !== "CEF:0")
    errors.push(`the record starts with ${JSON.stringify(header[0])}, not CEF:0`);
  HEADER_NAMES.forEach((name, n) => {
    const value = header[n + 1] ?? "";
    if (value === "") errors.push(`header ${name} is empty`);
    if (Array.from(value).length > dictionary.header[name]) {
      errors.push(`header ${name} is longer than ${dictionary.header[name]} characters`);
    }
  });
  const severity = header[6] ?? "";
  if (!(/^(10|\d)$/.test(severity) || dictionary.severities.includes(severity))) {
    errors.push(
      `severity ${JSON.stringify(severity)} is not 0-10 or ${dictionary.severities.join(", ")}`,
    );
  }
  const seen = new Map<string, string>();
  for (const [key, value] of extensions) {
    if (seen.has(key)) errors.push(`${key} appears twice`);
    seen.set(key, value);
    const definition = dictionary.keys[key];
    if (!definition) {
      errors.push(`${key} is not a key of the CEF extension dictionary`);
      continue;
    }
    const problem = valueProblem(definition, value);
    if (problem) errors.push(`${key} (${definition.fullName}) ${problem}`);
  }
  for (const [field, label] of dictionary.labelled) {
    if (seen.has(field) && !seen.has(label)) errors.push(`${field} has no ${label}`);
    if (seen.has(label) && !seen.has(field)) errors.push(`${label} labels no ${field}`);
  }
  return errors;
}

function valueProblem(definition: CefKeyDefinition, value: string): string | null {
  switch (definition.type) {
    case "String":
      return definition.maxLength !== undefined && Array.from(value).length > definition.maxLength
        ? `is longer than ${definition.maxLength} characters`
        : null;
    case "Integer":
      return /^-?\d+$/.test(value) && Math.abs(Number(value)) < INT32
        ? null
        : `${JSON.stringify(value)} is not an Integer`;
    case "Long":
      return /^-?\d+$/.test(value) && Number.isSafeInteger(Number(value))
        ? null
        : `${JSON.stringify(value)} is not a Long`;
    case "Time Stamp":
      return TIMESTAMP.test(value) ? null : `${JSON.stringify(value)} is not a Time Stamp`;
    case "Floating Point":
      return Number.isFinite(Number(value)) && value.trim() !== ""
        ? null
        : `${JSON.stringify(value)} is not a number`;
    case "IPv4 Address":
      return /^(\d{1,3})(\.\d{1,3}){3}$/.test(value)
        ? null
        : `${JSON.stringify(value)} is not an IPv4 address`;
  }
}
