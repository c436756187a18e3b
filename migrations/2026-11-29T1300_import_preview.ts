import { sql, type Kysely } from "kysely";

/**
 * Imports with a preview, legacy Excel files and phone numbers without a country code
 * (docs/admin.md, issue 15.2-15.4 and 16.3):
 * - import_jobs.status `draft`: an uploaded file shown in the preview, not confirmed yet (the
 *   worker claims `queued` and `running` jobs only);
 * - import_jobs.format `xls` (BIFF8, Excel 97-2003);
 * - import_errors.reason `missing_country_code`: a phone number written without its country code
 *   while no default country is set;
 * - import_jobs.reasons_added: addresses suppressed before whose missing reason the import added.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`alter table import_jobs drop constraint import_jobs_status_check`,
    sql`alter table import_jobs add constraint import_jobs_status_check
      check (status in ('draft', 'queued', 'running', 'completed', 'failed'))`,
    sql`alter table import_jobs drop constraint import_jobs_format_check`,
    sql`alter table import_jobs add constraint import_jobs_format_check
      check (format in ('csv', 'xlsx', 'ods', 'xls'))`,
    sql`alter table import_errors drop constraint import_errors_reason_check`,
    sql`alter table import_errors add constraint import_errors_reason_check
      check (reason in ('empty', 'invalid_email', 'invalid_phone', 'missing_country_code', 'invalid_channel'))`,
    sql`create index import_jobs_draft_idx on import_jobs (created_at) where status = 'draft'`,
    sql`alter table import_jobs add column reasons_added bigint not null default 0`,
  ]) {
    await statement.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`alter table import_jobs drop column reasons_added`,
    sql`drop index if exists import_jobs_draft_idx`,
    sql`delete from import_jobs where status = 'draft' or format = 'xls'`,
    sql`update import_errors set reason = 'invalid_phone' where reason = 'missing_country_code'`,
    sql`alter table import_errors drop constraint import_errors_reason_check`,
    sql`alter table import_errors add constraint import_errors_reason_check
      check (reason in ('empty', 'invalid_email', 'invalid_phone', 'invalid_channel'))`,
    sql`alter table import_jobs drop constraint import_jobs_format_check`,
    sql`alter table import_jobs add constraint import_jobs_format_check
      check (format in ('csv', 'xlsx', 'ods'))`,
    sql`alter table import_jobs drop constraint import_jobs_status_check`,
    sql`alter table import_jobs add constraint import_jobs_status_check
      check (status in ('queued', 'running', 'completed', 'failed'))`,
  ]) {
    await statement.execute(db);
  }
}
