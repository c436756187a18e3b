/** `npm run db:migrate`: applies pending migrations to DATABASE_URL, or to PGlite in HEED_DATA_DIR. */
import { parseArgs } from "node:util";
import { openDatabase } from "~/db/db.server";
import { migrateToLatest } from "~/db/migrate.server";
import { runCli } from "~/cli/cli";
import { getEnv } from "~/env.server";

parseArgs({ options: {}, strict: true });
await runCli(async () => {
  const env = getEnv();
  const handle = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.dataDir });
  try {
    const result = await migrateToLatest(handle.db);
    const applied = result.results ?? [];
    if (applied.length === 0) console.log("Database is up to date.");
    for (const r of applied)
      console.log(`${r.status === "Success" ? "applied" : r.status}: ${r.migrationName}`);
  } finally {
    await handle.close();
  }
});
