import { describe, expect, it } from "vitest";
import { formatter, SIEM_FORMATS, type SiemFormat, sampleEvents } from "../src/index.js";

describe("formatter", () => {
  it.each(SIEM_FORMATS.map((name) => [name]))("%s renders every sample to one line", (name) => {
    const chosen = formatter(name);
    expect(chosen.name).toBe(name);
    expect(chosen.contentType).toBe(name === "cef" ? "text/plain" : "application/json");
    for (const event of sampleEvents("2026-12-01T10:00:00.000Z")) {
      expect(chosen.render(event)).not.toMatch(/[\r\n]/);
    }
  });

  it("names the formats it has when asked for another", () => {
    expect(() => formatter("leef" as SiemFormat)).toThrow(
      'unknown SIEM format "leef": expected one of ocsf, ecs, cef',
    );
  });

  it("does not take inherited names for formats", () => {
    expect(() => formatter("toString" as SiemFormat)).toThrow(/unknown SIEM format "toString"/);
  });
});
