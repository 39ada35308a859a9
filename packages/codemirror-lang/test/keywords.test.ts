// The package's keyword list is a copy (it imports no Clearance code): it must stay the DSL's.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KEYWORDS } from "../src/keywords.js";

const TOKENS_TS = join(import.meta.dirname, "../../dsl/src/tokens.ts");

describe("the rule language's keywords", () => {
  it("are the DSL's, in its order (packages/dsl/src/tokens.ts, each `keyword(...)`)", () => {
    const source = readFileSync(TOKENS_TS, "utf8");
    const declared = [...source.matchAll(/\bkeyword\("([^"]+)"/g)].map((m) => m[1]);
    expect(declared.length).toBeGreaterThan(30);
    expect(KEYWORDS).toEqual(declared);
  });
});
