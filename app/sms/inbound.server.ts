import { applyConsentChange } from "~/consent/consent.server";
import { normalizeAddress } from "~/consent/address.server";
import { inTransaction, type Db } from "~/db/db.server";
import type { Channel } from "~/db/schema";
import { getEnv } from "~/env.server";
import { getFixedT, toLocale } from "~/i18n/i18n.server";
import { DEFAULT_LOCALE, type Locale } from "~/i18n/config";
import { enqueueOutbox } from "~/outbox/outbox.server";
import { getBranding } from "~/settings/settings.server";
import { parseKeyword, type Keyword } from "~/sms/keywords";

/**
 * An inbound SMS or WhatsApp message (docs/inbound.md), after its signature was verified.
 *
 * - STOP & co. unsubscribe the sender's number from that channel only (SMS, or WhatsApp for a
 *   `whatsapp:` sender) with source `sms_keyword`, and queue ONE confirmation with no marketing
 *   in it, in the same transaction. Only an actual change is confirmed: a repeated STOP from a
 *   number that is already unsubscribed changes nothing and sends nothing (the person has
 *   already been told, and must not be messaged again).
 * - START, UNSTOP, YES re-subscribe directly (the message itself comes from the phone, which is
 *   the double opt-in proof docs/consent.md rule 5 allows) and are always answered.
 * - HELP, INFO are answered with help text.
 * - Anything else is ignored.
 * Replies always go through the outbox (retried, visible in the dev outbox); the webhook's own
 * TwiML answer is always empty.
 */

export type InboundMessage = {
  from: string;
  body: string;
  messageSid?: string | null;
  to?: string | null;
};

export type InboundResult = {
  keyword: Keyword | null;
  channel: Channel | null;
  address: string | null;
  changed: boolean;
  replyQueued: boolean;
};

type Reply = "stop" | "start" | "help";

function replyText(kind: Reply, locale: Locale, org: string, contact: string): string {
  const t = getFixedT(locale, "sms");
  if (kind === "help" && contact) return t("reply.helpContact", { org, contact });
  return t(`reply.${kind}`, { org });
}

export async function handleInboundSms(db: Db, msg: InboundMessage): Promise<InboundResult> {
  const whatsapp = /^whatsapp:/i.test(msg.from.trim());
  const channel: Channel = whatsapp ? "whatsapp" : "sms";
  const keyword = parseKeyword(msg.body);
  const n = normalizeAddress(channel, msg.from, getEnv().DEFAULT_PHONE_REGION);
  // Short codes and alphanumeric senders are not numbers Heed keeps consent for.
  if (!n.ok || !keyword) {
    return {
      keyword,
      channel,
      address: n.ok ? n.address : null,
      changed: false,
      replyQueued: false,
    };
  }
  const address = n.address;
  return inTransaction(db, async (trx) => {
    const contact = await trx
      .selectFrom("contacts")
      .select(["id", "locale"])
      .where("phone", "=", address)
      .where("erased_at", "is", null)
      .orderBy("updated_at", "desc")
      .executeTakeFirst();
    const common = {
      channel,
      address,
      source: "sms_keyword" as const,
      contactId: contact?.id ?? null,
      actor: { type: "recipient" as const, id: null },
      details: {
        keyword: (msg.body ?? "").trim().slice(0, 40),
        ...(msg.messageSid ? { messageSid: msg.messageSid.slice(0, 64) } : {}),
        ...(msg.to ? { to: msg.to.slice(0, 64) } : {}),
      },
    };
    let changed = false;
    let reply: Reply | null = null;
    if (keyword === "stop") {
      const r = await applyConsentChange(trx, { ...common, action: "unsubscribe" });
      changed = r.changed;
      if (changed) reply = "stop";
    } else if (keyword === "start") {
      const r = await applyConsentChange(trx, { ...common, action: "subscribe" });
      changed = r.changed;
      reply = "start";
    } else {
      reply = "help";
    }
    if (reply) {
      const branding = await getBranding(trx);
      const locale = toLocale(contact?.locale) ?? DEFAULT_LOCALE;
      const body = replyText(reply, locale, branding.organizationName, branding.supportEmail);
      await enqueueOutbox(trx, {
        kind: "sms",
        recipient: channel === "whatsapp" ? `whatsapp:${address}` : address,
        payload: { to: address, body, channel, template: `sms.reply.${reply}`, locale },
      });
    }
    return { keyword, channel, address, changed, replyQueued: reply !== null };
  });
}
