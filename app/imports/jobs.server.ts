import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import type { Logger } from "pino";
import { audit, type AuditContext } from "~/admin/audit.server";
import {
  applyPreparedBulkUnsubscribe,
  BULK_BATCH_SIZE,
  bulkLedgerFloor,
  prepareBulkUnsubscribe,
  type BulkUnsubscribeOptions,
  type PreparedBulkUnsubscribe,
} from "~/consent/bulk.server";
import { csvDownloadHeaders, csvLine, csvStream } from "~/csv/csv.server";
import { inTransaction, type Db } from "~/db/db.server";
import { isDatabaseUnavailable } from "~/db/faults.server";
import type { Channel } from "~/db/schema";
import type { Env } from "~/env.server";
import { detectColumns } from "~/imports/detect";
import {
  claimJobLease,
  committedSummary,
  DEFAULT_LEASE_MS,
  ImportLease,
  LeaseLostError,
} from "~/imports/lease.server";
import {
  checkZip,
  countLines,
  csvDelimiter,
  firstRows,
  ImportFileError,
  readRows,
  scanZip,
  sniffFormat,
  type ZipLimits,
} from "~/imports/read.server";
import { rowBatches, rowsToItems, type RowItems } from "~/imports/rows";
import {
  DEFAULT_IMPORT_NOTE,
  withImportTables,
  type ImportFormat,
  type ImportJob,
  type ImportMapping,
} from "~/imports/schema";
import { isUuid } from "~/db/ids";

/**
 * Bulk import of suppressions as background jobs (docs/admin.md).
 *
 * Upload (route) → prepareImportFile (format, zip bomb guard on declared sizes, column
 * detection) → createImportJob (queued). A worker in any server process claims the job
 * (FOR UPDATE SKIP LOCKED + a lease), checks the whole file (zip: actual expanded sizes; row
 * count) before writing anything, then imports it in batches through the consent core's bulk
 * door. Each batch commits its consent changes, its error rows and the job's counters in one
 * transaction, so `rows_read` is exactly what is committed: a crashed job resumes from there
 * (on another server, or after a restart), and a job that keeps crashing is marked failed with
 * what was committed. The uploaded file is deleted when the job ends.
 */

export const MAX_STORED_ERRORS = 100_000;

export type ImportLimits = ZipLimits & { maxFileBytes: number; maxRows: number };

export function importLimits(env: Env): ImportLimits {
  const maxFileBytes = env.IMPORT_MAX_FILE_MB * 1024 * 1024;
  return {
    maxFileBytes,
    maxRows: env.IMPORT_MAX_ROWS,
    maxRatio: env.IMPORT_MAX_ZIP_RATIO,
    maxExpandedBytes: Math.max(maxFileBytes * 10, 256 * 1024 * 1024),
  };
}

export function importsDir(env: Pick<Env, "dataDir">): string {
  return path.join(env.dataDir, "imports");
}

// ---------------------------------------------------------------------------------------------
// Preparing an upload

export type PreparedImport = { format: ImportFormat; mapping: ImportMapping };

/**
 * Looks at an uploaded file before a job is created: its format (from its bytes), for zip files
 * the sizes they declare (a zip bomb is refused here, before anything is decompressed), and the
 * address/channel/reason columns (from the first rows). Throws ImportFileError with a message
 * for the operator.
 */
export async function prepareImportFile(
  filePath: string,
  input: {
    fileName: string;
    limits: ImportLimits;
    channel: Channel | null;
    addressColumn?: string | null;
    reasonColumn?: string | null;
  },
): Promise<PreparedImport> {
  const size = (await fs.promises.stat(filePath)).size;
  if (size > input.limits.maxFileBytes) throw tooLarge(input.limits.maxFileBytes);
  const format = await sniffFormat(filePath, input.fileName);
  let delimiter: string | undefined;
  if (format === "csv") delimiter = await csvDelimiter(filePath);
  else await checkZip(filePath, input.limits);
  const rows = await firstRows(filePath, format, { delimiter }, 50);
  const detected = detectColumns(
    rows.map((r) => r.cells),
    {
      addressColumn: input.addressColumn,
      reasonColumn: input.reasonColumn,
      channelFromFile: input.channel === null,
    },
  );
  if (!detected.ok) throw new ImportFileError(detected.error);
  return { format, mapping: { ...detected.mapping, ...(delimiter ? { delimiter } : {}) } };
}

export function tooLarge(maxBytes: number): ImportFileError {
  return new ImportFileError(
    `The file is too large: at most ${Math.round(maxBytes / 1024 / 1024)} MB is allowed (IMPORT_MAX_FILE_MB).`,
  );
}

export async function createImportJob(
  db: Db,
  input: {
    id: string;
    fileName: string;
    storedFile: string;
    fileSize: number;
    prepared: PreparedImport;
    channel: Channel | null;
    note?: string | null;
    createdBy: string | null;
  },
): Promise<ImportJob> {
  return withImportTables(db)
    .insertInto("import_jobs")
    .values({
      id: input.id,
      format: input.prepared.format,
      file_name: input.fileName.slice(0, 255),
      stored_file: input.storedFile,
      file_size: input.fileSize,
      file_host: os.hostname(),
      channel: input.channel,
      note: input.note?.trim() || DEFAULT_IMPORT_NOTE,
      options: JSON.stringify(input.prepared.mapping),
      created_by: input.createdBy,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * An admin's upload becomes a queued job: the file is looked at (prepareImportFile: format, zip
 * sizes, columns; throws ImportFileError for the operator), then the job and its audit row are
 * written in one transaction. The worker picks the job up.
 */
export async function queueImport(
  db: Db,
  input: {
    id: string;
    file: { path: string; storedFile: string; name: string; size: number };
    channel: Channel | null;
    addressColumn?: string | null;
    reasonColumn?: string | null;
    note?: string | null;
    limits: ImportLimits;
  },
  by: AuditContext,
): Promise<ImportJob> {
  const { file, channel } = input;
  const prepared = await prepareImportFile(file.path, {
    fileName: file.name,
    limits: input.limits,
    channel,
    addressColumn: input.addressColumn,
    reasonColumn: input.reasonColumn,
  });
  return inTransaction(db, async (trx) => {
    const job = await createImportJob(trx, {
      id: input.id,
      fileName: file.name,
      storedFile: file.storedFile,
      fileSize: file.size,
      prepared,
      channel,
      note: input.note,
      createdBy: by.actor.type === "admin_user" ? (by.actor.id ?? null) : null,
    });
    await audit(trx, {
      ...by,
      action: "import.create",
      target: { type: "import", id: job.id },
      details: {
        file_name: file.name,
        size: file.size,
        format: prepared.format,
        channel: channel ?? "per row",
        columns: prepared.mapping.labels,
      },
    });
    return job;
  });
}

export async function getImportJob(db: Db, id: string): Promise<ImportJob | undefined> {
  if (!isUuid(id)) return undefined;
  return withImportTables(db)
    .selectFrom("import_jobs")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirst();
}

export type ImportJobListItem = ImportJob & { created_by_email: string | null };

export async function listImportJobs(db: Db, limit = 50): Promise<ImportJobListItem[]> {
  return withImportTables(db)
    .selectFrom("import_jobs as j")
    .leftJoin("admin_users as u", "u.id", "j.created_by")
    .selectAll("j")
    .select("u.email as created_by_email")
    .orderBy("j.created_at", "desc")
    .limit(limit)
    .execute();
}

// ---------------------------------------------------------------------------------------------
// The error report

/** The error report as CSV chunks (line, value, error), read from the database in pages. */
export async function* importErrorsCsv(db: Db, jobId: string): AsyncGenerator<string> {
  yield "line,value,error\r\n";
  let after = 0;
  for (;;) {
    const rows = await withImportTables(db)
      .selectFrom("import_errors")
      .select(["line", "value", "reason"])
      .where("job_id", "=", jobId)
      .where("line", ">", after)
      .orderBy("line")
      .limit(5_000)
      .execute();
    if (rows.length === 0) return;
    // The value is the file's own text (defused); the line and the reason are Heed's.
    yield rows.map((r) => csvLine([Number(r.line), r.value, r.reason], [0, 2])).join("");
    after = Number(rows[rows.length - 1]!.line);
  }
}

/**
 * An admin downloads an import's error report: audited, then streamed. Null when there is no
 * such import.
 */
export async function downloadImportErrors(
  db: Db,
  id: string,
  by: AuditContext,
): Promise<{ body: ReadableStream<Uint8Array>; headers: Record<string, string> } | null> {
  const job = await getImportJob(db, id);
  if (!job) return null;
  await audit(db, {
    ...by,
    action: "import.errors_download",
    target: { type: "import", id: job.id },
    details: { invalid: job.invalid },
  });
  const base =
    job.file_name
      .replace(/\.[^.]*$/, "")
      .replace(/[^\w.-]+/g, "_")
      .slice(0, 80) || "import";
  return {
    body: csvStream(importErrorsCsv(db, job.id)),
    headers: csvDownloadHeaders(`${base}-errors.csv`),
  };
}

export async function listImportErrors(db: Db, jobId: string, limit = 20) {
  return withImportTables(db)
    .selectFrom("import_errors")
    .select(["line", "value", "reason"])
    .where("job_id", "=", jobId)
    .orderBy("line")
    .limit(limit)
    .execute();
}

// ---------------------------------------------------------------------------------------------
// The worker

export type RunnerOptions = {
  env: Pick<Env, "dataDir" | "IMPORT_MAX_FILE_MB" | "IMPORT_MAX_ROWS" | "IMPORT_MAX_ZIP_RATIO">;
  /** Identifies this worker in locked_by; unique per process. */
  workerId?: string;
  leaseMs?: number;
  batchSize?: number;
  /**
   * PGlite is single-process (its data directory is locked), so a running job held by another
   * worker id is a leftover of a crash: take it over at once instead of waiting for its lease.
   */
  singleProcess?: boolean;
  /** Called after every committed batch (tests use it to slow a job down or watch it). */
  onBatch?: (job: ImportJob) => void | Promise<void>;
  /**
   * Asked between batches: true when the process is shutting down. The job is then handed back
   * (lease released at its last committed batch) so that another server or the next start
   * resumes it at once.
   */
  shouldStop?: () => boolean;
  logger?: Pick<Logger, "info" | "warn">;
};

const PROCESS_WORKER_ID = `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString("hex")}`;
const MAX_ATTEMPTS = 3;

class StopRequested extends Error {
  constructor() {
    super("The server is stopping.");
    this.name = "StopRequested";
  }
}

function filePathOf(env: RunnerOptions["env"], job: Pick<ImportJob, "stored_file">): string {
  return path.join(importsDir(env), path.basename(job.stored_file));
}

function workerOf(options: RunnerOptions) {
  return {
    workerId: options.workerId ?? PROCESS_WORKER_ID,
    leaseMs: options.leaseMs ?? DEFAULT_LEASE_MS,
    singleProcess: options.singleProcess,
  };
}

/** Claims the next job this server can run (its upload is on this server's disk); see lease.server.ts. */
export function claimImportJob(db: Db, options: RunnerOptions): Promise<ImportJob | null> {
  return claimJobLease(db, workerOf(options), (job) => fs.existsSync(filePathOf(options.env, job)));
}

async function reasonCodes(db: Db): Promise<Set<string>> {
  const rows = await db.selectFrom("unsubscribe_reasons").select("code").execute();
  return new Set(rows.map((r) => r.code));
}

/**
 * Checks the whole file before its first row is written (zip files: their actual expanded sizes;
 * every file: its row count against IMPORT_MAX_ROWS), renewing the lease while it reads.
 */
async function checkWholeFile(
  job: ImportJob,
  lease: ImportLease,
  filePath: string,
  limits: ImportLimits,
): Promise<ImportJob> {
  await lease.setPhase("checking");
  const header = job.options.header ? 1 : 0;
  const renew = () => lease.renew();
  const rows =
    job.format === "csv"
      ? Math.max(0, (await countLines(filePath, renew)) - header)
      : (await scanZip(filePath, job.format, limits, renew)).rows - header;
  if (rows > limits.maxRows) {
    throw new ImportFileError(
      `The file has about ${rows.toLocaleString("en")} rows; at most ${limits.maxRows.toLocaleString("en")} are allowed (IMPORT_MAX_ROWS). Split it into smaller files.`,
    );
  }
  return lease.recordTotal(rows);
}

/** A batch of rows, turned into items and prepared by the bulk door (the CPU half of a batch). */
type PreparedBatch = RowItems & { prepared: PreparedBulkUnsubscribe };

/**
 * The database half of a batch, in one transaction: the consent changes (through the bulk door),
 * the rows that could not be imported, and the job's progress under the lease.
 */
async function commitBatch(
  db: Db,
  job: ImportJob,
  lease: ImportLease,
  batch: PreparedBatch,
  context: { ledgerFloor: number | null; actor: BulkUnsubscribeOptions["actor"] },
): Promise<ImportJob> {
  const updated = await db.transaction().execute(async (trx) => {
    // An import batch need not wait for its commit to reach the disk: nobody is answered on the
    // strength of it, and the batch's consent changes and the job's progress are one transaction,
    // so a crash loses both together (at most the last few batches) and the job resumes after the
    // last batch that did reach the disk. Never crashes into a state where they disagree.
    await sql`select set_config('synchronous_commit', 'off', true)`.execute(trx);
    const result = await applyPreparedBulkUnsubscribe(trx, batch.prepared, {
      source: "import",
      importId: job.id,
      note: job.note,
      ledgerFloor: context.ledgerFloor,
      actor: context.actor,
    });
    const errors = {
      lines: [...batch.errors.lines],
      values: [...batch.errors.values],
      reasons: [...batch.errors.reasons],
    };
    for (const inv of result.invalid) {
      errors.lines.push(batch.itemLines[inv.index]!);
      errors.values.push(batch.itemValues[inv.index]!.trim().slice(0, 256) || null);
      errors.reasons.push(inv.reason);
    }
    const room = MAX_STORED_ERRORS - job.invalid;
    if (errors.lines.length > 0 && room > 0) {
      const n = Math.min(room, errors.lines.length);
      await sql`
        insert into import_errors (job_id, line, value, reason)
        select ${job.id}::uuid, l, v, r
        from unnest(${errors.lines.slice(0, n)}::bigint[], ${errors.values.slice(0, n)}::text[], ${errors.reasons.slice(0, n)}::text[]) as t(l, v, r)
        on conflict do nothing
      `.execute(trx);
    }
    return lease.recordBatch(trx, {
      rows: batch.count,
      imported: result.imported,
      alreadySuppressed: result.alreadySuppressed,
      duplicates: result.duplicates,
      invalid: errors.lines.length,
    });
  });
  lease.renewed();
  return updated;
}

/**
 * Runs a claimed job to the end (or until it fails). Never throws for a problem with the file:
 * the job is marked failed with the reason and with what was committed.
 *
 * One batch is written while the next one is read from the file and prepared (the commits stay in
 * order): `writing` is the batch being written.
 */
export async function runImportJob(
  db: Db,
  claimed: ImportJob,
  options: RunnerOptions,
): Promise<ImportJob> {
  const { workerId, leaseMs } = workerOf(options);
  const batchSize = Math.min(options.batchSize ?? BULK_BATCH_SIZE, BULK_BATCH_SIZE);
  const limits = importLimits(options.env as Env);
  const filePath = filePathOf(options.env, claimed);
  const lease = new ImportLease(db, claimed.id, workerId, leaseMs);
  let job = claimed;
  let writing: Promise<void> | null = null;

  const finish = async (set: { status: "completed" | "failed"; error?: string | null }) => {
    const row = await lease.finish(set);
    await fs.promises.rm(filePath, { force: true });
    const log = {
      importId: row.id,
      status: row.status,
      rowsRead: row.rows_read,
      imported: row.imported,
      alreadySuppressed: row.already_suppressed,
      duplicates: row.duplicates,
      invalid: row.invalid,
    };
    if (row.status === "completed") options.logger?.info(log, "import finished");
    else options.logger?.warn({ ...log, error: row.error }, "import failed");
    return row;
  };

  try {
    if (job.attempts > MAX_ATTEMPTS) {
      return await finish({
        status: "failed",
        error: `The import was interrupted ${MAX_ATTEMPTS} times (the server stopped while it ran) and was given up. ${committedSummary(job)}`,
      });
    }
    if (job.total_rows === null) job = await checkWholeFile(job, lease, filePath, limits);
    else if (job.phase !== "importing") await lease.setPhase("importing");

    const reasons = await reasonCodes(db);
    const context = {
      actor: job.created_by
        ? { type: "admin_user" as const, id: job.created_by }
        : { type: "system" as const },
      // Before the first committed batch, every ledger row this import will write is above the
      // ledger's current highest id: addresses at or below it were suppressed before (a
      // re-import then never reads their ledger rows). A resumed job reads them (exact either way).
      ledgerFloor: job.rows_read === 0 ? await bulkLedgerFloor(db) : null,
    };
    const mapping = job.options;
    const batches = rowBatches(readRows(filePath, job.format, { delimiter: mapping.delimiter }), {
      header: mapping.header,
      skip: job.rows_read,
      maxRows: limits.maxRows,
      batchSize,
      onSkipping: () => lease.renew(), // skipping what a previous run committed
    });
    for await (const rows of batches) {
      const items = rowsToItems(rows, { mapping, channel: job.channel, reasonCodes: reasons });
      const batch = { ...items, prepared: prepareBulkUnsubscribe(items.items) };
      if (writing) await writing;
      if (options.shouldStop?.()) throw new StopRequested();
      writing = commitBatch(db, job, lease, batch, context).then(async (updated) => {
        job = updated;
        await options.onBatch?.(job);
      });
      writing.catch(() => {}); // awaited (and rethrown) before the next batch or at the end
    }
    if (writing) await writing;
    return await finish({ status: "completed" });
  } catch (e) {
    // Let a batch still being written finish (or roll back) before the job is judged.
    await (writing as Promise<void> | null)?.catch(() => {});
    if (e instanceof LeaseLostError) return job;
    // The database went away (or blipped): the job is not at fault. It keeps its lease and its
    // committed batches, and this worker resumes it when the database answers again.
    if (isDatabaseUnavailable(e)) throw new ImportInterrupted(job.id, e);
    if (e instanceof StopRequested) {
      await lease.release();
      options.logger?.info(
        { importId: job.id, rowsRead: job.rows_read },
        "import handed back at shutdown",
      );
      return job;
    }
    const message =
      e instanceof ImportFileError
        ? e.message
        : `The import stopped because of an unexpected error (${(e as Error).message}).`;
    const latest = (await getImportJob(db, job.id)) ?? job;
    try {
      return await finish({ status: "failed", error: `${message} ${committedSummary(latest)}` });
    } catch (e2) {
      if (e2 instanceof LeaseLostError) return job;
      throw e2;
    }
  }
}

/** A job stopped because the database was unavailable; the runner resumes it later. */
class ImportInterrupted extends Error {
  constructor(
    readonly jobId: string,
    cause: unknown,
  ) {
    super("The import paused: the database is unavailable.", { cause });
    this.name = "ImportInterrupted";
  }
}

/**
 * Takes back a job this worker was running when the database went away, without counting an
 * attempt (the lease is still ours unless another worker took the job over meanwhile).
 */
async function resumeInterruptedJob(
  db: Db,
  jobId: string,
  options: RunnerOptions,
): Promise<ImportJob | null> {
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const row = await withImportTables(db)
    .updateTable("import_jobs")
    .set({
      locked_until: sql<Date>`now() + ${`${leaseMs} milliseconds`}::interval`,
      updated_at: sql<Date>`now()`,
    })
    .where("id", "=", jobId)
    .where("status", "=", "running")
    .where("locked_by", "=", options.workerId ?? PROCESS_WORKER_ID)
    .returningAll()
    .executeTakeFirst();
  return row ?? null;
}

let busy = false;
let interrupted: string | null = null;

/**
 * The background task: runs queued (and interrupted) jobs one at a time in this process, until
 * there is none. Several server processes may run it at once. A job that met an unavailable
 * database is not failed: the error goes up (the task retries with backoff) and the job resumes
 * after its last committed batch.
 */
export async function runPendingImports(db: Db, options: RunnerOptions): Promise<number> {
  if (busy) return 0;
  busy = true;
  let ran = 0;
  try {
    for (;;) {
      if (options.shouldStop?.()) return ran;
      let resumed: ImportJob | null = null;
      if (interrupted) {
        resumed = await resumeInterruptedJob(db, interrupted, options);
        interrupted = null;
      }
      const job = resumed ?? (await claimImportJob(db, options));
      if (!job) return ran;
      try {
        await runImportJob(db, job, options);
      } catch (e) {
        if (e instanceof ImportInterrupted) {
          interrupted = e.jobId;
          throw e.cause;
        }
        throw e;
      }
      ran++;
    }
  } finally {
    busy = false;
  }
}

/** Removes uploaded files that belong to no open job (an upload cut short, a deleted job). */
export async function removeStrayUploads(
  db: Db,
  env: Pick<Env, "dataDir">,
  olderThanMs = 24 * 60 * 60_000,
) {
  const dir = importsDir(env);
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return 0;
  }
  const open = new Set(
    (
      await withImportTables(db)
        .selectFrom("import_jobs")
        .select("stored_file")
        .where("status", "in", ["queued", "running"])
        .execute()
    ).map((r) => r.stored_file),
  );
  let removed = 0;
  for (const name of names) {
    if (open.has(name)) continue;
    const p = path.join(dir, name);
    const stat = await fs.promises.stat(p).catch(() => null);
    if (stat?.isFile() && Date.now() - stat.mtimeMs > olderThanMs) {
      await fs.promises.rm(p, { force: true });
      removed++;
    }
  }
  return removed;
}
