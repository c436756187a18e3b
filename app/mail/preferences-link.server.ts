import { sql } from "kysely";
import { addressKey } from "~/consent/consent.server";
import { normalizeEmail } from "~/consent/address.server";
import type { Db } from "~/db/db.server";
import { getEnv } from "~/env.server";
import type { Locale } from "~/i18n/config";
import { signLinkToken } from "~/links/tokens.server";
import { hitRateLimit } from "~/security/rate-limit.server";
import { getBranding } from "~/settings/settings.server";
import { enqueueEmail } from "./send.server";
import { mailLocale, renderPreferencesEmail } from "./templates.server";

/**
 * "Email me my link" (/manage, docs/recipient-pages.md): mails a fresh preferences link to an address Heed knows,
 * and answers the same whether it knows it or not. Limits are database counters (they hold across
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
  | { status: "accepted"; address: string }
  | { status: "invalid_email" }
  | { status: "rate_limited"; retryAfterSeconds: number };

/**
 * The contact a preferences link is signed for: the newest contact with this email; else, for an
 * address only the consent tables know (a suppression imported without a contact), the contact
 * last named in its ledger, or a new contact holding just the address. null: unknown address.
 */
async function contactForEmail(
  db: Db,
  address: string,
): Promise<{ id: string; locale: string | null } | null> {
  const contact = await db
    .selectFrom("contacts")
    .select(["id", "locale"])
    .where("email", "=", address)
    .where("erased_at", "is", null)
    .orderBy("updated_at", "desc")
    .executeTakeFirst();
  if (contact) return contact;
  const hash = addressKey(address);
  const consent = await db
    .selectFrom("channel_consent")
    .select("address")
    .where("channel", "=", "email")
    .where("address_hash", "=", hash)
    .where("address", "is not", null)
    .executeTakeFirst();
  if (!consent) return null;
  const fromLedger = await db
    .selectFrom("consent_ledger")
    .innerJoin("contacts", "contacts.id", "consent_ledger.contact_id")
    .select(["contacts.id", "contacts.locale"])
    .where("consent_ledger.channel", "=", "email")
    .where("consent_ledger.address_hash", "=", hash)
    .where("contacts.erased_at", "is", null)
    .orderBy("consent_ledger.id", "desc")
    .executeTakeFirst();
  if (fromLedger) {
    // The contact's email changed since; keep the link about this address.
    await db
      .updateTable("contacts")
      .set({ email: sql`coalesce(email, ${address})`, updated_at: sql<Date>`now()` })
      .where("id", "=", fromLedger.id)
      .execute();
    return fromLedger;
  }
  return db
    .insertInto("contacts")
    .values({ email: address })
    .returning(["id", "locale"])
    .executeTakeFirstOrThrow();
}

export async function requestPreferencesLink(
  db: Db,
  input: { email: string; ip: string | null; locale: Locale },
): Promise<PreferencesLinkResult> {
  const n = normalizeEmail(input.email);
  if (!n.ok) return { status: "invalid_email" };
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
    const contact = await contactForEmail(trx, address);
    if (!contact) return;
    const token = await signLinkToken({
      contactId: contact.id,
      channel: "email",
      purpose: "preferences",
    });
    const email = renderPreferencesEmail({
      locale: mailLocale(contact.locale, input.locale),
      branding: await getBranding(trx),
      to: address,
      url: `${getEnv().publicUrl}/p/${token}`,
    });
    await enqueueEmail(trx, email);
  });
  return { status: "accepted", address };
}
