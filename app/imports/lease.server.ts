import { sql } from "kysely";
import type { Db } from "~/db/db.server";
import { withImportTables, type ImportJob } from "~/imports/schema";

/**
 * The lease on an import job: which worker runs it, and until when. A worker claims a job (FOR
 * UPDATE SKIP LOCKED), renews its lease while it works, and every write it makes to the job checks
 * that it still holds it: a worker whose lease expired (it hung, or its server died) and was taken
 * over gets LeaseLostError and stops, and its batch in flight rolls back with its progress.
 */

export const DEFAULT_LEASE_MS = 60_000;
/** A job whose file no server has for this long is marked failed. */
const ORPHAN_AFTER_MS = 60 * 60_000;

export class LeaseLostError extends Error {
  constructor() {
    super("The import job was taken over by another worker.");
    this.name = "LeaseLostError";
  }
}

/** What a job had committed, for the operator: said when a job fails or is given up. */
export function committedSummary(
  job: Pick<ImportJob, "rows_read" | "imported" | "already_suppressed" | "duplicates" | "invalid">,
): string {
  if (job.rows_read === 0) return "Nothing was imported.";
  return (
    `The first ${job.rows_read} rows were committed (${job.imported} imported, ` +
    `${job.already_suppressed} already suppressed, ${job.duplicates} repeated, ${job.invalid} invalid); ` +
    `the rest of the file was not imported.`
  );
}

function leaseEnd(leaseMs: number) {
  return sql<Date>`now() + ${`${leaseMs} milliseconds`}::interval`;
}

/**
 * Claims the oldest queued job, or a running one whose worker stopped renewing its lease. Only a
 * job whose uploaded file is on this server's disk (`hasFile`) can be claimed; a job whose file no
 * server has had for an hour is marked failed.
 *
 * `singleProcess` (PGlite, whose data directory one process holds): a running job held by another
 * worker id is a leftover of a crash, taken over at once instead of after its lease.
 */
export async function claimJobLease(
  db: Db,
  worker: { workerId: string; leaseMs: number; singleProcess?: boolean },
  hasFile: (job: ImportJob) => boolean,
): Promise<ImportJob | null> {
  const { workerId } = worker;
  return db.transaction().execute(async (trx) => {
    const t = withImportTables(trx);
    const candidates = await t
      .selectFrom("import_jobs")
      .selectAll()
      .where((eb) =>
        eb.or([
          eb("status", "=", "queued"),
          eb.and([
            eb("status", "=", "running"),
            worker.singleProcess
              ? eb.or([
                  eb("locked_by", "is", null),
                  eb("locked_by", "!=", workerId),
                  eb("locked_until", "<", sql<Date>`now()`),
                ])
              : eb.or([eb("locked_until", "is", null), eb("locked_until", "<", sql<Date>`now()`)]),
          ]),
        ]),
      )
      .orderBy("created_at")
      .limit(10)
      .forUpdate()
      .skipLocked()
      .execute();
    for (const job of candidates) {
      if (!hasFile(job)) {
        // The upload lives on another server's disk (or is gone). Leave it to that server,
        // unless nobody has touched the job for a long time.
        if (Date.now() - job.updated_at.getTime() > ORPHAN_AFTER_MS) {
          await t
            .updateTable("import_jobs")
            .set({
              status: "failed",
              phase: "done",
              error: `The uploaded file is not available on any server (received by ${job.file_host}). ${committedSummary(job)}`,
              finished_at: sql<Date>`now()`,
              updated_at: sql<Date>`now()`,
              locked_by: null,
              locked_until: null,
            })
            .where("id", "=", job.id)
            .execute();
        }
        continue;
      }
      return t
        .updateTable("import_jobs")
        .set({
          status: "running",
          locked_by: workerId,
          locked_until: leaseEnd(worker.leaseMs),
          attempts: sql<number>`attempts + 1`,
          started_at: sql<Date>`coalesce(started_at, now())`,
          updated_at: sql<Date>`now()`,
        })
        .where("id", "=", job.id)
        .returningAll()
        .executeTakeFirstOrThrow();
    }
    return null;
  });
}

/** The committed counts of one batch, added to the job's. */
export type BatchProgress = {
  rows: number;
  imported: number;
  alreadySuppressed: number;
  duplicates: number;
  invalid: number;
  reasonsAdded?: number;
};

/** A worker's hold on one claimed job, and the writes to the job that need it. */
export class ImportLease {
  private lastRenewal = Date.now();

  constructor(
    private readonly db: Db,
    readonly jobId: string,
    readonly workerId: string,
    readonly leaseMs: number,
  ) {}

  /** Renews the lease once a quarter of it has passed (at once when forced). */
  async renew(force = false): Promise<void> {
    if (!force && Date.now() - this.lastRenewal < this.leaseMs / 4) return;
    const r = await withImportTables(this.db)
      .updateTable("import_jobs")
      .set({ locked_until: leaseEnd(this.leaseMs), updated_at: sql<Date>`now()` })
      .where("id", "=", this.jobId)
      .where("locked_by", "=", this.workerId)
      .where("status", "=", "running")
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw new LeaseLostError();
    this.lastRenewal = Date.now();
  }

  /** Marks the job's phase (what the progress page says it is doing). */
  async setPhase(phase: "checking" | "importing"): Promise<void> {
    await withImportTables(this.db)
      .updateTable("import_jobs")
      .set({ phase })
      .where("id", "=", this.jobId)
      .execute();
  }

  /** The whole file was checked: its row count, and on to importing (renews the lease). */
  async recordTotal(totalRows: number): Promise<ImportJob> {
    const updated = await withImportTables(this.db)
      .updateTable("import_jobs")
      .set({
        total_rows: Math.max(totalRows, 0),
        phase: "importing",
        locked_until: leaseEnd(this.leaseMs),
        updated_at: sql<Date>`now()`,
      })
      .where("id", "=", this.jobId)
      .where("locked_by", "=", this.workerId)
      .returningAll()
      .executeTakeFirst();
    if (!updated) throw new LeaseLostError();
    this.lastRenewal = Date.now();
    return updated;
  }

  /**
   * Adds a batch's counts to the job and renews the lease, in the transaction (`trx`) that wrote
   * the batch: a worker that lost its lease rolls the whole batch back.
   */
  async recordBatch(trx: Db, batch: BatchProgress): Promise<ImportJob> {
    const progressed = await withImportTables(trx)
      .updateTable("import_jobs")
      .set({
        rows_read: sql<number>`rows_read + ${batch.rows}`,
        imported: sql<number>`imported + ${batch.imported}`,
        already_suppressed: sql<number>`already_suppressed + ${batch.alreadySuppressed}`,
        duplicates: sql<number>`duplicates + ${batch.duplicates}`,
        invalid: sql<number>`invalid + ${batch.invalid}`,
        reasons_added: sql<number>`reasons_added + ${batch.reasonsAdded ?? 0}`,
        locked_until: leaseEnd(this.leaseMs),
        updated_at: sql<Date>`now()`,
      })
      .where("id", "=", this.jobId)
      .where("locked_by", "=", this.workerId)
      .where("status", "=", "running")
      .returningAll()
      .executeTakeFirst();
    if (!progressed) throw new LeaseLostError();
    return progressed;
  }

  /** Call once the transaction of recordBatch committed. */
  renewed(): void {
    this.lastRenewal = Date.now();
  }

  /** Ends the job (completed or failed) and lets go of it. */
  async finish(set: { status: "completed" | "failed"; error?: string | null }): Promise<ImportJob> {
    const row = await withImportTables(this.db)
      .updateTable("import_jobs")
      .set({
        status: set.status,
        phase: "done",
        error: set.error ?? null,
        finished_at: sql<Date>`now()`,
        updated_at: sql<Date>`now()`,
        locked_by: null,
        locked_until: null,
      })
      .where("id", "=", this.jobId)
      .where("locked_by", "=", this.workerId)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new LeaseLostError();
    return row;
  }

  /** Hands the job back at its last committed batch (this server is stopping). */
  async release(): Promise<void> {
    await withImportTables(this.db)
      .updateTable("import_jobs")
      .set({ locked_by: null, locked_until: null, updated_at: sql<Date>`now()` })
      .where("id", "=", this.jobId)
      .where("locked_by", "=", this.workerId)
      .execute();
  }
}
