import { describe, expect, it } from "vitest";
import { SIEM_EVENT_KINDS, sampleEvents } from "../src/index.js";
import { OCSF_VERSION, ocsfEvent, ocsfFormatter } from "../src/ocsf.js";
import { loadOcsfSchema, validateOcsf } from "./support/ocsf-validate.js";

const schema = loadOcsfSchema(OCSF_VERSION);
const samples = sampleEvents("2026-12-01T10:00:00.000Z");

describe("OCSF rendering", () => {
  it("has a sample of every kind", () => {
    expect(new Set(samples.map((e) => e.kind))).toEqual(new Set(SIEM_EVENT_KINDS));
  });

  it.each(samples.map((event) => [`${event.kind} ${event.id}`, event] as const))(
    "%s validates against OCSF %s",
    (_, event) => {
      const line = ocsfFormatter.render(event);
      expect(line).not.toMatch(/[\r\n]/);
      expect(validateOcsf(schema, JSON.parse(line))).toEqual([]);
      // the object form too, for callers that embed it: no key left undefined
      expect(validateOcsf(schema, ocsfEvent(event))).toEqual([]);
    },
  );
});
