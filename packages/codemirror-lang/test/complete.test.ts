// The completion source on texts with a cursor (`|`), against a small schema: what is offered
// where, without an editor (CompletionContext needs only a state).
import { CompletionContext, type CompletionResult } from "@codemirror/autocomplete";
import { EditorState } from "@codemirror/state";
import { describe, expect, it } from "vitest";
import { clearanceCompletionSource } from "../src/complete.js";
import { clearanceRules } from "../src/language.js";
import { declaredContext, fieldsFromJsonSchema, type RuleSchema } from "../src/schema.js";

const schema: RuleSchema = {
  fields: fieldsFromJsonSchema({
    type: "object",
    properties: {
      trustScore: { type: "integer", description: "0 to 100" },
      verdict: { type: "string", enum: ["clean", "suspicious", "malicious"] },
      analyzedAt: { type: "string", format: "date-time" },
      signature: {
        type: ["object", "null"],
        properties: {
          status: { type: "string", enum: ["valid", "revoked"] },
          signer: { type: "string" },
        },
      },
      engines: {
        type: "array",
        items: { type: "object", properties: { result: { type: "string" } } },
      },
    },
  }),
  functions: [{ name: "age", signature: "age(timestamp) -> duration: how long ago" }],
};

/** The completions at `|` in `text`, as typed (not asked for explicitly, unless `explicit`). */
function complete(text: string, explicit = false): CompletionResult | null {
  const pos = text.indexOf("|");
  const state = EditorState.create({ doc: text.replace("|", ""), extensions: [clearanceRules()] });
  const result = clearanceCompletionSource(schema)(new CompletionContext(state, pos, explicit));
  return result as CompletionResult | null;
}
const labels = (r: CompletionResult | null) => r?.options.map((o) => o.label) ?? [];

describe("completion", () => {
  it("offers fields, keywords, functions and the rule snippet as a word is typed", () => {
    const r = complete("rule x {\n  when trus|\n}");
    expect(labels(r)).toEqual(expect.arrayContaining(["trustScore", "when", "age", "rule"]));
    expect(r?.from).toBe("rule x {\n  when ".length);
    const trust = r?.options.find((o) => o.label === "trustScore");
    expect(trust).toMatchObject({ type: "property", detail: "number", info: "0 to 100" });
    expect(r?.options.find((o) => o.label === "age")).toMatchObject({
      type: "function",
      detail: "(timestamp) -> duration",
      apply: "age(",
    });
    expect(r?.options.find((o) => o.label === "rule")?.detail).toBe("snippet");
  });

  it("offers an object's fields after its dot, and a list's items' fields", () => {
    const r = complete("when signature.st|");
    expect(labels(r)).toEqual(["status", "signer"]);
    expect(r?.from).toBe("when signature.".length);
    expect(labels(complete("when engines.|"))).toEqual(["result"]);
    expect(complete("when trustScore.|")).toBeNull();
  });

  it("offers an enum's values after ==, != and in", () => {
    const eq = complete('when verdict == "ma|');
    expect(labels(eq)).toEqual(['"clean"', '"suspicious"', '"malicious"']);
    expect(eq?.from).toBe("when verdict == ".length);
    expect(labels(complete("when signature.status != |"))).toEqual(['"valid"', '"revoked"']);
    expect(labels(complete('when verdict in ["clean", |'))).toContain('"malicious"');
  });

  it("offers the lists the document declares after `in`, and only there", () => {
    const text = 'list vendors = ["a"]\nhashlist bad from "x"\nrule r { when sha256 in |';
    expect(labels(complete(text, true))).toEqual(["vendors", "bad"]);
    expect(labels(complete(`${text.replace(" in |", "")} and ven|`))).not.toContain("vendors");
  });

  it("offers the request context declared, after `context.`", () => {
    const text = "context { group: string, teams: list<string> }\nrule r { when context.|";
    const r = complete(text);
    expect(r?.options.map((o) => [o.label, o.detail])).toEqual([
      ["group", "string"],
      ["teams", "list<string>"],
    ]);
  });

  it("offers nothing in a comment or a string, nor with no word typed", () => {
    expect(complete("# trus|")).toBeNull();
    expect(complete('deny "trus|')).toBeNull();
    expect(complete("when |")).toBeNull();
  });
});

describe("the schema", () => {
  it("types JSON Schema fields as the checker does", () => {
    expect(schema.fields.map((f) => [f.name, f.type])).toEqual([
      ["trustScore", "number"],
      ["verdict", "string"],
      ["analyzedAt", "timestamp"],
      ["signature", "object"],
      ["engines", "list<object>"],
    ]);
  });

  it("reads context declarations across files, comments left out", () => {
    expect(
      declaredContext(["context { group: string, # who\n  tags: list<string> }", "rule r {}"]),
    ).toEqual([
      { name: "group", type: "string" },
      { name: "tags", type: "list<string>" },
    ]);
  });
});
