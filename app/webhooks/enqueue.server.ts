import crypto from "node:crypto";
import { sql } from "kysely";

import type { Trx } from "~/db/db.server";

import type { LedgerAction } from "~/db/schema";
import { WEBHOOK_MAX_ATTEMPTS } from "~/webhooks/retry-schedule";

/**
 * The `webhook-id` of a new event: random (never a row number, which a new database or another
 * installation repeats, so that receivers that deduplicate on it would drop real events), the
 * same for every endpoint that gets the event and on every retry.
 */
export function newWebhookMessageId(): string {
  return `msg_${crypto.randomUUID().replaceAll("-", "")}`;
}

/** The same as newWebhookMessageId, in SQL (one per evaluation). */
const SQL_MESSAGE_ID = sql`'msg_' || replace(gen_random_uuid()::text, '-', '')`;

/**
 * Queues one outbound webhook delivery per enabled endpoint subscribed to this consent event, in
 * the transaction that wrote the ledger row (so the delivery exists if and only if the change
 * committed). One set-based INSERT … SELECT: with no endpoints it inserts nothing and costs one
 * scan of a tiny table. A delivery to an endpoint that is throttled waits until the pause ends.
 *
 * The payload holds only the ledger id, event type and message id; the transport builds the body
 * from the ledger row when it delivers, so no address sits in the outbox.
 */
export async function enqueueConsentEvent(
  trx: Trx,
  ledgerId: number,
  action: LedgerAction,
): Promise<void> {
  const type = `consent.${action}`;
  await sql`
    insert into outbox (kind, recipient, payload, max_attempts, next_attempt_at)
    select 'webhook', e.id::text,
           jsonb_build_object('ledgerId', ${ledgerId}::bigint, 'type', ${type}::text,
                              'messageId', ${newWebhookMessageId()}::text),
           ${WEBHOOK_MAX_ATTEMPTS}::int, greatest(now(), e.throttled_until)
    from webhook_endpoints e
    where e.enabled and ${type}::text = any (e.event_types)`.execute(trx);
}

/**
 * The set-based form, for the consent core's bulk door: an INSERT to use as a data-modifying CTE
 * of the statement that writes the ledger rows, reading their ids from the CTE named `ledgerCte`
 * (a column `id`). One delivery per (ledger row, subscribed endpoint), the same payload as
 * enqueueConsentEvent; with no endpoints it inserts nothing. The message id is drawn once per
 * ledger row (the endpoints are joined laterally, so the ledger side is read once).
 */
export function consentEventDeliveriesInsert(ledgerCte: string, action: LedgerAction) {
  const type = `consent.${action}`;
  return sql`
    insert into outbox (kind, recipient, payload, max_attempts, next_attempt_at)
    select 'webhook', e.id::text,
           jsonb_build_object('ledgerId', l.id, 'type', ${type}::text, 'messageId', l.message_id),
           ${WEBHOOK_MAX_ATTEMPTS}::int, greatest(now(), e.throttled_until)
    from (select id, ${SQL_MESSAGE_ID} as message_id from ${sql.table(ledgerCte)}) l
    cross join lateral (
      select e.id, e.throttled_until from webhook_endpoints e
      where e.enabled and ${type}::text = any (e.event_types) and l.id is not null
    ) e`;
}

/**
 * Queues a ready event (one with no ledger row behind it, e.g. a report alert) for every enabled
 * endpoint subscribed to its type, in the caller's transaction. Returns the outbox ids.
 */
export async function enqueueWebhookEvent(
  trx: Trx,
  event: { type: string; timestamp: string; data: unknown },
): Promise<number[]> {
  const { rows } = await sql<{ id: number }>`
    insert into outbox (kind, recipient, payload, max_attempts, next_attempt_at)
    select 'webhook', e.id::text,
           jsonb_build_object('type', ${event.type}::text, 'messageId', ${newWebhookMessageId()}::text,
                              'event', ${JSON.stringify(event)}::jsonb),
           ${WEBHOOK_MAX_ATTEMPTS}::int, greatest(now(), e.throttled_until)
    from webhook_endpoints e
    where e.enabled and ${event.type}::text = any (e.event_types)
    order by e.created_at, e.id
    returning id`.execute(trx);
  return rows.map((r) => Number(r.id));
}
