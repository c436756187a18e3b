import { sql } from "kysely";
import { audit, type AuditContext } from "~/admin/audit.server";
import { addressKey, applyConsentChange } from "~/consent/consent.server";
import { inTransaction, type Db } from "~/db/db.server";
import type { Channel } from "~/db/schema";
import type { ProviderName } from "~/env.server";
import { DEFAULT_LOCALE } from "~/i18n/config";
import { toLocale } from "~/i18n/i18n.server";
import { confirmationDeadline, queueReply } from "~/sms/inbound.server";

/**
 * The agent review queue and the inbound-message timeline.
 *
 * A reply that merely contains a stop word ("End of the day works for me") waits for an agent,
 * who applies it (the number is unsubscribed through the consent core: source `sms_keyword`, the
 * message as reason text, the agent as actor) or dismisses it, one click each, audited. The rule
 * gives 10 business days: an item shows as overdue after that (weekends do not count; public
 * holidays, which differ by country, are not known to Heed and do count).
 */

export const REVIEW_BUSINESS_DAYS = 10;
const PROVIDERS = new Set<string>(["twilio", "vonage", "plivo", "telnyx", "meta"]);

/** `date` plus `days` business days (Monday to Friday), at the same time of day (UTC). */
export function addBusinessDays(date: Date, days: number): Date {
  const d = new Date(date.getTime());
  let left = days;
  while (left > 0) {
    d.setUTCDate(d.getUTCDate() + 1);
    const wd = d.getUTCDay();
    if (wd !== 0 && wd !== 6) left -= 1;
  }
  return d;
}

export type ReviewItem = {
  id: number;
  receivedAt: Date;
  channel: Channel;
  provider: string;
  address: string | null;
  body: string | null;
  matched: string | null;
  contactId: string | null;
  dueAt: Date;
  overdue: boolean;
};

export const REVIEW_PAGE_SIZE = 50;

/** What waits for an agent, oldest first (the most urgent on top); `after` pages by id. */
export async function listReviewQueue(
  db: Db,
  options: { after?: { receivedAt: Date; id: number } | null; limit?: number } = {},
): Promise<{ items: ReviewItem[]; total: number; overdue: number }> {
  const limit = Math.min(Math.max(options.limit ?? REVIEW_PAGE_SIZE, 1), 200);
  let q = db
    .selectFrom("inbound_messages")
    .select([
      "id",
      "received_at",
      "channel",
      "provider",
      "address",
      "body",
      "details",
      "contact_id",
    ])
    .where("decision", "=", "review")
    .orderBy("received_at")
    .orderBy("id")
    .limit(limit);
  if (options.after) {
    const { receivedAt, id } = options.after;
    q = q.where(sql<boolean>`(received_at, id) > (${receivedAt}, ${id})`);
  }
  const now = Date.now();
  const rows = await q.execute();
  const counts = await db
    .selectFrom("inbound_messages")
    .select(sql<number>`count(*)::int`.as("n"))
    .where("decision", "=", "review")
    .executeTakeFirstOrThrow();
  // 10 business days are at least 12 calendar days: only items older than that can be overdue,
  // and those are checked exactly (few, unless agents stopped working the queue).
  const old = await db
    .selectFrom("inbound_messages")
    .select("received_at")
    .where("decision", "=", "review")
    .where("received_at", "<=", new Date(now - 12 * 24 * 60 * 60_000))
    .limit(100_000)
    .execute();
  const overdue = old.filter(
    (r) => addBusinessDays(r.received_at, REVIEW_BUSINESS_DAYS).getTime() <= now,
  ).length;
  return {
    total: Number(counts.n),
    overdue,
    items: rows.map((r) => {
      const dueAt = addBusinessDays(r.received_at, REVIEW_BUSINESS_DAYS);
      const d = r.details as Record<string, unknown>;
      return {
        id: r.id,
        receivedAt: r.received_at,
        channel: r.channel,
        provider: r.provider,
        address: r.address,
        body: r.body,
        matched: typeof d.matched === "string" ? d.matched : null,
        contactId: r.contact_id,
        dueAt,
        overdue: dueAt.getTime() <= now,
      };
    }),
  };
}

export type ReviewResolution =
  | { status: "applied" | "unchanged" | "dismissed"; ledgerId: number | null }
  | { status: "not_found" | "already_resolved" | "erased" };

/**
 * Applies or dismisses one review item, in one transaction with the audit row. Applying
 * unsubscribes the number on the message's channel through the consent core and queues the one
 * confirmation that rule allows, due 5 minutes after the person's message: it is almost always
 * later than that, so the outbox drops it (visibly, `expired`) rather than text the person late.
 */
export async function resolveReview(
  db: Db,
  input: { id: number; action: "apply" | "dismiss"; by: AuditContext },
): Promise<ReviewResolution> {
  if (!Number.isSafeInteger(input.id) || input.id <= 0) return { status: "not_found" };
  return inTransaction(db, async (trx) => {
    const row = await trx
      .selectFrom("inbound_messages")
      .selectAll()
      .where("id", "=", input.id)
      .forUpdate()
      .executeTakeFirst();
    if (!row || (row.channel !== "sms" && row.channel !== "whatsapp")) {
      return { status: "not_found" } as const;
    }
    if (row.decision !== "review") return { status: "already_resolved" } as const;
    const reviewed = { reviewed_at: new Date(), reviewed_by: input.by.actor.id ?? null };
    if (input.action === "dismiss" || !row.address) {
      if (input.action === "apply" && !row.address) return { status: "erased" } as const;
      await trx
        .updateTable("inbound_messages")
        .set({ decision: "dismissed", decided_at: new Date(), ...reviewed })
        .where("id", "=", row.id)
        .execute();
      await audit(trx, {
        ...input.by,
        action: "sms_review.dismiss",
        target: { type: "inbound_message", id: String(row.id) },
        details: { channel: row.channel },
      });
      return { status: "dismissed", ledgerId: null } as const;
    }
    const contact = row.contact_id
      ? await trx
          .selectFrom("contacts")
          .select(["id", "locale"])
          .where("id", "=", row.contact_id)
          .executeTakeFirst()
      : undefined;
    const details = row.details as Record<string, unknown>;
    const r = await applyConsentChange(trx, {
      channel: row.channel,
      address: row.address,
      action: "unsubscribe",
      source: "sms_keyword",
      contactId: row.contact_id,
      reasonText: (row.body ?? "").slice(0, 1000) || null,
      actor: { type: "admin_user", id: input.by.actor.id ?? null },
      ip: input.by.ip ?? null,
      userAgent: input.by.userAgent ?? null,
      details: { inboundId: row.id, provider: row.provider, review: "applied by an agent" },
    });
    let replyId: number | null = null;
    if (r.changed) {
      const provider = PROVIDERS.has(row.provider) ? (row.provider as ProviderName) : null;
      const sentAt =
        typeof details.sentAt === "string" ? new Date(details.sentAt) : row.received_at;
      const locale =
        toLocale(contact?.locale) ?? toLocale(details.language as string) ?? DEFAULT_LOCALE;
      // A sentence is never answered by the provider itself: this confirmation is the only one.
      replyId = await queueReply(trx, {
        channel: row.channel,
        address: row.address,
        kind: "stop",
        locale,
        provider,
        from: typeof details.to === "string" ? details.to : null,
        deliverBy: confirmationDeadline(
          Number.isNaN(sentAt.getTime()) ? row.received_at : sentAt,
          row.received_at.getTime(),
        ),
      });
    }
    await trx
      .updateTable("inbound_messages")
      .set({
        decision: r.changed ? "applied" : "unchanged",
        decided_at: new Date(),
        ledger_id: r.ledgerId,
        ...(replyId ? { reply_outbox_id: replyId } : {}),
        ...reviewed,
      })
      .where("id", "=", row.id)
      .execute();
    await audit(trx, {
      ...input.by,
      action: "sms_review.apply",
      target: { type: "inbound_message", id: String(row.id) },
      details: { channel: row.channel, changed: r.changed, ledger_id: r.ledgerId },
    });
    return { status: r.changed ? "applied" : "unchanged", ledgerId: r.ledgerId } as const;
  });
}

export type InboundTimelineEntry = {
  id: number;
  receivedAt: Date;
  channel: Channel;
  provider: string;
  body: string | null;
  buttonPayload: string | null;
  decision: string;
  matched: string | null;
  by: string | null;
  replays: number;
  reviewedAt: Date | null;
  reviewedBy: string | null;
  reply: { status: string; body: string | null; lastError: string | null } | null;
  providerAnswered: boolean;
};

/**
 * The SMS/WhatsApp messages a contact sent (by contact, or by the contact's phone on either
 * channel), newest first, each with the decision and the reply Heed queued.
 */
export async function inboundTimeline(
  db: Db,
  input: { contactId: string; phone: string | null; limit?: number },
): Promise<InboundTimelineEntry[]> {
  const hashes = input.phone ? [addressKey(input.phone)] : [];
  const rows = await db
    .selectFrom("inbound_messages as m")
    .leftJoin("outbox as o", "o.id", "m.reply_outbox_id")
    .leftJoin("admin_users as u", "u.id", "m.reviewed_by")
    .select([
      "m.id",
      "m.received_at",
      "m.channel",
      "m.provider",
      "m.body",
      "m.decision",
      "m.details",
      "m.replay_count",
      "m.reviewed_at",
      "u.email as reviewer",
      "o.status as reply_status",
      "o.payload as reply_payload",
      "o.last_error as reply_error",
      "m.reply_outbox_id",
    ])
    .where("m.channel", "in", ["sms", "whatsapp"])
    .where((eb) =>
      eb.or([
        eb("m.contact_id", "=", input.contactId),
        ...(hashes.length ? [eb("m.address_hash", "in", hashes)] : []),
      ]),
    )
    .orderBy("m.received_at", "desc")
    .orderBy("m.id", "desc")
    .limit(Math.min(input.limit ?? 50, 200))
    .execute();
  return rows.map((r) => {
    const d = r.details as Record<string, unknown>;
    const payload = (r.reply_payload ?? null) as Record<string, unknown> | null;
    return {
      id: r.id,
      receivedAt: r.received_at,
      channel: r.channel,
      provider: r.provider,
      body: r.body,
      buttonPayload: typeof d.buttonPayload === "string" ? d.buttonPayload : null,
      decision: r.decision,
      matched: typeof d.matched === "string" ? d.matched : null,
      by: typeof d.by === "string" ? d.by : null,
      replays: r.replay_count,
      reviewedAt: r.reviewed_at,
      reviewedBy: r.reviewer ?? null,
      reply: r.reply_outbox_id
        ? {
            // A sent reply is deleted from the outbox after 30 days.
            status: r.reply_status ?? "sent",
            body: payload && typeof payload.body === "string" ? payload.body : null,
            lastError: r.reply_error ?? null,
          }
        : null,
      providerAnswered: d.providerAnswered === true,
    };
  });
}
