/**
 * Validation of canonical analysis results against `result-schema.json`, with explicit input limits.
 *
 * Order of checks: (1) one cheap iterative walk enforcing the limits (depth, array length, string
 * length, keys per object) and rejecting non-JSON values and cycles; (2) the JSON Schema, with every
 * problem listed. When the walk finds a problem the schema is not run: an input that breaks a limit
 * is not worth inspecting further, and the walk's problems are all reported.
 */

import { defaultsOf, resolveOptions, type Static, Type, Unlimited } from "@clearance/options";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import type { AnalysisResult } from "./result.js";
import schema from "./result-schema.json" with { type: "json" };

/** One problem with an input. */
export interface Problem {
  /** JSON Pointer (RFC 6901) to the offending value; "" for the root. */
  pointer: string;
  /** Lower case, no trailing period, user values in backticks. */
  message: string;
}

export type ValidationOutcome =
  | { ok: true; result: AnalysisResult }
  | { ok: false; problems: Problem[] };

/**
 * What an adapter from another format (VirusTotal, the platform) makes: a canonical result, not yet
 * validated, with warnings about what it could not read; or the problems, by JSON Pointer into the
 * adapter's input.
 */
export type AdapterOutcome =
  | { ok: true; result: AnalysisResult; warnings: string[] }
  | { ok: false; problems: Problem[] };

/** A limit: a non-negative count, or Infinity to turn it off. */
const limit = (fallback: number, description: string) =>
  Type.Union([Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), Unlimited], {
    default: fallback,
    description,
  });

/** Size limits applied to every input before it is inspected, declared once (type and defaults). */
const INPUT_LIMITS = Type.Object(
  {
    maxDepth: limit(
      32,
      "Maximum nesting depth of arrays and objects (the root object is depth 1).",
    ),
    maxArrayLength: limit(10_000, "Maximum number of items in one array."),
    maxStringLength: limit(
      65_536,
      "Maximum length of one string, property names included (UTF-16 code units).",
    ),
    maxKeys: limit(1_000, "Maximum number of properties in one object."),
    maxBytes: limit(1_048_576, "Maximum size of JSON text in UTF-8 bytes (only for text inputs)."),
  },
  { additionalProperties: false },
);

export type InputLimits = Static<typeof INPUT_LIMITS>;

export const DEFAULT_INPUT_LIMITS: Readonly<InputLimits> = defaultsOf(INPUT_LIMITS);

/**
 * Merges `limits` over the defaults. Throws a TypeError for an unknown key or a value that is not a
 * non-negative integer (or Infinity, to disable a limit).
 */
export function resolveInputLimits(limits?: Partial<InputLimits>): Readonly<InputLimits> {
  // the common case, on every validation: no limits given
  if (limits === undefined) return DEFAULT_INPUT_LIMITS;
  // a caller deciding many inputs (a dry-run, a server) passes the same frozen limits each time:
  // resolved once, not once per input
  const known = RESOLVED_LIMITS.get(limits);
  if (known) return known;
  const resolved = resolveOptions(INPUT_LIMITS, limits, { noun: "input limit" });
  if (Object.isFrozen(limits)) RESOLVED_LIMITS.set(limits, resolved);
  return resolved;
}

const RESOLVED_LIMITS = new WeakMap<Partial<InputLimits>, Readonly<InputLimits>>();

// ---------------------------------------------------------------------------------------------
// Date-time format (RFC 3339 `date-time`, and Date.parse must accept it)

/** True for an RFC 3339 date-time with real calendar values that `Date.parse` accepts. */
export function isRfc3339DateTime(text: string): boolean {
  // Character codes rather than a capturing regex: this runs for every timestamp of every
  // result, and allocating the captures cost more than the rest of validation.
  const n = text.length;
  if (n < 20) return false;
  const digits = (at: number, count: number): number => {
    let v = 0;
    for (let k = at; k < at + count; k++) {
      const c = text.charCodeAt(k) - 48;
      if (c < 0 || c > 9) return -1;
      v = v * 10 + c;
    }
    return v;
  };
  const year = digits(0, 4);
  const month = digits(5, 2);
  const day = digits(8, 2);
  const hour = digits(11, 2);
  const minute = digits(14, 2);
  const second = digits(17, 2);
  const sep = text.charCodeAt(10);
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || (sep !== 84 && sep !== 116))
    return false;
  if (text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return false;
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month))
    return false;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return false;
  let k = 19;
  if (text.charCodeAt(k) === 46 /* . */) {
    k++;
    const start = k;
    while (k < n && text.charCodeAt(k) >= 48 && text.charCodeAt(k) <= 57) k++;
    if (k === start) return false;
  }
  const zone = text.charCodeAt(k);
  if (zone === 90 || zone === 122) {
    if (k + 1 !== n) return false;
  } else if (zone === 43 || zone === 45) {
    if (k + 6 !== n || text.charCodeAt(k + 3) !== 58) return false;
    const zh = digits(k + 1, 2);
    const zm = digits(k + 4, 2);
    if (zh < 0 || zh > 23 || zm < 0 || zm > 59) return false;
  } else return false;
  return !Number.isNaN(Date.parse(text));
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

// ---------------------------------------------------------------------------------------------
// The schema, compiled once

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** The canonical result JSON Schema (draft 2020-12), deeply frozen. */
export const RESULT_SCHEMA = deepFreeze(schema);

// Compiled on first use: `clearance check` and `fmt` never validate a result, and compiling the
// schema is a good part of loading the engine.
let compiledValidator: ValidateFunction<AnalysisResult> | undefined;
function schemaValidator(): ValidateFunction<AnalysisResult> {
  if (!compiledValidator) {
    const ajv = new Ajv2020({
      allErrors: true,
      verbose: true,
      allowUnionTypes: true,
      strict: true,
    });
    ajv.addFormat("date-time", { type: "string", validate: isRfc3339DateTime });
    compiledValidator = ajv.compile<AnalysisResult>(RESULT_SCHEMA);
  }
  return compiledValidator;
}

// ---------------------------------------------------------------------------------------------
// Limits walk

interface WalkFrame {
  value: unknown;
  parent: WalkFrame | undefined;
  key: string;
  /** Number of arrays and objects enclosing `value`. */
  depth: number;
}

/** A JSON Pointer token (RFC 6901). */
export function escapePointerToken(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

function pointerOf(frame: WalkFrame): string {
  const tokens: string[] = [];
  for (let f: WalkFrame | undefined = frame; f?.parent !== undefined; f = f.parent) {
    tokens.push(escapePointerToken(f.key));
  }
  return tokens.length === 0 ? "" : `/${tokens.reverse().join("/")}`;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Checks `input` against the limits in one iterative walk (no recursion, so no stack overflow on
 * deep inputs), and rejects values JSON cannot represent (undefined outside an object property,
 * functions, symbols, bigints, non-finite numbers, class instances) and cycles. Returns every
 * problem, in document order; does not descend into a container that breaks a limit.
 */
export function checkInputLimits(input: unknown, limits: Readonly<InputLimits>): Problem[] {
  // Almost every input is plain JSON within the limits: confirm that without allocating, and
  // only walk again, collecting located problems, when it is not.
  if (withinLimits(input, limits, 0)) return [];
  const problems: Problem[] = [];
  const report = (frame: WalkFrame, message: string) =>
    problems.push({ pointer: pointerOf(frame), message });
  // Containers on the path from the root to the current value (cycle detection).
  const onPath = new Set<object>();
  // Shared (non-cyclic) references are walked again only when met deeper than before.
  const walkedAtDepth = new Map<object, number>();
  const stack: (WalkFrame | { leave: object } | { note: string; at: WalkFrame })[] = [
    { value: input, parent: undefined, key: "", depth: 0 },
  ];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    if ("leave" in frame) {
      onPath.delete(frame.leave);
      continue;
    }
    if ("note" in frame) {
      report(frame.at, frame.note);
      continue;
    }
    const value = frame.value;
    switch (typeof value) {
      case "string":
        if (value.length > limits.maxStringLength) {
          report(
            frame,
            `string has ${value.length} characters, more than the limit of ${limits.maxStringLength}`,
          );
        }
        continue;
      case "number":
        if (!Number.isFinite(value)) report(frame, `\`${value}\` is not a JSON number`);
        continue;
      case "boolean":
        continue;
      case "undefined":
        report(frame, "`undefined` is not a JSON value");
        continue;
      case "bigint":
      case "symbol":
      case "function":
        report(frame, `a ${typeof value} is not a JSON value`);
        continue;
    }
    if (value === null) continue;
    const container = value as object;
    const isArray = Array.isArray(container);
    if (!isArray && !isPlainObject(container)) {
      const name = (container as { constructor?: { name?: unknown } }).constructor?.name;
      report(
        frame,
        `${typeof name === "string" && name !== "" ? `\`${name}\`` : "an exotic"} object is not a JSON value`,
      );
      continue;
    }
    if (onPath.has(container)) {
      report(frame, "circular reference");
      continue;
    }
    const seenDepth = walkedAtDepth.get(container);
    if (seenDepth !== undefined && seenDepth >= frame.depth) continue;
    walkedAtDepth.set(container, frame.depth);
    if (frame.depth + 1 > limits.maxDepth) {
      report(frame, `nesting depth exceeds the limit of ${limits.maxDepth}`);
      continue;
    }
    const childDepth = frame.depth + 1;
    if (isArray) {
      const array = container as unknown[];
      if (array.length > limits.maxArrayLength) {
        report(
          frame,
          `array has ${array.length} items, more than the limit of ${limits.maxArrayLength}`,
        );
        continue;
      }
      onPath.add(container);
      stack.push({ leave: container });
      for (let i = array.length - 1; i >= 0; i--) {
        stack.push({ value: array[i], parent: frame, key: String(i), depth: childDepth });
      }
      continue;
    }
    const keys = Object.keys(container);
    if (keys.length > limits.maxKeys) {
      report(
        frame,
        `object has ${keys.length} properties, more than the limit of ${limits.maxKeys}`,
      );
      continue;
    }
    onPath.add(container);
    stack.push({ leave: container });
    const record = container as Record<string, unknown>;
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      const child = record[key];
      const childFrame: WalkFrame = { value: child, parent: frame, key, depth: childDepth };
      // An undefined property is what JSON.stringify drops: treat it as absent.
      if (child !== undefined) stack.push(childFrame);
      if (key.length > limits.maxStringLength) {
        // Popped before the property's value: reported in document order.
        stack.push({
          note: `property name has ${key.length} characters, more than the limit of ${limits.maxStringLength}`,
          at: childFrame,
        });
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Schema errors -> problems

const MAX_SHOWN = 60;

/** A value in backticks for a message, cut at 60 characters; the adapters share it. */
export function show(value: unknown): string {
  let text = typeof value === "string" ? value : JSON.stringify(value);
  if (text === undefined) text = String(value);
  if (text.length > MAX_SHOWN) text = `${text.slice(0, MAX_SHOWN)}…`;
  return `\`${text}\``;
}

/** The value, described for a message; never throws (bigints, symbols, cycles). */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  switch (typeof value) {
    case "string":
      return `the string ${show(value)}`;
    case "number":
    case "boolean":
    case "bigint":
      return `the ${typeof value} ${show(String(value))}`;
    case "object":
      return "an object";
    default:
      return `a ${typeof value}`;
  }
}

const TYPE_NAMES: Record<string, string> = {
  string: "a string",
  number: "a number",
  integer: "an integer",
  boolean: "a boolean",
  object: "an object",
  array: "an array",
  null: "null",
};

function typeNames(type: unknown): string {
  const list = Array.isArray(type) ? type : String(type).split(",");
  return list.map((t) => TYPE_NAMES[String(t)] ?? String(t)).join(" or ");
}

function toProblem(error: ErrorObject): Problem {
  const pointer = error.instancePath;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required": {
      const property = String(params.missingProperty);
      return {
        pointer: `${pointer}/${escapePointerToken(property)}`,
        message: `required property \`${property}\` is missing`,
      };
    }
    case "type":
      return { pointer, message: `must be ${typeNames(params.type)}, got ${describe(error.data)}` };
    case "enum": {
      const allowed = (params.allowedValues as unknown[]).map(show).join(", ");
      return { pointer, message: `must be one of ${allowed}, got ${show(error.data)}` };
    }
    case "minimum":
      return { pointer, message: `must be at least ${params.limit}, got ${show(error.data)}` };
    case "maximum":
      return { pointer, message: `must be at most ${params.limit}, got ${show(error.data)}` };
    case "pattern":
      if (pointer === "/sha256") {
        return { pointer, message: `must be 64 hexadecimal digits, got ${show(error.data)}` };
      }
      return {
        pointer,
        message: `must match the pattern \`${params.pattern}\`, got ${show(error.data)}`,
      };
    case "format":
      return {
        pointer,
        message: `must be an RFC 3339 date-time such as \`2026-01-31T09:30:00Z\`, got ${show(error.data)}`,
      };
    default:
      return { pointer, message: (error.message ?? `fails \`${error.keyword}\``).toLowerCase() };
  }
}

// ---------------------------------------------------------------------------------------------
// Public entry points

/** A child value: short strings and numbers (most of a result) are checked without recursing. */
function leafOk(v: unknown, limits: Readonly<InputLimits>, depth: number): boolean {
  if (typeof v === "string") return v.length <= limits.maxStringLength;
  if (typeof v === "number") return Number.isFinite(v);
  return withinLimits(v, limits, depth + 1);
}

/**
 * True when `value` is plain JSON data (plain objects and arrays, finite numbers, strings,
 * booleans, null) within every limit. Recursion is bounded by `maxDepth`, so a cycle returns false
 * and the full walk reports it.
 */
function withinLimits(value: unknown, limits: Readonly<InputLimits>, depth: number): boolean {
  switch (typeof value) {
    case "string":
      return value.length <= limits.maxStringLength;
    case "number":
      return Number.isFinite(value);
    case "boolean":
      return true;
    case "object": {
      if (value === null) return true;
      if (depth + 1 > limits.maxDepth) return false;
      if (Array.isArray(value)) {
        if (value.length > limits.maxArrayLength) return false;
        for (let i = 0; i < value.length; i++) if (!leafOk(value[i], limits, depth)) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      let keys = 0;
      for (const key in value) {
        if (++keys > limits.maxKeys || key.length > limits.maxStringLength) return false;
        if (!leafOk((value as Record<string, unknown>)[key], limits, depth)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/**
 * Validates a canonical analysis result. On success the result is the input itself, or a shallow
 * copy with `sha256` in lower case when it was not; the input is never mutated. Unknown extra
 * properties are kept. Throws only for invalid `limits` (TypeError).
 */
export function validateResult(input: unknown, limits?: Partial<InputLimits>): ValidationOutcome {
  const resolved = resolveInputLimits(limits);
  const limitProblems = checkInputLimits(input, resolved);
  if (limitProblems.length > 0) return { ok: false, problems: limitProblems };
  const validate = schemaValidator();
  if (!validate(input)) {
    return { ok: false, problems: (validate.errors ?? []).map(toProblem) };
  }
  const sha256 = input.sha256.toLowerCase();
  const result = sha256 === input.sha256 ? input : { ...input, sha256 };
  validated.add(result);
  return { ok: true, result };
}

/**
 * Results that passed validation. `decide` checks membership (a few nanoseconds) instead of
 * validating again, so results validated once at ingestion are decided at full speed, and an
 * unvalidated object is still never half-evaluated.
 */
const validated = new WeakSet<object>();

export function isValidated(result: unknown): boolean {
  return typeof result === "object" && result !== null && validated.has(result);
}

export type JsonParseOutcome = { ok: true; value: unknown } | { ok: false; problems: Problem[] };

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

function lineAndColumn(text: string, position: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < position && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return `line ${line}, column ${position - lineStart + 1}`;
}

/**
 * Parses JSON text under the `maxBytes` limit (a leading byte-order mark is ignored). Syntax errors
 * are reported as one problem at the root. Does not apply the other limits.
 */
export function parseJsonText(text: string, limits?: Partial<InputLimits>): JsonParseOutcome {
  const { maxBytes } = resolveInputLimits(limits);
  if (typeof text !== "string") {
    return {
      ok: false,
      problems: [{ pointer: "", message: `expected JSON text, got ${describe(text)}` }],
    };
  }
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  // A UTF-16 code unit is at least one UTF-8 byte: the length is a cheap lower bound.
  if (body.length > maxBytes) {
    const message = `input is at least ${body.length} bytes, more than the limit of ${maxBytes}`;
    return { ok: false, problems: [{ pointer: "", message }] };
  }
  const bytes = utf8Length(body);
  if (bytes > maxBytes) {
    const message = `input is ${bytes} bytes, more than the limit of ${maxBytes}`;
    return { ok: false, problems: [{ pointer: "", message }] };
  }
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch (error) {
    let detail = error instanceof Error ? error.message : String(error);
    detail = detail.replace(/\.$/, "");
    detail = detail.charAt(0).toLowerCase() + detail.slice(1);
    const position = /at position (\d+)/.exec(detail);
    if (position !== null && !/\(line \d+ column \d+\)/.test(detail)) {
      detail += ` (${lineAndColumn(body, Number(position[1]))})`;
    }
    return { ok: false, problems: [{ pointer: "", message: `malformed JSON: ${detail}` }] };
  }
}

/** Parses JSON text (see `parseJsonText`) and validates it as a canonical result. */
export function parseResultJson(text: string, limits?: Partial<InputLimits>): ValidationOutcome {
  const parsed = parseJsonText(text, limits);
  if (!parsed.ok) return parsed;
  return validateResult(parsed.value, limits);
}
