import type { Generated, Kysely, Selectable } from "kysely";
import type { Db } from "~/db/db.server";
import type {
  Channel,
  Counter,
  CreatedAt,
  Database,
  DefaultTimestamp,
  Json,
  NullableTimestamp,
} from "~/db/schema";

/**
 * Table types of the import tables (migrations/2026-11-22T1500_imports.ts), added to a handle
 * with `withImportTables(db)` (Kysely's withTables), like the webhook tables.
 */

/** The note kept with every suppression of an import when the operator gives none. */
export const DEFAULT_IMPORT_NOTE = "import unsubscribe";

export const IMPORT_FORMATS = ["csv", "xlsx", "ods", "xls"] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];
/** `draft`: uploaded and shown in the preview, not confirmed yet (the worker leaves it alone). */
export type ImportStatus = "draft" | "queued" | "running" | "completed" | "failed";
export type ImportPhase = "waiting" | "checking" | "importing" | "done";
export const IMPORT_ERROR_REASONS = [
  "empty",
  "invalid_email",
  "invalid_phone",
  "missing_country_code",
  "invalid_channel",
] as const;
export type ImportErrorReason = (typeof IMPORT_ERROR_REASONS)[number];

/** The text encodings a CSV file may be read in (detected, or chosen by the operator). */
export const IMPORT_ENCODINGS = [
  "utf-8",
  "utf-16le",
  "utf-16be",
  "windows-1250",
  "windows-1252",
  "iso-8859-2",
  "iso-8859-1",
] as const;
export type ImportEncoding = (typeof IMPORT_ENCODINGS)[number];

/**
 * How the rows of a file map to addresses: detected when the file is uploaded (detectColumns),
 * shown in the preview, changed there by the operator, and fixed when the import is confirmed.
 * Scheduled data sources use the same type.
 */
export type ImportMapping = {
  /** CSV only: the field delimiter. */
  delimiter?: string;
  /** CSV only: the text encoding the file is read in (absent in jobs made before: UTF-8). */
  encoding?: ImportEncoding;
  /** CSV only: what detection found, shown beside the operator's choice. */
  detectedEncoding?: { encoding: ImportEncoding; bom: boolean; confidence: number };
  /** Whether the first non-empty row is a header row. */
  header: boolean;
  /** 0-based column indexes. */
  addressColumn: number;
  channelColumn: number | null;
  reasonColumn: number | null;
  /** The address column could not be detected: the operator must choose it in the preview. */
  unconfirmedAddress?: boolean;
  /** For the operator: the header names (or "column N") that were used. */
  labels: { address: string; channel: string | null; reason: string | null };
};

export interface ImportJobsTable {
  id: Generated<string>;
  status: Generated<ImportStatus>;
  phase: Generated<ImportPhase>;
  format: ImportFormat;
  file_name: string;
  stored_file: string;
  file_size: number;
  file_host: string;
  channel: Channel | null;
  note: string;
  options: Json<ImportMapping>;
  total_rows: number | null;
  rows_read: Counter;
  imported: Counter;
  already_suppressed: Counter;
  duplicates: Counter;
  invalid: Counter;
  /** Addresses suppressed before whose missing reason this import added. */
  reasons_added: Counter;
  error: string | null;
  attempts: Counter;
  locked_by: string | null;
  locked_until: NullableTimestamp;
  created_by: string | null;
  created_at: CreatedAt;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  updated_at: DefaultTimestamp;
}

export interface ImportErrorsTable {
  job_id: string;
  line: number;
  value: string | null;
  reason: ImportErrorReason;
}

export type ImportJob = Selectable<ImportJobsTable>;

export type ImportTables = {
  import_jobs: ImportJobsTable;
  import_errors: ImportErrorsTable;
};

export type ImportDb = Kysely<Database & ImportTables>;

export function withImportTables(db: Db): Kysely<Database & ImportTables> {
  return db.withTables<ImportTables>();
}

/** A row of an import preview: its cells and what it becomes. */
export type PreviewRow = {
  line: number;
  cells: string[];
  /** What the row becomes: the normalized address, or why it cannot be imported. */
  result:
    | {
        ok: true;
        channel: Channel;
        address: string;
        reasonCode: string | null;
        reasonText: string | null;
      }
    | { ok: false; error: ImportErrorReason; value: string };
};
