import crypto from "node:crypto";
import { sql } from "kysely";

import {
  addressKey,
  applyConsentChange,
  applyConsentChanges,
  ConsentError,
  normalizeOrThrow,
  type ConsentChange,
} from "~/consent/consent.server";

import { inTransaction, type Db, type Trx } from "~/db/db.server";

import type { Channel, ConsentSource } from "~/db/schema";
import { CONSENT_SOURCES } from "~/db/schema";

import { getEnv } from "~/env.server";

import { createShortLink } from "~/links/short-links.server";

import { CONFIRM_TTL_SECONDS, signLinkToken } from "~/links/tokens.server";

import { enqueueEmail } from "~/mail/send.server";

import {
  mailLocale,
  messageHash,
  renderConfirmEmail,
  renderConfirmSms,
} from "~/mail/templates.server";

import { enqueueOutbox } from "~/outbox/outbox.server";

import { hitRateLimit } from "~/security/rate-limit.server";

import { getBranding } from "~/settings/settings.server";
import { topicNames } from "~/topics/topics.server";
import { isUuid } from "~/db/ids";

import { keywordNumber } from "~/sms/transport.server";

/**
 * Double opt-in (docs/consent.md, rule 5). Re-subscribing an unsubscribed channel, or signing a new address
 * up through Heed, stores a request and sends a confirmation to that very address (an email with
 * a /c/{token} link, or an SMS/WhatsApp message with a short link). Until the person confirms, the
 * address stays as it was (unsubscribed, or pending for a new sign-up). Confirming goes through
 * the consent core with source `double_opt_in` and the evidence: the request, when and from where
 * it was made, and the hash and template version of the message that was sent.
 */

/** The "template" of a request confirmed by texting START: nothing was sent for it. */
export const KEYWORD_TEMPLATE = "keyword:start";

/** Confirmation requests per address and channel, across every server (DB-backed counter). */
export const DOUBLE_OPT_IN_RATE_LIMIT = { limit: 5, windowSeconds: 24 * 60 * 60 } as const;

export type StartDoubleOptInInput = {
  channel: Channel;
  address: string;
  contactId?: string | null;
  topics?: string[];
  locale?: string | null;
  source: ConsentSource;
  ip?: string | null;
  userAgent?: string | null;
};

export type StartDoubleOptInResult = {
  /** The new request; for rate_limited the latest pending one (or ""), for already_subscribed "". */
  requestId: string;
  /**
   * keyword_required: an SMS/WhatsApp number that opted out gets nothing texted; the person
   * confirms by sending START (to `keywordNumber` when Heed knows it) and the START confirms the
   * request (app/sms/inbound.server.ts).
   */
  status: "sent" | "rate_limited" | "already_subscribed" | "keyword_required";
  keywordNumber?: string | null;
  /** rate_limited: seconds until another confirmation may be sent. */
  retryAfterSeconds?: number;
};

/** The contact the confirmation link is signed for: the one given, else one holding the address, else a new one. */
async function contactFor(
  trx: Trx,
  channel: Channel,
  address: string,
  contactId: string | null | undefined,
  locale: string | null | undefined,
): Promise<{ id: string; locale: string | null }> {
  if (contactId) {
    const c = await trx
      .selectFrom("contacts")
      .select(["id", "locale"])
      .where("id", "=", contactId)
      .where("erased_at", "is", null)
      .executeTakeFirst();
    if (!c)
      throw new ConsentError("invalid_address", "Unknown contact for this confirmation", {
        contactId,
      });
    return c;
  }
  const column = channel === "email" ? "email" : "phone";
  const existing = await trx
    .selectFrom("contacts")
    .select(["id", "locale"])
    .where(column, "=", address)
    .where("erased_at", "is", null)
    .orderBy("updated_at", "desc")
    .executeTakeFirst();
  if (existing) return existing;
  // A person signing up through Heed becomes a contact, so that the confirmation (and later the
  // preference links) can name them by an opaque id.
  return trx
    .insertInto("contacts")
    .values({ [column]: address, locale: locale ?? null })
    .returning(["id", "locale"])
    .executeTakeFirstOrThrow();
}

/** Whether a contact (not erased) holds this normalized address on the channel. */
async function heldByContact(trx: Trx, channel: Channel, address: string): Promise<boolean> {
  const column = channel === "email" ? "email" : "phone";
  const row = await trx
    .selectFrom("contacts")
    .select("id")
    .where(column, "=", address)
    .where("erased_at", "is", null)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

async function validTopics(db: Db, keys: readonly string[]): Promise<string[]> {
  const unique = [...new Set(keys)];
  if (unique.length === 0) return [];
  const rows = await db
    .selectFrom("topics")
    .select("key")
    .where("key", "in", unique)
    .where("archived_at", "is", null)
    .execute();
  const known = new Set(rows.map((r) => r.key));
  const unknown = unique.filter((k) => !known.has(k));
  if (unknown.length > 0) {
    throw new ConsentError("unknown_topic", `Unknown topic: ${unknown.join(", ")}`, {
      topics: unknown,
    });
  }
  return unique;
}

/**
 * Starts a double opt-in: stores the request (valid 7 days; older pending requests for the address
 * are superseded) and queues the confirmation in the same transaction. An address Heed has never
 * seen is first recorded as `signup_pending`, so send decisions answer pending_confirmation.
 * An address already subscribed needs no confirmation ("already_subscribed", nothing sent).
 */
export async function startDoubleOptIn(
  db: Db,
  input: StartDoubleOptInInput,
): Promise<StartDoubleOptInResult> {
  const address = normalizeOrThrow(input.channel, input.address);
  const hash = addressKey(address);
  return inTransaction(db, async (trx) => {
    const topics = await validTopics(trx, input.topics ?? []);
    // Serializes with consent changes and other requests for this address.
    const row = await trx
      .selectFrom("channel_consent")
      .select("status")
      .where("channel", "=", input.channel)
      .where("address_hash", "=", hash)
      .forUpdate()
      .executeTakeFirst();
    if (row?.status === "subscribed") return { requestId: "", status: "already_subscribed" };
    // No row, but a contact holds the address: the sender added it (API, import, admin), so it
    // is subscribed already (docs/consent.md: no row means subscribed). Asking to subscribe it
    // changes nothing; recording `signup_pending` would turn it into pending_confirmation.
    if (!row && (await heldByContact(trx, input.channel, address))) {
      return { requestId: "", status: "already_subscribed" };
    }

    const limit = await hitRateLimit(trx, `doi:${input.channel}:${hash}`, DOUBLE_OPT_IN_RATE_LIMIT);
    if (!limit.allowed) {
      const latest = await trx
        .selectFrom("double_opt_in_requests")
        .select("id")
        .where("channel", "=", input.channel)
        .where("address_hash", "=", hash)
        .where("status", "=", "pending")
        .orderBy("created_at", "desc")
        .executeTakeFirst();
      return {
        requestId: latest?.id ?? "",
        status: "rate_limited",
        retryAfterSeconds: limit.retryAfterSeconds,
      };
    }

    const contact = await contactFor(trx, input.channel, address, input.contactId, input.locale);
    // Never subscribed (new, or signed up and not confirmed yet), rather than coming back.
    const firstSignup = !row || row.status === "pending";
    if (!row) {
      await applyConsentChange(trx, {
        channel: input.channel,
        address,
        action: "signup_pending",
        source: input.source,
        contactId: contact.id,
        ip: input.ip,
        userAgent: input.userAgent,
      });
    }

    await trx
      .updateTable("double_opt_in_requests")
      .set({ status: "superseded" })
      .where("channel", "=", input.channel)
      .where("address_hash", "=", hash)
      .where("status", "=", "pending")
      .execute();

    const env = getEnv();
    const branding = await getBranding(trx);
    const locale = mailLocale(input.locale, contact.locale);
    const requestId = crypto.randomUUID();
    const now = new Date();
    const expiresAt = new Date(now.getTime() + CONFIRM_TTL_SECONDS * 1000);
    // The request row, with the evidence of what was sent (none while it waits for START).
    const storeRequest = (sent: {
      message_hash: string | null;
      template_version: string;
      first_signup?: boolean;
    }) =>
      trx
        .insertInto("double_opt_in_requests")
        .values({
          id: requestId,
          channel: input.channel,
          address_hash: hash,
          address,
          contact_id: contact.id,
          topics,
          locale,
          source: input.source,
          ip: input.ip ?? null,
          user_agent: input.userAgent ?? null,
          created_at: now,
          expires_at: expiresAt,
          ...sent,
        })
        .execute();

    // After an SMS/WhatsApp opt-out nothing else is texted to the number until it texts START
    // (carriers block it anyway: Twilio answers 21610). The request waits for that START.
    if (input.channel !== "email" && row?.status === "unsubscribed") {
      await storeRequest({ message_hash: null, template_version: KEYWORD_TEMPLATE });
      return {
        requestId,
        status: "keyword_required",
        keywordNumber: keywordNumber(env, input.channel),
      };
    }
    const token = await signLinkToken({
      contactId: contact.id,
      channel: input.channel,
      purpose: "confirm",
      requestId,
      now,
    });
    let evidence: { messageHash: string; templateVersion: string };
    if (input.channel === "email") {
      const email = renderConfirmEmail({
        locale,
        branding,
        to: address,
        url: `${env.publicUrl}/c/${token}`,
        expiresAt,
        topicNames: await topicNames(trx, topics, locale),
        firstSignup,
      });
      const queued = await enqueueEmail(trx, email);
      evidence = { messageHash: queued.messageHash, templateVersion: email.templateVersion };
    } else {
      const code = await createShortLink(trx, `/c/${token}`, expiresAt);
      const sms = renderConfirmSms({
        locale,
        branding,
        url: `${env.publicUrl}/s/${code}`,
        firstSignup,
      });
      const hashOfBody = messageHash({ body: sms.body });
      await enqueueOutbox(trx, {
        kind: "sms",
        recipient: input.channel === "whatsapp" ? `whatsapp:${address}` : address,
        payload: {
          to: address,
          body: sms.body,
          channel: input.channel,
          template: sms.template,
          templateVersion: sms.templateVersion,
          locale,
          messageHash: hashOfBody,
        },
      });
      evidence = { messageHash: hashOfBody, templateVersion: sms.templateVersion };
    }

    await storeRequest({
      message_hash: evidence.messageHash,
      template_version: evidence.templateVersion,
      first_signup: firstSignup,
    });
    return { requestId, status: "sent" };
  });
}

export type DoubleOptInRequest = {
  id: string;
  channel: Channel;
  address: string | null;
  contactId: string | null;
  topics: string[];
  locale: string | null;
  source: string;
  /** A first sign-up (the address was never subscribed), not a re-subscription. */
  firstSignup: boolean;
  /** pending requests past their expiry read as expired. */
  status: "pending" | "confirmed" | "expired" | "superseded";
  createdAt: Date;
  expiresAt: Date;
  confirmedAt: Date | null;
};

/** The request a confirmation token names, or null (unknown id). */
export async function getDoubleOptInRequest(
  db: Db,
  requestId: string,
): Promise<DoubleOptInRequest | null> {
  if (!isUuid(requestId)) return null;
  const r = await db
    .selectFrom("double_opt_in_requests")
    .selectAll()
    .where("id", "=", requestId)
    .executeTakeFirst();
  if (!r) return null;
  const expired = r.status === "pending" && r.expires_at.getTime() <= Date.now();
  return {
    id: r.id,
    channel: r.channel,
    address: r.address,
    contactId: r.contact_id,
    topics: r.topics,
    locale: r.locale,
    source: r.source,
    firstSignup: r.first_signup,
    status: expired ? "expired" : r.status,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    confirmedAt: r.confirmed_at,
  };
}

export type ConfirmDoubleOptInInput = {
  requestId: string;
  /** The token's contact: a request of another contact is refused. */
  contactId: string;
  ip?: string | null;
  userAgent?: string | null;
};

export type ConfirmDoubleOptInResult =
  | {
      status: "confirmed";
      requestId: string;
      channel: Channel;
      address: string;
      contactId: string;
      topics: string[];
      ledgerIds: number[];
    }
  | { status: "already_confirmed"; requestId: string; channel: Channel; contactId: string }
  | { status: "expired" | "superseded"; requestId: string; channel: Channel; contactId: string }
  | { status: "not_found" };

/**
 * Confirms a pending, unexpired request of the token's contact: subscribes the channel (and the
 * topics asked for) through the consent core with source `double_opt_in` and the evidence, and
 * marks the request confirmed with the confirming IP and user agent, all in one transaction.
 */
export async function confirmDoubleOptIn(
  db: Db,
  input: ConfirmDoubleOptInInput,
): Promise<ConfirmDoubleOptInResult> {
  if (!isUuid(input.requestId)) return { status: "not_found" };
  return inTransaction(db, async (trx) => {
    const r = await trx
      .selectFrom("double_opt_in_requests")
      .selectAll()
      .where("id", "=", input.requestId)
      .forUpdate()
      .executeTakeFirst();
    if (!r || r.contact_id !== input.contactId || !r.address) return { status: "not_found" };
    const base = { requestId: r.id, channel: r.channel, contactId: r.contact_id };
    if (r.status === "confirmed") return { status: "already_confirmed", ...base };
    if (r.status === "superseded") return { status: "superseded", ...base };
    if (r.status === "expired" || r.expires_at.getTime() <= Date.now()) {
      if (r.status === "pending") {
        await trx
          .updateTable("double_opt_in_requests")
          .set({ status: "expired" })
          .where("id", "=", r.id)
          .execute();
      }
      return { status: "expired", ...base };
    }

    const details = {
      requestId: r.id,
      messageHash: r.message_hash,
      templateVersion: r.template_version,
      requestedAt: r.created_at.toISOString(),
      requestSource: r.source,
      requestIp: r.ip,
      requestUserAgent: r.user_agent,
    };
    // Topics archived since the request are skipped; the channel is what was confirmed.
    const liveTopics =
      r.topics.length === 0
        ? []
        : (
            await trx
              .selectFrom("topics")
              .select("key")
              .where("key", "in", r.topics)
              .where("archived_at", "is", null)
              .execute()
          ).map((t) => t.key);
    const common = {
      channel: r.channel,
      address: r.address,
      source: "double_opt_in" as const,
      contactId: r.contact_id,
      actor: { type: "recipient" as const, id: r.contact_id },
      ip: input.ip ?? null,
      userAgent: input.userAgent ?? null,
      details,
    };
    const changes: ConsentChange[] = [
      { ...common, action: "subscribe" },
      ...liveTopics.map((topic): ConsentChange => ({ ...common, action: "topic_opt_in", topic })),
    ];
    const results = await applyConsentChanges(trx, changes);
    await trx
      .updateTable("double_opt_in_requests")
      .set({
        status: "confirmed",
        confirmed_at: sql<Date>`now()`,
        confirmed_ip: input.ip ?? null,
        confirmed_user_agent: input.userAgent ?? null,
      })
      .where("id", "=", r.id)
      .execute();
    return {
      status: "confirmed",
      requestId: r.id,
      channel: r.channel,
      address: r.address,
      contactId: r.contact_id,
      topics: liveTopics,
      ledgerIds: results.map((x) => x.ledgerId).filter((id): id is number => id !== null),
    };
  });
}

/**
 * "Send me a new confirmation" from an expired or superseded request: starts a fresh request for
 * the same address, contact, topics and locale (rate limited like any other).
 */
export async function restartDoubleOptIn(
  db: Db,
  input: { requestId: string; contactId: string; ip?: string | null; userAgent?: string | null },
): Promise<StartDoubleOptInResult | { status: "not_found" }> {
  const r = await getDoubleOptInRequest(db, input.requestId);
  if (!r || r.contactId !== input.contactId || !r.address) return { status: "not_found" };
  const source = (CONSENT_SOURCES as readonly string[]).includes(r.source)
    ? (r.source as ConsentSource)
    : "preference_page";
  return startDoubleOptIn(db, {
    channel: r.channel,
    address: r.address,
    contactId: r.contactId,
    topics: r.topics,
    locale: r.locale,
    source,
    ip: input.ip,
    userAgent: input.userAgent,
  });
}
