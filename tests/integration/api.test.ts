import { parse } from "csv-parse/sync";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { createApiKey, revokeApiKey } from "~/api/keys.server";
import { MAX_JSON_BODY_BYTES } from "~/api/body.server";
import { createLinksBatch, createLinksBatchJson } from "~/api/links.server";
import * as S from "~/api/schemas";
import { normalizeEmail } from "~/consent/address.server";
import { addressKey, applyConsentChange, decideSend } from "~/consent/consent.server";
import { verifyLedgerChain } from "~/consent/chain.server";
import { setDatabase, type Db } from "~/db/db.server";
import { resetEnvForTests } from "~/env.server";
import { resolveShortLink } from "~/links/short-links.server";
import { signLinkTokenSync, verifyLinkToken } from "~/links/tokens.server";
import * as campaignsRoute from "~/routes/api.v1.campaigns";
import * as checkRoute from "~/routes/api.v1.check";
import * as contactRoute from "~/routes/api.v1.contacts.$externalId";
import * as preferencesRoute from "~/routes/api.v1.contacts.$externalId.preferences";
import * as eventsRoute from "~/routes/api.v1.events";
import * as linksBatchRoute from "~/routes/api.v1.links.batch";
import * as linksRoute from "~/routes/api.v1.links";
import * as subscriptionsRoute from "~/routes/api.v1.subscriptions";
import * as suppressionsRoute from "~/routes/api.v1.suppressions";
import * as exportRoute from "~/routes/api.v1.suppressions[.csv]";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { readUntil } from "./db.helpers";
import { call, json, newKey, type RouteModule } from "./api.helpers";

let t: TestDatabase;
let db: Db;
let key: string; // every scope
let keyId: string;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  setDatabase(t);
  await db
    .insertInto("topics")
    .values([
      {
        key: "news",
        channels: ["email", "sms", "whatsapp"],
        default_opt_in: true,
        names: "{}",
        descriptions: "{}",
        position: 1,
      },
      {
        key: "promos",
        channels: ["email", "sms"],
        default_opt_in: false,
        names: "{}",
        descriptions: "{}",
        position: 2,
      },
      {
        key: "mailonly",
        channels: ["email"],
        default_opt_in: true,
        names: "{}",
        descriptions: "{}",
        position: 3,
      },
    ])
    .execute();
  const k = await newKey(
    db,
    ["links", "check", "contacts", "suppressions", "events"],
    "all scopes",
  );
  key = k.key;
  keyId = k.id;
});
afterAll(async () => {
  setDatabase(undefined);
  await t?.close();
});

type ErrorJson = {
  error: { code: string; message: string; details: Record<string, unknown> | null };
};

async function expectError(res: Response, status: number, code: string): Promise<ErrorJson> {
  const body = await json<ErrorJson>(res);
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  expect(typeof body.error.message).toBe("string");
  expect("details" in body.error).toBe(true);
  expect(S.ErrorBody.safeParse(body).success).toBe(true);
  return body;
}

let seq = 0;
const uniq = (p: string) => `${p}-${++seq}-${Date.now().toString(36)}`;

async function putContact(externalId: string, body: Record<string, unknown>) {
  return call(contactRoute, {
    method: "PUT",
    path: `/api/v1/contacts/${externalId}`,
    params: { externalId },
    key,
    body,
  });
}

async function ledgerRows(channel: string, address: string) {
  return db
    .selectFrom("consent_ledger")
    .selectAll()
    .where("channel", "=", channel as "email")
    .where("address_hash", "=", addressKey(address))
    .orderBy("id")
    .execute();
}

// ---------------------------------------------------------------------------------------------

describe("authentication, scopes, rate limits and the error shape", () => {
  it("refuses a request without a key, with a malformed key, a wrong secret or a revoked key (401)", async () => {
    const body = { channel: "email", category: "marketing", recipients: ["a@example.com"] };
    await expectError(await call(checkRoute, { method: "POST", body }), 401, "unauthorized");
    await expectError(
      await call(checkRoute, { method: "POST", body, key: "nope" }),
      401,
      "unauthorized",
    );
    const wrongSecret = key.slice(0, -4) + (key.endsWith("AAAA") ? "BBBB" : "AAAA");
    await expectError(
      await call(checkRoute, { method: "POST", body, key: wrongSecret }),
      401,
      "unauthorized",
    );
    const revoked = await createApiKey(db, { name: "to revoke", scopes: ["check"] });
    expect((await call(checkRoute, { method: "POST", body, key: revoked.key })).status).toBe(200);
    await revokeApiKey(db, revoked.id);
    const res = await call(checkRoute, { method: "POST", body, key: revoked.key });
    await expectError(res, 401, "unauthorized");
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
  });

  it("stores only a hash of the key and shows the key once", async () => {
    const created = await createApiKey(db, { name: "hash check", scopes: ["events"] });
    const row = await db
      .selectFrom("api_keys")
      .selectAll()
      .where("id", "=", created.id)
      .executeTakeFirstOrThrow();
    expect(created.key).toMatch(/^heed_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(row)).not.toContain(created.key.split("_").slice(2).join("_"));
    expect(row.key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row.prefix).toBe(created.prefix);
  });

  it("answers 403 to a key without the operation's scope, for every scoped operation", async () => {
    const cases: {
      mod: RouteModule;
      method: string;
      scope: string;
      params?: Record<string, string>;
      body?: unknown;
    }[] = [
      {
        mod: contactRoute,
        method: "PUT",
        scope: "contacts",
        params: { externalId: "x" },
        body: {},
      },
      { mod: preferencesRoute, method: "GET", scope: "contacts", params: { externalId: "x" } },
      {
        mod: preferencesRoute,
        method: "PATCH",
        scope: "contacts",
        params: { externalId: "x" },
        body: { channels: {} },
      },
      { mod: linksRoute, method: "POST", scope: "links", body: {} },
      { mod: linksBatchRoute, method: "POST", scope: "links", body: {} },
      { mod: checkRoute, method: "POST", scope: "check", body: {} },
      { mod: suppressionsRoute, method: "POST", scope: "suppressions", body: {} },
      { mod: exportRoute, method: "GET", scope: "suppressions" },
      { mod: campaignsRoute, method: "POST", scope: "links", body: {} },
      { mod: subscriptionsRoute, method: "POST", scope: "contacts", body: {} },
      { mod: eventsRoute, method: "GET", scope: "events" },
    ];
    const onlyEvents = await createApiKey(db, { name: "events only", scopes: ["events"] });
    const onlyCheck = await createApiKey(db, { name: "check only", scopes: ["check"] });
    for (const c of cases) {
      const k = c.scope === "events" ? onlyCheck.key : onlyEvents.key;
      const res = await call(c.mod, { method: c.method, params: c.params, body: c.body, key: k });
      const body = await expectError(res, 403, "forbidden");
      expect(body.error.details).toMatchObject({ requiredScope: c.scope });
    }
  });

  it("answers 429 with Retry-After when a key passes its rate limit", async () => {
    const limited = await createApiKey(db, { name: "busy", scopes: ["check"] });
    await db
      .insertInto("rate_limits")
      .values({ key: `api:key:${limited.id}`, window_start: new Date(), count: 1_000_000 })
      .execute();
    const res = await call(checkRoute, {
      method: "POST",
      key: limited.key,
      body: { channel: "email", category: "marketing", recipients: ["a@example.com"] },
    });
    await expectError(res, 429, "rate_limited");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("answers bad JSON with 400, a non-JSON body with 415, an oversized body with 413 — never 500", async () => {
    await expectError(
      await call(checkRoute, {
        method: "POST",
        key,
        rawBody: "{not json",
        headers: { "Content-Type": "application/json" },
      }),
      400,
      "invalid_json",
    );
    await expectError(
      await call(checkRoute, {
        method: "POST",
        key,
        rawBody: "",
        headers: { "Content-Type": "application/json" },
      }),
      400,
      "invalid_json",
    );
    await expectError(
      await call(checkRoute, {
        method: "POST",
        key,
        rawBody: "channel=email",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      }),
      415,
      "unsupported_media_type",
    );
    const huge = JSON.stringify({
      channel: "email",
      category: "marketing",
      recipients: ["x".repeat(MAX_JSON_BODY_BYTES)],
    });
    await expectError(
      await call(checkRoute, {
        method: "POST",
        key,
        rawBody: huge,
        headers: { "Content-Type": "application/json" },
      }),
      413,
      "payload_too_large",
    );
    // The same without Content-Length: a streamed body is cut off while reading.
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 6; i++) c.enqueue(new Uint8Array(1024 * 1024).fill(32));
        c.close();
      },
    });
    const req = new Request("http://localhost:3000/api/v1/check", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}` },
      body: stream,
      duplex: "half",
    } as RequestInit);
    await expectError(
      await checkRoute.action({ request: req, params: {}, context: {} as never }),
      413,
      "payload_too_large",
    );
  });

  it("answers invalid fields with 400 and a path per field", async () => {
    const res = await call(checkRoute, {
      method: "POST",
      key,
      body: { channel: "fax", category: "marketing", recipients: [], extra: 1 },
    });
    const body = await expectError(res, 400, "invalid_request");
    const paths = (body.error.details!.issues as { path: string }[]).map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(["channel", "recipients"]));
    expect(paths.some((p) => p === "" || p.includes("extra"))).toBe(true);
  });

  it("answers a wrong method with 405 and Allow", async () => {
    const res = await call(checkRoute, { method: "GET", key });
    await expectError(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toBe("POST");
    const put = await call(eventsRoute, { method: "DELETE", key });
    await expectError(put, 405, "method_not_allowed");
  });
});

// ---------------------------------------------------------------------------------------------

describe("PUT /api/v1/contacts/{externalId}", () => {
  it("creates (201), updates (200), keeps omitted fields and clears nulls", async () => {
    const id = uniq("c");
    const created = await putContact(id, {
      email: "  Ann@Example.COM ",
      phone: "+48 601 111 222",
      locale: "pl",
    });
    expect(created.status).toBe(201);
    const c1 = S.Contact.parse(await created.json());
    expect(c1).toMatchObject({
      externalId: id,
      email: "ann@example.com",
      phone: "+48601111222",
      locale: "pl",
    });

    const updated = await putContact(id, { locale: "de" });
    expect(updated.status).toBe(200);
    expect(await updated.json()).toMatchObject({
      id: c1.id,
      email: "ann@example.com",
      phone: "+48601111222",
      locale: "de",
    });

    const cleared = await putContact(id, { phone: null });
    expect(await cleared.json()).toMatchObject({
      email: "ann@example.com",
      phone: null,
      locale: "de",
    });
  });

  it("refuses an invalid email or phone with a field error (400)", async () => {
    const body = await expectError(
      await putContact(uniq("c"), { email: "not-an-email" }),
      400,
      "invalid_request",
    );
    expect(body.error.details!.issues).toEqual([expect.objectContaining({ path: "email" })]);
    const b2 = await expectError(
      await putContact(uniq("c"), { phone: "12" }),
      400,
      "invalid_request",
    );
    expect(b2.error.details!.issues).toEqual([expect.objectContaining({ path: "phone" })]);
    await expectError(await putContact(uniq("c"), { locale: "<script>" }), 400, "invalid_request");
  });

  it("refuses to bring an erased contact back (409)", async () => {
    const id = uniq("erased");
    await putContact(id, { email: `${id}@example.com` });
    await db
      .updateTable("contacts")
      .set({ erased_at: new Date(), email: null })
      .where("external_id", "=", id)
      .execute();
    await expectError(await putContact(id, { email: `${id}@example.com` }), 409, "contact_erased");
  });
});

// ---------------------------------------------------------------------------------------------

describe("GET and PATCH /api/v1/contacts/{externalId}/preferences", () => {
  const get = (id: string) =>
    call(preferencesRoute, { method: "GET", params: { externalId: id }, key });
  const patch = (id: string, body: unknown) =>
    call(preferencesRoute, { method: "PATCH", params: { externalId: id }, key, body });

  it("reads each channel's state, pause and topic choices", async () => {
    const id = uniq("prefs");
    const email = `${id}@example.com`;
    await putContact(id, { email, phone: "+48601222333" });
    await applyConsentChange(db, {
      channel: "email",
      address: email,
      action: "topic_opt_out",
      topic: "news",
      source: "link",
    });
    const res = await get(id);
    expect(res.status).toBe(200);
    const prefs = S.Preferences.parse(await res.json());
    expect(prefs.channels.email).toEqual({
      address: email,
      status: "subscribed",
      pausedUntil: null,
      topics: { news: false, promos: false, mailonly: true },
      frequency: null,
      frequencyOptions: [],
    });
    expect(prefs.channels.sms).toMatchObject({
      address: "+48601222333",
      status: "subscribed",
      topics: { news: true, promos: false },
    });
    expect(prefs.channels.whatsapp!.topics).toEqual({ news: true });
  });

  it("answers 404 for an unknown contact", async () => {
    await expectError(await get("nobody-here"), 404, "contact_not_found");
    await expectError(await patch("nobody-here", { channels: {} }), 404, "contact_not_found");
  });

  it("changes preferences through the consent core with source api and the key as actor", async () => {
    const id = uniq("patch");
    const email = `${id}@example.com`;
    await putContact(id, { email, phone: "+48601222444" });
    const until = new Date(Date.now() + 30 * 86400_000).toISOString();
    const res = await patch(id, {
      channels: {
        email: { topics: { promos: true, news: false } },
        sms: { status: "unsubscribed" },
        whatsapp: { pausedUntil: until },
      },
      reason: { code: "too_frequent" },
      campaign: "spring-sale",
    });
    expect(res.status).toBe(200);
    const body = S.PreferencesPatchResult.parse(await res.json());
    expect(body.channels.email!.topics).toMatchObject({ promos: true, news: false });
    expect(body.channels.sms!.status).toBe("unsubscribed");
    expect(body.channels.whatsapp!.pausedUntil).toBe(until);
    expect(body.confirmations).toEqual([]);
    const smsLedger = await ledgerRows("sms", "+48601222444");
    expect(smsLedger).toHaveLength(1);
    expect(smsLedger[0]).toMatchObject({
      action: "unsubscribe",
      source: "api",
      actor_type: "api_key",
      actor_id: keyId,
      reason_code: "too_frequent",
      campaign: "spring-sale",
      ip: "203.0.113.7",
      user_agent: "api-test/1",
    });
    // Resume.
    const resumed = await patch(id, { channels: { whatsapp: { pausedUntil: null } } });
    expect(
      (await json<{ channels: { whatsapp: { pausedUntil: null } } }>(resumed)).channels.whatsapp
        .pausedUntil,
    ).toBeNull();
  });

  it("re-subscribing an unsubscribed channel starts double opt-in and leaves it unsubscribed", async () => {
    const id = uniq("resub");
    const email = `${id}@example.com`;
    await putContact(id, { email });
    await applyConsentChange(db, {
      channel: "email",
      address: email,
      action: "unsubscribe",
      source: "link",
    });
    const before = await db
      .selectFrom("outbox")
      .select(sql<number>`count(*)`.as("n"))
      .executeTakeFirstOrThrow();
    const res = await patch(id, { channels: { email: { status: "subscribed" } } });
    expect(res.status).toBe(200);
    const body = S.PreferencesPatchResult.parse(await res.json());
    expect(body.channels.email!.status).toBe("unsubscribed");
    expect(body.confirmations).toEqual([
      { channel: "email", requestId: expect.any(String), status: "sent" },
    ]);
    const request = await db
      .selectFrom("double_opt_in_requests")
      .selectAll()
      .where("id", "=", body.confirmations[0]!.requestId)
      .executeTakeFirstOrThrow();
    expect(request).toMatchObject({
      channel: "email",
      address: email,
      source: "api",
      status: "pending",
    });
    const after = await db
      .selectFrom("outbox")
      .select(sql<number>`count(*)`.as("n"))
      .executeTakeFirstOrThrow();
    expect(Number(after.n) - Number(before.n)).toBe(1);
    expect(
      (await decideSend(db, { channel: "email", address: email, category: "marketing" })).reason,
    ).toBe("unsubscribed");
  });

  it("answers 422 for a channel without an address or an unknown topic, 409 for pausing an unsubscribed channel, 400 for a past pause", async () => {
    const id = uniq("bad");
    const email = `${id}@example.com`;
    await putContact(id, { email });
    await expectError(
      await patch(id, { channels: { sms: { status: "unsubscribed" } } }),
      422,
      "no_address",
    );
    await expectError(
      await patch(id, { channels: { email: { topics: { nosuch: true } } } }),
      422,
      "unknown_topic",
    );
    await expectError(
      await patch(id, { channels: { email: { pausedUntil: "2001-01-01T00:00:00Z" } } }),
      400,
      "invalid_request",
    );
    await expectError(
      await patch(id, { channels: { email: { status: "pending" } } }),
      400,
      "invalid_request",
    );
    await patch(id, { channels: { email: { status: "unsubscribed" } } });
    const future = new Date(Date.now() + 86400_000).toISOString();
    await expectError(
      await patch(id, { channels: { email: { pausedUntil: future } } }),
      409,
      "channel_unsubscribed",
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe("POST /api/v1/links and /api/v1/links/batch", () => {
  const links = (body: unknown) => call(linksRoute, { method: "POST", key, body });

  it("signs preference and unsubscribe links and gives email the List-Unsubscribe headers", async () => {
    const id = uniq("links");
    const created = S.Contact.parse(
      await (await putContact(id, { email: `${id}@example.com` })).json(),
    );
    const res = await links({
      externalId: id,
      channel: "email",
      topic: "news",
      campaign: "c-2027-01",
    });
    expect(res.status).toBe(200);
    const body = S.Links.parse(await res.json());
    expect(body.shortUrl).toBeUndefined();
    const unsub = body.unsubscribeUrl.split("/u/")[1]!;
    const prefs = body.preferencesUrl.split("/p/")[1]!;
    const u = await verifyLinkToken(unsub, "unsubscribe");
    const p = await verifyLinkToken(prefs, "preferences");
    expect(u).toMatchObject({
      ok: true,
      claims: { sub: created.id, ch: "email", tp: "news", cp: "c-2027-01", pur: "unsubscribe" },
    });
    expect(p).toMatchObject({
      ok: true,
      claims: { sub: created.id, ch: "email", cp: "c-2027-01", pur: "preferences" },
    });
    expect(body.unsubscribeUrl).not.toContain("example.com/"); // no address in URLs
    expect(body.headers).toEqual({
      "List-Unsubscribe": `<${body.unsubscribeUrl}>`,
      "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    });
  });

  it("adds a mailto: with a per-link code to List-Unsubscribe when UNSUBSCRIBE_MAILTO is set", async () => {
    const id = uniq("mailto");
    await putContact(id, { email: `${id}@example.com` });
    process.env.UNSUBSCRIBE_MAILTO = "unsubscribe@sender.example";
    resetEnvForTests();
    try {
      const body = S.Links.parse(await (await links({ externalId: id, channel: "email" })).json());
      expect(body.headers!["List-Unsubscribe"]).toMatch(
        new RegExp(
          `^<${body.unsubscribeUrl.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}>, <mailto:unsubscribe\\+[a-z2-7]{26}@sender\\.example\\?subject=unsubscribe>$`,
        ),
      );
    } finally {
      delete process.env.UNSUBSCRIBE_MAILTO;
      resetEnvForTests();
    }
  });

  it("gives SMS and WhatsApp a short link to the unsubscribe page", async () => {
    const id = uniq("smslink");
    await putContact(id, { phone: "+48601333444" });
    for (const channel of ["sms", "whatsapp"]) {
      const body = S.Links.parse(await (await links({ externalId: id, channel })).json());
      expect(body.headers).toBeUndefined();
      const code = body.shortUrl!.split("/s/")[1]!;
      expect(code.length).toBeGreaterThanOrEqual(8);
      const resolved = await resolveShortLink(db, code);
      expect(resolved).toEqual({ ok: true, target: `/u/${body.unsubscribeUrl.split("/u/")[1]}` });
    }
  });

  it("answers 404 for an unknown contact and 422 for an unknown topic or a missing address", async () => {
    const id = uniq("links-bad");
    await putContact(id, { email: `${id}@example.com`, phone: "+48601333999" });
    const emailOnly = uniq("links-bad");
    await putContact(emailOnly, { email: `${emailOnly}@example.com` });
    await expectError(
      await links({ externalId: "no-such-contact", channel: "email" }),
      404,
      "contact_not_found",
    );
    await expectError(
      await links({ externalId: id, channel: "email", topic: "nosuch" }),
      422,
      "unknown_topic",
    );
    await expectError(
      await links({ externalId: id, channel: "whatsapp", topic: "promos" }),
      422,
      "unknown_topic",
    );
    await expectError(await links({ externalId: emailOnly, channel: "sms" }), 422, "no_address");
    await expectError(
      await links({ externalId: id, channel: "email", campaign: "has space" }),
      400,
      "invalid_request",
    );
  });

  it("makes links for 10,000 recipients in one call, in request order, with per-recipient errors", async () => {
    const prefix = uniq("batch");
    const ids = Array.from({ length: 9_998 }, (_, i) => `${prefix}-${i}`);
    for (let i = 0; i < ids.length; i += 2000) {
      await db
        .insertInto("contacts")
        .values(
          ids
            .slice(i, i + 2000)
            .map((e) => ({ external_id: e, email: `${e}@example.com`, phone: "+48601444555" })),
        )
        .execute();
    }
    await db
      .insertInto("contacts")
      .values({ external_id: `${prefix}-nomail`, phone: "+48601444556" })
      .execute();
    const request = [...ids.slice(0, 5000), "missing-one", ...ids.slice(5000), `${prefix}-nomail`];
    expect(request).toHaveLength(10_000);
    const started = performance.now();
    const res = await call(linksBatchRoute, {
      method: "POST",
      key,
      body: { channel: "email", campaign: "big-send", externalIds: request },
    });
    const ms = performance.now() - started;
    expect(res.status).toBe(200);
    const body = S.LinksBatchResult.parse(await res.json());
    expect(body.results.map((r) => r.externalId)).toEqual(request);
    expect(body.results[5000]).toEqual({
      externalId: "missing-one",
      error: { code: "contact_not_found", message: expect.any(String) },
    });
    expect(body.results[9999]).toMatchObject({ error: { code: "no_address" } });
    const first = body.results[0] as { unsubscribeUrl: string; headers: Record<string, string> };
    expect(first.headers["List-Unsubscribe-Post"]).toBe("List-Unsubscribe=One-Click");
    const claims = await verifyLinkToken(first.unsubscribeUrl.split("/u/")[1]!, "unsubscribe");
    expect(claims).toMatchObject({ ok: true, claims: { cp: "big-send" } });
    console.log(`links batch of 10,000 on ${t.kind}: ${Math.round(ms)} ms`);

    // SMS: short links for a smaller batch.
    const sms = await call(linksBatchRoute, {
      method: "POST",
      key,
      body: { channel: "sms", externalIds: ids.slice(0, 50) },
    });
    const smsBody = S.LinksBatchResult.parse(await sms.json());
    const codes = smsBody.results.map((r) => (r as { shortUrl: string }).shortUrl.split("/s/")[1]);
    expect(new Set(codes).size).toBe(50);
    await expectError(
      await call(linksBatchRoute, {
        method: "POST",
        key,
        body: { channel: "email", externalIds: [...request, "one-too-many"] },
      }),
      400,
      "invalid_request",
    );
  });
});

describe("the links batch's JSON text", () => {
  // The route writes its answer as text straight from the tokens (createLinksBatchJson); it must
  // be exactly JSON.stringify of createLinksBatch's entries: the same members, order and values.
  it("is JSON.stringify of the entries: email (with and without mailto, topic, errors) and SMS", async () => {
    const prefix = uniq("batchjson");
    const ids = Array.from({ length: 30 }, (_, i) => `${prefix}-${i}`);
    await db
      .insertInto("contacts")
      .values([
        ...ids.map((e, i) => ({
          external_id: e,
          email: i % 5 === 4 ? null : i % 3 ? `${e}@example.com` : ` Mixed.${i}@Example.COM `,
          phone: i % 2 ? "+48601444555" : null,
        })),
        { external_id: `${prefix}-"quoted\\`, email: `${prefix}-q@example.com` },
      ])
      .execute();
    const request = [...ids, "missing", ids[0]!, `${prefix}-"quoted\\`];
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-05-06T07:08:09Z"));
    try {
      for (const mailto of [null, "unsubscribe@sender.example"]) {
        if (mailto) process.env.UNSUBSCRIBE_MAILTO = mailto;
        resetEnvForTests();
        for (const o of [
          { channel: "email" as const, campaign: "c/1:x", topic: "news" },
          { channel: "email" as const },
        ]) {
          const text = (await createLinksBatchJson(db, request, o)).toString("utf8");
          const entries = await createLinksBatch(db, request, o);
          expect(text).toBe(JSON.stringify({ results: entries }));
        }
        delete process.env.UNSUBSCRIBE_MAILTO;
        resetEnvForTests();
      }
      // SMS short codes are random per call: compared with the codes blanked out.
      const blank = (s: string) => s.replace(/\/s\/[A-Za-z0-9_-]+/g, "/s/CODE");
      const text = (
        await createLinksBatchJson(db, request, { channel: "sms", campaign: "s" })
      ).toString("utf8");
      const entries = await createLinksBatch(db, request, { channel: "sms", campaign: "s" });
      expect(blank(text)).toBe(blank(JSON.stringify({ results: entries })));
      expect(text).toContain('"shortUrl":');
    } finally {
      vi.useRealTimers();
      delete process.env.UNSUBSCRIBE_MAILTO;
      resetEnvForTests();
    }
  });
});

describe("the links batch over several statements", () => {
  // batchLinks reads its contacts 2,000 at a time (the next statement runs while this slice is
  // signed) and reuses one token buffer from batch to batch: contacts in every slice, missing
  // ones, ones without an address and repeats across slices must come out as they would from
  // one statement, and two batches at once must not share a buffer.
  it("answers as one statement would, with contacts in every slice and two batches at once", async () => {
    const prefix = uniq("batchslices");
    const n = 4_500;
    const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
    await db
      .insertInto("contacts")
      .values(
        ids.map((e, i) => ({ external_id: e, email: i % 997 === 5 ? null : `${e}@example.com` })),
      )
      .execute();
    const stored = await db
      .selectFrom("contacts")
      .select(["id", "external_id"])
      .where("external_id", "like", `${prefix}-%`)
      .execute();
    const idOf = new Map(stored.map((r) => [r.external_id!, r.id]));
    // Distinct ids in request order: missing ones and repeats in the first, middle and last slice.
    const request = [...ids];
    request.splice(10, 0, `${prefix}-missing-a`);
    request.splice(2_500, 0, ids[3]!, `${prefix}-missing-b`);
    request.push(ids[2_001]!, `${prefix}-missing-c`, ids[4_499]!);
    const other = ids.slice(1_000, 3_500).reverse();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-05-06T07:08:09Z"));
    try {
      const o = { channel: "email" as const, campaign: "slices" };
      const [a, b] = await Promise.all([
        createLinksBatchJson(db, request, o),
        createLinksBatchJson(db, other, o),
      ]);
      const again = await createLinksBatchJson(db, request, o);
      const entries = await createLinksBatch(db, request, o);
      const text = JSON.stringify({ results: entries });
      expect(a.toString("utf8")).toBe(text);
      expect(again.toString("utf8")).toBe(text);
      expect(b.toString("utf8")).toBe(
        JSON.stringify({ results: await createLinksBatch(db, other, o) }),
      );
      // Each entry's tokens are the ones its own contact's single link carries.
      const sample = [0, 9, 10, 1_999, 2_000, 2_001, 2_500, 2_501, 4_000, request.length - 1];
      for (const k of sample) {
        const externalId = request[k]!;
        const entry = entries[k]!;
        expect(entry.externalId).toBe(externalId);
        const contactId = idOf.get(externalId);
        if (!contactId) {
          expect(entry).toMatchObject({ error: { code: "contact_not_found" } });
          continue;
        }
        const n = Number(externalId.slice(prefix.length + 1));
        if (n % 997 === 5) {
          expect(entry).toMatchObject({ error: { code: "no_address" } });
          continue;
        }
        const pref = signLinkTokenSync({
          contactId,
          channel: "email",
          purpose: "preferences",
          campaign: "slices",
        });
        expect(entry).toMatchObject({ preferencesUrl: expect.stringContaining(`/p/${pref}`) });
        const unsub = signLinkTokenSync({
          contactId,
          channel: "email",
          purpose: "unsubscribe",
          campaign: "slices",
          addressHash: addressKey(`${externalId}@example.com`),
        });
        expect(entry).toMatchObject({ unsubscribeUrl: expect.stringContaining(`/u/${unsub}`) });
      }
      expect(entries.filter((e) => "error" in e && e.error.code === "no_address")).toHaveLength(
        request.filter((e) => idOf.has(e) && Number(e.slice(prefix.length + 1)) % 997 === 5).length,
      );
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("the links batch's statement and tokens", () => {
  // batchLinks reads every contact in one statement whose answer is one text value (a line per
  // contact, the address raw or as JSON): addresses with a newline, empty or missing must come
  // back as they are stored, and each link's tokens must be exactly what signLinkTokenSync signs
  // for that contact (the batch writes them with its own in-place signer).
  it("reads odd addresses back exactly and signs the tokens a single link would carry", async () => {
    const prefix = uniq("batchodd");
    const rows = [
      { external_id: `${prefix}-plain`, email: `${prefix}@example.com`, phone: "+48601444555" },
      { external_id: `${prefix}-newline`, email: `a\nb${prefix}@example.com`, phone: null },
      { external_id: `${prefix}-empty`, email: "", phone: "" },
      { external_id: `${prefix}-none`, email: null, phone: null },
      { external_id: `${prefix} spaced "q"`, email: `"quoted local"@example.com`, phone: null },
      { external_id: `${prefix}-é`, email: `${prefix}@Bücher.example`, phone: null },
    ];
    await db.insertInto("contacts").values(rows).execute();
    const stored = await db
      .selectFrom("contacts")
      .select(["id", "external_id"])
      .where("external_id", "like", `${prefix}%`)
      .execute();
    const idOf = new Map(stored.map((r) => [r.external_id!, r.id]));
    const request = rows.map((r) => r.external_id);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-05-06T07:08:09Z"));
    try {
      const entries = await createLinksBatch(db, [...request, request[0]!], {
        channel: "email",
        campaign: "odd",
        topic: null,
      });
      expect(entries.map((e) => e.externalId)).toEqual([...request, request[0]]);
      expect(entries[2]).toMatchObject({ error: { code: "no_address" } });
      expect(entries[3]).toMatchObject({ error: { code: "no_address" } });
      expect(entries[6]).toEqual(entries[0]);
      const now = new Date();
      for (const k of [0, 1, 4, 5]) {
        const e = entries[k] as { preferencesUrl: string; unsubscribeUrl: string };
        const row = rows[k]!;
        const contactId = idOf.get(row.external_id)!;
        const normalized = normalizeEmail(row.email!);
        const addressHash = normalized.ok ? addressKey(normalized.address) : null;
        if (k === 1) expect(addressHash).toBeNull(); // a newline never normalizes
        if (k === 0 || k === 5) expect(addressHash).not.toBeNull();
        const common = { contactId, channel: "email" as const, campaign: "odd", now };
        expect(e.preferencesUrl.split("/p/")[1]).toBe(
          signLinkTokenSync({ ...common, purpose: "preferences" }),
        );
        expect(e.unsubscribeUrl.split("/u/")[1]).toBe(
          signLinkTokenSync({ ...common, purpose: "unsubscribe", addressHash }),
        );
      }
    } finally {
      vi.useRealTimers();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe("POST /api/v1/check", () => {
  const check = (body: unknown) => call(checkRoute, { method: "POST", key, body });

  it("matches decideSend for every reason code, in request order", async () => {
    const p = uniq("chk");
    const a = {
      unsubscribed: `${p}-unsub@example.com`,
      pending: `${p}-pending@example.com`,
      paused: `${p}-paused@example.com`,
      topicOut: `${p}-topicout@example.com`,
      optedIn: `${p}-optedin@example.com`,
      never: `${p}-never@example.com`,
    };
    await applyConsentChange(db, {
      channel: "email",
      address: a.unsubscribed,
      action: "unsubscribe",
      source: "link",
    });
    await applyConsentChange(db, {
      channel: "email",
      address: a.pending,
      action: "signup_pending",
      source: "api",
    });
    await applyConsentChange(db, {
      channel: "email",
      address: a.paused,
      action: "pause",
      source: "preference_page",
      pausedUntil: new Date(Date.now() + 86400_000),
    });
    await applyConsentChange(db, {
      channel: "email",
      address: a.topicOut,
      action: "topic_opt_out",
      topic: "news",
      source: "link",
    });
    await applyConsentChange(db, {
      channel: "email",
      address: a.optedIn,
      action: "topic_opt_in",
      topic: "promos",
      source: "preference_page",
    });
    const recipients = [...Object.values(a), "not an address", a.unsubscribed.toUpperCase()];

    const seen = new Set<string>();
    for (const topic of [undefined, "news", "promos"]) {
      for (const category of ["marketing", "transactional"] as const) {
        const res = await check({ channel: "email", topic, category, recipients });
        expect(res.status).toBe(200);
        const { results } = S.CheckResult.parse(await res.json());
        expect(results.map((r) => r.address)).toEqual(recipients);
        for (const [i, r] of results.entries()) {
          const expected = await decideSend(db, {
            channel: "email",
            address: recipients[i]!,
            topic,
            category,
          });
          expect(r).toEqual(expected);
          if (r.reason) seen.add(r.reason);
        }
      }
    }
    expect([...seen].sort()).toEqual(
      [
        "invalid_address",
        "not_opted_in",
        "paused",
        "pending_confirmation",
        "topic_unsubscribed",
        "unsubscribed",
      ].sort(),
    );
  });

  it("answers 10,000 recipients in one call, in order", async () => {
    const p = uniq("tenk");
    const recipients = Array.from({ length: 10_000 }, (_, i) => `${p}-${i}@example.com`);
    await applyConsentChange(db, {
      channel: "email",
      address: recipients[1234]!,
      action: "unsubscribe",
      source: "link",
    });
    await applyConsentChange(db, {
      channel: "email",
      address: recipients[9999]!,
      action: "unsubscribe",
      source: "link",
    });
    const started = performance.now();
    const res = await check({ channel: "email", category: "marketing", recipients });
    const ms = performance.now() - started;
    expect(res.status).toBe(200);
    const { results } = S.CheckResult.parse(await res.json());
    expect(results).toHaveLength(10_000);
    expect(results.map((r) => r.address)).toEqual(recipients);
    expect(results.filter((r) => !r.allowed).map((r) => r.address)).toEqual([
      recipients[1234],
      recipients[9999],
    ]);
    console.log(`check of 10,000 on ${t.kind}: ${Math.round(ms)} ms`);
    await expectError(
      await check({
        channel: "email",
        category: "marketing",
        recipients: [...recipients, "x@example.com"],
      }),
      400,
      "invalid_request",
    );
  });

  it("answers 422 for an unknown topic", async () => {
    await expectError(
      await check({
        channel: "email",
        topic: "nosuch",
        category: "marketing",
        recipients: ["a@example.com"],
      }),
      422,
      "unknown_topic",
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe("POST /api/v1/suppressions and GET /api/v1/suppressions.csv", () => {
  const suppress = (body: unknown) => call(suppressionsRoute, { method: "POST", key, body });

  it("suppresses on one channel or on all, counts repeats, lists invalid addresses, records the key", async () => {
    const p = uniq("supp");
    const email = `${p}@example.com`;
    const res = await suppress({
      channel: "all",
      addresses: [email, "+48601555666", "bogus", email.toUpperCase()],
      note: "bounced",
      reason: "never_signed_up",
      campaign: "camp-x",
    });
    expect(res.status).toBe(200);
    expect(S.SuppressionsResult.parse(await res.json())).toEqual({
      suppressed: 3,
      alreadySuppressed: 0,
      invalid: [{ address: "bogus", reason: "invalid_phone" }],
    });
    for (const [channel, address] of [
      ["email", email],
      ["sms", "+48601555666"],
      ["whatsapp", "+48601555666"],
    ] as const) {
      expect((await decideSend(db, { channel, address, category: "marketing" })).reason).toBe(
        "unsubscribed",
      );
      const rows = await ledgerRows(channel, address);
      expect(rows).toEqual([
        expect.objectContaining({
          action: "unsubscribe",
          source: "api",
          actor_type: "api_key",
          actor_id: keyId,
          // The caller's note is a note (the export's `note` column), not the person's words.
          reason_text: null,
          details: { note: "bounced" },
          reason_code: "never_signed_up",
          campaign: "camp-x",
        }),
      ]);
    }
    const again = await suppress({ channel: "email", addresses: [email] });
    expect(await again.json()).toEqual({ suppressed: 0, alreadySuppressed: 1, invalid: [] });
    expect(await ledgerRows("email", email)).toHaveLength(1);
  });

  it("suppresses 1,000 addresses in one call with the consent rules of one change each", async () => {
    const p = uniq("bulkapi");
    const addresses = Array.from({ length: 1_000 }, (_, i) => `${p}-${i}@Example.com`);
    // Three known addresses first: one pending, one paused, one already unsubscribed.
    await applyConsentChange(db, {
      channel: "email",
      address: addresses[0]!,
      action: "signup_pending",
      source: "api",
    });
    await applyConsentChange(db, {
      channel: "email",
      address: addresses[1]!,
      action: "pause",
      pausedUntil: new Date(Date.now() + 86_400_000),
      source: "preference_page",
    });
    await applyConsentChange(db, {
      channel: "email",
      address: addresses[2]!,
      action: "unsubscribe",
      source: "link",
    });
    const res = await suppress({ channel: "email", addresses, note: "list cleanup" });
    expect(await json(res)).toEqual({ suppressed: 999, alreadySuppressed: 1, invalid: [] });
    for (const i of [0, 1, 3, 999]) {
      const address = addresses[i]!.toLowerCase();
      expect(
        (await decideSend(db, { channel: "email", address, category: "marketing" })).reason,
      ).toBe("unsubscribed");
      const rows = await ledgerRows("email", address);
      expect(rows.at(-1)).toEqual(
        expect.objectContaining({
          action: "unsubscribe",
          source: "api",
          address,
          actor_type: "api_key",
          actor_id: keyId,
          // The caller's note is an operator's note, not the recipient's words.
          reason_text: null,
          details: expect.objectContaining({ note: "list cleanup" }),
          user_agent: "api-test/1",
        }),
      );
      const state = await db
        .selectFrom("channel_consent")
        .select(["status", "paused_until", "last_ledger_id"])
        .where("channel", "=", "email")
        .where("address_hash", "=", addressKey(address))
        .executeTakeFirstOrThrow();
      expect(state).toEqual({
        status: "unsubscribed",
        paused_until: null,
        last_ledger_id: rows.at(-1)!.id,
      });
    }
    // The ledger rows were hashed in Node before the call's transaction (decisions/0117): the new
    // addresses' rows start their chains as given, the pending and the paused address's rows
    // were chained by the trigger to the rows before them, and the whole ledger verifies.
    expect(await ledgerRows("email", addresses[0]!.toLowerCase())).toHaveLength(2);
    expect(await verifyLedgerChain(db)).toMatchObject({ ok: true, problemCount: 0 });
    // The one unsubscribed before keeps its single ledger row; a repeat call writes nothing.
    expect(await ledgerRows("email", addresses[2]!.toLowerCase())).toHaveLength(1);
    const again = await suppress({ channel: "email", addresses });
    expect(await json(again)).toEqual({ suppressed: 0, alreadySuppressed: 1_000, invalid: [] });
    expect(await ledgerRows("email", addresses[3]!.toLowerCase())).toHaveLength(1);
  });

  it("answers 400 for a bad channel or too many addresses and 422 for an unknown reason", async () => {
    await expectError(
      await suppress({ channel: "fax", addresses: ["a@example.com"] }),
      400,
      "invalid_request",
    );
    await expectError(
      await suppress({
        channel: "email",
        addresses: Array.from({ length: 1001 }, (_, i) => `${i}@example.com`),
      }),
      400,
      "invalid_request",
    );
    await expectError(
      await suppress({ channel: "email", addresses: ["a@example.com"], reason: "nosuch" }),
      422,
      "unknown_reason",
    );
  });

  it("exports suppressed addresses as CSV, filtered by channel, source and date", async () => {
    const p = uniq("export");
    await suppress({
      channel: "email",
      addresses: [`${p}-1@example.com`, `${p}-2@example.com`],
      reason: "too_frequent",
      campaign: "exp-camp",
    });
    await applyConsentChange(db, {
      channel: "sms",
      address: "+48601666777",
      action: "unsubscribe",
      source: "sms_keyword",
    });
    const res = await call(exportRoute, { method: "GET", key, path: "/api/v1/suppressions.csv" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/csv");
    type CsvRow = Record<
      "address" | "channel" | "date" | "source" | "reason" | "reason_text" | "campaign" | "note",
      string
    >;
    const rows = parse(await res.text(), { columns: true }) as CsvRow[];
    // The columns of Admin → Exports (which adds address_ascii, the domain in ASCII, last).
    expect(Object.keys(rows[0]!)).toEqual([
      "address",
      "channel",
      "date",
      "source",
      "reason",
      "reason_text",
      "campaign",
      "note",
    ]);
    const mine = rows.filter((r) => r.address.startsWith(p));
    expect(mine).toHaveLength(2);
    expect(mine[0]).toMatchObject({
      channel: "email",
      source: "api",
      reason: "too_frequent",
      campaign: "exp-camp",
    });
    expect(new Date(mine[0]!.date).getTime()).toBeGreaterThan(Date.now() - 60_000);
    // Every suppressed address once.
    const count = await db
      .selectFrom("channel_consent")
      .select(sql<number>`count(*)`.as("n"))
      .where("status", "=", "unsubscribed")
      .executeTakeFirstOrThrow();
    expect(rows).toHaveLength(Number(count.n));

    const smsOnly = parse(
      await (
        await call(exportRoute, {
          method: "GET",
          key,
          path: "/api/v1/suppressions.csv?channel=sms&source=sms_keyword",
        })
      ).text(),
      { columns: true },
    ) as CsvRow[];
    expect(smsOnly.length).toBeGreaterThan(0);
    expect(smsOnly.every((r) => r.channel === "sms" && r.source === "sms_keyword")).toBe(true);
    const future = new Date(Date.now() + 3600_000).toISOString();
    const none = await (
      await call(exportRoute, {
        method: "GET",
        key,
        path: `/api/v1/suppressions.csv?since=${encodeURIComponent(future)}`,
      })
    ).text();
    expect(none.trim()).toBe("address,channel,date,source,reason,reason_text,campaign,note");
    await expectError(
      await call(exportRoute, { method: "GET", key, path: "/api/v1/suppressions.csv?channel=fax" }),
      400,
      "invalid_request",
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe("POST /api/v1/campaigns", () => {
  const post = (body: unknown) => call(campaignsRoute, { method: "POST", key, body });

  it("registers (201) and updates (200) a campaign by key", async () => {
    const k = uniq("camp");
    const created = await post({
      key: k,
      name: "Spring",
      channel: "email",
      topic: "news",
      sentCount: 100,
    });
    expect(created.status).toBe(201);
    expect(S.Campaign.parse(await created.json())).toMatchObject({
      key: k,
      name: "Spring",
      channel: "email",
      topic: "news",
      sentCount: 100,
    });
    const updated = await post({ key: k, name: "Spring sale", channel: "email", sentCount: 2500 });
    expect(updated.status).toBe(200);
    expect(await updated.json()).toMatchObject({
      name: "Spring sale",
      topic: null,
      sentCount: 2500,
    });
  });

  it("answers 409 when a key moves to another channel, 422 for an unknown topic, 400 for a negative count", async () => {
    const k = uniq("camp");
    await post({ key: k, name: "x", channel: "email", sentCount: 1 });
    await expectError(
      await post({ key: k, name: "x", channel: "sms", sentCount: 1 }),
      409,
      "campaign_channel_conflict",
    );
    await expectError(
      await post({ key: uniq("camp"), name: "x", channel: "email", topic: "nosuch", sentCount: 1 }),
      422,
      "unknown_topic",
    );
    await expectError(
      await post({ key: uniq("camp"), name: "x", channel: "email", sentCount: -1 }),
      400,
      "invalid_request",
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe("POST /api/v1/subscriptions", () => {
  const post = (body: unknown) => call(subscriptionsRoute, { method: "POST", key, body });

  it("starts double opt-in for a new address and never subscribes directly", async () => {
    const email = `${uniq("sub")}@example.com`;
    const res = await post({ channel: "email", address: email, topics: ["promos"], locale: "pl" });
    expect(res.status).toBe(202);
    const body = S.SubscriptionResult.parse(await res.json());
    expect(body.status).toBe("sent");
    expect(
      (await decideSend(db, { channel: "email", address: email, category: "marketing" })).reason,
    ).toBe("pending_confirmation");
    const mail = await db
      .selectFrom("outbox")
      .selectAll()
      .where("kind", "=", "email")
      .where("recipient", "=", email)
      .execute();
    expect(mail).toHaveLength(1);
  });

  it("texts an unsubscribed SMS number nothing (it must send START); a new number gets a short link", async () => {
    const phone = "+48601777888";
    await applyConsentChange(db, {
      channel: "sms",
      address: phone,
      action: "unsubscribe",
      source: "sms_keyword",
    });
    const res = await post({ channel: "sms", address: phone });
    expect(res.status).toBe(202);
    expect(await json(res)).toMatchObject({ status: "keyword_required", keyword: "START" });
    expect(
      (await decideSend(db, { channel: "sms", address: phone, category: "marketing" })).reason,
    ).toBe("unsubscribed");
    const smsTo = (to: string) =>
      db
        .selectFrom("outbox")
        .selectAll()
        .where("kind", "=", "sms")
        .where("recipient", "=", to)
        .execute();
    expect(await smsTo(phone)).toHaveLength(0);

    const fresh = "+48601777889";
    expect((await post({ channel: "sms", address: fresh })).status).toBe(202);
    const sms = await smsTo(fresh);
    expect(sms).toHaveLength(1);
    expect(String(sms[0]!.payload.body)).toMatch(/\/s\/[A-Za-z0-9_-]{8,}/);
  });

  it("answers 400 for an invalid address and 422 for an unknown topic", async () => {
    await expectError(await post({ channel: "email", address: "nope" }), 400, "invalid_address");
    await expectError(
      await post({ channel: "email", address: `${uniq("s")}@example.com`, topics: ["nosuch"] }),
      422,
      "unknown_topic",
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe("GET /api/v1/events", () => {
  const events = (query = "") =>
    call(eventsRoute, { method: "GET", key, path: `/api/v1/events${query}` });

  type Event = z.infer<typeof S.ConsentEvent>;
  /** Every event after `after`, page by page. */
  async function readFeed(after: string | null, limit = 1000) {
    const all: Event[] = [];
    let cursor = after;
    for (let i = 0; i < 10_000; i++) {
      const res = await events(`?limit=${limit}${cursor ? `&after=${cursor}` : ""}`);
      const body = await res.json();
      expect(res.status, JSON.stringify(body)).toBe(200);
      const page = S.EventsResult.parse(body);
      if (page.hasMore) expect(page.events).toHaveLength(limit);
      all.push(...page.events);
      cursor = page.nextCursor;
      if (!page.hasMore) break;
    }
    return { events: all, cursor };
  }
  /** The feed until it shows `done` (it holds back events behind other files' transactions). */
  const feedUntil = (after: string | null, done: (e: Event[]) => boolean, limit = 1000) =>
    readUntil(
      () => readFeed(after, limit),
      (read) => done(read.events),
    );

  it("pages through the ledger in a stable order with a cursor", async () => {
    for (let i = 0; i < 9; i++) {
      await applyConsentChange(db, {
        channel: "email",
        address: `${uniq("page")}@example.com`,
        action: "unsubscribe",
        source: "api",
      });
    }
    const ledger = (await db.selectFrom("consent_ledger").select("id").execute())
      .map((r) => r.id)
      .sort((a, b) => a - b);
    const { events: all, cursor } = await feedUntil(null, (e) => e.length >= ledger.length, 7);
    expect(cursor).not.toBeNull();
    expect(all.map((e) => Number(e.id)).sort((a, b) => a - b)).toEqual(ledger);
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);

    // A new change shows up after the last cursor, and only it.
    const email = `${uniq("evt")}@example.com`;
    const contact = S.Contact.parse(await (await putContact(uniq("evt"), { email })).json());
    await applyConsentChange(db, {
      channel: "email",
      address: email,
      action: "unsubscribe",
      source: "link",
      campaign: "evt-camp",
      reasonCode: "too_frequent",
      contactId: contact.id,
      ip: "198.51.100.1",
    });
    const next = await feedUntil(cursor, (e) => e.length > 0);
    expect(next.events).toEqual([
      expect.objectContaining({
        type: "consent.unsubscribe",
        channel: "email",
        address: email,
        action: "unsubscribe",
        source: "link",
        campaign: "evt-camp",
        reasonCode: "too_frequent",
        externalId: contact.externalId,
      }),
    ]);
    expect(JSON.stringify(next)).not.toContain("198.51.100.1"); // no IPs leave Heed
  });

  it("answers 400 for a bad cursor or limit", async () => {
    await expectError(await events("?after=12"), 400, "invalid_request");
    await expectError(await events("?limit=0"), 400, "invalid_request");
    await expectError(await events("?limit=5000"), 400, "invalid_request");
    await expectError(await events("?unknown=1"), 400, "invalid_request");
  });

  it.runIf(process.env.HEED_TEST_DB === "postgres")(
    "never skips an event whose transaction commits after a later one (PostgreSQL)",
    async () => {
      // Start at the end of the feed.
      const { cursor } = await feedUntil(null, () => true);
      const q = (c: string | null) => (c ? `?after=${c}` : "");
      const slow = `${uniq("slow")}@example.com`;
      const fast = `${uniq("fast")}@example.com`;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let inserted!: () => void;
      const insertedP = new Promise<void>((r) => (inserted = r));
      const slowTx = db.transaction().execute(async (trx) => {
        await applyConsentChange(trx, {
          channel: "email",
          address: slow,
          action: "unsubscribe",
          source: "link",
        });
        inserted();
        await gate;
      });
      await insertedP;
      await applyConsentChange(db, {
        channel: "email",
        address: fast,
        action: "unsubscribe",
        source: "link",
      });
      const during = S.EventsResult.parse(await (await events(q(cursor))).json());
      expect(during.events.map((e) => e.address)).not.toContain(fast);
      release();
      await slowTx;
      const after = await feedUntil(during.nextCursor, (e) => e.length >= 2);
      expect(after.events.map((e) => e.address)).toEqual([slow, fast]);
    },
  );
});
