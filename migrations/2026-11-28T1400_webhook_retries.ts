import { sql, type Kysely } from "kysely";

/**
 * Webhook retries on a published schedule, and ids that never repeat.
 *
 * - outbox.uid: a random id per message, kept across retries. Email `Message-ID` comes from it
 *   (it came from the row number, which repeats in a new database or another installation, so
 *   receivers that deduplicate dropped real messages); so does the `webhook-id` of deliveries
 *   queued before webhook events got their own random id. Existing rows get their own value.
 * - webhook_endpoints.throttled_until / throttle_strikes: an endpoint that answered 429, 502, 503
 *   or 504 gets no request (of any of its deliveries) before throttled_until; strikes count such
 *   answers in a row and lengthen the pause when it gave no Retry-After.
 * - Webhook deliveries not sent yet (queued, or dead and waiting for an admin's retry) move to the
 *   new schedule (10 attempts over about three days), and those never tried yet drop their
 *   row-number id so they are sent with a random one.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const statements = [
    sql`alter table outbox add column uid uuid not null default gen_random_uuid()`,
    sql`alter table webhook_endpoints add column throttled_until timestamptz`,
    sql`alter table webhook_endpoints add column throttle_strikes integer not null default 0`,
    sql`update outbox set max_attempts = 10
      where kind = 'webhook' and status <> 'sent' and max_attempts < 10`,
    sql`update outbox set payload = payload - 'messageId'
      where kind = 'webhook' and status = 'pending' and attempts = 0
        and payload->>'messageId' ~ '^msg_[0-9]+$'`,
  ];
  for (const s of statements) await s.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table webhook_endpoints drop column throttle_strikes`.execute(db);
  await sql`alter table webhook_endpoints drop column throttled_until`.execute(db);
  await sql`alter table outbox drop column uid`.execute(db);
}
