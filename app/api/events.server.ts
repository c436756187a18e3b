import { sql } from "kysely";
import type { Db } from "~/db/db.server";
import type { Channel, ConsentSource, LedgerAction } from "~/db/schema";
import {
  UNDELIVERABLE_ACTIONS,
  undeliverableEventType,
  type UndeliverableEventAction,
} from "~/email/constants";
import { UNDELIVERABLE_EVENT_COLUMNS } from "~/email/undeliverable-events.server";

/**
 * Consent events: ledger rows as senders see them (the events feed and outbound webhooks).
 * No IP or user agent leaves Heed this way.
 *
 * Order and cursor: rows are read in (txid, id) order, and only rows of transactions older than
 * every transaction still running (txid < the snapshot's xmin). Ledger ids are assigned when a
 * row is inserted, not when its transaction commits, so reading by id alone could skip a row
 * with a smaller id that commits after a larger one was read. The cursor is "<txid>-<id>".
 *
 * Undeliverable marks (app/email/undeliverable.server.ts) are not consent, but senders need them
 * too: their events share the ledger's id sequence and txid column, so they interleave here as
 * `address.undeliverable` / `address.undeliverable_cleared` in the same order and cursor.
 */

export type ConsentEventJson = {
  id: string;
  type: string;
  occurredAt: string;
  channel: Channel;
  address: string | null;
  action: LedgerAction | UndeliverableEventAction;
  topic: string | null;
  source: ConsentSource | "undeliverable";
  campaign: string | null;
  reasonCode: string | null;
  reasonText: string | null;
  pausedUntil: string | null;
  frequency: string | null;
  externalId: string | null;
  actor: { type: string; id: string | null } | null;
};

type EventRow = {
  id: number;
  txid: string;
  occurred_at: Date;
  channel: Channel;
  address: string | null;
  action: LedgerAction | UndeliverableEventAction;
  topic: string | null;
  source: ConsentSource | "undeliverable";
  campaign: string | null;
  reason_code: string | null;
  reason_text: string | null;
  paused_until: Date | null;
  frequency: string | null;
  actor_type: string | null;
  actor_id: string | null;
  external_id: string | null;
};

const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : null);

export function eventType(action: LedgerAction | UndeliverableEventAction): string {
  return (UNDELIVERABLE_ACTIONS as readonly string[]).includes(action)
    ? undeliverableEventType(action as UndeliverableEventAction)
    : `consent.${action}`;
}

export function eventJson(r: EventRow): ConsentEventJson {
  return {
    id: String(r.id),
    type: eventType(r.action),
    occurredAt: iso(r.occurred_at)!,
    channel: r.channel,
    address: r.address,
    action: r.action,
    topic: r.topic,
    source: r.source,
    campaign: r.campaign,
    reasonCode: r.reason_code,
    reasonText: r.reason_text,
    pausedUntil: iso(r.paused_until),
    frequency: r.frequency ?? null,
    externalId: r.external_id,
    actor: r.actor_type ? { type: r.actor_type, id: r.actor_id } : null,
  };
}

const COLUMNS = sql`l.id, l.txid::text as txid, l.occurred_at, l.channel, l.address, l.action,
  l.topic, l.source, l.campaign, l.reason_code, l.reason_text, l.paused_until, l.frequency,
  l.actor_type, l.actor_id, c.external_id`;

export type EventsPage = {
  events: ConsentEventJson[];
  nextCursor: string | null;
  hasMore: boolean;
};

export async function listEvents(
  db: Db,
  options: { after?: string; limit: number },
): Promise<EventsPage> {
  const [txid, id] = options.after ? options.after.split("-") : ["0", "0"];
  const rows = (
    await sql<EventRow>`
      select * from (
        (select ${COLUMNS}
        from consent_ledger l
        left join contacts c on c.id = l.contact_id
        where (l.txid, l.id) > (${txid}::xid8, ${id}::bigint)
          and l.txid < pg_snapshot_xmin(pg_current_snapshot())
        order by l.txid, l.id
        limit ${options.limit + 1})
        union all
        (select ${UNDELIVERABLE_EVENT_COLUMNS}
        from undeliverable_events u
        left join contacts c on c.id = u.contact_id
        where (u.txid, u.id) > (${txid}::xid8, ${id}::bigint)
          and u.txid < pg_snapshot_xmin(pg_current_snapshot())
        order by u.txid, u.id
        limit ${options.limit + 1})
      ) e
      order by e.txid::xid8, e.id
      limit ${options.limit + 1}`.execute(db)
  ).rows;
  const hasMore = rows.length > options.limit;
  const page = rows.slice(0, options.limit);
  const last = page[page.length - 1];
  return {
    events: page.map(eventJson),
    nextCursor: last ? `${last.txid}-${last.id}` : (options.after ?? null),
    hasMore,
  };
}

/**
 * One ledger row (or undeliverable event: the ids never collide) as an event, for a webhook
 * delivery, or null if it does not exist.
 */
export async function loadEvent(db: Db, ledgerId: number): Promise<ConsentEventJson | null> {
  const row = (
    await sql<EventRow>`
      select ${COLUMNS}
      from consent_ledger l
      left join contacts c on c.id = l.contact_id
      where l.id = ${ledgerId}
      union all
      select ${UNDELIVERABLE_EVENT_COLUMNS}
      from undeliverable_events u
      left join contacts c on c.id = u.contact_id
      where u.id = ${ledgerId}`.execute(db)
  ).rows[0];
  return row ? eventJson(row) : null;
}
