import { sql, type Kysely } from "kysely";

/**
 * The reports' campaign index gets the distinct key of a campaign's people as its key:
 * (campaign, channel, address_hash, id) instead of (campaign) with those columns included. A
 * campaign's distinct leavers (report_campaign_stats.people) are then counted in keyset slices
 * along it, which add up exactly: the rows come in address order, so only an address that ends
 * one slice and starts the next is in two slices, and it is counted once
 * (app/reports/rollup.server.ts, countCampaigns). One statement over a campaign with hundreds of
 * thousands of leavers held PGlite's only session for hundreds of milliseconds, inside the
 * rollup's transaction, and every recipient request waited.
 *
 * Same rows (the same partial predicate), the same columns: every query that read the old index
 * reads this one (`campaign = …` is its first key column); the old one is dropped, so the ledger
 * keeps the same number of indexes to maintain.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index consent_ledger_leaving_campaign_key_idx
    on consent_ledger (campaign, channel, address_hash, id)
    include (action, source, reason_code)
    where campaign is not null and action in ('unsubscribe', 'topic_opt_out')`.execute(db);
  await sql`drop index if exists consent_ledger_leaving_campaign_idx`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create index consent_ledger_leaving_campaign_idx on consent_ledger (campaign)
    include (channel, address_hash, action, source, reason_code)
    where campaign is not null and action in ('unsubscribe', 'topic_opt_out')`.execute(db);
  await sql`drop index if exists consent_ledger_leaving_campaign_key_idx`.execute(db);
}
