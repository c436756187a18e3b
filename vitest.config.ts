import os from "node:os";
import path from "node:path";
import { configDefaults, defineConfig } from "vitest/config";

const alias = { "~": path.resolve(import.meta.dirname, "app") };
const withPostgres = Boolean(process.env.TEST_DATABASE_URL);

/**
 * Tests that measure the process itself (its peak RSS during a 200,000-row import or a zip bomb):
 * they run in a process of their own per file, not after other files in a shared one.
 */
const MEASURES_PROCESS = [
  "tests/integration/import-postgres.test.ts",
  "tests/integration/xlsx-zip-bomb.test.ts",
];

const integration = (kind: "pglite" | "postgres", ownProcess = false) => ({
  resolve: { alias },
  test: {
    name: `integration-${kind}${ownProcess ? "-own-process" : ""}`,
    ...(ownProcess
      ? { include: MEASURES_PROCESS }
      : {
          include: ["tests/integration/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...MEASURES_PROCESS],
        }),
    setupFiles: [
      "tests/setup/env.ts",
      "tests/setup/console.ts",
      ...(ownProcess ? [] : ["tests/setup/shared-modules.ts"]),
    ],
    globalSetup: ["tests/setup/global-db.ts"],
    env: { HEED_TEST_DB: kind },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The files of a worker share its modules instead of loading the app again for each file
    // (tests/setup/shared-modules.ts forgets what modules keep between files; decision 0121).
    // Measured on a two-core EPYC, the whole suite with PostgreSQL: 530-541 s isolated, 360 s
    // shared (module loading summed over files: 155 s against 41 s), and CI's 20 minutes need
    // the difference.
    isolate: ownProcess,
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
      integration("pglite", true),
      ...(withPostgres ? [integration("postgres"), integration("postgres", true)] : []),
    ],
  },
});
