import { sql } from "kysely";
import { ApiError } from "~/api/errors.server";
import { contactAddress } from "~/api/contacts.server";
import type { Db } from "~/db/db.server";
import type { Channel, Contact } from "~/db/schema";
import { getEnv } from "~/env.server";
import { normalizeAddress, normalizeEmail } from "~/consent/address.server";
import { addressKey } from "~/consent/consent.server";
import { createMailtoAddresses, mailtoConfig } from "~/email/mailto.server";
import { newShortCode } from "~/links/short-links.server";
import { ByteBuffer } from "~/http/byte-buffer.server";
import { LINK_TTL_SECONDS, LinkTokens, signLinkTokenSync } from "~/links/tokens.server";
import { defaultPhoneRegion } from "~/settings/phone-region.server";

/**
 * Links for messages (docs/links.md): a preferences link and an unsubscribe link signed for the
 * contact (opaque ids only), the List-Unsubscribe headers for email (RFC 2369 + RFC 8058
 * one-click), and a short link for SMS/WhatsApp.
 */

export type LinkOptions = { channel: Channel; topic?: string | null; campaign?: string | null };

export type LinksJson = {
  preferencesUrl: string;
  unsubscribeUrl: string;
  shortUrl?: string;
  headers?: { "List-Unsubscribe": string; "List-Unsubscribe-Post": "List-Unsubscribe=One-Click" };
};

export function listUnsubscribeHeaders(unsubscribeUrl: string, mailto?: string) {
  const values = [`<${unsubscribeUrl}>`];
  if (mailto) values.push(`<mailto:${mailto}?subject=unsubscribe>`);
  return {
    "List-Unsubscribe": values.join(", "),
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click" as const,
  };
}

export async function assertTopicExists(
  db: Db,
  topic: string | null | undefined,
  channel: Channel,
) {
  if (!topic) return;
  const row = await db
    .selectFrom("topics")
    .select(["key", "channels"])
    .where("key", "=", topic)
    .where("archived_at", "is", null)
    .executeTakeFirst();
  if (!row || !row.channels.includes(channel)) {
    throw new ApiError(422, "unknown_topic", `No topic "${topic}" is offered on ${channel}`, {
      topic,
      channel,
    });
  }
}

/**
 * The keyed hash of the address a link is sent to (the unsubscribe token's `ah`, docs/links.md):
 * what the link unsubscribes for its whole life, whatever becomes of the contact. An address already
 * in normalized form (a lower-case ASCII email, an E.164 number) is hashed as it is (parsing is
 * the costly part of a batch); anything else is normalized first. Null when the address does not normalize.
 */
function linkAddressHash(channel: Channel, raw: string, region: string | undefined): string | null {
  // Already in normalized form (what the API stores): normalizing would give it back unchanged
  // (an invalid one is never looked up by hash: the send check refuses it as invalid first).
  if (channel === "email" ? PLAIN_EMAIL.test(raw) : E164.test(raw)) return addressKey(raw);
  const n = normalizeAddress(channel, raw, region);
  return n.ok ? addressKey(n.address) : null;
}
const E164 = /^\+[1-9][0-9]{6,14}$/;
const PLAIN_EMAIL = /^[a-z0-9._%+-]{1,64}@[a-z0-9-]+(\.[a-z0-9-]+)+$/;

// Signed synchronously with node:crypto (app/links/tokens.server.ts): a batch signs 20,000 tokens.
function signedLinks(contactId: string, addressHash: string | null, o: LinkOptions, now: Date) {
  const common = { contactId, channel: o.channel, campaign: o.campaign ?? null, now };
  return {
    preferences: signLinkTokenSync({ ...common, purpose: "preferences" }),
    unsubscribe: signLinkTokenSync({
      ...common,
      purpose: "unsubscribe",
      topic: o.topic ?? null,
      addressHash,
    }),
  };
}

/** Stores many short links in set-based inserts; returns their codes in order. */
export async function createShortLinks(
  db: Db,
  targets: readonly string[],
  expiresAt: Date,
): Promise<string[]> {
  const codes: (string | undefined)[] = new Array(targets.length);
  let pending = targets.map((_, i) => i);
  for (let attempt = 0; attempt < 5 && pending.length > 0; attempt++) {
    const next: number[] = [];
    for (let start = 0; start < pending.length; start += 2000) {
      const slice = pending.slice(start, start + 2000);
      const proposed = slice.map(() => newShortCode());
      const inserted = await db
        .insertInto("short_links")
        .values(
          slice.map((i, j) => ({ code: proposed[j]!, target: targets[i]!, expires_at: expiresAt })),
        )
        .onConflict((oc) => oc.column("code").doNothing())
        .returning("code")
        .execute();
      const ok = new Set(inserted.map((r) => r.code));
      slice.forEach((i, j) => {
        if (ok.has(proposed[j]!)) codes[i] = proposed[j];
        else next.push(i);
      });
    }
    pending = next;
  }
  if (pending.length > 0) throw new Error("Could not allocate unique short codes");
  return codes as string[];
}

function buildJson(
  o: LinkOptions,
  tokens: { preferences: string; unsubscribe: string },
  shortCode: string | undefined,
  mailto: string | undefined,
): LinksJson {
  const env = getEnv();
  const unsubscribeUrl = `${env.publicUrl}/u/${tokens.unsubscribe}`;
  const out: LinksJson = {
    preferencesUrl: `${env.publicUrl}/p/${tokens.preferences}`,
    unsubscribeUrl,
  };
  if (shortCode) out.shortUrl = `${env.publicUrl}/s/${shortCode}`;
  if (o.channel === "email") out.headers = listUnsubscribeHeaders(unsubscribeUrl, mailto);
  return out;
}

/**
 * The List-Unsubscribe mailto of each email link (with its opaque per-link code, see
 * app/email/mailto.server.ts), when UNSUBSCRIBE_MAILTO is set. One statement for the whole batch.
 */
async function mailtoFor(
  db: Db,
  o: LinkOptions,
  links: readonly { contactId: string; address: string }[],
): Promise<(string | undefined)[]> {
  const config = mailtoConfig();
  if (o.channel !== "email" || !config || links.length === 0) return links.map(() => undefined);
  const normalized = links.map((l) => normalizeEmail(l.address));
  const valid = links.flatMap((l, i) => {
    const n = normalized[i]!;
    return n.ok
      ? [{ ...l, address: n.address, topic: o.topic ?? null, campaign: o.campaign ?? null }]
      : [];
  });
  const addresses = await createMailtoAddresses(db, valid, config);
  let next = 0;
  return normalized.map((n) => (n.ok ? addresses[next++] : undefined));
}

export async function createLinks(db: Db, contact: Contact, o: LinkOptions): Promise<LinksJson> {
  const address = contactAddress(contact, o.channel);
  if (!address) {
    throw new ApiError(422, "no_address", `The contact has no address on ${o.channel}`, {
      channel: o.channel,
    });
  }
  await assertTopicExists(db, o.topic, o.channel);
  const now = new Date();
  const region = defaultPhoneRegion();
  const tokens = signedLinks(contact.id, linkAddressHash(o.channel, address, region), o, now);
  let code: string | undefined;
  if (o.channel !== "email") {
    const expiresAt = new Date(now.getTime() + LINK_TTL_SECONDS * 1000);
    [code] = await createShortLinks(db, [`/u/${tokens.unsubscribe}`], expiresAt);
  }
  const [mailto] = await mailtoFor(db, o, [{ contactId: contact.id, address }]);
  return buildJson(o, tokens, code, mailto);
}

export type BatchEntry =
  | (LinksJson & { externalId: string })
  | { externalId: string; error: { code: string; message: string } };

const NO_ADDRESS_MESSAGE = (channel: Channel) => `The contact has no address on ${channel}`;
const NOT_FOUND_MESSAGE = "No contact has this external id";

/** The contacts a batch names: for each distinct external id, its contact and address, if any. */
type BatchContacts = {
  /** The distinct external ids, in first-seen order (`slot` maps each to its index here). */
  unique: string[];
  slot: Map<string, number>;
  contactId: (string | undefined)[];
  /** The contact's address on the channel; null or "" when it has none. */
  address: (string | null | undefined)[];
};

/**
 * The contacts of `contacts.unique[from, to)`, in one statement, into `contacts`. The external ids
 * go in as one JSON text and the rows come back as one text value, `{index} {contact id}
 * {address}` per line, not as rows: on PGlite every row of a result is a protocol message parsed
 * in JavaScript (in its worker) and copied across to this thread (decision 0103). An address
 * without a newline is sent as it is (`r`), one with a newline as JSON (`j`), none as `n`, so
 * every line parses. The join probes contacts' unique external_id index once per id.
 */
async function readContacts(
  db: Db,
  contacts: BatchContacts,
  from: number,
  to: number,
  channel: Channel,
): Promise<void> {
  const a = sql.ref(channel === "email" ? "c.email" : "c.phone");
  const ids = JSON.stringify(contacts.unique.slice(from, to));
  const { rows } = await sql<{ lines: string | null }>`
    select string_agg(t.i || ' ' || c.id || case
        when ${a} is null then ' n'
        when strpos(${a}, E'\n') = 0 then ' r' || ${a}
        else ' j' || to_json(${a})::text end, E'\n') as lines
    from json_array_elements_text(${ids}::json) with ordinality as t(x, i)
    join contacts c on c.external_id = t.x
    where c.erased_at is null`.execute(db);
  parseContactLines(rows[0]?.lines ?? "", from - 1, contacts.contactId, contacts.address);
}

/*
 * The loops of a batch live in small synchronous functions of their own (distinctIds,
 * parseContactLines, signBatch, writeAnswer), and the two that do most of the work are called
 * for CHUNK contacts at a time. A loop inline in a large async function was compiled on stack
 * replacement (40–70 ms of compiler CPU each time) and thrown away on reaching code after the
 * loop whose type feedback it lacked, call after call, so the first several calls of a fresh
 * server cost 2–3× a later one; a function called for a chunk at a time has run whole before it
 * is optimized, and keeps its optimized code (decision 0115).
 */
const CHUNK = 256;

/** How many contacts one statement of a batch reads (see batchLinks). */
const READ_SLICE = 2000;

/** The distinct external ids in first-seen order, and each one's index among them. */
function distinctIds(externalIds: readonly string[]): {
  slot: Map<string, number>;
  unique: string[];
} {
  const slot = new Map<string, number>();
  const unique: string[] = [];
  for (let from = 0; from < externalIds.length; from += CHUNK) {
    addDistinct(externalIds, from, Math.min(externalIds.length, from + CHUNK), slot, unique);
  }
  return { slot, unique };
}

function addDistinct(
  externalIds: readonly string[],
  from: number,
  to: number,
  slot: Map<string, number>,
  unique: string[],
): void {
  for (let k = from; k < to; k++) {
    const id = externalIds[k]!;
    if (slot.get(id) === undefined) {
      slot.set(id, unique.length);
      unique.push(id);
    }
  }
}

/** Reads readContacts' lines (`{index} {contact id} {r address | j json | n}`; index + offset). */
function parseContactLines(
  lines: string,
  offset: number,
  contactId: (string | undefined)[],
  address: (string | null | undefined)[],
): void {
  for (let at = 0; at < lines.length;) {
    let end = lines.indexOf("\n", at);
    if (end < 0) end = lines.length;
    const s1 = lines.indexOf(" ", at);
    const s2 = lines.indexOf(" ", s1 + 1);
    let i = 0;
    for (let p = at; p < s1; p++) i = i * 10 + lines.charCodeAt(p) - 48;
    i += offset;
    contactId[i] = lines.slice(s1 + 1, s2);
    const kind = lines.charCodeAt(s2 + 1);
    address[i] =
      kind === 0x6e // "n"
        ? null
        : kind === 0x72 // "r"
          ? lines.slice(s2 + 2, end)
          : (JSON.parse(lines.slice(s2 + 2, end)) as string);
    at = end + 1;
  }
}

/**
 * What a batch made for each distinct external id (indexes of BatchContacts): whether the contact
 * was found and has an address, and where its two tokens are in `tokens` (preferences at
 * [4i, 4i+1), unsubscribe at [4i+2, 4i+3) of `at`), its short code and mailto address.
 */
type BatchMade = {
  contacts: BatchContacts;
  state: Uint8Array;
  tokens: ByteBuffer;
  at: Int32Array;
  shortCode: (string | undefined)[];
  mailto: (string | undefined)[];
};
const NOT_FOUND = 0;
const NO_ADDRESS = 1;
const MADE = 2;

/**
 * The links of many contacts of one campaign. Set-based: one statement per 2,000 reads the contacts, one
 * (per 2,000) stores SMS short links, one stores email mailto codes. The tokens are written into
 * one buffer (LinkTokens: the payload around the contact id and address hash is built once
 * per batch, the HMAC computed in place), two per contact however often its external id repeats.
 */
async function batchLinks(
  db: Db,
  externalIds: readonly string[],
  o: LinkOptions,
): Promise<BatchMade> {
  await assertTopicExists(db, o.topic, o.channel);
  const { slot, unique } = distinctIds(externalIds);
  const n = unique.length;
  const contacts: BatchContacts = {
    unique,
    slot,
    contactId: new Array<string | undefined>(n),
    address: new Array<string | null | undefined>(n),
  };
  const now = new Date();
  const region = defaultPhoneRegion();
  const common = { channel: o.channel, campaign: o.campaign ?? null, now };
  const preferences = new LinkTokens({ ...common, purpose: "preferences" });
  const unsubscribe = new LinkTokens({ ...common, purpose: "unsubscribe", topic: o.topic ?? null });
  const state = new Uint8Array(n);
  const at = new Int32Array(n * 4);
  const tokens = takeArena(n * 600);
  const made: number[] = [];
  const out = { state, at, tokens, made };
  // The contacts are read READ_SLICE at a time, the next slice's statement running (in the
  // database's process, or PGlite's worker thread) while this slice's tokens are signed here: the
  // database's ~4 µs per id no longer adds to the signing's time (decision 0115).
  let pending: Promise<void> | null = readContacts(
    db,
    contacts,
    0,
    Math.min(n, READ_SLICE),
    o.channel,
  );
  try {
    for (let from = 0; from < n; from += READ_SLICE) {
      const to = Math.min(n, from + READ_SLICE);
      const current = pending!;
      pending = null;
      await current;
      if (to < n) pending = readContacts(db, contacts, to, Math.min(n, to + READ_SLICE), o.channel);
      for (let c = from; c < to; c += CHUNK) {
        signBatch(
          contacts,
          o.channel,
          region,
          preferences,
          unsubscribe,
          out,
          c,
          Math.min(to, c + CHUNK),
        );
      }
    }
  } finally {
    // A statement still running when signing failed: waited for, its outcome dropped.
    if (pending) await pending.catch(() => {});
  }
  const shortCode: (string | undefined)[] = [];
  const mailto: (string | undefined)[] = [];
  if (o.channel !== "email" && made.length > 0) {
    const expiresAt = new Date(now.getTime() + LINK_TTL_SECONDS * 1000);
    const targets = made.map((i) => `/u/${tokens.latin1(at[4 * i + 2]!, at[4 * i + 3]!)}`);
    const codes = await createShortLinks(db, targets, expiresAt);
    made.forEach((i, k) => (shortCode[i] = codes[k]));
  }
  if (o.channel === "email" && made.length > 0) {
    const links = made.map((i) => ({
      contactId: contacts.contactId[i]!,
      address: contacts.address[i]!,
    }));
    const addresses = await mailtoFor(db, o, links);
    made.forEach((i, k) => (mailto[i] = addresses[k]));
  }
  return { contacts, state, tokens, at, shortCode, mailto };
}

/**
 * Contacts [from, to): signs the two tokens of each one found with an address (into
 * `out.tokens`, their bounds in `out.at`), marks its state, adds it to `out.made`.
 */
function signBatch(
  contacts: BatchContacts,
  channel: Channel,
  region: string | undefined,
  preferences: LinkTokens,
  unsubscribe: LinkTokens,
  out: { state: Uint8Array; at: Int32Array; tokens: ByteBuffer; made: number[] },
  from: number,
  to: number,
): void {
  const { state, at, tokens, made } = out;
  for (let i = from; i < to; i++) {
    const id = contacts.contactId[i];
    if (id === undefined) continue;
    const address = contacts.address[i];
    if (!address) {
      state[i] = NO_ADDRESS;
      continue;
    }
    state[i] = MADE;
    made.push(i);
    const hash = linkAddressHash(channel, address, region);
    at[4 * i] = preferences.write(tokens, id);
    at[4 * i + 1] = tokens.length;
    at[4 * i + 2] = unsubscribe.write(tokens, id, hash);
    at[4 * i + 3] = tokens.length;
  }
}

/** Links for many contacts of one campaign, in request order. */
export async function createLinksBatch(
  db: Db,
  externalIds: readonly string[],
  o: LinkOptions,
): Promise<BatchEntry[]> {
  const b = await batchLinks(db, externalIds, o);
  const entries = externalIds.map((externalId): BatchEntry => {
    const i = b.contacts.slot.get(externalId)!;
    if (b.state[i] === NO_ADDRESS)
      return { externalId, error: { code: "no_address", message: NO_ADDRESS_MESSAGE(o.channel) } };
    if (b.state[i] === NOT_FOUND)
      return { externalId, error: { code: "contact_not_found", message: NOT_FOUND_MESSAGE } };
    const tokens = {
      preferences: b.tokens.latin1(b.at[4 * i]!, b.at[4 * i + 1]!),
      unsubscribe: b.tokens.latin1(b.at[4 * i + 2]!, b.at[4 * i + 3]!),
    };
    return { externalId, ...buildJson(o, tokens, b.shortCode[i], b.mailto[i]) };
  });
  releaseArena(b.tokens);
  return entries;
}

/**
 * The buffer a batch's tokens are written into (~5 MB for 10,000 contacts) is kept for the next
 * batch: allocating it anew each time made V8 count that much more external memory per call and
 * collect garbage for it (decision 0115). A batch takes it for itself (two batches at once get
 * two buffers) and gives it back only after its last read of the tokens (they are copied into
 * the answer or into strings, nothing keeps pointing into the buffer); one is kept.
 */
let spareArena: ByteBuffer | null = null;

function takeArena(bytes: number): ByteBuffer {
  const arena = spareArena;
  spareArena = null;
  if (!arena) return new ByteBuffer(bytes);
  arena.length = 0;
  arena.reserve(bytes);
  return arena;
}

function releaseArena(arena: ByteBuffer): void {
  spareArena = arena;
}

/** JSON string content (no quotes) as UTF-8 bytes. */
const jsonBytes = (s: string) => Buffer.from(JSON.stringify(s).slice(1, -1));

/**
 * The same answer as createLinksBatch, as the UTF-8 bytes of `{"results":[…]}` (what the API
 * route sends): written straight from the tokens into one buffer, without 10,000 objects, an
 * 11 MB string and its encoding (the same members in the same order as JSON.stringify of
 * createLinksBatch's entries; a test compares the two). An unsubscribe URL is written once and
 * copied into the List-Unsubscribe header.
 */
export async function createLinksBatchJson(
  db: Db,
  externalIds: readonly string[],
  o: LinkOptions,
): Promise<Buffer<ArrayBuffer>> {
  const b = await batchLinks(db, externalIds, o);
  const base = JSON.stringify(getEnv().publicUrl).slice(1, -1);
  const email = o.channel === "email";
  const noAddress = Buffer.from(
    `,"error":${JSON.stringify({ code: "no_address", message: NO_ADDRESS_MESSAGE(o.channel) })}}`,
  );
  const notFound = Buffer.from(
    `,"error":${JSON.stringify({ code: "contact_not_found", message: NOT_FOUND_MESSAGE })}}`,
  );
  const preferencesUrl = Buffer.from(`,"preferencesUrl":"${base}/p/`);
  const unsubscribeUrl = Buffer.from(`","unsubscribeUrl":"`);
  const unsubscribeBase = Buffer.from(`${base}/u/`);
  const shortUrl = Buffer.from(`","shortUrl":"${base}/s/`);
  const headers = Buffer.from(`","headers":{"List-Unsubscribe":"<`);
  const mailtoOpen = Buffer.from(`>, <mailto:`);
  const mailtoClose = Buffer.from(`?subject=unsubscribe`);
  const headersEnd = Buffer.from(`>","List-Unsubscribe-Post":"List-Unsubscribe=One-Click"}}`);
  const entryEnd = Buffer.from(`"}`);
  const entryStart = Buffer.from(`{"externalId":`);
  const out = new ByteBuffer(externalIds.length * (email ? 1300 : 800) + 64);
  const parts: AnswerParts = {
    noAddress,
    notFound,
    preferencesUrl,
    unsubscribeUrl,
    unsubscribeBase,
    shortUrl,
    headers,
    mailtoOpen,
    mailtoClose,
    headersEnd,
    entryEnd,
    entryStart,
  };
  out.utf8(`{"results":[`);
  for (let from = 0; from < externalIds.length; from += CHUNK) {
    const to = Math.min(externalIds.length, from + CHUNK);
    writeAnswer(out, externalIds, b, email, parts, from, to);
  }
  out.utf8("]}");
  releaseArena(b.tokens);
  return out.view();
}

type AnswerParts = Record<
  | "noAddress"
  | "notFound"
  | "preferencesUrl"
  | "unsubscribeUrl"
  | "unsubscribeBase"
  | "shortUrl"
  | "headers"
  | "mailtoOpen"
  | "mailtoClose"
  | "headersEnd"
  | "entryEnd"
  | "entryStart",
  Buffer
>;

/** Writes the entries [from, to) of createLinksBatchJson's `results`. */
function writeAnswer(
  out: ByteBuffer,
  externalIds: readonly string[],
  b: BatchMade,
  email: boolean,
  p: AnswerParts,
  from: number,
  to: number,
): void {
  const tokens = b.tokens.buf;
  for (let k = from; k < to; k++) {
    if (k > 0) out.byte(0x2c); // ","
    const externalId = externalIds[k]!;
    out.bytes(p.entryStart);
    jsonStringInto(out, externalId);
    const i = b.contacts.slot.get(externalId)!;
    const state = b.state[i];
    if (state === NO_ADDRESS) out.bytes(p.noAddress);
    else if (state === NOT_FOUND) out.bytes(p.notFound);
    else {
      // Tokens, short codes and mailto codes are URL-safe ASCII: nothing in them needs escaping.
      out.bytes(p.preferencesUrl);
      out.bytes(tokens, b.at[4 * i]!, b.at[4 * i + 1]!);
      out.bytes(p.unsubscribeUrl);
      const urlStart = out.length;
      out.bytes(p.unsubscribeBase);
      out.bytes(tokens, b.at[4 * i + 2]!, b.at[4 * i + 3]!);
      const urlEnd = out.length;
      const code = b.shortCode[i];
      if (code) {
        out.bytes(p.shortUrl);
        out.utf8(code);
      }
      if (email) {
        out.bytes(p.headers);
        out.again(urlStart, urlEnd);
        const mailto = b.mailto[i];
        if (mailto) {
          out.bytes(p.mailtoOpen);
          out.bytes(jsonBytes(mailto));
          out.bytes(p.mailtoClose);
        }
        out.bytes(p.headersEnd);
      } else out.bytes(p.entryEnd);
    }
  }
}

/**
 * Appends `JSON.stringify(s)`: printable ASCII other than `"` and `\` is copied as it is, in one
 * pass (an external id is usually such); anything else goes through JSON.stringify.
 */
function jsonStringInto(out: ByteBuffer, s: string): void {
  const n = s.length;
  out.reserve(n + 2);
  const buf = out.buf;
  const at = out.length;
  buf[at] = 0x22;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
      out.utf8(JSON.stringify(s));
      return;
    }
    buf[at + 1 + i] = c;
  }
  buf[at + 1 + n] = 0x22;
  out.length = at + n + 2;
}
