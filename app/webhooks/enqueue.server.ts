import { sql } from "kysely";

import type { Trx } from "~/db/db.server";

import type { LedgerAction } from "~/db/schema";

/**
 * Queues one outbound webhook delivery per enabled endpoint subscribed to this consent event, in
 * the transaction that wrote the ledger row (so the delivery exists if and only if the change
 * committed). One set-based INSERT … SELECT: with no endpoints it inserts nothing and costs one
 * scan of a tiny table.
 *
 * The payload holds only the ledger id and event type; the transport builds the body from the
 * ledger row when it delivers, so no address sits in the outbox.
 */
export async function enqueueConsentEvent(
  trx: Trx,
  ledgerId: number,
  action: LedgerAction,
): Promise<void> {
  const type = `consent.${action}`;
  await sql`
    insert into outbox (kind, recipient, payload)
    select 'webhook', e.id::text,
           jsonb_build_object('ledgerId', ${ledgerId}::bigint, 'type', ${type}::text,
                              'messageId', ${`msg_${ledgerId}`}::text)
    from webhook_endpoints e
    where e.enabled and ${type}::text = any (e.event_types)`.execute(trx);
}

/**
 * The set-based form, for the consent core's bulk door: an INSERT to use as a data-modifying CTE
 * of the statement that writes the ledger rows, reading their ids from the CTE named `ledgerCte`
 * (a column `id`). One delivery per (ledger row, subscribed endpoint), the same payload as
 * enqueueConsentEvent; with no endpoints it inserts nothing.
 */
export function consentEventDeliveriesInsert(ledgerCte: string, action: LedgerAction) {
  const type = `consent.${action}`;
  return sql`
    insert into outbox (kind, recipient, payload)
    select 'webhook', e.id::text,
           jsonb_build_object('ledgerId', l.id, 'type', ${type}::text, 'messageId', 'msg_' || l.id::text)
    from ${sql.table(ledgerCte)} l
    join webhook_endpoints e on e.enabled and ${type}::text = any (e.event_types)`;
}
