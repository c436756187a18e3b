import crypto from "node:crypto";
import { PrefixedHmacSha256 } from "~/consent/hmac.server";
import { ByteBuffer } from "~/http/byte-buffer.server";
import { CHANNELS, type Channel } from "~/db/schema";
import { getSecrets, type SigningKey } from "~/secrets.server";

/**
 * Signed links (docs/links.md): compact JWS, HS256, `kid` in the header. Every configured key verifies,
 * the first signs, so keys rotate without breaking links already sent. Claims carry opaque values
 * only (a contact's uuid, the keyed hash of the address the link was sent to, a topic key, a
 * campaign key, a request id), never an address or a name.
 *
 * Why node:crypto and not jose here: a link token is one fixed shape (HS256 with a `kid`), and
 * signing and checking it with jose goes through WebCrypto's async key API and jose's general
 * JOSE machinery: a few thousand tokens per second, which capped the links batch (issue 14.4:
 * ≥ 50,000 links/s) and the token pages. Doing the same HMAC-SHA256 with node:crypto directly is
 * ~30× cheaper. The tokens are byte-for-byte standard JWS: tests/unit/tokens.test.ts checks that
 * jose verifies what we sign and that we verify what jose signs (every link already sent). The
 * signature is compared with crypto.timingSafeEqual (constant time), and the header is held to
 * what jose would accept for these tokens (alg HS256, no `crit`, no `b64`).
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
  /**
   * The keyed hash (ADDRESS_HASH_KEY) of the address the link was sent to: an unsubscribe link
   * keeps working for that address whatever happens to the contact record (deleted, re-created,
   * erased, its address changed). Absent from links signed before it existed.
   */
  ah?: string;
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

export type TokenFailure = "invalid" | "expired" | "wrong_purpose";
export type VerifyResult = { ok: true; claims: LinkClaims } | { ok: false; reason: TokenFailure };

type RingKey = { kid: string; key: crypto.KeyObject; secret: Uint8Array; header: string };
type KeyRing = { signer: RingKey; byKid: Map<string, RingKey>; byHeader: Map<string, RingKey> };

/** The header segment every token of this key carries (jose writes alg, then kid). */
function headerSegment(kid: string): string {
  return Buffer.from(JSON.stringify({ alg: "HS256", kid })).toString("base64url");
}

// Built once per key set (the secrets are read once per process).
let ringCache: { source: readonly SigningKey[]; ring: KeyRing } | undefined;

function keyRing(keys: readonly SigningKey[] = getSecrets().signingKeys): KeyRing {
  if (ringCache?.source === keys) return ringCache.ring;
  const entries = keys.map((k): RingKey => ({
    kid: k.kid,
    key: crypto.createSecretKey(Buffer.from(k.secret)),
    secret: k.secret,
    header: headerSegment(k.kid),
  }));
  const byKid = new Map<string, RingKey>();
  for (const e of entries) if (!byKid.has(e.kid)) byKid.set(e.kid, e);
  const ring: KeyRing = {
    signer: entries[0]!,
    byKid,
    byHeader: new Map(entries.map((e) => [e.header, e])),
  };
  ringCache = { source: keys, ring };
  return ring;
}

function hmac(key: crypto.KeyObject, signingInput: string): Buffer {
  return crypto.createHmac("sha256", key).update(signingInput).digest();
}

export type SignInput = {
  contactId: string;
  channel: Channel;
  purpose: Purpose;
  /** The keyed hash of the address the link is sent to (addressKey); for unsubscribe links. */
  addressHash?: string | null;
  topic?: string | null;
  campaign?: string | null;
  requestId?: string | null;
  /** Seconds; defaults to 400 days (7 for confirm). */
  ttlSeconds?: number;
  now?: Date;
};

/** Signs a link token synchronously (the links batch signs tens of thousands per request). */
export function signLinkTokenSync(input: SignInput, keys?: readonly SigningKey[]): string {
  const ring = keyRing(keys);
  const iat = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const ttl =
    input.ttlSeconds ?? (input.purpose === "confirm" ? CONFIRM_TTL_SECONDS : LINK_TTL_SECONDS);
  const payload: Partial<LinkClaims> = { ch: input.channel, pur: input.purpose };
  if (input.addressHash) payload.ah = input.addressHash;
  if (input.topic) payload.tp = input.topic;
  if (input.campaign) payload.cp = input.campaign;
  if (input.requestId) payload.rid = input.requestId;
  payload.sub = input.contactId;
  payload.iat = iat;
  payload.exp = iat + ttl;
  const input64 = `${ring.signer.header}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
  return `${input64}.${hmac(ring.signer.key, input64).toString("base64url")}`;
}

/** Characters a JSON string holds as they are (no escape needed). */
const JSON_PLAIN = /^[A-Za-z0-9_.:/-]*$/;
const jsonString = (v: string) => (JSON_PLAIN.test(v) ? `"${v}"` : JSON.stringify(v));

const BASE64URL = Buffer.from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

/**
 * Base64url (no padding) of `src[start..end)` written at `out[at..)`; returns the end. What
 * Buffer#toString("base64url") gives, without a string per call (the links batch encodes 40,000
 * segments a call straight into its answer).
 */
export function base64urlInto(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  at: number,
): number {
  let i = start;
  for (; i + 2 < end; i += 3) {
    const v = (src[i]! << 16) | (src[i + 1]! << 8) | src[i + 2]!;
    out[at++] = BASE64URL[v >>> 18]!;
    out[at++] = BASE64URL[(v >>> 12) & 63]!;
    out[at++] = BASE64URL[(v >>> 6) & 63]!;
    out[at++] = BASE64URL[v & 63]!;
  }
  if (end - i === 1) {
    const v = src[i]! << 16;
    out[at++] = BASE64URL[v >>> 18]!;
    out[at++] = BASE64URL[(v >>> 12) & 63]!;
  } else if (end - i === 2) {
    const v = (src[i]! << 16) | (src[i + 1]! << 8);
    out[at++] = BASE64URL[v >>> 18]!;
    out[at++] = BASE64URL[(v >>> 12) & 63]!;
    out[at++] = BASE64URL[(v >>> 6) & 63]!;
  }
  return at;
}

// The payload's JSON, assembled per token (signing is synchronous: one writer at a time uses it).
let payload = Buffer.allocUnsafe(1024);
const mac = Buffer.alloc(32);
const AH = Buffer.from(`,"ah":`);

/** Copies `src` to `dst[at..)`; returns the end (a loop: for ~20 bytes a native copy costs more). */
function put(src: Uint8Array, dst: Uint8Array, at: number): number {
  for (let i = 0; i < src.length; i++) dst[at + i] = src[i]!;
  return at + src.length;
}

/** The ASCII characters a JSON string holds as they are in a token payload (JSON_PLAIN's). */
const PLAIN = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:/-") {
  PLAIN[c.charCodeAt(0)] = 1;
}

/**
 * Writes a JSON string value at payload[at..); returns the end. Plain values (uuids, address
 * hashes) are copied character by character while checked, in one pass (a regex test and a
 * Buffer write per value were ~10 % of a batch); anything else goes through JSON.stringify.
 */
function jsonInto(v: string, at: number): number {
  payload[at] = 0x22;
  let i = 0;
  for (; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c >= 128 || PLAIN[c] === 0) break;
    payload[at + 1 + i] = c;
  }
  if (i === v.length) {
    payload[at + 1 + i] = 0x22;
    return at + i + 2;
  }
  return at + payload.write(JSON.stringify(v), at, "utf8");
}

/**
 * A writer of many tokens of one shape (the links batch writes two per link, 20,000 per call):
 * the channel, purpose, topic, campaign, iat and exp are the same for every token, so the
 * payload's JSON is assembled from bytes built once around the contact id and address hash,
 * with the same members in the same order as signLinkTokenSync (the tokens are byte for byte
 * what it signs: tests/unit/tokens.test.ts, which also has jose verify them).
 *
 * The token is written where it is used (the batch's arena): header, base64url of the payload,
 * and the HMAC computed over those bytes in place with the pad states and the leading blocks
 * every token of the writer shares precomputed (PrefixedHmacSha256; decision 0103). No string,
 * Hmac object or Buffer is made per token.
 *
 * A class rather than a closure: every instance's `write` is the same function, so the batch's
 * loop that calls it for one batch after another stays optimized (a new closure per batch is a
 * new call target, and V8 discarded the optimized loop on each: decision 0115).
 */
export class LinkTokens {
  private readonly sub: Buffer;
  private readonly tail: Buffer;
  private readonly fixed: number;
  private readonly withHash: TokenStart;
  private readonly withoutHash: TokenStart;

  constructor(
    input: Omit<SignInput, "contactId" | "addressHash" | "requestId">,
    keys?: readonly SigningKey[],
  ) {
    const ring = keyRing(keys);
    const iat = Math.floor((input.now ?? new Date()).getTime() / 1000);
    const ttl =
      input.ttlSeconds ?? (input.purpose === "confirm" ? CONFIRM_TTL_SECONDS : LINK_TTL_SECONDS);
    const head = Buffer.from(
      `{"ch":${jsonString(input.channel)},"pur":${jsonString(input.purpose)}`,
    );
    let middle = "";
    if (input.topic) middle += `,"tp":${jsonString(input.topic)}`;
    if (input.campaign) middle += `,"cp":${jsonString(input.campaign)}`;
    const sub = Buffer.from(`${middle},"sub":`);
    this.sub = sub;
    this.tail = Buffer.from(`,"iat":${iat},"exp":${iat + ttl}}`);
    this.fixed = head.length + AH.length + sub.length + this.tail.length + 8;
    const prefix = Buffer.from(`${ring.signer.header}.`, "latin1");
    const secret = ring.signer.secret;
    // Tokens with and without an address hash start differently: the payload up to the first
    // value that varies is `head` + `,"ah":` or `head` + `,"sub":`.
    this.withHash = tokenStart(secret, prefix, Buffer.concat([head, AH]));
    this.withoutHash = tokenStart(secret, prefix, Buffer.concat([head, sub]));
  }

  /** Writes one token at the end of `to`; returns where it starts (it ends at `to.length`). */
  write(to: ByteBuffer, contactId: string, addressHash?: string | null): number {
    // JSON escapes take at most 6 bytes per UTF-16 unit.
    const most = this.fixed + 6 * (contactId.length + (addressHash?.length ?? 0));
    if (payload.length < most) payload = Buffer.allocUnsafe(most * 2);
    const t = addressHash ? this.withHash : this.withoutHash;
    // The payload after the batch's shared start: the start's last bytes that do not fill a
    // 3-byte group, then the values.
    let n = put(t.rest, payload, 0);
    if (addressHash) {
      n = jsonInto(addressHash, n);
      n = put(this.sub, payload, n);
    }
    n = jsonInto(contactId, n);
    n = put(this.tail, payload, n);
    const encoded = t.encoded;
    to.reserve(encoded.length + Math.ceil(n / 3) * 4 + 44);
    const out = to.buf;
    const start = to.length;
    let at = put(encoded, out, start);
    at = base64urlInto(payload, 0, n, out, at);
    t.hmac.mac(out, start, at, mac, 0);
    out[at++] = 0x2e; // "."
    to.length = base64urlInto(mac, 0, 32, out, at);
    return start;
  }
}

/**
 * The start every token of a LinkTokens shares: the header and dot, then the base64url of the
 * payload's whole 3-byte groups before the first value that varies (`encoded`: base64url of
 * whole groups is the same whatever follows them, so it is copied, not encoded, per token), the
 * remaining 0–2 bytes of that start (`rest`, encoded with the values), and the HMAC whose
 * inner state after the 64-byte blocks of `encoded` is computed once.
 */
type TokenStart = { encoded: Buffer; rest: Buffer; hmac: PrefixedHmacSha256 };

function tokenStart(secret: Uint8Array, prefix: Buffer, start: Buffer): TokenStart {
  const whole = start.length - (start.length % 3);
  const encoded = Buffer.concat([
    prefix,
    Buffer.from(start.subarray(0, whole).toString("base64url"), "latin1"),
  ]);
  return {
    encoded,
    rest: Buffer.from(start.subarray(whole)),
    hmac: new PrefixedHmacSha256(secret, encoded),
  };
}

const signerScratch = new ByteBuffer(1024);

/** LinkTokens' tokens as strings (for callers that need a few). */
export function linkTokenSigner(
  input: Omit<SignInput, "contactId" | "addressHash" | "requestId">,
  keys?: readonly SigningKey[],
): (contactId: string, addressHash?: string | null) => string {
  const tokens = new LinkTokens(input, keys);
  return (contactId, addressHash) => {
    signerScratch.length = 0;
    const start = tokens.write(signerScratch, contactId, addressHash);
    return signerScratch.latin1(start, signerScratch.length);
  };
}

export async function signLinkToken(
  input: SignInput,
  keys?: readonly SigningKey[],
): Promise<string> {
  return signLinkTokenSync(input, keys);
}

const TOKEN_SHAPE = /^([A-Za-z0-9_-]{10,})\.([A-Za-z0-9_-]{10,})\.([A-Za-z0-9_-]{43})$/;
const HEADER_KEYS = new Set(["alg", "kid", "typ"]);

function parseJson(segment: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return v !== null && typeof v === "object" && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** The key a token's header names, when the header is one jose would accept for HS256. */
function keyOf(ring: KeyRing, header: string): RingKey | null {
  const known = ring.byHeader.get(header);
  if (known) return known;
  const h = parseJson(header);
  if (!h || h.alg !== "HS256" || typeof h.kid !== "string") return null;
  if (Object.keys(h).some((k) => !HEADER_KEYS.has(k))) return null;
  return ring.byKid.get(h.kid) ?? null;
}

const CHANNEL_SET: ReadonlySet<string> = new Set(CHANNELS);
const PURPOSE_SET: ReadonlySet<string> = new Set(PURPOSES);

const optionalString = (v: unknown, max: number) =>
  v === undefined || (typeof v === "string" && v.length <= max);

function claimsOf(p: Record<string, unknown>): LinkClaims | null {
  const { sub, ch, ah, tp, cp, rid, pur, iat, exp } = p;
  if (typeof sub !== "string" || sub.length < 1 || sub.length > 64) return null;
  if (typeof ch !== "string" || !CHANNEL_SET.has(ch)) return null;
  if (typeof pur !== "string" || !PURPOSE_SET.has(pur)) return null;
  if (!Number.isSafeInteger(iat) || !Number.isSafeInteger(exp)) return null;
  if (!optionalString(ah, 64) || !optionalString(tp, 64) || !optionalString(cp, 128)) return null;
  if (!optionalString(rid, 64)) return null;
  if (p.nbf !== undefined) return null; // never set by Heed
  const claims: LinkClaims = {
    sub,
    ch: ch as Channel,
    pur: pur as Purpose,
    iat: iat as number,
    exp: exp as number,
  };
  if (ah !== undefined) claims.ah = ah as string;
  if (tp !== undefined) claims.tp = tp as string;
  if (cp !== undefined) claims.cp = cp as string;
  if (rid !== undefined) claims.rid = rid as string;
  return claims;
}

/**
 * Verifies signature (constant-time), expiry and purpose, synchronously. The signature is
 * checked before expiry, so a tampered expired token reads as invalid, not expired.
 */
export function verifyLinkTokenSync(
  token: string,
  expected: Purpose | readonly Purpose[],
  options: { keys?: readonly SigningKey[]; now?: Date } = {},
): VerifyResult {
  if (token.length > 2048) return { ok: false, reason: "invalid" };
  const m = TOKEN_SHAPE.exec(token);
  if (!m) return { ok: false, reason: "invalid" };
  const [, header, payload, signature] = m as unknown as [string, string, string, string];
  const key = keyOf(keyRing(options.keys), header);
  if (!key) return { ok: false, reason: "invalid" };
  const expectedMac = hmac(key.key, `${header}.${payload}`);
  const given = Buffer.from(signature, "base64url");
  // Both are 32 bytes (the shape fixes 43 base64url characters); compared in constant time.
  if (given.length !== expectedMac.length || !crypto.timingSafeEqual(given, expectedMac)) {
    return { ok: false, reason: "invalid" };
  }
  const p = parseJson(payload);
  const claims = p && claimsOf(p);
  if (!claims) return { ok: false, reason: "invalid" };
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (claims.exp <= now) return { ok: false, reason: "expired" };
  const purposes: readonly Purpose[] = typeof expected === "string" ? [expected] : expected;
  if (!purposes.includes(claims.pur)) return { ok: false, reason: "wrong_purpose" };
  return { ok: true, claims };
}

export async function verifyLinkToken(
  token: string,
  expected: Purpose | readonly Purpose[],
  options: { keys?: readonly SigningKey[]; now?: Date } = {},
): Promise<VerifyResult> {
  return verifyLinkTokenSync(token, expected, options);
}

/**
 * The claims of a token whose signature is good, whatever its expiry and purpose (for the
 * language of an error page, or a confirmation page offering a new link). Null when not genuine.
 */
export function genuineClaims(token: string, keys?: readonly SigningKey[]): LinkClaims | null {
  const v = verifyLinkTokenSync(token, PURPOSES, { keys, now: new Date(0) });
  return v.ok ? v.claims : null;
}

/** HTTP status for a token failure (docs/links.md): 410 when expired, else 400. */
export function tokenFailureStatus(reason: TokenFailure): 400 | 410 {
  return reason === "expired" ? 410 : 400;
}
