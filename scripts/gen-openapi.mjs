// Writes docs/openapi.json: the OpenAPI document the server serves at /openapi.json, generated from
// the route schemas of the BUILT @clearance/server (run `pnpm build` first). `pnpm docs:openapi`;
// packages/server/test/docs.test.ts fails when the file and the routes disagree.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildApp, createServices, resolveConfig } from "../packages/server/dist/index.js";

const repo = resolve(import.meta.dirname, "..");
const out = join(repo, "docs/openapi.json");
const tmp = mkdtempSync(join(tmpdir(), "clearance-openapi-"));
try {
  const config = resolveConfig({
    rules: { dir: join(repo, "rules"), watch: false },
    audit: { sqlite: { path: join(tmp, "audit.db"), synchronous: "normal" } },
  });
  const services = await createServices(config, { processMetrics: false });
  const app = await buildApp(services, false);
  try {
    const res = await app.inject({ url: "/openapi.json" });
    if (res.statusCode !== 200) throw new Error(`/openapi.json answered ${res.statusCode}`);
    writeFileSync(out, `${JSON.stringify(res.json(), null, 2)}\n`);
    // in the repository's format, so `pnpm lint` accepts the file as generated
    execFileSync(join(repo, "node_modules/.bin/biome"), ["format", "--write", out], {
      stdio: "ignore",
    });
  } finally {
    await app.close();
    await services.close();
  }
  console.log(`wrote ${join("docs", "openapi.json")}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
