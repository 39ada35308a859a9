// The grammar run exactly as VS Code runs it: vscode-textmate's tokenizer over the Oniguruma
// regex engine compiled to WebAssembly.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import oniguruma from "vscode-oniguruma";
import textmate from "vscode-textmate";

export const SCOPE = "source.clearance-rules";
const ROOT = join(import.meta.dirname, "..");
const require = createRequire(import.meta.url);

/** One token of a line: its text, its columns and its scopes from the outermost. */
export interface Token {
  text: string;
  start: number;
  end: number;
  scopes: string[];
}

let grammar: Promise<textmate.IGrammar> | undefined;

function load(): Promise<textmate.IGrammar> {
  grammar ??= (async () => {
    const wasm = readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
    await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
    const registry = new textmate.Registry({
      onigLib: Promise.resolve({
        createOnigScanner: (patterns: string[]) => new oniguruma.OnigScanner(patterns),
        createOnigString: (text: string) => new oniguruma.OnigString(text),
      }),
      loadGrammar: async (scopeName: string) => {
        if (scopeName !== SCOPE) return null;
        const path = join(ROOT, "syntaxes", "clearance-rules.tmLanguage.json");
        return textmate.parseRawGrammar(readFileSync(path, "utf8"), path);
      },
    });
    const loaded = await registry.loadGrammar(SCOPE);
    if (!loaded) throw new Error(`grammar ${SCOPE} did not load`);
    return loaded;
  })();
  return grammar;
}

/** The tokens of each line of `text`, the state carried from line to line as in the editor. */
export async function tokenize(text: string): Promise<Token[][]> {
  const g = await load();
  let state = textmate.INITIAL;
  return text.split("\n").map((line) => {
    const result = g.tokenizeLine(line, state);
    state = result.ruleStack;
    return result.tokens.map((t) => ({
      text: line.slice(t.startIndex, t.endIndex),
      start: t.startIndex,
      end: t.endIndex,
      scopes: t.scopes,
    }));
  });
}
