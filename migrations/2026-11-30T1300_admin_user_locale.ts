import { sql, type Kysely } from "kysely";

/**
 * The language an operator chose for the admin area on their Account page (one of the seven page
 * languages; null: the browser's Accept-Language). docs/admin-languages.md.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table admin_users add column locale text
    check (locale in ('en', 'cs', 'de', 'es', 'fr', 'pl', 'pt'))`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table admin_users drop column locale`.execute(db);
}
