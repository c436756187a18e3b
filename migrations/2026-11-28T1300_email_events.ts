import { sql, type Kysely } from "kysely";

/**
 * Email opt-outs that reach Heed besides links: mailto unsubscribes, spam complaints (feedback
 * loops and ESP events), the ESP's own unsubscribes, and bounces.
 *
 * - mailto_codes: the opaque code in each `List-Unsubscribe` mailto address Heed hands out
 *   (`unsubscribe+{code}@domain`). A message to it proves which address (and topic, campaign) the
 *   link was made for, whatever its `From` says. The address is kept in clear (erasure clears it;
 *   the keyed hash stays, so an erased address's code still unsubscribes it). Rows are deleted
 *   after they expire.
 * - undeliverable_addresses: addresses that bounced for good (a hard bounce, or the operator's
 *   number of soft bounces in a row). Not consent: the ledger never holds it; the send decision
 *   reads it first. undeliverable_events records every change with who and why. Its ids are taken
 *   from the consent ledger's sequence and it has the ledger's txid column, so the two tables
 *   interleave in one (txid, id) order: the events feed and the contact timeline page through both
 *   with the cursors they already use.
 * - soft_bounce_streaks: soft bounces in a row per address (a delivery resets it).
 * - inbound_messages.campaign: the campaign an inbound event is attributed to (complaint rates).
 * - report_alerts.kind gains complaint_rate_high.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const { rows } = await sql<{
    seq: string;
  }>`select pg_get_serial_sequence('consent_ledger', 'id') as seq`.execute(db);
  const seq = rows[0]!.seq;
  const statements = [
    sql`create table mailto_codes (
      code text primary key check (code ~ '^[a-z2-7]{26}$'),
      address_hash text not null,
      address text,
      contact_id uuid,
      topic text,
      campaign text,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null
    )`,
    sql`create index mailto_codes_expires_idx on mailto_codes (expires_at)`,
    sql`create index mailto_codes_address_idx on mailto_codes (address_hash)`,
    sql`create table undeliverable_events (
      id bigint primary key default nextval(${sql.lit(seq)}::regclass),
      txid xid8 not null default pg_current_xact_id(),
      occurred_at timestamptz not null default now(),
      channel text not null check (channel in ('email', 'sms', 'whatsapp')),
      address_hash text not null,
      address text,
      contact_id uuid,
      action text not null check (action in ('mark', 'clear')),
      reason text not null check (reason ~ '^[a-z0-9_]{1,32}$'),
      provider text,
      campaign text,
      detail text,
      actor_type text,
      actor_id text,
      ip text,
      user_agent text,
      inbound_id bigint,
      details jsonb not null default '{}'::jsonb
    )`,
    sql`create index undeliverable_events_address_idx on undeliverable_events (channel, address_hash, id)`,
    sql`create index undeliverable_events_contact_idx on undeliverable_events (contact_id, id)
      where contact_id is not null`,
    sql`create index undeliverable_events_txid_idx on undeliverable_events (txid, id)`,
    sql`create index undeliverable_events_time_idx on undeliverable_events (occurred_at)`,
    sql`create table undeliverable_addresses (
      channel text not null check (channel in ('email', 'sms', 'whatsapp')),
      address_hash text not null,
      address text,
      reason text not null,
      provider text,
      detail text,
      last_event_id bigint not null,
      marked_at timestamptz not null default now(),
      primary key (channel, address_hash)
    )`,
    sql`create index undeliverable_addresses_event_idx on undeliverable_addresses (last_event_id)`,
    sql`create table soft_bounce_streaks (
      channel text not null,
      address_hash text not null,
      count integer not null,
      first_at timestamptz not null default now(),
      last_at timestamptz not null default now(),
      primary key (channel, address_hash)
    )`,
    sql`alter table inbound_messages add column campaign text`,
    sql`create index inbound_messages_complaints_idx on inbound_messages (campaign, address_hash)
      where kind = 'complaint' and campaign is not null`,
    // Mailgun signs only a timestamp and a one-time token, not the event: a token must never be
    // seen with a second event.
    sql`create index inbound_messages_signature_token_idx
      on inbound_messages ((details ->> 'signatureToken')) where details ? 'signatureToken'`,
    sql`alter table report_alerts drop constraint report_alerts_kind_check`,
    sql`alter table report_alerts add constraint report_alerts_kind_check
      check (kind in ('unsubscribe_rate_high', 'complaint_rate_high'))`,
  ];
  for (const s of statements) await s.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`delete from report_alerts where kind = 'complaint_rate_high'`,
    sql`alter table report_alerts drop constraint report_alerts_kind_check`,
    sql`alter table report_alerts add constraint report_alerts_kind_check
      check (kind in ('unsubscribe_rate_high'))`,
    sql`drop index if exists inbound_messages_signature_token_idx`,
    sql`drop index if exists inbound_messages_complaints_idx`,
    sql`alter table inbound_messages drop column if exists campaign`,
    sql`drop table soft_bounce_streaks`,
    sql`drop table undeliverable_addresses`,
    sql`drop table undeliverable_events`,
    sql`drop table mailto_codes`,
  ];
  for (const s of statements) await s.execute(db);
}
