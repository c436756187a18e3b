import { sql } from "kysely";

/**
 * An undeliverable event (table alias `u`, contacts joined as `c`) in the column shape of a
 * consent ledger event (app/api/events.server.ts), so that the events feed, outbound webhooks and
 * the contact timeline read both tables in one order:
 *
 * - action `undeliverable` (marked) or `undeliverable_cleared` (an agent cleared it);
 * - source `undeliverable` for a mark, `admin` for a clear by an agent;
 * - reason code: why (hard_bounce, soft_bounces, cleared); reason text: the bounce's diagnostic,
 *   or the agent's note.
 */
export const UNDELIVERABLE_EVENT_COLUMNS = sql`u.id, u.txid::text as txid, u.occurred_at,
  u.channel, u.address,
  case u.action when 'mark' then 'undeliverable' else 'undeliverable_cleared' end as action,
  null::text as topic,
  case u.action when 'mark' then 'undeliverable' else 'admin' end as source,
  u.campaign, u.reason as reason_code, u.detail as reason_text, null::timestamptz as paused_until,
  null::text as frequency, u.actor_type, u.actor_id, c.external_id`;
