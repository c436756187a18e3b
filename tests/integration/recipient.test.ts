import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { addressKey, applyConsentChange, decideSend } from "~/consent/consent.server";
import type { Db } from "~/db/db.server";
import { clearRecipientCache } from "~/recipient/cache.server";
import { publicPageData, reasonOptions } from "~/recipient/page.server";
import {
  loadChannels,
  loadContact,
  loadUnsubscribeTarget,
  resubscribeByLink,
  savePreferences,
  unsubscribeByLink,
  type PreferenceInput,
  type RecipientContact,
} from "~/recipient/recipient.server";
import { saveBranding } from "~/settings/settings.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

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
        channels: ["email", "sms", "whatsapp"],
        names: JSON.stringify({ en: "News", pl: "Wiadomości" }),
        descriptions: JSON.stringify({ en: "Weekly news", pl: "Cotygodniowe wiadomości" }),
        position: 1,
      },
      {
        key: "offers",
        channels: ["email"],
        default_opt_in: false,
        names: JSON.stringify({ en: "Offers" }),
        descriptions: "{}",
        position: 2,
      },
      {
        key: "sms-only",
        channels: ["sms"],
        names: JSON.stringify({ en: "Text alerts" }),
        descriptions: "{}",
        position: 3,
      },
      {
        key: "old",
        channels: ["email"],
        names: JSON.stringify({ en: "Old topic" }),
        descriptions: "{}",
        position: 4,
        archived_at: new Date(),
      },
    ])
    .execute();
});
afterAll(async () => {
  await t?.close();
});
beforeEach(() => clearRecipientCache());

let n = 0;
async function newContact(
  opts: { phone?: boolean; locale?: string } = {},
): Promise<RecipientContact & { email: string }> {
  n++;
  const row = await db
    .insertInto("contacts")
    .values({
      external_id: `recipient-it-${n}`,
      email: `Recipient.${n}@Example.com`,
      phone: opts.phone === false ? null : `+4860170${String(n).padStart(4, "0")}`,
      locale: opts.locale ?? "en",
    })
    .returning(["id", "email", "phone", "locale"])
    .executeTakeFirstOrThrow();
  return row as RecipientContact & { email: string };
}

async function ledgerCount(): Promise<number> {
  const r = await db
    .selectFrom("consent_ledger")
    .select((eb) => eb.fn.countAll<string | number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

async function ledgerFor(contactId: string) {
  return db
    .selectFrom("consent_ledger")
    .selectAll()
    .where("contact_id", "=", contactId)
    .orderBy("id")
    .execute();
}

async function stateRowCount(): Promise<number> {
  const [a, b] = await Promise.all([
    db
      .selectFrom("channel_consent")
      .select((eb) => eb.fn.countAll<string | number>().as("n"))
      .executeTakeFirstOrThrow(),
    db
      .selectFrom("topic_consent")
      .select((eb) => eb.fn.countAll<string | number>().as("n"))
      .executeTakeFirstOrThrow(),
  ]);
  return Number(a.n) + Number(b.n);
}

const save = (
  contact: RecipientContact,
  input: Partial<PreferenceInput>,
  extra: { campaign?: string } = {},
) =>
  savePreferences(db, {
    contact,
    locale: "en",
    input: { intent: "save", channels: {}, reasonCode: null, reasonText: null, ...input },
    actor: {
      contactId: contact.id,
      campaign: extra.campaign ?? null,
      ip: "203.0.113.9",
      userAgent: "test",
    },
  });

describe("what a token's contact sees (read-only)", () => {
  it("every channel the contact has an address on, with the topics offered on it (archived hidden, names localized)", async () => {
    const c = await newContact({ locale: "pl" });
    const channels = await loadChannels(db, c, "pl");
    expect(channels.map((ch) => [ch.channel, ch.state])).toEqual([
      ["email", "subscribed"],
      ["sms", "subscribed"],
      ["whatsapp", "subscribed"],
    ]);
    expect(channels[0]!.address).toBe(c.email.toLowerCase());
    expect(channels[1]!.display).toMatch(/^\+48 601 70/);
    const email = channels[0]!;
    expect(email.topics.map((tp) => [tp.key, tp.name, tp.subscribed])).toEqual([
      ["news", "Wiadomości", true],
      ["offers", "Offers", false],
    ]);
    expect(email.topics[0]!.description).toBe("Cotygodniowe wiadomości");
    expect(channels[1]!.topics.map((tp) => tp.key)).toEqual(["news", "sms-only"]);
    expect(channels[2]!.topics.map((tp) => tp.key)).toEqual(["news"]);
  });

  it("a contact with only an email has only the email channel; an erased contact is not found", async () => {
    const c = await newContact({ phone: false });
    expect((await loadChannels(db, c, "en")).map((ch) => ch.channel)).toEqual(["email"]);
    await db
      .updateTable("contacts")
      .set({ erased_at: new Date() })
      .where("id", "=", c.id)
      .execute();
    expect(await loadContact(db, c.id)).toBeNull();
    expect(await loadContact(db, "not-a-uuid")).toBeNull();
  });

  it("20 page loads (preferences and unsubscribe) write no ledger row and no state row", async () => {
    const c = await newContact();
    const before = { ledger: await ledgerCount(), state: await stateRowCount() };
    for (let i = 0; i < 20; i++) {
      const contact = (await loadContact(db, c.id))!;
      await loadChannels(db, contact, "en");
      await loadUnsubscribeTarget(db, contact, { channel: "email", topic: "news" }, "en");
      await loadUnsubscribeTarget(db, contact, { channel: "sms" }, "en");
      await publicPageData(db, "en", ["recipient"]);
      await reasonOptions(db, "en");
    }
    expect({ ledger: await ledgerCount(), state: await stateRowCount() }).toEqual(before);
  });
});

describe("preference center saves (source preference_page)", () => {
  it("turning a topic off records a topic opt-out with the reason, campaign, IP and user agent; other channels stay", async () => {
    const c = await newContact();
    const res = await save(
      c,
      {
        channels: { email: { choice: "receive", topics: ["offers"] } },
        reasonCode: "too_frequent",
        reasonText: "  weekly is too much  ",
      },
      { campaign: "spring" },
    );
    expect(res).toEqual({
      ok: true,
      changes: [
        { kind: "topic_opt_out", channel: "email", topic: "news", pausedUntil: null },
        { kind: "topic_opt_in", channel: "email", topic: "offers", pausedUntil: null },
      ],
    });
    const rows = await ledgerFor(c.id);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      action: "topic_opt_out",
      topic: "news",
      source: "preference_page",
      campaign: "spring",
      reason_code: "too_frequent",
      reason_text: "weekly is too much",
      actor_type: "recipient",
      actor_id: c.id,
      ip: "203.0.113.9",
      user_agent: "test",
    });
    // Opting in carries no reason.
    expect(rows[1]).toMatchObject({ action: "topic_opt_in", topic: "offers", reason_code: null });
    const channels = await loadChannels(db, c, "en");
    expect(channels.map((ch) => ch.state)).toEqual(["subscribed", "subscribed", "subscribed"]);
    expect(
      (
        await decideSend(db, {
          channel: "sms",
          address: c.phone!,
          topic: "news",
          category: "marketing",
        })
      ).allowed,
    ).toBe(true);
  });

  it("saving the same choices again changes nothing and writes nothing", async () => {
    const c = await newContact();
    const input = { channels: { email: { choice: "receive" as const, topics: [] } } };
    await save(c, input);
    const count = await ledgerCount();
    expect(await save(c, input)).toEqual({ ok: true, changes: [] });
    expect(await ledgerCount()).toBe(count);
  });

  it("pause for 30 or 90 days, then resume", async () => {
    const c = await newContact();
    const res = await save(c, { channels: { sms: { choice: "pause90", topics: null } } });
    expect(res.ok && res.changes[0]!.kind).toBe("pause");
    const [, sms] = await loadChannels(db, c, "en");
    expect(sms!.state).toBe("paused");
    const days = (sms!.pausedUntil!.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89.9);
    expect(days).toBeLessThanOrEqual(90);
    expect(
      await decideSend(db, { channel: "sms", address: c.phone!, category: "marketing" }),
    ).toMatchObject({
      allowed: false,
      reason: "paused",
    });
    await save(c, { channels: { sms: { choice: "pause30", topics: null } } });
    const [, again] = await loadChannels(db, c, "en");
    expect((again!.pausedUntil!.getTime() - Date.now()) / 86_400_000).toBeLessThanOrEqual(30);
    const resumed = await save(c, { channels: { sms: { choice: "receive", topics: null } } });
    expect(resumed.ok && resumed.changes.map((ch) => ch.kind)).toEqual(["resume"]);
    expect((await loadChannels(db, c, "en"))[1]!.state).toBe("subscribed");
  });

  it("unsubscribe from all marketing: every channel, one ledger row each, with the reason", async () => {
    const c = await newContact();
    const res = await save(c, { intent: "unsubscribe_all", reasonCode: "never_signed_up" });
    expect(res.ok && res.changes.map((ch) => [ch.kind, ch.channel])).toEqual([
      ["unsubscribe", "email"],
      ["unsubscribe", "sms"],
      ["unsubscribe", "whatsapp"],
    ]);
    const rows = await ledgerFor(c.id);
    expect(rows.map((r) => [r.channel, r.action, r.reason_code])).toEqual([
      ["email", "unsubscribe", "never_signed_up"],
      ["sms", "unsubscribe", "never_signed_up"],
      ["whatsapp", "unsubscribe", "never_signed_up"],
    ]);
    expect((await loadChannels(db, c, "en")).every((ch) => ch.state === "unsubscribed")).toBe(true);
  });

  it("“I would rather not say” (an operator-editable reason) records no reason", async () => {
    const c = await newContact();
    const res = await save(c, {
      channels: { sms: { choice: "unsubscribe", topics: null } },
      reasonCode: "prefer_not_to_say",
    });
    expect(res.ok).toBe(true);
    const rows = await ledgerFor(c.id);
    expect(rows.map((r) => [r.channel, r.action, r.reason_code])).toEqual([
      ["sms", "unsubscribe", null],
    ]);
  });

  it("re-enabling an unsubscribed channel starts a double opt-in and leaves it unsubscribed", async () => {
    const c = await newContact();
    await save(c, { channels: { email: { choice: "unsubscribe", topics: null } } });
    const before = await ledgerFor(c.id);
    const res = await save(c, { channels: { email: { choice: "resubscribe", topics: null } } });
    expect(res).toMatchObject({ ok: true, changes: [{ kind: "confirm_sent", channel: "email" }] });
    const requests = await db
      .selectFrom("double_opt_in_requests")
      .select(["channel", "status", "source", "contact_id"])
      .where("address_hash", "=", addressKey(c.email.toLowerCase()))
      .execute();
    expect(requests).toEqual([
      { channel: "email", status: "pending", source: "preference_page", contact_id: c.id },
    ]);
    expect(await ledgerFor(c.id)).toHaveLength(before.length);
    const [email] = await loadChannels(db, c, "en");
    expect(email).toMatchObject({ state: "unsubscribed", confirmationPending: true });
  });

  it("a choice the current state does not offer (stale form) or an unknown reason is refused; nothing written", async () => {
    const c = await newContact();
    const count = await ledgerCount();
    expect(await save(c, { channels: { email: { choice: "resubscribe", topics: null } } })).toEqual(
      {
        ok: false,
        error: "stale",
      },
    );
    expect(
      await save(c, {
        channels: { email: { choice: "unsubscribe", topics: null } },
        reasonCode: "made_up",
      }),
    ).toEqual({ ok: false, error: "invalid_reason" });
    expect(await ledgerCount()).toBe(count);
  });

  it("a form loaded before a one-click unsubscribe is refused as stale, and none of its other changes apply", async () => {
    const c = await newContact();
    const [email] = await loadChannels(db, c, "en");
    // The email channel gets unsubscribed elsewhere between page load and save: the form's
    // "pause" no longer applies, and its SMS topic changes must not be half-applied either.
    await applyConsentChange(db, {
      channel: "email",
      address: email!.address,
      action: "unsubscribe",
      source: "one_click",
    });
    const count = await ledgerCount();
    const res = await save(c, {
      channels: {
        sms: { choice: "receive", topics: [] },
        email: { choice: "pause30", topics: ["news"] },
      },
    });
    expect(res).toEqual({ ok: false, error: "stale" });
    expect(await ledgerCount()).toBe(count);
  });
});

describe("unsubscribe links and RFC 8058 one-click", () => {
  it("a topic link opts out of that topic only, attributed to the campaign; repeats write nothing", async () => {
    const c = await newContact();
    const target = (await loadUnsubscribeTarget(db, c, { channel: "email", topic: "news" }, "en"))!;
    expect(target).toMatchObject({ topic: { key: "news", name: "News" }, done: false });
    const actor = { contactId: c.id, campaign: "c-42", ip: null, userAgent: "Gmail" };
    expect(await unsubscribeByLink(db, target, { ...actor, source: "one_click" })).toEqual({
      changed: true,
    });
    expect(await unsubscribeByLink(db, target, { ...actor, source: "one_click" })).toEqual({
      changed: false,
    });
    const rows = await ledgerFor(c.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      channel: "email",
      action: "topic_opt_out",
      topic: "news",
      source: "one_click",
      campaign: "c-42",
    });
    expect(
      await decideSend(db, { channel: "email", address: c.email, category: "marketing" }),
    ).toEqual({
      address: c.email,
      allowed: true,
    });
    expect(
      (await loadUnsubscribeTarget(db, c, { channel: "email", topic: "news" }, "en"))!.done,
    ).toBe(true);
  });

  it("a channel link unsubscribes the whole channel and leaves the others; a link to a deleted topic does too", async () => {
    const c = await newContact();
    const target = (await loadUnsubscribeTarget(db, c, { channel: "sms", topic: "gone" }, "en"))!;
    expect(target.topic).toBeNull();
    await unsubscribeByLink(db, target, {
      contactId: c.id,
      source: "link",
      reasonCode: "other",
      reasonText: "too late at night",
    });
    const states = (await loadChannels(db, c, "en")).map((ch) => [ch.channel, ch.state]);
    expect(states).toEqual([
      ["email", "subscribed"],
      ["sms", "unsubscribed"],
      ["whatsapp", "subscribed"],
    ]);
    expect((await ledgerFor(c.id))[0]).toMatchObject({
      action: "unsubscribe",
      source: "link",
      reason_code: "other",
      reason_text: "too late at night",
    });
  });

  it("unsubscribed by mistake: a topic comes back at once, a channel only through double opt-in", async () => {
    const c = await newContact();
    const topicTarget = (await loadUnsubscribeTarget(
      db,
      c,
      { channel: "email", topic: "news" },
      "en",
    ))!;
    await unsubscribeByLink(db, topicTarget, { contactId: c.id, source: "link" });
    const back = await resubscribeByLink(db, topicTarget, {
      contactId: c.id,
      locale: "en",
    });
    expect(back.kind).toBe("topic_opt_in");
    expect((await loadChannels(db, c, "en"))[0]!.topics[0]).toMatchObject({
      key: "news",
      subscribed: true,
    });

    const channelTarget = (await loadUnsubscribeTarget(db, c, { channel: "email" }, "en"))!;
    await unsubscribeByLink(db, channelTarget, { contactId: c.id, source: "link" });
    const after = (await loadUnsubscribeTarget(db, c, { channel: "email" }, "en"))!;
    const res = await resubscribeByLink(db, after, {
      contactId: c.id,
      locale: "en",
    });
    expect(res.kind).toBe("confirm_sent");
    expect((await loadChannels(db, c, "en"))[0]!.state).toBe("unsubscribed");
  });
});

describe("operator settings on recipient pages", () => {
  it("reason labels: the operator's label for the locale wins, else Heed's translation, else the English label", async () => {
    await db
      .updateTable("unsubscribe_reasons")
      .set({ labels: JSON.stringify({ pl: "Za dużo maili" }) })
      .where("code", "=", "too_frequent")
      .execute();
    await db
      .insertInto("unsubscribe_reasons")
      .values({ code: "moved", labels: JSON.stringify({ en: "I moved away" }), position: 60 })
      .execute();
    await db
      .updateTable("unsubscribe_reasons")
      .set({ enabled: false })
      .where("code", "=", "not_relevant")
      .execute();
    clearRecipientCache();
    const pl = await reasonOptions(db, "pl");
    expect(pl.map((r) => [r.code, r.label, r.freeText])).toEqual([
      ["prefer_not_to_say", "Wolę nie mówić", false],
      ["no_longer_interested", "Nie jestem już zainteresowany(-a)", false],
      ["too_frequent", "Za dużo maili", false],
      ["never_signed_up", "Nigdy się nie zapisywałem(-am)", false],
      ["other", "Inny powód", true],
      ["moved", "I moved away", false],
    ]);
    expect((await reasonOptions(db, "de")).find((r) => r.code === "too_frequent")!.label).toBe(
      "Ich bekomme zu viele Nachrichten",
    );
  });

  it("branding is cached for a few seconds and read again after clearRecipientCache", async () => {
    expect((await publicPageData(db, "en")).branding.organizationName).toBe("Heed");
    await saveBranding(db, {
      organizationName: "Acme",
      logoUrl: "",
      accentColor: "#aa0000",
      privacyPolicyUrl: "https://acme.example/privacy",
      supportEmail: "help@acme.example",
    });
    expect((await publicPageData(db, "en")).branding.organizationName).toBe("Heed");
    clearRecipientCache();
    const page = await publicPageData(db, "cs", ["recipient"]);
    expect(page.branding).toMatchObject({ organizationName: "Acme", accentColor: "#aa0000" });
    expect(page.locale).toBe("cs");
    expect(Object.keys(page.i18n.resources).sort()).toEqual(["common", "recipient"]);
  });
});

describe('"you have been unsubscribed" email (operator setting)', () => {
  const emailsTo = async (address: string) =>
    (
      await db
        .selectFrom("outbox")
        .select(["recipient", "payload"])
        .where("kind", "=", "email")
        .where("recipient", "=", address)
        .execute()
    ).map(
      (r) => r.payload as { subject?: string; text?: string; headers?: Record<string, string> },
    );

  it("is not sent while the setting is off (the default)", async () => {
    const c = await newContact({ phone: false });
    const target = (await loadUnsubscribeTarget(db, c, { channel: "email" }, "en"))!;
    await unsubscribeByLink(db, target, { contactId: c.id, source: "one_click" });
    expect(await emailsTo(c.email.toLowerCase())).toEqual([]);
  });

  it("when on, is queued once per real email unsubscribe, in the contact's language, never for SMS or a topic", async () => {
    const { saveMailSettings } = await import("~/mail/notices.server");
    await saveMailSettings(db, { unsubscribeConfirmation: true });
    try {
      const c = await newContact({ locale: "pl" });
      const address = c.email.toLowerCase();
      const topic = (await loadUnsubscribeTarget(
        db,
        c,
        { channel: "email", topic: "news" },
        "pl",
      ))!;
      await unsubscribeByLink(db, topic, { contactId: c.id, source: "link", locale: "pl" });
      expect(await emailsTo(address)).toEqual([]); // a topic opt-out is not a channel unsubscribe
      const target = (await loadUnsubscribeTarget(db, c, { channel: "email" }, "pl"))!;
      await unsubscribeByLink(db, target, { contactId: c.id, source: "link", locale: "pl" });
      await unsubscribeByLink(db, target, { contactId: c.id, source: "one_click", locale: "pl" });
      const sent = await emailsTo(address);
      expect(sent).toHaveLength(1); // the repeat changed nothing, so nothing more is sent
      expect(JSON.stringify(sent[0])).toContain("/p/");
      expect(JSON.stringify(sent[0])).not.toMatch(/List-Unsubscribe/i);
      const sms = (await loadUnsubscribeTarget(db, c, { channel: "sms" }, "pl"))!;
      await unsubscribeByLink(db, sms, { contactId: c.id, source: "link", locale: "pl" });
      expect(await emailsTo(address)).toHaveLength(1);
      // The preference page's "unsubscribe from all" sends one for the email channel too.
      const d = await newContact();
      const r = await save(d, { intent: "unsubscribe_all" });
      expect(r.ok).toBe(true);
      expect(await emailsTo(d.email.toLowerCase())).toHaveLength(1);
    } finally {
      await saveMailSettings(db, { unsubscribeConfirmation: false });
    }
  });
});
