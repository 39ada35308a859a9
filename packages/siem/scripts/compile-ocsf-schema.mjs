// Compiles the part of a released OCSF schema that Clearance's events use into one JSON file the
// tests validate against (test/schemas/ocsf-<version>.json). It resolves what the OCSF server
// resolves when it serves a schema: `extends` chains of classes and objects, `$include`d includes
// and profiles (each profile attribute keeps the profile's name, so a validator can allow it only
// when the event lists the profile), and the dictionary's definitions under each attribute
// (type, array, enum values merged with the class's own). Descriptions are left out: only what a
// validator checks is kept. Object types stay names, resolved by the validator.
//
// Usage: node scripts/compile-ocsf-schema.mjs <ocsf-schema checkout> <commit> <out.json> <class>...
// The checkout is the ocsf/ocsf-schema repository at a release tag (see test/schemas/PROVENANCE.md).

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [root, commit, out, ...classNames] = process.argv.slice(2);
if (!root || !commit || !out || classNames.length === 0) {
  console.error("usage: compile-ocsf-schema.mjs <ocsf-schema dir> <commit> <out.json> <class>...");
  process.exit(2);
}

const readJson = (path) => JSON.parse(readFileSync(join(root, path), "utf8"));
const walk = (dir) =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? walk(join(dir, entry.name))
      : entry.name.endsWith(".json")
        ? [join(dir, entry.name)]
        : [],
  );

const version = readJson("version.json").version;
const dictionary = readJson("dictionary.json");
const categories = readJson("categories.json").attributes;

const byName = (dir) => {
  const map = new Map();
  for (const path of walk(dir)) {
    const definition = readJson(path);
    map.set(definition.name, definition);
  }
  return map;
};
const eventDefinitions = byName("events");
const objectDefinitions = byName("objects");

/** One attribute definition over another: later keys win, enums are merged. */
function mergeAttribute(base = {}, over = {}) {
  const merged = { ...base, ...over };
  if (base.enum || over.enum) merged.enum = { ...base.enum, ...over.enum };
  return merged;
}

function mergeAttributes(base, over) {
  const merged = { ...base };
  for (const [name, definition] of Object.entries(over)) {
    merged[name] = mergeAttribute(base[name], definition);
  }
  return merged;
}

/** A definition's own attributes with its `$include`s resolved (profile attributes marked). */
function ownAttributes(definition) {
  const { $include, ...own } = definition.attributes ?? {};
  let attributes = {};
  for (const path of [$include ?? []].flat()) {
    const included = readJson(path);
    const marked = {};
    for (const [name, attribute] of Object.entries(included.attributes ?? {})) {
      const annotated = { ...included.annotations, ...attribute };
      marked[name] =
        included.meta === "profile" ? { ...annotated, profile: included.name } : annotated;
    }
    attributes = mergeAttributes(attributes, marked);
  }
  return mergeAttributes(attributes, own);
}

function resolve(definitions, name) {
  const definition = definitions.get(name);
  if (!definition) throw new Error(`no OCSF definition named ${name}`);
  if (!definition.extends) return { definition, attributes: ownAttributes(definition) };
  const parent = resolve(definitions, definition.extends);
  const constraints = definition.constraints ?? parent.definition.constraints;
  return {
    definition: { ...parent.definition, ...definition, constraints },
    attributes: mergeAttributes(parent.attributes, ownAttributes(definition)),
  };
}

const neededObjects = new Set();

/** The dictionary's definition under each attribute: what a validator checks, nothing more. */
function compileAttributes(attributes) {
  const compiled = {};
  for (const [name, local] of Object.entries(attributes).sort(([a], [b]) => a.localeCompare(b))) {
    const global = dictionary.attributes[name];
    if (!global) throw new Error(`attribute ${name} is not in the dictionary`);
    const attribute = mergeAttribute(global, local);
    const isObject = attribute.type === "object_t" || objectDefinitions.has(attribute.type);
    const type = attribute.type === "object_t" ? attribute.object_type : attribute.type;
    if (isObject && !neededObjects.has(type)) neededObjects.add(type);
    compiled[name] = {
      type,
      ...(isObject ? { object: true } : {}),
      ...(attribute.is_array ? { array: true } : {}),
      requirement: attribute.requirement ?? "optional",
      ...(attribute.enum ? { enum: Object.keys(attribute.enum).sort((a, b) => a - b) } : {}),
      ...(attribute.profile ? { profile: attribute.profile } : {}),
    };
  }
  return compiled;
}

const classes = {};
for (const name of classNames) {
  const { definition, attributes } = resolve(eventDefinitions, name);
  const category = categories[definition.category];
  if (!category || definition.uid === undefined) throw new Error(`${name} is not an event class`);
  const uid = category.uid * 1000 + definition.uid;
  const compiledAttributes = compileAttributes(attributes);
  // The schema files give the base event's placeholders (0, "Base Event"); the OCSF server
  // replaces them with the class's own values, and so does this.
  const activityIds = compiledAttributes.activity_id.enum;
  compiledAttributes.class_uid.enum = [String(uid)];
  compiledAttributes.category_uid.enum = [String(category.uid)];
  compiledAttributes.type_uid.enum = activityIds.map((id) => String(uid * 100 + Number(id)));
  classes[name] = {
    uid,
    category_uid: category.uid,
    profiles: definition.profiles ?? [],
    attributes: compiledAttributes,
  };
}

const objects = {};
for (const name of neededObjects) {
  // `neededObjects` grows while this loop runs: every object an object refers to is compiled too.
  const { definition, attributes } = resolve(objectDefinitions, name);
  const constraints = definition.constraints ?? {};
  objects[name] = {
    attributes: compileAttributes(attributes),
    ...(constraints.at_least_one ? { at_least_one: constraints.at_least_one } : {}),
    ...(constraints.just_one ? { just_one: constraints.just_one } : {}),
  };
}

const types = {};
for (const [name, type] of Object.entries(dictionary.types.attributes)) {
  types[name] = {
    ...(type.type ? { base: type.type } : {}),
    ...(type.max_len ? { max_len: type.max_len } : {}),
    ...(type.regex ? { regex: type.regex } : {}),
    ...(type.range ? { range: type.range } : {}),
  };
}

const sortedObjects = Object.fromEntries(
  Object.entries(objects).sort(([a], [b]) => a.localeCompare(b)),
);
const compiled = {
  source: {
    repository: "https://github.com/ocsf/ocsf-schema",
    version,
    commit,
    license: "Apache-2.0",
  },
  types,
  classes,
  objects: sortedObjects,
};
writeFileSync(out, `${JSON.stringify(compiled, null, 1)}\n`);
console.log(
  `OCSF ${version}: ${Object.keys(classes).length} classes, ${Object.keys(objects).length} objects`,
);
