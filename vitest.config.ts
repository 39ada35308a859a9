import { defineConfig } from "vitest/config";

// Tests run against TypeScript sources through the `@clearance/source` export condition, without a
// build step. Vitest runs test files in Vite's server (SSR) environment, so that is where it applies.
const conditions = ["@clearance/source", "import", "module", "node", "default"];
// Vitest hands the SSR conditions to Node as --conditions flags for external packages: `import`
// there would make CommonJS packages (pg) require ESM builds of their dependencies.
const ssrConditions = ["@clearance/source", "node"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions: ssrConditions, externalConditions: ["@clearance/source"] } },
  test: {
    include: [
      "packages/*/test/**/*.test.ts",
      "bench/test/**/*.test.ts",
      "test/**/*.test.ts",
      "editors/*/test/**/*.test.ts",
    ],
    testTimeout: 30_000,
  },
});
