/** The types rules are checked against, and their derivation from a JSON Schema. */

export type Type =
  | { kind: "string"; enum?: readonly string[] }
  | { kind: "number" }
  | { kind: "bool" }
  | { kind: "timestamp" }
  | { kind: "duration" }
  | { kind: "list"; element: Type }
  | { kind: "object"; fields: ReadonlyMap<string, Field> }
  | { kind: "hashlist" }
  /** the type of an expression whose error was already reported: accepted everywhere, silently */
  | { kind: "error" };

export interface Field {
  type: Type;
  /** absent from some inputs: comparisons on it may be unknown */
  optional: boolean;
  description?: string;
}

export const T = Object.freeze({
  string: { kind: "string" } as Type,
  number: { kind: "number" } as Type,
  bool: { kind: "bool" } as Type,
  timestamp: { kind: "timestamp" } as Type,
  duration: { kind: "duration" } as Type,
  hashlist: { kind: "hashlist" } as Type,
  error: { kind: "error" } as Type,
  list: (element: Type): Type => ({ kind: "list", element }),
});

export function typeName(type: Type): string {
  switch (type.kind) {
    case "list":
      return `list<${typeName(type.element)}>`;
    case "object":
      return "object";
    case "error":
      return "unknown";
    default:
      return type.kind;
  }
}

/** Same shape (enums are strings). */
export function sameType(a: Type, b: Type): boolean {
  if (a.kind === "error" || b.kind === "error") return true;
  if (a.kind === "list" && b.kind === "list") return sameType(a.element, b.element);
  return a.kind === b.kind && a.kind !== "object";
}

/** A JSON Schema, as much of it as the checker reads. */
export interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  format?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  description?: string;
  [key: string]: unknown;
}

/**
 * Derives the checker's view of a JSON Schema: `type` gives the kind, `format: date-time` a timestamp,
 * string `enum`s the allowed values, `required` which fields are always present.
 */
export function typeFromJsonSchema(schema: JsonSchema): Type {
  const types = Array.isArray(schema.type)
    ? schema.type.filter((x) => x !== "null")
    : [schema.type];
  const kind = types[0];
  switch (kind) {
    case "string":
      if (schema.format === "date-time") return T.timestamp;
      if (Array.isArray(schema.enum) && schema.enum.every((v) => typeof v === "string")) {
        return { kind: "string", enum: Object.freeze([...(schema.enum as string[])]) };
      }
      return T.string;
    case "integer":
    case "number":
      return T.number;
    case "boolean":
      return T.bool;
    case "array":
      return T.list(schema.items ? typeFromJsonSchema(schema.items) : T.error);
    case "object": {
      const fields = new Map<string, Field>();
      const required = new Set(schema.required ?? []);
      for (const [name, sub] of Object.entries(schema.properties ?? {})) {
        const subTypes = Array.isArray(sub.type) ? sub.type : [sub.type];
        const field: Field = {
          type: typeFromJsonSchema(sub),
          optional: !required.has(name) || subTypes.includes("null"),
        };
        if (sub.description) field.description = sub.description;
        fields.set(name, field);
      }
      return { kind: "object", fields };
    }
    default:
      return T.error;
  }
}

/** Context field types as written in a `context { ... }` declaration. */
export function typeFromName(name: string, element?: Type): Type | undefined {
  switch (name) {
    case "string":
      return T.string;
    case "number":
      return T.number;
    case "bool":
    case "boolean":
      return T.bool;
    case "timestamp":
      return T.timestamp;
    case "duration":
      return T.duration;
    case "list":
      return element ? T.list(element) : undefined;
    default:
      return undefined;
  }
}

export const CONTEXT_TYPE_NAMES = [
  "string",
  "number",
  "bool",
  "timestamp",
  "duration",
  "list<T>",
] as const;

/** The built-in inputs a rule reads without declaring them: `exception` and `case`. */
export type BuiltinName = "exception" | "case";

const enumOf = (...values: string[]): Type => ({ kind: "string", enum: Object.freeze(values) });
/** Every field is optional: when no exception (or case) applies, each is missing. */
const builtin = (fields: Record<string, Type>): ReadonlyMap<string, Field> =>
  new Map(Object.entries(fields).map(([name, type]) => [name, { type, optional: true }]));

/**
 * The fields of each built-in input, declared once: the checker types rules against them and the
 * engine validates a decision's `exception` and `case` against them.
 */
export const BUILTINS: ReadonlyMap<BuiltinName, ReadonlyMap<string, Field>> = new Map([
  [
    "exception",
    builtin({
      id: T.string,
      status: enumOf("approved", "rejected"),
      kind: enumOf("file", "signer", "vendor"),
      expires: T.timestamp,
      created: T.timestamp,
      approvers: T.list(T.string),
      justification: T.string,
      case: T.string,
    }),
  ],
  [
    "case",
    builtin({
      id: T.string,
      status: enumOf("open", "expired"),
      opened: T.timestamp,
      requests: T.number,
    }),
  ],
]);
