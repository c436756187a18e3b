import crypto from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import path from "node:path";
import sendgridWebhook from "@sendgrid/eventwebhook";
import { Webhook } from "svix";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "~/db/db.server";
import { setSnsTestTrust } from "~/email/providers/sns.server";
import { withEmailTables } from "~/email/schema";
import * as inboundMailgun from "~/routes/webhooks.email.inbound.mailgun";
import * as inboundPostmark from "~/routes/webhooks.email.inbound.postmark";
import * as inboundSendgrid from "~/routes/webhooks.email.inbound.sendgrid";
import * as mailgun from "~/routes/webhooks.email.mailgun";
import * as postmark from "~/routes/webhooks.email.postmark";
import * as resend from "~/routes/webhooks.email.resend";
import * as ses from "~/routes/webhooks.email.ses";
import * as sendgrid from "~/routes/webhooks.email.sendgrid";
import { CONTEXT } from "./api.helpers";
import { contactWithLinks, counts, ledgerOf, sendState, setUp } from "./email.helpers";

/**
 * Every ESP webhook through its real route, with requests signed the way the provider signs them:
 * SendGrid's ECDSA (and the official @sendgrid/eventwebhook agrees that the test signs like
 * SendGrid), Svix for Resend (the official `svix` package signs), Mailgun's HMAC and SNS's RSA
 * signatures computed here from their documentation, Postmark's basic auth. Tampered and unsigned
 * requests get 403 and write nothing; replays change nothing.
 */

const FIXTURES = path.join(import.meta.dirname, "fixtures", "email");
const TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:ses-events";
const CERT_URL =
  "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem";

const sgEvents = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const sgInbound = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const spki = (k: crypto.KeyObject) => k.export({ format: "der", type: "spki" }).toString("base64");
const MAILGUN_KEY = "key-mailgun-test-0123456789abcdef";
const RESEND_SECRET = `whsec_${Buffer.from("resend-test-secret-0123456789ab").toString("base64")}`;
const PM_USER = "heed";
const PM_PASS = "postmark-test-password-0123";

let env: Awaited<ReturnType<typeof setUp>>;
let db: Db;
let snsServer: https.Server;
const snsRequests: string[] = [];

beforeAll(async () => {
  env = await setUp({
    SENDGRID_WEBHOOK_PUBLIC_KEY: spki(sgEvents.publicKey),
    SENDGRID_INBOUND_PUBLIC_KEY: spki(sgInbound.publicKey),
    MAILGUN_WEBHOOK_SIGNING_KEY: MAILGUN_KEY,
    POSTMARK_WEBHOOK_USERNAME: PM_USER,
    POSTMARK_WEBHOOK_PASSWORD: PM_PASS,
    RESEND_WEBHOOK_SECRET: RESEND_SECRET,
    SES_SNS_TOPIC_ARNS: TOPIC_ARN,
    ESP_GROUP_TOPICS: "sendgrid:42=newsletter,postmark:broadcasts=newsletter",
  });
  db = env.db;
  // The local HTTPS server that stands in for sns.us-east-1.amazonaws.com.
  snsServer = https.createServer(
    {
      cert: fs.readFileSync(path.join(FIXTURES, "server.pem")),
      key: fs.readFileSync(path.join(FIXTURES, "server.key")),
    },
    (req, res) => {
      snsRequests.push(`${req.headers.host}${req.url}`);
      if (req.url?.endsWith(".pem")) {
        res.writeHead(200, { "Content-Type": "application/x-pem-file" });
        res.end(fs.readFileSync(path.join(FIXTURES, "sns-signing.pem")));
      } else if (req.url?.startsWith("/?Action=ConfirmSubscription")) {
        res.writeHead(200, { "Content-Type": "text/xml" });
        res.end("<ConfirmSubscriptionResponse/>");
      } else {
        res.writeHead(404).end();
      }
    },
  );
  await new Promise<void>((r) => snsServer.listen(0, "127.0.0.1", r));
  setSnsTestTrust({
    ca: fs.readFileSync(path.join(FIXTURES, "ca.pem")),
    connectHost: "127.0.0.1",
    connectPort: (snsServer.address() as AddressInfo).port,
  });
});
afterAll(async () => {
  setSnsTestTrust(null);
  await new Promise((r) => snsServer?.close(r));
  await env?.tearDown();
});

type Route = { action: (args: never) => Promise<Response> };
async function post(
  route: Route,
  path: string,
  body: string | Uint8Array,
  headers: Record<string, string>,
): Promise<Response> {
  const request = new Request(`http://10.0.0.5:3000${path}`, {
    method: "POST",
    headers,
    body: body as BodyInit,
  });
  return (route.action as (a: unknown) => Promise<Response>)({
    request,
    params: {},
    context: CONTEXT,
  });
}

async function expectRefused(res: Response, before: Awaited<ReturnType<typeof counts>>) {
  expect(res.status).toBe(403);
  const body = (await res.json()) as { error: { code: string } };
  expect(body.error.code).toMatch(
    /invalid_signature|invalid_credentials|replayed_signature|unknown_topic/,
  );
  expect(await counts(db)).toEqual(before);
}

// ---------------------------------------------------------------------------------------------

describe("SendGrid Event Webhook", () => {
  function sign(
    body: string,
    key = sgEvents.privateKey,
    timestamp = String(Math.floor(Date.now() / 1000)),
  ) {
    const signature = crypto
      .sign("sha256", Buffer.from(timestamp + body), { key, dsaEncoding: "der" })
      .toString("base64");
    return {
      "Content-Type": "application/json",
      "X-Twilio-Email-Event-Webhook-Signature": signature,
      "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    };
  }

  it("signs like SendGrid: the official package accepts the test's signatures", () => {
    const body = '[{"event":"delivered"}]';
    const h = sign(body);
    const ew = new sendgridWebhook.EventWebhook();
    const key = ew.convertPublicKeyToECDSA(spki(sgEvents.publicKey));
    expect(
      ew.verifySignature(
        key,
        body,
        h["X-Twilio-Email-Event-Webhook-Signature"],
        h["X-Twilio-Email-Event-Webhook-Timestamp"],
      ),
    ).toBe(true);
  });

  it("a signed batch: complaint, hard bounce, group and plain unsubscribes, through the bulk door", async () => {
    const spam = await contactWithLinks(db);
    const bounced = await contactWithLinks(db);
    const group = await contactWithLinks(db);
    const unsub = await contactWithLinks(db);
    const soft = await contactWithLinks(db);
    const body = JSON.stringify([
      {
        email: spam.email,
        event: "spamreport",
        sg_event_id: "sg-1",
        heed_campaign: spam.campaign,
        timestamp: 1,
      },
      {
        email: bounced.email,
        event: "bounce",
        type: "bounce",
        status: "5.1.1",
        reason: "550 5.1.1 user unknown",
        sg_event_id: "sg-2",
        timestamp: 1,
      },
      {
        email: group.email,
        event: "group_unsubscribe",
        asm_group_id: 42,
        sg_event_id: "sg-3",
        timestamp: 1,
      },
      { email: unsub.email, event: "unsubscribe", sg_event_id: "sg-4", timestamp: 1 },
      { email: soft.email, event: "bounce", type: "blocked", sg_event_id: "sg-5", timestamp: 1 },
      { email: spam.email, event: "open", sg_event_id: "sg-6", timestamp: 1 },
      {
        email: group.email,
        event: "group_resubscribe",
        asm_group_id: 42,
        sg_event_id: "sg-7",
        timestamp: 1,
      },
    ]);
    const res = await post(sendgrid, "/webhooks/email/sendgrid", body, sign(body));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, accepted: 4, duplicates: 0 });
    expect(await sendState(db, spam.email)).toBe("unsubscribed");
    expect((await ledgerOf(db, spam.email))[0]).toMatchObject({
      source: "complaint",
      campaign: spam.campaign,
    });
    expect(await sendState(db, bounced.email)).toBe("undeliverable");
    expect(await sendState(db, bounced.email, "transactional")).toBe("undeliverable");
    expect(await ledgerOf(db, bounced.email)).toEqual([]);
    expect((await ledgerOf(db, group.email)).map((r) => [r.action, r.topic, r.source])).toEqual([
      ["topic_opt_out", "newsletter", "esp"],
    ]);
    expect((await ledgerOf(db, unsub.email)).map((r) => [r.action, r.source])).toEqual([
      ["unsubscribe", "esp"],
    ]);
    // Soft bounces are not counted unless the operator asked for it.
    expect(await sendState(db, soft.email)).toBe("allowed");

    // SendGrid retries the same batch: nothing changes.
    const before = await counts(db);
    const again = await post(sendgrid, "/webhooks/email/sendgrid", body, sign(body));
    expect(await again.json()).toMatchObject({ accepted: 0, duplicates: 4 });
    expect(await counts(db)).toEqual(before);
  });

  it("a body over the cap is refused (413) before it is read whole", async () => {
    const before = await counts(db);
    const huge = `[${'{"event":"delivered","email":"x@example.net"},'.repeat(120_000)}{}]`;
    const res = await post(sendgrid, "/webhooks/email/sendgrid", huge, sign(huge));
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe("payload_too_large");
    expect(await counts(db)).toEqual(before);
  });

  it("tampered, unsigned or signed with another key: 403 and nothing written", async () => {
    const a = await contactWithLinks(db);
    const body = JSON.stringify([{ email: a.email, event: "spamreport", sg_event_id: "sg-t1" }]);
    const before = await counts(db);
    const h = sign(body);
    await expectRefused(
      await post(sendgrid, "/webhooks/email/sendgrid", body.replace("sg-t1", "sg-t2"), h),
      before,
    );
    await expectRefused(
      await post(sendgrid, "/webhooks/email/sendgrid", body, {
        "Content-Type": "application/json",
      }),
      before,
    );
    const other = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    await expectRefused(
      await post(sendgrid, "/webhooks/email/sendgrid", body, sign(body, other.privateKey)),
      before,
    );
    expect(await sendState(db, a.email)).toBe("allowed");
  });
});

// ---------------------------------------------------------------------------------------------

describe("Mailgun webhooks", () => {
  function signature(
    timestamp = String(Math.floor(Date.now() / 1000)),
    token = crypto.randomBytes(25).toString("hex"),
  ) {
    return {
      timestamp,
      token,
      signature: crypto
        .createHmac("sha256", MAILGUN_KEY)
        .update(timestamp + token)
        .digest("hex"),
    };
  }
  const json = { "Content-Type": "application/json" };

  it("complaint and permanent failure, signed; a replayed signature with another event is refused", async () => {
    const a = await contactWithLinks(db);
    const b = await contactWithLinks(db);
    const sig = signature();
    const complaint = JSON.stringify({
      signature: sig,
      "event-data": {
        id: "mg-1",
        event: "complained",
        recipient: a.email,
        "user-variables": { heed_campaign: a.campaign },
      },
    });
    const res = await post(mailgun, "/webhooks/email/mailgun", complaint, json);
    expect(res.status).toBe(200);
    expect((await ledgerOf(db, a.email))[0]).toMatchObject({
      source: "complaint",
      campaign: a.campaign,
    });

    const before = await counts(db);
    const forged = JSON.stringify({
      signature: sig,
      "event-data": { id: "mg-forged", event: "complained", recipient: b.email },
    });
    await expectRefused(await post(mailgun, "/webhooks/email/mailgun", forged, json), before);
    // The same event retried with its own signature changes nothing.
    expect((await post(mailgun, "/webhooks/email/mailgun", complaint, json)).status).toBe(200);
    expect(await counts(db)).toEqual(before);

    const failed = JSON.stringify({
      signature: signature(),
      "event-data": {
        id: "mg-2",
        event: "failed",
        severity: "permanent",
        recipient: b.email,
        "delivery-status": { code: 550, message: "5.1.1 The email account does not exist" },
      },
    });
    expect((await post(mailgun, "/webhooks/email/mailgun", failed, json)).status).toBe(200);
    expect(await sendState(db, b.email)).toBe("undeliverable");
  });

  it("wrong or missing signature, or a stale one: 403", async () => {
    const a = await contactWithLinks(db);
    const before = await counts(db);
    const bad = { ...signature(), signature: "0".repeat(64) };
    const event = { id: "mg-x", event: "complained", recipient: a.email };
    await expectRefused(
      await post(
        mailgun,
        "/webhooks/email/mailgun",
        JSON.stringify({ signature: bad, "event-data": event }),
        json,
      ),
      before,
    );
    await expectRefused(
      await post(mailgun, "/webhooks/email/mailgun", JSON.stringify({ "event-data": event }), json),
      before,
    );
    const stale = signature(String(Math.floor(Date.now() / 1000) - 3 * 86400));
    await expectRefused(
      await post(
        mailgun,
        "/webhooks/email/mailgun",
        JSON.stringify({ signature: stale, "event-data": event }),
        json,
      ),
      before,
    );
  });

  it("a route forward to a mailto address unsubscribes (source mailto)", async () => {
    const a = await contactWithLinks(db);
    const form = new URLSearchParams({
      ...signature(),
      recipient: a.mailto,
      sender: "someone@elsewhere.example",
      from: "Someone <someone@elsewhere.example>",
      subject: "unsubscribe",
      "Message-Id": "<mg-route-1@elsewhere.example>",
      "message-headers": JSON.stringify([
        ["Message-Id", "<mg-route-1@elsewhere.example>"],
        ["To", a.mailto],
        ["Subject", "unsubscribe"],
      ]),
      "body-plain": "unsubscribe",
    }).toString();
    const res = await post(inboundMailgun, "/webhooks/email/inbound/mailgun", form, {
      "Content-Type": "application/x-www-form-urlencoded",
    });
    expect(res.status).toBe(200);
    expect((await ledgerOf(db, a.email))[0]).toMatchObject({
      source: "mailto",
      campaign: a.campaign,
    });
    const before = await counts(db);
    const unsigned = form.replace(/signature=[0-9a-f]+/, "signature=" + "1".repeat(64));
    await expectRefused(
      await post(inboundMailgun, "/webhooks/email/inbound/mailgun", unsigned, {
        "Content-Type": "application/x-www-form-urlencoded",
      }),
      before,
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe("Postmark webhooks (basic auth)", () => {
  const auth = (user = PM_USER, pass = PM_PASS) => ({
    "Content-Type": "application/json",
    Authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`,
  });

  it("hard bounce, spam complaint and a stream unsubscribe; a soft bounce alone changes nothing", async () => {
    const a = await contactWithLinks(db);
    const b = await contactWithLinks(db);
    const c = await contactWithLinks(db);
    const events = [
      {
        RecordType: "Bounce",
        ID: 4323372036,
        Type: "HardBounce",
        TypeCode: 1,
        MessageID: "pm-m1",
        Email: a.email,
        Description: "The server was unable to deliver your message",
        Details: "smtp;550 5.1.1 unknown",
      },
      {
        RecordType: "SpamComplaint",
        ID: 42,
        Type: "SpamComplaint",
        TypeCode: 512,
        MessageID: "pm-m2",
        Email: b.email,
        Metadata: { heed_campaign: b.campaign },
      },
      {
        RecordType: "SubscriptionChange",
        MessageID: "pm-m3",
        Recipient: c.email,
        ChangedAt: "2026-11-24T10:00:00Z",
        SuppressSending: true,
        SuppressionReason: "ManualSuppression",
        Origin: "Recipient",
        MessageStream: "broadcasts",
      },
    ];
    for (const e of events) {
      const res = await post(postmark, "/webhooks/email/postmark", JSON.stringify(e), auth());
      expect(res.status).toBe(200);
    }
    expect(await sendState(db, a.email)).toBe("undeliverable");
    expect((await ledgerOf(db, b.email))[0]).toMatchObject({
      source: "complaint",
      campaign: b.campaign,
    });
    expect((await ledgerOf(db, c.email)).map((r) => [r.action, r.topic, r.source])).toEqual([
      ["topic_opt_out", "newsletter", "esp"],
    ]);
  });

  it("wrong or missing credentials: 403", async () => {
    const a = await contactWithLinks(db);
    const before = await counts(db);
    const e = JSON.stringify({
      RecordType: "SpamComplaint",
      ID: 77,
      MessageID: "pm-x",
      Email: a.email,
    });
    await expectRefused(
      await post(postmark, "/webhooks/email/postmark", e, auth(PM_USER, "wrong-password-123456")),
      before,
    );
    await expectRefused(
      await post(postmark, "/webhooks/email/postmark", e, { "Content-Type": "application/json" }),
      before,
    );
  });

  it("inbound JSON to a mailto address unsubscribes", async () => {
    const a = await contactWithLinks(db);
    const message = {
      FromFull: { Email: "someone@elsewhere.example", Name: "Someone" },
      To: a.mailto,
      ToFull: [{ Email: a.mailto, Name: "", MailboxHash: "" }],
      OriginalRecipient: a.mailto,
      Subject: "unsubscribe",
      MessageID: "22c74902-a0c1-4511-804f-341342852c90",
      Headers: [{ Name: "Message-ID", Value: "<pm-inbound-1@elsewhere.example>" }],
      TextBody: "unsubscribe",
    };
    const res = await post(
      inboundPostmark,
      "/webhooks/email/inbound/postmark",
      JSON.stringify(message),
      auth(),
    );
    expect(res.status).toBe(200);
    expect((await ledgerOf(db, a.email))[0]).toMatchObject({ source: "mailto" });
  });
});

// ---------------------------------------------------------------------------------------------

describe("Resend webhooks (Svix)", () => {
  function headers(id: string, body: string) {
    const now = new Date();
    return {
      "Content-Type": "application/json",
      "svix-id": id,
      "svix-timestamp": String(Math.floor(now.getTime() / 1000)),
      "svix-signature": new Webhook(RESEND_SECRET).sign(id, now, body),
    };
  }

  it("bounced (Permanent) and complained, signed with svix; a replayed delivery changes nothing", async () => {
    const a = await contactWithLinks(db);
    const b = await contactWithLinks(db);
    const bounced = JSON.stringify({
      type: "email.bounced",
      created_at: "2026-11-24T10:00:00.000Z",
      data: {
        email_id: "e-1",
        to: [a.email],
        subject: "Spring",
        bounce: { type: "Permanent", subType: "General", message: "550 5.1.1" },
      },
    });
    const complained = JSON.stringify({
      type: "email.complained",
      created_at: "2026-11-24T10:00:00.000Z",
      data: {
        email_id: "e-2",
        to: [b.email],
        tags: [{ name: "heed_campaign", value: b.campaign }],
      },
    });
    expect(
      (await post(resend, "/webhooks/email/resend", bounced, headers("msg_bounce_1", bounced)))
        .status,
    ).toBe(200);
    const h = headers("msg_complaint_1", complained);
    expect((await post(resend, "/webhooks/email/resend", complained, h)).status).toBe(200);
    expect(await sendState(db, a.email)).toBe("undeliverable");
    expect((await ledgerOf(db, b.email))[0]).toMatchObject({
      source: "complaint",
      campaign: b.campaign,
    });
    const before = await counts(db);
    expect((await post(resend, "/webhooks/email/resend", complained, h)).status).toBe(200);
    expect(await counts(db)).toEqual(before);
  });

  it("tampered or unsigned: 403", async () => {
    const a = await contactWithLinks(db);
    const before = await counts(db);
    const body = JSON.stringify({ type: "email.complained", data: { to: [a.email] } });
    const h = headers("msg_t1", body);
    await expectRefused(
      await post(resend, "/webhooks/email/resend", body.replace("complained", "bounced"), h),
      before,
    );
    await expectRefused(
      await post(resend, "/webhooks/email/resend", body, { "Content-Type": "application/json" }),
      before,
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe("SendGrid Inbound Parse (signed multipart)", () => {
  it("a raw MIME message to a mailto address unsubscribes; unsigned is refused", async () => {
    const a = await contactWithLinks(db);
    const form = new FormData();
    form.set("envelope", JSON.stringify({ to: [a.mailto], from: "someone@elsewhere.example" }));
    form.set(
      "email",
      [
        "From: Someone <someone@elsewhere.example>",
        `To: ${a.mailto}`,
        "Subject: unsubscribe",
        "Message-ID: <sg-inbound-1@elsewhere.example>",
        "",
        "unsubscribe",
      ].join("\r\n"),
    );
    form.set("subject", "unsubscribe");
    const encoded = new Response(form);
    const type = encoded.headers.get("content-type")!;
    const raw = Buffer.from(await encoded.arrayBuffer());
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = crypto
      .sign("sha256", Buffer.concat([Buffer.from(timestamp), raw]), {
        key: sgInbound.privateKey,
        dsaEncoding: "der",
      })
      .toString("base64");
    const before = await counts(db);
    await expectRefused(
      await post(inboundSendgrid, "/webhooks/email/inbound/sendgrid", raw, {
        "Content-Type": type,
      }),
      before,
    );
    const res = await post(inboundSendgrid, "/webhooks/email/inbound/sendgrid", raw, {
      "Content-Type": type,
      "X-Twilio-Email-Event-Webhook-Signature": signature,
      "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    });
    expect(res.status).toBe(200);
    expect((await ledgerOf(db, a.email))[0]).toMatchObject({
      source: "mailto",
      campaign: a.campaign,
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe("Amazon SES through SNS", () => {
  let seq = 0;
  function snsMessage(
    fields: {
      Type: string;
      Message: string;
      SubscribeURL?: string;
      Token?: string;
      Subject?: string;
    },
    options: { version?: "1" | "2"; key?: string; certUrl?: string; topic?: string } = {},
  ) {
    const m: Record<string, string> = {
      Type: fields.Type,
      MessageId: `0000000${++seq}-aaaa-bbbb-cccc-dddddddddddd`,
      TopicArn: options.topic ?? TOPIC_ARN,
      Message: fields.Message,
      Timestamp: "2026-11-24T10:00:00.000Z",
      SignatureVersion: options.version ?? "1",
      SigningCertURL: options.certUrl ?? CERT_URL,
    };
    if (fields.Subject !== undefined) m.Subject = fields.Subject;
    if (fields.SubscribeURL) m.SubscribeURL = fields.SubscribeURL;
    if (fields.Token) m.Token = fields.Token;
    // The string to sign, as AWS documents it (computed here, independently of the app).
    const order =
      m.Type === "Notification"
        ? ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
        : ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"];
    const toSign = order
      .filter((k) => m[k] !== undefined)
      .map((k) => `${k}\n${m[k]}\n`)
      .join("");
    const key = fs.readFileSync(path.join(FIXTURES, options.key ?? "sns-signing.key"));
    m.Signature = crypto
      .sign(m.SignatureVersion === "1" ? "RSA-SHA1" : "RSA-SHA256", Buffer.from(toSign), key)
      .toString("base64");
    return JSON.stringify(m);
  }
  const headers = (type: string) => ({
    "Content-Type": "text/plain; charset=UTF-8",
    "x-amz-sns-message-type": type,
    "User-Agent": "Amazon Simple Notification Service Agent",
  });

  it("confirms the subscription by visiting its SubscribeURL", async () => {
    snsRequests.length = 0;
    const subscribeUrl = `https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${encodeURIComponent(TOPIC_ARN)}&Token=2336412f37f`;
    const body = snsMessage({
      Type: "SubscriptionConfirmation",
      Message: `You have chosen to subscribe to the topic ${TOPIC_ARN}.`,
      SubscribeURL: subscribeUrl,
      Token: "2336412f37f",
    });
    const res = await post(ses, "/webhooks/email/ses", body, headers("SubscriptionConfirmation"));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ confirmed: true });
    expect(
      snsRequests.some((r) =>
        r.startsWith("sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"),
      ),
    ).toBe(true);
  });

  it("a permanent bounce naming two recipients (v1 signature) marks both undeliverable", async () => {
    const a = await contactWithLinks(db);
    const b = await contactWithLinks(db);
    const event = {
      eventType: "Bounce",
      bounce: {
        bounceType: "Permanent",
        bounceSubType: "General",
        bouncedRecipients: [
          {
            emailAddress: a.email,
            action: "failed",
            status: "5.1.1",
            diagnosticCode: "smtp; 550 5.1.1 user unknown",
          },
          { emailAddress: b.email, action: "failed", status: "5.1.1" },
        ],
        timestamp: "2026-11-24T10:00:00.000Z",
        feedbackId: "0100018c-bounce-1",
      },
      mail: {
        messageId: "0100018c-m1",
        destination: [a.email, b.email],
        tags: { heed_campaign: [a.campaign!] },
      },
    };
    const res = await post(
      ses,
      "/webhooks/email/ses",
      snsMessage({ Type: "Notification", Message: JSON.stringify(event) }),
      headers("Notification"),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: 2 });
    expect(await sendState(db, a.email)).toBe("undeliverable");
    expect(await sendState(db, b.email, "transactional")).toBe("undeliverable");
    const marks = await withEmailTables(db)
      .selectFrom("undeliverable_events")
      .selectAll()
      .where("campaign", "=", a.campaign)
      .execute();
    expect(marks).toHaveLength(2);
  });

  it("a complaint (v2 signature, with the original headers) unsubscribes; SNS's retry changes nothing", async () => {
    const a = await contactWithLinks(db);
    const event = {
      notificationType: "Complaint",
      complaint: {
        complainedRecipients: [{ emailAddress: a.email }],
        timestamp: "2026-11-24T10:05:00.000Z",
        feedbackId: "0100018c-complaint-1",
        complaintFeedbackType: "abuse",
        userAgent: "Yahoo!-Mail-Feedback/2.0",
      },
      mail: {
        messageId: "0100018c-m2",
        destination: [a.email],
        headers: [{ name: "List-Unsubscribe", value: a.header }],
      },
    };
    const body = snsMessage(
      { Type: "Notification", Message: JSON.stringify(event), Subject: "Amazon SES Complaint" },
      { version: "2" },
    );
    expect((await post(ses, "/webhooks/email/ses", body, headers("Notification"))).status).toBe(
      200,
    );
    // Campaign from Heed's own link in the headers SES passed on.
    expect((await ledgerOf(db, a.email))[0]).toMatchObject({
      source: "complaint",
      campaign: a.campaign,
    });
    const before = await counts(db);
    expect((await post(ses, "/webhooks/email/ses", body, headers("Notification"))).status).toBe(
      200,
    );
    expect(await counts(db)).toEqual(before);
  });

  it("refuses a wrong key, a certificate outside sns.<region>.amazonaws.com, an unknown topic, a tampered message", async () => {
    const a = await contactWithLinks(db);
    const event = JSON.stringify({
      eventType: "Complaint",
      complaint: {
        complainedRecipients: [{ emailAddress: a.email }],
        feedbackId: "fb-x",
        complaintFeedbackType: "abuse",
      },
    });
    const before = await counts(db);
    snsRequests.length = 0;
    await expectRefused(
      await post(
        ses,
        "/webhooks/email/ses",
        snsMessage({ Type: "Notification", Message: event }, { key: "forged-signing.key" }),
        headers("Notification"),
      ),
      before,
    );
    for (const certUrl of [
      "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
      "http://sns.us-east-1.amazonaws.com/cert.pem",
      "https://evil.example/SimpleNotificationService-1.pem",
      "https://sns.us-east-1.amazonaws.com:8443/cert.pem",
    ]) {
      await expectRefused(
        await post(
          ses,
          "/webhooks/email/ses",
          snsMessage({ Type: "Notification", Message: event }, { certUrl }),
          headers("Notification"),
        ),
        before,
      );
    }
    // Nothing was fetched for the untrusted URLs.
    expect(snsRequests.filter((r) => !r.startsWith("sns.us-east-1.amazonaws.com/"))).toEqual([]);
    await expectRefused(
      await post(
        ses,
        "/webhooks/email/ses",
        snsMessage(
          { Type: "Notification", Message: event },
          { topic: "arn:aws:sns:us-east-1:999999999999:attacker" },
        ),
        headers("Notification"),
      ),
      before,
    );
    const good = snsMessage({ Type: "Notification", Message: event });
    await expectRefused(
      await post(
        ses,
        "/webhooks/email/ses",
        good.replace("abuse", "fraud"),
        headers("Notification"),
      ),
      before,
    );
    await expectRefused(
      await post(
        ses,
        "/webhooks/email/ses",
        JSON.stringify({ Type: "Notification", Message: event }),
        headers("Notification"),
      ),
      before,
    );
    expect(await sendState(db, a.email)).toBe("allowed");
  });
});
