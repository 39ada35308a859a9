import { defineConfig } from "vitest/config";

// Tests run against TypeScript sources through the `@clearance/source` export condition, without a
// build step. Vitest runs test files in Vite's server (SSR) environment, so that is where it applies.
const conditions = ["@clearance/source", "import", "module", "node", "default"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ["@clearance/source"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "bench/test/**/*.test.ts"],
    testTimeout: 30_000,
  },
});
