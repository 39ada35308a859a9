// toCanonical over the platform's file objects: detected, converted by @clearance/platform, and
// validated (the conversion itself is tested in packages/platform/test/to-canonical.test.ts).
import { DOCUMENTED_FILE } from "@clearance/platform/testing";
import { describe, expect, it } from "vitest";
import { detectFormat, toCanonical } from "../src/adapters/detect.js";

const DOC_EXAMPLE = DOCUMENTED_FILE;

/** A completed file object with the given fields. */
function file(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { sha256: DOCUMENTED_FILE.sha256, status: "completed", ...fields };
}

describe("toCanonical: platform file objects", () => {
  it("is detected and validated by toCanonical", () => {
    expect(detectFormat(DOC_EXAMPLE)).toBe("platform");
    const outcome = toCanonical(DOC_EXAMPLE);
    expect(outcome).toMatchObject({ ok: true, format: "platform", warnings: [] });
    expect(outcome.ok && outcome.result.trustScore).toBe(97);
  });

  it("reports toCanonical problems with the platform format", () => {
    expect(toCanonical(file({ status: "pending", file_name: "a.exe" }))).toEqual({
      ok: false,
      format: "platform",
      problems: [{ pointer: "/status", message: "the analysis is `pending`, not completed" }],
    });
  });
});
