/**
 * The web console as the server serves it: index.html and hashed assets from a console build (a
 * small one made here, so these tests need no Vite build), with the security headers on every
 * file, long caching for assets only, `console.enabled: false`, and the API unaffected. The real
 * build is served by the console's own browser test (packages/console/test).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../src/config.js";
import { CONSOLE_DIR, CONSOLE_HEADERS } from "../src/http/console.js";
import { buildApp } from "../src/server.js";
import { createServices, type Services } from "../src/services.js";
import { RULES, tempDir } from "./helpers.js";

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const INDEX =
  '<!doctype html><title>console</title><script type="module" src="/assets/index-AbC123.js"></script>';
const SCRIPT = "document.title = 'console';";
const IMMUTABLE = "public, max-age=31536000, immutable";

interface Served {
  app: FastifyInstance;
  services: Services;
  close(): Promise<void>;
}

/** A real app on a temporary log, serving the console build in `consoleDir`. */
async function serve(
  name: string,
  enabled: boolean,
  consoleDir: string,
  logDir: string,
): Promise<Served> {
  const config = resolveConfig(
    {
      rules: { dir: RULES, watch: false },
      audit: { sqlite: { path: join(logDir, `${name}.db`), synchronous: "normal" } },
      limits: { pressure: { maxEventLoopDelayMs: 0 } },
      console: { enabled },
    },
    { baseDir: logDir },
  );
  const services = await createServices(config, { processMetrics: false });
  const app = await buildApp(services, false, { consoleDir });
  return {
    app,
    services,
    async close() {
      await app.close();
      await services.close();
    },
  };
}

describe("the web console at /", () => {
  const tmp = tempDir("clearance-console-");
  const build = join(tmp.dir, "console");
  let on: Served;
  let off: Served;
  let unbuilt: Served;

  beforeAll(async () => {
    mkdirSync(join(build, "assets"), { recursive: true });
    writeFileSync(join(build, "index.html"), INDEX);
    writeFileSync(join(build, "assets", "index-AbC123.js"), SCRIPT);
    writeFileSync(join(build, "assets", "index-DeF456.css"), "body { margin: 0 }");
    writeFileSync(join(build, ".env"), "SECRET=1");
    // Vite's manifest, which the build writes for the size budget: not the browser's business
    mkdirSync(join(build, ".vite"), { recursive: true });
    writeFileSync(join(build, ".vite", "manifest.json"), '{"SECRET": 1}');
    on = await serve("on", true, build, tmp.dir);
    off = await serve("off", false, build, tmp.dir);
    unbuilt = await serve("unbuilt", true, join(tmp.dir, "never-built"), tmp.dir);
  });

  afterAll(async () => {
    await on?.close();
    await off?.close();
    await unbuilt?.close();
    tmp.remove();
  });

  it("is found beside the server's code, wherever the server is started from", () => {
    expect(CONSOLE_DIR.replaceAll("\\", "/")).toMatch(/\/packages\/server\/console\/$/);
  });

  it.each([
    ["/", "text/html; charset=utf-8", "no-cache", INDEX],
    ["/index.html", "text/html; charset=utf-8", "no-cache", INDEX],
    ["/assets/index-AbC123.js", "application/javascript; charset=utf-8", IMMUTABLE, SCRIPT],
    ["/assets/index-DeF456.css", "text/css; charset=utf-8", IMMUTABLE, "body { margin: 0 }"],
  ])("serves %s with the security headers and its caching", async (url, type, cache, body) => {
    const r = await on.app.inject({ url });
    expect(r.statusCode).toBe(200);
    expect(r.headers["content-type"]).toBe(type);
    expect(r.headers["cache-control"]).toBe(cache);
    expect(r.headers["content-security-policy"]).toBe(CSP);
    expect(r.headers["x-content-type-options"]).toBe("nosniff");
    expect(r.headers["referrer-policy"]).toBe("no-referrer");
    for (const [name, value] of Object.entries(CONSOLE_HEADERS))
      expect(r.headers[name]).toBe(value);
    expect(r.body).toBe(body);
  });

  it("answers a repeated load of index.html with 304 when it has not changed", async () => {
    const first = await on.app.inject({ url: "/" });
    const etag = first.headers.etag as string;
    expect(etag).toBeTruthy();
    const again = await on.app.inject({ url: "/", headers: { "if-none-match": etag } });
    expect(again.statusCode).toBe(304);
    expect(again.headers["content-security-policy"]).toBe(CSP);
  });

  it("answers HEAD like GET, without a body", async () => {
    const r = await on.app.inject({ url: "/", method: "HEAD" });
    expect(r.statusCode).toBe(200);
    expect(r.headers["content-security-policy"]).toBe(CSP);
    expect(r.body).toBe("");
  });

  it.each([
    "/assets/index-Missing.js",
    "/assets/",
    "/.env",
    "/.vite/manifest.json",
    "/../package.json",
    "/%2e%2e/package.json",
    "/v2/audit",
  ])("answers %s with the API's 404 problem, not a file", async (url) => {
    const r = await on.app.inject({ url });
    expect(r.statusCode).toBe(404);
    expect(r.headers["content-type"]).toBe("application/problem+json; charset=utf-8");
    expect(r.json()).toMatchObject({ code: "not_found" });
    expect(r.body).not.toContain("SECRET");
  });

  it.each([
    ["/healthz", "application/json; charset=utf-8"],
    ["/v1/audit?limit=1", "application/json; charset=utf-8"],
    ["/v1/ruleset", "application/json; charset=utf-8"],
    ["/openapi.json", "application/json; charset=utf-8"],
    ["/metrics", "text/plain; version=0.0.4; charset=utf-8"],
  ])("leaves the API's %s as it was, without the console's headers", async (url, type) => {
    for (const served of [on, off]) {
      const r = await served.app.inject({ url });
      expect(r.statusCode).toBe(200);
      expect(r.headers["content-type"]).toBe(type);
      // the API's own policy (nothing runs), not the console's
      expect(r.headers["content-security-policy"]).toBe(
        "default-src 'none'; frame-ancestors 'none'",
      );
    }
  });

  it("keeps the console out of the OpenAPI document", async () => {
    const doc = (await on.app.inject({ url: "/openapi.json" })).json() as {
      paths: Record<string, unknown>;
    };
    expect(
      Object.keys(doc.paths).filter(
        (p) => !/^\/(v1|healthz|readyz|metrics|auth\/(login|callback)$)/.test(p),
      ),
    ).toEqual([]);
  });

  it.each(["/", "/index.html", "/assets/index-AbC123.js"])(
    "with console.enabled: false, answers %s with 404",
    async (url) => {
      const r = await off.app.inject({ url });
      expect(r.statusCode).toBe(404);
      expect(r.json()).toMatchObject({ code: "not_found", detail: `no route \`GET ${url}\`` });
    },
  );

  it("says so at / when the console was never built", async () => {
    const r = await unbuilt.app.inject({ url: "/" });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({
      code: "not_found",
      detail:
        "the web console is not built on this server: run `pnpm build`, which builds it into `packages/server/console`",
    });
  });
});
