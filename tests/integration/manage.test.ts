import type { AppLoadContext } from "@remix-run/node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { applyConsentChange } from "~/consent/consent.server";
import { setDatabase, type Db } from "~/db/db.server";
import { verifyLinkToken } from "~/links/tokens.server";
import { resolveShortLink } from "~/links/short-links.server";
import { MANAGE_LIMITS } from "~/mail/preferences-link.server";

import { action } from "~/routes/manage";
import { createTestDatabase, type TestDatabase } from "../setup/db";

/** /manage ("email me my link"), through the route's action against a real database. */

let t: TestDatabase;
let db: Db;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  setDatabase(t);
  await db
    .insertInto("contacts")
    .values([
      { external_id: "manage-known", email: "known@example.com", locale: "de" },
      { external_id: "manage-erased", email: "erased@example.com", erased_at: new Date() },
      { external_id: "manage-phone", phone: "+420777111222", locale: "cs" },
      { external_id: "manage-phone-stop", phone: "+420777111333" },
    ])
    .execute();
});
afterAll(async () => {
  setDatabase(undefined);
  await t?.close();
});
beforeEach(async () => {
  await db.deleteFrom("rate_limits").execute();
  await db.deleteFrom("outbox").execute();
});

let ipCounter = 0;
async function post(fields: Record<string, string>, ip = `198.51.100.${++ipCounter % 250}`) {
  const request = new Request("http://localhost/manage", {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      "Accept-Language": "fr-FR,fr;q=0.9",
    },
    body: new URLSearchParams(fields).toString(),
  });
  const context = { clientIp: ip, nonce: "", requestId: "test" } as AppLoadContext;
  const res = (await action({ request, params: {}, context })) as Response;
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    headers: res.headers,
  };
}

async function outbox() {
  return db.selectFrom("outbox").selectAll().orderBy("id").execute();
}

describe("/manage", () => {
  it("answers the same for a known and an unknown address, and mails a link only to the known one", async () => {
    const known = await post({ email: " Known@Example.com " });
    const unknown = await post({ email: "stranger@example.com" });
    const erased = await post({ email: "erased@example.com" });
    expect(known.status).toBe(200);
    expect(unknown.status).toBe(known.status);
    expect(erased.status).toBe(known.status);
    const anonymize = (b: Record<string, unknown>) => ({ ...b, address: "<address>" });
    expect(anonymize(unknown.body)).toEqual(anonymize(known.body));
    expect(anonymize(erased.body)).toEqual(anonymize(known.body));
    expect(known.body).toEqual({ result: "sent", channel: "email", address: "known@example.com" });
    expect([...known.headers.keys()].sort()).toEqual([...unknown.headers.keys()].sort());

    const sent = await outbox();
    expect(sent.map((m) => m.recipient)).toEqual(["known@example.com"]);
    const payload = sent[0]!.payload as { subject: string; text: string; html: string };
    // The contact's own language wins over the browser's.
    expect(payload.subject).toMatch(/Einstellungen/);
    const token = /\/p\/([\w-]+\.[\w-]+\.[\w-]+)/.exec(payload.text)![1]!;
    const contact = await db
      .selectFrom("contacts")
      .select("id")
      .where("external_id", "=", "manage-known")
      .executeTakeFirstOrThrow();
    expect(await verifyLinkToken(token, "preferences")).toMatchObject({
      ok: true,
      claims: { sub: contact.id, ch: "email", pur: "preferences" },
    });
    expect(payload.html).toContain(`/p/${token}`);
  });

  it("knows an address that only the consent tables hold (an imported suppression) and mails it a link", async () => {
    await applyConsentChange(db, {
      channel: "email",
      address: "imported@example.com",
      action: "unsubscribe",
      source: "import",
    });
    const res = await post({ email: "imported@example.com" });
    expect(res.body).toEqual({ result: "sent", channel: "email", address: "imported@example.com" });
    const [msg] = await outbox();
    expect(msg!.recipient).toBe("imported@example.com");
    // No contact language: the browser's (French).
    expect((msg!.payload as { subject: string }).subject).toMatch(/préférences/);
    const created = await db
      .selectFrom("contacts")
      .selectAll()
      .where("email", "=", "imported@example.com")
      .execute();
    expect(created).toHaveLength(1);
  });

  it("gives a bot that fills the honeypot the same answer and sends nothing", async () => {
    const res = await post({ email: "known@example.com", website: "http://spam.example" });
    expect(res).toMatchObject({
      status: 200,
      body: { result: "sent", channel: "email", address: "known@example.com" },
    });
    expect(await outbox()).toHaveLength(0);
  });

  it("refuses an invalid address with a form error", async () => {
    expect(await post({ email: "not-an-address" })).toMatchObject({
      status: 400,
      body: { result: "invalid", error: "address", address: "not-an-address" },
    });
    expect(await post({})).toMatchObject({ status: 400, body: { result: "invalid" } });
    expect(await outbox()).toHaveLength(0);
  });

  it(`limits one address to ${MANAGE_LIMITS.perAddressHour.limit} links an hour, known or not, from any IP`, async () => {
    for (const email of ["known@example.com", "nobody-here@example.com"]) {
      const results = [];
      for (let i = 0; i <= MANAGE_LIMITS.perAddressHour.limit; i++)
        results.push(await post({ email }));
      expect(results.map((r) => r.status)).toEqual([
        ...Array(MANAGE_LIMITS.perAddressHour.limit).fill(200),
        429,
      ]);
      const limited = results.at(-1)!;
      expect(limited.body).toEqual({ result: "rate_limited" });
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    expect(await outbox()).toHaveLength(MANAGE_LIMITS.perAddressHour.limit);
    // Keys hold the address's hash, never the address.
    const keys = (await db.selectFrom("rate_limits").select("key").execute()).map((r) => r.key);
    expect(keys.some((k) => k.includes("example.com"))).toBe(false);
  });

  it(`limits one IP to ${MANAGE_LIMITS.perIp.limit} requests an hour`, async () => {
    const statuses = [];
    for (let i = 0; i <= MANAGE_LIMITS.perIp.limit; i++) {
      statuses.push((await post({ email: `someone${i}@example.com` }, "203.0.113.99")).status);
    }
    expect(statuses).toEqual([...Array(MANAGE_LIMITS.perIp.limit).fill(200), 429]);
    // Another IP is not affected.
    expect((await post({ email: "someone-else@example.com" }, "203.0.113.100")).status).toBe(200);
  });

  describe("with a phone number (the link goes by SMS)", () => {
    const smsOf = async () =>
      (await outbox()).map((m) => ({
        kind: m.kind,
        recipient: m.recipient,
        body: (m.payload as { body: string }).body,
      }));

    it("texts a known number a short link to its preferences; an unknown number gets the same answer and nothing", async () => {
      const known = await post({ address: "+420 777 111 222" });
      const unknown = await post({ address: "+420 777 999 888" });
      expect(known).toMatchObject({
        status: 200,
        body: { result: "sent", channel: "sms", address: "+420 777 111 222" },
      });
      expect(unknown.status).toBe(known.status);
      const anonymize = (b: Record<string, unknown>) => ({ ...b, address: "<address>" });
      expect(anonymize(unknown.body)).toEqual(anonymize(known.body));
      expect([...known.headers.keys()].sort()).toEqual([...unknown.headers.keys()].sort());

      const sent = await smsOf();
      expect(sent).toHaveLength(1);
      expect(sent[0]).toMatchObject({ kind: "sms", recipient: "+420777111222" });
      // The contact's language (Czech) and a short link that opens its preference page.
      expect(sent[0]!.body).toMatch(/předvoleb/);
      const code = /\/s\/([\w-]+)/.exec(sent[0]!.body)![1]!;
      const link = await resolveShortLink(db, code);
      expect(link.ok).toBe(true);
      const token = /^\/p\/(.+)$/.exec((link as { target: string }).target)![1]!;
      const contact = await db
        .selectFrom("contacts")
        .select("id")
        .where("external_id", "=", "manage-phone")
        .executeTakeFirstOrThrow();
      expect(await verifyLinkToken(token, "preferences")).toMatchObject({
        ok: true,
        claims: { sub: contact.id, ch: "sms", pur: "preferences" },
      });
    });

    it("accepts a number written with 00 and spaces as the same number", async () => {
      const res = await post({ address: "00420 777 111 222" });
      expect(res.body).toMatchObject({ result: "sent", channel: "sms" });
      expect((await smsOf()).map((m) => m.recipient)).toEqual(["+420777111222"]);
    });

    it("texts nothing to a number that opted out of SMS, and answers the same", async () => {
      await applyConsentChange(db, {
        channel: "sms",
        address: "+420777111333",
        action: "unsubscribe",
        source: "sms_keyword",
      });
      const res = await post({ address: "+420777111333" });
      expect(res).toMatchObject({ status: 200, body: { result: "sent", channel: "sms" } });
      expect(await outbox()).toHaveLength(0);
    });

    it("refuses what is not a number we can text, asking for the country code", async () => {
      expect(await post({ address: "777 11" })).toMatchObject({
        status: 400,
        body: { result: "invalid", error: "phone" },
      });
      expect(await post({ address: "hello there" })).toMatchObject({
        status: 400,
        body: { result: "invalid", error: "address" },
      });
      expect(await outbox()).toHaveLength(0);
    });

    it(`shares the per-address limit (${MANAGE_LIMITS.perAddressHour.limit} an hour), for a known number as for an unknown one`, async () => {
      for (const address of ["+420777111222", "+420777999777"]) {
        const statuses = [];
        for (let i = 0; i <= MANAGE_LIMITS.perAddressHour.limit; i++)
          statuses.push((await post({ address })).status);
        expect(statuses).toEqual([...Array(MANAGE_LIMITS.perAddressHour.limit).fill(200), 429]);
      }
      expect(await outbox()).toHaveLength(MANAGE_LIMITS.perAddressHour.limit);
      const keys = (await db.selectFrom("rate_limits").select("key").execute()).map((r) => r.key);
      expect(keys.some((k) => k.includes("777"))).toBe(false);
    });
  });
});
