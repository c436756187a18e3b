import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listAudit } from "~/admin/audit.server";
import { hashPassword } from "~/admin/password.server";
import { createReason, moveReason, updateReason } from "~/admin/reasons.server";
import {
  channelStates,
  contactAddresses,
  deleteContact,
  getContact,
  ledgerTimeline,
  searchContacts,
} from "~/contacts/contacts.server";
import { suppressAddresses, targetsFor, unsuppressAddresses } from "~/contacts/suppressions.server";
import { applyConsentChange, ConsentError, decideSend } from "~/consent/consent.server";
import type { Db } from "~/db/db.server";
import { listReasons } from "~/settings/settings.server";
import {
  createTopic,
  listTopics,
  setTopicArchived,
  TopicError,
  updateTopic,
} from "~/topics/topics.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

let t: TestDatabase;
let db: Db;
let agent: { id: string; email: string };
let by: { actor: { type: "admin_user"; id: string; label: string }; ip: string; userAgent: string };

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  agent = await db
    .insertInto("admin_users")
    .values({
      email: "agent@contacts.test",
      role: "agent",
      password_hash: await hashPassword("agent-password-1"),
    })
    .returning(["id", "email"])
    .executeTakeFirstOrThrow();
  by = {
    actor: { type: "admin_user", id: agent.id, label: agent.email },
    ip: "203.0.113.7",
    userAgent: "vitest",
  };
  await db
    .insertInto("topics")
    .values([
      {
        key: "news",
        names: JSON.stringify({ en: "News" }),
        descriptions: "{}",
        channels: ["email", "sms"],
        default_opt_in: true,
        position: 1,
      },
      {
        key: "deals",
        names: JSON.stringify({ en: "Deals" }),
        descriptions: "{}",
        channels: ["email"],
        default_opt_in: false,
        position: 2,
      },
    ])
    .execute();
});
afterAll(async () => {
  await t?.close();
});

async function contact(values: { external_id: string; email?: string; phone?: string }) {
  return db.insertInto("contacts").values(values).returning("id").executeTakeFirstOrThrow();
}

describe("contact search", () => {
  it("finds a contact by email, phone or external id, normalizing the query like the consent core", async () => {
    const c = await contact({
      external_id: "CRM-1001",
      email: "jane.doe@example.com",
      phone: "+48601234567",
    });
    await contact({ external_id: "CRM-1002", email: "john@example.com" });
    for (const q of [" Jane.Doe@EXAMPLE.com ", "+48 601 234 567", "0048601234567", "CRM-1001"]) {
      const r = await searchContacts(db, q);
      expect(
        r.contacts.map((x) => x.id),
        q,
      ).toEqual([c.id]);
    }
    expect((await searchContacts(db, "JANE.DOE@example.com")).address).toEqual({
      kind: "email",
      value: "jane.doe@example.com",
    });
    expect((await searchContacts(db, "crm-1001")).contacts).toEqual([]); // external ids are exact
    expect((await searchContacts(db, "nobody@example.com")).contacts).toEqual([]);
  });

  it("finds by the start of an email, phone or external id, exact matches first, in pages", async () => {
    for (let i = 0; i < 30; i++) {
      await contact({
        external_id: `PAGE-${String(i).padStart(2, "0")}`,
        email: `pager${String(i).padStart(2, "0")}@example.org`,
      });
    }
    const exact = await contact({ external_id: "pager", email: "zz-pager@example.org" });
    const p1 = await searchContacts(db, "pager", { pageSize: 10 });
    expect(p1.contacts[0]!.id).toBe(exact.id);
    expect(p1.contacts).toHaveLength(10);
    expect(p1.contacts.slice(1).map((c) => c.email)).toEqual(
      Array.from({ length: 9 }, (_, i) => `pager0${i}@example.org`),
    );
    expect(p1.hasNext).toBe(true);
    const p4 = await searchContacts(db, "pager", { pageSize: 10, page: 4 });
    expect(p4.contacts.map((c) => c.email)).toEqual(["pager29@example.org"]);
    expect(p4.hasNext).toBe(false);
    expect((await searchContacts(db, "PAGE-2", { pageSize: 50 })).contacts).toHaveLength(10);
    expect((await searchContacts(db, "+4860123")).contacts.map((c) => c.externalId)).toEqual([
      "CRM-1001",
    ]);
  });

  it("uses the search indexes (no sequential scan of contacts)", async () => {
    // Plans only, so this is meaningful on an almost empty table: force the planner's hand.
    const { sql } = await import("kysely");
    await sql`set enable_seqscan = off`.execute(db);
    await sql`set enable_bitmapscan = off`.execute(db);
    try {
      const plan = await sql<{ "QUERY PLAN": string }>`explain select id from contacts
        where (email collate "C") >= 'ab' and (email collate "C") < ${"ab\u{10FFFF}"} order by (email collate "C"), id limit 26`.execute(
        db,
      );
      const text = plan.rows.map((r) => r["QUERY PLAN"]).join("\n");
      expect(text).toContain("contacts_email_search_idx");
      expect(text).not.toMatch(/Sort/);
    } finally {
      await sql`reset enable_seqscan`.execute(db);
      await sql`reset enable_bitmapscan`.execute(db);
    }
  });
});

describe("manual suppression", () => {
  it("suppresses one channel of a contact with the agent as actor and the note kept as a note; others stay", async () => {
    const c = await contact({
      external_id: "SUP-1",
      email: "sup1@example.com",
      phone: "+48601000001",
    });
    const results = await suppressAddresses(db, {
      targets: targetsFor("+48 601 000 001", "sms"),
      note: "Asked by phone to stop texts",
      contactId: c.id,
      by,
    });
    expect(results.map((r) => [r.channel, r.changed])).toEqual([["sms", true]]);
    expect(
      await decideSend(db, { channel: "sms", address: "+48601000001", category: "marketing" }),
    ).toMatchObject({ allowed: false, reason: "unsubscribed" });
    expect(
      (
        await decideSend(db, {
          channel: "whatsapp",
          address: "+48601000001",
          category: "marketing",
        })
      ).allowed,
    ).toBe(true);
    expect(
      (
        await decideSend(db, {
          channel: "email",
          address: "sup1@example.com",
          category: "marketing",
        })
      ).allowed,
    ).toBe(true);

    const states = await channelStates(db, contactAddresses((await getContact(db, c.id))!));
    expect(states.map((s) => [s.channel, s.status])).toEqual([
      ["email", null],
      ["sms", "unsubscribed"],
      ["whatsapp", null],
    ]);
    expect(states.find((s) => s.channel === "email")!.topics).toEqual([
      { key: "news", name: "News", state: "default_in" },
      { key: "deals", name: "Deals", state: "default_out" },
    ]);

    const timeline = await ledgerTimeline(db, {
      targets: contactAddresses((await getContact(db, c.id))!),
      contactId: c.id,
    });
    expect(timeline.entries).toHaveLength(1);
    expect(timeline.entries[0]).toMatchObject({
      channel: "sms",
      action: "unsubscribe",
      source: "admin",
      reasonText: null,
      note: "Asked by phone to stop texts",
      actorType: "admin_user",
      actorId: agent.id,
      actorLabel: agent.email,
      ip: "203.0.113.7",
    });
    const audit = await listAudit(db, { action: "suppression", target: c.id });
    expect(audit.entries).toHaveLength(1);
    expect(audit.entries[0]).toMatchObject({
      action: "suppression.add",
      actorLabel: agent.email,
      ip: "203.0.113.7",
      targetType: "contact",
    });
    expect(audit.entries[0]!.details).toMatchObject({
      note: "Asked by phone to stop texts",
      targets: [{ channel: "sms", address: "+4860*****01", changed: true }],
    });
  });

  it("suppresses an address that belongs to no contact, on all its channels", async () => {
    const targets = targetsFor("+48 601 000 002", "all");
    expect(targets).toEqual([
      { channel: "sms", address: "+48601000002" },
      { channel: "whatsapp", address: "+48601000002" },
    ]);
    await suppressAddresses(db, { targets, note: "Complaint via support", by });
    for (const channel of ["sms", "whatsapp"] as const) {
      expect(
        (await decideSend(db, { channel, address: "+48601000002", category: "marketing" })).reason,
      ).toBe("unsubscribed");
    }
    expect(targetsFor("Someone@Example.com", "all")).toEqual([
      { channel: "email", address: "someone@example.com" },
    ]);
    // A contact created later with that number sees it suppressed: consent belongs to the address.
    const later = await contact({ external_id: "SUP-LATER", phone: "+48601000002" });
    const states = await channelStates(db, contactAddresses((await getContact(db, later.id))!));
    expect(states.map((s) => s.status)).toEqual(["unsubscribed", "unsubscribed"]);
  });

  it("needs a note, and a valid address for the channel", async () => {
    await expect(
      suppressAddresses(db, { targets: targetsFor("x@example.com", "email"), note: "   ", by }),
    ).rejects.toMatchObject({ code: "note_required" });
    expect(() => targetsFor("not an address", "all")).toThrow(ConsentError);
    expect(() => targetsFor("x@example.com", "sms")).toThrow(ConsentError);
  });

  it("removing a suppression needs a note and re-subscribes through the consent core (source admin)", async () => {
    const targets = targetsFor("unsup@example.com", "email");
    await suppressAddresses(db, { targets, note: "Bounced complaint", by });
    await expect(unsuppressAddresses(db, { targets, note: "", by })).rejects.toMatchObject({
      code: "note_required",
    });
    expect(
      (
        await decideSend(db, {
          channel: "email",
          address: "unsup@example.com",
          category: "marketing",
        })
      ).allowed,
    ).toBe(false);
    const r = await unsuppressAddresses(db, {
      targets,
      note: "Customer asked in writing, ticket 42",
      by,
    });
    expect(r[0]).toMatchObject({ changed: true, status: "subscribed" });
    expect(
      (
        await decideSend(db, {
          channel: "email",
          address: "unsup@example.com",
          category: "marketing",
        })
      ).allowed,
    ).toBe(true);
    const entries = (await ledgerTimeline(db, { targets })).entries;
    expect(entries.map((e) => [e.action, e.source, e.note])).toEqual([
      ["subscribe", "admin", "Customer asked in writing, ticket 42"],
      ["unsubscribe", "admin", "Bounced complaint"],
    ]);
    expect(
      (await listAudit(db, { action: "suppression.remove" })).entries[0]!.details,
    ).toMatchObject({ note: "Customer asked in writing, ticket 42" });
  });

  it("deleting a contact never un-suppresses its addresses", async () => {
    const c = await contact({ external_id: "DEL-1", email: "deleted@example.com" });
    await applyConsentChange(db, {
      channel: "email",
      address: "deleted@example.com",
      action: "unsubscribe",
      source: "link",
      contactId: c.id,
    });
    expect(await deleteContact(db, c.id, by)).toBe(true);
    expect(await getContact(db, c.id)).toBeNull();
    expect(
      (
        await decideSend(db, {
          channel: "email",
          address: "deleted@example.com",
          category: "marketing",
        })
      ).reason,
    ).toBe("unsubscribed");
    await contact({ external_id: "DEL-1", email: "deleted@example.com" });
    expect(
      (
        await decideSend(db, {
          channel: "email",
          address: "deleted@example.com",
          category: "marketing",
        })
      ).reason,
    ).toBe("unsubscribed");
    expect((await listAudit(db, { action: "contact.delete", target: c.id })).entries).toHaveLength(
      1,
    );
  });

  it("the timeline pages through a long history, newest first", async () => {
    const targets = targetsFor("+48601000003", "sms");
    for (let i = 0; i < 7; i++) {
      await suppressAddresses(db, { targets, note: `round ${i}`, by });
      await unsuppressAddresses(db, { targets, note: `undo ${i}`, by });
    }
    const first = await ledgerTimeline(db, { targets, limit: 5 });
    expect(first.entries.map((e) => e.note)).toEqual([
      "undo 6",
      "round 6",
      "undo 5",
      "round 5",
      "undo 4",
    ]);
    const all: string[] = [];
    let before: number | null = null;
    do {
      const page: Awaited<ReturnType<typeof ledgerTimeline>> = await ledgerTimeline(db, {
        targets,
        limit: 5,
        before,
      });
      all.push(...page.entries.map((e) => e.note ?? ""));
      before = page.nextBefore;
    } while (before);
    expect(all).toHaveLength(14);
    expect(all.at(-1)).toBe("round 0");
  });
});

describe("topics", () => {
  it("are created, renamed, localized, re-channelled and archived, each change audited", async () => {
    const created = await createTopic(
      db,
      {
        key: "events",
        names: { en: "Events", pl: "Wydarzenia", xx: "ignored" },
        descriptions: { en: "Invitations" },
        channels: ["email"],
        defaultOptIn: false,
        position: 40,
      },
      by,
    );
    expect(created).toMatchObject({
      key: "events",
      names: { en: "Events", pl: "Wydarzenia" },
      channels: ["email"],
      defaultOptIn: false,
    });
    await expect(
      createTopic(
        db,
        {
          key: "events",
          names: { en: "Again" },
          descriptions: {},
          channels: ["email"],
          defaultOptIn: true,
          position: 0,
        },
        by,
      ),
    ).rejects.toBeInstanceOf(TopicError);
    await expect(
      createTopic(
        db,
        {
          key: "Bad Key",
          names: { en: "Bad" },
          descriptions: {},
          channels: ["email"],
          defaultOptIn: true,
          position: 0,
        },
        by,
      ),
    ).rejects.toThrow(/lower-case/);
    await expect(
      createTopic(
        db,
        {
          key: "no-name",
          names: { pl: "Bez nazwy" },
          descriptions: {},
          channels: ["email"],
          defaultOptIn: true,
          position: 0,
        },
        by,
      ),
    ).rejects.toThrow(/English name/);

    const updated = await updateTopic(
      db,
      "events",
      {
        names: { en: "Events & meetups", de: "Veranstaltungen" },
        descriptions: {},
        channels: ["sms", "email"],
        defaultOptIn: true,
        position: 5,
      },
      by,
    );
    expect(updated).toMatchObject({
      names: { en: "Events & meetups", de: "Veranstaltungen" },
      channels: ["email", "sms"],
      defaultOptIn: true,
      position: 5,
    });
    await setTopicArchived(db, "events", true, by);
    expect((await listTopics(db)).map((x) => x.key)).not.toContain("events");
    expect(
      (await listTopics(db, { includeArchived: true })).find((x) => x.key === "events")!.archivedAt,
    ).toBeInstanceOf(Date);
    const actions = (await listAudit(db, { target: "events" })).entries.map((e) => e.action);
    expect(actions).toEqual(["topic.archive", "topic.update", "topic.create"]);
    const update = (await listAudit(db, { action: "topic.update", target: "events" })).entries[0]!;
    expect(Object.keys(update.details.changes as object).sort()).toEqual([
      "channels",
      "defaultOptIn",
      "descriptions",
      "names",
      "position",
    ]);
  });
});

describe("unsubscribe reasons", () => {
  it("are added, relabelled per locale, disabled and reordered", async () => {
    await createReason(
      db,
      {
        code: "too_expensive",
        labels: { en: "Too expensive", fr: "Trop cher" },
        enabled: true,
        freeText: false,
      },
      by,
    );
    let reasons = await listReasons(db, { includeDisabled: true });
    expect(reasons.at(-1)).toMatchObject({
      code: "too_expensive",
      labels: { en: "Too expensive", fr: "Trop cher" },
      enabled: true,
    });
    await updateReason(
      db,
      "too_frequent",
      { labels: { en: "Way too many emails" }, enabled: false, freeText: false },
      by,
    );
    expect((await listReasons(db)).map((r) => r.code)).not.toContain("too_frequent");
    await moveReason(db, "too_expensive", "up", by);
    await moveReason(db, "no_longer_interested", "down", by);
    reasons = await listReasons(db, { includeDisabled: true });
    expect(reasons.map((r) => r.code)).toEqual([
      "prefer_not_to_say",
      "too_frequent",
      "no_longer_interested",
      "not_relevant",
      "never_signed_up",
      "too_expensive",
      "other",
    ]);
    expect((await listAudit(db, { action: "reason." })).entries.map((e) => e.action)).toEqual([
      "reason.move",
      "reason.move",
      "reason.update",
      "reason.create",
    ]);
  });
});

describe("audit log", () => {
  it("pages newest first with a cursor and filters by actor", async () => {
    const all = await listAudit(db, { limit: 3 });
    expect(all.entries).toHaveLength(3);
    expect(all.entries[0]!.id).toBeGreaterThan(all.entries[2]!.id);
    const next = await listAudit(db, { limit: 3, before: all.nextBefore });
    expect(next.entries[0]!.id).toBeLessThan(all.entries[2]!.id);
    const mine = await listAudit(db, { actor: agent.email, limit: 200 });
    expect(mine.entries.length).toBeGreaterThan(5);
    expect(mine.entries.every((e) => e.actorId === agent.id)).toBe(true);
  });
});
