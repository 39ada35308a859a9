#!/usr/bin/env node
// Copies the console's screenshots that docs/console.md shows from out/screenshots/ (where the
// browser tests save them) into docs/images/. Run the console's browser tests first:
//   CLEARANCE_TEST_BROWSER=1 pnpm exec vitest run packages/console/test
//   node scripts/docs-screenshots.mjs
// Every image docs/console.md names must have been taken by this run of the tests: a missing one
// is an error, and nothing is copied.
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const FROM = join(ROOT, "out", "screenshots");
const TO = join(ROOT, "docs", "images");

const doc = readFileSync(join(ROOT, "docs", "console.md"), "utf8");
const names = [...doc.matchAll(/!\[[^\]]*\]\(images\/([^)\s]+\.png)\)/g)].map((m) => m[1]);
if (names.length === 0) {
  console.error("docs/console.md shows no images/*.png");
  process.exit(1);
}
const missing = names.filter((n) => !existsSync(join(FROM, n)));
if (missing.length > 0) {
  console.error(
    `not in out/screenshots/ (run the console's browser tests first): ${missing.join(", ")}`,
  );
  process.exit(1);
}
mkdirSync(TO, { recursive: true });
for (const name of names) {
  copyFileSync(join(FROM, name), join(TO, name));
  console.log(`docs/images/${name} (${Math.round(statSync(join(TO, name)).size / 1024)} KB)`);
}
