import fs from "node:fs";
import { defineConfig, devices } from "@playwright/test";
import { BUILD_DIR, E2E_DIR, E2E_ENV, E2E_PORT } from "./tests/e2e/env";

/** Debian's Chromium where it exists (this machine, CI); Playwright's own browser elsewhere. */
const executablePath =
  process.env.CHROMIUM_PATH ??
  (fs.existsSync("/usr/bin/chromium") ? "/usr/bin/chromium" : undefined);

export default defineConfig({
  testDir: "tests/e2e",
  testMatch: "**/*.spec.ts",
  outputDir: `${E2E_DIR}-artifacts`,
  fullyParallel: false,
  workers: process.env.CI ? 2 : 2,
  retries: 0,
  // Bounds for a frozen page, not speed goals: generous, because a slow shared machine (CI's two
  // cores run the server, two browsers and their workers at once) takes several times a fast
  // one's time. Long tests ask for a multiple of this (test.slow(), test.setTimeout).
  timeout: 60_000,
  expect: { timeout: 10_000 },
  forbidOnly: Boolean(process.env.CI),
  reporter: [["list"]],
  use: {
    baseURL: `http://localhost:${E2E_PORT}`,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
      ],
    },
  },
  projects: [{ name: "chromium", use: { ...devices["Desktop Chrome"] } }],
  webServer: {
    // Seed a fresh PGlite data directory (fixtures from tests/e2e/fixtures/*), then start the
    // built server on it. PGlite is single-process, so tests read tests/.tmp/e2e/fixtures.json
    // and act over HTTP only.
    command: `npx tsx tests/e2e/seed.ts && node ${BUILD_DIR}/index.js`,
    url: `http://localhost:${E2E_PORT}/healthz`,
    env: E2E_ENV,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: "ignore",
    stderr: "pipe",
  },
});
