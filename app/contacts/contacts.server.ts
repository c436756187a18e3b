import { defaultPhoneRegion, refreshPhoneRegion } from "~/settings/phone-region.server";
import { sql, type Expression, type SqlBool } from "kysely";
import { audit, type AuditContext } from "~/admin/audit.server";
import { normalizeEmail, normalizePhone } from "~/consent/address.server";
import { addressKey, readConsent } from "~/consent/consent.server";
import { isOperatorSource } from "~/consent/labels";
import { inTransaction, type Db } from "~/db/db.server";
import type { ActorType, Channel, ChannelStatus, ConsentSource, LedgerAction } from "~/db/schema";
import { listTopics } from "~/topics/topics.server";
import type { UNDELIVERABLE_SOURCE, UndeliverableEventAction } from "~/email/constants";
import { undeliverableTimeline } from "~/email/undeliverable.server";
import { isUuid } from "~/db/ids";

/**
 * Contacts as the admin area sees them: search (fast on millions of rows: every branch is an
 * index range scan in index order, limited), one contact's consent on each of its channels, and
 * the full ledger timeline of its addresses.
 */

export type ContactSummary = {
  id: string;
  externalId: string | null;
  email: string | null;
  phone: string | null;
  locale: string | null;
  createdAt: Date;
  erasedAt: Date | null;
};

export const SEARCH_PAGE_SIZE = 25;
/** Deeper than this, the search asks for a more precise query (keeps every page cheap). */
export const SEARCH_MAX_PAGE = 40;

export type SearchResult = {
  contacts: ContactSummary[];
  page: number;
  hasNext: boolean;
  /** The query read as an address (the same normalization as the consent core), if it is one. */
  address: { kind: "email" | "phone"; value: string } | null;
};

/** The byte-order upper bound of every string that starts with `prefix`. */
const PREFIX_END = "\u{10FFFF}";

type Hit = { id: string; k: string; rank: number };

/** How the query reads as an address, with the consent core's normalization. */
export function readQueryAsAddress(q: string): SearchResult["address"] {
  if (q.includes("@")) {
    const e = normalizeEmail(q);
    return e.ok ? { kind: "email", value: e.address } : null;
  }
  if (/^[+(]?[\d\s().-]{5,}$/.test(q) || /^(00|\+)/.test(q)) {
    const p = normalizePhone(q, defaultPhoneRegion());
    return p.ok ? { kind: "phone", value: p.address } : null;
  }
  return null;
}

/**
 * Search by email, phone or external id. Exact matches (after normalization) come first, then
 * contacts whose email, phone or external id starts with the query. Server-side pages of 25.
 */
export async function searchContacts(
  db: Db,
  query: string,
  options: { page?: number; pageSize?: number } = {},
): Promise<SearchResult> {
  await refreshPhoneRegion(db);
  const q = query.normalize("NFC").trim().slice(0, 320);
  const pageSize = options.pageSize ?? SEARCH_PAGE_SIZE;
  const page = Math.min(Math.max(1, Math.floor(options.page ?? 1)), SEARCH_MAX_PAGE);
  const address = q ? readQueryAsAddress(q) : null;
  if (!q) return { contacts: [], page, hasNext: false, address };
  const want = page * pageSize + 1;

  const branches: Promise<Hit[]>[] = [];
  const exact = (column: "email" | "phone" | "external_id", value: string) =>
    db
      .selectFrom("contacts")
      .select(["id", sql<string>`${sql.ref(column)}`.as("k"), sql<number>`0`.as("rank")])
      .where(column, "=", value)
      .orderBy("id")
      .limit(want)
      .execute();
  const prefix = (column: "email" | "phone" | "external_id", value: string) => {
    const c = sql<string>`(${sql.ref(column)} collate "C")`;
    return db
      .selectFrom("contacts")
      .select(["id", sql<string>`${sql.ref(column)}`.as("k"), sql<number>`1`.as("rank")])
      .where(c, ">=", value)
      .where(c, "<", `${value}${PREFIX_END}`)
      .orderBy(c)
      .orderBy("id")
      .limit(want)
      .execute();
  };

  branches.push(exact("external_id", q));
  if (address?.kind === "email") branches.push(exact("email", address.value));
  if (address?.kind === "phone") branches.push(exact("phone", address.value));
  if (q.length >= 2) {
    branches.push(prefix("external_id", q));
    branches.push(prefix("email", q.toLowerCase()));
    const digits = q.replace(/^00/, "").replace(/\D/g, "");
    if (/^[+\d\s().-]+$/.test(q) && digits.length >= 2)
      branches.push(prefix("phone", `+${digits}`));
  }

  const hits = (await Promise.all(branches)).flat();
  hits.sort((a, b) =>
    a.rank !== b.rank ? a.rank - b.rank : a.k < b.k ? -1 : a.k > b.k ? 1 : a.id < b.id ? -1 : 1,
  );
  const seen = new Set<string>();
  const ordered: string[] = [];
  for (const h of hits) {
    if (!seen.has(h.id)) {
      seen.add(h.id);
      ordered.push(h.id);
    }
  }
  const pageIds = ordered.slice((page - 1) * pageSize, page * pageSize);
  const hasNext = ordered.length > page * pageSize && page < SEARCH_MAX_PAGE;
  if (pageIds.length === 0) return { contacts: [], page, hasNext: false, address };
  const rows = await db.selectFrom("contacts").selectAll().where("id", "in", pageIds).execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  return {
    contacts: pageIds.flatMap((id) => {
      const r = byId.get(id);
      return r ? [toSummary(r)] : [];
    }),
    page,
    hasNext,
    address,
  };
}

function toSummary(r: {
  id: string;
  external_id: string | null;
  email: string | null;
  phone: string | null;
  locale: string | null;
  created_at: Date;
  erased_at: Date | null;
}): ContactSummary {
  return {
    id: r.id,
    externalId: r.external_id,
    email: r.email,
    phone: r.phone,
    locale: r.locale,
    createdAt: r.created_at,
    erasedAt: r.erased_at,
  };
}

export async function getContact(db: Db, id: string): Promise<ContactSummary | null> {
  if (!isUuid(id)) return null;
  const row = await db.selectFrom("contacts").selectAll().where("id", "=", id).executeTakeFirst();
  return row ? toSummary(row) : null;
}

export type ChannelAddress = { channel: Channel; address: string };

/** A contact's addresses per channel: email on email, the phone on SMS and WhatsApp. */
export function contactAddresses(c: Pick<ContactSummary, "email" | "phone">): ChannelAddress[] {
  const out: ChannelAddress[] = [];
  if (c.email) {
    const e = normalizeEmail(c.email);
    if (e.ok) out.push({ channel: "email", address: e.address });
  }
  if (c.phone) {
    const p = normalizePhone(c.phone, defaultPhoneRegion());
    if (p.ok) {
      out.push({ channel: "sms", address: p.address });
      out.push({ channel: "whatsapp", address: p.address });
    }
  }
  return out;
}

export type TopicChoice = {
  key: string;
  name: string;
  /** opted_in / opted_out: recorded; default_in / default_out: nothing recorded, the topic's default. */
  state: "opted_in" | "opted_out" | "default_in" | "default_out";
};

export type ChannelState = {
  channel: Channel;
  address: string;
  /** null: Heed has never recorded anything for this address (sending is allowed). */
  status: ChannelStatus | null;
  pausedUntil: Date | null;
  topics: TopicChoice[];
};

/** Each address's state on its channel with its topic choices (topics sent on that channel). */
export async function channelStates(db: Db, targets: ChannelAddress[]): Promise<ChannelState[]> {
  if (targets.length === 0) return [];
  const [consent, topics] = await Promise.all([readConsent(db, targets), listTopics(db)]);
  return consent.map((c) => ({
    channel: c.channel,
    address: c.address,
    status: c.status,
    pausedUntil: c.pausedUntil,
    topics: topics
      .filter((t) => t.channels.includes(c.channel))
      .map((t) => {
        const recorded = c.topics[t.key];
        return {
          key: t.key,
          name: t.names.en ?? t.key,
          state: recorded ?? (t.defaultOptIn ? "default_in" : "default_out"),
        };
      }),
  }));
}

export type TimelineEntry = {
  id: number;
  occurredAt: Date;
  channel: Channel;
  address: string | null;
  topic: string | null;
  /** A ledger action, or an undeliverable mark or clear (app/email/undeliverable.server.ts). */
  action: LedgerAction | UndeliverableEventAction;
  source: ConsentSource | typeof UNDELIVERABLE_SOURCE;
  campaign: string | null;
  reasonCode: string | null;
  reasonText: string | null;
  /** An operator's note: an agent's, an API caller's, an import's (details.note). */
  note: string | null;
  actorType: ActorType | null;
  actorId: string | null;
  /** The admin user's email or the API key's name, when the actor is one. */
  actorLabel: string | null;
  ip: string | null;
  userAgent: string | null;
  pausedUntil: Date | null;
};

export const TIMELINE_PAGE_SIZE = 50;

/**
 * The ledger of these addresses (and of the contact, for rows recorded under its id), newest
 * first, keyset-paginated on the ledger id (`before`). Uses the ledger's (channel, address_hash,
 * id) and (contact_id, id) indexes.
 */
export async function ledgerTimeline(
  db: Db,
  input: {
    targets: ChannelAddress[];
    contactId?: string | null;
    before?: number | null;
    limit?: number;
  },
): Promise<{ entries: TimelineEntry[]; nextBefore: number | null }> {
  const limit = Math.min(Math.max(input.limit ?? TIMELINE_PAGE_SIZE, 1), 500);
  const keys = input.targets.map((t) => ({ channel: t.channel, hash: addressKey(t.address) }));
  if (keys.length === 0 && !input.contactId) return { entries: [], nextBefore: null };
  const rows = await db
    .selectFrom("consent_ledger as l")
    .leftJoin("admin_users as u", (j) =>
      j.on("l.actor_type", "=", "admin_user").on(sql`u.id::text`, "=", sql.ref("l.actor_id")),
    )
    .leftJoin("api_keys as k", (j) =>
      j.on("l.actor_type", "=", "api_key").on(sql`k.id::text`, "=", sql.ref("l.actor_id")),
    )
    .select([
      "l.id",
      "l.occurred_at",
      "l.channel",
      "l.address",
      "l.topic",
      "l.action",
      "l.source",
      "l.campaign",
      "l.reason_code",
      "l.reason_text",
      sql<string | null>`l.details ->> 'note'`.as("note"),
      "l.actor_type",
      "l.actor_id",
      "l.ip",
      "l.user_agent",
      "l.paused_until",
      "u.email as admin_email",
      "k.name as api_key_name",
    ])
    .where((eb) => {
      const ors: Expression<SqlBool>[] = keys.map((k) =>
        eb.and([eb("l.channel", "=", k.channel), eb("l.address_hash", "=", k.hash)]),
      );
      if (input.contactId && isUuid(input.contactId)) {
        ors.push(eb("l.contact_id", "=", input.contactId));
      }
      return eb.or(ors);
    })
    .$if(Boolean(input.before), (q) => q.where("l.id", "<", input.before!))
    .orderBy("l.id", "desc")
    .limit(limit + 1)
    .execute();
  const ledger: TimelineEntry[] = rows.map((r) => ({
    id: Number(r.id),
    occurredAt: r.occurred_at,
    channel: r.channel,
    address: r.address,
    topic: r.topic,
    action: r.action,
    source: r.source,
    campaign: r.campaign,
    reasonCode: r.reason_code,
    // Rows written before notes moved to details (an agent's or an API caller's note was once
    // stored as reason_text): in those sources the text is the operator's note.
    ...(isOperatorSource(r.source)
      ? { reasonText: null, note: r.note ?? r.reason_text }
      : { reasonText: r.reason_text, note: r.note }),
    actorType: r.actor_type,
    actorId: r.actor_id,
    actorLabel: r.admin_email ?? r.api_key_name ?? null,
    ip: r.ip,
    userAgent: r.user_agent,
    pausedUntil: r.paused_until,
  }));
  // Undeliverable marks and clears, interleaved by id (they share the ledger's id sequence).
  const marks = await undeliverableTimeline(db, {
    keys,
    contactId: input.contactId && isUuid(input.contactId) ? input.contactId : null,
    before: input.before ?? null,
    limit: limit + 1,
  });
  const all = [...ledger, ...marks].sort((a, b) => b.id - a.id).slice(0, limit + 1);
  const page = all.slice(0, limit);
  return {
    entries: page,
    nextBefore: all.length > limit ? page[page.length - 1]!.id : null,
  };
}

/**
 * Deletes a contact record. Consent belongs to the address (docs/consent.md, rule 1): the addresses'
 * suppressions, topic choices and ledger stay exactly as they are, so deleting (or re-importing)
 * a contact never re-subscribes anyone.
 */
export async function deleteContact(db: Db, id: string, by: AuditContext): Promise<boolean> {
  if (!isUuid(id)) return false;
  return inTransaction(db, async (trx) => {
    const row = await trx
      .deleteFrom("contacts")
      .where("id", "=", id)
      .returning(["id", "external_id"])
      .executeTakeFirst();
    if (!row) return false;
    await audit(trx, {
      ...by,
      action: "contact.delete",
      target: { type: "contact", id },
      details: { externalId: row.external_id },
    });
    return true;
  });
}

/** Contacts that hold this normalized address (as their email or their phone). */
export async function contactsWithAddress(
  db: Db,
  address: string,
  limit = 20,
): Promise<ContactSummary[]> {
  const column = address.includes("@") ? "email" : "phone";
  const rows = await db
    .selectFrom("contacts")
    .selectAll()
    .where(column, "=", address)
    .orderBy("created_at")
    .limit(limit)
    .execute();
  return rows.map(toSummary);
}
