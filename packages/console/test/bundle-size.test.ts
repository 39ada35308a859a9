/**
 * The console's budget: the JavaScript its first page loads (everything but chunks loaded by a
 * dynamic import(), such as the rule editor's) stays under 150 KB gzipped. A size, not a timing:
 * it is the same on every machine. Needs the console built (`pnpm build`); skipped with a message
 * otherwise. `pnpm bench --only console` reports the same figures beside the load time.
 */
import { describe, expect, it } from "vitest";
import {
  CONSOLE_DIR,
  consoleSizes,
  FIRST_LOAD_JS_BUDGET_BYTES,
  fmtKB,
  manifestPath,
} from "../../../bench/lib/bundle.js";

const BUILT = manifestPath() !== undefined;
if (!BUILT)
  console.warn(
    `bundle-size.test.ts skipped: no Vite manifest under ${CONSOLE_DIR}: run \`pnpm build\``,
  );

describe.skipIf(!BUILT)(
  `the console's first-load JavaScript${BUILT ? "" : " (skipped: the console is not built)"}`,
  () => {
    it(`is under ${fmtKB(FIRST_LOAD_JS_BUDGET_BYTES)} gzipped`, () => {
      const sizes = consoleSizes();
      // the entry chunk at least: an empty list would pass any budget
      expect(sizes.firstLoad.js.length).toBeGreaterThan(0);
      const listed = sizes.firstLoad.js.map((f) => `${f.file} ${fmtKB(f.gzipBytes)}`).join(", ");
      expect(
        sizes.jsGzipBytes,
        `first-load JavaScript is ${fmtKB(sizes.jsGzipBytes)} gzipped (${listed}); load heavy libraries with import() on the page that needs them`,
      ).toBeLessThan(FIRST_LOAD_JS_BUDGET_BYTES);
    });
  },
);
