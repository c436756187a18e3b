import crypto from "node:crypto";
import fs from "node:fs";
import pg from "pg";
import { inject } from "vitest";
import { openPglite, openPostgres, type DatabaseHandle } from "../../app/db/db.server";

export type TestDatabase = DatabaseHandle & { name: string; url?: string };

/**
 * A fresh, migrated database for one test file, cloned from the run's template: PGlite in memory,
 * or a new PostgreSQL database. `close()` drops it.
 */
export async function createTestDatabase(
  options: {
    /** PGlite in a worker thread, as the server runs it (whatever HEED_TEST_PGLITE_WORKER says). */
    pgliteWorker?: boolean;
  } = {},
): Promise<TestDatabase> {
  const kind = process.env.HEED_TEST_DB ?? "pglite";
  if (kind === "pglite") {
    const dump = fs.readFileSync(inject("pgliteTemplate"));
    // HEED_TEST_PGLITE_WORKER=1 runs the suite against PGlite in a worker thread, as the server
    // does; by default PGlite runs in the test's own thread.
    const handle = await openPglite("memory://", {
      lock: false,
      loadDataDir: new Blob([dump]),
      worker: options.pgliteWorker ?? process.env.HEED_TEST_PGLITE_WORKER === "1",
    });
    return { ...handle, name: "pglite" };
  }
  const adminUrl = inject("postgresAdminUrl");
  const template = inject("postgresTemplate");
  const name = `heed_t_${crypto.randomBytes(5).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  // CREATE DATABASE ... TEMPLATE fails while another session is connected to the template.
  for (let attempt = 0; ; attempt++) {
    try {
      await admin.query(`create database ${name} template ${template}`);
      break;
    } catch (e) {
      if (attempt > 20 || !/being accessed/.test((e as Error).message)) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const handle = await openPostgres(url.toString(), 20);
  return {
    ...handle,
    name,
    url: url.toString(),
    async close() {
      await handle.close();
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
