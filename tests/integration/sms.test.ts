import crypto from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addressKey, applyConsentChange, decideSend } from "~/consent/consent.server";
import { setDatabase, type Db } from "~/db/db.server";
import { resetEnvForTests } from "~/env.server";
import { saveBranding } from "~/settings/settings.server";
import { action, loader } from "~/routes/webhooks.sms.twilio";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { CONTEXT } from "./api.helpers";

/**
 * Inbound SMS/WhatsApp through the real route, signed the way Twilio signs: HMAC-SHA1 of the
 * public URL followed by each POST field's name and value sorted by name, base64 — computed here
 * independently of the app's code.
 */

const AUTH_TOKEN = "sms-test-auth-token-0123456789";
const PUBLIC = "https://heed.example.com";
const URL_SIGNED = `${PUBLIC}/webhooks/sms/twilio`;

let t: TestDatabase;
let db: Db;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  for (const k of ["TWILIO_AUTH_TOKEN", "PUBLIC_URL", "TWILIO_WEBHOOK_URL"])
    saved[k] = process.env[k];
  process.env.TWILIO_AUTH_TOKEN = AUTH_TOKEN;
  process.env.PUBLIC_URL = PUBLIC;
  delete process.env.TWILIO_WEBHOOK_URL;
  resetEnvForTests();
  t = await createTestDatabase();
  db = t.db;
  setDatabase(t);
  await saveBranding(db, {
    organizationName: "Acme Shop",
    logoUrl: "",
    accentColor: "#2563eb",
    privacyPolicyUrl: "",
    supportEmail: "help@acme.example",
  });
});
afterAll(async () => {
  setDatabase(undefined);
  await t?.close();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  resetEnvForTests();
});

function sign(url: string, fields: Record<string, string>, token = AUTH_TOKEN): string {
  const data = Object.keys(fields)
    .sort()
    .reduce((acc, k) => acc + k + fields[k], url);
  return crypto.createHmac("sha1", token).update(Buffer.from(data, "utf-8")).digest("base64");
}

let sid = 0;
async function inbound(
  from: string,
  body: string,
  options: { signature?: string | null; url?: string; requestUrl?: string } = {},
): Promise<Response> {
  const fields: Record<string, string> = {
    AccountSid: "AC00000000000000000000000000000000",
    MessageSid: `SM${String(++sid).padStart(32, "0")}`,
    From: from,
    To: from.startsWith("whatsapp:") ? "whatsapp:+14155550100" : "+14155550100",
    Body: body,
    NumMedia: "0",
  };
  const signature =
    options.signature === undefined ? sign(options.url ?? URL_SIGNED, fields) : options.signature;
  const headers: Record<string, string> = { "Content-Type": "application/x-www-form-urlencoded" };
  if (signature !== null) headers["X-Twilio-Signature"] = signature;
  // The app sits behind a proxy: it sees an internal URL; Twilio signed the public one.
  const request = new Request(options.requestUrl ?? "http://10.0.0.5:3000/webhooks/sms/twilio", {
    method: "POST",
    headers,
    body: new URLSearchParams(fields).toString(),
  });
  return action({ request, params: {}, context: CONTEXT });
}

async function ledger(channel: "sms" | "whatsapp", phone: string) {
  return db
    .selectFrom("consent_ledger")
    .selectAll()
    .where("channel", "=", channel)
    .where("address_hash", "=", addressKey(phone))
    .orderBy("id")
    .execute();
}

async function replies(recipient: string) {
  return db
    .selectFrom("outbox")
    .selectAll()
    .where("kind", "=", "sms")
    .where("recipient", "=", recipient)
    .orderBy("id")
    .execute();
}

async function counts() {
  const r = await sql<{ ledger: number; outbox: number; consent: number }>`
    select (select count(*) from consent_ledger)::int as ledger,
           (select count(*) from outbox)::int as outbox,
           (select count(*) from channel_consent)::int as consent`.execute(db);
  return r.rows[0]!;
}

const status = async (channel: "sms" | "whatsapp", phone: string) =>
  (await decideSend(db, { channel, address: phone, category: "marketing" })).reason ?? "allowed";

async function expectEmptyTwiml(res: Response) {
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/xml");
  expect(await res.text()).toBe('<?xml version="1.0" encoding="UTF-8"?><Response></Response>');
}

describe("POST /webhooks/sms/twilio: keywords (docs/inbound.md)", () => {
  it.each([
    ["STOP", "+48601000101"],
    ["Stop please", "+48601000102"],
    ["opt out", "+48601000103"],
    ["STOP!", "+48601000104"],
  ])(
    "%j unsubscribes the number from SMS only and queues one confirmation",
    async (text, phone) => {
      await expectEmptyTwiml(await inbound(phone, text));
      expect(await status("sms", phone)).toBe("unsubscribed");
      expect(await status("whatsapp", phone)).toBe("allowed");
      const rows = await ledger("sms", phone);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        action: "unsubscribe",
        source: "sms_keyword",
        channel: "sms",
        address: phone,
        actor_type: "recipient",
      });
      expect(rows[0]!.details).toMatchObject({
        keyword: text,
        messageSid: expect.stringMatching(/^SM/),
      });
      const sent = await replies(phone);
      expect(sent).toHaveLength(1);
      const body = String(sent[0]!.payload.body);
      expect(body).toBe(
        "Acme Shop: you are unsubscribed and will get no more messages from us. Reply START to subscribe again.",
      );
      expect(body).not.toMatch(/https?:|%|offer|sale/i); // no links, no marketing

      // The same STOP again changes nothing and sends nothing more.
      await expectEmptyTwiml(await inbound(phone, text));
      expect(await ledger("sms", phone)).toHaveLength(1);
      expect(await replies(phone)).toHaveLength(1);
    },
  );

  it("START re-subscribes an unsubscribed number and confirms it", async () => {
    const phone = "+48601000105";
    await inbound(phone, "STOP");
    await expectEmptyTwiml(await inbound(phone, "start"));
    expect(await status("sms", phone)).toBe("allowed");
    const rows = await ledger("sms", phone);
    expect(rows.map((r) => [r.action, r.source])).toEqual([
      ["unsubscribe", "sms_keyword"],
      ["subscribe", "sms_keyword"],
    ]);
    const sent = await replies(phone);
    expect(sent).toHaveLength(2);
    expect(String(sent[1]!.payload.body)).toBe(
      "Acme Shop: you are subscribed again. Reply STOP to unsubscribe, HELP for help.",
    );
  });

  it("HELP answers with help text and changes nothing", async () => {
    const phone = "+48601000106";
    const before = await counts();
    await expectEmptyTwiml(await inbound(phone, "help"));
    expect(await ledger("sms", phone)).toHaveLength(0);
    expect(await status("sms", phone)).toBe("allowed");
    const sent = await replies(phone);
    expect(sent).toHaveLength(1);
    expect(String(sent[0]!.payload.body)).toBe(
      "Acme Shop: reply STOP to unsubscribe or START to subscribe again. Questions: help@acme.example",
    );
    const after = await counts();
    expect(after.ledger).toBe(before.ledger);
    expect(after.consent).toBe(before.consent);
  });

  it("ignores a message that is not a keyword", async () => {
    const phone = "+48601000107";
    const before = await counts();
    await expectEmptyTwiml(await inbound(phone, "Where is my parcel? I want to stop by the shop"));
    expect(await counts()).toEqual(before);
  });

  it("refuses a wrong or missing signature with 403 and writes nothing", async () => {
    const phone = "+48601000108";
    const before = await counts();
    const wrong = await inbound(phone, "STOP", { signature: sign(URL_SIGNED, { Body: "STOP" }) });
    expect(wrong.status).toBe(403);
    const otherToken = await inbound(phone, "STOP", {
      signature: sign(URL_SIGNED, { From: phone, Body: "STOP" }, "another-token"),
    });
    expect(otherToken.status).toBe(403);
    const missing = await inbound(phone, "STOP", { signature: null });
    expect(missing.status).toBe(403);
    // Signed for a different URL than the configured public one.
    const otherUrl = await inbound(phone, "STOP", {
      url: "https://evil.example/webhooks/sms/twilio",
    });
    expect(otherUrl.status).toBe(403);
    expect(await counts()).toEqual(before);
    expect(await status("sms", phone)).toBe("allowed");
  });

  it("a whatsapp: sender unsubscribes from WhatsApp only and gets the confirmation on WhatsApp", async () => {
    const phone = "+48601000109";
    await expectEmptyTwiml(await inbound(`whatsapp:${phone}`, "STOP"));
    expect(await status("whatsapp", phone)).toBe("unsubscribed");
    expect(await status("sms", phone)).toBe("allowed");
    expect(await ledger("whatsapp", phone)).toEqual([
      expect.objectContaining({
        action: "unsubscribe",
        source: "sms_keyword",
        channel: "whatsapp",
      }),
    ]);
    expect(await ledger("sms", phone)).toHaveLength(0);
    const sent = await replies(`whatsapp:${phone}`);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.payload).toMatchObject({ channel: "whatsapp", to: phone });
    expect(await replies(phone)).toHaveLength(0);
  });

  it("answers in the contact's language", async () => {
    const phone = "+48601000110";
    await db
      .insertInto("contacts")
      .values({ external_id: "sms-pl", phone, locale: "pl" })
      .execute();
    await inbound(phone, "STOP");
    const sent = await replies(phone);
    expect(String(sent[0]!.payload.body)).toContain("wypisano Cię");
  });

  it("verifies against TWILIO_WEBHOOK_URL when it is set (proxies that rewrite the URL)", async () => {
    process.env.TWILIO_WEBHOOK_URL = "https://sms.example.org/hooks/twilio?site=1";
    resetEnvForTests();
    try {
      const phone = "+48601000111";
      expect((await inbound(phone, "STOP")).status).toBe(403); // signed for PUBLIC_URL
      const ok = await inbound(phone, "STOP", {
        url: "https://sms.example.org/hooks/twilio?site=1",
      });
      await expectEmptyTwiml(ok);
      expect(await status("sms", phone)).toBe("unsubscribed");
    } finally {
      delete process.env.TWILIO_WEBHOOK_URL;
      resetEnvForTests();
    }
  });

  it("a STOP that races another STOP still confirms once", async () => {
    const phone = "+48601000112";
    await Promise.all([inbound(phone, "STOP"), inbound(phone, "Stop"), inbound(phone, "cancel")]);
    expect(await ledger("sms", phone)).toHaveLength(1);
    expect(await replies(phone)).toHaveLength(1);
  });

  it("answers GET with 405 and a non-form body with 415", async () => {
    const get = await loader();
    expect(get.status).toBe(405);
    const json = await action({
      request: new Request("http://localhost/webhooks/sms/twilio", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Twilio-Signature": "x" },
        body: "{}",
      }),
      params: {},
      context: CONTEXT,
    });
    expect(json.status).toBe(415);
  });

  it("a number that was unsubscribed by other means gets no second confirmation for STOP", async () => {
    const phone = "+48601000113";
    await applyConsentChange(db, {
      channel: "sms",
      address: phone,
      action: "unsubscribe",
      source: "admin",
    });
    await inbound(phone, "STOP");
    expect(await replies(phone)).toHaveLength(0);
    expect(await ledger("sms", phone)).toHaveLength(1);
  });
});
