import { sql, type Kysely } from "kysely";

/**
 * Sender API and outbound webhooks (docs/api.md).
 *
 * - webhook_endpoints: URLs that receive a Standard Webhooks delivery for every consent change
 *   of the event types they subscribe to. The secret signs deliveries (shown once to the admin).
 * - webhook_deliveries: one row per delivery attempt (status code, error, duration), for the
 *   admin area. The delivery itself is an outbox row (kind 'webhook').
 * - consent_ledger.txid: the id of the transaction that wrote the row. The events feed orders
 *   by (txid, id) and only returns rows of transactions older than every transaction still
 *   running, so a reader never skips a row whose transaction commits after a later id did.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`create table webhook_endpoints (
      id uuid primary key default gen_random_uuid(),
      url text not null,
      description text,
      event_types text[] not null,
      secret text not null,
      enabled boolean not null default true,
      disabled_reason text,
      created_by uuid references admin_users (id) on delete set null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      disabled_at timestamptz
    )`,
    sql`create table webhook_deliveries (
      id bigint generated always as identity primary key,
      endpoint_id uuid not null references webhook_endpoints (id) on delete cascade,
      outbox_id bigint,
      message_id text not null,
      event_type text not null,
      attempt integer not null,
      status_code integer,
      error text,
      duration_ms integer,
      created_at timestamptz not null default now()
    )`,
    sql`create index webhook_deliveries_endpoint_idx on webhook_deliveries (endpoint_id, id)`,
    sql`alter table consent_ledger add column txid xid8 not null default pg_current_xact_id()`,
    sql`create index consent_ledger_txid_idx on consent_ledger (txid, id)`,
  ];
  for (const statement of statements) await statement.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists consent_ledger_txid_idx`.execute(db);
  await sql`alter table consent_ledger drop column if exists txid`.execute(db);
  await sql`drop table if exists webhook_deliveries`.execute(db);
  await sql`drop table if exists webhook_endpoints`.execute(db);
}
