import { describe, expect, it } from "vitest";
import { CANONICAL_FIELDS, INPUT_PROFILES, presentFields } from "../src/profiles.js";
import { RESULT_SCHEMA } from "../src/validate.js";

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
}

/** Every field path of the JSON Schema, in the profiles' notation. */
function schemaFields(node: SchemaNode, prefix = ""): string[] {
  const out: string[] = [];
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = prefix === "" ? key : `${prefix}.${key}`;
    out.push(path, ...schemaFields(child, path));
  }
  if (node.items) out.push(...schemaFields(node.items, `${prefix}[]`));
  return out;
}

describe("input profiles", () => {
  it("list exactly the fields of the canonical result's schema", () => {
    expect([...CANONICAL_FIELDS].sort()).toEqual(
      schemaFields(RESULT_SCHEMA as unknown as SchemaNode).sort(),
    );
  });

  it("hold only canonical fields", () => {
    for (const fields of Object.values(INPUT_PROFILES)) {
      for (const field of fields) expect(CANONICAL_FIELDS).toContain(field);
    }
  });

  it("give canonical input every field, platform input all but the VirusTotal section, and VirusTotal input no trust score", () => {
    expect(INPUT_PROFILES.canonical.size).toBe(CANONICAL_FIELDS.length);
    expect(CANONICAL_FIELDS.filter((f) => !INPUT_PROFILES.platform.has(f))).toEqual(
      CANONICAL_FIELDS.filter((f) => f === "virustotal" || f.startsWith("virustotal.")),
    );
    expect(CANONICAL_FIELDS.filter((f) => !INPUT_PROFILES.platform.has(f))).toHaveLength(47);
    const missing = CANONICAL_FIELDS.filter((f) => !INPUT_PROFILES.virustotal.has(f));
    expect(missing).toEqual([
      "trustScore",
      "verdict",
      "scoreBreakdown",
      "scoreBreakdown[].component",
      "scoreBreakdown[].label",
      "scoreBreakdown[].weight",
      "scoreBreakdown[].value",
      "scoreBreakdown[].description",
    ]);
  });

  it("read the fields a value carries, skipping nulls, through objects and list items", () => {
    const fields = presentFields({
      sha256: "a",
      verdict: null,
      engines: [
        { engine: "A", result: null },
        { engine: "B", version: "1" },
      ],
      signature: { status: "valid" },
      tags: ["x"],
    });
    expect([...fields].sort()).toEqual([
      "engines",
      "engines[].engine",
      "engines[].version",
      "sha256",
      "signature",
      "signature.status",
      "tags",
    ]);
  });
});
