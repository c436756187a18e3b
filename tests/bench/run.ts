/**
 * `npm run bench`: runs every tests/bench/*.bench.ts in turn (each is a standalone script that
 * prints its own figures). `npm run bench -- consent` runs only files whose name contains "consent".
 * Benchmarks are never part of `npm test`.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const filter = process.argv[2];
const dir = path.resolve("tests/bench");
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts") && (!filter || f.includes(filter)))
  .sort();
let failed = 0;
for (const file of files) {
  console.log(`\n### ${file}`);
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(dir, file)], {
    stdio: "inherit",
  });
  if (r.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
