import { defaultPhoneRegion } from "~/settings/phone-region.server";
import { sql } from "kysely";
import { normalizeAddress } from "~/consent/address.server";
import {
  addressKey,
  applyConsentChange,
  applyConsentChanges,
  type ConsentChange,
} from "~/consent/consent.server";
import type { Db, Trx } from "~/db/db.server";
import type { Channel } from "~/db/schema";
import { getEnv, type ProviderName } from "~/env.server";
import { DEFAULT_LOCALE, type Locale } from "~/i18n/config";
import { getFixedT, toLocale } from "~/i18n/i18n.server";
import { handleInboundOnce, type InboundOutcome } from "~/inbound/inbound.server";
import { enqueueOutbox } from "~/outbox/outbox.server";
import { getBranding, type Branding } from "~/settings/settings.server";
import {
  carrierKeyword,
  classifySms,
  type Classification,
  type ProviderOptOutType,
} from "~/sms/keywords";

/**
 * An inbound SMS or WhatsApp message, after its provider adapter verified the signature and
 * translated the payload (app/sms/providers/*). One function decides for every provider:
 *
 * - The message is recorded once per (provider, provider message id) through handleInboundOnce:
 *   a replayed or retried delivery changes nothing (a captured START cannot undo a later STOP).
 * - app/sms/keywords.ts classifies it: revoke / opt_in / help / review / ignore.
 * - revoke: the number is unsubscribed from that channel through the consent core (source
 *   `sms_keyword`, the message text as reason text) and, when that changed something, ONE
 *   confirmation without marketing is queued, due within 5 minutes of the message (the outbox
 *   drops it, visibly, if it would be later).
 * - opt_in (only the bare START/UNSTOP/YES, or the provider's START): re-subscribes directly (the
 *   text from the phone is the confirmation) and confirms any double opt-in waiting for it.
 * - help: a HELP reply carriers accept (organization, support contact, how to opt out, rates).
 * - review: an agent decides (app/sms/review.server.ts); nothing is sent.
 * - When the provider answers keywords itself (PROVIDER_ANSWERS_KEYWORDS; Twilio by default) and
 *   it did so for this message (its own keyword match or opt-out type), Heed sends no second
 *   reply. It still answers what the provider does not recognise ("please stop texting me").
 * Every message, the decision and the reply are kept for the contact's timeline.
 */

export type InboundSms = {
  provider: ProviderName;
  providerMessageId: string;
  channel: "sms" | "whatsapp";
  /** The sender as the provider gives it (E.164 or digits); normalized here. */
  from: string;
  /** The number the person wrote to (ours); replies go out from it. */
  to?: string | null;
  text: string;
  /** A quick-reply button's payload (WhatsApp templates: "Stop promotions"). */
  buttonPayload?: string | null;
  /** The provider's own classification (Twilio OptOutType, Telnyx autoresponse_type, ...). */
  optOutType?: ProviderOptOutType | null;
  /** When the person sent it, if the provider says (the 5-minute window starts then). */
  sentAt?: Date | null;
};

export type InboundSmsDecision = "applied" | "unchanged" | "review" | "help" | "ignored";

export type InboundSmsResult = {
  duplicate: boolean;
  inboundId: number | null;
  decision: InboundSmsDecision | "duplicate";
  classification: Classification;
  channel: Channel;
  address: string | null;
  changed: boolean;
  replyOutboxId: number | null;
};

/** How long after the STOP its confirmation may still be delivered. */
export const CONFIRMATION_WINDOW_MS = 5 * 60_000;
const MAX_TEXT = 2000;

/** Text that PostgreSQL can store: no NUL, no lone surrogates, bounded. */
export function storableText(value: string | null | undefined, max = MAX_TEXT): string {
  return (value ?? "")
    .replaceAll("\u0000", "")
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD")
    .slice(0, max);
}

export type ReplyKind = "stop" | "start" | "help";

export function replyText(kind: ReplyKind, locale: Locale, branding: Branding): string {
  const t = getFixedT(locale, "sms");
  const org = branding.organizationName;
  if (kind === "help") {
    const contact = [branding.supportPhone, branding.supportEmail].filter(Boolean).join(", ");
    return contact ? t("reply.helpContact", { org, contact }) : t("reply.help", { org });
  }
  return t(`reply.${kind}`, { org });
}

/** Whether this provider answers keywords itself (configuration), and did for this message. */
export function providerAnswered(provider: ProviderName, c: Classification, text: string): boolean {
  if (!getEnv().PROVIDER_ANSWERS_KEYWORDS.includes(provider)) return false;
  if (c.by === "provider") return true;
  return c.by === "keyword" && carrierKeyword(text) === c.decision;
}

/**
 * Queues a reply (confirmation, HELP text) to the number, from the number it wrote to, through
 * the provider it came from. Returns the outbox id.
 */
export async function queueReply(
  trx: Db,
  input: {
    channel: Channel;
    address: string;
    kind: ReplyKind;
    locale: Locale;
    provider: ProviderName | null;
    from: string | null;
    deliverBy?: Date;
  },
): Promise<number> {
  const branding = await getBranding(trx);
  const body = replyText(input.kind, input.locale, branding);
  return enqueueOutbox(trx, {
    kind: "sms",
    recipient: input.channel === "whatsapp" ? `whatsapp:${input.address}` : input.address,
    payload: {
      to: input.address,
      body,
      channel: input.channel,
      template: `sms.reply.${input.kind}`,
      locale: input.locale,
      ...(input.provider ? { provider: input.provider } : {}),
      ...(input.from ? { from: input.from } : {}),
    },
    ...(input.deliverBy ? { deliverBy: input.deliverBy, maxAttempts: 3 } : {}),
  });
}

/** The confirmation's deadline: 5 minutes after the message was sent (never after now + 5). */
export function confirmationDeadline(sentAt: Date | null | undefined, now = Date.now()): Date {
  const start = sentAt && sentAt.getTime() < now ? sentAt.getTime() : now;
  return new Date(start + CONFIRMATION_WINDOW_MS);
}

async function findContact(trx: Db, address: string) {
  return trx
    .selectFrom("contacts")
    .select(["id", "locale"])
    .where("phone", "=", address)
    .where("erased_at", "is", null)
    .orderBy("updated_at", "desc")
    .executeTakeFirst();
}

/**
 * A START also confirms the double opt-in that waits for it (a re-subscription asked for on the
 * preference page or through the API, which told the person to text START): its topics are
 * turned on and the request is marked confirmed, in the START's transaction.
 */
async function confirmWaitingRequests(
  trx: Trx,
  channel: Channel,
  address: string,
  base: Omit<ConsentChange, "action" | "topic">,
): Promise<string[]> {
  const hash = addressKey(address);
  const waiting = await trx
    .selectFrom("double_opt_in_requests")
    .select(["id", "topics"])
    .where("channel", "=", channel)
    .where("address_hash", "=", hash)
    .where("status", "=", "pending")
    .where("expires_at", ">", new Date())
    .forUpdate()
    .execute();
  if (waiting.length === 0) return [];
  const topicKeys = [...new Set(waiting.flatMap((w) => w.topics))];
  const live =
    topicKeys.length === 0
      ? []
      : (
          await trx
            .selectFrom("topics")
            .select("key")
            .where("key", "in", topicKeys)
            .where("archived_at", "is", null)
            .where(sql<boolean>`${channel} = any(channels)`)
            .execute()
        ).map((t) => t.key);
  if (live.length > 0) {
    await applyConsentChanges(
      trx,
      live.map((topic): ConsentChange => ({ ...base, action: "topic_opt_in", topic })),
    );
  }
  await trx
    .updateTable("double_opt_in_requests")
    .set({ status: "confirmed", confirmed_at: sql<Date>`now()` })
    .where(
      "id",
      "in",
      waiting.map((w) => w.id),
    )
    .execute();
  return waiting.map((w) => w.id);
}

export async function handleInboundSms(db: Db, msg: InboundSms): Promise<InboundSmsResult> {
  // The 5 minutes of a confirmation count from the STOP's arrival (or the provider's send time),
  // not from when a busy server got round to queueing the reply.
  const receivedAt = Date.now();
  const text = storableText(msg.text);
  const button = msg.buttonPayload ? storableText(msg.buttonPayload, 256) : null;
  const channel: Channel = msg.channel;
  // A button's payload is what the business defined for it ("Stop promotions"); its words decide
  // like a typed message, and a revoking button wins over the text shown on it.
  let classification = classifySms(text, msg.optOutType ?? null);
  if (button && classification.decision !== "revoke") {
    const byButton = classifySms(button);
    if (byButton.decision === "revoke") classification = byButton;
  }
  const n = normalizeAddress(channel, msg.from.replace(/^whatsapp:/i, ""), defaultPhoneRegion());
  const address = n.ok ? n.address : null;
  const to = msg.to ? storableText(msg.to.replace(/^whatsapp:/i, ""), 64) : null;

  const result = await handleInboundOnce(
    db,
    {
      provider: msg.provider,
      providerMessageId: storableText(msg.providerMessageId, 256),
      channel,
      kind: channel,
      address,
      addressHash: address ? addressKey(address) : null,
      body: text,
      details: {
        ...(to ? { to } : {}),
        ...(button ? { buttonPayload: button } : {}),
        ...(msg.optOutType ? { optOutType: msg.optOutType } : {}),
        ...(msg.sentAt ? { sentAt: msg.sentAt.toISOString() } : {}),
        ...(!address ? { from: storableText(msg.from, 64) } : {}),
        classification: classification.decision,
        by: classification.by,
        ...(classification.matched ? { matched: classification.matched.slice(0, 200) } : {}),
        ...(classification.language ? { language: classification.language } : {}),
      },
    },
    async (trx): Promise<InboundOutcome> => {
      // Short codes and alphanumeric senders are not numbers Heed keeps consent for.
      if (!address) {
        return { decision: "ignored", details: { reason: "sender is not a phone number" } };
      }
      const contact = await findContact(trx, address);
      const locale =
        toLocale(contact?.locale) ?? toLocale(classification.language) ?? DEFAULT_LOCALE;
      const answered = providerAnswered(msg.provider, classification, text);
      const reply = (kind: ReplyKind, deliverBy?: Date) =>
        answered
          ? Promise.resolve(null)
          : queueReply(trx, {
              channel,
              address,
              kind,
              locale,
              provider: msg.provider,
              from: to,
              deliverBy,
            });
      const base = {
        channel,
        address,
        source: "sms_keyword" as const,
        contactId: contact?.id ?? null,
        actor: { type: "recipient" as const, id: null },
        details: {
          provider: msg.provider,
          messageId: storableText(msg.providerMessageId, 128),
          by: classification.by,
          ...(classification.matched ? { matched: classification.matched.slice(0, 200) } : {}),
          ...(to ? { to } : {}),
        },
      };
      const common = {
        contactId: contact?.id ?? null,
        details: { providerAnswered: answered },
      };
      switch (classification.decision) {
        case "revoke": {
          const r = await applyConsentChange(trx, {
            ...base,
            action: "unsubscribe",
            reasonText: text.slice(0, 1000) || button,
          });
          // Exactly one confirmation per opt-out: a repeated STOP changes nothing and sends nothing.
          const replyId = r.changed
            ? await reply("stop", confirmationDeadline(msg.sentAt, receivedAt))
            : null;
          return {
            ...common,
            decision: r.changed ? "applied" : "unchanged",
            ledgerId: r.ledgerId,
            replyOutboxId: replyId,
          };
        }
        case "opt_in": {
          const r = await applyConsentChange(trx, { ...base, action: "subscribe" });
          const confirmed = await confirmWaitingRequests(trx, channel, address, base);
          const replyId = await reply("start");
          return {
            ...common,
            decision: r.changed || confirmed.length > 0 ? "applied" : "unchanged",
            ledgerId: r.ledgerId,
            replyOutboxId: replyId,
            details: {
              ...common.details,
              ...(confirmed.length ? { confirmedRequests: confirmed } : {}),
            },
          };
        }
        case "help":
          return { ...common, decision: "help", replyOutboxId: await reply("help") };
        case "review":
          return { ...common, decision: "review" };
        default:
          return { ...common, decision: "ignored" };
      }
    },
  );

  if (result.duplicate) {
    return {
      duplicate: true,
      inboundId: result.inboundId ?? null,
      decision: "duplicate",
      classification,
      channel,
      address,
      changed: false,
      replyOutboxId: null,
    };
  }
  return {
    duplicate: false,
    inboundId: result.inboundId,
    decision: result.decision as InboundSmsDecision,
    classification,
    channel,
    address,
    changed: result.decision === "applied",
    replyOutboxId: result.replyOutboxId ?? null,
  };
}
