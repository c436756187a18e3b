import { sql, type Kysely } from "kysely";

/**
 * Bulk import of suppressions (issue 6).
 *
 * - import_jobs: one uploaded file and its progress. An import runs in batches; each batch's
 *   consent changes, its error rows and the job's counters (rows_read is the resume offset) are
 *   committed in ONE transaction, so a crash leaves the job at a batch boundary and a restarted
 *   server resumes from rows_read. A worker holds the job with a lease (locked_by/locked_until),
 *   renewed at every batch; a batch whose lease was taken over is rolled back.
 * - import_errors: the per-row error report (line number, value, why).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`create table import_jobs (
      id uuid primary key default gen_random_uuid(),
      status text not null default 'queued'
        check (status in ('queued', 'running', 'completed', 'failed')),
      phase text not null default 'waiting'
        check (phase in ('waiting', 'checking', 'importing', 'done')),
      format text not null check (format in ('csv', 'xlsx', 'ods')),
      file_name text not null,
      stored_file text not null,
      file_size bigint not null,
      file_host text not null,
      channel text check (channel in ('email', 'sms', 'whatsapp')),
      note text not null,
      options jsonb not null default '{}'::jsonb,
      total_rows bigint,
      rows_read bigint not null default 0,
      imported bigint not null default 0,
      already_suppressed bigint not null default 0,
      duplicates bigint not null default 0,
      invalid bigint not null default 0,
      error text,
      attempts integer not null default 0,
      locked_by text,
      locked_until timestamptz,
      created_by uuid references admin_users (id) on delete set null,
      created_at timestamptz not null default now(),
      started_at timestamptz,
      finished_at timestamptz,
      updated_at timestamptz not null default now()
    )`,
    sql`create index import_jobs_created_idx on import_jobs (created_at desc)`,
    sql`create index import_jobs_open_idx on import_jobs (created_at)
      where status in ('queued', 'running')`,
    sql`create table import_errors (
      job_id uuid not null references import_jobs (id) on delete cascade,
      line bigint not null,
      value text,
      reason text not null
        check (reason in ('empty', 'invalid_email', 'invalid_phone', 'invalid_channel')),
      primary key (job_id, line)
    )`,
  ];
  for (const statement of statements) await statement.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists import_errors`.execute(db);
  await sql`drop table if exists import_jobs`.execute(db);
}
