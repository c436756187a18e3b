/**
 * Prepares the e2e database before the server starts: a fresh data directory, migrations, the
 * first admin and demo data (as on a first start), then every fixture module in
 * tests/e2e/fixtures/ (each feature owns its own file and its own contacts/addresses).
 * Writes what the tests need (tokens, ids, passwords) to tests/.tmp/e2e/fixtures.json.
 */
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { E2E_DIR, E2E_FIXTURES } from "./env";
import type { FixtureContext, FixtureModule } from "./fixture-types";

const { getEnv } = await import("~/env.server");
const { ensureDemoData, ensureFirstAdmin, openAndMigrate } = await import("~/boot/boot.server");

fs.rmSync(E2E_DIR, { recursive: true, force: true });
fs.mkdirSync(E2E_DIR, { recursive: true });
const env = getEnv();
const handle = await openAndMigrate(env);
try {
  await ensureFirstAdmin(handle.db, env);
  const demo = await ensureDemoData(handle.db, env);
  const fixtures: Record<string, unknown> = { demo };
  const dir = path.resolve("tests/e2e/fixtures");
  const files = fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".ts"))
        .sort()
    : [];
  const ctx: FixtureContext = { db: handle.db, env };
  for (const file of files) {
    const mod = (await import(pathToFileURL(path.join(dir, file)).href)) as FixtureModule;
    fixtures[file.replace(/\.ts$/, "")] = await mod.default(ctx);
  }
  fs.writeFileSync(E2E_FIXTURES, JSON.stringify(fixtures, null, 2));
} finally {
  await handle.close();
}
