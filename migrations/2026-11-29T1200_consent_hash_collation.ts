import { sql, type Kysely } from "kysely";

/**
 * Cheaper index work for the consent tables (issue 14.4: send checks against a million suppressed
 * addresses, imports of a million rows):
 *
 * - `address_hash` compares in byte order (collation "C"). A keyed hash is an opaque token:
 *   only equality and a stable order matter, and byte order is the order Heed already locks rows
 *   in (app/consent). Under the database's default collation every comparison in those indexes
 *   went through the C library's locale-aware strcoll (a copy and a collation lookup per
 *   comparison, about twenty per index probe); in byte order it is a memcmp. Equality is the
 *   same either way, so no row changes.
 * - `channel_consent_address_idx` goes: nothing looks a channel row up by its plain address (every
 *   lookup is by hash, which survives erasure), and it was one of the random-place index entries
 *   each newly suppressed address cost. The export's own index (channel_consent_suppressed_idx)
 *   stays.
 */
const TABLES = ["channel_consent", "topic_consent", "consent_ledger", "undeliverable_addresses"];

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists channel_consent_address_idx`.execute(db);
  for (const table of TABLES) {
    await sql`alter table ${sql.id(table)} alter column address_hash type text collate "C"`.execute(
      db,
    );
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of TABLES) {
    await sql`alter table ${sql.id(table)} alter column address_hash type text collate "default"`.execute(
      db,
    );
  }
  await sql`create index channel_consent_address_idx on channel_consent (address) where address is not null`.execute(
    db,
  );
}
