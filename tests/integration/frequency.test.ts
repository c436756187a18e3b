import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFrequencyOption, deleteFrequencyOption } from "~/admin/frequency.server";
import { loadEvent } from "~/api/events.server";
import { createApiKey } from "~/api/keys.server";
import * as S from "~/api/schemas";
import { verifyLedgerChain } from "~/consent/chain.server";
import {
  addressKey,
  applyConsentChange,
  ConsentError,
  decideSendMany,
  readConsent,
} from "~/consent/consent.server";
import { setDatabase, type Db } from "~/db/db.server";
import { loadContact, savePreferences } from "~/recipient/recipient.server";
import * as checkRoute from "~/routes/api.v1.check";
import * as contactRoute from "~/routes/api.v1.contacts.$externalId";
import * as preferencesRoute from "~/routes/api.v1.contacts.$externalId.preferences";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { call } from "./api.helpers";

/**
 * Frequency preferences (docs/consent.md#frequency): the choice goes through the one door, the
 * check records sends and caps inside the chosen window, at its edges, and through the API.
 */
let t: TestDatabase;
let db: Db;
let key: string;

const admin = { actor: { type: "admin_user" as const, id: null, label: "freq-test@heed.test" } };
let n = 0;
const uniq = (p: string) => `${p}-${++n}-${Math.random().toString(36).slice(2, 8)}@example.org`;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  setDatabase(t);
  for (const [k, days, label] of [
    ["every", "", "Every message"],
    ["weekly", "7", "At most weekly"],
    ["monthly", "30", "At most monthly"],
  ] as const) {
    await createFrequencyOption(
      db,
      { channel: "email", key: k, windowDays: days, labels: { en: label, de: `${label} (de)` } },
      admin,
    );
  }
  key = (await createApiKey(db, { name: "freq", scopes: ["check", "contacts"] })).key;
});
afterAll(async () => {
  await t?.close();
});

async function choose(address: string, frequency: string) {
  return applyConsentChange(db, {
    channel: "email",
    address,
    action: "frequency",
    frequency,
    source: "preference_page",
    actor: { type: "recipient" },
  });
}

async function check(addresses: string[], campaign: string | null, record = true) {
  return decideSendMany(db, {
    channel: "email",
    category: "marketing",
    addresses,
    campaign,
    record,
  });
}

/** Moves the recorded send of this address back in time (the test's clock). */
async function sentAgo(address: string, interval: string) {
  await sql`update send_log set sent_at = now() - ${interval}::interval
    where address_hash = ${addressKey(address)}`.execute(db);
}

describe("choosing a frequency", () => {
  it("is recorded through the one door: one ledger row, idempotent, chained", async () => {
    const a = uniq("choose");
    const first = await choose(a, "weekly");
    expect(first).toMatchObject({ changed: true, frequency: "weekly", status: "subscribed" });
    expect((await choose(a, "weekly")).changed).toBe(false);
    expect((await choose(a, "monthly")).changed).toBe(true);
    const rows = await db
      .selectFrom("consent_ledger")
      .select(["action", "frequency", "source"])
      .where("address_hash", "=", addressKey(a))
      .orderBy("id")
      .execute();
    expect(rows).toEqual([
      { action: "frequency", frequency: "weekly", source: "preference_page" },
      { action: "frequency", frequency: "monthly", source: "preference_page" },
    ]);
    const [state] = await readConsent(db, [{ channel: "email", address: a }]);
    expect(state!.frequency).toBe("monthly");
    expect((await verifyLedgerChain(db)).ok).toBe(true);
    // The events feed and webhooks carry the choice.
    expect(await loadEvent(db, first.ledgerId!)).toMatchObject({
      type: "consent.frequency",
      action: "frequency",
      frequency: "weekly",
    });
  });

  it("refuses an option the channel does not offer", async () => {
    await expect(
      applyConsentChange(db, {
        channel: "sms",
        address: "+48601999000",
        action: "frequency",
        frequency: "weekly",
        source: "api",
      }),
    ).rejects.toThrow(ConsentError);
    await expect(choose(uniq("x"), "hourly")).rejects.toMatchObject({ code: "unknown_frequency" });
  });

  it("keeps the window it was chosen with when the operator removes the option", async () => {
    await createFrequencyOption(
      db,
      { channel: "email", key: "fortnightly", windowDays: "14", labels: { en: "Fortnightly" } },
      admin,
    );
    const a = uniq("kept");
    await choose(a, "fortnightly");
    await deleteFrequencyOption(db, "email", "fortnightly", admin);
    await check([a], "kept-1");
    expect(await check([a], "kept-2")).toEqual([
      { address: a, allowed: false, reason: "frequency_capped" },
    ]);
  });
});

describe("POST /api/v1/check with record", () => {
  it("records a send for each allowed recipient, and caps a later campaign inside the window", async () => {
    const weekly = uniq("weekly");
    const every = uniq("every");
    const unseen = uniq("unseen");
    const gone = uniq("gone");
    await choose(weekly, "weekly");
    await choose(every, "every");
    await applyConsentChange(db, {
      channel: "email",
      address: gone,
      action: "unsubscribe",
      source: "link",
    });
    const first = await check([weekly, every, unseen, gone], "spring-1");
    expect(first.map((d) => d.reason ?? "allowed")).toEqual([
      "allowed",
      "allowed",
      "allowed",
      "unsubscribed",
    ]);
    const logged = await db
      .selectFrom("send_log")
      .select("address_hash")
      .where("campaign", "=", "spring-1")
      .execute();
    expect(logged.map((r) => r.address_hash).sort()).toEqual(
      [weekly, every, unseen].map((a) => addressKey(a)).sort(),
    );
    // Another campaign: only the person who asked for at most weekly is capped.
    const second = await check([weekly, every, unseen], "spring-2");
    expect(second.map((d) => d.reason ?? "allowed")).toEqual([
      "frequency_capped",
      "allowed",
      "allowed",
    ]);
    // The same campaign again (a retry) is not capped by its own send.
    expect((await check([weekly], "spring-1"))[0]).toEqual({ address: weekly, allowed: true });
    // A plain check (no record) does not record, and transactional mail is never capped.
    await check([uniq("plain")], "spring-3", false);
    expect(
      await db
        .selectFrom("send_log")
        .select("campaign")
        .where("campaign", "=", "spring-3")
        .execute(),
    ).toEqual([]);
    const tx = await decideSendMany(db, {
      channel: "email",
      category: "transactional",
      addresses: [weekly],
      campaign: "receipt",
      record: true,
    });
    expect(tx).toEqual([{ address: weekly, allowed: true }]);
  });

  it("caps until the window's end and not after it (weekly and monthly)", async () => {
    const cases = [
      ["weekly", "7 days - 1 minute", "frequency_capped"],
      ["weekly", "7 days + 1 minute", "allowed"],
      ["monthly", "29 days 23 hours", "frequency_capped"],
      ["monthly", "30 days + 1 second", "allowed"],
      ["every", "1 second", "allowed"],
    ] as const;
    for (const [frequency, ago, expected] of cases) {
      const a = uniq(`edge-${frequency}`);
      await choose(a, frequency);
      await check([a], `edge-a-${n}`);
      await sentAgo(a, ago);
      const [d] = await check([a], `edge-b-${n}`, false);
      expect(`${frequency} ${ago}: ${d!.reason ?? "allowed"}`).toBe(
        `${frequency} ${ago}: ${expected}`,
      );
    }
  });

  it("over HTTP: record needs a campaign, and the answer names frequency_capped", async () => {
    const a = uniq("http");
    await choose(a, "weekly");
    const post = (body: unknown) => call(checkRoute, { method: "POST", key, body });
    const bad = await post({
      channel: "email",
      category: "marketing",
      recipients: [a],
      record: true,
    });
    expect(bad.status).toBe(400);
    const body = { channel: "email", category: "marketing", recipients: [a], record: true };
    expect((await post({ ...body, campaign: "http-1" })).status).toBe(200);
    const res = await post({ ...body, campaign: "http-2" });
    const parsed = S.CheckResult.parse(await res.json());
    expect(parsed.results).toEqual([{ address: a, allowed: false, reason: "frequency_capped" }]);
  });
});

describe("frequency in the preferences API and the preference page", () => {
  it("GET shows the options and the choice; PATCH records a choice; an unknown one is 422", async () => {
    const id = `freq-${Math.random().toString(36).slice(2, 8)}`;
    const email = uniq("api");
    const put = await call(contactRoute, {
      method: "PUT",
      params: { externalId: id },
      key,
      body: { email },
    });
    expect(put.status).toBe(201);
    const get = async () =>
      S.Preferences.parse(
        await (
          await call(preferencesRoute, { method: "GET", params: { externalId: id }, key })
        ).json(),
      );
    const before = await get();
    expect(before.channels.email).toMatchObject({
      frequency: null,
      frequencyOptions: [
        { key: "every", windowDays: null },
        { key: "weekly", windowDays: 7 },
        { key: "monthly", windowDays: 30 },
      ],
    });
    const patch = (frequency: string) =>
      call(preferencesRoute, {
        method: "PATCH",
        params: { externalId: id },
        key,
        body: { channels: { email: { frequency } } },
      });
    const ok = await patch("monthly");
    expect(ok.status).toBe(200);
    expect((await get()).channels.email!.frequency).toBe("monthly");
    const bad = await patch("hourly");
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe(
      "unknown_frequency",
    );
    const [row] = await db
      .selectFrom("consent_ledger")
      .select(["action", "source", "frequency", "actor_type"])
      .where("address_hash", "=", addressKey(email))
      .execute();
    expect(row).toEqual({
      action: "frequency",
      source: "api",
      frequency: "monthly",
      actor_type: "api_key",
    });
  });

  it("a preference-page save records the choice with source preference_page", async () => {
    const email = uniq("page");
    const [c] = await db
      .insertInto("contacts")
      .values({ external_id: `page-${n}`, email })
      .returning("id")
      .execute();
    const contact = (await loadContact(db, c!.id))!;
    const saved = await savePreferences(db, {
      contact,
      locale: "en",
      input: {
        intent: "save",
        channels: { email: { choice: "receive", topics: null, frequency: "weekly" } },
        reasonCode: null,
        reasonText: null,
      },
      actor: { contactId: contact.id, ip: "203.0.113.9" },
    });
    expect(saved).toEqual({
      ok: true,
      changes: [
        {
          kind: "frequency",
          channel: "email",
          topic: null,
          pausedUntil: null,
          frequency: "weekly",
        },
      ],
    });
    const [state] = await readConsent(db, [{ channel: "email", address: email }]);
    expect(state!.frequency).toBe("weekly");
  });
});
