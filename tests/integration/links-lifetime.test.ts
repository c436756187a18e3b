/**
 * An unsubscribe link works for its whole life (400 days) whatever happened to the contact
 * record (issue 11.2): deleted, deleted and re-created, erased, or given another address. The
 * token carries the keyed hash of the address it was sent to (`ah`, docs/links.md); links signed
 * before that (no `ah`) still verify and work as before, and after erasure through the erase
 * ledger rows. Through the /u route's own loader and action (page GET, the page's form POST,
 * one-click), and the one-click fast path the server answers before Remix.
 */
import type { AppLoadContext } from "@remix-run/node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLinks } from "~/api/links.server";
import { addressKey, decideSend } from "~/consent/consent.server";
import { eraseContact } from "~/consent/erasure.server";
import { deleteContact } from "~/contacts/contacts.server";
import { setDatabase, type Db } from "~/db/db.server";
import type { Channel, Contact } from "~/db/schema";
import { signLinkToken } from "~/links/tokens.server";
import { clearRecipientCache } from "~/recipient/cache.server";
import { oneClickUnsubscribe } from "~/recipient/one-click.server";
import { action, loader } from "~/routes/u.$token";
import { createTestDatabase, type TestDatabase } from "../setup/db";

let t: TestDatabase;
let db: Db;
const admin = { actor: { type: "admin_user" as const, id: null, label: "links@heed.test" } };
const context = { clientIp: "203.0.113.9", nonce: "", requestId: "test" } as AppLoadContext;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  setDatabase(t);
  await db
    .insertInto("topics")
    .values({
      key: "life-news",
      channels: ["email", "sms"],
      names: JSON.stringify({ en: "News" }),
      descriptions: "{}",
      position: 1,
    })
    .execute();
});
afterAll(async () => {
  setDatabase(undefined);
  await t?.close();
});
beforeEach(() => clearRecipientCache());

let n = 0;
/** A contact as the API creates it: subscribed, with no consent row. */
async function newContact(): Promise<Contact> {
  n++;
  return db
    .insertInto("contacts")
    .values({
      external_id: `life-${n}`,
      email: `Life.${n}@Example.com`,
      phone: `+4860171${String(n).padStart(4, "0")}`,
      locale: "en",
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The unsubscribe token of a message, as a sender gets it from POST /api/v1/links. */
async function unsubscribeToken(c: Contact, channel: Channel, topic?: string) {
  const links = await createLinks(db, c, { channel, topic, campaign: "life-campaign" });
  return links.unsubscribeUrl.split("/u/")[1]!;
}

/** The loader's and action's JSON, read loosely (the test checks its shape itself). */
type Body = { target: Record<string, unknown>; preferencesUrl: string } & Record<string, unknown>;

const url = (token: string) => `http://localhost/u/${token}`;

async function page(token: string) {
  const res = (await loader({
    request: new Request(url(token)),
    params: { token },
    context,
  })) as Response;
  return { status: res.status, body: (await res.json()) as Body };
}

async function post(token: string, fields: Record<string, string>) {
  const request = new Request(url(token), {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", "User-Agent": "life-test" },
    body: new URLSearchParams(fields).toString(),
  });
  const res = (await action({ request, params: { token }, context })) as Response;
  return { status: res.status, body: (await res.json()) as Body };
}

const oneClickViaRoute = (token: string) => post(token, { "List-Unsubscribe": "One-Click" });
const oneClickFast = (token: string) =>
  oneClickUnsubscribe(db, token, { ip: "203.0.113.9", userAgent: "fast", acceptLanguage: null });

async function allowed(channel: Channel, address: string) {
  return (await decideSend(db, { channel, address, category: "marketing" })).allowed;
}

async function ledger(hash: string) {
  return db
    .selectFrom("consent_ledger")
    .select(["action", "source", "address", "contact_id", "campaign", "topic"])
    .where("address_hash", "=", hash)
    .where("action", "!=", "erase")
    .orderBy("id")
    .execute();
}

describe("a link outlives its contact record", () => {
  it("signed before its contact was deleted: the page still shows, its form unsubscribes the address, the send check refuses it", async () => {
    const c = await newContact();
    const token = await unsubscribeToken(c, "email");
    const address = c.email!.toLowerCase();
    expect(await deleteContact(db, c.id, admin)).toBe(true);
    expect(await allowed("email", address)).toBe(true);

    const shown = await page(token);
    expect(shown.status).toBe(200);
    // Heed no longer knows the address in clear: the page says "the address this link was sent to".
    expect(shown.body.target).toMatchObject({ channel: "email", display: null, done: false });
    expect(shown.body.preferencesUrl).toBe("/manage");

    const res = await post(token, { intent: "unsubscribe", reason: "", reasonText: "" });
    expect(res).toEqual({
      status: 200,
      body: { result: "unsubscribed", changed: true, oneClick: false },
    });
    expect(await allowed("email", address)).toBe(false);
    expect(await ledger(addressKey(address))).toEqual([
      {
        action: "unsubscribe",
        source: "link",
        address: null,
        contact_id: c.id,
        campaign: "life-campaign",
        topic: null,
      },
    ]);
    expect((await page(token)).body.target.done).toBe(true);
    // Re-subscribing needs a confirmation sent to the address, which Heed no longer knows.
    expect((await post(token, { intent: "resubscribe" })).status).toBe(400);
  });

  it("signed before its contact was deleted and re-created: one-click unsubscribes the address (route and fast path), repeats change nothing", async () => {
    const c = await newContact();
    const address = c.email!.toLowerCase();
    const emailToken = await unsubscribeToken(c, "email");
    const smsToken = await unsubscribeToken(c, "sms", "life-news");
    await deleteContact(db, c.id, admin);
    const again = await db
      .insertInto("contacts")
      .values({ external_id: c.external_id, email: c.email, phone: c.phone, locale: "pl" })
      .returningAll()
      .executeTakeFirstOrThrow();
    expect(again.id).not.toBe(c.id);

    expect(await oneClickViaRoute(emailToken)).toEqual({
      status: 200,
      body: { result: "unsubscribed", changed: true, oneClick: true },
    });
    expect(await allowed("email", address)).toBe(false);
    expect(await oneClickViaRoute(emailToken)).toMatchObject({ body: { changed: false } });
    expect(await oneClickFast(emailToken)).toMatchObject({ status: 200, changed: false });

    // The topic link, through the fast path: that topic only, for that number.
    expect(await oneClickFast(smsToken)).toMatchObject({ status: 200, changed: true });
    const sms = await decideSend(db, {
      channel: "sms",
      address: c.phone!,
      topic: "life-news",
      category: "marketing",
    });
    expect(sms).toMatchObject({ allowed: false, reason: "topic_unsubscribed" });
    expect(await allowed("sms", c.phone!)).toBe(true);
    expect(await oneClickFast(smsToken)).toMatchObject({ status: 200, changed: false });
    const rows = await ledger(addressKey(c.phone!));
    expect(rows).toEqual([
      {
        action: "topic_opt_out",
        source: "one_click",
        // The link's contact (gone) is named; its address in clear went with it.
        address: null,
        contact_id: c.id,
        campaign: "life-campaign",
        topic: "life-news",
      },
    ]);
  });

  it("signed before erasure: the page and one-click still unsubscribe the erased address; nothing in clear is written", async () => {
    const c = await newContact();
    const address = c.email!.toLowerCase();
    const emailToken = await unsubscribeToken(c, "email");
    const smsToken = await unsubscribeToken(c, "sms");
    await eraseContact(db, c.id, admin);
    expect(await allowed("email", address)).toBe(true);

    const shown = await page(emailToken);
    expect(shown.status).toBe(200);
    expect(shown.body.target).toMatchObject({ display: null, done: false });
    expect((await oneClickViaRoute(emailToken)).body).toMatchObject({ changed: true });
    expect(await allowed("email", address)).toBe(false);

    expect(await oneClickFast(smsToken)).toMatchObject({ status: 200, changed: true });
    expect(await allowed("sms", c.phone!)).toBe(false);

    for (const hash of [addressKey(address), addressKey(c.phone!)]) {
      const rows = await ledger(hash);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ action: "unsubscribe", address: null, contact_id: c.id });
    }
    const state = await db
      .selectFrom("channel_consent")
      .select(["address", "status"])
      .where("address_hash", "in", [addressKey(address), addressKey(c.phone!)])
      .execute();
    expect(state).toEqual([
      { address: null, status: "unsubscribed" },
      { address: null, status: "unsubscribed" },
    ]);
  });

  it("a link signed before tokens named their address (old format) still works, and after erasure through the erase rows", async () => {
    const c = await newContact();
    const address = c.email!.toLowerCase();
    const old = await signLinkToken({ contactId: c.id, channel: "email", purpose: "unsubscribe" });
    const oldSms = await signLinkToken({ contactId: c.id, channel: "sms", purpose: "unsubscribe" });
    expect((await page(old)).body.target).toMatchObject({ display: address, done: false });

    await eraseContact(db, c.id, admin);
    expect((await page(old)).status).toBe(200);
    expect(await oneClickFast(old)).toMatchObject({ status: 200, changed: true });
    expect((await oneClickViaRoute(oldSms)).body).toMatchObject({ changed: true });
    expect(await allowed("email", address)).toBe(false);
    expect(await allowed("sms", c.phone!)).toBe(false);
  });

  it("a link keeps to the address it was sent to when the contact's address changes", async () => {
    const c = await newContact();
    const first = c.email!.toLowerCase();
    const token = await unsubscribeToken(c, "email");
    await db
      .updateTable("contacts")
      .set({ email: "moved@example.com" })
      .where("id", "=", c.id)
      .execute();
    expect(await oneClickFast(token)).toMatchObject({ status: 200, changed: true });
    expect(await allowed("email", first)).toBe(false);
    expect(await allowed("email", "moved@example.com")).toBe(true);
  });

  it("refused tokens write nothing: tampered, wrong purpose, expired", async () => {
    const c = await newContact();
    const token = await unsubscribeToken(c, "email");
    const preferences = await signLinkToken({
      contactId: c.id,
      channel: "email",
      purpose: "preferences",
    });
    const expired = await signLinkToken({
      contactId: c.id,
      channel: "email",
      purpose: "unsubscribe",
      now: new Date("2020-01-01T00:00:00Z"),
    });
    const tampered = token.slice(0, -3) + (token.endsWith("AAA") ? "BBB" : "AAA");
    expect(await oneClickFast(tampered)).toMatchObject({ status: 400, reason: "invalid" });
    expect(await oneClickFast(preferences)).toMatchObject({ status: 400, reason: "wrong_purpose" });
    expect(await oneClickFast(expired)).toMatchObject({ status: 410, reason: "expired" });
    expect(await oneClickFast("not-a-token")).toMatchObject({ status: 400 });
    expect((await oneClickViaRoute(tampered)).status).toBe(400);
    expect(await ledger(addressKey(c.email!.toLowerCase()))).toEqual([]);
  });
});
