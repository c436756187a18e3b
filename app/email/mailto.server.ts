import crypto from "node:crypto";
import { sql } from "kysely";
import { addressKey } from "~/consent/consent.server";
import type { Db } from "~/db/db.server";
import { getEnv, type Env } from "~/env.server";
import { withEmailTables } from "~/email/schema";
import { LINK_TTL_SECONDS } from "~/links/tokens.server";
import { getSecrets } from "~/secrets.server";

/**
 * The `mailto:` of `List-Unsubscribe` (RFC 2369): `{base}+{code}@{domain}`, where base@domain is
 * UNSUBSCRIBE_MAILTO and the code is opaque. A message to that address unsubscribes the address
 * the link was made for, because only Heed could have handed out the code: its `From` is never
 * trusted (anyone can write any From, and forwarding or aliases change it).
 *
 * Why a stored code and not a code that carries its own proof (a MAC over the address): the link
 * must name the address, topic and campaign, and a topic or campaign key does not fit in the 64
 * characters of an address's local part next to a MAC; and an erased contact's code must still
 * unsubscribe the address, which only its stored keyed hash can name. So the code is stored, but
 * it is derived (an HMAC of the address hash, topic and campaign under a key derived from
 * ADDRESS_HASH_KEY, 128 bits), not random: the same recipient of the same campaign gets the same
 * code every time, so a resend writes nothing new and the table grows with distinct links only.
 * The links batch stores its codes in one statement (arrays as unnest parameters).
 */

export const MAILTO_CODE_LENGTH = 26;
const CODE_RE = /^[a-z2-7]{26}$/;

export type MailtoConfig = { base: string; domain: string };

/** UNSUBSCRIBE_MAILTO split into the local part the codes extend and the domain. */
export function mailtoConfig(env: Env = getEnv()): MailtoConfig | null {
  const value = env.UNSUBSCRIBE_MAILTO;
  if (!value) return null;
  const at = value.lastIndexOf("@");
  return { base: value.slice(0, at).toLowerCase(), domain: value.slice(at + 1).toLowerCase() };
}

// RFC 4648 base32, lower case: a code survives MTAs that lower-case local parts. Six lines do not
// justify a dependency.
const ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";
function base32(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

let keyCache: { source: string; key: Buffer } | undefined;
function codeKey(): Buffer {
  const source = getSecrets().addressHashKey;
  if (keyCache?.source !== source) {
    keyCache = {
      source,
      key: crypto.createHmac("sha256", source).update("heed mailto code v1").digest(),
    };
  }
  return keyCache.key;
}

/** The code of a link: 128 bits of HMAC over (address hash, topic, campaign). */
export function mailtoCode(hash: string, topic: string | null, campaign: string | null): string {
  const mac = crypto
    .createHmac("sha256", codeKey())
    .update(`${hash}\u0000${topic ?? ""}\u0000${campaign ?? ""}`)
    .digest();
  return base32(mac.subarray(0, 16));
}

export function mailtoAddress(config: MailtoConfig, code: string): string {
  return `${config.base}+${code}@${config.domain}`;
}

export type MailtoLink = {
  /** The contact the link is for (attribution only). */
  contactId: string | null;
  /** Normalized email address. */
  address: string;
  topic?: string | null;
  campaign?: string | null;
};

/**
 * The mailto addresses for these links, in order, after storing their codes (one statement per
 * 5,000 distinct codes). A code seen again has its expiry moved forward (at most once a day).
 */
export async function createMailtoAddresses(
  db: Db,
  links: readonly MailtoLink[],
  config: MailtoConfig,
  now = new Date(),
): Promise<string[]> {
  const expires = new Date(now.getTime() + LINK_TTL_SECONDS * 1000);
  const hashes = links.map((l) => addressKey(l.address));
  const codes = links.map((l, i) => mailtoCode(hashes[i]!, l.topic ?? null, l.campaign ?? null));
  const unique = new Map<string, { link: MailtoLink; hash: string }>();
  links.forEach((l, i) => {
    if (!unique.has(codes[i]!)) unique.set(codes[i]!, { link: l, hash: hashes[i]! });
  });
  const entries = [...unique.entries()];
  for (let start = 0; start < entries.length; start += 5000) {
    const slice = entries.slice(start, start + 5000);
    await sql`
      insert into mailto_codes (code, address_hash, address, contact_id, topic, campaign, expires_at)
      select t.code, t.h, t.a, t.c, t.tp, t.cp, ${expires}::timestamptz
      from unnest(${slice.map(([c]) => c)}::text[], ${slice.map(([, v]) => v.hash)}::text[],
        ${slice.map(([, v]) => v.link.address)}::text[],
        ${slice.map(([, v]) => v.link.contactId)}::uuid[],
        ${slice.map(([, v]) => v.link.topic ?? null)}::text[],
        ${slice.map(([, v]) => v.link.campaign ?? null)}::text[]) as t(code, h, a, c, tp, cp)
      on conflict (code) do update set
        expires_at = excluded.expires_at, address = excluded.address,
        contact_id = excluded.contact_id
      where mailto_codes.expires_at < excluded.expires_at - interval '1 day'
    `.execute(db);
  }
  return codes.map((c) => mailtoAddress(config, c));
}

/**
 * The code of a recipient address if it is one of Heed's mailto addresses (`{base}+{code}@domain`,
 * any case), else null. Nothing is looked up.
 */
export function codeOfRecipient(recipient: string, config: MailtoConfig | null): string | null {
  if (!config) return null;
  const r = recipient.trim().replace(/^<|>$/g, "").toLowerCase();
  const at = r.lastIndexOf("@");
  if (at <= 0 || r.slice(at + 1) !== config.domain) return null;
  const local = r.slice(0, at);
  const prefix = `${config.base}+`;
  if (!local.startsWith(prefix)) return null;
  const code = local.slice(prefix.length);
  return CODE_RE.test(code) ? code : null;
}

export type StoredMailtoCode = {
  code: string;
  addressHash: string;
  address: string | null;
  contactId: string | null;
  topic: string | null;
  campaign: string | null;
};

/** A stored code, or null for a code Heed never handed out (or one long expired and purged). */
export async function findMailtoCode(db: Db, code: string): Promise<StoredMailtoCode | null> {
  if (!CODE_RE.test(code)) return null;
  const row = await withEmailTables(db)
    .selectFrom("mailto_codes")
    .select(["code", "address_hash", "address", "contact_id", "topic", "campaign"])
    .where("code", "=", code)
    .executeTakeFirst();
  return row
    ? {
        code: row.code,
        addressHash: row.address_hash,
        address: row.address,
        contactId: row.contact_id,
        topic: row.topic,
        campaign: row.campaign,
      }
    : null;
}

/** Deletes codes whose links have expired (a background task). */
export async function purgeExpiredMailtoCodes(db: Db): Promise<number> {
  const r = await withEmailTables(db)
    .deleteFrom("mailto_codes")
    .where("expires_at", "<", sql<Date>`now()`)
    .executeTakeFirst();
  return Number(r.numDeletedRows ?? 0);
}
