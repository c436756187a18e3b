import { sql, type Kysely } from "kysely";

/**
 * Frequency preferences (docs/consent.md#frequency):
 * - frequency_options: the choices the operator offers per channel ("every message", "at most
 *   weekly", ...): a key, localized labels, the window in days (null: every message), position.
 * - frequency_consent: each address's choice per channel, with the window it chose (kept as
 *   chosen: editing an option later does not change what people agreed to) and the ledger row
 *   that recorded it. Written only by app/consent (the one door).
 * - consent_ledger gains the action `frequency` and the column `frequency` (the chosen key).
 * - send_log: one row per (channel, address hash, campaign) that a check with `record: true`
 *   allowed; a later marketing check inside the address's window answers `frequency_capped`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`create table frequency_options (
      channel text not null check (channel in ('email', 'sms', 'whatsapp')),
      key text not null check (key ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
      labels jsonb not null default '{}'::jsonb,
      window_days integer check (window_days between 1 and 366),
      position integer not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (channel, key)
    )`,
    sql`create table frequency_consent (
      channel text not null check (channel in ('email', 'sms', 'whatsapp')),
      address_hash text not null,
      frequency text not null,
      window_days integer,
      last_ledger_id bigint,
      updated_at timestamptz not null default now(),
      primary key (channel, address_hash)
    )`,
    sql`create table send_log (
      channel text not null check (channel in ('email', 'sms', 'whatsapp')),
      address_hash text not null,
      campaign text not null,
      sent_at timestamptz not null default now(),
      primary key (channel, address_hash, campaign)
    )`,
    sql`create index send_log_sent_at_idx on send_log using brin (sent_at)`,
    sql`alter table consent_ledger add column frequency text`,
    sql`alter table consent_ledger drop constraint consent_ledger_action_check`,
    sql`alter table consent_ledger add constraint consent_ledger_action_check check (action in (
      'unsubscribe', 'subscribe', 'pause', 'resume', 'topic_opt_out', 'topic_opt_in',
      'signup_pending', 'erase', 'frequency'))`,
  ];
  for (const s of statements) await s.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`drop table if exists send_log`,
    sql`drop table if exists frequency_consent`,
    sql`drop table if exists frequency_options`,
    sql`alter table consent_ledger drop constraint consent_ledger_action_check`,
    sql`alter table consent_ledger add constraint consent_ledger_action_check check (action in (
      'unsubscribe', 'subscribe', 'pause', 'resume', 'topic_opt_out', 'topic_opt_in',
      'signup_pending', 'erase'))`,
    sql`alter table consent_ledger drop column if exists frequency`,
  ];
  for (const s of statements) await s.execute(db);
}
