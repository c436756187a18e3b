import { sql } from "kysely";
import { z } from "zod";
import { audit, type AuditContext } from "~/admin/audit.server";
import { addressKey, normalizeOrThrow } from "~/consent/consent.server";
import { maskAddress } from "~/contacts/suppressions.server";
import { inTransaction, type Db, type Trx } from "~/db/db.server";
import type { Channel } from "~/db/schema";
import { UNDELIVERABLE_EVENT_TYPES, UNDELIVERABLE_SOURCE } from "~/email/constants";
import { withEmailTables, type UndeliverableReason } from "~/email/schema";
import { getSetting, putSetting } from "~/settings/settings.server";

/**
 * Undeliverable addresses. A hard bounce says nothing about what the person wants, so it is not a
 * consent change: it never enters the consent ledger, and clearing it does not re-subscribe
 * anyone. But mail to the address cannot arrive, so the send decision (decideSendMany) answers
 * `undeliverable` before anything else, for marketing and transactional mail alike, until an
 * agent clears the mark.
 *
 * State lives in undeliverable_addresses; every change is an undeliverable_events row (who, why,
 * which provider and campaign) written in the same transaction, with one outbound webhook
 * delivery per subscribed endpoint (`address.undeliverable`, `address.undeliverable_cleared`).
 * Soft bounces count only when the operator set "N soft bounces in a row" (per install, Admin →
 * Email providers); a delivery resets the count.
 */

export type UndeliverableMark = {
  channel: Channel;
  /** The address's keyed hash (what the state is keyed by). */
  hash: string;
  /** The address in clear, when known (null for an erased address). */
  address: string | null;
  contactId?: string | null;
  reason: Exclude<UndeliverableReason, "cleared">;
  provider?: string | null;
  campaign?: string | null;
  /** The bounce's diagnostic code or text. */
  detail?: string | null;
  inboundId?: number | null;
  details?: Record<string, unknown>;
};

const MAX_DETAIL = 1000;

/** The consent ledger's id sequence, which undeliverable events share (see the migration). */
const NEXT_EVENT_ID = sql`nextval(pg_get_serial_sequence('consent_ledger', 'id'))`;

/**
 * Marks addresses undeliverable, set-based (one statement for any number). An address that is
 * already marked is left alone: no event, no webhook. The state row is claimed first (ON CONFLICT
 * DO NOTHING), so two concurrent marks of one address record one event. Returns the event ids of
 * the addresses that became undeliverable, by `${channel}:${hash}`.
 */
export async function markUndeliverable(
  trx: Trx,
  marks: readonly UndeliverableMark[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (marks.length === 0) return out;
  const cols = {
    channel: [] as string[],
    hash: [] as string[],
    address: [] as (string | null)[],
    contact: [] as (string | null)[],
    reason: [] as string[],
    provider: [] as (string | null)[],
    campaign: [] as (string | null)[],
    detail: [] as (string | null)[],
    inbound: [] as (number | null)[],
    details: [] as string[],
  };
  const seen = new Set<string>();
  for (const m of marks) {
    const k = `${m.channel}:${m.hash}`;
    if (seen.has(k)) continue;
    seen.add(k);
    cols.channel.push(m.channel);
    cols.hash.push(m.hash);
    cols.address.push(m.address);
    cols.contact.push(m.contactId ?? null);
    cols.reason.push(m.reason);
    cols.provider.push(m.provider ?? null);
    cols.campaign.push(m.campaign ?? null);
    cols.detail.push(m.detail?.slice(0, MAX_DETAIL) || null);
    cols.inbound.push(m.inboundId ?? null);
    cols.details.push(JSON.stringify(m.details ?? {}));
  }
  const type = UNDELIVERABLE_EVENT_TYPES[0];
  const { rows } = await sql<{ channel: Channel; address_hash: string; id: number }>`
    with input as (
      select * from unnest(
        ${cols.channel}::text[], ${cols.hash}::text[], ${cols.address}::text[],
        ${cols.contact}::uuid[], ${cols.reason}::text[], ${cols.provider}::text[],
        ${cols.campaign}::text[], ${cols.detail}::text[], ${cols.inbound}::bigint[],
        ${cols.details}::jsonb[]
      ) as t(channel, address_hash, address, contact_id, reason, provider, campaign, detail,
             inbound_id, details)
    ),
    st as (
      insert into undeliverable_addresses (channel, address_hash, address, reason, provider, detail,
        last_event_id)
      select channel, address_hash, address, reason, provider, detail, ${NEXT_EVENT_ID}
      from input
      order by channel, address_hash
      on conflict (channel, address_hash) do nothing
      returning channel, address_hash, last_event_id
    ),
    ev as (
      insert into undeliverable_events (id, channel, address_hash, address, contact_id, action,
        reason, provider, campaign, detail, actor_type, inbound_id, details)
      select st.last_event_id, i.channel, i.address_hash, i.address, i.contact_id, 'mark',
        i.reason, i.provider, i.campaign, i.detail, 'system', i.inbound_id, i.details
      from st join input i on i.channel = st.channel and i.address_hash = st.address_hash
      returning id
    ),
    wh as (
      insert into outbox (kind, recipient, payload)
      select 'webhook', e.id::text,
             jsonb_build_object('ledgerId', ev.id, 'type', ${type}::text,
                                'messageId', 'msg_' || ev.id::text)
      from ev
      join webhook_endpoints e on e.enabled and ${type}::text = any (e.event_types)
    )
    select st.channel, st.address_hash, st.last_event_id as id from st
  `.execute(trx);
  // Those marked are no longer counting soft bounces.
  if (rows.length > 0) {
    await sql`
      delete from soft_bounce_streaks s
      using unnest(${rows.map((r) => r.channel)}::text[], ${rows.map((r) => r.address_hash)}::text[])
        as t(channel, address_hash)
      where s.channel = t.channel and s.address_hash = t.address_hash
    `.execute(trx);
  }
  for (const r of rows) out.set(`${r.channel}:${r.address_hash}`, Number(r.id));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Soft bounces

export const BOUNCE_SETTINGS_KEY = "email.bounces";

export const BounceSettingsSchema = z.object({
  /** Soft bounces in a row that make an address undeliverable; null: soft bounces never do. */
  softBounceLimit: z.number().int().min(2).max(100).nullable(),
});
export type BounceSettings = z.infer<typeof BounceSettingsSchema>;

export const DEFAULT_BOUNCE_SETTINGS: BounceSettings = { softBounceLimit: null };

export function getBounceSettings(db: Db): Promise<BounceSettings> {
  return getSetting(db, BOUNCE_SETTINGS_KEY, BounceSettingsSchema, DEFAULT_BOUNCE_SETTINGS);
}

/** Saves the bounce settings, audited in the same transaction. */
export async function saveBounceSettings(
  db: Db,
  settings: BounceSettings,
  by: AuditContext,
): Promise<{ changed: boolean }> {
  const next = BounceSettingsSchema.parse(settings);
  return inTransaction(db, async (trx) => {
    const before = await getBounceSettings(trx);
    if (before.softBounceLimit === next.softBounceLimit) return { changed: false };
    await putSetting(trx, BOUNCE_SETTINGS_KEY, next);
    await audit(trx, {
      ...by,
      action: "email.bounce_settings.update",
      target: { type: "settings", id: BOUNCE_SETTINGS_KEY },
      details: { softBounceLimit: { from: before.softBounceLimit, to: next.softBounceLimit } },
    });
    return { changed: true };
  });
}

/**
 * Counts one soft bounce for each address (once per address per call) and marks those that
 * reached the operator's limit. Without a limit, soft bounces are not counted at all.
 */
export async function recordSoftBounces(
  trx: Trx,
  bounces: readonly Omit<UndeliverableMark, "reason">[],
  settings: BounceSettings,
): Promise<Map<string, number>> {
  const limit = settings.softBounceLimit;
  if (!limit || bounces.length === 0) return new Map();
  const unique = new Map(bounces.map((b) => [`${b.channel}:${b.hash}`, b]));
  const list = [...unique.values()];
  const { rows } = await sql<{ channel: Channel; address_hash: string; count: number }>`
    insert into soft_bounce_streaks (channel, address_hash, count)
    select channel, h, 1 from unnest(${list.map((b) => b.channel)}::text[],
      ${list.map((b) => b.hash)}::text[]) as t(channel, h)
    where not exists (select 1 from undeliverable_addresses u
                      where u.channel = t.channel and u.address_hash = t.h)
    order by channel, h
    on conflict (channel, address_hash) do update set
      count = soft_bounce_streaks.count + 1, last_at = now()
    returning channel, address_hash, count
  `.execute(trx);
  const due = rows
    .filter((r) => Number(r.count) >= limit)
    .map((r) => ({
      ...unique.get(`${r.channel}:${r.address_hash}`)!,
      reason: "soft_bounces" as const,
      details: { softBounces: Number(r.count) },
    }));
  return markUndeliverable(trx, due);
}

/** A delivery ends a run of soft bounces. */
export async function resetSoftBounces(
  trx: Trx,
  targets: readonly { channel: Channel; hash: string }[],
): Promise<void> {
  if (targets.length === 0) return;
  await sql`
    delete from soft_bounce_streaks s
    using unnest(${targets.map((t) => t.channel)}::text[], ${targets.map((t) => t.hash)}::text[])
      as t(channel, address_hash)
    where s.channel = t.channel and s.address_hash = t.address_hash
  `.execute(trx);
}

// ---------------------------------------------------------------------------------------------
// Reading and clearing (the contact page)

export type UndeliverableState = {
  channel: Channel;
  address: string;
  reason: UndeliverableReason;
  provider: string | null;
  detail: string | null;
  markedAt: Date;
};

/** The undeliverable marks of these addresses (normalized), in the order given. */
export async function undeliverableStates(
  db: Db,
  targets: readonly { channel: Channel; address: string }[],
): Promise<UndeliverableState[]> {
  if (targets.length === 0) return [];
  const keyed = targets.map((t) => ({ ...t, hash: addressKey(t.address) }));
  const rows = await withEmailTables(db)
    .selectFrom("undeliverable_addresses")
    .select(["channel", "address_hash", "reason", "provider", "detail", "marked_at"])
    .where(
      "address_hash",
      "in",
      keyed.map((k) => k.hash),
    )
    .execute();
  return keyed.flatMap((k) => {
    const r = rows.find((x) => x.channel === k.channel && x.address_hash === k.hash);
    return r
      ? [
          {
            channel: k.channel,
            address: k.address,
            reason: r.reason,
            provider: r.provider,
            detail: r.detail,
            markedAt: new Date(r.marked_at),
          },
        ]
      : [];
  });
}

export class UndeliverableError extends Error {
  constructor(
    readonly code: "note_required",
    message: string,
  ) {
    super(message);
    this.name = "UndeliverableError";
  }
}

/**
 * An agent clears an address's undeliverable mark (the person fixed their mailbox, or the bounce
 * was the provider's mistake), with a note. One transaction: the state row goes, a `clear` event
 * (who, note) and the audit entry are written, and subscribed webhook endpoints get
 * `address.undeliverable_cleared`. Consent is untouched. Clearing an address that is not marked
 * changes nothing.
 */
export async function clearUndeliverable(
  db: Db,
  input: {
    channel: Channel;
    address: string;
    note: string;
    contactId?: string | null;
    by: AuditContext;
  },
): Promise<{ changed: boolean; eventId: number | null }> {
  const note = input.note.trim();
  if (!note) throw new UndeliverableError("note_required", "Clearing needs a note.");
  const address = normalizeOrThrow(input.channel, input.address);
  const hash = addressKey(address);
  const type = UNDELIVERABLE_EVENT_TYPES[1];
  return inTransaction(db, async (trx) => {
    const removed = await withEmailTables(trx)
      .deleteFrom("undeliverable_addresses")
      .where("channel", "=", input.channel)
      .where("address_hash", "=", hash)
      .returning(["reason", "provider"])
      .executeTakeFirst();
    if (!removed) return { changed: false, eventId: null };
    const event = await withEmailTables(trx)
      .insertInto("undeliverable_events")
      .values({
        channel: input.channel,
        address_hash: hash,
        address,
        contact_id: input.contactId ?? null,
        action: "clear",
        reason: "cleared",
        provider: removed.provider,
        detail: note.slice(0, MAX_DETAIL),
        actor_type: input.by.actor.type,
        actor_id: input.by.actor.id ?? null,
        ip: input.by.ip ?? null,
        user_agent: input.by.userAgent?.slice(0, 512) ?? null,
        details: JSON.stringify({ previousReason: removed.reason }),
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    const eventId = Number(event.id);
    await resetSoftBounces(trx, [{ channel: input.channel, hash }]);
    await sql`
      insert into outbox (kind, recipient, payload)
      select 'webhook', e.id::text,
             jsonb_build_object('ledgerId', ${eventId}::bigint, 'type', ${type}::text,
                                'messageId', ${`msg_${eventId}`}::text)
      from webhook_endpoints e
      where e.enabled and ${type}::text = any (e.event_types)`.execute(trx);
    await audit(trx, {
      ...input.by,
      action: "undeliverable.clear",
      target: input.contactId
        ? { type: "contact", id: input.contactId }
        : { type: "address", id: hash },
      details: { channel: input.channel, address: maskAddress(address), eventId, note },
    });
    return { changed: true, eventId };
  });
}

/**
 * Erasure (app/consent/erasure.server.ts): the email-events tables keep only keyed hashes of the
 * erased addresses. Mailto codes keep working (they unsubscribe by hash), undeliverable marks stay
 * (by hash). Inbound records are erased with the other inbound messages, in erasure itself.
 */
export async function eraseEmailEventAddresses(
  trx: Trx,
  targets: { channels: readonly string[]; hashes: readonly string[] },
): Promise<void> {
  if (targets.hashes.length === 0) return;
  const pairs = sql`select * from unnest(${[...targets.channels]}::text[], ${[...targets.hashes]}::text[])`;
  await sql`update mailto_codes set address = null, contact_id = null
    where address is not null and address_hash = any(${[...targets.hashes]}::text[])`.execute(trx);
  await sql`update undeliverable_addresses set address = null, detail = null
    where (channel, address_hash) in (${pairs})`.execute(trx);
  await sql`update undeliverable_events set address = null, detail = null, ip = null,
      user_agent = null, details = '{"erased": true}'::jsonb
    where (channel, address_hash) in (${pairs})`.execute(trx);
}

/**
 * The undeliverable events of these addresses (and of the contact) for the contact timeline,
 * newest first, below `before` (a timeline id: the ids are shared with the ledger), in the
 * timeline's entry shape.
 */
export async function undeliverableTimeline(
  db: Db,
  input: {
    keys: readonly { channel: Channel; hash: string }[];
    contactId: string | null;
    before: number | null;
    limit: number;
  },
) {
  if (input.keys.length === 0 && !input.contactId) return [];
  const rows = await withEmailTables(db)
    .selectFrom("undeliverable_events as e")
    .leftJoin("admin_users as u", (j) =>
      j.on("e.actor_type", "=", "admin_user").on(sql`u.id::text`, "=", sql.ref("e.actor_id")),
    )
    .select([
      "e.id",
      "e.occurred_at",
      "e.channel",
      "e.address",
      "e.action",
      "e.reason",
      "e.provider",
      "e.campaign",
      "e.detail",
      "e.actor_type",
      "e.actor_id",
      "e.ip",
      "e.user_agent",
      "u.email as admin_email",
    ])
    .where((eb) =>
      eb.or([
        ...input.keys.map((k) =>
          eb.and([eb("e.channel", "=", k.channel), eb("e.address_hash", "=", k.hash)]),
        ),
        ...(input.contactId ? [eb("e.contact_id", "=", input.contactId)] : []),
      ]),
    )
    .$if(input.before !== null, (q) => q.where("e.id", "<", input.before!))
    .orderBy("e.id", "desc")
    .limit(input.limit)
    .execute();
  return rows.map((r) => ({
    id: Number(r.id),
    occurredAt: new Date(r.occurred_at),
    channel: r.channel,
    address: r.address,
    topic: null,
    action: r.action === "mark" ? ("undeliverable" as const) : ("undeliverable_cleared" as const),
    source: r.action === "mark" ? UNDELIVERABLE_SOURCE : ("admin" as const),
    campaign: r.campaign,
    reasonCode: r.action === "mark" ? `${r.reason}${r.provider ? ` (${r.provider})` : ""}` : null,
    // A mark's detail is the provider's diagnostic; a clear's is the agent's note.
    reasonText: r.action === "mark" ? r.detail : null,
    note: r.action === "mark" ? null : r.detail,
    actorType: (r.actor_type as "admin_user" | "system" | null) ?? null,
    actorId: r.actor_id,
    actorLabel: r.admin_email ?? (r.action === "mark" ? (r.provider ?? null) : null),
    ip: r.ip,
    userAgent: r.user_agent,
    pausedUntil: null,
  }));
}
