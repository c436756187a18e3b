import crypto from "node:crypto";
import { domainToASCII } from "node:url";
import { parsePhoneNumberFromString, type CountryCode } from "libphonenumber-js/max";
import { z } from "zod";
import type { Channel } from "~/db/schema";

export type InvalidReason = "empty" | "invalid_email" | "invalid_phone";
export type Normalized = { ok: true; address: string } | { ok: false; reason: InvalidReason };

const emailSchema = z.email();

/**
 * Emails are trimmed and lower-cased; an internationalized domain is converted to punycode
 * (node's WHATWG domainToASCII, the same conversion browsers apply), so `a@bücher.de` and
 * `a@xn--bcher-kva.de` are one address.
 */
export function normalizeEmail(raw: string): Normalized {
  const trimmed = raw.normalize("NFC").trim();
  if (trimmed === "") return { ok: false, reason: "empty" };
  const at = trimmed.lastIndexOf("@");
  if (at <= 0 || at === trimmed.length - 1) return { ok: false, reason: "invalid_email" };
  const local = trimmed.slice(0, at).toLowerCase();
  const domain = domainToASCII(trimmed.slice(at + 1).toLowerCase());
  if (domain === "" || local.length > 64) return { ok: false, reason: "invalid_email" };
  const address = `${local}@${domain}`;
  if (address.length > 254 || !emailSchema.safeParse(address).success) {
    return { ok: false, reason: "invalid_email" };
  }
  return { ok: true, address };
}

/**
 * Phone numbers to E.164 with libphonenumber-js's full metadata (so mobile/fixed validity is real,
 * not only a length check). A number without a country prefix needs a default region.
 */
export function normalizePhone(raw: string, defaultRegion?: string): Normalized {
  const trimmed = raw.trim().replace(/^(whatsapp|sms|tel):/i, "");
  if (trimmed === "") return { ok: false, reason: "empty" };
  const withPlus = /^00\d/.test(trimmed) ? `+${trimmed.slice(2)}` : trimmed;
  const parsed = parsePhoneNumberFromString(withPlus, {
    defaultCountry: defaultRegion as CountryCode | undefined,
    extract: false,
  });
  if (!parsed || !parsed.isValid()) return { ok: false, reason: "invalid_phone" };
  return { ok: true, address: parsed.number };
}

export function normalizeAddress(
  channel: Channel,
  raw: string,
  defaultRegion?: string,
): Normalized {
  return channel === "email" ? normalizeEmail(raw) : normalizePhone(raw, defaultRegion);
}

/**
 * The keyed hash that identifies a normalized address in the consent tables. It survives erasure
 * (docs/consent.md, rule 9), so an erased address stays suppressed when it is imported again.
 */
export function hashAddress(key: string, normalizedAddress: string): string {
  return crypto.createHmac("sha256", keyObject(key)).update(normalizedAddress).digest("base64url");
}

// The key as a KeyObject, made once: createHmac then skips importing the key's bytes for every
// address (a send check or an import hashes thousands of addresses at a time).
let cachedKey: { key: string; object: crypto.KeyObject } | null = null;
function keyObject(key: string): crypto.KeyObject {
  if (cachedKey?.key !== key) cachedKey = { key, object: crypto.createSecretKey(key, "utf8") };
  return cachedKey.object;
}
