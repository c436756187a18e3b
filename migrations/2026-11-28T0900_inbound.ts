import { sql, type Kysely } from "kysely";

/**
 * Opt-outs that reach Heed from providers (SMS/WhatsApp replies, mailto unsubscribes, spam
 * complaints, ESP events).
 *
 * - consent_ledger.source gains `mailto` (a message to a List-Unsubscribe mailto address),
 *   `complaint` (a spam report) and `esp` (the sending provider's own unsubscribe).
 * - inbound_messages: one row per message or event a provider sent, keyed by the provider's own
 *   id, so that a replayed or retried delivery is recognized and changes nothing. It also keeps
 *   what agents need to see on a contact's timeline: what arrived, what Heed decided and why.
 *   `body` and `address` are personal data: erasure clears them (matched by address_hash).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`alter table consent_ledger drop constraint consent_ledger_source_check`,
    sql`alter table consent_ledger add constraint consent_ledger_source_check check (source in (
      'link', 'one_click', 'preference_page', 'sms_keyword', 'admin', 'import', 'api',
      'double_opt_in', 'system', 'mailto', 'complaint', 'esp'))`,
    sql`create table inbound_messages (
      id bigint generated always as identity primary key,
      provider text not null check (provider ~ '^[a-z0-9_-]{1,32}$'),
      provider_message_id text not null check (length(provider_message_id) between 1 and 256),
      channel text not null check (channel in ('email', 'sms', 'whatsapp')),
      kind text not null check (kind ~ '^[a-z0-9_]{1,32}$'),
      address_hash text,
      address text,
      contact_id uuid,
      body text,
      decision text not null default 'received' check (decision ~ '^[a-z0-9_]{1,32}$'),
      ledger_id bigint,
      details jsonb not null default '{}'::jsonb,
      received_at timestamptz not null default now(),
      decided_at timestamptz,
      unique (provider, provider_message_id)
    )`,
    sql`create index inbound_messages_address_idx on inbound_messages (address_hash, received_at)
      where address_hash is not null`,
    sql`create index inbound_messages_contact_idx on inbound_messages (contact_id, received_at)
      where contact_id is not null`,
  ];
  for (const s of statements) await s.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table inbound_messages`.execute(db);
  await sql`alter table consent_ledger drop constraint consent_ledger_source_check`.execute(db);
  await sql`alter table consent_ledger add constraint consent_ledger_source_check check (source in (
    'link', 'one_click', 'preference_page', 'sms_keyword', 'admin', 'import', 'api',
    'double_opt_in', 'system'))`.execute(db);
}
