import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { audit } from "~/admin/audit.server";
import { bulkUnsubscribe } from "~/consent/bulk.server";
import { addressKey, applyConsentChange, decideSend } from "~/consent/consent.server";
import { eraseContact, ErasureError } from "~/consent/erasure.server";
import type { Db } from "~/db/db.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

let t: TestDatabase;
let db: Db;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
});
afterAll(async () => {
  await t?.close();
});

const EMAIL = "erase.me+tag@example.org";
const PHONE = "+48601777888";
const admin = { actor: { type: "admin_user" as const, id: null, label: "erasure-test@heed.test" } };

/** Every row of every table of the schema, as text, that contains `needle` (any case). */
async function traces(needle: string): Promise<string[]> {
  const { rows: tables } = await sql<{ table_name: string }>`
    select table_name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`.execute(
    db,
  );
  const found: string[] = [];
  for (const { table_name } of tables) {
    const { rows } = await sql<{ row: string }>`
      select x::text as row from ${sql.table(table_name)} x
      where position(lower(${needle}) in lower(x::text)) > 0`.execute(db);
    for (const r of rows) found.push(`${table_name}: ${r.row}`);
  }
  return found;
}

/** Every text-like column of every table, read one by one (what the issue asks the test to scan). */
async function textColumnTraces(needle: string): Promise<string[]> {
  const { rows: cols } = await sql<{ table_name: string; column_name: string }>`
    select c.table_name, c.column_name from information_schema.columns c
    join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
    where c.table_schema = current_schema() and t.table_type = 'BASE TABLE'
      and (c.data_type in ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY', 'USER-DEFINED'))`.execute(
    db,
  );
  expect(cols.length).toBeGreaterThan(20);
  const found: string[] = [];
  for (const c of cols) {
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from ${sql.table(c.table_name)}
      where position(lower(${needle}) in lower(${sql.ref(c.column_name)}::text)) > 0`.execute(db);
    if (rows[0]!.n > 0) found.push(`${c.table_name}.${c.column_name}`);
  }
  return found;
}

describe("erasure (docs/consent.md, rule 9)", () => {
  let contactId: string;
  let otherId: string;
  let ledgerBefore: number;

  beforeAll(async () => {
    const [c, other] = await db
      .insertInto("contacts")
      .values([
        {
          external_id: "crm-erase-1",
          email: "Erase.Me+tag@Example.org",
          phone: "+48 601 777 888",
          locale: "pl",
        },
        { external_id: "crm-erase-2", email: EMAIL },
        { external_id: "crm-keep-1", email: "keep.me@example.org" },
      ])
      .returning("id")
      .execute();
    contactId = c!.id;
    otherId = other!.id;
    await applyConsentChange(db, {
      channel: "email",
      address: "Erase.Me+tag@Example.org",
      action: "unsubscribe",
      source: "link",
      contactId,
      campaign: "spring",
      reasonCode: "other",
      reasonText: `Please stop mailing ${EMAIL}, thanks`,
      ip: "203.0.113.9",
      userAgent: "Mozilla/5.0 (erasure test)",
    });
    await applyConsentChange(db, {
      channel: "sms",
      address: PHONE,
      action: "signup_pending",
      source: "api",
      contactId,
      ip: "203.0.113.9",
    });
    await applyConsentChange(db, {
      channel: "sms",
      address: PHONE,
      action: "subscribe",
      source: "double_opt_in",
      contactId,
      details: { message: `START from ${PHONE}` },
    });
    await db
      .insertInto("double_opt_in_requests")
      .values({
        channel: "sms",
        address_hash: addressKey(PHONE),
        address: PHONE,
        contact_id: contactId,
        source: "api",
        ip: "203.0.113.9",
        user_agent: "Mozilla/5.0 (erasure test)",
        expires_at: new Date(Date.now() + 86_400_000),
      })
      .execute();
    await applyConsentChange(db, {
      channel: "email",
      address: "keep.me@example.org",
      action: "unsubscribe",
      source: "link",
    });
    await audit(db, {
      ...admin,
      action: "suppression.add",
      details: { address: EMAIL, channel: "email" },
    });
    await db
      .insertInto("outbox")
      .values({
        kind: "email",
        recipient: "Erase.Me+tag@Example.org",
        payload: JSON.stringify({ to: EMAIL, subject: "Hi" }),
      })
      .execute();
    // An error report line that names the address (a bad row next to it in an imported file).
    const [job] = await sql<{ id: string }>`
      insert into import_jobs (format, file_name, stored_file, file_size, file_host, channel, note, options, status)
      values ('csv', 'list.csv', 'gone.upload', 10, 'test', 'email', 'import unsubscribe', '{}', 'completed')
      returning id`
      .execute(db)
      .then((r) => r.rows);
    await sql`insert into import_errors (job_id, line, value, reason)
      values (${job!.id}::uuid, 7, ${`${EMAIL};x`}, 'invalid_email')`.execute(db);

    expect((await traces(EMAIL)).length).toBeGreaterThan(5);
    expect((await traces("48601777888")).length).toBeGreaterThan(3);
    ledgerBefore = (
      await db
        .selectFrom("consent_ledger")
        .select(sql<number>`count(*)::int`.as("n"))
        .executeTakeFirstOrThrow()
    ).n;

    const result = await eraseContact(db, contactId, admin);
    expect(result).toMatchObject({
      contactId,
      alreadyErased: false,
      addresses: 3,
      otherContacts: 1,
    });
  });

  it("leaves no clear-text trace of the address in any text column of any table", async () => {
    expect(await textColumnTraces(EMAIL)).toEqual([]);
    expect(await textColumnTraces("48601777888")).toEqual([]);
    expect(await traces(EMAIL)).toEqual([]);
    expect(await traces("48601777888")).toEqual([]);
    expect(await traces("crm-erase-1")).toEqual([]);
    expect(await traces("203.0.113.9")).toEqual([]);
    // Someone else's data is untouched.
    expect((await traces("keep.me@example.org")).length).toBeGreaterThan(1);
    expect(await traces("crm-erase-2")).toHaveLength(1);
  });

  it("the address stays suppressed: decideSend, a re-import and a manual suppression all still match it", async () => {
    expect(
      await decideSend(db, {
        channel: "email",
        address: "ERASE.ME+tag@example.org",
        category: "marketing",
      }),
    ).toEqual({
      address: "ERASE.ME+tag@example.org",
      allowed: false,
      reason: "unsubscribed",
    });
    const reimport = await bulkUnsubscribe(
      db,
      [{ channel: "email", address: " Erase.Me+Tag@EXAMPLE.org " }],
      {
        source: "import",
        importId: "00000000-0000-4000-8000-000000000001",
      },
    );
    expect(reimport).toMatchObject({ imported: 0, alreadySuppressed: 1 });
    const manual = await applyConsentChange(db, {
      channel: "email",
      address: EMAIL,
      action: "unsubscribe",
      source: "admin",
    });
    expect(manual.changed).toBe(false);
    // And still no trace: an address that changes nothing is not written back.
    expect(await traces(EMAIL)).toEqual([]);
    // The SMS state is kept as it was (subscribed through double opt-in), by hash only.
    expect(
      (await decideSend(db, { channel: "sms", address: PHONE, category: "marketing" })).allowed,
    ).toBe(true);
  });

  it("the ledger keeps the event skeleton and records one erase per address and channel", async () => {
    const rows = await db
      .selectFrom("consent_ledger")
      .selectAll()
      .where("contact_id", "=", contactId)
      .orderBy("id")
      .execute();
    const ledgerAfter = (
      await db
        .selectFrom("consent_ledger")
        .select(sql<number>`count(*)::int`.as("n"))
        .executeTakeFirstOrThrow()
    ).n;
    expect(ledgerAfter).toBe(ledgerBefore + 3);
    const events = rows.filter((r) => r.action !== "erase");
    expect(events.map((r) => [r.channel, r.action, r.source])).toEqual([
      ["email", "unsubscribe", "link"],
      ["sms", "signup_pending", "api"],
      ["sms", "subscribe", "double_opt_in"],
    ]);
    for (const r of events) {
      expect(r).toMatchObject({
        address: null,
        ip: null,
        user_agent: null,
        reason_text: null,
        details: { erased: true },
      });
    }
    expect(events[0]).toMatchObject({
      campaign: "spring",
      reason_code: "other",
      address_hash: addressKey(EMAIL),
    });
    const erased = rows.filter((r) => r.action === "erase");
    expect(erased.map((r) => r.channel).sort()).toEqual(["email", "sms", "whatsapp"]);
    for (const r of erased)
      expect(r).toMatchObject({ source: "admin", address: null, actor_type: "admin_user" });

    // Still append-only outside an erasure.
    await expect(
      sql`delete from consent_ledger where contact_id = ${contactId}::uuid`.execute(db),
    ).rejects.toThrow(/append-only/);
    await expect(
      sql`update consent_ledger set address = 'x' where contact_id = ${contactId}::uuid`.execute(
        db,
      ),
    ).rejects.toThrow(/append-only/);
  });

  it("the contact keeps its id and is marked erased; other holders of the address lose it; queued mail is cancelled", async () => {
    const c = await db
      .selectFrom("contacts")
      .selectAll()
      .where("id", "=", contactId)
      .executeTakeFirstOrThrow();
    expect(c).toMatchObject({ email: null, phone: null, external_id: null, locale: null });
    expect(c.erased_at).toBeInstanceOf(Date);
    const other = await db
      .selectFrom("contacts")
      .selectAll()
      .where("id", "=", otherId)
      .executeTakeFirstOrThrow();
    expect(other).toMatchObject({ email: null, external_id: "crm-erase-2", erased_at: null });
    const mail = await db
      .selectFrom("outbox")
      .select(["status", "recipient", "last_error"])
      .executeTakeFirstOrThrow();
    expect(mail).toEqual({ status: "dead", recipient: "[erased]", last_error: "recipient erased" });
    const log = await db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", "contact.erase")
      .executeTakeFirstOrThrow();
    expect(log).toMatchObject({
      target_type: "contact",
      target_id: contactId,
      actor_label: "erasure-test@heed.test",
    });
    expect(log.details).toMatchObject({ addresses: 3, other_contacts: 1 });
  });

  it("erasing again is harmless, and an unknown contact is a clear error", async () => {
    const again = await eraseContact(db, contactId, admin);
    expect(again).toMatchObject({ alreadyErased: true, otherContacts: 0 });
    await expect(
      eraseContact(db, "00000000-0000-4000-8000-000000000000", admin),
    ).rejects.toBeInstanceOf(ErasureError);
    await expect(eraseContact(db, "not-a-uuid", admin)).rejects.toBeInstanceOf(ErasureError);
  });
});
