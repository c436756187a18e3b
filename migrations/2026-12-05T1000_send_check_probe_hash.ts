import { sql, type Kysely } from "kysely";

/**
 * The send check probes channel_consent through a hash index (decisions/0118).
 *
 * A check of 10,000 recipients probes channel_consent once per address, at a random place. The
 * primary key (address_hash, channel) INCLUDE (status, paused_until) answers it as an index-only
 * scan, but at 1,000,000 rows that btree has four levels: four pages per probe, about 5 µs of
 * PostgreSQL's CPU per address, most of the check's database time. A hash index finds the bucket
 * page directly: one page per miss, bucket and heap page per hit. Measured on 1,000,000
 * suppressed addresses (vacuumed), chunks of 2,500, same window: 4,166 buffers against 10,001 per
 * chunk, 19.9 against 27.0 ms median execution.
 *
 * It is on an expression that only the send check's probe writes, `channel || ':' ||
 * address_hash` (a hash is 43 base64url characters and no channel name has a colon, so the text
 * names one row): the planner costs the covering btree's index-only scan cheaper and would keep
 * choosing it for `address_hash = … and channel = …`; every other query keeps using the btree.
 * Every insert into channel_consent, and every update (a status change is never a HOT update:
 * the status index holds it), writes one more index entry: 200,000 inserts took 4–7 % longer.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index channel_consent_probe_idx on channel_consent
    using hash ((channel || ':' || address_hash))`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists channel_consent_probe_idx`.execute(db);
}
