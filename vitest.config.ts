import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "services/*/src/**/*.test.ts",
      "gateway/src/**/*.test.ts",
      // The portal: its helpers' tests, and its views in a real browser against a real server.
      "portal/src/**/*.test.{ts,tsx}",
      "portal/e2e/**/*.test.ts",
    ],
    // One real PostgreSQL and one real Redis for the whole run (built by `tsc -b` first).
    globalSetup: ["services/testkit/dist/global-setup.js"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
