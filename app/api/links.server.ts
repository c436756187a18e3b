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
import { LINK_TTL_SECONDS, linkTokenSigner, signLinkTokenSync } from "~/links/tokens.server";
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

/** What the batch made for one external id: its links, or why there are none. */
type BatchLinks =
  | { preferences: string; unsubscribe: string; shortCode?: string; mailto?: string }
  | "no_address"
  | "contact_not_found";

const NO_ADDRESS_MESSAGE = (channel: Channel) => `The contact has no address on ${channel}`;
const NOT_FOUND_MESSAGE = "No contact has this external id";

/**
 * The links of many contacts of one campaign, in request order. Set-based: one statement reads
 * the contacts, one (per 2,000) stores SMS short links, one stores email mailto codes; the tokens
 * are signed in memory (linkTokenSigner: the payload's JSON around the contact id and address hash
 * is built once per batch).
 */
async function batchLinks(
  db: Db,
  externalIds: readonly string[],
  o: LinkOptions,
): Promise<BatchLinks[]> {
  await assertTopicExists(db, o.topic, o.channel);
  const unique = [...new Set(externalIds)];
  const column = o.channel === "email" ? "email" : "phone";
  const rows = await db
    .selectFrom("contacts")
    .select(["id", "external_id", column])
    .where(sql<boolean>`external_id = any(${unique}::text[])`)
    .where("erased_at", "is", null)
    .execute();
  const now = new Date();
  const region = defaultPhoneRegion();
  const common = { channel: o.channel, campaign: o.campaign ?? null, now };
  const signPreferences = linkTokenSigner({ ...common, purpose: "preferences" });
  const signUnsubscribe = linkTokenSigner({
    ...common,
    purpose: "unsubscribe",
    topic: o.topic ?? null,
  });
  type Made = { preferences: string; unsubscribe: string; shortCode?: string; mailto?: string };
  const byExternal = new Map<string, Made | "no_address">();
  const made: { externalId: string; contactId: string; address: string; links: Made }[] = [];
  for (const r of rows) {
    const address = (r as Record<string, unknown>)[column];
    if (typeof address === "string" && address) {
      const hash = linkAddressHash(o.channel, address, region);
      const links: Made = {
        preferences: signPreferences(r.id),
        unsubscribe: signUnsubscribe(r.id, hash),
      };
      byExternal.set(r.external_id!, links);
      made.push({ externalId: r.external_id!, contactId: r.id, address, links });
    } else {
      byExternal.set(r.external_id!, "no_address");
    }
  }
  if (o.channel !== "email" && made.length > 0) {
    const expiresAt = new Date(now.getTime() + LINK_TTL_SECONDS * 1000);
    const codes = await createShortLinks(
      db,
      made.map((m) => `/u/${m.links.unsubscribe}`),
      expiresAt,
    );
    made.forEach((m, i) => (m.links.shortCode = codes[i]));
  }
  if (o.channel === "email" && made.length > 0) {
    const mailtos = await mailtoFor(db, o, made);
    made.forEach((m, i) => {
      if (mailtos[i]) m.links.mailto = mailtos[i];
    });
  }
  return externalIds.map((id) => byExternal.get(id) ?? "contact_not_found");
}

/** Links for many contacts of one campaign, in request order. */
export async function createLinksBatch(
  db: Db,
  externalIds: readonly string[],
  o: LinkOptions,
): Promise<BatchEntry[]> {
  const links = await batchLinks(db, externalIds, o);
  return externalIds.map((externalId, i): BatchEntry => {
    const l = links[i]!;
    if (l === "no_address")
      return { externalId, error: { code: "no_address", message: NO_ADDRESS_MESSAGE(o.channel) } };
    if (l === "contact_not_found")
      return { externalId, error: { code: "contact_not_found", message: NOT_FOUND_MESSAGE } };
    return { externalId, ...buildJson(o, l, l.shortCode, l.mailto) };
  });
}

/**
 * The same answer as createLinksBatch, as the JSON text `{"results":[…]}` (what the API route
 * sends): written straight from the tokens, without building and serializing 10,000 objects
 * (the same members in the same order as JSON.stringify of createLinksBatch's entries; a test
 * compares the two).
 */
export async function createLinksBatchJson(
  db: Db,
  externalIds: readonly string[],
  o: LinkOptions,
): Promise<string> {
  const links = await batchLinks(db, externalIds, o);
  const base = JSON.stringify(getEnv().publicUrl).slice(1, -1);
  const email = o.channel === "email";
  const noAddress = `,"error":${JSON.stringify({ code: "no_address", message: NO_ADDRESS_MESSAGE(o.channel) })}}`;
  const notFound = `,"error":${JSON.stringify({ code: "contact_not_found", message: NOT_FOUND_MESSAGE })}}`;
  const parts: string[] = new Array<string>(externalIds.length);
  for (let i = 0; i < externalIds.length; i++) {
    const l = links[i]!;
    // Tokens, short codes and mailto codes are URL-safe ASCII: nothing in them needs escaping.
    let entry = `{"externalId":${JSON.stringify(externalIds[i])}`;
    if (l === "no_address") entry += noAddress;
    else if (l === "contact_not_found") entry += notFound;
    else {
      const unsubscribeUrl = `${base}/u/${l.unsubscribe}`;
      entry += `,"preferencesUrl":"${base}/p/${l.preferences}","unsubscribeUrl":"${unsubscribeUrl}"`;
      if (l.shortCode) entry += `,"shortUrl":"${base}/s/${l.shortCode}"`;
      if (email) {
        const mailto = l.mailto ? `, <mailto:${l.mailto}?subject=unsubscribe>` : "";
        entry += `,"headers":{"List-Unsubscribe":"<${unsubscribeUrl}>${mailto}","List-Unsubscribe-Post":"List-Unsubscribe=One-Click"}}`;
      } else entry += "}";
    }
    parts[i] = entry;
  }
  return `{"results":[${parts.join(",")}]}`;
}
