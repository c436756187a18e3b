import { sql, type Kysely } from "kysely";

/**
 * "I would rather not say" becomes an unsubscribe reason like the others (issue 15.8): listed in
 * Admin → Reasons with labels per language, an order and "shown to recipients", first by default.
 * Recipient pages preselect it and record no reason when it is chosen (app/settings/reasons.ts).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`insert into unsubscribe_reasons (code, position, free_text)
    values ('prefer_not_to_say', 0, false)
    on conflict (code) do nothing`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from unsubscribe_reasons where code = 'prefer_not_to_say'`.execute(db);
}
