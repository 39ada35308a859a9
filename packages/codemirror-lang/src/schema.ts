// What completion offers, given by the caller: the input's fields, the functions and the request
// context's fields. The package holds no copy of the rule language's input type, so that it never
// drifts from the server's: the caller builds this from what its server serves (the console from
// the result's JSON Schema, the same one the checker types rules against).

/** One field a rule can read: `trustScore`, `signature.status`, `engines[].result`. */
export interface SchemaField {
  name: string;
  /** as the language names it: `string`, `number`, `bool`, `timestamp`, `list<string>`, `object` */
  type: string;
  /** the values a string field can hold, offered after `==`, `!=` and `in` */
  enum?: readonly string[];
  doc?: string;
  /** an object's fields, or the fields of a list's object items */
  fields?: readonly SchemaField[];
}

export interface SchemaFunction {
  name: string;
  /** `age(timestamp) -> duration: how long ago`, shown beside the name */
  signature: string;
}

export interface RuleSchema {
  fields: readonly SchemaField[];
  functions: readonly SchemaFunction[];
  /** the request context's fields (`context.group`); those declared in the text are added */
  context?: readonly SchemaField[];
}

/** A JSON Schema, as much of it as the field list needs. */
export interface JsonSchemaNode {
  type?: string | string[];
  enum?: unknown[];
  format?: string;
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
  description?: string;
}

/**
 * The fields of an object JSON Schema, typed as the checker types them (packages/dsl/src/
 * types.ts, `typeFromJsonSchema`): `date-time` strings are timestamps, integers numbers, string
 * enums the values offered.
 */
export function fieldsFromJsonSchema(schema: JsonSchemaNode): SchemaField[] {
  return Object.entries(schema.properties ?? {}).map(([name, node]) => {
    const field: SchemaField = { name, type: typeOf(node) };
    const values = node.enum?.filter((v): v is string => typeof v === "string");
    if (values && values.length > 0) field.enum = values;
    if (node.description) field.doc = node.description;
    const inner = kindOf(node) === "array" ? node.items : node;
    if (inner && kindOf(inner) === "object") field.fields = fieldsFromJsonSchema(inner);
    return field;
  });
}

function kindOf(node: JsonSchemaNode): string | undefined {
  return Array.isArray(node.type) ? node.type.find((t) => t !== "null") : node.type;
}

function typeOf(node: JsonSchemaNode): string {
  switch (kindOf(node)) {
    case "string":
      return node.format === "date-time" ? "timestamp" : "string";
    case "integer":
    case "number":
      return "number";
    case "boolean":
      return "bool";
    case "array":
      return `list<${node.items ? typeOf(node.items) : "unknown"}>`;
    case "object":
      return "object";
    default:
      return "unknown";
  }
}

/**
 * The fields of `context { name: type, ... }` declarations in rule texts: the context is declared
 * once for a rule set, often in another file than the one being edited.
 */
export function declaredContext(texts: Iterable<string>): SchemaField[] {
  const found: SchemaField[] = [];
  for (const text of texts) {
    for (const m of text.matchAll(/^\s*context\s*\{([^}]*)\}/gm)) {
      for (const part of (m[1] ?? "").replace(/#.*$/gm, "").split(",")) {
        const decl = /^\s*([A-Za-z_]\w*)\s*:\s*(\S(?:.*\S)?)\s*$/.exec(part);
        if (decl && !found.some((f) => f.name === decl[1]))
          found.push({ name: decl[1]!, type: decl[2]! });
      }
    }
  }
  return found;
}
