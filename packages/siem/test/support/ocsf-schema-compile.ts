// Compiles the part of a released OCSF schema that Clearance's events use into the form the
// validator reads (OcsfSchema). It resolves what the OCSF server resolves when it serves a schema:
// `extends` chains of classes and objects, `$include`d includes and profiles (each profile
// attribute keeps the profile's name, so a validator can allow it only when the event lists the
// profile), and the dictionary's definitions under each attribute (type, array, enum values merged
// with the class's own). Descriptions are left out: only what a validator checks is kept. Object
// types stay names, resolved by the validator.
//
// `root` is a directory holding the ocsf/ocsf-schema repository's files at a release
// (ocsf-schema.ts extracts them from a git repository when the tests run).

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { OcsfSchema } from "./ocsf-validate.js";

/** An attribute as the schema files write it: the keys the compiler reads, and any others. */
interface RawAttribute {
  type?: string;
  object_type?: string;
  is_array?: boolean;
  requirement?: "required" | "recommended" | "optional";
  enum?: Record<string, unknown>;
  profile?: string;
  [key: string]: unknown;
}
type RawAttributes = Record<string, RawAttribute>;
interface RawDefinition {
  name: string;
  extends?: string;
  uid?: number;
  category?: string;
  profiles?: string[];
  constraints?: { at_least_one?: string[]; just_one?: string[] };
  attributes?: RawAttributes & { $include?: string | string[] };
}
interface RawInclude {
  name?: string;
  meta?: string;
  annotations?: Record<string, unknown>;
  attributes?: RawAttributes;
}
interface Resolved {
  definition: RawDefinition;
  attributes: RawAttributes;
}

export function compileOcsfSchema(
  root: string,
  commit: string,
  classNames: readonly string[],
): OcsfSchema {
  const readJson = <T>(path: string): T => JSON.parse(readFileSync(join(root, path), "utf8")) as T;
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory()
        ? walk(join(dir, entry.name))
        : entry.name.endsWith(".json")
          ? [join(dir, entry.name)]
          : [],
    );
  const byName = (dir: string) =>
    new Map(
      walk(dir).map((path) => {
        const definition = readJson<RawDefinition>(path);
        return [definition.name, definition] as const;
      }),
    );

  const version = readJson<{ version: string }>("version.json").version;
  const dictionary = readJson<{
    attributes: RawAttributes;
    types: { attributes: Record<string, Record<string, unknown>> };
  }>("dictionary.json");
  const categories = readJson<{ attributes: Record<string, { uid: number }> }>(
    "categories.json",
  ).attributes;
  const eventDefinitions = byName("events");
  const objectDefinitions = byName("objects");

  /** A definition's own attributes with its `$include`s resolved (profile attributes marked). */
  function ownAttributes(definition: RawDefinition): RawAttributes {
    const { $include, ...own } = definition.attributes ?? {};
    let attributes: RawAttributes = {};
    for (const path of [$include ?? []].flat()) {
      const included = readJson<RawInclude>(path);
      const marked: RawAttributes = {};
      for (const [name, attribute] of Object.entries(included.attributes ?? {})) {
        const annotated = { ...included.annotations, ...attribute };
        marked[name] =
          included.meta === "profile" ? { ...annotated, profile: included.name } : annotated;
      }
      attributes = mergeAttributes(attributes, marked);
    }
    return mergeAttributes(attributes, own as RawAttributes);
  }

  function resolve(definitions: Map<string, RawDefinition>, name: string): Resolved {
    const definition = definitions.get(name);
    if (!definition) throw new Error(`no OCSF definition named ${name}`);
    if (!definition.extends) return { definition, attributes: ownAttributes(definition) };
    const parent = resolve(definitions, definition.extends);
    const constraints = definition.constraints ?? parent.definition.constraints;
    return {
      definition: { ...parent.definition, ...definition, ...(constraints ? { constraints } : {}) },
      attributes: mergeAttributes(parent.attributes, ownAttributes(definition)),
    };
  }

  const neededObjects = new Set<string>();

  /** The dictionary's definition under each attribute: what a validator checks, nothing more. */
  function compileAttributes(
    attributes: RawAttributes,
  ): OcsfSchema["objects"][string]["attributes"] {
    const compiled: OcsfSchema["objects"][string]["attributes"] = {};
    for (const [name, local] of Object.entries(attributes).sort(([a], [b]) => a.localeCompare(b))) {
      const global = dictionary.attributes[name];
      if (!global) throw new Error(`attribute ${name} is not in the dictionary`);
      const attribute = mergeAttribute(global, local);
      const rawType = attribute.type ?? "";
      const isObject = rawType === "object_t" || objectDefinitions.has(rawType);
      const type = rawType === "object_t" ? (attribute.object_type ?? "") : rawType;
      if (isObject) neededObjects.add(type);
      compiled[name] = {
        type,
        ...(isObject ? { object: true } : {}),
        ...(attribute.is_array ? { array: true } : {}),
        requirement: attribute.requirement ?? "optional",
        ...(attribute.enum
          ? { enum: Object.keys(attribute.enum).sort((a, b) => Number(a) - Number(b)) }
          : {}),
        ...(attribute.profile ? { profile: attribute.profile } : {}),
      };
    }
    return compiled;
  }

  const classes: OcsfSchema["classes"] = {};
  for (const name of classNames) {
    const { definition, attributes } = resolve(eventDefinitions, name);
    const category =
      definition.category === undefined ? undefined : categories[definition.category];
    if (!category || definition.uid === undefined) throw new Error(`${name} is not an event class`);
    const uid = category.uid * 1000 + definition.uid;
    const compiledAttributes = compileAttributes(attributes);
    // The schema files give the base event's placeholders (0, "Base Event"); the OCSF server
    // replaces them with the class's own values, and so does this.
    const activityIds = compiledAttributes.activity_id?.enum ?? [];
    setEnum(compiledAttributes, "class_uid", [String(uid)]);
    setEnum(compiledAttributes, "category_uid", [String(category.uid)]);
    setEnum(
      compiledAttributes,
      "type_uid",
      activityIds.map((id) => String(uid * 100 + Number(id))),
    );
    classes[name] = {
      uid,
      category_uid: category.uid,
      profiles: definition.profiles ?? [],
      attributes: compiledAttributes,
    };
  }

  const objects: OcsfSchema["objects"] = {};
  // `neededObjects` grows while this loop runs: every object an object refers to is compiled too.
  for (const name of neededObjects) {
    const { definition, attributes } = resolve(objectDefinitions, name);
    const constraints = definition.constraints ?? {};
    objects[name] = {
      attributes: compileAttributes(attributes),
      ...(constraints.at_least_one ? { at_least_one: constraints.at_least_one } : {}),
      ...(constraints.just_one ? { just_one: constraints.just_one } : {}),
    };
  }

  const types: OcsfSchema["types"] = {};
  for (const [name, type] of Object.entries(dictionary.types.attributes)) {
    types[name] = {
      ...(typeof type.type === "string" ? { base: type.type } : {}),
      ...(typeof type.max_len === "number" ? { max_len: type.max_len } : {}),
      ...(typeof type.regex === "string" ? { regex: type.regex } : {}),
      ...(Array.isArray(type.range) ? { range: type.range as [number, number] } : {}),
    };
  }

  return {
    source: { repository: "https://github.com/ocsf/ocsf-schema", version, commit },
    types,
    classes,
    objects: Object.fromEntries(Object.entries(objects).sort(([a], [b]) => a.localeCompare(b))),
  };
}

/** One attribute definition over another: later keys win, enums are merged. */
function mergeAttribute(base: RawAttribute = {}, over: RawAttribute = {}): RawAttribute {
  const merged = { ...base, ...over };
  if (base.enum || over.enum) merged.enum = { ...base.enum, ...over.enum };
  return merged;
}

function mergeAttributes(base: RawAttributes, over: RawAttributes): RawAttributes {
  const merged = { ...base };
  for (const [name, definition] of Object.entries(over)) {
    merged[name] = mergeAttribute(base[name], definition);
  }
  return merged;
}

function setEnum(
  attributes: OcsfSchema["objects"][string]["attributes"],
  name: string,
  values: string[],
): void {
  const attribute = attributes[name];
  if (!attribute) throw new Error(`the class has no ${name} attribute`);
  attribute.enum = values;
}
