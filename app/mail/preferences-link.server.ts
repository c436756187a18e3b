import { sql } from "kysely";
import { addressKey } from "~/consent/consent.server";
import { normalizeEmail, normalizePhone } from "~/consent/address.server";
import type { Db } from "~/db/db.server";
import { getEnv } from "~/env.server";
import type { Locale } from "~/i18n/config";
import { createShortLink } from "~/links/short-links.server";
import { signLinkToken } from "~/links/tokens.server";
import { enqueueOutbox } from "~/outbox/outbox.server";
import { hitRateLimit } from "~/security/rate-limit.server";
import { getBranding } from "~/settings/settings.server";
import { enqueueEmail } from "./send.server";
import {
  mailLocale,
  messageHash,
  renderPreferencesEmail,
  renderPreferencesSms,
} from "./templates.server";
import { defaultPhoneRegion } from "~/settings/phone-region.server";

/**
 * "Send me my link" (/manage, docs/recipient-pages.md): mails a fresh preferences link to an email
 * address Heed knows, or texts it (through the SMS outbox) to a phone number Heed knows, and
 * answers the same whether it knows it or not. Limits are database counters (they hold across
 * every server) so the form cannot be used to flood someone's inbox:
 * - per address (its keyed hash, never the clear address): 3 an hour and 10 a day, counted for
 *   known and unknown addresses alike (so the limit itself reveals nothing);
 * - per client IP: 20 an hour.
 */
export const MANAGE_LIMITS = {
  perIp: { limit: 20, windowSeconds: 60 * 60 },
  perAddressHour: { limit: 3, windowSeconds: 60 * 60 },
  perAddressDay: { limit: 10, windowSeconds: 24 * 60 * 60 },
} as const;

export type PreferencesLinkResult =
  | { status: "accepted"; channel: "email" | "sms"; address: string }
  | { status: "invalid_email" }
  | { status: "invalid_phone" }
  | { status: "rate_limited"; retryAfterSeconds: number };

/** How long the short link in a preferences SMS works (the token behind it lives longer). */
export const SMS_LINK_TTL_SECONDS = 30 * 24 * 60 * 60;

/**
 * What a person typed into /manage: an email address (it has an @), a phone number (digits with
 * an optional +, spaces, dots, dashes, slashes or brackets), or neither.
 */
export function addressKind(raw: string): "email" | "phone" | null {
  const v = raw.trim();
  if (v.includes("@")) return "email";
  return /^\+?[\d\s().\-/]{5,30}$/.test(v) && /\d{5}/.test(v.replace(/\D/g, "")) ? "phone" : null;
}

type Kind = "email" | "phone";
const CONSENT_CHANNELS: Record<Kind, ("email" | "sms" | "whatsapp")[]> = {
  email: ["email"],
  phone: ["sms", "whatsapp"],
};

/**
 * The contact a preferences link is signed for: the newest contact with this email or phone;
 * else, for an address only the consent tables know (a suppression imported without a contact),
 * the contact last named in its ledger, or a new contact holding just the address. null: unknown
 * address.
 */
async function contactForAddress(
  db: Db,
  kind: Kind,
  address: string,
): Promise<{ id: string; locale: string | null } | null> {
  const column = kind === "email" ? "email" : "phone";
  const contact = await db
    .selectFrom("contacts")
    .select(["id", "locale"])
    .where(column, "=", address)
    .where("erased_at", "is", null)
    .orderBy("updated_at", "desc")
    .executeTakeFirst();
  if (contact) return contact;
  const hash = addressKey(address);
  const channels = CONSENT_CHANNELS[kind];
  const consent = await db
    .selectFrom("channel_consent")
    .select("address")
    .where("channel", "in", channels)
    .where("address_hash", "=", hash)
    .where("address", "is not", null)
    .executeTakeFirst();
  if (!consent) return null;
  const fromLedger = await db
    .selectFrom("consent_ledger")
    .innerJoin("contacts", "contacts.id", "consent_ledger.contact_id")
    .select(["contacts.id", "contacts.locale"])
    .where("consent_ledger.channel", "in", channels)
    .where("consent_ledger.address_hash", "=", hash)
    .where("contacts.erased_at", "is", null)
    .orderBy("consent_ledger.id", "desc")
    .executeTakeFirst();
  if (fromLedger) {
    // The contact's address changed since; keep the link about this address.
    await db
      .updateTable("contacts")
      .set({
        [column]: sql`coalesce(${sql.ref(column)}, ${address})`,
        updated_at: sql<Date>`now()`,
      })
      .where("id", "=", fromLedger.id)
      .execute();
    return fromLedger;
  }
  return db
    .insertInto("contacts")
    .values({ [column]: address })
    .returning(["id", "locale"])
    .executeTakeFirstOrThrow();
}

/**
 * Whether a number may be texted: not after an SMS opt-out (docs/consent.md: after STOP nothing
 * is texted to the number until it texts START, and carriers block it anyway).
 */
async function smsAllowed(db: Db, phone: string): Promise<boolean> {
  const row = await db
    .selectFrom("channel_consent")
    .select("status")
    .where("channel", "=", "sms")
    .where("address_hash", "=", addressKey(phone))
    .executeTakeFirst();
  return row?.status !== "unsubscribed";
}

/**
 * Queues a fresh preferences link for a contact: an email to an email address, or an SMS with a
 * short link to a phone number. Call it in the transaction that decided to send it.
 */
export async function queuePreferencesLink(
  db: Db,
  input: { contactId: string; contactLocale: string | null; locale: Locale } & (
    { channel: "email"; address: string } | { channel: "sms"; address: string }
  ),
): Promise<void> {
  const env = getEnv();
  const token = await signLinkToken({
    contactId: input.contactId,
    channel: input.channel,
    purpose: "preferences",
  });
  const locale = mailLocale(input.contactLocale, input.locale);
  const branding = await getBranding(db);
  if (input.channel === "email") {
    await enqueueEmail(
      db,
      renderPreferencesEmail({
        locale,
        branding,
        to: input.address,
        url: `${env.publicUrl}/p/${token}`,
      }),
    );
    return;
  }
  const code = await createShortLink(
    db,
    `/p/${token}`,
    new Date(Date.now() + SMS_LINK_TTL_SECONDS * 1000),
  );
  const sms = renderPreferencesSms({ locale, branding, url: `${env.publicUrl}/s/${code}` });
  await enqueueOutbox(db, {
    kind: "sms",
    recipient: input.address,
    payload: {
      to: input.address,
      body: sms.body,
      channel: "sms",
      template: sms.template,
      templateVersion: sms.templateVersion,
      locale,
      messageHash: messageHash({ body: sms.body }),
    },
  });
}

/**
 * /manage: sends a preferences link to an email address or a phone number if Heed knows it, and
 * answers the same whether it does or not. Both kinds share the limits (MANAGE_LIMITS), counted
 * under the address's keyed hash.
 */
export async function requestPreferencesLink(
  db: Db,
  input: { address: string; ip: string | null; locale: Locale },
): Promise<PreferencesLinkResult> {
  const kind = addressKind(input.address);
  if (kind === null) return { status: "invalid_email" };
  const n =
    kind === "email"
      ? normalizeEmail(input.address)
      : normalizePhone(input.address, defaultPhoneRegion());
  if (!n.ok) return { status: kind === "email" ? "invalid_email" : "invalid_phone" };
  const address = n.address;

  if (input.ip) {
    const byIp = await hitRateLimit(db, `manage:ip:${input.ip}`, MANAGE_LIMITS.perIp);
    if (!byIp.allowed) return { status: "rate_limited", retryAfterSeconds: byIp.retryAfterSeconds };
  }
  const hash = addressKey(address);
  for (const [name, limit] of [
    ["h", MANAGE_LIMITS.perAddressHour],
    ["d", MANAGE_LIMITS.perAddressDay],
  ] as const) {
    const r = await hitRateLimit(db, `manage:addr:${name}:${hash}`, limit);
    if (!r.allowed) return { status: "rate_limited", retryAfterSeconds: r.retryAfterSeconds };
  }

  await db.transaction().execute(async (trx) => {
    const contact = await contactForAddress(trx, kind, address);
    if (!contact) return;
    if (kind === "phone" && !(await smsAllowed(trx, address))) return;
    await queuePreferencesLink(trx, {
      contactId: contact.id,
      contactLocale: contact.locale,
      locale: input.locale,
      channel: kind === "email" ? "email" : "sms",
      address,
    });
  });
  return { status: "accepted", channel: kind === "email" ? "email" : "sms", address };
}
