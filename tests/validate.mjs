#!/usr/bin/env node
/**
 * `npm run validate`: what CI checks, in one command. Prettier (format check), ESLint (with the
 * type-aware rules), TypeScript, then `npm test`. Every step runs even if an earlier one failed,
 * so one run shows everything that is wrong. The last line counts the tests plus one per check
 * ("N passed, N failed"): a format, lint or type error is a failure like a failing test.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";

const SUMMARY = "test-results/summary.json";

const run = (cmd, args) => spawnSync(cmd, args, { stdio: "inherit" }).status ?? 1;

const checks = [
  ["format", "npx", ["prettier", "--check", "."]],
  ["lint", "npx", ["eslint", "."]],
  ["typecheck", "npx", ["tsc", "--noEmit"]],
];
const failedChecks = [];
for (const [name, cmd, args] of checks) {
  console.log(`\n== ${name}: ${cmd} ${args.join(" ")}`);
  if (run(cmd, args) !== 0) failedChecks.push(name);
}

console.log("\n== npm test");
fs.rmSync(SUMMARY, { force: true });
const testStatus = run("npm", ["test"]);
let tests = { passed: 0, failed: testStatus === 0 ? 0 : 1 };
if (fs.existsSync(SUMMARY)) tests = JSON.parse(fs.readFileSync(SUMMARY, "utf8"));

const passed = tests.passed + checks.length - failedChecks.length;
const failed = tests.failed + failedChecks.length;
if (failedChecks.length > 0) console.log(`\nFailed checks: ${failedChecks.join(", ")}`);
fs.mkdirSync("test-results", { recursive: true });
fs.writeFileSync("test-results/validate.json", JSON.stringify({ passed, failed, failedChecks }));
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 || testStatus !== 0 ? 1 : 0);
