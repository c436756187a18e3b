import type { Generated, Kysely, Selectable } from "kysely";
import type { Db } from "~/db/db.server";
import type {
  Channel,
  CreatedAt,
  Database,
  DefaultTimestamp,
  Json,
  NullableTimestamp,
} from "~/db/schema";
import type { ImportTables } from "~/imports/schema";

/**
 * Table types of the data-source tables (migrations/2026-11-29T1700_data_sources.ts), added to a
 * handle with `withSourceTables(db)`, like the import and webhook tables.
 */

export const SOURCE_FORMATS = ["csv", "json", "xml"] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];
export const SOURCE_SCHEDULES = ["hourly", "daily", "weekly"] as const;
export type SourceSchedule = (typeof SOURCE_SCHEDULES)[number];
export const SOURCE_AUTH_TYPES = ["none", "basic", "bearer", "header"] as const;
export type SourceAuthType = (typeof SOURCE_AUTH_TYPES)[number];
export type SourceRunStatus = "fetching" | "imported" | "failed";

/** The schedule's period, as a PostgreSQL interval. */
export const SCHEDULE_INTERVAL: Record<SourceSchedule, string> = {
  hourly: "1 hour",
  daily: "1 day",
  weekly: "7 days",
};

/**
 * Which fields of the fetched records hold the address, the channel and the reason (chosen by an
 * admin from a preview of the fetched structure). A field is a CSV header name (or `column N`
 * without a header row), a JSON key (dotted for nested objects; `(value)` for a list of plain
 * strings), or an XML child element's name (`@name` for an attribute).
 */
export type SourceMapping = {
  /** JSON: dotted path to the list of records ("" when the document is the list); XML: the
   * record element's name; CSV: unused (""). */
  records: string;
  /** CSV only. */
  delimiter?: string;
  header?: boolean;
  address: string;
  /** Null: the source's channel applies to every record. */
  channel: string | null;
  reason: string | null;
};

export interface DataSourcesTable {
  id: Generated<string>;
  name: string;
  url: string;
  format: SourceFormat;
  auth_type: Generated<SourceAuthType>;
  /** basic: the user name; header: the header's name. */
  auth_name: string | null;
  /** basic: the password; bearer: the token; header: the value. Never shown back in full. */
  auth_secret: string | null;
  schedule: SourceSchedule;
  channel: Channel | null;
  mapping: Json<SourceMapping> | null;
  enabled: Generated<boolean>;
  next_run_at: DefaultTimestamp;
  run_requested_at: NullableTimestamp;
  run_requested_by: string | null;
  locked_by: string | null;
  locked_until: NullableTimestamp;
  created_by: string | null;
  created_at: CreatedAt;
  updated_at: DefaultTimestamp;
}

export interface DataSourceRunsTable {
  id: Generated<string>;
  source_id: string;
  trigger: "schedule" | "manual";
  status: Generated<SourceRunStatus>;
  url: string | null;
  http_status: number | null;
  bytes: number | null;
  records: number | null;
  error: string | null;
  import_job_id: string | null;
  requested_by: string | null;
  started_at: DefaultTimestamp;
  finished_at: NullableTimestamp;
}

export type DataSource = Selectable<DataSourcesTable>;
export type DataSourceRun = Selectable<DataSourceRunsTable>;

export type SourceTables = {
  data_sources: DataSourcesTable;
  data_source_runs: DataSourceRunsTable;
};

export function withSourceTables(db: Db): Kysely<Database & ImportTables & SourceTables> {
  return db.withTables<ImportTables & SourceTables>();
}
