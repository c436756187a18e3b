import { sql } from "kysely";
import { inTransaction, type Db, type Trx } from "~/db/db.server";
import type { Channel } from "~/db/schema";

/**
 * What every inbound provider adapter (SMS/WhatsApp replies, mailto unsubscribes, spam
 * complaints, ESP events) hands to the domain after it has verified the provider's signature and
 * translated the payload: Heed's own shape of "a provider told us something".
 */
export type InboundEvent = {
  /** twilio, vonage, plivo, telnyx, meta, smtp, ses, sendgrid, mailgun, postmark, resend, ... */
  provider: string;
  /** The provider's own id of the message or event: the key that makes a replay change nothing. */
  providerMessageId: string;
  channel: Channel;
  /** sms, whatsapp, mailto, complaint, esp_unsubscribe, bounce, ... */
  kind: string;
  /** Normalized address (email or E.164), when the event names one. */
  address?: string | null;
  addressHash?: string | null;
  contactId?: string | null;
  /** What the person wrote (an SMS text), kept for agents; personal data, erased with the address. */
  body?: string | null;
  /** The campaign the event is attributed to, when known (complaint rates per campaign). */
  campaign?: string | null;
  details?: Record<string, unknown>;
};

export type InboundOutcome = {
  /** applied, review, ignored, ... (shown to agents). */
  decision: string;
  ledgerId?: number | null;
  details?: Record<string, unknown>;
  /** The contact the decision found for the address, when the event did not name one. */
  contactId?: string | null;
  /** The reply queued for this message (an outbox row), shown with it to agents. */
  replyOutboxId?: number | null;
};

export type InboundResult<T extends InboundOutcome> =
  | {
      duplicate: true;
      /** The first delivery's record, and what was decided then (this one changed nothing). */
      inboundId?: number;
      decision?: string;
    }
  | ({ duplicate: false; inboundId: number } & T);

/**
 * Records an inbound event once and decides on it in the same transaction. A delivery whose
 * (provider, provider message id) was already recorded is a replay or a retry: `decide` does not
 * run and nothing changes. If `decide` fails, the record rolls back with it, so the provider's
 * retry is decided again rather than being taken for a duplicate (an opt-out is never lost
 * between the two). Concurrent identical deliveries wait on the unique key: exactly one decides.
 * A replay is counted on the first delivery's record (replay_count, last_replay_at), so agents
 * see it; nothing else is written.
 */
export async function handleInboundOnce<T extends InboundOutcome>(
  db: Db,
  event: InboundEvent,
  decide: (trx: Trx, inboundId: number) => Promise<T>,
): Promise<InboundResult<T>> {
  return inTransaction(db, async (trx) => {
    const claimed = await trx
      .insertInto("inbound_messages")
      .values({
        provider: event.provider,
        provider_message_id: event.providerMessageId,
        channel: event.channel,
        kind: event.kind,
        address: event.address ?? null,
        address_hash: event.addressHash ?? null,
        contact_id: event.contactId ?? null,
        body: event.body ?? null,
        campaign: event.campaign ?? null,
        details: JSON.stringify(event.details ?? {}),
      })
      .onConflict((oc) => oc.columns(["provider", "provider_message_id"]).doNothing())
      .returning("id")
      .executeTakeFirst();
    if (!claimed) {
      const first = await trx
        .updateTable("inbound_messages")
        .set((eb) => ({
          replay_count: eb("replay_count", "+", 1),
          last_replay_at: new Date(),
        }))
        .where("provider", "=", event.provider)
        .where("provider_message_id", "=", event.providerMessageId)
        .returning(["id", "decision"])
        .executeTakeFirst();
      return { duplicate: true, inboundId: first?.id, decision: first?.decision } as const;
    }
    const outcome = await decide(trx, claimed.id);
    await trx
      .updateTable("inbound_messages")
      .set({
        decision: outcome.decision,
        ledger_id: outcome.ledgerId ?? null,
        decided_at: new Date(),
        ...(outcome.contactId !== undefined && !event.contactId
          ? { contact_id: outcome.contactId }
          : {}),
        ...(outcome.replyOutboxId ? { reply_outbox_id: outcome.replyOutboxId } : {}),
        ...(outcome.details
          ? { details: JSON.stringify({ ...(event.details ?? {}), ...outcome.details }) }
          : {}),
      })
      .where("id", "=", claimed.id)
      .execute();
    return { duplicate: false, inboundId: claimed.id, ...outcome };
  });
}

export type ClaimedInbound = { event: InboundEvent; index: number; inboundId: number };

/**
 * handleInboundOnce for a batch (a provider that posts many events per request): one transaction,
 * the events recorded set-based (one INSERT … ON CONFLICT DO NOTHING), and `decide` runs once with
 * only the events not seen before (an event repeated inside the batch counts once). It returns one
 * outcome per claimed event, in the order given; they are written back set-based. As with a
 * single event, a failure rolls everything back so that the provider's retry decides again.
 * Results come back in the order of `events`.
 */
export async function handleInboundManyOnce<T extends InboundOutcome>(
  db: Db,
  events: readonly InboundEvent[],
  decide: (trx: Trx, claimed: readonly ClaimedInbound[]) => Promise<T[]>,
): Promise<InboundResult<T>[]> {
  if (events.length === 0) return [];
  return inTransaction(db, async (trx) => {
    const firstOf = new Map<string, number>();
    events.forEach((e, i) => {
      const k = `${e.provider}\u0000${e.providerMessageId}`;
      if (!firstOf.has(k)) firstOf.set(k, i);
    });
    const unique = [...firstOf.values()].map((i) => events[i]!);
    const col = <K>(f: (e: InboundEvent) => K) => unique.map(f);
    const { rows } = await sql<{ id: number; provider: string; provider_message_id: string }>`
      insert into inbound_messages (provider, provider_message_id, channel, kind, address,
        address_hash, contact_id, body, campaign, details)
      select * from unnest(
        ${col((e) => e.provider)}::text[], ${col((e) => e.providerMessageId)}::text[],
        ${col((e) => e.channel)}::text[], ${col((e) => e.kind)}::text[],
        ${col((e) => e.address ?? null)}::text[], ${col((e) => e.addressHash ?? null)}::text[],
        ${col((e) => e.contactId ?? null)}::uuid[], ${col((e) => e.body ?? null)}::text[],
        ${col((e) => e.campaign ?? null)}::text[],
        ${col((e) => JSON.stringify(e.details ?? {}))}::jsonb[])
      order by 1, 2
      on conflict (provider, provider_message_id) do nothing
      returning id, provider, provider_message_id
    `.execute(trx);
    const claimedByKey = new Map(
      rows.map((r) => [`${r.provider}\u0000${r.provider_message_id}`, Number(r.id)]),
    );
    const claimed: ClaimedInbound[] = [];
    for (const [k, index] of firstOf) {
      const inboundId = claimedByKey.get(k);
      if (inboundId !== undefined) claimed.push({ event: events[index]!, index, inboundId });
    }
    const outcomes = claimed.length > 0 ? await decide(trx, claimed) : [];
    if (outcomes.length !== claimed.length) {
      throw new Error("handleInboundManyOnce: decide must return one outcome per claimed event");
    }
    if (claimed.length > 0) {
      await sql`
        update inbound_messages m set
          decision = t.decision, ledger_id = t.ledger_id, decided_at = now(),
          details = m.details || t.details
        from unnest(${claimed.map((c) => c.inboundId)}::bigint[],
          ${outcomes.map((o) => o.decision)}::text[],
          ${outcomes.map((o) => o.ledgerId ?? null)}::bigint[],
          ${outcomes.map((o) => JSON.stringify(o.details ?? {}))}::jsonb[])
          as t(id, decision, ledger_id, details)
        where m.id = t.id
      `.execute(trx);
    }
    const byIndex = new Map(claimed.map((c, i) => [c.index, { c, o: outcomes[i]! }]));
    return events.map((_, i) => {
      const hit = byIndex.get(i);
      return hit
        ? ({ duplicate: false, inboundId: hit.c.inboundId, ...hit.o } as InboundResult<T>)
        : ({ duplicate: true } as const);
    });
  });
}
