import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatDiagnostic } from "@clearance/dsl";
import { describe, expect, it } from "vitest";
import { compile } from "../src/index.js";
import { NOW } from "./helpers.js";

// Each golden/diagnostics/*.rules file is checked and its printed diagnostics compared with the
// *.golden file beside it. `UPDATE_GOLDEN=1 pnpm test` rewrites the goldens after a deliberate change.
const dir = join(import.meta.dirname, "golden", "diagnostics");
const update = process.env.UPDATE_GOLDEN === "1";

describe("diagnostics golden files", () => {
  for (const name of readdirSync(dir)
    .filter((f) => f.endsWith(".rules"))
    .sort()) {
    it(name, () => {
      const text = readFileSync(join(dir, name), "utf8");
      const result = compile([{ path: name, text }], { now: NOW });
      const printed = `${result.diagnostics.map((d) => formatDiagnostic(d, (p) => result.files.get(p))).join("\n\n")}\n`;
      const golden = join(dir, name.replace(/\.rules$/, ".golden"));
      if (update) writeFileSync(golden, printed);
      expect(printed).toBe(readFileSync(golden, "utf8"));
    });
  }
});
