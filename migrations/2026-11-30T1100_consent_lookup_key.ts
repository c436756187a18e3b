import { sql, type Kysely } from "kysely";

/**
 * The key of channel_consent becomes (address_hash, channel) INCLUDE (status, paused_until)
 * (docs/decisions/0095-send-check-hashing-and-covering-key.md): the same uniqueness (the consent
 * door's `on conflict (channel, address_hash)` infers it whatever the column order), but
 *
 * - a probe compares the keyed hash first, in byte order (collation "C": a memcmp), instead of
 *   the channel first under the database's collation and then the hash found at a computed
 *   offset: a send check does 10,000 of them, and the comparison was the largest part of its
 *   database time (perf: _bt_compare and its callees);
 * - the probe finds what the send decision reads (status, paused_until) in the key itself: an
 *   index-only scan, no heap page per address the database holds something for, once the table
 *   is vacuumed.
 *
 * Every other reader of the table goes by channel first through its own index
 * (channel_consent_status_idx, channel_consent_suppressed_idx), so nothing needs the old order.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table channel_consent drop constraint channel_consent_pkey`.execute(db);
  await sql`alter table channel_consent add constraint channel_consent_pkey
    primary key (address_hash, channel) include (status, paused_until)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table channel_consent drop constraint channel_consent_pkey`.execute(db);
  await sql`alter table channel_consent add constraint channel_consent_pkey
    primary key (channel, address_hash)`.execute(db);
}
