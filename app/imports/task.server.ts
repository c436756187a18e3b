import type { Db } from "~/db/db.server";
import type { Env } from "~/env.server";
import type { Logger } from "pino";
import { removeStrayUploads, runPendingImports } from "~/imports/jobs.server";
import { refreshPhoneRegion } from "~/settings/phone-region.server";
import { analyzeGrownTables } from "~/db/analyze.server";

/**
 * The background task that runs import jobs (app/server/background.server.ts). Each server
 * process runs one job at a time; jobs are claimed with FOR UPDATE SKIP LOCKED and a lease, so
 * any number of servers can run the task. On SIGTERM/SIGINT the job in progress stops after its
 * current batch and is handed back, to be resumed by another server or the next start.
 */

let stopping = false;
let listening = false;
/** Registered on the first run only (the server's own handlers exit the process afterwards). */
function listenForShutdown() {
  if (listening) return;
  listening = true;
  const onStop = () => {
    stopping = true;
  };
  process.once("SIGTERM", onStop);
  process.once("SIGINT", onStop);
}

let lastSweep = 0;

/** Rows per import batch on PGlite (PostgreSQL uses BULK_BATCH_SIZE). */
export const PGLITE_IMPORT_BATCH = 1_000;

export function createImportTask() {
  return {
    name: "imports",
    everyMs: 1_500,
    async run(ctx: { db: Db; dbKind: "pglite" | "postgres"; env: Env; logger: Logger }) {
      listenForShutdown();
      // Keeps this process's copy of the default phone country fresh (it changes in the admin area).
      await refreshPhoneRegion(ctx.db);
      const ran = await runPendingImports(ctx.db, {
        env: ctx.env,
        singleProcess: ctx.dbKind === "pglite",
        // PGlite has one session, held for a whole batch: small batches keep requests waiting
        // for at most about a tenth of a second (measured: 1,000 rows ≈ 70-150 ms, 10,000 ≈ 0.6 s).
        ...(ctx.dbKind === "pglite" ? { batchSize: PGLITE_IMPORT_BATCH } : {}),
        shouldStop: () => stopping,
        logger: ctx.logger,
      });
      // An import is what makes a PGlite table grow most at once: its tables are analyzed now
      // rather than at the next check (decision 0109; PostgreSQL has autovacuum for that).
      if (ran > 0 && ctx.dbKind === "pglite") await analyzeGrownTables(ctx.db);
      if (Date.now() - lastSweep > 60 * 60_000) {
        lastSweep = Date.now();
        await removeStrayUploads(ctx.db, ctx.env);
      }
    },
  };
}
