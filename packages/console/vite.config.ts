import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The console is built into the server package, which serves it at `/` (packages/server/src/http/
// console.ts) and ships it with the CLI; that directory is build output, ignored by git.
const OUT = fileURLToPath(new URL("../server/console", import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  // Preact's JSX runtime, without @preact/preset-vite: hooks and JSX need nothing more
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: OUT,
    emptyOutDir: true,
    // hashed names under assets/ are what the server caches for a year
    assetsDir: "assets",
    // no inline modulepreload polyfill or data: URLs: the CSP allows scripts from 'self' only
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    target: "es2022",
    reportCompressedSize: true,
    // .vite/manifest.json: which chunks the first page loads statically, for the size budget
    // (bench/lib/bundle.js); a dotfile, which the server does not serve
    manifest: true,
  },
  // `pnpm --dir packages/console exec vite`: the console with live reload, the API from a server
  // started beside it with `pnpm start`
  server: {
    port: 5173,
    strictPort: true,
    proxy: { "/v1": "http://127.0.0.1:8080" },
  },
});
