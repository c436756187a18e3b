import { sql, type Kysely } from "kysely";

/**
 * Admin polish (issue 15, item 9):
 *
 * - `channel_consent_suppressed_recent_idx`: the admin's list of suppressions
 *   (/admin/suppressions) pages newest first along this index (keyset pagination, never OFFSET):
 *   the suppressed addresses that can be shown (erased ones keep only a hash), in the order of
 *   their latest change (the ledger id, which is unique; 0 for the rare row without one), the
 *   channel and the keyed hash breaking ties. A page is one backward range scan of it
 *   (docs/decisions/0091-suppression-list-keyset.md).
 * - `branding_logos`: logos uploaded on /admin/branding, in the database so that every server
 *   process (PostgreSQL) and PGlite serve the same bytes (docs/decisions/0090-logo-in-the-database.md).
 *   The name is the URL's file name (`<first 16 hex of the SHA-256>.<ext>`), so a new upload gets
 *   a new URL and the old one keeps working for emails already sent.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index channel_consent_suppressed_recent_idx
    on channel_consent ((coalesce(last_ledger_id, 0)), channel, address_hash)
    where status = 'unsubscribed' and address is not null`.execute(db);
  await sql`create table branding_logos (
    name text primary key,
    sha256 text not null,
    content_type text not null,
    bytes bytea not null,
    size integer not null,
    uploaded_by text,
    created_at timestamptz not null default now()
  )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table if exists branding_logos`.execute(db);
  await sql`drop index if exists channel_consent_suppressed_recent_idx`.execute(db);
}
