import { sql, type Kysely } from "kysely";

/**
 * double_opt_in_requests.first_signup: the address was never subscribed (a sign-up), so its
 * confirmation (SMS, email, the /c page) asks to confirm a subscription rather than to receive
 * messages "again". Pending requests of addresses that are still pending are first sign-ups.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`alter table double_opt_in_requests add column first_signup boolean not null default false`,
    sql`update double_opt_in_requests r set first_signup = true
      where r.status = 'pending' and exists (
        select 1 from channel_consent c
        where c.channel = r.channel and c.address_hash = r.address_hash and c.status = 'pending')`,
  ];
  for (const s of statements) await s.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table double_opt_in_requests drop column first_signup`.execute(db);
}
