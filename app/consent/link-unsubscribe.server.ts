import { sql } from "kysely";

import { ADDRESS_HASH_RE, ConsentError } from "~/consent/consent.server";
import { preparedStatement, type Db } from "~/db/db.server";
import type { Channel, ConsentSource } from "~/db/schema";
import { consentEventDeliveriesInsert } from "~/webhooks/enqueue.server";

/**
 * The one door's single-statement unsubscribe, for an unsubscribe link and the RFC 8058
 * one-click POST (the hot path: mailbox providers post it for every "unsubscribe" button press,
 * and an unanswered one-click is a lost opt-out). The same rules as applyConsentChanges for
 * `unsubscribe` and `topic_opt_out`, in ONE statement (one round trip, its own implicit
 * transaction):
 *
 * - the state row is upserted with `ON CONFLICT … DO UPDATE … WHERE` the address is not yet
 *   unsubscribed (or opted out of the topic): PostgreSQL locks the existing row and re-checks
 *   the condition against its latest committed version, so two concurrent presses, or a press
 *   during a preference save (which holds the same row lock), write exactly one change;
 * - the ledger row is written only when the state changed (its id is drawn from the ledger's own
 *   sequence first, so the state row can point at it in the same statement);
 * - one outbound-webhook delivery per subscribed endpoint, as in every other door.
 *
 * A repeat changes nothing and writes nothing (`changed: false`).
 */

export type LinkUnsubscribeInput = {
  channel: Channel;
  /** The address's keyed hash (addressKey): the state and the ledger are keyed by it. */
  addressHash: string;
  /** The normalized address when known (null: a link whose contact was deleted or erased). */
  address: string | null;
  /** A topic link's topic (the topic must exist); null: the whole channel. */
  topic: string | null;
  source: Extract<ConsentSource, "link" | "one_click">;
  contactId: string | null;
  campaign?: string | null;
  reasonCode?: string | null;
  reasonText?: string | null;
  ip?: string | null;
  userAgent?: string | null;
};

export async function unsubscribeByLinkStatement(
  db: Db,
  input: LinkUnsubscribeInput,
): Promise<{ changed: boolean; ledgerId: number | null }> {
  if (!ADDRESS_HASH_RE.test(input.addressHash)) {
    throw new ConsentError("invalid_address", "Invalid address hash");
  }
  const { channel, addressHash: hash, topic } = input;
  const address = input.address || null;
  const contactId = input.contactId ?? null;
  const action = topic ? "topic_opt_out" : "unsubscribe";
  const ledger = sql`
    led as (
      insert into consent_ledger (
        id, channel, address_hash, address, contact_id, topic, action, source, campaign,
        reason_code, reason_text, actor_type, actor_id, ip, user_agent, details)
      overriding system value
      -- The address in clear when the caller does not know it (a link whose contact was
      -- deleted) but the state row still does (read before this statement's own upsert).
      select changed.id, ${channel}, ${hash},
        coalesce(${address}::text, (select cc0.address from channel_consent cc0
          where cc0.channel = ${channel} and cc0.address_hash = ${hash})),
        ${contactId}::uuid, ${topic}::text,
        ${action}, ${input.source}, ${input.campaign ?? null}::text, ${input.reasonCode ?? null}::text,
        ${input.reasonText?.trim() || null}::text, 'recipient', ${contactId}::text,
        ${input.ip ?? null}::text, ${input.userAgent ?? null}::text, '{}'::jsonb
      from changed
      returning id
    ),
    wh as (${consentEventDeliveriesInsert("led", action)})
    select (select id from led) as ledger_id`;
  const statement = topic
    ? // Topic link: lock the channel row first (the order applyConsentChanges takes its locks
      // in, so the two cannot deadlock), then opt out of the topic; a channel row is created
      // (subscribed) when Heed had none, and points at the change, as applyConsentChanges does.
      sql<{ ledger_id: string | number | null }>`${preparedStatement("link_topic_opt_out")}
        with lid as (select nextval(pg_get_serial_sequence('consent_ledger', 'id')) as id),
        lk as (
          select 1 from channel_consent
          where channel = ${channel} and address_hash = ${hash}
          for update
        ),
        changed as (
          insert into topic_consent as tc (channel, address_hash, topic, status, last_ledger_id)
          select ${channel}, ${hash}, ${topic}, 'opted_out', lid.id
          from lid cross join (select count(*) from lk) as locked
          on conflict (channel, address_hash, topic) do update set
            status = 'opted_out', last_ledger_id = excluded.last_ledger_id, updated_at = now()
          where tc.status <> 'opted_out'
          returning tc.last_ledger_id as id
        ),
        st as (
          insert into channel_consent as cc (channel, address_hash, address, status, last_ledger_id)
          select ${channel}, ${hash}, ${address}, 'subscribed', changed.id from changed
          on conflict (channel, address_hash) do update set
            address = coalesce(excluded.address, cc.address),
            last_ledger_id = excluded.last_ledger_id,
            updated_at = now()
          returning 1
        ),
        ${ledger}`
    : sql<{ ledger_id: string | number | null }>`${preparedStatement("link_unsubscribe")}
        with lid as (select nextval(pg_get_serial_sequence('consent_ledger', 'id')) as id),
        changed as (
          insert into channel_consent as cc (
            channel, address_hash, address, status, paused_until, last_ledger_id)
          select ${channel}, ${hash}, ${address}, 'unsubscribed', null, lid.id from lid
          on conflict (channel, address_hash) do update set
            status = 'unsubscribed',
            paused_until = null,
            address = coalesce(excluded.address, cc.address),
            last_ledger_id = excluded.last_ledger_id,
            updated_at = now()
          where cc.status <> 'unsubscribed'
          returning cc.last_ledger_id as id
        ),
        ${ledger}`;
  const { rows } = await statement.execute(db);
  const id = rows[0]?.ledger_id;
  return id === null || id === undefined
    ? { changed: false, ledgerId: null }
    : { changed: true, ledgerId: Number(id) };
}
