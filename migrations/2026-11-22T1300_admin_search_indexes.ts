import { sql, type Kysely } from "kysely";

/**
 * Indexes for the admin area: prefix search of contacts by email, phone and external id on
 * millions of rows (byte-order "C" collation, so a range scan serves `starts with` on any
 * database locale, in index order), and the audit log by target and by actor.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`create index contacts_email_search_idx on contacts ((email collate "C"), id)`,
    sql`create index contacts_phone_search_idx on contacts ((phone collate "C"), id)`,
    sql`create index contacts_external_id_search_idx on contacts ((external_id collate "C"), id)`,
    sql`create index audit_log_target_idx on audit_log (target_id, id) where target_id is not null`,
    sql`create index audit_log_actor_idx on audit_log (actor_id, id) where actor_id is not null`,
  ];
  for (const statement of statements) await statement.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const name of [
    "audit_log_actor_idx",
    "audit_log_target_idx",
    "contacts_external_id_search_idx",
    "contacts_phone_search_idx",
    "contacts_email_search_idx",
  ]) {
    await sql`drop index if exists ${sql.id(name)}`.execute(db);
  }
}
