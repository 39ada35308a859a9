// TypeBox in one file for the built @clearance/options. The `typebox` package is some 700 ES
// modules; loading them costs 130-200 ms at every start of `clearance check` or `eval` (the
// options of the language and of the input are declared with it), against under 10 ms for the
// same code bundled. So, after tsc: write `packages/options/dist/typebox.bundle.mjs`, and point
// the built JavaScript's imports of "typebox" at it. The sources and the type declarations keep
// importing "typebox" itself: TypeScript sees its namespaces (`Type.TObject`), and tests, which
// run the sources, load the package as it is. Run by `pnpm build` (and so by `pnpm install`).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { build } from "esbuild";

const options = resolve(import.meta.dirname, "../packages/options");
const dist = join(options, "dist");
const BUNDLE = "typebox.bundle.mjs";

mkdirSync(dist, { recursive: true });
await build({
  // resolved from the options package, whose dependency it is (its entry is ESM)
  entryPoints: [createRequire(join(options, "package.json")).resolve("typebox")],
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  outfile: join(dist, BUNDLE),
  logLevel: "warning",
  legalComments: "inline",
});

const IMPORT = /(\bfrom\s*)"typebox"/g;
for (const file of readdirSync(dist)) {
  if (!file.endsWith(".js")) continue;
  const path = join(dist, file);
  const text = readFileSync(path, "utf8");
  const pointed = text.replace(IMPORT, `$1"./${BUNDLE}"`);
  if (pointed !== text) writeFileSync(path, pointed);
}
