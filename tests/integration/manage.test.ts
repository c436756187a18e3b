import type { AppLoadContext } from "@remix-run/node";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { applyConsentChange } from "~/consent/consent.server";
import { setDatabase, type Db } from "~/db/db.server";
import { verifyLinkToken } from "~/links/tokens.server";
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
    expect(known.body).toEqual({ result: "sent", address: "known@example.com" });
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
    expect(res.body).toEqual({ result: "sent", address: "imported@example.com" });
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
      body: { result: "sent", address: "known@example.com" },
    });
    expect(await outbox()).toHaveLength(0);
  });

  it("refuses an invalid address with a form error", async () => {
    expect(await post({ email: "not-an-address" })).toMatchObject({
      status: 400,
      body: { result: "invalid", email: "not-an-address" },
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
});
