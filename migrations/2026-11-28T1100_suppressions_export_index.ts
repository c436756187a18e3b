import { sql, type Kysely } from "kysely";

/**
 * The suppressions export reads its pages along this index (keyset pagination): only suppressed
 * addresses that can be exported (erased ones keep only a hash), in the export's order (channel,
 * then address in byte order, the keyed hash breaking ties). Each page is then one short index
 * range scan, however large the set, instead of a sort of every row per page.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index channel_consent_suppressed_idx
    on channel_consent (channel, address collate "C", address_hash)
    where status = 'unsubscribed' and address is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists channel_consent_suppressed_idx`.execute(db);
}
