// Validates an event against a compiled OCSF schema (ocsf-schema-compile.ts, from the published
// ocsf-schema release, read when the tests run: ocsf-schema.ts). The compiled schema has classes
// and objects with `extends`, includes, profiles and the dictionary already merged; this resolves
// the rest while it walks the event: object types by name, dictionary types down to their base
// type (with max_len, regex and range), profiles (a profile's attributes are allowed, and its
// required ones required, only when metadata.profiles lists it), arrays and *_id enums, and the
// class_uid / category_uid / type_uid arithmetic.

interface SchemaAttribute {
  type: string;
  object?: boolean;
  array?: boolean;
  requirement: "required" | "recommended" | "optional";
  enum?: string[];
  profile?: string;
}
interface SchemaObject {
  attributes: Record<string, SchemaAttribute>;
  at_least_one?: string[];
  just_one?: string[];
}
interface SchemaClass extends SchemaObject {
  uid: number;
  category_uid: number;
  profiles: string[];
}
interface SchemaType {
  base?: string;
  max_len?: number;
  regex?: string;
  range?: [number, number];
}
export interface OcsfSchema {
  source: { repository: string; version: string; commit: string };
  types: Record<string, SchemaType>;
  classes: Record<string, SchemaClass>;
  objects: Record<string, SchemaObject>;
}

/** Objects whose content OCSF leaves free: `object` (unmapped) has no attributes by design. */
const FREE_FORM_OBJECTS = new Set(["object"]);

export function validateOcsf(schema: OcsfSchema, event: unknown): string[] {
  const errors: string[] = [];
  if (!isPlainObject(event)) return ["the event is not a JSON object"];
  const classUid = event.class_uid;
  const entry = Object.entries(schema.classes).find(([, c]) => c.uid === classUid);
  if (!entry) return [`class_uid ${String(classUid)} is not a class this schema has`];
  const [className, eventClass] = entry;
  const metadata = event.metadata;
  const profiles = new Set(
    isPlainObject(metadata) && Array.isArray(metadata.profiles)
      ? metadata.profiles.filter((p): p is string => typeof p === "string")
      : [],
  );
  for (const profile of profiles) {
    if (!isKnownProfile(schema, profile))
      errors.push(`metadata.profiles: unknown profile ${profile}`);
  }
  checkObject(schema, eventClass, event, className, profiles, errors);
  if (event.category_uid !== eventClass.category_uid) {
    errors.push(
      `category_uid ${String(event.category_uid)} is not ${className}'s category ${eventClass.category_uid}`,
    );
  }
  if (
    typeof event.activity_id === "number" &&
    event.type_uid !== eventClass.uid * 100 + event.activity_id
  ) {
    errors.push(
      `type_uid ${String(event.type_uid)} is not class_uid * 100 + activity_id (${eventClass.uid * 100 + event.activity_id})`,
    );
  }
  return errors;
}

function isKnownProfile(schema: OcsfSchema, profile: string): boolean {
  const inAttributes = (attributes: Record<string, SchemaAttribute>) =>
    Object.values(attributes).some((a) => a.profile === profile);
  return (
    Object.values(schema.classes).some(
      (c) => c.profiles.includes(profile) || inAttributes(c.attributes),
    ) || Object.values(schema.objects).some((o) => inAttributes(o.attributes))
  );
}

function checkObject(
  schema: OcsfSchema,
  definition: SchemaObject,
  value: Record<string, unknown>,
  path: string,
  profiles: ReadonlySet<string>,
  errors: string[],
): void {
  for (const [name, attribute] of Object.entries(definition.attributes)) {
    const applies = attribute.profile === undefined || profiles.has(attribute.profile);
    if (attribute.requirement === "required" && applies && !(name in value)) {
      errors.push(`${path}.${name} is required`);
    }
  }
  for (const [name, item] of Object.entries(value)) {
    const attribute = definition.attributes[name];
    if (!attribute) {
      errors.push(`${path}.${name} is not an attribute of ${path}`);
      continue;
    }
    if (attribute.profile !== undefined && !profiles.has(attribute.profile)) {
      errors.push(
        `${path}.${name} belongs to the ${attribute.profile} profile, which metadata.profiles does not list`,
      );
    }
    if (item === null) {
      errors.push(`${path}.${name} is null (leave it out instead)`);
      continue;
    }
    if (attribute.array) {
      if (!Array.isArray(item)) {
        errors.push(`${path}.${name} must be an array`);
        continue;
      }
      for (const [i, element] of item.entries()) {
        checkValue(schema, attribute, element, `${path}.${name}[${i}]`, profiles, errors);
      }
    } else {
      checkValue(schema, attribute, item, `${path}.${name}`, profiles, errors);
    }
  }
  if (definition.at_least_one && !definition.at_least_one.some((name) => name in value)) {
    errors.push(`${path} needs at least one of ${definition.at_least_one.join(", ")}`);
  }
  if (definition.just_one && definition.just_one.filter((name) => name in value).length !== 1) {
    errors.push(`${path} needs exactly one of ${definition.just_one.join(", ")}`);
  }
}

function checkValue(
  schema: OcsfSchema,
  attribute: SchemaAttribute,
  value: unknown,
  path: string,
  profiles: ReadonlySet<string>,
  errors: string[],
): void {
  if (attribute.object) {
    if (!isPlainObject(value)) {
      errors.push(`${path} must be an object (${attribute.type})`);
      return;
    }
    if (FREE_FORM_OBJECTS.has(attribute.type)) return;
    const definition = schema.objects[attribute.type];
    if (!definition) {
      errors.push(`${path}: the schema has no object ${attribute.type}`);
      return;
    }
    checkObject(schema, definition, value, path, profiles, errors);
    return;
  }
  const problem = checkScalar(schema, attribute.type, value);
  if (problem) {
    errors.push(`${path} ${problem}`);
    return;
  }
  if (attribute.enum && !attribute.enum.includes(String(value))) {
    errors.push(`${path} is ${String(value)}, not one of ${attribute.enum.join(", ")}`);
  }
}

/** Checks a value against a dictionary type, following `base` to the primitive it narrows. */
function checkScalar(schema: OcsfSchema, typeName: string, value: unknown): string | null {
  const type = schema.types[typeName];
  if (!type) return `has type ${typeName}, which the dictionary does not define`;
  if (type.base) {
    const baseProblem = checkScalar(schema, type.base, value);
    if (baseProblem) return baseProblem;
  } else {
    const primitiveProblem = checkPrimitive(typeName, value);
    if (primitiveProblem) return primitiveProblem;
  }
  if (type.max_len !== undefined && typeof value === "string" && value.length > type.max_len) {
    return `is longer than ${typeName}'s ${type.max_len} characters`;
  }
  if (
    type.regex !== undefined &&
    typeof value === "string" &&
    !new RegExp(type.regex).test(value)
  ) {
    return `"${value}" does not match ${typeName}`;
  }
  if (type.range && typeof value === "number" && (value < type.range[0] || value > type.range[1])) {
    return `${value} is outside ${typeName}'s range ${type.range.join("..")}`;
  }
  return null;
}

const INT32 = 2 ** 31;

function checkPrimitive(typeName: string, value: unknown): string | null {
  switch (typeName) {
    case "string_t":
      return typeof value === "string"
        ? null
        : `must be a string (string_t), not ${describe(value)}`;
    case "integer_t":
      return Number.isInteger(value) && Math.abs(value as number) < INT32
        ? null
        : `must be a 32-bit integer (integer_t), not ${describe(value)}`;
    case "long_t":
      return Number.isSafeInteger(value)
        ? null
        : `must be an integer (long_t), not ${describe(value)}`;
    case "float_t":
      return typeof value === "number" && Number.isFinite(value)
        ? null
        : `must be a number (float_t), not ${describe(value)}`;
    case "boolean_t":
      return typeof value === "boolean"
        ? null
        : `must be a boolean (boolean_t), not ${describe(value)}`;
    case "json_t":
      return value === undefined ? "must be JSON" : null;
    default:
      return `has primitive type ${typeName}, which this validator does not know`;
  }
}

function describe(value: unknown): string {
  return Array.isArray(value)
    ? "an array"
    : value === null
      ? "null"
      : `${typeof value} ${JSON.stringify(value)}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
