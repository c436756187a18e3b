import { defaultPhoneRegion } from "~/settings/phone-region.server";
import { parsePhoneNumberFromString } from "libphonenumber-js/max";

import { normalizeAddress } from "~/consent/address.server";
import { startDoubleOptIn } from "~/consent/double-opt-in.server";

import {
  ADDRESS_HASH_RE,
  addressKey,
  applyConsentChanges,
  ConsentError,
  hashConsentOf,
  readConsent,
  readConsentByHash,
  type ChangeResult,
  type ConsentChange,
  type HashConsent,
} from "~/consent/consent.server";
import {
  LINK_UNSUBSCRIBE_BATCHES,
  unsubscribeByLinkCoalesced,
} from "~/consent/link-unsubscribe.server";
import { Coalescer, coalescerPer } from "~/db/coalesce.server";
import { sql } from "kysely";

import { preparedStatement, type Db, type Trx } from "~/db/db.server";

import { CHANNELS, type Channel, type ConsentSource, type LocalizedText } from "~/db/schema";

import { DEFAULT_LOCALE, type Locale } from "~/i18n/config";

import { queueUnsubscribedNotice } from "~/mail/notices.server";

import {
  cachedFrequencyOptions,
  cachedMailSettings,
  cachedReasons,
  cachedTopics,
  type TopicInfo,
} from "~/recipient/cache.server";
import { isUuid } from "~/db/ids";
import { NO_REASON_CODE } from "~/settings/reasons";

/**
 * The recipient's side of consent (docs/recipient-pages.md): what a token's contact has, and what the
 * preference and unsubscribe pages change. Reads only on GET; every change goes through
 * applyConsentChanges (ledger + state in one transaction).
 */

export type RecipientContact = {
  id: string;
  locale: string | null;
  email: string | null;
  phone: string | null;
};

/** One contact, one statement (a prepared statement on PostgreSQL and in PGlite's worker). */
async function loadOneContact(db: Db, contactId: string): Promise<RecipientContact | null> {
  const { rows } = await sql<RecipientContact>`${preparedStatement("recipient_contact")}
    select id, locale, email, phone from contacts
    where id = ${contactId}::uuid and erased_at is null`.execute(db);
  return rows[0] ?? null;
}

/**
 * Contacts read together under load (docs/decisions/0107): the same coalescer as the one-click's
 * unsubscribe, so concurrent one-clicks (and token pages) share one read statement — on PGlite
 * one crossing to its worker thread instead of one per press. An idle server reads alone.
 */
const contactReads = coalescerPer(
  (db: Db) =>
    new Coalescer<string, RecipientContact | null>(
      async (ids) => {
        const { rows } = await sql<RecipientContact>`${preparedStatement("recipient_contacts")}
          select id, locale, email, phone from contacts
          where id = any(${ids}::uuid[]) and erased_at is null`.execute(db);
        const byId = new Map(rows.map((r) => [r.id, r]));
        return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
      },
      (id) => loadOneContact(db, id),
      LINK_UNSUBSCRIBE_BATCHES,
    ),
);

/** The token's contact, unless it was deleted or erased. One query (shared under load). */
export async function loadContact(db: Db, contactId: string): Promise<RecipientContact | null> {
  if (!isUuid(contactId)) return null;
  // Every recipient page and one-click reads it. Inside a transaction it stays in it.
  if (db.isTransaction) return loadOneContact(db, contactId);
  return contactReads(db).submit(contactId);
}

/** What an unsubscribe link that names its address by hash reads (loadContactAndHashConsent). */
type LinkRead = { contactId: string; channel: Channel; hash: string };
type LinkReadResult = { contact: RecipientContact | null; consent: HashConsent };
type LinkReadRow = {
  contact_id: string | null;
  contact_locale: string | null;
  contact_email: string | null;
  contact_phone: string | null;
  status: HashConsent["status"];
  paused_until: Date | string | null;
  address: string | null;
  topics: HashConsent["topics"] | string | null;
};

function linkReadResult(r: LinkReadRow | undefined): LinkReadResult {
  const contact =
    r?.contact_id != null
      ? {
          id: r.contact_id,
          locale: r.contact_locale,
          email: r.contact_email,
          phone: r.contact_phone,
        }
      : null;
  return { contact, consent: hashConsentOf(r) };
}

/** One link's read, one statement (prepared: its text is fixed, every value a parameter). */
async function loadOneLinkRead(db: Db, item: LinkRead): Promise<LinkReadResult> {
  const id = isUuid(item.contactId) ? item.contactId : null;
  const { rows } = await sql<LinkReadRow>`${preparedStatement("recipient_link_read")}
    select c.id as contact_id, c.locale as contact_locale, c.email as contact_email,
      c.phone as contact_phone, cc.status, cc.paused_until, cc.address,
      (select json_object_agg(tc.topic, tc.status) from topic_consent tc
       where tc.channel = ${item.channel} and tc.address_hash = ${item.hash}) as topics
    from (select 1) as one
    left join contacts c on c.id = ${id}::uuid and c.erased_at is null
    left join channel_consent cc on cc.channel = ${item.channel} and cc.address_hash = ${item.hash}
  `.execute(db);
  return linkReadResult(rows[0]);
}

/**
 * Several links' reads in one statement: one row per item, in the items' order. Each item's rows
 * are found by key probes, as the single statement's: `limit 1` (each is a primary key) keeps the
 * lateral subqueries from being pulled up into joins, so no plan the prepared statement keeps can
 * turn them into scans of whole tables.
 */
async function loadLinkReads(db: Db, items: LinkRead[]): Promise<LinkReadResult[]> {
  const ids = items.map((i) => (isUuid(i.contactId) ? i.contactId : null));
  const { rows } = await sql<
    LinkReadRow & { n: number }
  >`${preparedStatement("recipient_link_reads")}
    select k.n::int as n, c.id as contact_id, c.locale as contact_locale,
      c.email as contact_email, c.phone as contact_phone, cc.status, cc.paused_until, cc.address,
      (select json_object_agg(tc.topic, tc.status) from topic_consent tc
       where tc.channel = k.channel and tc.address_hash = k.hash) as topics
    from unnest(${ids}::uuid[], ${items.map((i) => i.channel)}::text[],
      ${items.map((i) => i.hash)}::text[]) with ordinality as k(id, channel, hash, n)
    left join lateral (select c.id, c.locale, c.email, c.phone from contacts c
      where c.id = k.id and c.erased_at is null limit 1) c on true
    left join lateral (select cc.status, cc.paused_until, cc.address from channel_consent cc
      where cc.channel = k.channel and cc.address_hash = k.hash limit 1) cc on true
  `.execute(db);
  const byN = new Map(rows.map((r) => [Number(r.n), r]));
  return items.map((_, i) => linkReadResult(byN.get(i + 1)));
}

/**
 * Link reads under load share one statement, as the contact reads do (contactReads, decisions/0107
 * and 0120): on PGlite one crossing to its worker thread for the pages that arrived together
 * instead of one each. An idle server reads alone.
 */
const linkReads = coalescerPer(
  (db: Db) =>
    new Coalescer<LinkRead, LinkReadResult>(
      (items) => loadLinkReads(db, items),
      (item) => loadOneLinkRead(db, item),
      LINK_UNSUBSCRIBE_BATCHES,
    ),
);

/**
 * An unsubscribe link's contact (loadContact) and the state of the address its token names by
 * hash (readConsentByHash's columns), in one query: all the unsubscribe page reads for a link that
 * carries its address's hash (every link signed since tokens carry `ah`). One round trip instead
 * of two in a row, which on PGlite is one crossing to its worker thread instead of two. A
 * prepared statement, shared by the pages that arrive together under load (decisions/0120).
 */
export async function loadContactAndHashConsent(
  db: Db,
  contactId: string,
  channel: Channel,
  hash: string,
): Promise<LinkReadResult> {
  const item = { contactId, channel, hash };
  if (db.isTransaction) return loadOneLinkRead(db, item);
  return linkReads(db).submit(item);
}

/** The contact's address on a channel (email for email, the phone for SMS and WhatsApp), normalized. */
export function contactAddress(contact: RecipientContact, channel: Channel): string | null {
  const raw = channel === "email" ? contact.email : contact.phone;
  if (!raw) return null;
  const n = normalizeAddress(channel, raw, defaultPhoneRegion());
  return n.ok ? n.address : null;
}

export function displayAddress(channel: Channel, address: string): string {
  if (channel === "email") return address;
  return parsePhoneNumberFromString(address)?.formatInternational() ?? address;
}

export function localized(text: LocalizedText, locale: Locale): string {
  return text[locale] || text[DEFAULT_LOCALE] || Object.values(text)[0] || "";
}

export type ChannelState = "subscribed" | "unsubscribed" | "paused" | "pending";

export type TopicView = { key: string; name: string; description: string; subscribed: boolean };

export type ChannelView = {
  channel: Channel;
  address: string;
  display: string;
  state: ChannelState;
  pausedUntil: Date | null;
  /** A double opt-in confirmation was sent and is still waiting. */
  confirmationPending: boolean;
  /** Topics offered on this channel (not archived), in the operator's order. */
  topics: TopicView[];
  /** The operator's frequency options on this channel and the one chosen (none offered: []). */
  frequency: FrequencyView;
};

export type FrequencyView = {
  options: { key: string; label: string; windowDays: number | null }[];
  /** The option the address chose (null: none yet, or one the operator has since removed). */
  chosen: string | null;
  /**
   * The option the page shows as selected: the chosen one, else the one without a limit ("every
   * message": what an address that never chose gets). Submitting it unchanged records nothing.
   */
  selected: string | null;
};

function topicName(t: TopicInfo, locale: Locale) {
  return localized(t.names, locale) || t.key;
}

/**
 * Every channel the contact has an address on, with its state and its topic choices. One read
 * (current state of channels, topics and frequency, waiting confirmations); topics and
 * frequency options come from the in-process cache.
 */
export async function loadChannels(
  db: Db,
  contact: RecipientContact,
  locale: Locale,
): Promise<ChannelView[]> {
  const targets = CHANNELS.flatMap((channel) => {
    const address = contactAddress(contact, channel);
    return address ? [{ channel, address }] : [];
  });
  if (targets.length === 0) return [];
  // The state and waiting confirmations in one query (one crossing to PGlite's worker).
  const [consent, topics, frequencies] = await Promise.all([
    readConsent(db, targets, { pendingAt: new Date() }),
    cachedTopics(db),
    cachedFrequencyOptions(db),
  ]);
  return consent.map((c) => {
    const options = frequencies
      .filter((f) => f.channel === c.channel)
      .map((f) => ({
        key: f.key,
        label: localized(f.labels, locale) || f.key,
        windowDays: f.windowDays,
      }));
    const state: ChannelState =
      c.status === "unsubscribed"
        ? "unsubscribed"
        : c.status === "pending"
          ? "pending"
          : c.pausedUntil
            ? "paused"
            : "subscribed";
    return {
      channel: c.channel,
      address: c.address,
      display: displayAddress(c.channel, c.address),
      state,
      pausedUntil: c.pausedUntil,
      confirmationPending: c.confirmationPending === true,
      topics: topics
        .filter((t) => !t.archived && t.channels.includes(c.channel))
        .map((t) => ({
          key: t.key,
          name: topicName(t, locale),
          description: localized(t.descriptions, locale),
          subscribed: c.topics[t.key] ? c.topics[t.key] === "opted_in" : t.defaultOptIn,
        })),
      frequency: frequencyView(options, c.frequency),
    };
  });
}

export function frequencyView(
  options: FrequencyView["options"],
  recorded: string | null,
): FrequencyView {
  const chosen = options.some((o) => o.key === recorded) ? recorded : null;
  const selected = chosen ?? options.find((o) => o.windowDays === null)?.key ?? null;
  return { options, chosen, selected };
}

// ---------------------------------------------------------------------------------------------
// Preference center saves

export const CHOICES = [
  "keep",
  "receive",
  "pause30",
  "pause90",
  "unsubscribe",
  "resubscribe",
] as const;
export type Choice = (typeof CHOICES)[number];

/** The choices the preference page offers for a channel in each state. */
export function choicesFor(state: ChannelState): Choice[] {
  switch (state) {
    case "subscribed":
      return ["receive", "pause30", "pause90", "unsubscribe"];
    case "paused":
      return ["keep", "receive", "pause30", "pause90", "unsubscribe"];
    case "unsubscribed":
      return ["keep", "resubscribe"];
    case "pending":
      return ["keep", "resubscribe", "unsubscribe"];
  }
}

/** Whether the page shows (and a save reads) the topic toggles of a channel in this state. */
export function topicsEditable(state: ChannelState): boolean {
  return state !== "unsubscribed";
}

export type PreferenceInput = {
  intent: "save" | "unsubscribe_all";
  channels: Partial<
    Record<Channel, { choice: Choice; topics: string[] | null; frequency?: string | null }>
  >;
  reasonCode: string | null;
  reasonText: string | null;
};

export type Actor = {
  contactId: string;
  campaign?: string | null;
  ip?: string | null;
  userAgent?: string | null;
};

export type SaveError = "stale" | "invalid_reason" | "conflict";

export type Plan = { changes: ConsentChange[]; resubscribe: ChannelView[] };

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * What a preference-page submission asks for, compared with the current state: consent changes
 * (applied together) and channels to re-subscribe through double opt-in. Pure.
 */
export function planPreferences(
  channels: readonly ChannelView[],
  input: PreferenceInput,
  actor: Actor,
  reason: { code: string | null; text: string | null },
  now = Date.now(),
): { ok: true; plan: Plan } | { ok: false; error: SaveError } {
  const changes: ConsentChange[] = [];
  const resubscribe: ChannelView[] = [];
  const base = {
    source: "preference_page" as ConsentSource,
    contactId: actor.contactId,
    campaign: actor.campaign ?? null,
    actor: { type: "recipient" as const, id: actor.contactId },
    ip: actor.ip ?? null,
    userAgent: actor.userAgent ?? null,
  };
  const withReason = { reasonCode: reason.code, reasonText: reason.text };

  if (input.intent === "unsubscribe_all") {
    for (const ch of channels) {
      if (ch.state !== "unsubscribed") {
        changes.push({
          ...base,
          ...withReason,
          channel: ch.channel,
          address: ch.address,
          action: "unsubscribe",
        });
      }
    }
    return { ok: true, plan: { changes, resubscribe } };
  }

  for (const ch of channels) {
    const asked = input.channels[ch.channel];
    if (!asked) continue;
    const choice = asked.choice;
    if (!choicesFor(ch.state).includes(choice)) return { ok: false, error: "stale" };
    const target = { ...base, channel: ch.channel, address: ch.address };
    switch (choice) {
      case "unsubscribe":
        changes.push({ ...target, ...withReason, action: "unsubscribe" });
        continue; // a channel-wide unsubscribe blocks every topic: topic toggles are moot
      case "resubscribe":
        resubscribe.push(ch);
        break;
      case "receive":
        if (ch.state === "paused") changes.push({ ...target, action: "resume" });
        break;
      case "pause30":
      case "pause90": {
        const days = choice === "pause30" ? 30 : 90;
        changes.push({
          ...target,
          ...withReason,
          action: "pause",
          pausedUntil: new Date(now + days * DAY_MS),
        });
        break;
      }
      case "keep":
        break;
    }
    // The frequency choice (its own section of the page): recorded when it changes.
    if (asked.frequency && topicsEditable(ch.state) && asked.frequency !== ch.frequency.selected) {
      if (!ch.frequency.options.some((o) => o.key === asked.frequency))
        return { ok: false, error: "stale" };
      changes.push({ ...target, action: "frequency", frequency: asked.frequency });
    }
    if (asked.topics && topicsEditable(ch.state)) {
      const on = new Set(asked.topics);
      for (const topic of ch.topics) {
        const wanted = on.has(topic.key);
        if (wanted === topic.subscribed) continue;
        changes.push(
          wanted
            ? { ...target, action: "topic_opt_in", topic: topic.key }
            : { ...target, ...withReason, action: "topic_opt_out", topic: topic.key },
        );
      }
    }
  }
  return { ok: true, plan: { changes, resubscribe } };
}

/** Checks a submitted reason against the operator's enabled reasons. */
export async function resolveReason(
  db: Db,
  code: string | null,
  text: string | null,
): Promise<{ ok: true; code: string | null; text: string | null } | { ok: false }> {
  const trimmed = text?.trim().slice(0, 1000) || null;
  // "I would rather not say" is a choice on the page, and no reason in the ledger.
  if (!code || code === NO_REASON_CODE) return { ok: true, code: null, text: trimmed };
  const reasons = await cachedReasons(db);
  if (!reasons.some((r) => r.code === code)) return { ok: false };
  return { ok: true, code, text: trimmed };
}

export type ChangeSummary =
  | {
      kind: "unsubscribe" | "pause" | "resume" | "topic_opt_out" | "topic_opt_in";
      channel: Channel;
      topic: string | null;
      pausedUntil: Date | null;
    }
  | {
      kind: "frequency";
      channel: Channel;
      topic: null;
      pausedUntil: null;
      /** The chosen option's key. */
      frequency: string;
    }
  | {
      kind: "confirm_sent" | "confirm_rate_limited" | "already_subscribed" | "text_start";
      channel: Channel;
      topic: null;
      pausedUntil: null;
      display: string;
      /** text_start: the number to text START to (null: "reply START to one of our messages"). */
      keywordNumber?: string | null;
    };

function summarize(results: readonly ChangeResult[]): ChangeSummary[] {
  return results
    .filter((r) => r.changed)
    .flatMap((r): ChangeSummary[] =>
      r.action === "unsubscribe" ||
      r.action === "pause" ||
      r.action === "resume" ||
      r.action === "topic_opt_in" ||
      r.action === "topic_opt_out"
        ? [{ kind: r.action, channel: r.channel, topic: r.topic, pausedUntil: r.pausedUntil }]
        : r.action === "frequency" && r.frequency
          ? [
              {
                kind: "frequency" as const,
                channel: r.channel,
                topic: null,
                pausedUntil: null,
                frequency: r.frequency,
              },
            ]
          : [],
    );
}

async function startResubscriptions(
  db: Db,
  channels: readonly ChannelView[],
  actor: Omit<Actor, "contactId"> & { contactId: string | null },
  locale: Locale,
  source: ConsentSource,
): Promise<ChangeSummary[]> {
  const out: ChangeSummary[] = [];
  for (const ch of channels) {
    const res = await startDoubleOptIn(db, {
      channel: ch.channel,
      address: ch.address,
      contactId: actor.contactId,
      locale,
      source,
      ip: actor.ip ?? null,
      userAgent: actor.userAgent ?? null,
    });
    const kind =
      res.status === "sent"
        ? "confirm_sent"
        : res.status === "rate_limited"
          ? "confirm_rate_limited"
          : res.status === "keyword_required"
            ? "text_start"
            : "already_subscribed";
    out.push({
      kind,
      channel: ch.channel,
      topic: null,
      pausedUntil: null,
      display: ch.display,
      ...(kind === "text_start" ? { keywordNumber: res.keywordNumber ?? null } : {}),
    });
  }
  return out;
}

/**
 * Saves a preference-page submission: consent changes atomically (all or none), then a double
 * opt-in for each channel the person wants back. Returns what changed, in page order.
 */
export async function savePreferences(
  db: Db,
  args: {
    contact: RecipientContact;
    locale: Locale;
    input: PreferenceInput;
    actor: Actor;
  },
): Promise<{ ok: true; changes: ChangeSummary[] } | { ok: false; error: SaveError }> {
  const reason = await resolveReason(db, args.input.reasonCode, args.input.reasonText);
  if (!reason.ok) return { ok: false, error: "invalid_reason" };
  const channels = await loadChannels(db, args.contact, args.locale);
  const planned = planPreferences(channels, args.input, args.actor, reason);
  if (!planned.ok) return planned;
  let results: ChangeResult[];
  try {
    results = await db.transaction().execute(async (trx) => {
      const applied = await applyConsentChanges(trx, planned.plan.changes);
      await queueUnsubscribedNotices(trx, applied, args.contact.id, args.locale);
      return applied;
    });
  } catch (e) {
    // The state moved under the form (e.g. a one-click unsubscribe meanwhile): ask to review.
    if (e instanceof ConsentError) return { ok: false, error: "conflict" };
    throw e;
  }
  const confirmations = await startResubscriptions(
    db,
    planned.plan.resubscribe,
    args.actor,
    args.locale,
    "preference_page",
  );
  return { ok: true, changes: [...summarize(results), ...confirmations] };
}

// ---------------------------------------------------------------------------------------------
// Unsubscribe links (/u/{token}) and RFC 8058 one-click

export type UnsubscribeTarget = {
  channel: Channel;
  /** The keyed hash of the address the link was sent to: what the unsubscribe applies to. */
  addressHash: string;
  /** That address, normalized, when Heed still knows it (null: deleted or erased contact). */
  address: string | null;
  /** For the page; null when the address is not known any more. */
  display: string | null;
  /** The topic the link is for (null: the whole channel, or a topic that no longer exists). */
  topic: { key: string; name: string } | null;
  /** Already unsubscribed from what the link is for. */
  done: boolean;
  /** The channel itself is unsubscribed (so a topic link's "turn back on" needs double opt-in). */
  channelUnsubscribed: boolean;
};

/**
 * The address an unsubscribe link stands for (docs/links.md): the keyed hash the token carries
 * (`ah`), whatever happened to the contact since (deleted, re-created, erased, another address);
 * for a link signed before tokens carried it, the contact's current address, else (the contact
 * was deleted or erased) the last address its ledger rows name on the channel, or their hash.
 * One query, or two for an old link whose contact is gone. Null when nothing names an address.
 */
export async function unsubscribeLinkAddress(
  db: Db,
  claims: { sub: string; ch: Channel; ah?: string },
  contact: RecipientContact | null,
): Promise<{ addressHash: string; address: string | null } | null> {
  const current = contact ? contactAddress(contact, claims.ch) : null;
  if (claims.ah) {
    if (!ADDRESS_HASH_RE.test(claims.ah)) return null;
    const same = current !== null && addressKey(current) === claims.ah;
    return { addressHash: claims.ah, address: same ? current : null };
  }
  if (current) return { addressHash: addressKey(current), address: current };
  if (!isUuid(claims.sub)) return null;
  const { rows } = await sql<{ address_hash: string; address: string | null }>`
    select address_hash, address from consent_ledger
    where contact_id = ${claims.sub}::uuid and channel = ${claims.ch}
    order by id desc limit 1`.execute(db);
  return rows[0] ? { addressHash: rows[0].address_hash, address: rows[0].address } : null;
}

/**
 * What an unsubscribe link stands for, read-only: one query plus the cached topics. `link`
 * names the address by its hash (from unsubscribeLinkAddress); without it, the contact's
 * current address on the channel.
 */
export async function loadUnsubscribeTarget(
  db: Db,
  contact: RecipientContact | null,
  link: {
    channel: Channel;
    topic?: string | null;
    addressHash?: string | null;
    address?: string | null;
  },
  locale: Locale,
  /** The state of `link.addressHash`'s address, when already read (loadContactAndHashConsent). */
  known?: HashConsent,
): Promise<UnsubscribeTarget | null> {
  let hash = link.addressHash ?? null;
  let address = link.address ?? null;
  if (!hash) {
    address = contact ? contactAddress(contact, link.channel) : null;
    if (!address) return null;
    hash = addressKey(address);
  }
  const [consent, topics] = await Promise.all([
    known && link.addressHash ? known : readConsentByHash(db, link.channel, hash),
    cachedTopics(db),
  ]);
  address ??= consent.address;
  const info = link.topic ? topics.find((t) => t.key === link.topic) : undefined;
  const channelUnsubscribed = consent.status === "unsubscribed";
  return {
    channel: link.channel,
    addressHash: hash,
    address,
    display: address ? displayAddress(link.channel, address) : null,
    topic: info ? { key: info.key, name: topicName(info, locale) } : null,
    done: channelUnsubscribed || (info ? consent.topics[info.key] === "opted_out" : false),
    channelUnsubscribed,
  };
}

/**
 * Unsubscribes what a link stands for: the topic for a topic link, else the whole channel, by
 * the address's hash (so it works after the contact was deleted or erased). Idempotent: a
 * repeat changes nothing and writes no ledger row. One statement (the one door's
 * unsubscribeByLinkStatement; under load shared with concurrent presses, unsubscribeByLinkBatch,
 * decisions/0107), unless the operator's "you have been unsubscribed" email may apply: then in
 * a transaction with that email.
 */
export async function unsubscribeByLink(
  db: Db,
  target: UnsubscribeTarget,
  args: Omit<Actor, "contactId"> & {
    contactId: string | null;
    source: Extract<ConsentSource, "link" | "one_click">;
    reasonCode?: string | null;
    reasonText?: string | null;
    /** The language of the optional "you have been unsubscribed" email. */
    locale?: string | null;
    /** False when the contact is gone: no "you have been unsubscribed" email (it links to /p). */
    notice?: boolean;
  },
): Promise<{ changed: boolean }> {
  const change = {
    channel: target.channel,
    address: target.address,
    addressHash: target.addressHash,
    topic: target.topic?.key ?? null,
    source: args.source,
    contactId: args.contactId,
    campaign: args.campaign ?? null,
    reasonCode: args.reasonCode ?? null,
    reasonText: args.reasonText ?? null,
    ip: args.ip ?? null,
    userAgent: args.userAgent ?? null,
  };
  const noticeMayApply =
    target.channel === "email" &&
    !target.topic &&
    target.address !== null &&
    args.contactId !== null &&
    args.notice !== false &&
    (await cachedMailSettings(db)).unsubscribeConfirmation;
  if (!noticeMayApply) {
    const res = await unsubscribeByLinkCoalesced(db, change);
    return { changed: res.changed };
  }
  const result = await db.transaction().execute(async (trx) => {
    const applied = await applyConsentChanges(trx, [
      {
        ...change,
        action: target.topic ? "topic_opt_out" : "unsubscribe",
        actor: { type: "recipient", id: args.contactId },
      },
    ]);
    await queueUnsubscribedNotices(trx, applied, args.contactId, args.locale ?? null);
    return applied;
  });
  return { changed: result[0]!.changed };
}

/**
 * "You have been unsubscribed" (off by default; Admin → Branding turns it on): one email per email
 * address that this change really unsubscribed, queued in the unsubscribe's own transaction.
 * Transactional, no marketing, with a link back to the preference center.
 */
async function queueUnsubscribedNotices(
  trx: Trx,
  results: readonly ChangeResult[],
  contactId: string | null | undefined,
  locale: string | null,
): Promise<void> {
  if (!contactId) return;
  for (const r of results) {
    if (r.changed && r.channel === "email" && r.action === "unsubscribe" && r.address) {
      await queueUnsubscribedNotice(trx, { contactId, address: r.address, locale });
    }
  }
}

/**
 * "Unsubscribed by mistake?": a topic comes back at once while its channel is subscribed
 * (docs/consent.md, rule 5); a channel comes back only through a double opt-in confirmation.
 */
export async function resubscribeByLink(
  db: Db,
  target: UnsubscribeTarget,
  args: Omit<Actor, "contactId"> & { contactId: string | null; locale: Locale },
): Promise<ChangeSummary> {
  if (target.topic && !target.channelUnsubscribed) {
    await applyConsentChanges(db, [
      {
        channel: target.channel,
        address: target.address,
        addressHash: target.addressHash,
        action: "topic_opt_in",
        topic: target.topic.key,
        source: "link",
        contactId: args.contactId,
        campaign: args.campaign ?? null,
        actor: { type: "recipient", id: args.contactId },
        ip: args.ip ?? null,
        userAgent: args.userAgent ?? null,
      },
    ]);
    return {
      kind: "topic_opt_in",
      channel: target.channel,
      topic: target.topic.key,
      pausedUntil: null,
    };
  }
  if (!target.address || !target.display) {
    // A channel comes back only through a confirmation sent to the address (rule 5).
    throw new ConsentError("invalid_address", "The link's address is not known any more");
  }
  const view = {
    channel: target.channel,
    address: target.address,
    display: target.display,
  } as ChannelView;
  const [summary] = await startResubscriptions(db, [view], args, args.locale, "link");
  return summary!;
}

/** For the locale of a token error page: the contact's locale, if the token names one. */
export async function contactLocaleHint(db: Db, contactId: string | null): Promise<string | null> {
  if (!contactId) return null;
  return (await loadContact(db, contactId))?.locale ?? null;
}
