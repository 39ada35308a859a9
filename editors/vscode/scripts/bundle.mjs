// Bundles the extension and vscode-languageclient into one CommonJS file, dist/extension.js, so
// the .vsix carries no node_modules (`vsce package --no-dependencies`). `vscode` is provided by
// the editor at run time and stays external.
import { build } from "esbuild";

await build({
  entryPoints: [new URL("../src/extension.ts", import.meta.url).pathname],
  outfile: new URL("../dist/extension.js", import.meta.url).pathname,
  bundle: true,
  format: "cjs",
  platform: "node",
  // VS Code 1.82 (the lowest `engines.vscode`) runs Node 18.
  target: "node18",
  external: ["vscode"],
  minify: true,
  sourcemap: false,
  logLevel: "warning",
});
