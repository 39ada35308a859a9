// The input profiles of @clearance/result (which canonical fields each input can ever carry), kept
// true against the adapters: every example and thousands of mutated inputs, mapped, carry no field
// outside their input's profile, and the examples together carry every field of it. A rule set's
// `inputs` declaration is checked against this table (rule_never_fires_on_input), so a field an
// adapter starts or stops producing must change the table too.
import { readdirSync, readFileSync } from "node:fs";
import { DOCUMENTED_FILE } from "@clearance/platform/testing";
import { CANONICAL_FIELDS, INPUT_PROFILES, presentFields } from "@clearance/result";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toCanonical } from "../src/adapters/detect.js";

const CANONICAL = new Set(CANONICAL_FIELDS);

/**
 * What the platform's conversion adds beside the canonical fields: kept with the result (the schema
 * accepts extra properties), but not fields a rule can name.
 */
const PLATFORM_EXTRAS = new Set([
  "platformVersion",
  "uploadedAt",
  "platformApproval",
  "platformApproval.status",
  "platformApproval.rule",
]);

/** Every VirusTotal example: the hand-written ones and the real reports of examples/virustotal/real. */
const VT_DIR = new URL("../../../examples/virustotal/", import.meta.url);
const VT_EXAMPLES: Record<string, unknown>[] = readdirSync(VT_DIR, { recursive: true })
  .map(String)
  .filter((name) => name.endsWith(".json"))
  .sort()
  .map((name) => JSON.parse(readFileSync(new URL(name, VT_DIR), "utf8")));

/** The fields a mapped input carries, or undefined when it could not be mapped. */
function mapped(input: unknown, format: "virustotal" | "platform"): Set<string> | undefined {
  const outcome = toCanonical(input, { format });
  return outcome.ok ? presentFields(outcome.result) : undefined;
}

/** Fields outside the profile (and outside the extras the adapter may add). */
function outside(
  fields: Set<string>,
  profile: ReadonlySet<string>,
  extras: ReadonlySet<string> = new Set(),
): string[] {
  return [...fields].filter((f) => !profile.has(f) && !(extras.has(f) && !CANONICAL.has(f)));
}

type Path = (string | number)[];

function pathsOf(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (value !== null && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      pathsOf(child, [...prefix, Array.isArray(value) ? Number(key) : key], out);
    }
  }
  return out;
}

/** A deep copy of `root` with the value at `path` replaced (or removed for undefined). */
function mutated(root: unknown, edits: { path: Path; value: unknown }[]): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  for (const { path, value } of edits) {
    let parent: unknown = copy;
    for (const key of path.slice(0, -1)) {
      parent = (parent as Record<string | number, unknown> | null)?.[key];
      if (parent === null || typeof parent !== "object") break;
    }
    if (parent === null || typeof parent !== "object" || path.length === 0) continue;
    const last = path[path.length - 1]!;
    // an array's `length` is not a field a report can carry: setting it to an object throws
    if (Array.isArray(parent) && last === "length") continue;
    if (value === undefined) delete (parent as Record<string | number, unknown>)[last];
    // defined, not assigned: `__proto__` is then a key, as JSON.parse makes it, not a prototype
    else
      Object.defineProperty(parent, last, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return copy;
}

/** Random edits of an object: values replaced, removed, or keys added anywhere. */
function edits(root: unknown): fc.Arbitrary<{ path: Path; value: unknown }[]> {
  const paths = pathsOf(root).filter((p) => p.length > 0);
  const path = fc.oneof(
    fc.constantFrom(...paths),
    fc.tuple(fc.constantFrom(...paths), fc.string()).map(([p, key]) => [...p, key]),
  );
  const value = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom(null, "", "Signed", "x", 0, 1, -1, 1.5, [], {}, true),
    fc.jsonValue(),
  );
  return fc.array(fc.record({ path, value }), { minLength: 1, maxLength: 8 });
}

describe("the virustotal profile", () => {
  const profile = INPUT_PROFILES.virustotal;

  it("holds the fields of every example", () => {
    expect(VT_EXAMPLES.length).toBeGreaterThanOrEqual(24);
    for (const example of VT_EXAMPLES) {
      const fields = mapped(example, "virustotal");
      expect(fields).toBeDefined();
      expect(outside(fields!, profile)).toEqual([]);
    }
  });

  it("holds the fields of mutated examples", () => {
    // the real reports are large: a sample of them, the hand-written ones all
    for (const example of VT_EXAMPLES.slice(0, 8)) {
      fc.assert(
        fc.property(edits(example), (e) => {
          const fields = mapped(mutated(example, e), "virustotal");
          if (fields) expect(outside(fields, profile)).toEqual([]);
        }),
        { numRuns: 150 },
      );
    }
  });

  it("holds the fields of random VirusTotal-shaped objects", () => {
    const value = fc.oneof(fc.jsonValue(), fc.constant(undefined));
    const attributes = fc.dictionary(
      fc.constantFrom(
        "sha256",
        "meaningful_name",
        "names",
        "size",
        "mime_type",
        "type_description",
        "last_analysis_stats",
        "last_analysis_results",
        "signature_info",
        "first_submission_date",
        "last_analysis_date",
        "tags",
        "trust_score",
        "verdict",
        "reputation",
      ),
      value,
    );
    fc.assert(
      fc.property(attributes, (attrs) => {
        const fields = mapped({ ...attrs, sha256: "a".repeat(64) }, "virustotal");
        if (fields) expect(outside(fields, profile)).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it("is no larger than what the examples carry: every field in it is produced", () => {
    const seen = new Set<string>();
    for (const example of VT_EXAMPLES) for (const f of mapped(example, "virustotal")!) seen.add(f);
    expect([...profile].filter((f) => !seen.has(f))).toEqual([]);
  });

  it("leaves out what VirusTotal has no value for", () => {
    for (const field of ["trustScore", "verdict", "scoreBreakdown"]) {
      expect(profile.has(field)).toBe(false);
    }
  });
});

describe("the platform profile", () => {
  const profile = INPUT_PROFILES.platform;

  it("holds the fields of the documented file object, and is no larger", () => {
    const fields = mapped(DOCUMENTED_FILE, "platform");
    expect(fields).toBeDefined();
    expect(outside(fields!, profile, PLATFORM_EXTRAS)).toEqual([]);
    expect([...profile].filter((f) => !fields!.has(f))).toEqual([]);
  });

  it("holds the fields of mutated file objects", () => {
    fc.assert(
      fc.property(edits(DOCUMENTED_FILE), (e) => {
        const fields = mapped(mutated(DOCUMENTED_FILE, e), "platform");
        if (fields) expect(outside(fields, profile, PLATFORM_EXTRAS)).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });
});

describe("the canonical profile", () => {
  it("is every field of the schema: a canonical result may carry any", () => {
    expect([...INPUT_PROFILES.canonical].sort()).toEqual([...CANONICAL_FIELDS].sort());
  });
});
