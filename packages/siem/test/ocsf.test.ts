import { beforeAll, describe, expect, it } from "vitest";
import { SIEM_EVENT_KINDS, sampleEvents } from "../src/index.js";
import { OCSF_VERSION, ocsfEvent, ocsfFormatter } from "../src/ocsf.js";
import { loadOcsfSchema, locateOcsfSchemaRepo, ocsfSuiteTitle } from "./support/ocsf-schema.js";
import { type OcsfSchema, validateOcsf } from "./support/ocsf-validate.js";

// the schema is read from an ocsf-schema git repository when the tests run (support/ocsf-schema.ts)
const location = locateOcsfSchemaRepo();
const samples = sampleEvents("2026-12-01T10:00:00.000Z");

describe("OCSF rendering", () => {
  it("has a sample of every kind", () => {
    expect(new Set(samples.map((e) => e.kind))).toEqual(new Set(SIEM_EVENT_KINDS));
  });

  it.each(samples.map((event) => [`${event.kind} ${event.id}`, event] as const))(
    "%s renders to one line",
    (_, event) => {
      expect(ocsfFormatter.render(event)).not.toMatch(/[\r\n]/);
    },
  );
});

describe.skipIf(location.repo === null)(
  ocsfSuiteTitle(`OCSF rendering validates against OCSF ${OCSF_VERSION}`, location),
  () => {
    let schema: OcsfSchema;
    beforeAll(() => {
      schema = loadOcsfSchema(OCSF_VERSION, location.repo!);
    });

    it.each(samples.map((event) => [`${event.kind} ${event.id}`, event] as const))(
      "%s validates",
      (_, event) => {
        expect(validateOcsf(schema, JSON.parse(ocsfFormatter.render(event)))).toEqual([]);
        // the object form too, for callers that embed it: no key left undefined
        expect(validateOcsf(schema, ocsfEvent(event))).toEqual([]);
      },
    );
  },
);
