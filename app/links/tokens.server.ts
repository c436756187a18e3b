import { SignJWT, errors, jwtVerify, type JWTPayload } from "jose";
import { z } from "zod";
import { CHANNELS, type Channel } from "~/db/schema";
import { getSecrets, type SigningKey } from "~/secrets.server";

/**
 * Signed links (docs/links.md): compact JWS, HS256, `kid` in the header. Every configured key verifies,
 * the first signs, so keys rotate without breaking links already sent. Claims carry opaque ids
 * only (a contact's uuid, a topic key, a campaign key, a request id), never an address or a name.
 */

export const PURPOSES = ["preferences", "unsubscribe", "confirm"] as const;
export type Purpose = (typeof PURPOSES)[number];

export const DAY_SECONDS = 24 * 60 * 60;
/** CAN-SPAM needs 30 days; mail sits in inboxes for much longer. */
export const LINK_TTL_SECONDS = 400 * DAY_SECONDS;
export const CONFIRM_TTL_SECONDS = 7 * DAY_SECONDS;

export type LinkClaims = {
  /** Contact id (uuid). */
  sub: string;
  ch: Channel;
  /** Topic key, for a topic unsubscribe link. */
  tp?: string;
  /** Campaign key, for attribution. */
  cp?: string;
  /** Stored double opt-in request id, for purpose confirm. */
  rid?: string;
  pur: Purpose;
  iat: number;
  exp: number;
};

const ClaimsSchema = z.object({
  sub: z.string().min(1).max(64),
  ch: z.enum(CHANNELS),
  tp: z.string().max(64).optional(),
  cp: z.string().max(128).optional(),
  rid: z.string().max(64).optional(),
  pur: z.enum(PURPOSES),
  iat: z.number().int(),
  exp: z.number().int(),
});

export type TokenFailure = "invalid" | "expired" | "wrong_purpose";
export type VerifyResult = { ok: true; claims: LinkClaims } | { ok: false; reason: TokenFailure };

type KeyRing = { signer: { kid: string; key: CryptoKey }; byKid: Map<string, CryptoKey> };

// Importing an HMAC key costs more than verifying a token with it: import once per key set.
let ringCache: { source: readonly SigningKey[]; ring: Promise<KeyRing> } | undefined;

async function importKey(secret: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    secret as BufferSource,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

function keyRing(keys: readonly SigningKey[] = getSecrets().signingKeys): Promise<KeyRing> {
  if (ringCache?.source === keys) return ringCache.ring;
  const ring = (async () => {
    const entries = await Promise.all(
      keys.map(async (k) => [k.kid, await importKey(k.secret)] as const),
    );
    const byKid = new Map(entries);
    const first = keys[0]!;
    return { signer: { kid: first.kid, key: byKid.get(first.kid)! }, byKid };
  })();
  ringCache = { source: keys, ring };
  return ring;
}

export type SignInput = {
  contactId: string;
  channel: Channel;
  purpose: Purpose;
  topic?: string | null;
  campaign?: string | null;
  requestId?: string | null;
  /** Seconds; defaults to 400 days (7 for confirm). */
  ttlSeconds?: number;
  now?: Date;
};

export async function signLinkToken(
  input: SignInput,
  keys?: readonly SigningKey[],
): Promise<string> {
  const ring = await keyRing(keys);
  const iat = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const ttl =
    input.ttlSeconds ?? (input.purpose === "confirm" ? CONFIRM_TTL_SECONDS : LINK_TTL_SECONDS);
  const payload: JWTPayload & Partial<LinkClaims> = { ch: input.channel, pur: input.purpose };
  if (input.topic) payload.tp = input.topic;
  if (input.campaign) payload.cp = input.campaign;
  if (input.requestId) payload.rid = input.requestId;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "HS256", kid: ring.signer.kid })
    .setSubject(input.contactId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttl)
    .sign(ring.signer.key);
}

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}$/;

/**
 * Verifies signature (constant-time, in WebCrypto), expiry and purpose. The signature is checked
 * before expiry, so a tampered expired token reads as invalid, not expired.
 */
export async function verifyLinkToken(
  token: string,
  expected: Purpose | readonly Purpose[],
  options: { keys?: readonly SigningKey[]; now?: Date } = {},
): Promise<VerifyResult> {
  if (token.length > 2048 || !TOKEN_SHAPE.test(token)) return { ok: false, reason: "invalid" };
  const ring = await keyRing(options.keys);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(
      token,
      (header) => {
        const key = header.kid ? ring.byKid.get(header.kid) : undefined;
        if (!key) throw new errors.JWKSNoMatchingKey();
        return key;
      },
      {
        algorithms: ["HS256"],
        currentDate: options.now,
        requiredClaims: ["sub", "iat", "exp"],
      },
    ));
  } catch (e) {
    if (e instanceof errors.JWTExpired) return { ok: false, reason: "expired" };
    return { ok: false, reason: "invalid" };
  }
  const parsed = ClaimsSchema.safeParse(payload);
  if (!parsed.success) return { ok: false, reason: "invalid" };
  const purposes: readonly Purpose[] = typeof expected === "string" ? [expected] : expected;
  if (!purposes.includes(parsed.data.pur)) return { ok: false, reason: "wrong_purpose" };
  return { ok: true, claims: parsed.data };
}

/** HTTP status for a token failure (docs/links.md): 410 when expired, else 400. */
export function tokenFailureStatus(reason: TokenFailure): 400 | 410 {
  return reason === "expired" ? 410 : 400;
}
