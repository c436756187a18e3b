import { sql, type Kysely } from "kysely";

/**
 * The reports' leaving-rows index gets the row id as a second key, so the rollup can walk a day's
 * rows in keyset slices, (occurred_at, id) > (last seen), instead of reading them in one statement
 * (app/reports/rollup.server.ts). On PGlite one statement holds the database's only session: the
 * rollup of a day with 1,000,000 imported rows held it for more than a second, and every
 * recipient request arriving meanwhile waited. `occurred_at` alone cannot be a keyset: an import
 * writes thousands of rows with the same instant (its batch's transaction time).
 *
 * Same columns, same partial predicate, so every report query that used the old index uses this
 * one; the old one is dropped (the ledger keeps the same number of indexes to maintain).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index consent_ledger_leaving_time_id_idx on consent_ledger (occurred_at, id)
    include (channel, action, source, topic, campaign, reason_code)
    where action in ('unsubscribe', 'topic_opt_out')`.execute(db);
  await sql`drop index if exists consent_ledger_leaving_time_idx`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create index consent_ledger_leaving_time_idx on consent_ledger (occurred_at)
    include (channel, action, source, topic, campaign, reason_code)
    where action in ('unsubscribe', 'topic_opt_out')`.execute(db);
  await sql`drop index if exists consent_ledger_leaving_time_id_idx`.execute(db);
}
