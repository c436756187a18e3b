#!/usr/bin/env node
/**
 * `npm run validate`: what CI checks, in one command. Prettier (format check), ESLint (with the
 * type-aware rules), TypeScript, then `npm test`. Every step runs even if an earlier one failed,
 * so one run shows everything that is wrong. The last line counts the tests plus one per check
 * ("N passed, N failed"): a format, lint or type error is a failure like a failing test.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";

const SUMMARY = "test-results/summary.json";

const run = (cmd, args) => spawnSync(cmd, args, { stdio: "inherit" }).status ?? 1;

/** Runs a command with its output kept, answering its exit status and what it printed. */
const runQuiet = (cmd, args) =>
  new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    const out = [];
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => out.push(d));
    child.on("error", (e) => resolve({ status: 1, output: String(e) }));
    child.on("close", (code) =>
      resolve({ status: code ?? 1, output: Buffer.concat(out).toString() }),
    );
  });

const checks = [
  ["format", "npx", ["prettier", "--check", "."]],
  ["lint", "npx", ["eslint", "."]],
  ["typecheck", "npx", ["tsc", "--noEmit"]],
];
// The three checks read the tree and change nothing, so they run at once (about a minute less
// on two cores than one after another); each one's output is printed whole, in this order.
const results = await Promise.all(checks.map(([, cmd, args]) => runQuiet(cmd, args)));
const failedChecks = [];
checks.forEach(([name, cmd, args], i) => {
  console.log(`\n== ${name}: ${cmd} ${args.join(" ")}`);
  process.stdout.write(results[i].output);
  if (results[i].status !== 0) failedChecks.push(name);
});

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
