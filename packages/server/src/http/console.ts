import { existsSync } from "node:fs";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";
import { ProblemError } from "./problems.js";

/**
 * The web console's build (`packages/console`, built by Vite), which ships in this package beside
 * `src/` and `dist/`: found from this file, so it does not depend on the working directory.
 */
export const CONSOLE_DIR = fileURLToPath(new URL("../../console/", import.meta.url));

/**
 * Sent with every file of the console. The console's script and style are files of its own origin:
 * no inline script, no inline style, no framing, no other origin to talk to.
 */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "content-security-policy": [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; "),
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
});

/** Vite names the files under assets/ by their content: they never change under their name. */
const IMMUTABLE = "public, max-age=31536000, immutable";
/** index.html names the current assets: it is checked with the server on every load. */
const REVALIDATE = "no-cache";

export interface ConsoleOptions {
  /** the built console; `CONSOLE_DIR` unless a test gives its own */
  dir: string;
}

/**
 * Serves the console at `/`: `index.html` and the files it loads, each as a route of its own
 * (`wildcard: false`), so any other path stays the API's 404.
 */
export async function consoleRoutes(
  fastify: FastifyInstance,
  options: ConsoleOptions,
): Promise<void> {
  const dir = options.dir.endsWith(sep) ? options.dir : `${options.dir}${sep}`;
  if (!existsSync(join(dir, "index.html"))) {
    // a checkout where the console was never built: say so where the console would be
    fastify.log.warn(
      `the web console is not built (no \`${join(dir, "index.html")}\`): run \`pnpm build\``,
    );
    fastify.get("/", { schema: { hide: true } }, async () => {
      throw new ProblemError(
        "not_found",
        "the web console is not built on this server: run `pnpm build`, which builds it into `packages/server/console`",
      );
    });
    return;
  }
  const assets = join(dir, "assets", sep);
  await fastify.register(fastifyStatic, {
    root: dir,
    prefix: "/",
    wildcard: false,
    index: ["index.html"],
    redirect: false,
    serveDotFiles: false,
    cacheControl: false,
    etag: true,
    lastModified: true,
    schemaHide: true,
    setHeaders(res, path) {
      for (const [name, value] of Object.entries(CONSOLE_HEADERS)) res.setHeader(name, value);
      res.setHeader("cache-control", path.startsWith(assets) ? IMMUTABLE : REVALIDATE);
    },
  });
}
