import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decideSend } from "~/consent/consent.server";
import { setDatabase, type Db } from "~/db/db.server";
import * as metaRoute from "~/routes/webhooks.whatsapp.meta";
import { saveBranding } from "~/settings/settings.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { CONTEXT } from "./api.helpers";
import {
  counts,
  ledger,
  metaButton,
  metaRequest,
  metaSign,
  metaText,
  META_VERIFY,
  plivoRequest,
  plivoSign,
  PUBLIC,
  replies,
  send,
  telnyxRequest,
  telnyxSign,
  twilioRequest,
  useSmsEnv,
  vonageRequest,
  vonageSign,
  type Provider,
  type Signed,
} from "./sms.helpers";

/**
 * Every SMS/WhatsApp provider webhook through its real route handler, with requests signed the
 * way the provider signs them (see sms.helpers.ts for which official package signs or checks
 * each): accepted when signed, refused with 403 and nothing written when unsigned or tampered,
 * and a replay (the same provider message id) changes nothing.
 */

let t: TestDatabase;
let db: Db;
let restoreEnv: () => void;

beforeAll(async () => {
  restoreEnv = useSmsEnv();
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
  restoreEnv();
});

const status = async (channel: "sms" | "whatsapp", phone: string) =>
  (await decideSend(db, { channel, address: phone, category: "marketing" })).reason ?? "allowed";

let n = 0;
const phone = () => `+4860120${String(++n).padStart(4, "0")}`;

type Case = {
  provider: Provider;
  channel: "sms" | "whatsapp";
  request: (from: string, text: string) => Promise<Signed> | Signed;
  /** The same request with a changed body, signed for the original one. */
  tamper: (r: Signed) => Signed;
  unsigned: (r: Signed) => Signed;
};

const without = (r: Signed, header: string): Signed => ({
  ...r,
  headers: Object.fromEntries(
    Object.entries(r.headers).filter(([k]) => k.toLowerCase() !== header),
  ),
});
const swap = (r: Signed, from: string, to: string): Signed => ({
  ...r,
  body: r.body.replace(from, to),
});

const CASES: Case[] = [
  {
    provider: "twilio",
    channel: "sms",
    request: (from, text) => twilioRequest(from, text),
    tamper: (r) => swap(r, "Body=STOP", "Body=START"),
    unsigned: (r) => without(r, "x-twilio-signature"),
  },
  {
    provider: "vonage",
    channel: "sms",
    request: (from, text) => vonageRequest(from, text),
    tamper: (r) => swap(r, '"text":"STOP"', '"text":"START"'),
    unsigned: (r) => without(r, "authorization"),
  },
  {
    provider: "plivo",
    channel: "sms",
    request: (from, text) => plivoRequest(from, text),
    tamper: (r) => swap(r, "Text=STOP", "Text=START"),
    unsigned: (r) => without(r, "x-plivo-signature-v3"),
  },
  {
    provider: "telnyx",
    channel: "sms",
    request: (from, text) => telnyxRequest(from, text),
    tamper: (r) => swap(r, '"text":"STOP"', '"text":"START"'),
    unsigned: (r) => without(r, "telnyx-signature-ed25519"),
  },
  {
    provider: "meta",
    channel: "whatsapp",
    request: (from, text) => metaRequest([metaText(from, text)]),
    tamper: (r) => swap(r, '"body":"STOP"', '"body":"START"'),
    unsigned: (r) => without(r, "x-hub-signature-256"),
  },
];

describe.each(CASES)("$provider webhook", (c) => {
  const recipient = (p: string) => (c.channel === "whatsapp" ? `whatsapp:${p}` : p);

  it("a signed STOP unsubscribes the number on its channel, once, with one confirmation", async () => {
    const p = phone();
    const req = await c.request(p, "STOP");
    const res = await send(req);
    expect(res.status).toBe(200);
    expect(await status(c.channel, p)).toBe("unsubscribed");
    expect(await status(c.channel === "sms" ? "whatsapp" : "sms", p)).toBe("allowed");
    const rows = await ledger(db, c.channel, p);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: "unsubscribe",
      source: "sms_keyword",
      reason_text: "STOP",
      actor_type: "recipient",
    });
    expect(rows[0]!.details).toMatchObject({ provider: c.provider, by: "keyword" });
    const sent = await replies(db, recipient(p));
    expect(sent).toHaveLength(1);
    expect(sent[0]!.payload).toMatchObject({ provider: c.provider, template: "sms.reply.stop" });
    expect(sent[0]!.deliver_by).not.toBeNull();
    const inbound = await db
      .selectFrom("inbound_messages")
      .selectAll()
      .where("provider", "=", c.provider)
      .where("address", "=", p)
      .execute();
    expect(inbound).toHaveLength(1);
    expect(inbound[0]).toMatchObject({
      decision: "applied",
      body: "STOP",
      channel: c.channel,
      ledger_id: rows[0]!.id,
      reply_outbox_id: sent[0]!.id,
    });

    // The same delivery again (a provider retry or a captured request): nothing changes.
    const before = await counts(db);
    expect((await send(req)).status).toBe(200);
    expect(await counts(db)).toEqual(before);
    const again = await db
      .selectFrom("inbound_messages")
      .select(["replay_count", "decision"])
      .where("id", "=", inbound[0]!.id)
      .executeTakeFirstOrThrow();
    expect(again).toMatchObject({ replay_count: 1, decision: "applied" });
  });

  it("refuses unsigned and tampered requests with 403 and writes nothing", async () => {
    const p = phone();
    const req = await c.request(p, "STOP");
    const before = await counts(db);
    const unsigned = await send(c.unsigned(req));
    expect(unsigned.status).toBe(403);
    const tampered = c.tamper(req);
    expect(tampered.body).not.toBe(req.body);
    expect((await send(tampered)).status).toBe(403);
    expect(await counts(db)).toEqual(before);
    expect(await status(c.channel, p)).toBe("allowed");
  });

  it("a captured START replayed after a STOP does not undo it", async () => {
    const p = phone();
    await send(await c.request(p, "STOP"));
    const start = await c.request(p, "START");
    expect((await send(start)).status).toBe(200);
    expect(await status(c.channel, p)).toBe("allowed");
    await send(await c.request(p, "STOP"));
    expect(await status(c.channel, p)).toBe("unsubscribed");
    const before = await counts(db);
    expect((await send(start)).status).toBe(200); // the replay
    expect(await status(c.channel, p)).toBe("unsubscribed");
    expect(await counts(db)).toEqual(before);
  });
});

describe("provider specifics", () => {
  it("Twilio: signed for another URL or with another token is refused; TWILIO_WEBHOOK_URL is honoured", async () => {
    const p = phone();
    const before = await counts(db);
    expect(
      (await send(twilioRequest(p, "STOP", {}, { url: "https://evil.example/x" }))).status,
    ).toBe(403);
    expect((await send(twilioRequest(p, "STOP", {}, { token: "another-token-123" }))).status).toBe(
      403,
    );
    expect(await counts(db)).toEqual(before);
    const restore = useSmsEnv({
      TWILIO_WEBHOOK_URL: "https://sms.example.org/hooks/twilio?site=1",
    });
    try {
      expect((await send(twilioRequest(p, "STOP"))).status).toBe(403);
      const ok = twilioRequest(
        p,
        "STOP",
        {},
        { url: "https://sms.example.org/hooks/twilio?site=1" },
      );
      expect((await send(ok)).status).toBe(200);
      expect(await status("sms", p)).toBe("unsubscribed");
    } finally {
      restore();
    }
  });

  it("Twilio: a whatsapp: sender acts on WhatsApp, and OptOutType decides whatever the words", async () => {
    const p = phone();
    await send(twilioRequest(`whatsapp:${p}`, "Yes, see you at 5", { OptOutType: "STOP" }));
    expect(await status("whatsapp", p)).toBe("unsubscribed");
    expect(await status("sms", p)).toBe("allowed");
    expect((await replies(db, `whatsapp:${p}`))[0]!.payload).toMatchObject({
      channel: "whatsapp",
      to: p,
      from: "+14155550100",
    });
  });

  it("Twilio: answers GET with 405 and a JSON body with 415", async () => {
    const { loader } = await import("~/routes/webhooks.sms.twilio");
    expect(loader().status).toBe(405);
    const res = await send(twilioRequest(phone(), "STOP"), {
      headers: { "Content-Type": "application/json", "X-Twilio-Signature": "x" },
      body: "{}",
    });
    expect(res.status).toBe(415);
  });

  it("Twilio: hostile text (NUL, lone surrogates) is stored cleaned, never a 500", async () => {
    const p = phone();
    const res = await send(twilioRequest(p, "STOP\u0000", { MessageSid: "SM\u0000x\ud800" }));
    expect(res.status).toBe(200);
    expect(await status("sms", p)).toBe("unsubscribed");
    const bad = await send(twilioRequest("\u0000", "STOP"));
    expect(bad.status).toBe(200); // not a phone number: recorded and ignored
  });

  it("Twilio: a body over the cap is refused with 413 before it is read", async () => {
    const req = twilioRequest(phone(), "x".repeat(70 * 1024));
    expect((await send(req)).status).toBe(413);
  });

  it("Vonage: a token signed with another secret, or whose payload_hash does not match, is refused", async () => {
    const p = phone();
    const req = await vonageRequest(p, "STOP");
    const before = await counts(db);
    const other = await vonageSign(req.body, "another-secret-0123456789abcdef");
    expect(
      (await send(req, { headers: { ...req.headers, Authorization: `Bearer ${other}` } })).status,
    ).toBe(403);
    // A genuine token for a different body.
    const forOther = await vonageSign(req.body.replace("STOP", "HELLO"));
    expect(
      (await send(req, { headers: { ...req.headers, Authorization: `Bearer ${forOther}` } }))
        .status,
    ).toBe(403);
    expect(await counts(db)).toEqual(before);
  });

  it("Vonage: status callbacks and other channels are accepted and ignored", async () => {
    const body = JSON.stringify({
      message_uuid: "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
      to: "447700900000",
      from: "447700900001",
      timestamp: new Date().toISOString(),
      status: "delivered",
      channel: "sms",
    });
    const before = await counts(db);
    const res = await send({
      provider: "vonage",
      url: `${PUBLIC}/webhooks/sms/vonage`,
      headers: {
        "Content-Type": "application/json",
        Authorization: `Bearer ${await vonageSign(body)}`,
      },
      body,
    });
    expect(res.status).toBe(200);
    expect(await counts(db)).toEqual(before);
  });

  it("Plivo: MessageIntent decides; a wrong nonce is refused", async () => {
    const p = phone();
    const req = plivoRequest(p, "no thanks", { MessageIntent: "optout" });
    const before = await counts(db);
    expect(
      (await send(req, { headers: { ...req.headers, "X-Plivo-Signature-V3-Nonce": "other" } }))
        .status,
    ).toBe(403);
    expect(await counts(db)).toEqual(before);
    expect((await send(req)).status).toBe(200);
    expect(await status("sms", p)).toBe("unsubscribed");
    expect((await ledger(db, "sms", p))[0]!.details).toMatchObject({ by: "provider" });
    // Several signatures (one per auth token, during a rotation): one valid is enough.
    const q = plivoRequest(phone(), "HELP");
    const params = Object.fromEntries(new URLSearchParams(q.body));
    const nonce = q.headers["X-Plivo-Signature-V3-Nonce"]!;
    const stale = plivoSign(`${PUBLIC}/webhooks/sms/plivo`, params, nonce, "old-token-0123456789");
    const both = `${stale},${q.headers["X-Plivo-Signature-V3"]}`;
    expect(
      (await send(q, { headers: { ...q.headers, "X-Plivo-Signature-V3": both } })).status,
    ).toBe(200);
  });

  it("Telnyx: a signature older than the tolerance is refused (a late replay of a capture)", async () => {
    const p = phone();
    const old = Math.floor(Date.now() / 1000) - 301;
    const before = await counts(db);
    const body = JSON.stringify({ data: { event_type: "message.received", payload: { id: "x" } } });
    const signature = await telnyxSign(body, String(old), undefined).catch(() => null);
    // The package's verifier refuses it too (it checks the same 5-minute window).
    expect(signature).toBeNull();
    const req = await telnyxRequest(p, "STOP");
    const stale = { ...req.headers, "telnyx-timestamp": String(old) };
    expect((await send(req, { headers: stale })).status).toBe(403);
    expect(await counts(db)).toEqual(before);
  });

  it("Telnyx: autoresponse_type decides; delivery reports are ignored", async () => {
    const p = phone();
    await send(await telnyxRequest(p, "whatever", { autoresponse_type: "STOP" }));
    expect(await status("sms", p)).toBe("unsubscribed");
    const before = await counts(db);
    const report = await telnyxRequest(p, "STOP");
    const body = report.body.replace('"message.received"', '"message.finalized"');
    const ts = report.headers["telnyx-timestamp"]!;
    const res = await send(report, {
      body,
      headers: { ...report.headers, "telnyx-signature-ed25519": await telnyxSign(body, ts) },
    });
    expect(res.status).toBe(200);
    expect(await counts(db)).toEqual(before);
  });

  it("Meta: the verify-token handshake echoes the challenge only for the right token", async () => {
    const get = (q: string) =>
      metaRoute.loader({
        request: new Request(`${PUBLIC}/webhooks/whatsapp/meta?${q}`),
        params: {},
        context: CONTEXT,
      });
    const ok = await get(
      `hub.mode=subscribe&hub.verify_token=${META_VERIFY}&hub.challenge=1158201444`,
    );
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("1158201444");
    expect((await get("hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1")).status).toBe(
      403,
    );
    expect((await get(`hub.mode=subscribe&hub.challenge=1`)).status).toBe(403);
  });

  it("Meta: one POST with several messages and statuses; the 'Stop promotions' button revokes", async () => {
    const a = phone();
    const b = phone();
    const c = phone();
    const req = metaRequest(
      [metaButton(a, "Stop promotions"), metaText(b, "Where is my parcel?"), metaText(c, "No más")],
      [{ id: "wamid.x", status: "read", timestamp: "1", recipient_id: a.slice(1) }],
    );
    const res = await send(req);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: 3 });
    expect(await status("whatsapp", a)).toBe("unsubscribed");
    expect(await status("whatsapp", b)).toBe("allowed");
    expect(await status("whatsapp", c)).toBe("unsubscribed");
    expect((await ledger(db, "whatsapp", c))[0]!.reason_text).toBe("No más");
    // Meta retries the whole batch: nothing changes.
    const before = await counts(db);
    expect((await send(req)).status).toBe(200);
    expect(await counts(db)).toEqual(before);
    // A tampered batch is refused as a whole.
    const tampered = metaRequest([metaText(phone(), "STOP")]);
    tampered.headers["X-Hub-Signature-256"] = metaSign(req.body);
    expect((await send(tampered)).status).toBe(403);
    expect(await counts(db)).toEqual(before);
  });

  it("refuses every provider with 403 when its secret is not configured", async () => {
    const restore = useSmsEnv({
      TWILIO_AUTH_TOKEN: undefined,
      VONAGE_SIGNATURE_SECRET: undefined,
      PLIVO_AUTH_TOKEN: undefined,
      TELNYX_PUBLIC_KEY: undefined,
      WHATSAPP_APP_SECRET: undefined,
    });
    try {
      const p = phone();
      for (const req of [
        twilioRequest(p, "STOP"),
        await vonageRequest(p, "STOP"),
        plivoRequest(p, "STOP"),
        await telnyxRequest(p, "STOP"),
        metaRequest([metaText(p, "STOP")]),
      ]) {
        expect((await send(req)).status).toBe(403);
      }
      expect(await status("sms", p)).toBe("allowed");
    } finally {
      restore();
    }
  });
});
