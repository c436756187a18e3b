import path from "node:path";
import { defineConfig } from "vitest/config";

const alias = { "~": path.resolve(import.meta.dirname, "app") };
const withPostgres = Boolean(process.env.TEST_DATABASE_URL);

const integration = (kind: "pglite" | "postgres") => ({
  resolve: { alias },
  test: {
    name: `integration-${kind}`,
    include: ["tests/integration/**/*.test.ts"],
    setupFiles: ["tests/setup/env.ts", "tests/setup/console.ts"],
    globalSetup: ["tests/setup/global-db.ts"],
    env: { HEED_TEST_DB: kind },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Run the PGlite suite, then the PostgreSQL one: two cores are busy enough with one at a time.
    sequence: { groupOrder: kind === "pglite" ? 1 : 2 },
  },
});

export default defineConfig({
  resolve: { alias },
  test: {
    reporters: process.env.CI
      ? ["default", ["json", { outputFile: "test-results/vitest.json" }]]
      : ["default"],
    projects: [
      {
        resolve: { alias },
        test: {
          name: "unit",
          include: ["tests/unit/**/*.test.ts"],
          setupFiles: ["tests/setup/env.ts", "tests/setup/console.ts"],
          // Generous: some unit tests read the whole source tree, and CI's two cores are shared.
          testTimeout: 30_000,
        },
      },
      integration("pglite"),
      ...(withPostgres ? [integration("postgres")] : []),
    ],
  },
});
