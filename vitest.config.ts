import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // Tests run against TypeScript sources, without a build step.
    conditions: ["@clearance/source"],
  },
  test: {
    include: ["packages/*/test/**/*.test.ts", "bench/test/**/*.test.ts"],
    testTimeout: 30_000,
  },
});
