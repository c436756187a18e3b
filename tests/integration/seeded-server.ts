import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { inject } from "vitest";
import { openPglite, type Db } from "~/db/db.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { startServer, type RunningServer } from "./server.helpers";

/**
 * The built server in production mode on the test project's database kind (HEED_TEST_DB), after
 * `seed` wrote what the test needs: on PGlite into a fresh data directory made from the migrated
 * template (then closed: PGlite is single-process), on PostgreSQL into a fresh database.
 * `stop()` stops the server and removes the directory and the database.
 */
export async function startSeededServer(
  name: string,
  seed: (db: Db) => Promise<void>,
  env: Record<string, string> = {},
): Promise<{ server: RunningServer; stop: () => Promise<void> }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `heed-${name}-`));
  const serverEnv: Record<string, string> = { HEED_DATA_DIR: dataDir, ...env };
  let pgTest: TestDatabase | null = null;
  if ((process.env.HEED_TEST_DB ?? "pglite") === "pglite") {
    const handle = await openPglite(dataDir, {
      loadDataDir: new Blob([fs.readFileSync(inject("pgliteTemplate"))]),
    });
    try {
      await seed(handle.db);
    } finally {
      await handle.close();
    }
  } else {
    pgTest = await createTestDatabase();
    await seed(pgTest.db);
    serverEnv.DATABASE_URL = pgTest.url!;
  }
  const server = await startServer(serverEnv);
  return {
    server,
    async stop() {
      await server.stop();
      await pgTest?.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
