import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql, type Selectable } from "kysely";
import {
  applyPreparedBulkUnsubscribe,
  BULK_BATCH_SIZE,
  bulkLedgerFloor,
  prepareBulkUnsubscribe,
  type BulkUnsubscribeItem,
  type PreparedBulkUnsubscribe,
} from "~/consent/bulk.server";

import { audit, type AuditContext } from "~/admin/audit.server";
import { inTransaction, type Db } from "~/db/db.server";

import { CHANNELS, type Channel } from "~/db/schema";
import type { Env } from "~/env.server";

import type { Logger } from "pino";

import { detectColumns } from "~/imports/detect";

import {
  checkZip,
  countLines,
  csvDelimiter,
  firstRows,
  ImportFileError,
  readRows,
  scanZip,
  sniffFormat,
  type SheetRow,
  type ZipLimits,
} from "~/imports/read.server";

import {
  withImportTables,
  type ImportErrorReason,
  type ImportFormat,
  type ImportJobsTable,
  type ImportMapping,
} from "~/imports/schema";

import { DEFAULT_IMPORT_NOTE } from "~/imports/schema";

/**
 * Bulk import of suppressions as background jobs (SPEC §5, issue 6).
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
const MAX_ATTEMPTS = 3;
const DEFAULT_LEASE_MS = 60_000;
/** A job whose file no server has for this long is marked failed. */
const ORPHAN_AFTER_MS = 60 * 60_000;

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

export type ImportJob = Selectable<ImportJobsTable>;

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
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
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

const csvCell = (v: string | number | null) => {
  const s = v === null ? "" : String(v);
  // A value that a spreadsheet would run as a formula is prefixed with an apostrophe.
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\r\n;]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};

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
    yield rows.map((r) => `${r.line},${csvCell(r.value)},${r.reason}\r\n`).join("");
    after = Number(rows[rows.length - 1]!.line);
  }
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

class StopRequested extends Error {
  constructor() {
    super("The server is stopping.");
    this.name = "StopRequested";
  }
}

class LeaseLostError extends Error {
  constructor() {
    super("The import job was taken over by another worker.");
    this.name = "LeaseLostError";
  }
}

function filePathOf(env: RunnerOptions["env"], job: Pick<ImportJob, "stored_file">): string {
  return path.join(importsDir(env), path.basename(job.stored_file));
}

/** Claims the oldest queued job, or a running one whose worker stopped renewing its lease. */
export async function claimImportJob(db: Db, options: RunnerOptions): Promise<ImportJob | null> {
  const workerId = options.workerId ?? PROCESS_WORKER_ID;
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
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
            options.singleProcess
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
      if (!fs.existsSync(filePathOf(options.env, job))) {
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
          locked_until: sql<Date>`now() + ${`${leaseMs} milliseconds`}::interval`,
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

function committedSummary(
  job: Pick<ImportJob, "rows_read" | "imported" | "already_suppressed" | "duplicates" | "invalid">,
): string {
  if (job.rows_read === 0) return "Nothing was imported.";
  return (
    `The first ${job.rows_read} rows were committed (${job.imported} imported, ` +
    `${job.already_suppressed} already suppressed, ${job.duplicates} repeated, ${job.invalid} invalid); ` +
    `the rest of the file was not imported.`
  );
}

const CHANNEL_ALIASES: Record<string, Channel> = {
  email: "email",
  "e-mail": "email",
  mail: "email",
  sms: "sms",
  text: "sms",
  phone: "sms",
  mobile: "sms",
  whatsapp: "whatsapp",
  wa: "whatsapp",
};

function channelOf(value: string | undefined): Channel | null {
  const v = (value ?? "").trim().toLowerCase();
  if ((CHANNELS as readonly string[]).includes(v)) return v as Channel;
  return CHANNEL_ALIASES[v] ?? null;
}

async function reasonCodes(db: Db): Promise<Map<string, string>> {
  const rows = await db.selectFrom("unsubscribe_reasons").select("code").execute();
  return new Map(rows.map((r) => [r.code, r.code]));
}

/** A reason cell: a configured reason code (any case, spaces for underscores) or free text. */
function reasonOf(value: string | undefined, codes: Map<string, string>) {
  const v = (value ?? "").trim();
  if (!v) return { reasonCode: null, reasonText: null };
  const code = codes.get(v.toLowerCase().replace(/[\s-]+/g, "_"));
  return code ? { reasonCode: code, reasonText: null } : { reasonCode: null, reasonText: v };
}

/**
 * Runs a claimed job to the end (or until it fails). Never throws for a problem with the file:
 * the job is marked failed with the reason and with what was committed.
 */
export async function runImportJob(
  db: Db,
  claimed: ImportJob,
  options: RunnerOptions,
): Promise<ImportJob> {
  const workerId = options.workerId ?? PROCESS_WORKER_ID;
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const batchSize = Math.min(options.batchSize ?? BULK_BATCH_SIZE, BULK_BATCH_SIZE);
  const limits = importLimits(options.env as Env);
  const filePath = filePathOf(options.env, claimed);
  const jobs = withImportTables(db);
  let job = claimed;

  const leaseExpr = sql<Date>`now() + ${`${leaseMs} milliseconds`}::interval`;
  let lastRenewal = Date.now();
  const renewLease = async (force = false) => {
    if (!force && Date.now() - lastRenewal < leaseMs / 4) return;
    const r = await jobs
      .updateTable("import_jobs")
      .set({ locked_until: leaseExpr, updated_at: sql<Date>`now()` })
      .where("id", "=", job.id)
      .where("locked_by", "=", workerId)
      .where("status", "=", "running")
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw new LeaseLostError();
    lastRenewal = Date.now();
  };
  const finish = async (set: { status: "completed" | "failed"; error?: string | null }) => {
    const row = await jobs
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
      .where("id", "=", job.id)
      .where("locked_by", "=", workerId)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new LeaseLostError();
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

  let pending: Promise<void> | null = null;
  try {
    if (job.attempts > MAX_ATTEMPTS) {
      return await finish({
        status: "failed",
        error: `The import was interrupted ${MAX_ATTEMPTS} times (the server stopped while it ran) and was given up. ${committedSummary(job)}`,
      });
    }
    const mapping = job.options;

    // 1. Check the whole file before the first row is written.
    if (job.total_rows === null) {
      await jobs
        .updateTable("import_jobs")
        .set({ phase: "checking" })
        .where("id", "=", job.id)
        .execute();
      let rows: number;
      if (job.format === "csv") {
        rows = Math.max(
          0,
          (await countLines(filePath, () => renewLease())) - (mapping.header ? 1 : 0),
        );
      } else {
        rows =
          (await scanZip(filePath, job.format, limits, () => renewLease())).rows -
          (mapping.header ? 1 : 0);
      }
      if (rows > limits.maxRows) {
        throw new ImportFileError(
          `The file has about ${rows.toLocaleString("en")} rows; at most ${limits.maxRows.toLocaleString("en")} are allowed (IMPORT_MAX_ROWS). Split it into smaller files.`,
        );
      }
      const updated = await jobs
        .updateTable("import_jobs")
        .set({
          total_rows: Math.max(rows, 0),
          phase: "importing",
          locked_until: leaseExpr,
          updated_at: sql<Date>`now()`,
        })
        .where("id", "=", job.id)
        .where("locked_by", "=", workerId)
        .returningAll()
        .executeTakeFirst();
      if (!updated) throw new LeaseLostError();
      job = updated;
      lastRenewal = Date.now();
    } else if (job.phase !== "importing") {
      await jobs
        .updateTable("import_jobs")
        .set({ phase: "importing" })
        .where("id", "=", job.id)
        .execute();
    }

    // 2. Import in batches, resuming after the rows already committed.
    const codes = await reasonCodes(db);
    const actor = job.created_by
      ? { type: "admin_user" as const, id: job.created_by }
      : { type: "system" as const };
    // Before the first committed batch, every ledger row this import will write is above the
    // ledger's current highest id: addresses at or below it were suppressed before (a re-import
    // then never reads their ledger rows). A resumed job reads them (exact either way).
    const ledgerFloor = job.rows_read === 0 ? await bulkLedgerFloor(db) : null;
    let index = 0;
    let headerSkipped = !mapping.header;
    let batch: SheetRow[] = [];

    type PreparedRows = {
      count: number;
      prepared: PreparedBulkUnsubscribe;
      itemLine: number[];
      itemValue: string[];
      errLines: number[];
      errValues: (string | null)[];
      errReasons: ImportErrorReason[];
    };
    // The CPU half of a batch: cells to items, then the bulk door's normalize + hash.
    const prepareRows = (rows: SheetRow[]): PreparedRows => {
      const items: BulkUnsubscribeItem[] = [];
      const b: Omit<PreparedRows, "prepared"> = {
        count: rows.length,
        itemLine: [],
        itemValue: [],
        errLines: [],
        errValues: [],
        errReasons: [],
      };
      for (const row of rows) {
        const raw = row.cells[mapping.addressColumn] ?? "";
        const channel = job.channel ?? channelOf(row.cells[mapping.channelColumn ?? -1]);
        if (!channel) {
          b.errLines.push(row.line);
          b.errValues.push((row.cells[mapping.channelColumn ?? -1] ?? "").slice(0, 256));
          b.errReasons.push("invalid_channel");
          continue;
        }
        items.push({
          channel,
          address: raw,
          ...reasonOf(row.cells[mapping.reasonColumn ?? -1], codes),
        });
        b.itemLine.push(row.line);
        b.itemValue.push(raw);
      }
      return { ...b, prepared: prepareBulkUnsubscribe(items) };
    };

    // The database half, in one transaction with the errors and the job's progress.
    const commit = async (b: PreparedRows) => {
      const { errLines, errValues, errReasons } = b;
      const updated = await db.transaction().execute(async (trx) => {
        const result = await applyPreparedBulkUnsubscribe(trx, b.prepared, {
          source: "import",
          importId: job.id,
          note: job.note,
          ledgerFloor,
          actor,
        });
        for (const inv of result.invalid) {
          errLines.push(b.itemLine[inv.index]!);
          errValues.push(b.itemValue[inv.index]!.trim().slice(0, 256) || null);
          errReasons.push(inv.reason);
        }
        const room = MAX_STORED_ERRORS - job.invalid;
        if (errLines.length > 0 && room > 0) {
          const n = Math.min(room, errLines.length);
          await sql`
            insert into import_errors (job_id, line, value, reason)
            select ${job.id}::uuid, l, v, r
            from unnest(${errLines.slice(0, n)}::bigint[], ${errValues.slice(0, n)}::text[], ${errReasons.slice(0, n)}::text[]) as t(l, v, r)
            on conflict do nothing
          `.execute(trx);
        }
        // The lease check and the progress in the same transaction as the consent changes:
        // a worker that lost its lease rolls the whole batch back.
        const progressed = await withImportTables(trx)
          .updateTable("import_jobs")
          .set({
            rows_read: sql<number>`rows_read + ${b.count}`,
            imported: sql<number>`imported + ${result.imported}`,
            already_suppressed: sql<number>`already_suppressed + ${result.alreadySuppressed}`,
            duplicates: sql<number>`duplicates + ${result.duplicates}`,
            invalid: sql<number>`invalid + ${errLines.length}`,
            locked_until: leaseExpr,
            updated_at: sql<Date>`now()`,
          })
          .where("id", "=", job.id)
          .where("locked_by", "=", workerId)
          .where("status", "=", "running")
          .returningAll()
          .executeTakeFirst();
        if (!progressed) throw new LeaseLostError();
        return progressed;
      });
      job = updated;
      lastRenewal = Date.now();
      await options.onBatch?.(job);
    };

    // One batch is written while the next one is read from the file (commits stay in order).
    const flush = async (rows: SheetRow[]) => {
      const prepared = prepareRows(rows); // while the previous batch is being written
      if (pending) await pending;
      if (options.shouldStop?.()) throw new StopRequested();
      pending = commit(prepared);
      pending.catch(() => {}); // awaited (and rethrown) by the next flush or at the end
    };

    const skip = job.rows_read;
    for await (const rows of readRows(filePath, job.format, { delimiter: mapping.delimiter })) {
      for (const row of rows) {
        if (!headerSkipped) {
          headerSkipped = true;
          continue;
        }
        if (index++ < skip) continue;
        if (index > limits.maxRows) {
          throw new ImportFileError(
            `The file has more than ${limits.maxRows.toLocaleString("en")} rows (IMPORT_MAX_ROWS).`,
          );
        }
        batch.push(row);
        if (batch.length >= batchSize) {
          await flush(batch);
          batch = [];
        }
      }
      if (index <= skip) await renewLease(); // skipping what a previous run committed
    }
    if (batch.length > 0) await flush(batch);
    if (pending) await pending;
    return await finish({ status: "completed" });
  } catch (e) {
    // Let a batch still being written finish (or roll back) before the job is judged.
    await (pending as Promise<void> | null)?.catch(() => {});
    if (e instanceof LeaseLostError) return job;
    if (e instanceof StopRequested) {
      await jobs
        .updateTable("import_jobs")
        .set({ locked_by: null, locked_until: null, updated_at: sql<Date>`now()` })
        .where("id", "=", job.id)
        .where("locked_by", "=", workerId)
        .execute();
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

let busy = false;

/**
 * The background task: runs queued (and interrupted) jobs one at a time in this process, until
 * there is none. Several server processes may run it at once.
 */
export async function runPendingImports(db: Db, options: RunnerOptions): Promise<number> {
  if (busy) return 0;
  busy = true;
  let ran = 0;
  try {
    for (;;) {
      if (options.shouldStop?.()) return ran;
      const job = await claimImportJob(db, options);
      if (!job) return ran;
      await runImportJob(db, job, options);
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
