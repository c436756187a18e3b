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

export const IMPORT_FORMATS = ["csv", "xlsx", "ods"] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];
export type ImportStatus = "queued" | "running" | "completed" | "failed";
export type ImportPhase = "waiting" | "checking" | "importing" | "done";
export type ImportErrorReason = "empty" | "invalid_email" | "invalid_phone" | "invalid_channel";

/** How the rows of a file map to addresses (decided when the file is uploaded). */
export type ImportMapping = {
  /** CSV only: the field delimiter. */
  delimiter?: string;
  /** Whether the first non-empty row is a header row. */
  header: boolean;
  /** 0-based column indexes. */
  addressColumn: number;
  channelColumn: number | null;
  reasonColumn: number | null;
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
