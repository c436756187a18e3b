import { sql } from "kysely";

import { ADDRESS_HASH_RE, ConsentError } from "~/consent/consent.server";
import { Coalescer, coalescerPer } from "~/db/coalesce.server";
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

/**
 * The channel unsubscribe's upsert rule, shared by the single and the batch statement (`cc` is
 * channel_consent): only where the address is not unsubscribed yet, so a repeat changes nothing
 * and writes no ledger row; the state row points at the new ledger row.
 */
const UNSUBSCRIBE_ON_CONFLICT = sql`on conflict (channel, address_hash) do update set
    status = 'unsubscribed',
    paused_until = null,
    address = coalesce(excluded.address, cc.address),
    last_ledger_id = excluded.last_ledger_id,
    updated_at = now()
  where cc.status <> 'unsubscribed'`;

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
          ${UNSUBSCRIBE_ON_CONFLICT}
          returning cc.last_ledger_id as id
        ),
        ${ledger}`;
  const { rows } = await statement.execute(db);
  const id = rows[0]?.ledger_id;
  return id === null || id === undefined
    ? { changed: false, ledgerId: null }
    : { changed: true, ledgerId: Number(id) };
}

/**
 * The batch form of the channel unsubscribe (not topics): many link unsubscribes in ONE
 * statement, for the one-click group commit (unsubscribeByLinkCoalesced, docs/decisions/0107).
 * A press's database cost is mostly per statement and per transaction (bind, executor start,
 * snapshot, commit, the WAL flush), not per row, so presses that arrive together share them.
 *
 * The same rules per input as unsubscribeByLinkStatement: the state upsert only where the
 * address is not unsubscribed yet (a concurrent press or preference save is re-checked against
 * its latest committed version), a ledger row only when the state changed (its id drawn from
 * the ledger's sequence by the upsert, so the state row points at it), the address in clear
 * from the state row when the caller does not know it, one webhook delivery per subscribed
 * endpoint and ledger row. Arrays travel as single parameters (unnest … with ordinality), so it
 * is one prepared statement whatever the batch size.
 *
 * The inputs are written in (channel, address_hash) order, so two concurrent batches lock the
 * rows they share in the same order and cannot deadlock each other. An address twice in one
 * batch reaches the statement once (ON CONFLICT cannot touch a row twice in one statement): the
 * first is written, the others answer `changed: false`, as they would one after the other.
 * Returns one result per input, in the inputs' order.
 */
export async function unsubscribeByLinkBatch(
  db: Db,
  inputs: readonly LinkUnsubscribeInput[],
): Promise<{ changed: boolean; ledgerId: number | null }[]> {
  for (const input of inputs) {
    if (input.topic) throw new Error("unsubscribeByLinkBatch: channel unsubscribes only");
    if (!ADDRESS_HASH_RE.test(input.addressHash)) {
      throw new ConsentError("invalid_address", "Invalid address hash");
    }
  }
  const order = inputs
    .map((input, i) => ({ input, i, key: `${input.channel}\u0000${input.addressHash}` }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i));
  /** Per input (by its index): its place in `unique`, or -1 for a repeat of an earlier one. */
  const slot: number[] = new Array(inputs.length).fill(-1);
  const seen = new Set<string>();
  const unique: LinkUnsubscribeInput[] = [];
  for (const o of order) {
    if (!seen.has(o.key)) {
      seen.add(o.key);
      slot[o.i] = unique.length;
      unique.push(o.input);
    }
  }
  const col = <T>(f: (i: LinkUnsubscribeInput) => T) => unique.map(f);
  const { rows } = await sql<{
    n: string | number;
    ledger_id: string | number | null;
  }>`${preparedStatement("link_unsubscribe_batch")}
    with input as (
      select * from unnest(
        ${col((i) => i.channel)}::text[], ${col((i) => i.addressHash)}::text[],
        ${col((i) => i.address || null)}::text[], ${col((i) => i.contactId ?? null)}::uuid[],
        ${col((i) => i.source)}::text[], ${col((i) => i.campaign ?? null)}::text[],
        ${col((i) => i.reasonCode ?? null)}::text[],
        ${col((i) => i.reasonText?.trim() || null)}::text[],
        ${col((i) => i.ip ?? null)}::text[], ${col((i) => i.userAgent ?? null)}::text[]
      ) with ordinality as t(channel, address_hash, address, contact_id, source, campaign,
        reason_code, reason_text, ip, user_agent, n)
    ),
    changed as (
      insert into channel_consent as cc (
        channel, address_hash, address, status, paused_until, last_ledger_id)
      select i.channel, i.address_hash, i.address, 'unsubscribed', null,
        nextval(pg_get_serial_sequence('consent_ledger', 'id'))
      from input i
      order by i.n
      ${UNSUBSCRIBE_ON_CONFLICT}
      returning cc.channel, cc.address_hash, cc.last_ledger_id as id
    ),
    led as (
      insert into consent_ledger (
        id, channel, address_hash, address, contact_id, topic, action, source, campaign,
        reason_code, reason_text, actor_type, actor_id, ip, user_agent, details)
      overriding system value
      -- The address in clear when the caller does not know it but the state row does (read
      -- before this statement's own upsert, as in unsubscribeByLinkStatement).
      select c.id, i.channel, i.address_hash,
        coalesce(i.address, (select cc0.address from channel_consent cc0
          where cc0.channel = i.channel and cc0.address_hash = i.address_hash)),
        i.contact_id, null, 'unsubscribe', i.source, i.campaign, i.reason_code, i.reason_text,
        'recipient', i.contact_id::text, i.ip, i.user_agent, '{}'::jsonb
      from changed c
      join input i on i.channel = c.channel and i.address_hash = c.address_hash
      order by c.id
      returning id
    ),
    wh as (${consentEventDeliveriesInsert("led", "unsubscribe")})
    select i.n, c.id as ledger_id
    from input i
    left join changed c on c.channel = i.channel and c.address_hash = i.address_hash`.execute(db);
  const written: ({ changed: boolean; ledgerId: number | null } | undefined)[] = [];
  for (const r of rows) {
    written[Number(r.n) - 1] =
      r.ledger_id === null || r.ledger_id === undefined
        ? { changed: false, ledgerId: null }
        : { changed: true, ledgerId: Number(r.ledger_id) };
  }
  return slot.map((u) => (u >= 0 && written[u]) || { changed: false, ledgerId: null });
}

/**
 * Group commit (docs/decisions/0107, 0112): batches running at once per database, and items per
 * batch. One batch: presses that arrive while it runs wait for the next, so batches grow with the
 * load (a statement costs PostgreSQL about 300 µs of CPU whatever its size, then about 50 µs a
 * press); with two, half the batches were single presses. A burst never waits behind more than
 * one batch. 100 items: a statement of a few milliseconds at most.
 */
export const LINK_UNSUBSCRIBE_BATCHES = { maxInFlight: 1, maxBatch: 100 };

const linkUnsubscribes = coalescerPer(
  (db: Db) =>
    new Coalescer<LinkUnsubscribeInput, { changed: boolean; ledgerId: number | null }>(
      (items) => unsubscribeByLinkBatch(db, items),
      (item) => unsubscribeByLinkStatement(db, item),
      LINK_UNSUBSCRIBE_BATCHES,
    ),
);

/** The coalescer of a database handle (for tests). */
export const linkUnsubscribeCoalescer = linkUnsubscribes;

/**
 * unsubscribeByLinkStatement, with concurrent channel unsubscribes of one database written
 * together (unsubscribeByLinkBatch): what the one-click POST and the /u page use. The result is
 * this input's own, and arrives once its statement committed. A topic opt-out, or a call inside
 * a transaction (whose statements must stay in it), runs alone as before.
 */
export async function unsubscribeByLinkCoalesced(
  db: Db,
  input: LinkUnsubscribeInput,
): Promise<{ changed: boolean; ledgerId: number | null }> {
  if (input.topic || db.isTransaction) return unsubscribeByLinkStatement(db, input);
  // Bad input fails its own caller here, never a batch.
  if (!ADDRESS_HASH_RE.test(input.addressHash)) {
    throw new ConsentError("invalid_address", "Invalid address hash");
  }
  return linkUnsubscribes(db).submit(input);
}
