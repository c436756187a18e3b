#!/usr/bin/env node
/**
 * `npm test`: unit + integration (Vitest; PostgreSQL too when TEST_DATABASE_URL is set), then
 * the app is built and the browser suite runs (Playwright). Every suite runs even if an earlier
 * one failed; the last line sums them all: "N passed, N failed".
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";

fs.mkdirSync("test-results", { recursive: true });
const VITEST_JSON = "test-results/vitest.json";
const PLAYWRIGHT_JSON = "test-results/playwright.json";
const SUMMARY_JSON = "test-results/summary.json"; // read by tests/validate.mjs
for (const f of [VITEST_JSON, PLAYWRIGHT_JSON, SUMMARY_JSON]) fs.rmSync(f, { force: true });

const run = (cmd, args, env = {}) =>
  spawnSync(cmd, args, { stdio: "inherit", env: { ...process.env, ...env } }).status ?? 1;

const steps = [];
steps.push([
  "vitest",
  run("npx", [
    "vitest",
    "run",
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${VITEST_JSON}`,
  ]),
]);
const buildStatus = run("npx", ["remix", "build"]);
steps.push(["build", buildStatus]);
if (buildStatus === 0) {
  steps.push([
    "playwright",
    run("npx", ["playwright", "test", "--reporter=list,json"], {
      PLAYWRIGHT_JSON_OUTPUT_NAME: PLAYWRIGHT_JSON,
    }),
  ]);
}

let passed = 0;
let failed = 0;
if (fs.existsSync(VITEST_JSON)) {
  const v = JSON.parse(fs.readFileSync(VITEST_JSON, "utf8"));
  passed += v.numPassedTests;
  failed += v.numFailedTests;
}
if (fs.existsSync(PLAYWRIGHT_JSON)) {
  const p = JSON.parse(fs.readFileSync(PLAYWRIGHT_JSON, "utf8"));
  passed += (p.stats.expected ?? 0) + (p.stats.flaky ?? 0);
  failed += p.stats.unexpected ?? 0;
}
const broken = steps.filter(([, status]) => status !== 0).map(([name]) => name);
if (broken.length > 0) {
  console.log(`\nFailed steps: ${broken.join(", ")}`);
  if (failed === 0) failed = 1; // a suite that could not run counts as a failure
}
fs.writeFileSync(SUMMARY_JSON, JSON.stringify({ passed, failed }));
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(broken.length > 0 || failed > 0 ? 1 : 0);
