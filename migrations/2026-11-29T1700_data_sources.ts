import { sql, type Kysely } from "kysely";

/**
 * Scheduled data sources (issue 16.2): suppression lists Heed fetches from a URL.
 *
 * - data_sources: the URL, its format (csv, json, xml), optional authorization (the secret is
 *   kept to send it; the admin area shows only its last characters), the schedule, the fixed
 *   channel or none (each record names its own), and the field mapping chosen from a preview
 *   (null until chosen: such a source is never run). A server claims a due source by moving its
 *   next_run_at forward and taking a lease (locked_by/locked_until), so two servers never run the
 *   same source at once; run_requested_at is a "run now" waiting for the scheduler.
 * - data_source_runs: one fetch each, with what it fetched and why it failed; a fetched list goes
 *   through the bulk import pipeline as an import job (import_job_id), whose counts and error
 *   rows are the run's.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`create table data_sources (
      id uuid primary key default gen_random_uuid(),
      name text not null,
      url text not null,
      format text not null check (format in ('csv', 'json', 'xml')),
      auth_type text not null default 'none'
        check (auth_type in ('none', 'basic', 'bearer', 'header')),
      auth_name text,
      auth_secret text,
      schedule text not null check (schedule in ('hourly', 'daily', 'weekly')),
      channel text check (channel in ('email', 'sms', 'whatsapp')),
      mapping jsonb,
      enabled boolean not null default true,
      next_run_at timestamptz not null default now(),
      run_requested_at timestamptz,
      run_requested_by uuid references admin_users (id) on delete set null,
      locked_by text,
      locked_until timestamptz,
      created_by uuid references admin_users (id) on delete set null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`,
    sql`create unique index data_sources_name_idx on data_sources (lower(name))`,
    sql`create index data_sources_due_idx on data_sources (next_run_at) where enabled`,
    sql`create table data_source_runs (
      id uuid primary key default gen_random_uuid(),
      source_id uuid not null references data_sources (id) on delete cascade,
      trigger text not null check (trigger in ('schedule', 'manual')),
      status text not null default 'fetching'
        check (status in ('fetching', 'imported', 'failed')),
      url text,
      http_status integer,
      bytes bigint,
      records bigint,
      error text,
      import_job_id uuid references import_jobs (id) on delete set null,
      requested_by uuid references admin_users (id) on delete set null,
      started_at timestamptz not null default now(),
      finished_at timestamptz
    )`,
    sql`create index data_source_runs_source_idx on data_source_runs (source_id, started_at desc)`,
  ];
  for (const statement of statements) await statement.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists data_source_runs`.execute(db);
  await sql`drop table if exists data_sources`.execute(db);
}
