import { describe, expect, it } from "vitest";
import { ECS_VERSION, ecsDocument, ecsFormatter } from "../src/ecs.js";
import { SIEM_EVENT_KINDS, sampleEvents } from "../src/index.js";
import { loadEcsSchema, validateEcs } from "./support/ecs-validate.js";

const schema = loadEcsSchema(ECS_VERSION);
const samples = sampleEvents("2026-12-01T10:00:00.000Z");

describe("ECS rendering", () => {
  it("has a sample of every kind", () => {
    expect(new Set(samples.map((e) => e.kind))).toEqual(new Set(SIEM_EVENT_KINDS));
  });

  it.each(samples.map((event) => [`${event.kind} ${event.id}`, event] as const))(
    "%s validates against ECS",
    (_, event) => {
      const line = ecsFormatter.render(event);
      expect(line).not.toMatch(/[\r\n]/);
      expect(validateEcs(schema, JSON.parse(line))).toEqual([]);
      expect(validateEcs(schema, ecsDocument(event))).toEqual([]);
    },
  );
});

// biome-ignore lint/suspicious/noExplicitAny: the cases break documents at any depth
type Json = Record<string, any>;
const valid = (): Json => structuredClone(ecsDocument(samples[0]!)) as Json;

const broken: [string, (document: Json) => void, RegExp][] = [
  ["a field ECS does not have", (d) => (d.file.sha256 = "x"), /^file\.sha256 is not an ECS field/],
  [
    "a custom field outside clearance.",
    (d) => (d.decision = "deny"),
    /^decision is not an ECS field/,
  ],
  [
    "a string where ECS has long",
    (d) => (d.file.size = "482304"),
    /^file\.size must be an integer/,
  ],
  ["a number where ECS has keyword", (d) => (d.user.name = 7), /^user\.name must be a string/],
  ["a bad date", (d) => (d["@timestamp"] = "yesterday"), /^@timestamp must be an ISO 8601 date/],
  [
    "a kind ECS does not allow",
    (d) => (d.event.kind = "decision"),
    /^event\.kind is "decision", not one of/,
  ],
  [
    "a category ECS does not allow",
    (d) => (d.event.category = ["approval"]),
    /^event\.category is "approval"/,
  ],
  [
    "an outcome ECS does not allow",
    (d) => (d.event.outcome = "denied"),
    /^event\.outcome is "denied"/,
  ],
  [
    "a single value where ECS normalizes to an array",
    (d) => (d.event.type = "info"),
    /^event\.type must be an array/,
  ],
  [
    "an array where ECS holds one value",
    (d) => (d.event.kind = ["alert"]),
    /^event\.kind is an array/,
  ],
  [
    "a type its categories do not expect",
    (d) => (d.event.type = ["connection"]),
    /^event\.type connection is not expected/,
  ],
  ["no @timestamp", (d) => delete d["@timestamp"], /^@timestamp is missing/],
];

describe("ECS validator", () => {
  it("refuses an @elastic/ecs of another ECS release than the renderer's", () => {
    expect(() => loadEcsSchema("8.17.0")).toThrow(
      `@elastic/ecs is ECS ${ECS_VERSION}, but the renderer writes ECS 8.17.0`,
    );
  });

  it("accepts the unbroken document", () => {
    expect(validateEcs(schema, valid())).toEqual([]);
  });

  it.each(broken)("rejects %s", (_, breakIt, expected) => {
    const document = valid();
    breakIt(document);
    const errors = validateEcs(schema, document);
    expect(
      errors.some((error) => expected.test(error)),
      errors.join("\n"),
    ).toBe(true);
  });
});
