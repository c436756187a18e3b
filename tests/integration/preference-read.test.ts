/**
 * What the preference page reads (loadContact, then readConsent with pendingAt through
 * loadChannels): readConsent for up to one address per channel runs as a named prepared statement
 * (decision 0108), and answers exactly what the unnamed statement of a longer list answers for
 * the same addresses: nothing recorded, topics, pause, unsubscribe, a waiting or an expired double
 * opt-in confirmation, email, SMS and WhatsApp together; a deleted or erased contact has no page. Run again
 * and again with other values (PostgreSQL switches a prepared statement to a generic plan after
 * five runs). Functional only.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyConsentChange, readConsent } from "~/consent/consent.server";
import { startDoubleOptIn } from "~/consent/double-opt-in.server";
import type { Db } from "~/db/db.server";
import { loadChannels, loadContact } from "~/recipient/recipient.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { personMaker } from "./db.helpers";

let t: TestDatabase;
let db: Db;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  await db
    .insertInto("topics")
    .values([
      {
        key: "news",
        channels: ["email", "sms"],
        default_opt_in: true,
        names: '{"en":"News"}',
        descriptions: "{}",
      },
      {
        key: "offers",
        channels: ["email"],
        default_opt_in: false,
        names: '{"en":"Offers"}',
        descriptions: "{}",
      },
    ])
    .execute();
});
afterAll(async () => {
  await t?.close();
});

const newPerson = personMaker("pref", 1000, "en");
const person = () => newPerson(db);

/** Read through the prepared statement (2 keys) and through the unnamed one (4+ keys). */
async function bothWays(email: string, phone: string, pendingAt?: Date) {
  const targets = [
    { channel: "email" as const, address: email },
    { channel: "sms" as const, address: phone },
  ];
  const named = await readConsent(db, targets, pendingAt ? { pendingAt } : {});
  const others = [
    { channel: "email" as const, address: "filler-a@example.com" },
    { channel: "email" as const, address: "filler-b@example.com" },
  ];
  const unnamed = await readConsent(db, [...targets, ...others], pendingAt ? { pendingAt } : {});
  expect(named).toEqual(unnamed.slice(0, 2));
  return named;
}

describe("the preference page's read", () => {
  it("nothing recorded: both channels, no state, no topics, no confirmation", async () => {
    const p = await person();
    const [e, s] = await bothWays(p.email, p.phone, new Date());
    expect(e).toEqual({
      channel: "email",
      address: p.email,
      status: null,
      pausedUntil: null,
      topics: {},
      frequency: null,
      confirmationPending: false,
    });
    expect(s).toMatchObject({ channel: "sms", address: p.phone, status: null, topics: {} });
    const contact = (await loadContact(db, p.id))!;
    const channels = await loadChannels(db, contact, "en");
    expect(channels.map((c) => [c.channel, c.state, c.confirmationPending])).toEqual([
      ["email", "subscribed", false],
      ["sms", "subscribed", false],
      ["whatsapp", "subscribed", false],
    ]);
    expect(channels[0]!.topics.map((x) => [x.key, x.subscribed])).toEqual([
      ["news", true],
      ["offers", false],
    ]);
    expect(channels[1]!.topics.map((x) => [x.key, x.subscribed])).toEqual([["news", true]]);
  });

  it("topics, pause and unsubscribe, each channel its own", async () => {
    const p = await person();
    const until = new Date(Date.now() + 30 * 86400_000);
    const change = (c: Omit<Parameters<typeof applyConsentChange>[1], "source">) =>
      applyConsentChange(db, { ...c, source: "preference_page", contactId: p.id });
    await change({ channel: "email", address: p.email, action: "topic_opt_in", topic: "offers" });
    await change({ channel: "email", address: p.email, action: "topic_opt_out", topic: "news" });
    await change({ channel: "email", address: p.email, action: "pause", pausedUntil: until });
    await change({ channel: "sms", address: p.phone, action: "unsubscribe" });
    const [e, s] = await bothWays(p.email, p.phone, new Date());
    expect(e).toMatchObject({
      status: "subscribed",
      topics: { news: "opted_out", offers: "opted_in" },
      confirmationPending: false,
    });
    expect(e!.pausedUntil?.getTime()).toBe(until.getTime());
    expect(s).toMatchObject({ status: "unsubscribed", pausedUntil: null, topics: {} });
    const channels = await loadChannels(db, (await loadContact(db, p.id))!, "en");
    expect(channels.map((c) => c.state)).toEqual(["paused", "unsubscribed", "subscribed"]);
    expect(channels[0]!.topics.map((x) => [x.key, x.subscribed])).toEqual([
      ["news", false],
      ["offers", true],
    ]);
    // Without pendingAt: the other prepared statement, and no confirmationPending field.
    const [plain] = await readConsent(db, [{ channel: "email", address: p.email }]);
    expect(plain).not.toHaveProperty("confirmationPending");
    expect(plain).toMatchObject({ status: "subscribed", topics: { offers: "opted_in" } });
  });

  it("a waiting double opt-in confirmation shows until it expires", async () => {
    const p = await person();
    await applyConsentChange(db, {
      channel: "email",
      address: p.email,
      action: "unsubscribe",
      source: "one_click",
    });
    const started = await startDoubleOptIn(db, {
      channel: "email",
      address: p.email,
      contactId: p.id,
      source: "preference_page",
    });
    expect(started.status).toBe("sent");
    const [now] = await bothWays(p.email, p.phone, new Date());
    expect(now).toMatchObject({ status: "unsubscribed", confirmationPending: true });
    const later = new Date(Date.now() + 400 * 86400_000);
    const [after] = await bothWays(p.email, p.phone, later);
    expect(after).toMatchObject({ status: "unsubscribed", confirmationPending: false });
    const channels = await loadChannels(db, (await loadContact(db, p.id))!, "en");
    expect(channels[0]).toMatchObject({ state: "unsubscribed", confirmationPending: true });
  });

  it("one, two and three channels, again and again with other addresses", async () => {
    const people = [];
    for (let i = 0; i < 8; i++) people.push(await person());
    for (const [i, p] of people.entries()) {
      if (i % 2) {
        await applyConsentChange(db, {
          channel: "sms",
          address: p.phone,
          action: "unsubscribe",
          source: "api",
        });
      }
      const one = await readConsent(db, [{ channel: "sms", address: p.phone }], {
        pendingAt: new Date(),
      });
      expect(one[0]!.status).toBe(i % 2 ? "unsubscribed" : null);
      const three = await readConsent(
        db,
        [
          { channel: "email", address: p.email },
          { channel: "sms", address: p.phone },
          { channel: "whatsapp", address: p.phone },
        ],
        { pendingAt: new Date() },
      );
      expect(three.map((c) => [c.channel, c.status])).toEqual([
        ["email", null],
        ["sms", i % 2 ? "unsubscribed" : null],
        ["whatsapp", null],
      ]);
      // The same address twice is one key: still answered for each, in order.
      const twice = await readConsent(db, [
        { channel: "sms", address: p.phone },
        { channel: "sms", address: p.phone },
      ]);
      expect(twice.map((c) => c.status)).toEqual([one[0]!.status, one[0]!.status]);
    }
  });

  it("a deleted or erased contact has no page", async () => {
    const gone = await person();
    await db.deleteFrom("contacts").where("id", "=", gone.id).execute();
    expect(await loadContact(db, gone.id)).toBeNull();
    const erased = await person();
    await db
      .updateTable("contacts")
      .set({ erased_at: new Date() })
      .where("id", "=", erased.id)
      .execute();
    expect(await loadContact(db, erased.id)).toBeNull();
    expect(await loadContact(db, "not-a-uuid")).toBeNull();
  });
});
