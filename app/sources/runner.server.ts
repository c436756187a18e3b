import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import type { Logger } from "pino";
import { csvLine } from "~/csv/csv.server";
import type { Db } from "~/db/db.server";
import { isDatabaseUnavailable } from "~/db/faults.server";
import type { Env } from "~/env.server";
import { createImportJob, importsDir } from "~/imports/jobs.server";
import { ImportFileError } from "~/imports/read.server";
import type { ImportMapping } from "~/imports/schema";
import { SsrfError } from "~/security/outbound.server";
import { fetchToFile, SourceFetchError, type SourceFetchPolicy } from "~/sources/fetch.server";
import {
  SCHEDULE_INTERVAL,
  withSourceTables,
  type DataSource,
  type DataSourceRun,
  type SourceMapping,
} from "~/sources/schema";
import {
  authHeaders,
  fetchLimits,
  sourceFetchPolicy,
  type SourceEnv,
} from "~/sources/sources.server";
import { readSourceRecords } from "~/sources/structure.server";

/**
 * The scheduler of data sources (background lane, app/server/background.server.ts).
 *
 * A server claims one due source at a time: in one statement it moves the source's next_run_at
 * one period forward (or clears its "run now" request) and takes a lease, under FOR UPDATE SKIP
 * LOCKED. Another server never picks the same run: the source is no longer due, and its lease
 * keeps it from being claimed again while the run is in progress.
 *
 * A run fetches the URL through the SSRF guard to a file (fetch.server.ts), reads its records with
 * the mapping (structure.server.ts) and writes address, channel and reason as a CSV file in the
 * imports folder, then queues an import job for it: the bulk import pipeline (the same batches,
 * the same bulk door, source `import`, note `import unsubscribe`, the source's name as the job's
 * file name) does the rest, on this server (the file is on its disk). A failed fetch is recorded
 * on the run, and the source is tried again at its next run.
 */

export const SOURCE_LEASE_MS = 10 * 60_000;

const WORKER_ID = `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString("hex")}`;

export type SourceRunnerOptions = {
  env: SourceEnv & Pick<Env, "dataDir">;
  workerId?: string;
  /** Overrides the policy derived from env (tests: allow the local test server only). */
  policy?: SourceFetchPolicy;
  logger?: Pick<Logger, "info" | "warn">;
};

/** Claims the next due source (scheduled, or asked to run now), or null. */
export async function claimDueSource(
  db: Db,
  workerId: string = WORKER_ID,
  leaseMs: number = SOURCE_LEASE_MS,
): Promise<{
  source: DataSource;
  trigger: "schedule" | "manual";
  requestedBy: string | null;
} | null> {
  return db.transaction().execute(async (trx) => {
    const t = withSourceTables(trx);
    const due = await t
      .selectFrom("data_sources")
      .selectAll()
      .where("enabled", "=", true)
      .where("mapping", "is not", null)
      .where((eb) =>
        eb.or([eb("next_run_at", "<=", sql<Date>`now()`), eb("run_requested_at", "is not", null)]),
      )
      .where((eb) =>
        eb.or([eb("locked_until", "is", null), eb("locked_until", "<", sql<Date>`now()`)]),
      )
      .orderBy(sql`coalesce(run_requested_at, next_run_at)`)
      .limit(1)
      .forUpdate()
      .skipLocked()
      .executeTakeFirst();
    if (!due) return null;
    const manual = due.run_requested_at !== null;
    const interval = SCHEDULE_INTERVAL[due.schedule];
    const source = await t
      .updateTable("data_sources")
      .set({
        locked_by: workerId,
        locked_until: sql<Date>`now() + ${`${leaseMs} milliseconds`}::interval`,
        run_requested_at: null,
        run_requested_by: null,
        // A due source's schedule moves on (from now, so a server that was down does not run a
        // source several times to catch up); a run by hand before it is due leaves it.
        next_run_at: sql<Date>`case when next_run_at <= now() then now() + ${interval}::interval else next_run_at end`,
      })
      .where("id", "=", due.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return {
      source,
      trigger: manual ? ("manual" as const) : ("schedule" as const),
      requestedBy: due.run_requested_by,
    };
  });
}

async function release(db: Db, sourceId: string, workerId: string) {
  await withSourceTables(db)
    .updateTable("data_sources")
    .set({ locked_by: null, locked_until: null })
    .where("id", "=", sourceId)
    .where("locked_by", "=", workerId)
    .execute();
}

/**
 * Writes the records' address, channel and reason as a CSV file with a header row (no formula
 * defusing: this file is read by the importer, never opened in a spreadsheet).
 */
async function writeImportFile(
  source: DataSource,
  mapping: SourceMapping,
  fetched: string,
  out: string,
): Promise<number> {
  const stream = fs.createWriteStream(out);
  const write = (s: string) =>
    new Promise<void>((resolve, reject) => stream.write(s, (e) => (e ? reject(e) : resolve())));
  let count = 0;
  try {
    await write(csvLine(["address", "channel", "reason"], [0, 1, 2]));
    for await (const batch of readSourceRecords(fetched, source.format, mapping)) {
      let chunk = "";
      for (const r of batch) {
        chunk += csvLine(
          [
            r[mapping.address] ?? "",
            mapping.channel ? (r[mapping.channel] ?? "") : "",
            mapping.reason ? (r[mapping.reason] ?? "") : "",
          ],
          [0, 1, 2],
        );
      }
      count += batch.length;
      await write(chunk);
    }
  } finally {
    await new Promise<void>((resolve) => stream.end(resolve));
  }
  return count;
}

/** The import job's mapping of the file written above. */
function importMapping(source: DataSource, mapping: SourceMapping): ImportMapping {
  return {
    delimiter: ",",
    header: true,
    addressColumn: 0,
    channelColumn: source.channel === null ? 1 : null,
    reasonColumn: mapping.reason ? 2 : null,
    labels: {
      address: mapping.address,
      channel: source.channel === null ? mapping.channel : null,
      reason: mapping.reason,
    },
  };
}

/** Runs one claimed source: fetch, convert, queue the import. Never throws for the source's faults. */
export async function runSource(
  db: Db,
  claimed: { source: DataSource; trigger: "schedule" | "manual"; requestedBy: string | null },
  options: SourceRunnerOptions,
): Promise<DataSourceRun> {
  const { source } = claimed;
  const workerId = options.workerId ?? WORKER_ID;
  const t = withSourceTables(db);
  const run = await t
    .insertInto("data_source_runs")
    .values({
      source_id: source.id,
      trigger: claimed.trigger,
      url: source.url,
      requested_by: claimed.requestedBy,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  const dir = importsDir(options.env);
  await fs.promises.mkdir(dir, { recursive: true });
  const fetched = path.join(dir, `source-${run.id}.tmp`);
  const storedFile = `source-${run.id}.csv`;
  const importFile = path.join(dir, storedFile);
  let httpStatus: number | null = null;
  let bytes: number | null = null;
  try {
    const mapping = source.mapping!;
    const got = await fetchToFile(source.url, fetched, {
      headers: authHeaders(source),
      limits: fetchLimits(options.env),
      policy: options.policy ?? sourceFetchPolicy(options.env),
    });
    httpStatus = got.status;
    bytes = got.bytes;
    const records = await writeImportFile(source, mapping, fetched, importFile);
    const size = (await fs.promises.stat(importFile)).size;
    const updated = await db.transaction().execute(async (trx) => {
      const job = await createImportJob(trx, {
        id: crypto.randomUUID(),
        fileName: source.name,
        storedFile,
        fileSize: size,
        prepared: { format: "csv", mapping: importMapping(source, mapping) },
        channel: source.channel,
        note: null, // the default: "import unsubscribe"
        createdBy: claimed.requestedBy,
      });
      return withSourceTables(trx)
        .updateTable("data_source_runs")
        .set({
          status: "imported",
          http_status: httpStatus,
          bytes,
          records,
          import_job_id: job.id,
          finished_at: sql<Date>`now()`,
        })
        .where("id", "=", run.id)
        .returningAll()
        .executeTakeFirstOrThrow();
    });
    options.logger?.info(
      { sourceId: source.id, runId: run.id, records, bytes, importId: updated.import_job_id },
      "data source fetched",
    );
    return updated;
  } catch (e) {
    await fs.promises.rm(importFile, { force: true });
    if (isDatabaseUnavailable(e)) throw e;
    const message =
      e instanceof SourceFetchError || e instanceof SsrfError || e instanceof ImportFileError
        ? e.message
        : `Unexpected error: ${(e as Error).message}`;
    if (e instanceof SourceFetchError) httpStatus = e.httpStatus ?? httpStatus;
    options.logger?.warn(
      { sourceId: source.id, runId: run.id, error: message },
      "data source failed",
    );
    return t
      .updateTable("data_source_runs")
      .set({
        status: "failed",
        error: message.slice(0, 2000),
        http_status: httpStatus,
        bytes,
        finished_at: sql<Date>`now()`,
      })
      .where("id", "=", run.id)
      .returningAll()
      .executeTakeFirstOrThrow();
  } finally {
    await fs.promises.rm(fetched, { force: true });
    await release(db, source.id, workerId);
  }
}

let busy = false;

/** Runs every due source, one at a time in this process. Returns the runs made. */
export async function runDueSources(
  db: Db,
  options: SourceRunnerOptions,
): Promise<DataSourceRun[]> {
  if (busy) return [];
  busy = true;
  const runs: DataSourceRun[] = [];
  try {
    for (;;) {
      // The lease outlives the longest fetch (DATA_SOURCE_TIMEOUT_SECONDS) with room to convert.
      const leaseMs = Math.max(
        SOURCE_LEASE_MS,
        options.env.DATA_SOURCE_TIMEOUT_SECONDS * 1000 + 5 * 60_000,
      );
      const claimed = await claimDueSource(db, options.workerId, leaseMs);
      if (!claimed) return runs;
      runs.push(await runSource(db, claimed, options));
    }
  } finally {
    busy = false;
  }
}

export function createSourcesTask() {
  return {
    name: "data-sources",
    everyMs: 5_000,
    async run(ctx: { db: Db; env: Env; logger: Logger }) {
      await runDueSources(ctx.db, { env: ctx.env, logger: ctx.logger });
    },
  };
}
