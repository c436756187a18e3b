import os from "node:os";
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
    // Run the PGlite suite, then the PostgreSQL one: two files at a time are enough for two cores.
    sequence: { groupOrder: kind === "pglite" ? 1 : 2 },
  },
});

export default defineConfig({
  resolve: { alias },
  test: {
    // Two files at a time even on two cores (Vitest's default there is one): most integration
    // files spend their time in a server process or a database of their own, waiting on each
    // other, so one file alone keeps about one core busy.
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
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
