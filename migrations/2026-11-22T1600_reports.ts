import { sql, type Kysely } from "kysely";

/**
 * Reports (/admin/reports) and unsubscribe-rate alerts.
 *
 * - Two partial, covering indexes over the rows that mean "someone left" (action unsubscribe or
 *   topic_opt_out): one by time for the dashboard's range aggregates (index-only scans once the
 *   table is vacuumed), one by campaign for per-campaign rates and reasons; and one over the
 *   rows with a free-text reason (the latest ones, and their CSV, without scanning the rest).
 * - campaigns by (channel, created_at): the campaigns sent in a range, and the previous campaigns
 *   of a channel that form the sender's long-run average.
 * - report_alerts: one row per campaign and kind of alert, so an alert fires once per campaign
 *   (the unique key), however many servers evaluate it.
 * - Rollups (app/reports/rollup.server.ts): report_daily holds the leaving rows of each complete
 *   UTC day counted by every dimension, report_campaign_stats each campaign's distinct leavers and
 *   reasons; report_rollup_state the snapshot they were computed at (its transaction-id horizon
 *   and the last day rolled). Rows of later transactions are found by consent_ledger.txid and
 *   counted live, so the figures are always exact.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`create index consent_ledger_leaving_time_idx on consent_ledger (occurred_at)
      include (channel, action, source, topic, campaign, reason_code)
      where action in ('unsubscribe', 'topic_opt_out')`,
    sql`create index consent_ledger_leaving_text_idx on consent_ledger (occurred_at, id)
      where reason_text is not null and action in ('unsubscribe', 'topic_opt_out')`,
    sql`create index consent_ledger_leaving_campaign_idx on consent_ledger (campaign)
      include (channel, address_hash, action, source, reason_code)
      where campaign is not null and action in ('unsubscribe', 'topic_opt_out')`,
    sql`create index campaigns_channel_created_idx on campaigns (channel, created_at)`,
    sql`create index campaigns_created_idx on campaigns (created_at)`,
    sql`create table report_alerts (
      id bigint generated always as identity primary key,
      campaign text not null references campaigns (key) on update cascade on delete cascade,
      kind text not null check (kind in ('unsubscribe_rate_high')),
      fired_at timestamptz not null default now(),
      channel text not null,
      sent_count bigint not null,
      unsubscribes bigint not null,
      rate double precision not null,
      triggers text[] not null,
      details jsonb not null default '{}'::jsonb,
      unique (campaign, kind)
    )`,
    sql`create index report_alerts_fired_idx on report_alerts (fired_at desc)`,
    sql`create table report_daily (
      day date not null,
      channel text not null,
      action text not null,
      source text not null,
      topic text,
      campaign text,
      reason_code text,
      n integer not null
    )`,
    sql`create index report_daily_day_idx on report_daily (day)`,
    sql`create table report_campaign_stats (
      campaign text not null,
      channel text not null,
      people integer not null,
      reasons jsonb not null default '{}'::jsonb,
      primary key (campaign, channel)
    )`,
    sql`create table report_rollup_state (
      id integer primary key check (id = 1),
      horizon xid8 not null,
      rolled_through date,
      updated_at timestamptz not null default now()
    )`,
  ];
  for (const statement of statements) await statement.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of [
    "report_rollup_state",
    "report_campaign_stats",
    "report_daily",
    "report_alerts",
  ]) {
    await sql`drop table if exists ${sql.table(t)}`.execute(db);
  }
  for (const name of [
    "campaigns_created_idx",
    "campaigns_channel_created_idx",
    "consent_ledger_leaving_campaign_idx",
    "consent_ledger_leaving_text_idx",
    "consent_ledger_leaving_time_idx",
  ]) {
    await sql`drop index if exists ${sql.id(name)}`.execute(db);
  }
}
