import { defaultPhoneRegion } from "~/settings/phone-region.server";
import { sql } from "kysely";
import { ApiError, fieldError } from "~/api/errors.server";
import { applyConsentChanges, readConsent, type ConsentChange } from "~/consent/consent.server";
import { normalizeAddress } from "~/consent/address.server";
import { startDoubleOptIn } from "~/consent/double-opt-in.server";
import type { Db } from "~/db/db.server";
import type { Channel, Contact } from "~/db/schema";

/**
 * Contacts and their preferences for the sender API. A contact groups addresses; consent
 * belongs to the address (docs/consent.md, rule 1), so everything here reads and changes consent through
 * the consent core.
 */

export type ContactJson = {
  id: string;
  externalId: string;
  email: string | null;
  phone: string | null;
  locale: string | null;
  createdAt: string;
  updatedAt: string;
};

export function contactJson(c: Contact): ContactJson {
  return {
    id: c.id,
    externalId: c.external_id ?? "",
    email: c.email,
    phone: c.phone,
    locale: c.locale,
    createdAt: c.created_at.toISOString(),
    updatedAt: c.updated_at.toISOString(),
  };
}

function normalizedOrFieldError(
  field: "email" | "phone",
  value: string | null | undefined,
): string | null | undefined {
  if (value === undefined || value === null) return value;
  const n = normalizeAddress(field === "email" ? "email" : "sms", value, defaultPhoneRegion());
  if (!n.ok)
    throw fieldError(
      field,
      `not a valid ${field === "email" ? "email address" : "phone number"} (${n.reason})`,
      n.reason,
    );
  return n.address;
}

/** Creates or updates the contact with this external id. Omitted fields keep their value. */
export async function upsertContact(
  db: Db,
  externalId: string,
  input: { email?: string | null; phone?: string | null; locale?: string | null },
): Promise<{ contact: Contact; created: boolean }> {
  const email = normalizedOrFieldError("email", input.email);
  const phone = normalizedOrFieldError("phone", input.phone);
  const set: Record<string, unknown> = { updated_at: sql`now()` };
  if (email !== undefined) set.email = email;
  if (phone !== undefined) set.phone = phone;
  if (input.locale !== undefined) set.locale = input.locale;
  const row = await db
    .insertInto("contacts")
    .values({
      external_id: externalId,
      email: email ?? null,
      phone: phone ?? null,
      locale: input.locale ?? null,
    })
    .onConflict((oc) =>
      oc.column("external_id").doUpdateSet(set).where("contacts.erased_at", "is", null),
    )
    .returning([
      "id",
      "external_id",
      "email",
      "phone",
      "locale",
      "created_at",
      "updated_at",
      "erased_at",
      sql<boolean>`(xmax = 0)`.as("inserted"),
    ])
    .executeTakeFirst();
  if (!row) {
    throw new ApiError(
      409,
      "contact_erased",
      "This contact was erased; its external id cannot be used again",
    );
  }
  const { inserted, ...contact } = row;
  return { contact, created: inserted };
}

export async function findContact(db: Db, externalId: string): Promise<Contact> {
  const c = await db
    .selectFrom("contacts")
    .selectAll()
    .where("external_id", "=", externalId)
    .where("erased_at", "is", null)
    .executeTakeFirst();
  if (!c) throw new ApiError(404, "contact_not_found", "No contact has this external id");
  return c;
}

export function contactAddress(
  c: Pick<Contact, "email" | "phone">,
  channel: Channel,
): string | null {
  return channel === "email" ? c.email : c.phone;
}

export function contactChannels(c: Pick<Contact, "email" | "phone">): Channel[] {
  return [
    ...(c.email ? (["email"] as const) : []),
    ...(c.phone ? (["sms", "whatsapp"] as const) : []),
  ];
}

type ChannelPreferences = {
  address: string;
  status: "subscribed" | "unsubscribed" | "pending";
  pausedUntil: string | null;
  topics: Record<string, boolean>;
  frequency: string | null;
  frequencyOptions: { key: string; windowDays: number | null }[];
};
export type PreferencesJson = {
  externalId: string;
  channels: Partial<Record<Channel, ChannelPreferences>>;
};

async function liveTopics(db: Db) {
  return db
    .selectFrom("topics")
    .select(["key", "channels", "default_opt_in"])
    .where("archived_at", "is", null)
    .orderBy("position")
    .orderBy("key")
    .execute();
}

export async function readPreferences(db: Db, contact: Contact): Promise<PreferencesJson> {
  const channels = contactChannels(contact);
  const [states, topics, frequencies] = await Promise.all([
    readConsent(
      db,
      channels.map((channel) => ({ channel, address: contactAddress(contact, channel)! })),
    ),
    liveTopics(db),
    db
      .selectFrom("frequency_options")
      .select(["channel", "key", "window_days"])
      .orderBy("position")
      .orderBy("key")
      .execute(),
  ]);
  const out: PreferencesJson = { externalId: contact.external_id ?? "", channels: {} };
  for (const s of states) {
    const t: Record<string, boolean> = {};
    for (const topic of topics) {
      if (!topic.channels.includes(s.channel)) continue;
      const explicit = s.topics[topic.key];
      t[topic.key] = explicit ? explicit === "opted_in" : topic.default_opt_in;
    }
    out.channels[s.channel] = {
      address: s.address,
      status: s.status ?? "subscribed",
      pausedUntil: s.pausedUntil ? s.pausedUntil.toISOString() : null,
      topics: t,
      frequency: s.frequency,
      frequencyOptions: frequencies
        .filter((f) => f.channel === s.channel)
        .map((f) => ({ key: f.key, windowDays: f.window_days })),
    };
  }
  return out;
}

export type ChannelPatch = {
  status?: "subscribed" | "unsubscribed";
  pausedUntil?: string | null;
  topics?: Record<string, boolean>;
  frequency?: string;
};

export type PatchContext = {
  actor: { type: "api_key"; id: string };
  ip: string | null;
  userAgent: string | null;
};

const MAX_PAUSE_MS = 366 * 24 * 60 * 60 * 1000;

/**
 * Applies a preferences change through the consent core (source `api`), in one transaction.
 * Asking for `subscribed` on an unsubscribed (or unconfirmed) channel starts double opt-in
 * instead; the channel stays as it is until the person confirms.
 */
export async function patchPreferences(
  db: Db,
  contact: Contact,
  patch: {
    channels: Partial<Record<Channel, ChannelPatch>>;
    reason?: { code?: string; text?: string };
    campaign?: string;
  },
  ctx: PatchContext,
): Promise<{ confirmations: { channel: Channel; requestId: string; status: string }[] }> {
  const entries = Object.entries(patch.channels) as [Channel, ChannelPatch][];
  const topics = await liveTopics(db);
  const changes: ConsentChange[] = [];
  const resubscribe: { channel: Channel; address: string }[] = [];
  const current = await readConsent(
    db,
    entries
      .map(([channel]) => ({ channel, address: contactAddress(contact, channel) }))
      .filter((t): t is { channel: Channel; address: string } => !!t.address),
  );

  for (const [channel, p] of entries) {
    const address = contactAddress(contact, channel);
    if (!address) {
      throw new ApiError(422, "no_address", `The contact has no address on ${channel}`, {
        channel,
      });
    }
    const state = current.find((s) => s.channel === channel);
    const base = {
      channel,
      address,
      source: "api" as const,
      contactId: contact.id,
      campaign: patch.campaign ?? null,
      actor: ctx.actor,
      ip: ctx.ip,
      userAgent: ctx.userAgent,
    };
    const reason = {
      reasonCode: patch.reason?.code ?? null,
      reasonText: patch.reason?.text ?? null,
    };
    if (p.status === "unsubscribed") changes.push({ ...base, ...reason, action: "unsubscribe" });
    if (
      p.status === "subscribed" &&
      (state?.status === "unsubscribed" || state?.status === "pending")
    ) {
      resubscribe.push({ channel, address });
    }
    if (p.pausedUntil !== undefined) {
      if (p.pausedUntil === null) {
        changes.push({ ...base, action: "resume" });
      } else {
        const until = new Date(p.pausedUntil);
        const ms = until.getTime() - Date.now();
        if (ms <= 0 || ms > MAX_PAUSE_MS) {
          throw fieldError(
            `channels.${channel}.pausedUntil`,
            "must be in the future and at most a year away",
          );
        }
        changes.push({ ...base, ...reason, action: "pause", pausedUntil: until });
      }
    }
    // An option that is not offered on this channel: 422 unknown_frequency from the core.
    if (p.frequency) changes.push({ ...base, action: "frequency", frequency: p.frequency });
    for (const [key, on] of Object.entries(p.topics ?? {})) {
      const topic = topics.find((t) => t.key === key);
      if (!topic || !topic.channels.includes(channel)) {
        throw new ApiError(422, "unknown_topic", `No topic "${key}" is offered on ${channel}`, {
          channel,
          topic: key,
        });
      }
      changes.push(
        on
          ? { ...base, action: "topic_opt_in", topic: key }
          : { ...base, ...reason, action: "topic_opt_out", topic: key },
      );
    }
  }

  await applyConsentChanges(db, changes);
  const confirmations: {
    channel: Channel;
    requestId: string;
    status: string;
    keywordNumber?: string | null;
  }[] = [];
  for (const r of resubscribe) {
    const started = await startDoubleOptIn(db, {
      channel: r.channel,
      address: r.address,
      contactId: contact.id,
      locale: contact.locale,
      source: "api",
      ip: ctx.ip,
      userAgent: ctx.userAgent,
    });
    confirmations.push({
      channel: r.channel,
      requestId: started.requestId,
      status: started.status,
      ...(started.status === "keyword_required"
        ? { keywordNumber: started.keywordNumber ?? null }
        : {}),
    });
  }
  return { confirmations };
}
