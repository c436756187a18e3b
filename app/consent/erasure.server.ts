import { defaultPhoneRegion } from "~/settings/phone-region.server";
import { sql } from "kysely";

import { audit, type AuditContext } from "~/admin/audit.server";

import type { Db, Trx } from "~/db/db.server";

import type { Channel } from "~/db/schema";

import { getSecrets } from "~/secrets.server";

import { hashAddress, normalizeEmail, normalizePhone } from "~/consent/address.server";
import { eraseEmailEventAddresses } from "~/email/undeliverable.server";
import { isUuid } from "~/db/ids";

/**
 * Erasure (GDPR art. 17; docs/consent.md, rule 9). In one transaction:
 *  - the contact's email, phone, external id and locale are removed (the row stays, marked
 *    erased_at, so the ledger's contact_id still groups its events);
 *  - every address of the contact (its email, its phone on SMS and WhatsApp, and every address
 *    its ledger rows and double opt-in requests name) keeps only its keyed hash: the clear
 *    address, IP, user agent, free-text reason and details go from the ledger (the only UPDATE
 *    the ledger trigger allows, under `heed.erasure = 'on'`), from channel_consent and from the
 *    double opt-in requests. The consent state stays, so decideSend, imports and manual
 *    suppression, which all match by hash, keep the address suppressed;
 *  - inbound messages (SMS/WhatsApp replies and the like) from those addresses lose their text
 *    and address;
 *  - an `erase` ledger row is recorded for each (channel, address hash);
 *  - then every remaining text column of every table (audit log details, outbox rows, import
 *    error reports, other features' tables) is swept for the addresses, which are replaced by
 *    `[erased]`; queued mail or SMS to them is cancelled. Other contacts that hold the same
 *    address lose it too: consent belongs to the address, and so does this request.
 */

export class ErasureError extends Error {
  constructor(
    readonly code: "not_found",
    message: string,
  ) {
    super(message);
    this.name = "ErasureError";
  }
}

export type ErasureResult = {
  contactId: string;
  alreadyErased: boolean;
  /** (channel, address hash) pairs erased; one `erase` ledger row each. */
  addresses: number;
  ledgerRows: number;
  /** Other contacts that held one of the addresses. */
  otherContacts: number;
  /** Rows elsewhere (audit log, outbox, ...) where an address was replaced. */
  sweptRows: number;
};

const REPLACEMENT = "[erased]";
/** Tables the sweep leaves alone: the operators' own logins and the migration bookkeeping. */
const SWEEP_EXCLUDED = new Set([
  "admin_users",
  "admin_sessions",
  "heed_migrations",
  "heed_migrations_lock",
]);

/**
 * In the ledger, only the personal columns may change (the chain covers the others, and the
 * append-only trigger refuses any other change: docs/consent.md#proof-of-consent).
 */
const LEDGER_PERSONAL_COLUMNS = new Set(["address", "ip", "user_agent", "reason_text", "details"]);

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A PostgreSQL regex (ARE, case-insensitive) that matches the addresses as whole addresses. */
function addressPattern(emails: string[], phones: string[]): string | null {
  const parts: string[] = [];
  for (const e of new Set(emails.map((x) => x.toLowerCase()))) {
    parts.push(`(?<![a-z0-9._%+'-])${escapeRegex(e)}(?![a-z0-9-]|\\.[a-z0-9])`);
  }
  for (const p of new Set(phones)) {
    const digits = p.replace(/\D/g, "");
    if (digits.length >= 6) parts.push(`(?<![0-9])\\+?${digits}(?![0-9])`);
  }
  return parts.length ? parts.join("|") : null;
}

type Target = { channel: Channel; hash: string };

export async function eraseContact(
  db: Db,
  contactId: string,
  by: AuditContext,
): Promise<ErasureResult> {
  if (!isUuid(contactId)) throw new ErasureError("not_found", "No such contact.");
  return db.transaction().execute(async (trx) => {
    const contact = await trx
      .selectFrom("contacts")
      .selectAll()
      .where("id", "=", contactId)
      .forUpdate()
      .executeTakeFirst();
    if (!contact) throw new ErasureError("not_found", "No such contact.");

    const key = getSecrets().addressHashKey;
    const region = defaultPhoneRegion();
    const emails: string[] = [];
    const phones: string[] = [];
    const targets = new Map<string, Target>();
    const addTarget = (channel: Channel, hash: string) =>
      targets.set(`${channel}\u0000${hash}`, { channel, hash });

    if (contact.email) {
      emails.push(contact.email.trim());
      const n = normalizeEmail(contact.email);
      if (n.ok) {
        emails.push(n.address);
        addTarget("email", hashAddress(key, n.address));
      }
    }
    if (contact.phone) {
      phones.push(contact.phone);
      const n = normalizePhone(contact.phone, region);
      if (n.ok) {
        phones.push(n.address);
        addTarget("sms", hashAddress(key, n.address));
        addTarget("whatsapp", hashAddress(key, n.address));
      }
    }
    // Every address this contact's events and confirmations name.
    const named = await sql<{ channel: Channel; address_hash: string; address: string | null }>`
      select distinct channel, address_hash, address from consent_ledger where contact_id = ${contactId}::uuid
      union
      select distinct channel, address_hash, address from double_opt_in_requests where contact_id = ${contactId}::uuid
    `.execute(trx);
    for (const r of named.rows) {
      addTarget(r.channel, r.address_hash);
      if (r.address) (r.channel === "email" ? emails : phones).push(r.address);
    }
    const list = [...targets.values()];
    const channels = list.map((t) => t.channel);
    const hashes = list.map((t) => t.hash);
    const alreadyErased = contact.erased_at !== null;

    await sql`select set_config('heed.erasure', 'on', true)`.execute(trx);

    const ledger = await sql`
      update consent_ledger l set
        address = null, ip = null, user_agent = null, reason_text = null,
        details = '{"erased": true}'::jsonb
      where (l.contact_id = ${contactId}::uuid
          or (l.channel, l.address_hash) in (
            select * from unnest(${channels}::text[], ${hashes}::text[])))
        and (l.address is not null or l.ip is not null or l.user_agent is not null
          or l.reason_text is not null or l.details <> '{"erased": true}'::jsonb)
    `.execute(trx);

    await sql`
      update channel_consent set address = null
      where address is not null and (channel, address_hash) in (
        select * from unnest(${channels}::text[], ${hashes}::text[]))
    `.execute(trx);

    await sql`
      update double_opt_in_requests set
        address = null, ip = null, user_agent = null, confirmed_ip = null,
        confirmed_user_agent = null
      where contact_id = ${contactId}::uuid or (channel, address_hash) in (
        select * from unnest(${channels}::text[], ${hashes}::text[]))
    `.execute(trx);

    // Mailto codes and undeliverable marks keep only the hashes too.
    await eraseEmailEventAddresses(trx, { channels, hashes });
    // Messages the person sent (SMS/WhatsApp replies, unsubscribe emails): the text and the
    // address are personal data; what was decided stays.
    await sql`
      update inbound_messages set
        address = null, body = null,
        details = (details - 'matched' - 'buttonPayload' - 'from' - 'subject') || '{"erased": true}'::jsonb
      where contact_id = ${contactId}::uuid or (channel, address_hash) in (
        select * from unnest(${channels}::text[], ${hashes}::text[]))
    `.execute(trx);

    await trx
      .updateTable("contacts")
      .set({
        email: null,
        phone: null,
        external_id: null,
        locale: null,
        erased_at: sql<Date>`coalesce(erased_at, now())`,
        updated_at: sql<Date>`now()`,
      })
      .where("id", "=", contactId)
      .execute();

    // The event skeleton: one `erase` row per (channel, address hash), no personal data. Each
    // extends its address's chain, so the address's state rows are locked first, in the door's
    // global order, like every other writer of the ledger.
    if (list.length > 0) {
      await sql`
        select 1 from channel_consent c
        join unnest(${channels}::text[], ${hashes}::text[]) as t(channel, h)
          on c.channel = t.channel and c.address_hash = t.h
        order by c.channel collate "C", c.address_hash collate "C"
        for update of c
      `.execute(trx);
      await sql`
        insert into consent_ledger (channel, address_hash, contact_id, action, source, actor_type, actor_id, details)
        select channel, h, ${contactId}::uuid, 'erase', 'admin', ${actorType(by)}, ${by.actor.id ?? null}, '{}'::jsonb
        from unnest(${channels}::text[], ${hashes}::text[]) as t(channel, h)
        order by channel collate "C", h collate "C"
      `.execute(trx);
    }

    let otherContacts = 0;
    let sweptRows = 0;
    const pattern = addressPattern(emails, phones);
    if (pattern) {
      const others = await sql`
        update contacts set
          email = case when email ~* ${pattern} then null else email end,
          phone = case when phone ~* ${pattern} then null else phone end,
          updated_at = now()
        where id <> ${contactId}::uuid and (email ~* ${pattern} or phone ~* ${pattern})
      `.execute(trx);
      otherContacts = Number(others.numAffectedRows ?? 0);
      // Queued messages to an erased address are not sent.
      await sql`
        update outbox set status = 'dead', last_error = 'recipient erased'
        where status in ('pending', 'sending') and recipient ~* ${pattern}
      `.execute(trx);
      sweptRows = await sweepTextColumns(trx, pattern);
    }

    await audit(trx, {
      ...by,
      action: "contact.erase",
      target: { type: "contact", id: contactId },
      details: {
        addresses: list.length,
        ledger_rows: Number(ledger.numAffectedRows ?? 0),
        other_contacts: otherContacts,
      },
    });

    return {
      contactId,
      alreadyErased,
      addresses: list.length,
      ledgerRows: Number(ledger.numAffectedRows ?? 0),
      otherContacts,
      sweptRows,
    };
  });
}

function actorType(by: AuditContext): "admin_user" | "api_key" | "system" {
  return by.actor.type;
}

/**
 * Replaces the addresses in every text, varchar, json(b) and text[] column of every table of the
 * schema (one UPDATE per table, touching only matching rows).
 */
async function sweepTextColumns(trx: Trx, pattern: string): Promise<number> {
  const { rows } = await sql<{
    table_name: string;
    column_name: string;
    data_type: string;
    udt_name: string;
  }>`
    select c.table_name, c.column_name, c.data_type, c.udt_name
    from information_schema.columns c
    join information_schema.tables t
      on t.table_schema = c.table_schema and t.table_name = c.table_name
    where c.table_schema = current_schema() and t.table_type = 'BASE TABLE'
      and c.is_generated = 'NEVER'
      and (c.data_type in ('text', 'character varying', 'json', 'jsonb')
        or (c.data_type = 'ARRAY' and c.udt_name in ('_text', '_varchar')))
    order by c.table_name, c.ordinal_position
  `.execute(trx);
  const byTable = new Map<string, typeof rows>();
  for (const r of rows) {
    if (SWEEP_EXCLUDED.has(r.table_name)) continue;
    if (r.table_name === "consent_ledger" && !LEDGER_PERSONAL_COLUMNS.has(r.column_name)) continue;
    byTable.set(r.table_name, [...(byTable.get(r.table_name) ?? []), r]);
  }
  const p = sql`${pattern}::text`;
  let total = 0;
  for (const [table, cols] of byTable) {
    const sets = cols.map((c) => {
      const col = sql.ref(c.column_name);
      if (c.data_type === "ARRAY") {
        return sql`${col} = case when array_to_string(${col}, chr(31)) ~* ${p}
          then array(select regexp_replace(x, ${p}, ${REPLACEMENT}, 'gi') from unnest(${col}) as x)
          else ${col} end`;
      }
      if (c.data_type === "json" || c.data_type === "jsonb") {
        const cast = sql.raw(c.data_type);
        return sql`${col} = case when ${col}::text ~* ${p}
          then regexp_replace(${col}::text, ${p}, ${REPLACEMENT}, 'gi')::${cast} else ${col} end`;
      }
      return sql`${col} = case when ${col} ~* ${p}
        then regexp_replace(${col}, ${p}, ${REPLACEMENT}, 'gi') else ${col} end`;
    });
    const wheres = cols.map((c) => {
      const col = sql.ref(c.column_name);
      if (c.data_type === "ARRAY") return sql`array_to_string(${col}, chr(31)) ~* ${p}`;
      if (c.data_type === "json" || c.data_type === "jsonb") return sql`${col}::text ~* ${p}`;
      return sql`${col} ~* ${p}`;
    });
    const r =
      await sql`update ${sql.table(table)} set ${sql.join(sets, sql`, `)} where ${sql.join(wheres, sql` or `)}`.execute(
        trx,
      );
    total += Number(r.numAffectedRows ?? 0);
  }
  return total;
}

export type ErasurePreview = {
  contact: {
    id: string;
    externalId: string | null;
    email: string | null;
    phone: string | null;
    erasedAt: Date | null;
  };
  /** The addresses that will keep only their hash, as far as they are still known in clear. */
  addresses: { channel: Channel; address: string }[];
  /** Other contacts that hold the contact's email or phone. */
  otherContacts: number;
};

/** What an erasure of this contact will touch (for the confirmation page). Null: no such contact. */
export async function erasurePreview(db: Db, contactId: string): Promise<ErasurePreview | null> {
  if (!isUuid(contactId)) return null;
  const contact = await db
    .selectFrom("contacts")
    .selectAll()
    .where("id", "=", contactId)
    .executeTakeFirst();
  if (!contact) return null;
  const region = defaultPhoneRegion();
  const seen = new Set<string>();
  const addresses: ErasurePreview["addresses"] = [];
  const add = (channel: Channel, address: string) => {
    const k = `${channel}\u0000${address}`;
    if (!seen.has(k)) {
      seen.add(k);
      addresses.push({ channel, address });
    }
  };
  const email = contact.email ? normalizeEmail(contact.email) : null;
  const phone = contact.phone ? normalizePhone(contact.phone, region) : null;
  if (email?.ok) add("email", email.address);
  if (phone?.ok) {
    add("sms", phone.address);
    add("whatsapp", phone.address);
  }
  const named = await db
    .selectFrom("consent_ledger")
    .select(["channel", "address"])
    .distinct()
    .where("contact_id", "=", contactId)
    .where("address", "is not", null)
    .execute();
  for (const r of named) add(r.channel, r.address!);
  let otherContacts = 0;
  const emails = addresses.filter((a) => a.channel === "email").map((a) => a.address);
  const phones = [...new Set(addresses.filter((a) => a.channel !== "email").map((a) => a.address))];
  if (emails.length || phones.length) {
    const r = await db
      .selectFrom("contacts")
      .select(sql<number>`count(*)::int`.as("n"))
      .where("id", "<>", contactId)
      .where((eb) =>
        eb.or([
          ...(emails.length ? [eb(sql<string>`lower(trim(email))`, "in", emails)] : []),
          ...(phones.length ? [eb("phone", "in", phones)] : []),
        ]),
      )
      .executeTakeFirstOrThrow();
    otherContacts = Number(r.n);
  }
  return {
    contact: {
      id: contact.id,
      externalId: contact.external_id,
      email: contact.email,
      phone: contact.phone,
      erasedAt: contact.erased_at,
    },
    addresses,
    otherContacts,
  };
}
