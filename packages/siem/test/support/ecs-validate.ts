// Validates an ECS document against the ECS field set of Elastic's `@elastic/ecs` package (its
// `EcsFlat`, generated from the release's ecs_flat.yml), read when the tests run. Nested objects
// are walked down to their fields; every field must be an ECS field or under `clearance.` (custom
// fields), hold a value of its ECS type, be an array where ECS normalizes it to one and a single
// value elsewhere, and take allowed values where ECS lists them, with every event.type expected by
// one of the event.category values (ECS' expected_event_types).

import { EcsFlat, EcsVersion } from "@elastic/ecs";

interface EcsField {
  type: string;
  array?: boolean;
  allowed?: string[];
  expected_event_types?: Record<string, string[]>;
}
export interface EcsSchema {
  source: { version: string };
  fields: Record<string, EcsField>;
}

/** What this validator reads of an EcsFlat entry; the package types each field separately. */
interface EcsFlatField {
  type: string;
  normalize?: readonly string[];
  allowed_values?: readonly { name: string; expected_event_types?: readonly string[] }[];
}

/** The ECS field table of the installed `@elastic/ecs`, which must be the release `version`. */
export function loadEcsSchema(version: string): EcsSchema {
  if (EcsVersion !== version) {
    throw new Error(
      `@elastic/ecs is ECS ${EcsVersion}, but the renderer writes ECS ${version}: install @elastic/ecs@${version}`,
    );
  }
  const flat = EcsFlat as unknown as Record<string, EcsFlatField>;
  const fields: Record<string, EcsField> = {};
  for (const [name, field] of Object.entries(flat)) {
    const allowed = field.allowed_values;
    fields[name] = {
      type: field.type,
      ...(field.normalize?.includes("array") ? { array: true } : {}),
      ...(allowed ? { allowed: allowed.map((value) => value.name) } : {}),
      ...(allowed?.some((value) => value.expected_event_types)
        ? {
            expected_event_types: Object.fromEntries(
              allowed.map((value) => [value.name, [...(value.expected_event_types ?? [])]]),
            ),
          }
        : {}),
    };
  }
  return { source: { version: EcsVersion }, fields };
}

const CUSTOM_PREFIX = "clearance.";
/** ECS types whose value is itself an object (labels, flattened data). */
const OBJECT_TYPES = new Set(["object", "flattened", "nested"]);
const STRING_TYPES = new Set([
  "keyword",
  "constant_keyword",
  "wildcard",
  "match_only_text",
  "text",
]);
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export function validateEcs(schema: EcsSchema, document: unknown): string[] {
  const errors: string[] = [];
  if (!isPlainObject(document)) return ["the document is not a JSON object"];
  const leaves: [string, unknown][] = [];
  collect(schema, document, "", leaves);
  for (const [name, value] of leaves) {
    if (name.startsWith(CUSTOM_PREFIX)) continue;
    const field = schema.fields[name];
    if (!field) {
      errors.push(`${name} is not an ECS field (custom fields go under ${CUSTOM_PREFIX})`);
      continue;
    }
    if (Array.isArray(value)) {
      if (!field.array) errors.push(`${name} is an array, but ECS ${name} holds one value`);
      for (const element of value) checkValue(name, field, element, errors);
    } else {
      if (field.array) errors.push(`${name} must be an array (ECS normalizes it to one)`);
      checkValue(name, field, value, errors);
    }
  }
  for (const required of ["@timestamp", "ecs.version"]) {
    if (!leaves.some(([name]) => name === required)) errors.push(`${required} is missing`);
  }
  checkExpectedTypes(schema, leaves, errors);
  return errors;
}

function collect(
  schema: EcsSchema,
  value: Record<string, unknown>,
  prefix: string,
  out: [string, unknown][],
) {
  for (const [key, item] of Object.entries(value)) {
    const name = prefix + key;
    const field = schema.fields[name];
    if (
      isPlainObject(item) &&
      !(field && OBJECT_TYPES.has(field.type)) &&
      !name.startsWith(CUSTOM_PREFIX)
    ) {
      collect(schema, item, `${name}.`, out);
    } else {
      out.push([name, item]);
    }
  }
}

function checkValue(name: string, field: EcsField, value: unknown, errors: string[]): void {
  const problem = typeProblem(field.type, value);
  if (problem) {
    errors.push(`${name} ${problem}`);
    return;
  }
  if (field.allowed && !field.allowed.includes(value as string)) {
    errors.push(`${name} is ${JSON.stringify(value)}, not one of ECS' ${field.allowed.join(", ")}`);
  }
}

function typeProblem(type: string, value: unknown): string | null {
  if (STRING_TYPES.has(type))
    return typeof value === "string" ? null : `must be a string (${type})`;
  switch (type) {
    case "long":
      return Number.isSafeInteger(value) ? null : "must be an integer (long)";
    case "float":
    case "scaled_float":
      return typeof value === "number" && Number.isFinite(value)
        ? null
        : `must be a number (${type})`;
    case "boolean":
      return typeof value === "boolean" ? null : "must be a boolean";
    case "date":
      return (typeof value === "string" &&
        ISO_DATE.test(value) &&
        !Number.isNaN(Date.parse(value))) ||
        Number.isSafeInteger(value)
        ? null
        : "must be an ISO 8601 date or epoch milliseconds (date)";
    case "ip":
      return typeof value === "string" && /^[0-9a-fA-F:.]+$/.test(value)
        ? null
        : "must be an IP address";
    case "object":
    case "flattened":
    case "nested":
      return isPlainObject(value) ? null : `must be an object (${type})`;
    default:
      return `has ECS type ${type}, which this validator does not check`;
  }
}

/** Each event.type must be one that some event.category of the document expects. */
function checkExpectedTypes(
  schema: EcsSchema,
  leaves: [string, unknown][],
  errors: string[],
): void {
  const expected = schema.fields["event.category"]?.expected_event_types ?? {};
  const values = (name: string) => [leaves.find(([n]) => n === name)?.[1] ?? []].flat() as string[];
  const categories = values("event.category");
  for (const type of values("event.type")) {
    if (!categories.some((category) => expected[category]?.includes(type))) {
      errors.push(`event.type ${type} is not expected by event.category ${categories.join(", ")}`);
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
