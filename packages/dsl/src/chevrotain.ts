/**
 * Chevrotain's values, from its single-file ESM bundle. The package's `exports` offer only its
 * modular build, which loads lodash-es as some 600 modules: 0.5-0.7 s before the first rule is
 * read, most of `clearance check`'s start-up. The bundle (`lib/chevrotain.mjs`, shipped in the
 * same package and version) loads in about 0.1 s. Types still come from "chevrotain" itself.
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import type * as Chevrotain from "chevrotain";

// `exports` blocks the bundle's own specifier, so it is found beside the entry point
// (`lib/src/api.js` -> `lib/chevrotain.mjs`).
const entry = pathToFileURL(createRequire(import.meta.url).resolve("chevrotain"));
const chevrotain = (await import(new URL("../chevrotain.mjs", entry).href)) as typeof Chevrotain;

export const { createToken, CstParser, EOF, generateCstDts, Lexer, tokenLabel } = chevrotain;
