import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addressKey, applyConsentChange, decideSend } from "~/consent/consent.server";
import {
  confirmDoubleOptIn,
  DOUBLE_OPT_IN_RATE_LIMIT,
  getDoubleOptInRequest,
  restartDoubleOptIn,
  startDoubleOptIn,
} from "~/consent/double-opt-in.server";
import type { Db } from "~/db/db.server";
import { resolveShortLink } from "~/links/short-links.server";
import { verifyLinkToken } from "~/links/tokens.server";
import { LOCALES } from "~/i18n/config";
import { resources } from "~/i18n/resources";
import { messageHash } from "~/mail/templates.server";
import { DEFAULT_BRANDING, saveBranding } from "~/settings/settings.server";
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
        key: "newsletter",
        channels: ["email", "sms"],
        default_opt_in: true,
        names: { en: "Newsletter", pl: "Biuletyn" },
        descriptions: "{}",
      },
      {
        key: "promotions",
        channels: ["email", "sms"],
        default_opt_in: false,
        names: { en: "Promotions", pl: "Promocje" },
        descriptions: "{}",
      },
    ])
    .execute();
});
afterAll(async () => {
  await t?.close();
});

let n = 0;
async function unsubscribedContact(locale: string | null = null) {
  const email = `doi${++n}@example.com`;
  const contact = await db
    .insertInto("contacts")
    .values({ external_id: `doi-${n}`, email, locale })
    .returning("id")
    .executeTakeFirstOrThrow();
  await applyConsentChange(db, {
    channel: "email",
    address: email,
    action: "unsubscribe",
    source: "link",
    contactId: contact.id,
  });
  return { email, contactId: contact.id };
}

async function outboxFor(recipient: string) {
  return db
    .selectFrom("outbox")
    .selectAll()
    .where("recipient", "=", recipient)
    .orderBy("id")
    .execute();
}

async function requestRow(id: string) {
  return db
    .selectFrom("double_opt_in_requests")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirstOrThrow();
}

function confirmLink(html: string): { url: string; token: string } {
  const m = /href="(http[^"]*\/c\/([^"]+))"/.exec(html);
  if (!m) throw new Error("no /c/ link in the email");
  return { url: m[1]!, token: m[2]! };
}

const marketing = (address: string) =>
  decideSend(db, { channel: "email", address, category: "marketing" });

describe("startDoubleOptIn", () => {
  it("stores a 7-day request and queues a localized confirmation, while the address stays unsubscribed", async () => {
    const { email, contactId } = await unsubscribedContact("pl");
    const before = Date.now();
    const res = await startDoubleOptIn(db, {
      channel: "email",
      address: email.toUpperCase(),
      contactId,
      topics: ["promotions"],
      source: "preference_page",
      ip: "203.0.113.7",
      userAgent: "Firefox/1",
    });
    expect(res.status).toBe("sent");

    const req = await requestRow(res.requestId);
    expect(req).toMatchObject({
      status: "pending",
      channel: "email",
      address: email,
      contact_id: contactId,
      topics: ["promotions"],
      locale: "pl",
      source: "preference_page",
      ip: "203.0.113.7",
      user_agent: "Firefox/1",
    });
    const ttl = req.expires_at.getTime() - before;
    expect(ttl).toBeGreaterThan(7 * 86400_000 - 60_000);
    expect(ttl).toBeLessThan(7 * 86400_000 + 60_000);
    expect(req.template_version).toMatch(/^confirm\/v\d+\/pl\/[0-9a-f]{8}$/);

    const [msg, ...rest] = await outboxFor(email);
    expect(rest).toHaveLength(0);
    expect(msg).toMatchObject({ kind: "email", status: "pending" });
    const payload = msg!.payload as {
      subject: string;
      html: string;
      text: string;
      messageHash: string;
    };
    expect(payload.subject).toContain("Potwierdź");
    expect(payload.html).toContain("Promocje");
    // The stored hash is the hash of exactly what is queued.
    expect(req.message_hash).toBe(messageHash(payload));
    expect(payload.messageHash).toBe(req.message_hash);

    const { url, token } = confirmLink(payload.html);
    expect(payload.text).toContain(url);
    const verified = await verifyLinkToken(token, "confirm");
    expect(verified).toMatchObject({
      ok: true,
      claims: { sub: contactId, ch: "email", rid: res.requestId, pur: "confirm" },
    });

    expect((await marketing(email)).reason).toBe("unsubscribed");
  });

  it("answers already_subscribed and sends nothing for a subscribed address", async () => {
    const email = `doi-sub${++n}@example.com`;
    await applyConsentChange(db, {
      channel: "email",
      address: email,
      action: "unsubscribe",
      source: "link",
    });
    await applyConsentChange(db, {
      channel: "email",
      address: email,
      action: "subscribe",
      source: "admin",
      reasonText: "asked by phone",
    });
    const res = await startDoubleOptIn(db, { channel: "email", address: email, source: "api" });
    expect(res).toEqual({ requestId: "", status: "already_subscribed" });
    expect(await outboxFor(email)).toHaveLength(0);
  });

  it("records a never-seen address as pending (send decisions say pending_confirmation) and creates its contact", async () => {
    const email = `doi-new${++n}@example.com`;
    expect((await marketing(email)).allowed).toBe(true);
    const res = await startDoubleOptIn(db, {
      channel: "email",
      address: email,
      topics: ["newsletter"],
      locale: "de",
      source: "api",
      ip: "198.51.100.1",
    });
    expect(res.status).toBe("sent");
    expect((await marketing(email)).reason).toBe("pending_confirmation");
    const ledger = await db
      .selectFrom("consent_ledger")
      .selectAll()
      .where("address_hash", "=", addressKey(email))
      .execute();
    expect(ledger.map((l) => [l.action, l.source, l.ip])).toEqual([
      ["signup_pending", "api", "198.51.100.1"],
    ]);
    const req = await requestRow(res.requestId);
    const contact = await db
      .selectFrom("contacts")
      .selectAll()
      .where("id", "=", req.contact_id!)
      .executeTakeFirstOrThrow();
    expect(contact).toMatchObject({ email, locale: "de" });
    expect(((await outboxFor(email))[0]!.payload as { subject: string }).subject).toMatch(
      /Bitte bestätigen/,
    );

    const confirmed = await confirmDoubleOptIn(db, {
      requestId: res.requestId,
      contactId: contact.id,
      ip: "198.51.100.2",
      userAgent: "UA",
    });
    expect(confirmed.status).toBe("confirmed");
    expect((await marketing(email)).allowed).toBe(true);
  });

  it("supersedes an older pending request: only the newest link confirms", async () => {
    const { email, contactId } = await unsubscribedContact();
    const first = await startDoubleOptIn(db, {
      channel: "email",
      address: email,
      contactId,
      source: "preference_page",
    });
    const second = await startDoubleOptIn(db, {
      channel: "email",
      address: email,
      contactId,
      source: "preference_page",
    });
    expect((await requestRow(first.requestId)).status).toBe("superseded");
    expect((await requestRow(second.requestId)).status).toBe("pending");
    expect(await confirmDoubleOptIn(db, { requestId: first.requestId, contactId })).toMatchObject({
      status: "superseded",
    });
    expect((await marketing(email)).reason).toBe("unsubscribed");
    expect(await confirmDoubleOptIn(db, { requestId: second.requestId, contactId })).toMatchObject({
      status: "confirmed",
    });
    expect((await marketing(email)).allowed).toBe(true);
  });

  it(`refuses more than ${DOUBLE_OPT_IN_RATE_LIMIT.limit} confirmations a day to one address`, async () => {
    const { email, contactId } = await unsubscribedContact();
    const statuses = [];
    for (let i = 0; i <= DOUBLE_OPT_IN_RATE_LIMIT.limit; i++) {
      statuses.push(
        (
          await startDoubleOptIn(db, {
            channel: "email",
            address: email,
            contactId,
            source: "preference_page",
          })
        ).status,
      );
    }
    expect(statuses).toEqual([
      ...Array(DOUBLE_OPT_IN_RATE_LIMIT.limit).fill("sent"),
      "rate_limited",
    ]);
    expect(await outboxFor(email)).toHaveLength(DOUBLE_OPT_IN_RATE_LIMIT.limit);
  });

  it("texts an opted-out SMS/WhatsApp number nothing: the request waits for its START", async () => {
    const phone = "+48601555112";
    const contact = await db
      .insertInto("contacts")
      .values({ external_id: "doi-sms-stop", phone, locale: "en" })
      .returning("id")
      .executeTakeFirstOrThrow();
    for (const channel of ["sms", "whatsapp"] as const) {
      await applyConsentChange(db, {
        channel,
        address: phone,
        action: "unsubscribe",
        source: "sms_keyword",
      });
      const res = await startDoubleOptIn(db, {
        channel,
        address: phone,
        contactId: contact.id,
        source: "preference_page",
      });
      expect(res.status).toBe("keyword_required");
      const recipient = channel === "whatsapp" ? `whatsapp:${phone}` : phone;
      expect(await outboxFor(recipient)).toHaveLength(0);
      const req = await requestRow(res.requestId);
      expect(req).toMatchObject({ status: "pending", template_version: "keyword:start" });
    }
  });

  it("sends a new SMS/WhatsApp sign-up a confirmation with a short link to the /c/ page", async () => {
    const phone = "+48601555111";
    // A new number: a contact that holds it would be subscribed already (no row = subscribed).
    const contact = await db
      .insertInto("contacts")
      .values({ external_id: "doi-sms", locale: "en" })
      .returning("id")
      .executeTakeFirstOrThrow();
    for (const channel of ["sms", "whatsapp"] as const) {
      const res = await startDoubleOptIn(db, {
        channel,
        address: phone,
        contactId: contact.id,
        source: "preference_page",
      });
      expect(res.status).toBe("sent");
      const recipient = channel === "whatsapp" ? `whatsapp:${phone}` : phone;
      const [msg] = await outboxFor(recipient);
      expect(msg!.kind).toBe("sms");
      const payload = msg!.payload as { to: string; body: string; channel: string };
      expect(payload).toMatchObject({ to: phone, channel });
      const code = /\/s\/([A-Za-z0-9_-]{8,})/.exec(payload.body)?.[1];
      expect(code).toBeDefined();
      const target = await resolveShortLink(db, code!);
      expect(target.ok && target.target.startsWith("/c/")).toBe(true);
      const token = (target as { target: string }).target.slice(3);
      expect(await verifyLinkToken(token, "confirm")).toMatchObject({
        ok: true,
        claims: { ch: channel, rid: res.requestId },
      });
      const req = await requestRow(res.requestId);
      expect(req.message_hash).toBe(messageHash({ body: payload.body }));
      expect(req.template_version).toMatch(/^sms\.confirm\//);
    }
  });

  it.each(LOCALES)(
    "%s: a first SMS sign-up is asked to confirm a subscription; a number coming back after an opt-out is texted nothing",
    async (locale) => {
      const mail = resources[locale].mail;
      const org = "Acme";
      await saveBranding(db, { ...DEFAULT_BRANDING, organizationName: org });
      const smsBody = async (phone: string) => {
        const [msg] = await outboxFor(phone);
        return (msg!.payload as { body: string }).body;
      };
      const words = (template: string, url: string) =>
        template.replace("{{org}}", org).replace("{{url}}", url);
      const urlOf = (body: string) => /(https?:\/\/\S+\/s\/[A-Za-z0-9_-]+)/.exec(body)![1]!;

      // Never seen: a sign-up.
      const fresh = `+4860155${String(LOCALES.indexOf(locale)).padStart(2, "0")}01`;
      const first = await startDoubleOptIn(db, {
        channel: "sms",
        address: fresh,
        locale,
        source: "api",
      });
      const firstBody = await smsBody(fresh);
      expect(firstBody).toBe(words(mail.sms.confirmSignup, urlOf(firstBody)));
      expect(firstBody).not.toBe(words(mail.sms.confirm, urlOf(firstBody)));
      expect(await requestRow(first.requestId)).toMatchObject({ first_signup: true });
      expect(await getDoubleOptInRequest(db, first.requestId)).toMatchObject({
        firstSignup: true,
      });

      // Unsubscribed before: coming back. After an SMS opt-out nothing is texted (the carrier
      // would block it); the person is told to text START, which confirms the request.
      const back = `+4860155${String(LOCALES.indexOf(locale)).padStart(2, "0")}02`;
      await applyConsentChange(db, {
        channel: "sms",
        address: back,
        action: "unsubscribe",
        source: "sms_keyword",
      });
      const again = await startDoubleOptIn(db, {
        channel: "sms",
        address: back,
        locale,
        source: "api",
      });
      expect(again.status).toBe("keyword_required");
      expect(await outboxFor(back)).toEqual([]);
      expect(await requestRow(again.requestId)).toMatchObject({ first_signup: false });

      // The same for email: the sign-up's intro does not say "again".
      const email = `signup-${locale}@example.com`;
      await startDoubleOptIn(db, { channel: "email", address: email, locale, source: "api" });
      const [sent] = await outboxFor(email);
      const text = (sent!.payload as { text: string }).text;
      expect(text).toContain(
        mail.confirm.introSignup.replace("{{org}}", org).replace("{{address}}", email),
      );
      expect(text).not.toContain(
        mail.confirm.intro.replace("{{org}}", org).replace("{{address}}", email),
      );
    },
  );

  it("refuses unknown topics without storing anything", async () => {
    const { email, contactId } = await unsubscribedContact();
    await expect(
      startDoubleOptIn(db, {
        channel: "email",
        address: email,
        contactId,
        topics: ["nope"],
        source: "api",
      }),
    ).rejects.toMatchObject({ code: "unknown_topic" });
    expect(await outboxFor(email)).toHaveLength(0);
  });
});

describe("confirmDoubleOptIn", () => {
  it("subscribes through the consent core with the evidence of the request and of the confirmation", async () => {
    const { email, contactId } = await unsubscribedContact();
    await applyConsentChange(db, {
      channel: "email",
      address: email,
      action: "topic_opt_out",
      topic: "newsletter",
      source: "preference_page",
    });
    const started = await startDoubleOptIn(db, {
      channel: "email",
      address: email,
      contactId,
      topics: ["newsletter", "promotions"],
      source: "preference_page",
      ip: "203.0.113.10",
      userAgent: "Requester/1",
    });
    const req = await requestRow(started.requestId);

    const res = await confirmDoubleOptIn(db, {
      requestId: started.requestId,
      contactId,
      ip: "203.0.113.11",
      userAgent: "Confirmer/2",
    });
    expect(res).toMatchObject({
      status: "confirmed",
      channel: "email",
      address: email,
      topics: ["newsletter", "promotions"],
    });

    const ledger = await db
      .selectFrom("consent_ledger")
      .selectAll()
      .where("address_hash", "=", addressKey(email))
      .orderBy("id")
      .execute();
    expect(ledger.map((l) => [l.action, l.topic, l.source])).toEqual([
      ["unsubscribe", null, "link"],
      ["topic_opt_out", "newsletter", "preference_page"],
      ["subscribe", null, "double_opt_in"],
      ["topic_opt_in", "newsletter", "double_opt_in"],
      ["topic_opt_in", "promotions", "double_opt_in"],
    ]);
    const subscribe = ledger[2]!;
    expect(subscribe).toMatchObject({
      ip: "203.0.113.11",
      user_agent: "Confirmer/2",
      contact_id: contactId,
      actor_type: "recipient",
    });
    expect(subscribe.details).toEqual({
      requestId: started.requestId,
      messageHash: req.message_hash,
      templateVersion: req.template_version,
      requestedAt: req.created_at.toISOString(),
      requestSource: "preference_page",
      requestIp: "203.0.113.10",
      requestUserAgent: "Requester/1",
    });
    expect(await requestRow(started.requestId)).toMatchObject({
      status: "confirmed",
      confirmed_ip: "203.0.113.11",
      confirmed_user_agent: "Confirmer/2",
    });
    expect((await requestRow(started.requestId)).confirmed_at).toBeInstanceOf(Date);
    expect((await marketing(email)).allowed).toBe(true);
    expect(
      (
        await decideSend(db, {
          channel: "email",
          address: email,
          topic: "promotions",
          category: "marketing",
        })
      ).allowed,
    ).toBe(true);

    // Confirming again changes nothing.
    expect(await confirmDoubleOptIn(db, { requestId: started.requestId, contactId })).toMatchObject(
      { status: "already_confirmed" },
    );
    const after = await db
      .selectFrom("consent_ledger")
      .select("id")
      .where("address_hash", "=", addressKey(email))
      .execute();
    expect(after).toHaveLength(ledger.length);
  });

  it("refuses an expired request, leaving the address unsubscribed, and can start a new one from it", async () => {
    const { email, contactId } = await unsubscribedContact();
    const started = await startDoubleOptIn(db, {
      channel: "email",
      address: email,
      contactId,
      source: "preference_page",
    });
    await sql`update double_opt_in_requests set expires_at = now() - interval '1 minute' where id = ${started.requestId}`.execute(
      db,
    );
    expect((await getDoubleOptInRequest(db, started.requestId))!.status).toBe("expired");
    expect(await confirmDoubleOptIn(db, { requestId: started.requestId, contactId })).toMatchObject(
      { status: "expired" },
    );
    expect((await requestRow(started.requestId)).status).toBe("expired");
    expect((await marketing(email)).reason).toBe("unsubscribed");

    const again = await restartDoubleOptIn(db, { requestId: started.requestId, contactId });
    expect(again.status).toBe("sent");
    expect(await outboxFor(email)).toHaveLength(2);
  });

  it("refuses a request that belongs to another contact, and unknown ids", async () => {
    const a = await unsubscribedContact();
    const b = await unsubscribedContact();
    const started = await startDoubleOptIn(db, {
      channel: "email",
      address: a.email,
      contactId: a.contactId,
      source: "preference_page",
    });
    expect(
      await confirmDoubleOptIn(db, { requestId: started.requestId, contactId: b.contactId }),
    ).toEqual({ status: "not_found" });
    expect(
      await confirmDoubleOptIn(db, { requestId: "not-a-uuid", contactId: a.contactId }),
    ).toEqual({ status: "not_found" });
    expect(
      await confirmDoubleOptIn(db, {
        requestId: "00000000-0000-4000-8000-000000000000",
        contactId: a.contactId,
      }),
    ).toEqual({ status: "not_found" });
    expect((await marketing(a.email)).reason).toBe("unsubscribed");
    expect((await requestRow(started.requestId)).status).toBe("pending");
  });
});
