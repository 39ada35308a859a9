import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  DocumentSymbol,
  Hover,
  Location,
  WorkspaceEdit,
} from "vscode-languageserver-protocol";
// @ts-expect-error: the benchmark's generator is plain JavaScript
import { generateRuleDirectory } from "../../../bench/lsp/generate.js";
import { Client, positionOf, uri } from "./support/client.js";

// The server on a generated directory of 10,000 rules in 100 files: correctness only (the
// latency is measured by bench/lsp/latency.js, never timed here).
const COUNT = 10_000;
let dir: string;
let files: string[];
let client: Client;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "clearance-lsp-"));
  files = generateRuleDirectory(join(dir, "rules"), COUNT) as string[];
  client = new Client(["--rules", join(dir, "rules")]);
  await client.initialize(dir);
}, 60_000);
afterAll(async () => {
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});

const part = (n: number) => files[n]!;
const text = (path: string) => readFileSync(path, "utf8");

describe("a directory of 10,000 rules", () => {
  it("is clean, and a keystroke's error is reported in the file typed in", async () => {
    const path = part(50);
    const source = text(path);
    await client.open(path, source);
    expect(await client.settled(path)).toEqual([]);
    const at = positionOf(source, "trustScore");
    const version = await client.change(path, [{ range: { start: at, end: at }, text: "x" }]);
    const published = await client.next(path, (p) => p.version === version);
    expect(published.diagnostics.map((d) => d.code)).toEqual(["unknown_field"]);
    const back = await client.change(path, [
      { range: { start: at, end: { ...at, character: at.character + 1 } }, text: "" },
    ]);
    expect((await client.next(path, (p) => p.version === back)).diagnostics).toEqual([]);
  });

  it("reports an unused list once the whole directory is checked again", async () => {
    const path = part(10);
    const source = text(path);
    await client.open(path, source);
    // bad_words is used only by the rules with `not (fileName in bad_words)`: rename the uses in
    // one file and it is still used elsewhere; a new list nobody uses is reported where declared
    await client.change(path, [{ text: `${source}\nlist nobody_uses = ["x"]\n` }]);
    const list = await client.settled(path, (ds) => ds.some((d) => d.code === "unused_list"));
    expect(list.find((d) => d.code === "unused_list")!.message).toContain("nobody_uses");
    await client.change(path, [{ text: source }]);
    await client.settled(path, (ds) => ds.length === 0);
  });

  it("goes to a list's declaration from any file, and finds all its uses", async () => {
    const path = part(99);
    const source = text(path);
    await client.open(path, source);
    const at = positionOf(source, "known_bad", 0, 1);
    const definition = await client.request<Location[]>("textDocument/definition", {
      textDocument: { uri: uri(path) },
      position: at,
    });
    expect(definition.map((l) => l.uri)).toEqual([uri(join(dir, "rules", "settings.rules"))]);
    const references = await client.request<Location[]>("textDocument/references", {
      textDocument: { uri: uri(path) },
      position: at,
      context: { includeDeclaration: false },
    });
    // every sixth rule reads the hash list (generate.js)
    expect(references).toHaveLength(Math.ceil((COUNT - 3) / 6));
  });

  it("renames a list in every file", async () => {
    const path = part(0);
    await client.open(path, text(path));
    const edit = await client.request<WorkspaceEdit>("textDocument/rename", {
      textDocument: { uri: uri(path) },
      position: positionOf(text(path), "trusted_vendors", 0, 1),
      newName: "vendors_we_trust",
    });
    expect(Object.keys(edit.changes!)).toHaveLength(files.length + 1);
  });

  it("hovers, outlines and colours a file of 100 rules", async () => {
    const path = part(7);
    const source = text(path);
    await client.open(path, source);
    const hover = await client.request<Hover>("textDocument/hover", {
      textDocument: { uri: uri(path) },
      position: positionOf(source, "signature.status", 0, 11),
    });
    expect((hover.contents as { value: string }).value).toContain('"self_signed"');
    const symbols = await client.request<DocumentSymbol[]>("textDocument/documentSymbol", {
      textDocument: { uri: uri(path) },
    });
    expect(symbols).toHaveLength(100);
    const tokens = await client.request<{ data: number[] }>("textDocument/semanticTokens/full", {
      textDocument: { uri: uri(path) },
    });
    expect(tokens.data.length).toBeGreaterThan(100 * 5 * 5);
  });

  it("completes, formats and fixes in a file of 100 rules", async () => {
    const path = part(3);
    const source = text(path);
    await client.open(path, source);
    const typed = `${source}\nrule extra {\n  when context.`;
    await client.change(path, [{ text: typed }]);
    const items = await client.request<{ label: string }[]>("textDocument/completion", {
      textDocument: { uri: uri(path) },
      position: positionOf(typed, "when context.", 0, "when context.".length),
    });
    expect(items.map((i) => i.label)).toEqual(["group", "tags"]);

    const messy = source.replace("rule r00300 {", "rule   r00300{");
    await client.change(path, [{ text: messy }]);
    const edits = await client.request<{ newText: string }[]>("textDocument/formatting", {
      textDocument: { uri: uri(path) },
      options: { tabSize: 2, insertSpaces: true },
    });
    expect(edits[0]?.newText).toContain("rule r00300 {");

    const typo = source.replace("trusted_vendors", "trusted_vendor");
    const version = await client.change(path, [{ text: typo }]);
    const published = await client.next(path, (p) => p.version === version);
    const d = published.diagnostics.find((x) => x.code === "unknown_list")!;
    const actions = await client.request<
      { edit: { changes: Record<string, { newText: string }[]> } }[]
    >("textDocument/codeAction", {
      textDocument: { uri: uri(path) },
      range: d.range,
      context: { diagnostics: [d] },
    });
    expect(actions[0]!.edit.changes[uri(path)]![0]!.newText).toBe("trusted_vendors");
    await client.change(path, [{ text: source }]);
  });
});
