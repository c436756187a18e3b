import { sql } from "kysely";
import { normalizeEmail } from "~/consent/address.server";
import { addressKey } from "~/consent/consent.server";
import type { Db } from "~/db/db.server";
import { codeOfRecipient, findMailtoCode, mailtoConfig } from "~/email/mailto.server";
import { verifyLinkToken } from "~/links/tokens.server";

/**
 * Who a message was sent to, from Heed's own marks in it: the mailto code or the unsubscribe
 * link token of its `List-Unsubscribe` header. Feedback loops (Yahoo, Microsoft) redact the
 * complainer's address, but they return the original headers, and these two name the address
 * without trusting anything the reporter or the sender wrote:
 *
 * - a mailto code is stored with the address's keyed hash (and the address, unless erased);
 * - a link token is signed and names the contact, whose email is the address (or, for an erased
 *   contact, the keyed hash its `erase` ledger row kept).
 *
 * The code is preferred: it names the exact address the message went to, while a contact's email
 * may have changed since.
 */

export type LinkEvidence = {
  via: "mailto" | "token";
  /** Normalized address, when still known in clear. */
  address: string | null;
  addressHash: string;
  contactId: string | null;
  campaign: string | null;
  topic: string | null;
};

const MAILTO_RE = /<mailto:([^>?\s]+)[^>]*>/gi;
const LINK_RE = /<https?:\/\/[^>\s]*\/u\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)[^>]*>/gi;

export async function identifyFromListUnsubscribe(
  db: Db,
  values: readonly string[],
): Promise<LinkEvidence | null> {
  const config = mailtoConfig();
  const text = values.join(", ");
  for (const m of text.matchAll(MAILTO_RE)) {
    const code = codeOfRecipient(decodeURIComponent(m[1]!), config);
    if (!code) continue;
    const stored = await findMailtoCode(db, code);
    if (stored) {
      return {
        via: "mailto",
        address: stored.address,
        addressHash: stored.addressHash,
        contactId: stored.contactId,
        campaign: stored.campaign,
        topic: stored.topic,
      };
    }
  }
  for (const m of text.matchAll(LINK_RE)) {
    const verified = await verifyLinkToken(m[1]!, "unsubscribe");
    if (!verified.ok || verified.claims.ch !== "email") continue;
    const byContact = await contactEmail(db, verified.claims.sub);
    // The address the link was sent to (its keyed hash, `ah`), whatever became of the contact.
    const ah = verified.claims.ah;
    const found =
      ah && byContact?.addressHash !== ah ? { address: null, addressHash: ah } : byContact;
    if (found) {
      return {
        via: "token",
        ...found,
        contactId: verified.claims.sub,
        campaign: verified.claims.cp ?? null,
        topic: verified.claims.tp ?? null,
      };
    }
  }
  return null;
}

/** The contact's email (normalized, with its hash), or the hash its erasure kept. */
async function contactEmail(
  db: Db,
  contactId: string,
): Promise<{ address: string | null; addressHash: string } | null> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(contactId)) {
    return null;
  }
  const contact = await db
    .selectFrom("contacts")
    .select(["email", "erased_at"])
    .where("id", "=", contactId)
    .executeTakeFirst();
  if (contact?.email) {
    const n = normalizeEmail(contact.email);
    if (n.ok) return { address: n.address, addressHash: addressKey(n.address) };
  }
  // Erased or deleted: the ledger still names the address (or, erased, its hash).
  const { rows } = await sql<{ address_hash: string; address: string | null }>`
    select address_hash, address from consent_ledger
    where contact_id = ${contactId}::uuid and channel = 'email'
    order by id desc limit 1`.execute(db);
  return rows[0] ? { address: rows[0].address, addressHash: rows[0].address_hash } : null;
}
