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
  chainPreparedBulkUnsubscribe,
  prepareBulkUnsubscribe,
  type BulkUnsubscribeOptions,
  type PreparedBulkUnsubscribe,
} from "~/consent/bulk.server";
import { addMissingReasons } from "~/consent/bulk-reasons.server";
import { csvDownloadHeaders, csvLine, csvStream } from "~/csv/csv.server";
import { inTransaction, type Db } from "~/db/db.server";
import { isDatabaseUnavailable } from "~/db/faults.server";
import type { Channel } from "~/db/schema";
import type { Env } from "~/env.server";
import { normalizeAddress } from "~/consent/address.server";
import { detectColumns, detectHeaderColumns } from "~/imports/detect";
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
  csvEncoding,
  firstRows,
  ImportFileError,
  readRows,
  scanZip,
  sniffFormat,
  type ZipLimits,
} from "~/imports/read.server";
import { channelOf, reasonOf, rowBatches, rowsToItems, type RowItems } from "~/imports/rows";
import {
  DEFAULT_IMPORT_NOTE,
  withImportTables,
  type ImportEncoding,
  type ImportErrorReason,
  type ImportFormat,
  type ImportJob,
  type ImportMapping,
  type ImportStatus,
} from "~/imports/schema";
import { isUuid } from "~/db/ids";
import { refreshPhoneRegion } from "~/settings/phone-region.server";
import type { PreviewRow } from "~/imports/schema";

/**
 * Bulk import of suppressions as background jobs (docs/admin.md).
 *
 * Upload (route) → prepareImportFile (format, zip bomb guard on declared sizes, text encoding,
 * column detection) → a `draft` job, shown in the preview (previewImport: the first rows with the
 * detected columns, valid/invalid counts); the operator remaps (remapImport) and confirms
 * (confirmImport: `queued`) or cancels it. A worker in any server process claims the job
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

export type PreparedImport = {
  format: ImportFormat;
  mapping: ImportMapping;
  /** Lenient preparation only: what detection could not decide (the preview asks for it). */
  problem?: string | null;
};

/**
 * Looks at an uploaded file before a job is created: its format (from its bytes), for zip files
 * the sizes they declare (a zip bomb is refused here, before anything is decompressed), for CSV
 * its text encoding (detected, or the operator's) and delimiter, and the address/channel/reason
 * columns (from the first rows). Throws ImportFileError with a message for the operator; with
 * `lenient`, a file whose columns cannot be detected is still prepared (the address column
 * defaults to the first one) and the reason comes back as `problem`, for the preview.
 */
export async function prepareImportFile(
  filePath: string,
  input: {
    fileName: string;
    limits: ImportLimits;
    channel: Channel | null;
    addressColumn?: string | null;
    reasonColumn?: string | null;
    encoding?: ImportEncoding | null;
    lenient?: boolean;
  },
): Promise<PreparedImport> {
  const size = (await fs.promises.stat(filePath)).size;
  if (size > input.limits.maxFileBytes) throw tooLarge(input.limits.maxFileBytes);
  const format = await sniffFormat(filePath, input.fileName);
  let text: Pick<ImportMapping, "delimiter" | "encoding" | "detectedEncoding"> = {};
  if (format === "csv") {
    const detectedEncoding = await csvEncoding(filePath);
    const encoding = input.encoding ?? detectedEncoding.encoding;
    text = { delimiter: await csvDelimiter(filePath, encoding), encoding, detectedEncoding };
  } else if (format !== "xls") await checkZip(filePath, input.limits);
  const rows = await firstRows(filePath, format, text, 50);
  const detected = detectColumns(
    rows.map((r) => r.cells),
    {
      addressColumn: input.addressColumn,
      reasonColumn: input.reasonColumn,
      channelFromFile: input.channel === null,
    },
  );
  if (detected.ok) return { format, mapping: { ...detected.mapping, ...text }, problem: null };
  if (!input.lenient || rows.length === 0) throw new ImportFileError(detected.error);
  // The preview shows the rows and asks for the columns.
  const loose = detectColumns(
    rows.map((r) => r.cells),
    { channelFromFile: false },
  );
  const header = loose.ok ? loose.mapping.header : false;
  const named = detectHeaderColumns(rows[0]!.cells);
  const address = loose.ok ? loose.mapping.addressColumn : 0;
  return {
    format,
    mapping: {
      ...mappingFor(rows[0]!.cells, header, {
        addressColumn: address,
        channelColumn: input.channel === null ? named.channel : null,
        reasonColumn: loose.ok ? loose.mapping.reasonColumn : null,
      }),
      ...text,
    },
    problem: detected.error,
  };
}

function columnLetter(index: number): string {
  let n = index + 1;
  let out = "";
  while (n > 0) {
    const r = (n - 1) % 26;
    out = String.fromCharCode(65 + r) + out;
    n = Math.floor((n - 1) / 26);
  }
  return out;
}

/** A column's name for the operator: its header, or "column B". */
export function columnLabel(headerRow: readonly string[] | null, index: number): string {
  const h = headerRow?.[index]?.trim();
  return h ? h : `column ${columnLetter(index)}`;
}

/** A mapping from chosen column indexes (labels from the header row when there is one). */
function mappingFor(
  firstRow: readonly string[],
  header: boolean,
  columns: { addressColumn: number; channelColumn: number | null; reasonColumn: number | null },
): ImportMapping {
  const headerRow = header ? firstRow : null;
  return {
    header,
    addressColumn: columns.addressColumn,
    channelColumn: columns.channelColumn,
    reasonColumn: columns.reasonColumn,
    labels: {
      address: columnLabel(headerRow, columns.addressColumn),
      channel:
        columns.channelColumn !== null ? columnLabel(headerRow, columns.channelColumn) : null,
      reason: columns.reasonColumn !== null ? columnLabel(headerRow, columns.reasonColumn) : null,
    },
  };
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
    /** `draft` for the preview; `queued` (the default) runs at once. */
    status?: Extract<ImportStatus, "draft" | "queued">;
  },
): Promise<ImportJob> {
  return withImportTables(db)
    .insertInto("import_jobs")
    .values({
      id: input.id,
      ...(input.status ? { status: input.status } : {}),
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
 * An admin's upload becomes a draft job, shown in the preview: the file is looked at
 * (prepareImportFile, lenient: format, zip sizes, encoding, columns; throws ImportFileError for a
 * file that cannot be read at all), then the draft and its audit row are written in one
 * transaction. Nothing is imported until the operator confirms (confirmImport).
 */
export async function uploadImport(
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
    lenient: true,
  });
  return inTransaction(db, async (trx) => {
    const job = await createImportJob(trx, {
      id: input.id,
      fileName: file.name,
      storedFile: file.storedFile,
      fileSize: file.size,
      prepared: {
        ...prepared,
        mapping: { ...prepared.mapping, ...(prepared.problem ? { unconfirmedAddress: true } : {}) },
      },
      channel,
      note: input.note,
      createdBy: by.actor.type === "admin_user" ? (by.actor.id ?? null) : null,
      status: "draft",
    });
    await audit(trx, {
      ...by,
      action: "import.upload",
      target: { type: "import", id: job.id },
      details: {
        file_name: file.name,
        size: file.size,
        format: prepared.format,
        ...(prepared.mapping.encoding ? { encoding: prepared.mapping.encoding } : {}),
      },
    });
    return job;
  });
}

// ---------------------------------------------------------------------------------------------
// The preview

/** Rows shown in the preview, and rows checked for the valid/invalid counts. */
export const PREVIEW_ROWS = 20;
export const PREVIEW_CHECK_ROWS = 1_000;

export type { PreviewRow };

export type ImportPreview = {
  job: ImportJob;
  /** False when the uploaded file is not on this server (a load balancer sent the request elsewhere). */
  fileAvailable: boolean;
  /** The header row (or null), and the number of columns. */
  headerRow: string[] | null;
  width: number;
  rows: PreviewRow[];
  /** Over the first PREVIEW_CHECK_ROWS data rows. */
  counts: {
    checked: number;
    valid: number;
    invalid: number;
    byError: Partial<Record<ImportErrorReason, number>>;
    more: boolean;
  };
  /** The default country used for numbers without a country code. */
  phoneRegion: string | null;
  /** A file problem met while reading (the operator can change the encoding, or cancel). */
  problem: string | null;
};

function previewRowResult(
  row: { cells: string[] },
  mapping: ImportMapping,
  channel: Channel | null,
  codes: ReadonlySet<string>,
  region: string | undefined,
): PreviewRow["result"] {
  const channelCell = row.cells[mapping.channelColumn ?? -1];
  const ch = channel ?? channelOf(channelCell);
  if (!ch) return { ok: false, error: "invalid_channel", value: channelCell ?? "" };
  const raw = row.cells[mapping.addressColumn] ?? "";
  const n = normalizeAddress(ch, raw, region);
  if (!n.ok) return { ok: false, error: n.reason, value: raw };
  return {
    ok: true,
    channel: ch,
    address: n.address,
    ...reasonOf(row.cells[mapping.reasonColumn ?? -1], codes),
  };
}

/**
 * The preview of a draft import: the first rows with what each becomes (the same normalization
 * as the bulk door, with the current default country), and the valid/invalid counts of the first
 * PREVIEW_CHECK_ROWS data rows. Reads nothing but the file. Null when there is no such draft.
 */
export async function previewImport(
  db: Db,
  id: string,
  env: Pick<Env, "dataDir">,
): Promise<ImportPreview | null> {
  const job = await getImportJob(db, id);
  if (!job || job.status !== "draft") return null;
  const filePath = filePathOf(env, job);
  const region = await refreshPhoneRegion(db);
  const base: ImportPreview = {
    job,
    fileAvailable: fs.existsSync(filePath),
    headerRow: null,
    width: 0,
    rows: [],
    counts: { checked: 0, valid: 0, invalid: 0, byError: {}, more: false },
    phoneRegion: region ?? null,
    problem: null,
  };
  if (!base.fileAvailable) return base;
  const mapping = job.options;
  let sample: Awaited<ReturnType<typeof firstRows>>;
  try {
    sample = await firstRows(
      filePath,
      job.format,
      { delimiter: mapping.delimiter, encoding: mapping.encoding },
      PREVIEW_CHECK_ROWS + 2,
    );
  } catch (e) {
    if (e instanceof ImportFileError) return { ...base, problem: e.message };
    throw e;
  }
  const codes = await reasonCodes(db);
  const headerRow = mapping.header && sample.length ? sample[0]!.cells : null;
  const body = mapping.header ? sample.slice(1) : sample;
  const checked = body.slice(0, PREVIEW_CHECK_ROWS);
  const counts: ImportPreview["counts"] = {
    checked: checked.length,
    valid: 0,
    invalid: 0,
    byError: {},
    more: body.length > PREVIEW_CHECK_ROWS,
  };
  const rows: PreviewRow[] = [];
  for (const row of checked) {
    const result = previewRowResult(row, mapping, job.channel, codes, region);
    if (result.ok) counts.valid++;
    else {
      counts.invalid++;
      counts.byError[result.error] = (counts.byError[result.error] ?? 0) + 1;
    }
    if (rows.length < PREVIEW_ROWS) rows.push({ line: row.line, cells: row.cells, result });
  }
  const width = Math.max(0, ...sample.slice(0, PREVIEW_ROWS + 1).map((r) => r.cells.length));
  return { ...base, headerRow, width, rows, counts };
}

export type RemapInput = {
  /** 0-based column indexes (null: no such column). */
  addressColumn: number;
  reasonColumn: number | null;
  channelColumn: number | null;
  /** The job's channel; null: each row's channel column. */
  channel: Channel | null;
  header: boolean;
  /** CSV only. */
  encoding?: ImportEncoding | null;
};

/**
 * The operator's choices in the preview: columns, channel, header row and (CSV) encoding. Only a
 * draft changes; the confirmation's audit row records the final mapping. Throws ImportFileError
 * for a choice that does not fit the file.
 */
export async function remapImport(
  db: Db,
  id: string,
  input: RemapInput,
  env: Pick<Env, "dataDir">,
): Promise<ImportJob | null> {
  const job = await getImportJob(db, id);
  if (!job || job.status !== "draft") return null;
  const filePath = filePathOf(env, job);
  const text: Pick<ImportMapping, "delimiter" | "encoding" | "detectedEncoding"> = {};
  if (job.format === "csv") {
    const encoding = input.encoding ?? job.options.encoding ?? "utf-8";
    text.encoding = encoding;
    text.detectedEncoding = job.options.detectedEncoding;
    text.delimiter =
      encoding === job.options.encoding && job.options.delimiter
        ? job.options.delimiter
        : await csvDelimiter(filePath, encoding);
  }
  const rows = await firstRows(filePath, job.format, text, 1);
  const first = rows[0]?.cells ?? [];
  const width = Math.max(first.length, 1);
  const inRange = (i: number | null) => i === null || (Number.isInteger(i) && i >= 0 && i < 1000);
  if (
    !inRange(input.addressColumn) ||
    !inRange(input.reasonColumn) ||
    !inRange(input.channelColumn)
  ) {
    throw new ImportFileError("Choose columns of the file.");
  }
  if (input.channel === null && input.channelColumn === null) {
    throw new ImportFileError(
      "Choose the column that names each row's channel, or one channel for every row.",
    );
  }
  if (input.reasonColumn !== null && input.reasonColumn === input.addressColumn) {
    throw new ImportFileError("The reason column cannot be the address column.");
  }
  void width;
  const mapping: ImportMapping = {
    ...mappingFor(first, input.header, {
      addressColumn: input.addressColumn,
      channelColumn: input.channel === null ? input.channelColumn : null,
      reasonColumn: input.reasonColumn,
    }),
    ...text,
  };
  return withImportTables(db)
    .updateTable("import_jobs")
    .set({ options: JSON.stringify(mapping), channel: input.channel, updated_at: sql<Date>`now()` })
    .where("id", "=", job.id)
    .where("status", "=", "draft")
    .returningAll()
    .executeTakeFirst()
    .then((r) => r ?? null);
}

/**
 * The operator confirms a draft: it becomes `queued` (the worker picks it up) and the audit row
 * records the file and the final mapping. Null when there is no such draft (already confirmed,
 * cancelled or expired).
 */
export async function confirmImport(
  db: Db,
  id: string,
  by: AuditContext,
): Promise<ImportJob | null> {
  if (!isUuid(id)) return null;
  const draft = await getImportJob(db, id);
  if (draft?.status === "draft" && draft.options.unconfirmedAddress) {
    throw new ImportFileError("Choose the address column, then confirm.");
  }
  return inTransaction(db, async (trx) => {
    const job = await withImportTables(trx)
      .updateTable("import_jobs")
      .set({ status: "queued", updated_at: sql<Date>`now()` })
      .where("id", "=", id)
      .where("status", "=", "draft")
      .returningAll()
      .executeTakeFirst();
    if (!job) return null;
    await audit(trx, {
      ...by,
      action: "import.create",
      target: { type: "import", id: job.id },
      details: {
        file_name: job.file_name,
        size: job.file_size,
        format: job.format,
        channel: job.channel ?? "per row",
        columns: job.options.labels,
        ...(job.options.encoding ? { encoding: job.options.encoding } : {}),
      },
    });
    return job;
  });
}

/** The operator cancels a draft: the job and its file are deleted (audited). */
export async function cancelImport(
  db: Db,
  id: string,
  env: Pick<Env, "dataDir">,
  by: AuditContext,
): Promise<boolean> {
  if (!isUuid(id)) return false;
  const job = await inTransaction(db, async (trx) => {
    const row = await withImportTables(trx)
      .deleteFrom("import_jobs")
      .where("id", "=", id)
      .where("status", "=", "draft")
      .returningAll()
      .executeTakeFirst();
    if (row) {
      await audit(trx, {
        ...by,
        action: "import.cancel",
        target: { type: "import", id: row.id },
        details: { file_name: row.file_name },
      });
    }
    return row;
  });
  if (!job) return false;
  await fs.promises.rm(filePathOf(env, job), { force: true });
  return true;
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

function filePathOf(env: Pick<Env, "dataDir">, job: Pick<ImportJob, "stored_file">): string {
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
  let rows: number;
  if (job.format === "csv") {
    rows = Math.max(0, (await countLines(filePath, renew, job.options.encoding)) - header);
  } else if (job.format === "xls") {
    // A sheet has at most 65,536 rows: count them by reading it (in the bounded worker).
    rows = -header;
    for await (const batch of readRows(filePath, "xls")) rows += batch.length;
    rows = Math.max(0, rows);
  } else {
    rows = (await scanZip(filePath, job.format, limits, renew)).rows - header;
  }
  if (rows > limits.maxRows) {
    throw new ImportFileError(
      `The file has about ${rows.toLocaleString("en")} rows; at most ${limits.maxRows.toLocaleString("en")} are allowed (IMPORT_MAX_ROWS). Split it into smaller files.`,
    );
  }
  return lease.recordTotal(rows);
}

/** A batch of rows, turned into items and prepared by the bulk door (the CPU half of a batch). */
type PreparedBatch = RowItems & { prepared: PreparedBulkUnsubscribe };

/** The bulk door's options for an import's batches (the same for hashing ahead and writing). */
function bulkOptions(
  job: ImportJob,
  context: { ledgerFloor: number | null; actor: BulkUnsubscribeOptions["actor"] },
): BulkUnsubscribeOptions {
  return {
    source: "import",
    importId: job.id,
    note: job.note,
    ledgerFloor: context.ledgerFloor,
    actor: context.actor,
  };
}

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
  /** Called once the batch's main statement is sent (see BulkWriteHooks.onStatementSent). */
  onStatementSent?: () => void,
): Promise<ImportJob> {
  const updated = await db.transaction().execute(async (trx) => {
    const result = await applyPreparedBulkUnsubscribe(
      trx,
      batch.prepared,
      bulkOptions(job, context),
      {
        // An import batch need not wait for its commit to reach the disk: nobody is answered on the
        // strength of it, and the batch's consent changes and the job's progress are one
        // transaction, so a crash loses both together (at most the last few batches) and the job
        // resumes after the last batch that did reach the disk. Never crashes into a state where
        // they disagree (decisions/0030).
        asyncCommit: true,
        onStatementSent,
      },
    );
    // A re-import adds a reason that an earlier import (or unsubscribe) did not have.
    const reasonsAdded = await addMissingReasons(
      trx,
      batch.prepared,
      { source: "import", importId: job.id, note: job.note, actor: context.actor },
      result.unsubscribedBefore,
    );
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
      reasonsAdded,
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
    // The default country for numbers without a country code (the bulk door reads it).
    await refreshPhoneRegion(db);
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
    const rowsOfFile = readRows(filePath, job.format, {
      delimiter: mapping.delimiter,
      encoding: mapping.encoding,
    });
    const batches = rowBatches(rowsOfFile, {
      header: mapping.header,
      skip: job.rows_read,
      maxRows: limits.maxRows,
      batchSize,
      onSkipping: () => lease.renew(), // skipping what a previous run committed
    });
    for await (const rows of batches) {
      const items = rowsToItems(rows, { mapping, channel: job.channel, reasonCodes: reasons });
      let prepared = await prepareBulkUnsubscribe(items.items);
      // PostgreSQL: the ledger rows are hashed now, while the previous batch is written (one more
      // connection for a moment). PGlite has one session: hashed in the batch's transaction.
      if (!options.singleProcess) {
        prepared = await chainPreparedBulkUnsubscribe(db, prepared, bulkOptions(job, context));
      }
      const batch = { ...items, prepared };
      if (writing) await writing;
      if (options.shouldStop?.()) throw new StopRequested();
      let sent!: () => void;
      const statementSent = new Promise<void>((resolve) => (sent = resolve));
      writing = commitBatch(db, job, lease, batch, context, sent).then(async (updated) => {
        job = updated;
        await options.onBatch?.(job);
      });
      writing.catch(() => {}); // awaited (and rethrown) before the next batch or at the end
      // Read and hash the next batch only once this one's main statement is in PostgreSQL's hands:
      // started earlier, that CPU work held back the answers to the short statements before it
      // (Node's event loop was busy) while the database waited (decisions/0105).
      await Promise.race([statementSent, writing.catch(() => {})]);
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
  // Drafts nobody confirmed within a day are dropped with their files.
  const expired = await withImportTables(db)
    .deleteFrom("import_jobs")
    .where("status", "=", "draft")
    .where("created_at", "<", sql<Date>`now() - ${`${olderThanMs} milliseconds`}::interval`)
    .returning("stored_file")
    .execute();
  for (const row of expired) {
    await fs.promises.rm(path.join(dir, path.basename(row.stored_file)), { force: true });
  }
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
        .where("status", "in", ["draft", "queued", "running"])
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
