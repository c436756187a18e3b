import { sql } from "kysely";
import { audit, type AuditContext } from "~/admin/audit.server";
import { hashAddress, normalizeEmail, normalizePhone } from "~/consent/address.server";
import { ledgerProofFor, type LedgerProof } from "~/consent/chain.server";
import { inTransaction, type Db } from "~/db/db.server";
import { isUuid } from "~/db/ids";
import type { Channel } from "~/db/schema";
import { getSecrets } from "~/secrets.server";
import { defaultPhoneRegion } from "~/settings/phone-region.server";

/**
 * Access and portability (GDPR art. 15 and 20; docs/consent.md, rule 10): everything Heed holds
 * about one person, as one JSON document. The admin area renders the same document as a readable
 * page in the person's language, and the API returns it (GET /api/v1/contacts/{externalId}/export).
 * Every export writes an audit row.
 *
 * The person is a contact and every address that is theirs: the contact's email and phone (SMS
 * and WhatsApp), and every (channel, address hash) their ledger rows, confirmations, inbound
 * messages, mailto codes and undeliverable events name. Rows are taken whole (`select *`), so a
 * column added later is exported without a change here; a TABLE added later that names a contact
 * or an address must be added to SUBJECT_TABLES (tests/integration/subject-export.test.ts walks
 * the schema and fails until it is, or until it is listed in NOT_SUBJECT_TABLES with a reason).
 */

/** Every table that holds data about a person, and where the export puts it. */
export const SUBJECT_TABLES = {
  contacts: "contact",
  channel_consent: "addresses[].consent",
  topic_consent: "addresses[].topics",
  undeliverable_addresses: "addresses[].undeliverable",
  soft_bounce_streaks: "addresses[].softBounces",
  consent_ledger: "ledger",
  double_opt_in_requests: "confirmations",
  mailto_codes: "mailtoCodes",
  outbox: "messages",
  inbound_messages: "inboundMessages",
  undeliverable_events: "undeliverableEvents",
  frequency_consent: "frequency",
  send_log: "sendLog",
} as const;

/**
 * Tables with an address-like or contact-like column that are not about one person, and why.
 * (Erasure sweeps every text column of every table; an export names what is kept per person.)
 */
export const NOT_SUBJECT_TABLES: Record<string, string> = {
  admin_users: "the operators' own logins (staff, not the sender's recipients)",
  import_errors:
    "an import's rejected lines (values that were not valid addresses), kept for the operator's report; erasure sweeps them",
  audit_log: "operators' actions; an action on this contact is listed in `operatorActions`",
  webhook_deliveries: "attempts to deliver webhook messages (their outbox rows are in `messages`)",
};

export const EXPORT_FORMAT = "heed.subject-export.v1";

type Row = Record<string, unknown>;

export type SubjectAddress = {
  channel: Channel;
  /** The address in clear, when Heed still holds it (null after erasure: only the hash is kept). */
  address: string | null;
  addressHash: string;
  /** subscribed, unsubscribed or pending; null: no consent row (never changed). */
  status: string | null;
  pausedUntil: unknown;
  consent: Row | null;
  topics: Row[];
  undeliverable: Row | null;
  softBounces: Row | null;
};

export type SubjectExport = {
  format: typeof EXPORT_FORMAT;
  generatedAt: string;
  contact: Row;
  addresses: SubjectAddress[];
  /** The frequency chosen per address (with the option's labels, `option_labels`). */
  frequency: Row[];
  /** Sends recorded by checks with `record: true` (what the frequency cap counts). */
  sendLog: Row[];
  ledger: Row[];
  confirmations: Row[];
  mailtoCodes: Row[];
  messages: Row[];
  inboundMessages: Row[];
  undeliverableEvents: Row[];
  /** The names of the topics named above, in every language the operator gave. */
  topicNames: Record<string, Record<string, string>>;
  /** The labels of the unsubscribe reasons named above, in every language the operator gave. */
  reasonNames: Record<string, Record<string, string>>;
  /** Operators' actions on this contact (from the audit log): what, when, not who. */
  operatorActions: Row[];
  /**
   * What a third party needs to verify this person's ledger history: every chain of their
   * addresses, each row as the exact text hashed, the algorithm and the latest checkpoint
   * (ledgerProofFor, app/consent/chain.server.ts; docs/consent.md).
   */
  proof: LedgerProof;
};

type Target = { channel: Channel; hash: string };

/** Reads everything about a contact. Null when there is no such contact. */
export async function collectSubjectData(db: Db, contactId: string): Promise<SubjectExport | null> {
  if (!isUuid(contactId)) return null;
  const contact = await db
    .selectFrom("contacts")
    .selectAll()
    .where("id", "=", contactId)
    .executeTakeFirst();
  if (!contact) return null;

  const key = getSecrets().addressHashKey;
  const region = defaultPhoneRegion();
  const targets = new Map<string, Target>();
  const clear = new Map<string, string>(); // channel\0hash → address
  const add = (channel: Channel, hash: string, address?: string | null) => {
    const k = `${channel}\u0000${hash}`;
    targets.set(k, { channel, hash });
    if (address && !clear.has(k)) clear.set(k, address);
  };
  const email = contact.email ? normalizeEmail(contact.email) : null;
  if (email?.ok) add("email", hashAddress(key, email.address), email.address);
  const phone = contact.phone ? normalizePhone(contact.phone, region) : null;
  if (phone?.ok) {
    add("sms", hashAddress(key, phone.address), phone.address);
    add("whatsapp", hashAddress(key, phone.address), phone.address);
  }
  const named = await sql<{ channel: Channel; address_hash: string; address: string | null }>`
    select channel, address_hash, address from consent_ledger where contact_id = ${contactId}::uuid
    union select channel, address_hash, address from double_opt_in_requests where contact_id = ${contactId}::uuid
    union select channel, address_hash, address from inbound_messages
      where contact_id = ${contactId}::uuid and address_hash is not null
    union select channel, address_hash, address from undeliverable_events where contact_id = ${contactId}::uuid
    union select 'email', address_hash, address from mailto_codes where contact_id = ${contactId}::uuid
  `.execute(db);
  for (const r of named.rows) add(r.channel, r.address_hash, r.address);

  const list = [...targets.values()];
  const channels = list.map((t) => t.channel);
  const hashes = list.map((t) => t.hash);
  const mine = sql`(channel, address_hash) in (select * from unnest(${channels}::text[], ${hashes}::text[]))`;
  const byContact = sql`contact_id = ${contactId}::uuid`;
  const rows = async (query: ReturnType<typeof sql>) => (await sql<Row>`${query}`.execute(db)).rows;

  const [
    consent,
    topics,
    undeliverable,
    soft,
    ledger,
    confirmations,
    mailtoCodes,
    inbound,
    undeliverableEvents,
    operatorActions,
    frequency,
    sendLog,
  ] = await Promise.all([
    rows(sql`select * from channel_consent where ${mine}`),
    rows(sql`select * from topic_consent where ${mine} order by channel, topic`),
    rows(sql`select * from undeliverable_addresses where ${mine}`),
    rows(sql`select * from soft_bounce_streaks where ${mine}`),
    rows(sql`select * from consent_ledger where ${byContact} or ${mine} order by id`),
    rows(
      sql`select * from double_opt_in_requests where ${byContact} or ${mine} order by created_at, id`,
    ),
    rows(
      sql`select * from mailto_codes where ${byContact}
        or ('email', address_hash) in (select * from unnest(${channels}::text[], ${hashes}::text[]))
        order by created_at`,
    ),
    rows(sql`select * from inbound_messages where ${byContact} or ${mine} order by id`),
    rows(sql`select * from undeliverable_events where ${byContact} or ${mine} order by id`),
    rows(
      sql`select occurred_at, action, details from audit_log
        where target_type = 'contact' and target_id = ${contactId} order by id`,
    ),
    rows(
      sql`select f.*, o.labels as option_labels from frequency_consent f
        left join frequency_options o on o.channel = f.channel and o.key = f.frequency
        where (f.channel, f.address_hash) in (select * from unnest(${channels}::text[], ${hashes}::text[]))
        order by f.channel`,
    ),
    rows(sql`select * from send_log where ${mine} order by sent_at, campaign`),
  ]);
  for (const r of consent) {
    add(r.channel as Channel, r.address_hash as string, r.address as string | null);
  }
  for (const r of ledger) {
    add(r.channel as Channel, r.address_hash as string, r.address as string | null);
  }

  // Messages queued or sent to the person's addresses (the outbox keeps the recipient in clear).
  const recipients = new Set<string>();
  for (const [k, address] of clear) {
    const channel = k.split("\u0000")[0] as Channel;
    if (channel === "email") recipients.add(address.toLowerCase());
    else if (channel === "whatsapp") recipients.add(`whatsapp:${address}`);
    else recipients.add(address);
  }
  const messages = recipients.size
    ? await rows(
        sql`select * from outbox where kind <> 'webhook'
          and lower(recipient) = any(${[...recipients]}::text[]) order by id`,
      )
    : [];

  const topicKeys = [
    ...new Set([...topics, ...ledger].map((r) => r.topic).filter((k): k is string => !!k)),
  ];
  const topicNames: Record<string, Record<string, string>> = {};
  if (topicKeys.length) {
    const named = await db
      .selectFrom("topics")
      .select(["key", "names"])
      .where("key", "in", topicKeys)
      .execute();
    for (const r of named) topicNames[r.key] = r.names;
  }

  const reasonCodes = [
    ...new Set(ledger.map((r) => r.reason_code).filter((k): k is string => !!k)),
  ];
  const reasonNames: Record<string, Record<string, string>> = {};
  if (reasonCodes.length) {
    const named = await db
      .selectFrom("unsubscribe_reasons")
      .select(["code", "labels"])
      .where("code", "in", reasonCodes)
      .execute();
    for (const r of named) reasonNames[r.code] = r.labels;
  }

  const keyOf = (r: Row) => `${String(r.channel)}\u0000${String(r.address_hash)}`;
  const addresses: SubjectAddress[] = [...targets.values()]
    .sort((a, b) => a.channel.localeCompare(b.channel) || a.hash.localeCompare(b.hash))
    .map((t) => {
      const k = `${t.channel}\u0000${t.hash}`;
      const c = consent.find((r) => keyOf(r) === k) ?? null;
      return {
        channel: t.channel,
        address: clear.get(k) ?? null,
        addressHash: t.hash,
        status: (c?.status as string | undefined) ?? null,
        pausedUntil: c?.paused_until ?? null,
        consent: c,
        topics: topics.filter((r) => keyOf(r) === k),
        undeliverable: undeliverable.find((r) => keyOf(r) === k) ?? null,
        softBounces: soft.find((r) => keyOf(r) === k) ?? null,
      };
    });

  return {
    format: EXPORT_FORMAT,
    generatedAt: new Date().toISOString(),
    contact: contact as unknown as Row,
    addresses,
    frequency,
    sendLog,
    ledger,
    confirmations,
    mailtoCodes,
    messages,
    inboundMessages: inbound,
    undeliverableEvents,
    topicNames,
    reasonNames,
    operatorActions,
    proof: await ledgerProofFor(db, [...new Set(hashes)]),
  };
}

/**
 * An export, audited: the data is read and the audit row written in one transaction. Null when
 * there is no such contact (nothing is audited then).
 */
export async function exportContactData(
  db: Db,
  ref: { contactId: string } | { externalId: string },
  by: AuditContext & { via: "admin" | "api"; as: "json" | "page" },
): Promise<SubjectExport | null> {
  return inTransaction(db, async (trx) => {
    let contactId: string | null = null;
    if ("contactId" in ref) contactId = ref.contactId;
    else {
      const row = await trx
        .selectFrom("contacts")
        .select("id")
        .where("external_id", "=", ref.externalId)
        .executeTakeFirst();
      contactId = row?.id ?? null;
    }
    if (!contactId) return null;
    const data = await collectSubjectData(trx, contactId);
    if (!data) return null;
    const { via, as, ...context } = by;
    await audit(trx, {
      ...context,
      action: "contact.export",
      target: { type: "contact", id: contactId },
      details: {
        via,
        as,
        addresses: data.addresses.length,
        ledger_rows: data.ledger.length,
        messages: data.messages.length,
      },
    });
    return data;
  });
}
