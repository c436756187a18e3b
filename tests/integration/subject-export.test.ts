import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashAddress } from "~/consent/address.server";
import { verifyLedgerProof } from "~/consent/chain.server";
import { applyConsentChange } from "~/consent/consent.server";
import { setDatabase, type Db } from "~/db/db.server";
import type { Channel } from "~/db/schema";
import {
  collectSubjectData,
  exportContactData,
  NOT_SUBJECT_TABLES,
  SUBJECT_TABLES,
  type SubjectExport,
} from "~/privacy/access.server";
import * as exportRoute from "~/routes/api.v1.contacts.$externalId.export";
import { getSecrets } from "~/secrets.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { call, json, newKey } from "./api.helpers";

/**
 * GDPR access and portability (issue 16.4): the export holds every row of every table about the
 * person, and nothing of anyone else. The schema is walked, so a table added later that names a
 * contact or an address fails this test until the export covers it (or says why not).
 */

let t: TestDatabase;
let db: Db;

type Person = {
  id: string;
  externalId: string;
  email: string;
  phone: string;
  hashes: Record<Channel, string>;
};

const hash = (a: string) => hashAddress(getSecrets().addressHashKey, a);

async function person(name: string, phone: string): Promise<Person> {
  const email = `${name}@example.com`;
  const row = await db
    .insertInto("contacts")
    .values({ external_id: `${name}-ext`, email, phone, locale: "pl" })
    .returning("id")
    .executeTakeFirstOrThrow();
  return {
    id: row.id,
    externalId: `${name}-ext`,
    email,
    phone,
    hashes: { email: hash(email), sms: hash(phone), whatsapp: hash(phone) },
  };
}

/** Rows about the person in every table the export covers, through the product where it has a door. */
async function seed(p: Person, n: number) {
  await applyConsentChange(db, {
    channel: "email",
    address: p.email,
    action: "unsubscribe",
    source: "link",
    contactId: p.id,
    campaign: "spring",
    ip: `198.51.100.${n}`,
    userAgent: "Mozilla/5.0 test",
    reasonCode: "too_frequent",
  });
  await applyConsentChange(db, {
    channel: "sms",
    address: p.phone,
    action: "topic_opt_out",
    topic: "news",
    source: "preference_page",
    contactId: p.id,
  });
  // An import that named the WhatsApp address without a contact: found by the address's hash.
  await applyConsentChange(db, {
    channel: "whatsapp",
    address: p.phone,
    action: "unsubscribe",
    source: "import",
  });
  await db
    .insertInto("double_opt_in_requests")
    .values({
      channel: "email",
      address_hash: p.hashes.email,
      address: p.email,
      contact_id: p.id,
      source: "api",
      expires_at: new Date(Date.now() + 86_400_000),
      message_hash: `msg-${n}`,
    })
    .execute();
  await sql`insert into mailto_codes (code, address_hash, address, contact_id, expires_at)
    values (${"abcdefghijklmnopqrstuvwxy" + "z2"[n - 1]}, ${p.hashes.email}, ${p.email}, ${p.id}::uuid, now() + interval '1 day')`.execute(
    db,
  );
  await sql`insert into outbox (kind, recipient, payload) values
    ('email', ${p.email}, '{"subject":"Confirm"}'::jsonb),
    ('sms', ${p.phone}, '{"text":"STOP to end"}'::jsonb),
    ('sms', ${`whatsapp:${p.phone}`}, '{"text":"hi"}'::jsonb)`.execute(db);
  await sql`insert into inbound_messages (provider, provider_message_id, channel, kind, address_hash, address, contact_id, body)
    values ('twilio', ${`SM${n}`}, 'sms', 'sms', ${p.hashes.sms}, ${p.phone}, ${p.id}::uuid, 'STOP')`.execute(
    db,
  );
  const ev = await sql<{
    id: number;
  }>`insert into undeliverable_events (channel, address_hash, address, contact_id, action, reason, provider)
    values ('email', ${p.hashes.email}, ${p.email}, ${p.id}::uuid, 'mark', 'hard_bounce', 'ses') returning id`.execute(
    db,
  );
  await sql`insert into undeliverable_addresses (channel, address_hash, address, reason, last_event_id)
    values ('email', ${p.hashes.email}, ${p.email}, 'hard_bounce', ${ev.rows[0]!.id})`.execute(db);
  await sql`insert into soft_bounce_streaks (channel, address_hash, count)
    values ('email', ${p.hashes.email}, 2)`.execute(db);
  // A frequency choice (through the one door) and a send recorded by a check.
  await applyConsentChange(db, {
    channel: "sms",
    address: p.phone,
    action: "frequency",
    frequency: "weekly",
    source: "preference_page",
    contactId: p.id,
  });
  await sql`insert into send_log (channel, address_hash, campaign)
    values ('sms', ${p.hashes.sms}, 'spring')`.execute(db);
}

let alice: Person;
let bob: Person;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  setDatabase(t);
  await sql`insert into topics (key, names, descriptions, channels)
    values ('news', '{"en":"News"}', '{}', '{email,sms,whatsapp}') on conflict do nothing`.execute(
    db,
  );
  await sql`insert into frequency_options (channel, key, labels, window_days)
    values ('sms', 'weekly', '{"en":"At most weekly","pl":"Najwyżej raz w tygodniu"}', 7)`.execute(
    db,
  );
  alice = await person("alice", "+48601000001");
  bob = await person("bob", "+48601000002");
  await seed(alice, 1);
  await seed(bob, 2);
});
afterAll(async () => {
  setDatabase(undefined);
  await t?.close();
});

const markers = (p: Person) => [p.id, p.email, p.phone, ...Object.values(p.hashes)];

/** Rows of the export that come from one table (see SUBJECT_TABLES). */
function exported(data: SubjectExport, table: keyof typeof SUBJECT_TABLES): unknown[] {
  const per = (k: "consent" | "undeliverable" | "softBounces") =>
    data.addresses.map((a) => a[k]).filter((x) => x !== null);
  switch (table) {
    case "contacts":
      return [data.contact];
    case "channel_consent":
      return per("consent");
    case "topic_consent":
      return data.addresses.flatMap((a) => a.topics);
    case "undeliverable_addresses":
      return per("undeliverable");
    case "soft_bounce_streaks":
      return per("softBounces");
    case "consent_ledger":
      return data.ledger;
    case "double_opt_in_requests":
      return data.confirmations;
    case "mailto_codes":
      return data.mailtoCodes;
    case "outbox":
      return data.messages;
    case "inbound_messages":
      return data.inboundMessages;
    case "undeliverable_events":
      return data.undeliverableEvents;
    case "frequency_consent":
      return data.frequency;
    case "send_log":
      return data.sendLog;
  }
}

describe("subject export", () => {
  it("covers every table that names a contact or an address (the schema is walked)", async () => {
    const { rows } = await sql<{ table_name: string }>`
      select distinct c.table_name from information_schema.columns c
      join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
      where c.table_schema = current_schema() and t.table_type = 'BASE TABLE'
        and (c.column_name in ('contact_id', 'address_hash', 'address', 'recipient', 'email', 'phone')
          or c.column_name like '%address%')
      union
      select distinct tc.table_name from information_schema.table_constraints tc
      join information_schema.constraint_column_usage u on u.constraint_name = tc.constraint_name
      where tc.constraint_type = 'FOREIGN KEY' and u.table_name = 'contacts'
      order by 1`.execute(db);
    const personal = rows.map((r) => r.table_name);
    const covered = new Set([...Object.keys(SUBJECT_TABLES), ...Object.keys(NOT_SUBJECT_TABLES)]);
    expect(personal.filter((name) => !covered.has(name))).toEqual([]);
    for (const name of Object.keys(SUBJECT_TABLES)) expect(personal).toContain(name);
  });

  it("holds every row about the person in every table, and nothing about anyone else", async () => {
    const data = (await collectSubjectData(db, alice.id))!;
    const text = JSON.stringify(data);
    for (const m of markers(bob)) expect(text).not.toContain(m);
    for (const table of Object.keys(SUBJECT_TABLES) as (keyof typeof SUBJECT_TABLES)[]) {
      // Rows of the table that mention Alice anywhere (her id, an address or an address hash).
      const conditions = markers(alice).map((m) => sql`position(${m} in row_to_json(x)::text) > 0`);
      const { rows } = await sql<{ n: number }>`
        select count(*)::int as n from ${sql.table(table)} as x where ${sql.join(conditions, sql` or `)}`.execute(
        db,
      );
      expect(rows[0]!.n, `${table}: seeded`).toBeGreaterThan(0);
      expect(exported(data, table), table).toHaveLength(rows[0]!.n);
    }
    expect(data.addresses.map((a) => [a.channel, a.address, a.status])).toEqual(
      expect.arrayContaining([
        ["email", alice.email, "unsubscribed"],
        ["sms", alice.phone, "subscribed"],
        ["whatsapp", alice.phone, "unsubscribed"],
      ]),
    );
    const unsubscribe = data.ledger.find((r) => r.channel === "email")!;
    expect(unsubscribe).toMatchObject({ ip: "198.51.100.1", user_agent: "Mozilla/5.0 test" });
    // The proof: one chain per address, complete, and it verifies.
    expect(data.proof.chains.map((c) => `${c.channel} ${c.addressHash}`).sort()).toEqual(
      data.addresses.map((a) => `${a.channel} ${a.addressHash}`).sort(),
    );
    expect(data.proof.chains.flatMap((c) => c.rows.map((r) => Number(r.id))).sort()).toEqual(
      data.ledger.map((r) => Number(r.id)).sort(),
    );
    expect(verifyLedgerProof(data.proof).ok).toBe(true);
    expect(data.frequency[0]).toMatchObject({ channel: "sms", frequency: "weekly" });
  });

  it("the API answers the export for an external id and audits it; 404 for an unknown one", async () => {
    const { key } = await newKey(db, ["contacts"]);
    const res = await call(exportRoute, {
      path: `/api/v1/contacts/${alice.externalId}/export`,
      params: { externalId: alice.externalId },
      key,
    });
    expect(res.status).toBe(200);
    const body = await json<SubjectExport>(res);
    expect(body.format).toBe("heed.subject-export.v1");
    expect(body.contact.external_id).toBe(alice.externalId);
    expect(JSON.stringify(body)).not.toContain(bob.email);
    const audit = await db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", "contact.export")
      .execute();
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor_type: "api_key", target_id: alice.id });
    expect(audit[0]!.details).toMatchObject({ via: "api", as: "json" });

    const missing = await call(exportRoute, {
      path: "/api/v1/contacts/nobody/export",
      params: { externalId: "nobody" },
      key,
    });
    expect(missing.status).toBe(404);
    const none = await exportContactData(
      db,
      { contactId: "00000000-0000-4000-8000-000000000000" },
      { actor: { type: "system" }, via: "admin", as: "page" },
    );
    expect(none).toBeNull();
    expect(
      await db
        .selectFrom("audit_log")
        .select("id")
        .where("action", "=", "contact.export")
        .execute(),
    ).toHaveLength(1);
  });
});
