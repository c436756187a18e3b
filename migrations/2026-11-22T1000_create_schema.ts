import { sql, type Kysely } from "kysely";

/**
 * The core schema of Heed (docs/data-model.md). One statement per `sql` call: PGlite's extended
 * protocol takes one statement at a time, and the same migration must run on both databases.
 *
 * Addresses are keyed by `address_hash` (HMAC-SHA256 of the normalized address with a server key):
 * after erasure (docs/consent.md, rule 9) the clear `address` is removed and the hash keeps it suppressed.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`create table contacts (
      id uuid primary key default gen_random_uuid(),
      external_id text unique,
      email text,
      phone text,
      locale text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      erased_at timestamptz
    )`,
    sql`create index contacts_email_idx on contacts (email) where email is not null`,
    sql`create index contacts_phone_idx on contacts (phone) where phone is not null`,

    sql`create table topics (
      key text primary key check (key ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
      names jsonb not null default '{}'::jsonb,
      descriptions jsonb not null default '{}'::jsonb,
      channels text[] not null default array['email']::text[],
      default_opt_in boolean not null default true,
      position integer not null default 0,
      archived_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`,

    // Current consent state of an address on a channel. No row = never seen (allowed).
    sql`create table channel_consent (
      channel text not null check (channel in ('email', 'sms', 'whatsapp')),
      address_hash text not null,
      address text,
      status text not null check (status in ('subscribed', 'unsubscribed', 'pending')),
      paused_until timestamptz,
      last_ledger_id bigint,
      updated_at timestamptz not null default now(),
      primary key (channel, address_hash)
    )`,
    sql`create index channel_consent_address_idx on channel_consent (address) where address is not null`,
    sql`create index channel_consent_status_idx on channel_consent (channel, status, updated_at)`,

    sql`create table topic_consent (
      channel text not null check (channel in ('email', 'sms', 'whatsapp')),
      address_hash text not null,
      topic text not null references topics (key) on update cascade,
      status text not null check (status in ('opted_in', 'opted_out')),
      last_ledger_id bigint,
      updated_at timestamptz not null default now(),
      primary key (channel, address_hash, topic)
    )`,

    sql`create table campaigns (
      key text primary key,
      name text not null,
      channel text not null check (channel in ('email', 'sms', 'whatsapp')),
      topic text references topics (key) on update cascade,
      sent_count bigint not null default 0 check (sent_count >= 0),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`,

    // The append-only consent ledger (docs/consent.md#the-ledger).
    sql`create table consent_ledger (
      id bigint generated always as identity primary key,
      occurred_at timestamptz not null default now(),
      channel text not null check (channel in ('email', 'sms', 'whatsapp')),
      address_hash text not null,
      address text,
      contact_id uuid,
      topic text,
      action text not null check (action in (
        'unsubscribe', 'subscribe', 'pause', 'resume', 'topic_opt_out', 'topic_opt_in',
        'signup_pending', 'erase')),
      source text not null check (source in (
        'link', 'one_click', 'preference_page', 'sms_keyword', 'admin', 'import', 'api',
        'double_opt_in', 'system')),
      campaign text,
      reason_code text,
      reason_text text,
      actor_type text check (actor_type in ('admin_user', 'api_key', 'recipient', 'system')),
      actor_id text,
      ip text,
      user_agent text,
      paused_until timestamptz,
      details jsonb not null default '{}'::jsonb
    )`,
    sql`create index consent_ledger_address_idx on consent_ledger (channel, address_hash, id)`,
    sql`create index consent_ledger_contact_idx on consent_ledger (contact_id, id) where contact_id is not null`,
    sql`create index consent_ledger_occurred_idx on consent_ledger (occurred_at)`,
    sql`create index consent_ledger_campaign_idx on consent_ledger (campaign, occurred_at) where campaign is not null`,

    // Append-only, enforced by the database: only an erasure (which sets heed.erasure = 'on'
    // for its own transaction) may rewrite personal data in ledger rows; nothing deletes them.
    sql`create function consent_ledger_append_only() returns trigger language plpgsql as $$
      begin
        if tg_op = 'UPDATE' and current_setting('heed.erasure', true) = 'on' then
          return new;
        end if;
        raise exception 'consent_ledger is append-only (% refused)', tg_op
          using errcode = 'restrict_violation';
      end
    $$`,
    sql`create trigger consent_ledger_no_update before update or delete on consent_ledger
      for each row execute function consent_ledger_append_only()`,
    sql`create trigger consent_ledger_no_truncate before truncate on consent_ledger
      for each statement execute function consent_ledger_append_only()`,

    // Double opt-in requests (docs/consent.md, rule 5).
    sql`create table double_opt_in_requests (
      id uuid primary key default gen_random_uuid(),
      channel text not null check (channel in ('email', 'sms', 'whatsapp')),
      address_hash text not null,
      address text,
      contact_id uuid references contacts (id) on delete set null,
      topics text[] not null default array[]::text[],
      locale text,
      status text not null default 'pending' check (status in ('pending', 'confirmed', 'expired', 'superseded')),
      source text not null,
      ip text,
      user_agent text,
      message_hash text,
      template_version text,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      confirmed_at timestamptz,
      confirmed_ip text,
      confirmed_user_agent text
    )`,
    sql`create index double_opt_in_address_idx on double_opt_in_requests (channel, address_hash, created_at)`,

    sql`create table short_links (
      code text primary key check (length(code) >= 8),
      target text not null,
      created_at timestamptz not null default now(),
      expires_at timestamptz
    )`,

    sql`create table admin_users (
      id uuid primary key default gen_random_uuid(),
      email text not null unique,
      name text,
      password_hash text not null,
      role text not null check (role in ('agent', 'admin')),
      created_at timestamptz not null default now(),
      last_login_at timestamptz,
      disabled_at timestamptz
    )`,
    sql`create table admin_sessions (
      id_hash text primary key,
      user_id uuid not null references admin_users (id) on delete cascade,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      ip text,
      user_agent text
    )`,
    sql`create index admin_sessions_user_idx on admin_sessions (user_id)`,

    sql`create table api_keys (
      id uuid primary key default gen_random_uuid(),
      name text not null,
      prefix text not null unique,
      key_hash text not null,
      scopes text[] not null,
      created_by uuid references admin_users (id) on delete set null,
      created_at timestamptz not null default now(),
      last_used_at timestamptz,
      revoked_at timestamptz
    )`,

    sql`create table audit_log (
      id bigint generated always as identity primary key,
      occurred_at timestamptz not null default now(),
      actor_type text not null,
      actor_id text,
      actor_label text,
      action text not null,
      target_type text,
      target_id text,
      details jsonb not null default '{}'::jsonb,
      ip text,
      user_agent text
    )`,
    sql`create index audit_log_occurred_idx on audit_log (occurred_at desc)`,

    // Outbox for mail, SMS and webhook deliveries, written in the transaction that causes them.
    sql`create table outbox (
      id bigint generated always as identity primary key,
      kind text not null check (kind in ('email', 'sms', 'webhook')),
      recipient text not null,
      payload jsonb not null,
      status text not null default 'pending' check (status in ('pending', 'sending', 'sent', 'dead')),
      attempts integer not null default 0,
      max_attempts integer not null default 8,
      next_attempt_at timestamptz not null default now(),
      locked_until timestamptz,
      last_error text,
      created_at timestamptz not null default now(),
      sent_at timestamptz
    )`,
    sql`create index outbox_due_idx on outbox (next_attempt_at) where status in ('pending', 'sending')`,

    sql`create table settings (
      key text primary key,
      value jsonb not null,
      updated_at timestamptz not null default now()
    )`,

    sql`create table unsubscribe_reasons (
      code text primary key check (code ~ '^[a-z0-9_]{1,64}$'),
      labels jsonb not null default '{}'::jsonb,
      position integer not null default 0,
      enabled boolean not null default true,
      free_text boolean not null default false
    )`,
    sql`insert into unsubscribe_reasons (code, position, free_text) values
      ('no_longer_interested', 10, false),
      ('too_frequent', 20, false),
      ('not_relevant', 30, false),
      ('never_signed_up', 40, false),
      ('other', 50, true)`,

    // Fixed-window counters shared by every app server (login, /manage).
    sql`create table rate_limits (
      key text primary key,
      window_start timestamptz not null,
      count integer not null
    )`,
  ];
  for (const statement of statements) await statement.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const tables = [
    "rate_limits",
    "unsubscribe_reasons",
    "settings",
    "outbox",
    "audit_log",
    "api_keys",
    "admin_sessions",
    "admin_users",
    "short_links",
    "double_opt_in_requests",
    "consent_ledger",
    "campaigns",
    "topic_consent",
    "channel_consent",
    "topics",
    "contacts",
  ];
  for (const t of tables) await sql`drop table if exists ${sql.table(t)} cascade`.execute(db);
  await sql`drop function if exists consent_ledger_append_only()`.execute(db);
}
