// The rule editor's copies of what the checker knows (src/editor/schema.ts): the console imports
// no Clearance package, so these copies are held to their sources here.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FUNCTIONS, ruleSchema } from "../src/editor/schema.js";

const PACKAGES = join(import.meta.dirname, "../..");

describe("the rule editor's schema", () => {
  it("is packages/result/src/result-schema.json, byte for byte", () => {
    const copy = readFileSync(join(PACKAGES, "console/src/editor/result-schema.json"), "utf8");
    expect(copy).toBe(readFileSync(join(PACKAGES, "result/src/result-schema.json"), "utf8"));
  });

  it("has the DSL's functions (packages/dsl/src/check.ts, `FUNCTIONS`)", () => {
    const source = readFileSync(join(PACKAGES, "dsl/src/check.ts"), "utf8");
    const block = /export const FUNCTIONS[^{]*\{([\s\S]*?)\n\}\);/.exec(source)?.[1] ?? "";
    const declared = Object.fromEntries(
      [...block.matchAll(/^\s*(\w+): "([^"]*)",/gm)].map((m) => [m[1], m[2]]),
    );
    expect(Object.keys(declared).length).toBeGreaterThan(4);
    expect(FUNCTIONS).toEqual(declared);
  });

  it("types the fields as the checker does", () => {
    const fields = ruleSchema().fields;
    expect(fields.find((f) => f.name === "trustScore")?.type).toBe("number");
    expect(fields.find((f) => f.name === "analyzedAt")?.type).toBe("timestamp");
    const signature = fields.find((f) => f.name === "signature");
    expect(signature?.fields?.find((f) => f.name === "status")?.enum?.length).toBeGreaterThan(1);
  });
});
