// The OCSF validator must reject what the schema forbids, or the format tests prove nothing.
// Each case breaks one thing in a valid rendered event and names the error it must produce.

import { beforeAll, describe, expect, it } from "vitest";
import { sampleEvents } from "../src/index.js";
import { OCSF_VERSION, ocsfEvent } from "../src/ocsf.js";
import { loadOcsfSchema, locateOcsfSchemaRepo, ocsfSuiteTitle } from "./support/ocsf-schema.js";
import { type OcsfSchema, validateOcsf } from "./support/ocsf-validate.js";

// the schema is read from an ocsf-schema git repository when the tests run (support/ocsf-schema.ts)
const location = locateOcsfSchemaRepo();
const [deny] = sampleEvents("2026-12-01T10:00:00.000Z");

// biome-ignore lint/suspicious/noExplicitAny: the cases break events at any depth
type Json = Record<string, any>;
const valid = (): Json => structuredClone(ocsfEvent(deny!)) as Json;

const cases: [string, (event: Json) => void, RegExp][] = [
  [
    "missing required class attribute",
    (e) => delete e.severity_id,
    /^detection_finding\.severity_id is required$/,
  ],
  [
    "missing required object attribute",
    (e) => delete e.finding_info.title,
    /finding_info\.title is required/,
  ],
  [
    "missing required nested object attribute",
    (e) => delete e.evidences[0].file.hashes[0].algorithm_id,
    /hashes\[0\]\.algorithm_id is required/,
  ],
  [
    "unknown class attribute",
    (e) => (e.verdict = "deny"),
    /detection_finding\.verdict is not an attribute/,
  ],
  [
    "unknown object attribute",
    (e) => (e.evidences[0].file.sha256 = "x"),
    /file\.sha256 is not an attribute/,
  ],
  ["string where integer", (e) => (e.severity_id = "4"), /severity_id must be a 32-bit integer/],
  ["float where long (timestamp_t)", (e) => (e.time = 1.5), /time must be an integer \(long_t\)/],
  ["integer where string", (e) => (e.message = 42), /message must be a string/],
  ["object where array", (e) => (e.evidences = e.evidences[0]), /evidences must be an array/],
  [
    "string where object",
    (e) => (e.metadata.product = "Clearance"),
    /metadata\.product must be an object \(product\)/,
  ],
  [
    "string where boolean",
    (e) => (e.evidences[0].file.is_system = "no"),
    /is_system must be a boolean/,
  ],
  [
    "enum value the class does not define",
    (e) => (e.activity_id = 7),
    /activity_id is 7, not one of/,
  ],
  [
    "enum value of an object's *_id",
    (e) => (e.evidences[0].file.hashes[0].algorithm_id = 42),
    /algorithm_id is 42/,
  ],
  [
    "profile attribute without its profile",
    (e) => (e.metadata.profiles = []),
    /action_id belongs to the security_control profile/,
  ],
  ["unknown profile", (e) => e.metadata.profiles.push("nonsense"), /unknown profile nonsense/],
  ["required profile attribute missing", (e) => delete e.action_id, /action_id is required/],
  ["class_uid of another class", (e) => (e.class_uid = 9999), /class_uid 9999 is not a class/],
  [
    "category_uid inconsistent",
    (e) => (e.category_uid = 3),
    /category_uid 3 is not detection_finding's category 2/,
  ],
  [
    "type_uid inconsistent",
    (e) => (e.type_uid = 200402),
    /type_uid 200402 is not class_uid \* 100 \+ activity_id \(200401\)/,
  ],
  [
    "dictionary type max_len (file_hash_t)",
    (e) => (e.evidences[0].file.hashes[0].value = "a".repeat(65)),
    /longer than file_hash_t's 64/,
  ],
  ["at_least_one constraint", (e) => (e.evidences = [{}]), /evidences\[0\] needs at least one of/],
  ["null instead of leaving out", (e) => (e.message = null), /message is null/],
];

describe.skipIf(location.repo === null)(ocsfSuiteTitle("OCSF validator", location), () => {
  let schema: OcsfSchema;
  beforeAll(() => {
    schema = loadOcsfSchema(OCSF_VERSION, location.repo!);
  });

  it("accepts the unbroken event", () => {
    expect(validateOcsf(schema, valid())).toEqual([]);
  });

  it.each(cases)("rejects %s", (_, breakIt, expected) => {
    const event = valid();
    breakIt(event);
    const errors = validateOcsf(schema, event);
    expect(
      errors.some((error) => expected.test(error)),
      errors.join("\n"),
    ).toBe(true);
  });
});
