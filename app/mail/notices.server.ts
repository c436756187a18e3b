import { z } from "zod";

import { normalizeEmail } from "~/consent/address.server";

import type { Db } from "~/db/db.server";

import { getEnv } from "~/env.server";

import { signLinkToken } from "~/links/tokens.server";

import { getBranding, getSetting, putSetting } from "~/settings/settings.server";

import { enqueueEmail } from "./send.server";

import { mailLocale, renderUnsubscribedEmail } from "./templates.server";

/**
 * Operator settings for the mail Heed sends on its own. "You have been unsubscribed" is off by
 * default: many senders prefer silence after an unsubscribe, and a confirmation must never carry
 * marketing (it carries none: a transactional template with a preferences link).
 */
export const MailSettingsSchema = z.object({
  unsubscribeConfirmation: z.boolean().default(false),
});
export type MailSettings = z.infer<typeof MailSettingsSchema>;
export const DEFAULT_MAIL_SETTINGS: MailSettings = { unsubscribeConfirmation: false };

export function getMailSettings(db: Db): Promise<MailSettings> {
  return getSetting(db, "mail", MailSettingsSchema, DEFAULT_MAIL_SETTINGS);
}

export async function saveMailSettings(db: Db, settings: MailSettings): Promise<void> {
  await putSetting(db, "mail", MailSettingsSchema.parse(settings));
}

/**
 * After an email unsubscribe: queues "you have been unsubscribed" when the operator turned it on.
 * Call it in the transaction of the unsubscribe (and only when it changed something). Returns the
 * outbox id, or null when nothing was queued.
 */
export async function queueUnsubscribedNotice(
  db: Db,
  input: { contactId: string; address: string; locale?: string | null },
): Promise<number | null> {
  if (!(await getMailSettings(db)).unsubscribeConfirmation) return null;
  const n = normalizeEmail(input.address);
  if (!n.ok) return null;
  const token = await signLinkToken({
    contactId: input.contactId,
    channel: "email",
    purpose: "preferences",
  });
  const email = renderUnsubscribedEmail({
    locale: mailLocale(input.locale),
    branding: await getBranding(db),
    to: n.address,
    url: `${getEnv().publicUrl}/p/${token}`,
  });
  return (await enqueueEmail(db, email)).outboxId;
}
