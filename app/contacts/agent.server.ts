import { audit, type AuditContext } from "~/admin/audit.server";
import { addressKey, applyConsentChanges, type ChangeResult } from "~/consent/consent.server";
import { inTransaction, type Db } from "~/db/db.server";
import type { Channel } from "~/db/schema";
import { getEnv } from "~/env.server";
import { getFixedT } from "~/i18n/i18n.server";
import { createShortLink } from "~/links/short-links.server";
import { signLinkToken } from "~/links/tokens.server";
import { enqueueEmail } from "~/mail/send.server";
import { mailLocale, renderPreferencesEmail } from "~/mail/templates.server";
import { enqueueOutbox } from "~/outbox/outbox.server";
import { getBranding } from "~/settings/settings.server";
import type { ChannelAddress } from "~/contacts/contacts.server";
import { maskAddress } from "~/contacts/suppressions.server";

/**
 * What a support agent does for a caller on the contact page, besides suppressing: turn topics
 * off and on, pause a channel (30 or 90 days) or resume it, and send the person the link to
 * their preferences by email or SMS. Consent changes go through the one door
 * (applyConsentChanges) with source `admin`, the agent as actor and the note in details; each
 * change and its audit row are one transaction.
 */

export type AgentChange =
  | { kind: "topic_opt_out" | "topic_opt_in"; topic: string }
  | { kind: "pause"; days: 30 | 90 }
  | { kind: "resume" };

export type AgentChangeInput = {
  contactId: string;
  target: ChannelAddress;
  change: AgentChange;
  note: string;
  by: AuditContext;
};

export async function applyAgentChange(db: Db, input: AgentChangeInput): Promise<ChangeResult> {
  const note = input.note.trim();
  const actorId = input.by.actor.type === "admin_user" ? (input.by.actor.id ?? null) : null;
  const { change } = input;
  return inTransaction(db, async (trx) => {
    const [result] = await applyConsentChanges(trx, [
      {
        channel: input.target.channel,
        address: input.target.address,
        action: change.kind,
        topic:
          change.kind === "topic_opt_in" || change.kind === "topic_opt_out" ? change.topic : null,
        pausedUntil:
          change.kind === "pause" ? new Date(Date.now() + change.days * 86_400_000) : null,
        source: "admin",
        contactId: input.contactId,
        actor: { type: "admin_user", id: actorId },
        ip: input.by.ip ?? null,
        userAgent: input.by.userAgent ?? null,
        details: note ? { note } : {},
      },
    ]);
    await audit(trx, {
      ...input.by,
      action: `consent.${change.kind}`,
      target: { type: "contact", id: input.contactId },
      details: {
        channel: input.target.channel,
        address: maskAddress(input.target.address),
        ...(change.kind === "topic_opt_in" || change.kind === "topic_opt_out"
          ? { topic: change.topic }
          : {}),
        ...(change.kind === "pause" ? { days: change.days } : {}),
        ...(note ? { note } : {}),
        changed: result!.changed,
      },
    });
    return result!;
  });
}

/** Days a preferences link sent by an agent stays valid as a short SMS link. */
const SMS_LINK_DAYS = 30;

/**
 * Sends the contact the link to their preference page: by email to their email address, or by
 * SMS (a short link) to their phone, in their language. Queued in the outbox with the audit row.
 */
export async function sendPreferencesLink(
  db: Db,
  input: {
    contactId: string;
    locale: string | null;
    target: ChannelAddress & { channel: Extract<Channel, "email" | "sms"> };
    by: AuditContext;
  },
): Promise<void> {
  const env = getEnv();
  const locale = mailLocale(input.locale);
  await inTransaction(db, async (trx) => {
    const branding = await getBranding(trx);
    const token = await signLinkToken({
      contactId: input.contactId,
      channel: input.target.channel,
      purpose: "preferences",
    });
    if (input.target.channel === "email") {
      await enqueueEmail(
        trx,
        renderPreferencesEmail({
          locale,
          branding,
          to: input.target.address,
          url: `${env.publicUrl}/p/${token}`,
        }),
      );
    } else {
      const code = await createShortLink(
        trx,
        `/p/${token}`,
        new Date(Date.now() + SMS_LINK_DAYS * 86_400_000),
      );
      const body = getFixedT(locale, "mail")("sms.preferencesLink", {
        org: branding.organizationName,
        url: `${env.publicUrl}/s/${code}`,
      });
      await enqueueOutbox(trx, {
        kind: "sms",
        recipient: input.target.address,
        payload: {
          to: input.target.address,
          body,
          channel: "sms",
          template: "sms.preferencesLink",
          locale,
        },
      });
    }
    await audit(trx, {
      ...input.by,
      action: "contact.preferences_link",
      target: { type: "contact", id: input.contactId },
      details: { channel: input.target.channel, address: maskAddress(input.target.address) },
    });
  });
}

export type PendingConfirmation = {
  channel: Channel;
  address: string;
  requestedAt: Date;
  expiresAt: Date;
  source: string;
};

/** Double opt-in requests still waiting for the person's confirmation, for these addresses. */
export async function pendingConfirmations(
  db: Db,
  targets: ChannelAddress[],
): Promise<PendingConfirmation[]> {
  if (targets.length === 0) return [];
  const rows = await db
    .selectFrom("double_opt_in_requests")
    .select(["channel", "address_hash", "created_at", "expires_at", "source"])
    .where("status", "=", "pending")
    .where("expires_at", ">", new Date())
    .where((eb) =>
      eb.or(
        targets.map((t) =>
          eb.and([eb("channel", "=", t.channel), eb("address_hash", "=", addressKey(t.address))]),
        ),
      ),
    )
    .orderBy("created_at", "desc")
    .execute();
  return rows.map((r) => ({
    channel: r.channel,
    address: targets.find((t) => t.channel === r.channel)!.address,
    requestedAt: new Date(r.created_at),
    expiresAt: new Date(r.expires_at),
    source: r.source,
  }));
}
