/**
 * One resolver for every package's options. An options object is declared once with TypeBox: the
 * declaration is the TypeScript type (`Static<typeof X>`), the JSON Schema and the defaults. The
 * resolver walks the declaration and the input together: it fills in defaults (nested objects and
 * array items included), names every unknown key with the keys it knows, and checks types, ranges,
 * lengths, patterns and enums, each problem in one message style (docs/diagnostics.md).
 *
 * It reads the JSON Schema keywords TypeBox writes for plain data (`type`, `properties`,
 * `required`, `additionalProperties`, `items`, `anyOf`, `enum`, `const`, the numeric and string
 * bounds) plus `type: "function"`; a declaration with no `type` (`Type.Unknown()`) accepts
 * anything, for values only the package itself can check (a stream, an AbortSignal).
 */
import { type Static, type TSchema, Type } from "typebox";

/**
 * `Infinity` as a value of its own, for a limit that may be turned off: `Type.Union([
 * Type.Integer({ minimum: 0 }), Unlimited])`. JSON has no Infinity, so such a declaration is for
 * options given in code, never for a configuration file.
 */
export const Unlimited = Type.Unsafe<number>({ const: Number.POSITIVE_INFINITY });

/** A JSON Schema node as TypeBox writes it (only the keywords the resolver reads). */
export interface SchemaNode {
  type?: string | readonly string[];
  properties?: Record<string, SchemaNode>;
  required?: readonly string[];
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  anyOf?: readonly SchemaNode[];
  enum?: readonly unknown[];
  const?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
}

export type PathSegment = string | number;

/** The JSON Schema keyword a value failed, or `unknown_key` for a key the declaration lacks. */
export type IssueKind =
  | "unknown_key"
  | "required"
  | "type"
  | "minimum"
  | "maximum"
  | "exclusiveMinimum"
  | "exclusiveMaximum"
  | "minLength"
  | "maxLength"
  | "pattern"
  | "enum"
  | "const"
  | "anyOf"
  | "minItems"
  | "maxItems"
  | "uniqueItems";

/** One problem with an input, as data: packages with an older wording format it themselves. */
export interface Issue {
  kind: IssueKind;
  /** to the offending value; for `unknown_key` and `required`, to the key */
  path: readonly PathSegment[];
  /** the value found (undefined for `required`) */
  value: unknown;
  /** the declaration the value failed (for `unknown_key`, the object's) */
  schema: SchemaNode;
  /** the declaration also allows `null` */
  nullable: boolean;
  /** the union (`anyOf`) the value was checked against the one fitting branch of */
  union?: SchemaNode;
  /** `unknown_key`: the keys the object declares */
  known?: readonly string[];
  /** `uniqueItems`: the earlier index of the repeated item */
  duplicateOf?: number;
}

// ---------------------------------------------------------------------------------------------
// Paths and values in messages

/** `["auth", "keys", 0, "id"]` -> `auth.keys[0].id`. */
export function keyPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? p : `.${p}`;
  return out;
}

/** A value as a message shows it: scalars in backticks, containers by kind. */
export function showValue(value: unknown): string {
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  if (value !== null && typeof value === "object") return "an object";
  return `\`${String(value)}\``;
}

const isSafeBound = (n: number | undefined): n is number =>
  n !== undefined && Math.abs(n) < Number.MAX_SAFE_INTEGER;

function range(what: string, schema: SchemaNode): string {
  const min = isSafeBound(schema.minimum) ? schema.minimum : undefined;
  const max = isSafeBound(schema.maximum) ? schema.maximum : undefined;
  if (min !== undefined && max !== undefined) return `${what} from ${min} to ${max}`;
  if (what === "an integer" && max === undefined) {
    if (min === 1) return "a positive integer";
    if (min === 0) return "a non-negative integer";
  }
  if (min !== undefined) return `${what} of at least ${min}`;
  if (max !== undefined) return `${what} of at most ${max}`;
  if (schema.exclusiveMinimum !== undefined) return `${what} above ${schema.exclusiveMinimum}`;
  return what;
}

/** What a declaration accepts, in words: `an integer from 1 to 100`, `one of \`a\`, \`b\``. */
export function expectation(schema: SchemaNode): string {
  if (schema.anyOf) return schema.anyOf.map(expectation).join(" or ");
  if ("const" in schema)
    return typeof schema.const === "string" ? `\`${schema.const}\`` : String(schema.const);
  if (schema.enum) return `one of ${schema.enum.map((v) => `\`${String(v)}\``).join(", ")}`;
  const types = typeof schema.type === "string" ? [schema.type] : (schema.type ?? []);
  const one = (type: string): string => {
    switch (type) {
      case "integer":
        return range("an integer", schema);
      case "number":
        return range("a number", schema);
      case "string":
        if (schema.pattern !== undefined) return `a string matching \`${schema.pattern}\``;
        if (schema.minLength === 1) return "a non-empty string";
        if (schema.minLength !== undefined)
          return `a string of at least ${schema.minLength} characters`;
        return "a string";
      case "boolean":
        return "a boolean";
      case "null":
        return "null";
      case "object":
        return "an object";
      case "array":
        return schema.maxItems !== undefined
          ? `an array of at most ${schema.maxItems} items`
          : "an array";
      case "function":
        return "a function";
      default:
        return type;
    }
  };
  return types.length === 0 ? "any value" : types.map(one).join(" or ");
}

/** What the value at an issue should have been: the declaration's words, its union's if any. */
export function expected(issue: Issue): string {
  if (issue.union) return expectation(issue.union);
  return issue.nullable ? `${expectation(issue.schema)} or null` : expectation(issue.schema);
}

/**
 * An issue in the shared style. `noun` names what the keys are (`option`, `limit`,
 * `PlatformClient option`): `unknown limit \`x\` (known: a, b)`, `limit \`x\` must be a positive
 * integer, got \`0\``; at the root, `limits must be an object, got \`null\``.
 */
export function formatIssue(issue: Issue, noun = "key"): string {
  const at = keyPath(issue.path);
  if (issue.kind === "unknown_key") {
    const known = issue.known ?? [];
    const key = String(issue.path[issue.path.length - 1]);
    const near = closest(key, known);
    return `unknown ${noun} \`${at}\` (known: ${known.join(", ")})${near ? `; did you mean \`${keyPath([...issue.path.slice(0, -1), near])}\`?` : ""}`;
  }
  if (issue.kind === "required") return `${noun} \`${at}\` is required`;
  const subject = at === "" ? `${noun}s` : `${noun} \`${at}\``;
  if (issue.kind === "uniqueItems")
    return `${subject} must not repeat an item (items ${issue.duplicateOf} and ${String(issue.path.at(-1))} are the same)`;
  return `${subject} must be ${expected(issue)}, got ${showValue(issue.value)}`;
}

/** The known key nearest to `key` (edit distance at most a third of its length), if any. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const d = distance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/** Edit distance, a swap of two neighbours counting as one edit (`nmae` is one from `name`). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}

// ---------------------------------------------------------------------------------------------
// The walk

interface Walk {
  issues: Issue[];
  freeze: boolean;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function typesOf(schema: SchemaNode): readonly string[] {
  return typeof schema.type === "string" ? [schema.type] : (schema.type ?? []);
}

/** A default is data: each use gets its own copy, so no resolved value shares one. */
function copy(value: unknown): unknown {
  return value === null || typeof value !== "object" ? value : structuredClone(value);
}

/** Whether a value is of the kind a declaration takes (its type, const or enum), bounds aside. */
function fits(schema: SchemaNode, value: unknown): boolean {
  if ("const" in schema) return Object.is(value, schema.const);
  if (schema.enum) return schema.enum.includes(value);
  if (schema.anyOf) return schema.anyOf.some((branch) => fits(branch, value));
  const types = typesOf(schema);
  if (types.length === 0) return true;
  return types.some((type) => {
    switch (type) {
      case "null":
        return value === null;
      case "array":
        return Array.isArray(value);
      case "object":
        return isPlainObject(value);
      case "integer":
      case "number":
        return typeof value === "number";
      default:
        return typeof value === type;
    }
  });
}

function walk(
  schema: SchemaNode,
  value: unknown,
  path: PathSegment[],
  w: Walk,
  nullable = false,
  union?: SchemaNode,
): unknown {
  const issue = (kind: IssueKind, extra: Partial<Issue> = {}) =>
    w.issues.push({
      kind,
      path: [...path],
      value,
      schema,
      nullable,
      ...(union === undefined ? {} : { union }),
      ...extra,
    });

  if (schema.anyOf) {
    for (const branch of schema.anyOf) {
      if (!fits(branch, value)) continue;
      const trial: Walk = { issues: [], freeze: w.freeze };
      const out = walk(branch, value, path, trial);
      if (trial.issues.length === 0) return out;
    }
    // One branch takes this kind of value (`X or null` given an X, `an object or false` given an
    // object): its problems are the value's, named in its words, the union's in the message.
    const fitting = schema.anyOf.filter((branch) => fits(branch, value));
    if (fitting.length === 1) {
      const orNull = schema.anyOf.some((b) => typesOf(b).length === 1 && b.type === "null");
      return walk(fitting[0]!, value, path, w, orNull, schema);
    }
    issue("anyOf");
    return value;
  }
  if ("const" in schema) {
    if (!Object.is(value, schema.const) && value !== schema.const) issue("const");
    return value;
  }
  if (schema.enum) {
    if (!schema.enum.includes(value)) issue("enum");
    return value;
  }
  let types = typesOf(schema);
  if (types.length > 1) {
    if (value === null && types.includes("null")) return value;
    nullable ||= types.includes("null");
    types = types.filter((t) => t !== "null");
    // a union of several non-null types is not used by any declaration: check the first
    if (types.length > 0) return walk({ ...schema, type: types[0]! }, value, path, w, nullable);
  }
  switch (types[0]) {
    case undefined:
      return value;
    case "null":
      if (value !== null) issue("type");
      return value;
    case "boolean":
      if (typeof value !== "boolean") issue("type");
      return value;
    case "function":
      if (typeof value !== "function") issue("type");
      return value;
    case "string":
      if (typeof value !== "string") {
        issue("type");
        return value;
      }
      {
        // characters as JSON Schema counts them: code points
        const length = [...value].length;
        if (schema.minLength !== undefined && length < schema.minLength) issue("minLength");
        if (schema.maxLength !== undefined && length > schema.maxLength) issue("maxLength");
        if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value))
          issue("pattern");
      }
      return value;
    case "number":
    case "integer":
      // Infinity is not JSON: a declaration that allows it says so with a `const` branch
      if (typeof value !== "number" || !Number.isFinite(value)) {
        issue("type");
        return value;
      }
      if (types[0] === "integer" && !Number.isInteger(value)) issue("type");
      if (schema.minimum !== undefined && value < schema.minimum) issue("minimum");
      if (schema.maximum !== undefined && value > schema.maximum) issue("maximum");
      if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum)
        issue("exclusiveMinimum");
      if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum)
        issue("exclusiveMaximum");
      return value;
    case "array": {
      if (!Array.isArray(value)) {
        issue("type");
        return value;
      }
      if (schema.minItems !== undefined && value.length < schema.minItems) issue("minItems");
      if (schema.maxItems !== undefined && value.length > schema.maxItems) {
        // an over-long array is not inspected item by item
        issue("maxItems");
        return value;
      }
      const out = value.map((item, i) =>
        schema.items ? walk(schema.items, item, [...path, i], w) : item,
      );
      if (schema.uniqueItems) {
        const seen = new Map<string, number>();
        out.forEach((item, i) => {
          const key = JSON.stringify(item);
          const first = seen.get(key);
          if (first === undefined) seen.set(key, i);
          else
            w.issues.push({
              kind: "uniqueItems",
              path: [...path, i],
              value: item,
              schema,
              nullable,
              duplicateOf: first,
            });
        });
      }
      return w.freeze ? Object.freeze(out) : out;
    }
    case "object": {
      if (!isPlainObject(value)) {
        issue("type");
        return value;
      }
      const properties = schema.properties ?? {};
      const known = Object.keys(properties);
      const out: Record<string, unknown> = {};
      const required = new Set(schema.required ?? []);
      // missing keys first, then unknown ones, then the values: JSON Schema validators' order
      for (const [key, child] of Object.entries(properties))
        if (
          value[key] === undefined &&
          required.has(key) &&
          !("default" in child) &&
          typesOf(child)[0] !== "object"
        )
          w.issues.push({
            kind: "required",
            path: [...path, key],
            value: undefined,
            schema: child,
            nullable,
          });
      for (const key of Object.keys(value)) {
        if (Object.hasOwn(properties, key)) continue;
        if (schema.additionalProperties === false)
          w.issues.push({
            kind: "unknown_key",
            path: [...path, key],
            value: value[key],
            schema,
            nullable,
            known,
          });
        // defined, not assigned: a key `__proto__` stays a key, never the object's prototype
        else
          Object.defineProperty(out, key, {
            value: value[key],
            enumerable: true,
            writable: true,
            configurable: true,
          });
      }
      for (const [key, child] of Object.entries(properties)) {
        const given = value[key];
        const at = [...path, key];
        if (given !== undefined) out[key] = walk(child, given, at, w);
        else if ("default" in child) out[key] = walk(child, copy(child.default), at, w);
        else if (typesOf(child)[0] === "object") {
          // an object left out is its defaults, when it has no required key without one
          const trial: Walk = { issues: [], freeze: w.freeze };
          const filled = walk(child, {}, at, trial);
          if (trial.issues.length === 0) out[key] = filled;
          else if (required.has(key)) w.issues.push(...trial.issues);
        }
      }
      return w.freeze ? Object.freeze(out) : out;
    }
    default:
      return value;
  }
}

// ---------------------------------------------------------------------------------------------
// The entry points

/**
 * What a caller may pass for options of type `T`: any key may be left out (its default is taken),
 * in nested groups too. Functions and lists are given whole.
 */
export type OptionsInput<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends readonly unknown[]
    ? T
    : T extends object
      ? { [K in keyof T]?: OptionsInput<T[K]> }
      : T;

export interface Checked<T> {
  /** the input with every default filled in (only meaningful when `issues` is empty) */
  value: T;
  issues: Issue[];
}

/**
 * Checks `input` against a declaration and fills in its defaults, without throwing; the value is
 * a new object (the input is never changed), frozen unless `freeze` is false.
 */
export function checkOptions<S extends TSchema>(
  schema: S,
  input: unknown,
  { freeze = true }: { freeze?: boolean } = {},
): Checked<Static<S>> {
  const w: Walk = { issues: [], freeze };
  const value = walk(schema as SchemaNode, input, [], w) as Static<S>;
  return { value, issues: w.issues };
}

export interface ResolveSettings {
  /** what the keys are called in messages (`option`, `limit`, `source option`); default `option` */
  noun?: string;
  /** a message per issue, for a package that keeps an older wording; default `formatIssue` */
  format?: (issue: Issue) => string;
}

/** Every issue's message, the first only for each value (one value, one message). */
export function messages(issues: readonly Issue[], settings: ResolveSettings = {}): string[] {
  const noun = settings.noun ?? "option";
  const format = settings.format ?? ((issue: Issue) => formatIssue(issue, noun));
  const seen = new Set<string>();
  const out: string[] = [];
  for (const issue of issues) {
    const at = `${issue.kind === "unknown_key" ? "+" : ""}${JSON.stringify(issue.path)}`;
    if (seen.has(at)) continue;
    seen.add(at);
    out.push(format(issue));
  }
  return out;
}

/**
 * Resolves options against their declaration: defaults filled in, unknown keys and bad values
 * refused with a TypeError naming each (`; ` between several), the result deeply frozen.
 * `undefined` is an empty options object.
 */
export function resolveOptions<S extends TSchema>(
  schema: S,
  input: unknown,
  settings: ResolveSettings = {},
): Readonly<Static<S>> {
  const { value, issues } = checkOptions(schema, input === undefined ? {} : input);
  if (issues.length > 0) throw new TypeError(messages(issues, settings).join("; "));
  return value;
}

/** The declaration's defaults: what an empty options object resolves to. */
export function defaultsOf<S extends TSchema>(schema: S): Readonly<Static<S>> {
  return resolveOptions(schema, {});
}
