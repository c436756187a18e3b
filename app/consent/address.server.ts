import { domainToASCII } from "node:url";
import { parsePhoneNumberFromString, type CountryCode } from "libphonenumber-js/max";
import { z } from "zod";
import {
  hmacSha256,
  hmacSha256Base64urlInto,
  type Hmac,
  type HmacBase64urlInto,
} from "~/consent/hmac.server";
import type { Channel } from "~/db/schema";

export type InvalidReason = "empty" | "invalid_email" | "invalid_phone" | "missing_country_code";
export type Normalized = { ok: true; address: string } | { ok: false; reason: InvalidReason };

/**
 * What an email address may look like once normalized. The local part is an RFC 5322 dot-atom
 * (atext: letters, digits and ``!#$%&'*+/=?^_`{}~-``, dots only between atoms), so a real address
 * like `a&b@example.com` or `{ops}@example.com` can be unsubscribed: zod's default pattern allows
 * only `_'+-` and refused them, and a refused address is an opt-out Heed cannot record. Left out:
 * quoted local parts (`"a b"@example.com`; mailbox providers do not hand them out) and `|`, the
 * one atext character a spreadsheet's DDE formula needs (`+cmd|'/c…'!A0`): exports write addresses
 * unchanged so they import again. The domain is zod's: dot-separated labels and a letters-only
 * top-level label (no `localhost`).
 */
const emailSchema = z.email({
  pattern:
    /^[A-Za-z0-9!#$%&'*+/=?^_`{}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{}~-]+)*@(?:[A-Za-z0-9][A-Za-z0-9-]*\.)+[A-Za-z]{2,}$/,
});

/**
 * An address that is already what normalizeEmail makes of it (lower-case ASCII, dot-atoms on the
 * left, plain labels and a letters-only top-level label on the right): what the API and the
 * imports store, and what a send check of 10,000 recipients mostly receives. Every string this
 * matches (at most 64 characters before the @, at most 254 in all, no `xn--` label to decode)
 * passes the full path unchanged: no Unicode to compose, no space to trim, nothing to lower-case
 * or convert to punycode, and emailSchema's pattern accepts it (tests/unit/address.test.ts
 * checks both paths agree).
 */
const NORMALIZED_EMAIL = /^[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@(?:[a-z0-9][a-z0-9-]*\.)+[a-z]{2,}$/;

/**
 * Emails are trimmed and lower-cased; an internationalized domain is converted to punycode
 * (node's WHATWG domainToASCII, the same conversion browsers apply), so `a@bücher.de` and
 * `a@xn--bcher-kva.de` are one address.
 */
export function normalizeEmail(raw: string): Normalized {
  if (
    raw.length <= 254 &&
    NORMALIZED_EMAIL.test(raw) &&
    raw.indexOf("@") <= 64 &&
    !raw.includes("xn--")
  ) {
    return { ok: true, address: raw };
  }
  return normalizeEmailFully(raw);
}

/** normalizeEmail without its shortcut for addresses already normalized (exported for tests). */
export function normalizeEmailFully(raw: string): Normalized {
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
 * not only a length check).
 *
 * - `+420 777 111 222`, `00420777111222`, `tel:+420…`: international, as written.
 * - Digits without `+` (`420777111222`: how a spreadsheet stores a phone number as a number, which
 *   also drops the leading `00`): with a default country, read as a national number of that
 *   country first (`777111222` in CZ); when that is not a valid number, read as international
 *   (`+420777111222`).
 * - A number that is valid neither way and has no default country to read it with is refused as
 *   `missing_country_code` ("add the country code"), other failures as `invalid_phone`.
 * - Excel's scientific notation (`4.20777111222E+11`) is expanded when it lost no digit.
 */
export function normalizePhone(raw: string, defaultRegion?: string): Normalized {
  const trimmed = raw.trim().replace(/^(whatsapp|sms|tel):/i, "");
  if (trimmed === "") return { ok: false, reason: "empty" };
  const written = expandScientific(trimmed) ?? trimmed;
  const withPlus = /^00\d/.test(written) ? `+${written.slice(2)}` : written;
  const region = defaultRegion as CountryCode | undefined;
  const valid = (text: string, country?: CountryCode) => {
    const parsed = parsePhoneNumberFromString(text, { defaultCountry: country, extract: false });
    return parsed?.isValid() ? parsed.number : null;
  };
  if (withPlus.startsWith("+")) {
    const number = valid(withPlus);
    return number ? { ok: true, address: number } : { ok: false, reason: "invalid_phone" };
  }
  const national = region ? valid(withPlus, region) : null;
  if (national) return { ok: true, address: national };
  const digits = withPlus.replace(/[\s().\-/]/g, "");
  if (/^[1-9]\d{6,14}$/.test(digits)) {
    const international = valid(`+${digits}`);
    if (international) return { ok: true, address: international };
  }
  if (!region && /^\d{6,17}$/.test(digits)) return { ok: false, reason: "missing_country_code" };
  return { ok: false, reason: "invalid_phone" };
}

/** "4.20777111222E+11" → "420777111222" when the mantissa shows every digit; else null. */
function expandScientific(value: string): string | null {
  const m = /^(\d)(?:[.,](\d+))?e\+?(\d{1,2})$/i.exec(value);
  if (!m) return null;
  // Only when every digit is shown: "4.20777E+11" lost six digits (a narrow Excel column).
  const fraction = m[2] ?? "";
  if (fraction.length !== Number(m[3])) return null;
  return m[1]! + fraction;
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
  return hashers(key).hmac(normalizedAddress);
}

/**
 * hashAddress as its 43 ASCII characters, written to out[at..at + 43) instead of returned as a
 * string: the send check writes a chunk's hashes straight into its statement's parameter
 * (decision 0116).
 */
export function writeAddressHash(
  key: string,
  normalizedAddress: string,
  out: Uint8Array,
  at: number,
): void {
  hashers(key).write(normalizedAddress, out, at);
}

// The HMAC for the key, in both forms, made once (its pad blocks are hashed once,
// app/consent/hmac.server.ts): a send check or an import hashes thousands of addresses at a time.
let cachedHashers: { key: string; hmac: Hmac; write: HmacBase64urlInto } | null = null;
function hashers(key: string) {
  if (cachedHashers?.key !== key) {
    cachedHashers = { key, hmac: hmacSha256(key), write: hmacSha256Base64urlInto(key) };
  }
  return cachedHashers;
}

/** Characters of an address hash (base64url of 32 bytes, no padding). */
export const ADDRESS_HASH_LENGTH = 43;
