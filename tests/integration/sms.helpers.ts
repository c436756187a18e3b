import crypto from "node:crypto";
import { verifySignature as vonageVerifySignature } from "@vonage/jwt";
import { SignJWT } from "jose";
import { sql } from "kysely";
import plivo from "plivo";
import { TelnyxWebhook } from "telnyx/lib/webhooks";
import twilio from "twilio";
import { addressKey } from "~/consent/consent.server";
import type { Db } from "~/db/db.server";
import { resetEnvForTests } from "~/env.server";
import * as metaRoute from "~/routes/webhooks.whatsapp.meta";
import * as plivoRoute from "~/routes/webhooks.sms.plivo";
import * as telnyxRoute from "~/routes/webhooks.sms.telnyx";
import * as twilioRoute from "~/routes/webhooks.sms.twilio";
import * as vonageRoute from "~/routes/webhooks.sms.vonage";
import { CONTEXT } from "./api.helpers";

/**
 * Requests signed the way each provider signs them, sent to the real route handlers.
 *
 * - Twilio: signed with the official `twilio` package (getExpectedTwilioSignature).
 * - Vonage: `@vonage/jwt` can only sign RS256 application tokens (tokenGenerate), not the HS256
 *   signature-secret tokens of signed webhooks, so the JWT is made here with jose from Vonage's
 *   documentation (HS256, iat, jti, iss, payload_hash = SHA-256 hex of the body) and checked with
 *   the package's own verifySignature.
 * - Plivo: the `plivo` package only validates (validateV3Signature), so the V3 signature is
 *   computed here from Plivo's documented scheme and checked with the package's validator.
 * - Telnyx: signatures are made with Telnyx's private key, which no package holds; a key pair is
 *   generated here, the body signed as documented (Ed25519 over `timestamp|body`), and checked
 *   with the `telnyx` package's TelnyxWebhook verifier.
 * - Meta: there is no official npm package; X-Hub-Signature-256 is computed from Meta's
 *   documentation (HMAC-SHA256 of the raw body with the app secret, hex, `sha256=` prefix).
 */

export const PUBLIC = "https://heed.example.com";
export const TWILIO_TOKEN = "sms-test-auth-token-0123456789";
export const VONAGE_SECRET = "vonage-signature-secret-0123456789";
export const PLIVO_TOKEN = "plivo-auth-token-0123456789";
export const META_SECRET = "meta-app-secret-0123456789";
export const META_VERIFY = "meta-verify-token-0123456789";
export const OUR_NUMBER = "+14155550100";

const telnyxKeys = crypto.generateKeyPairSync("ed25519");
export const TELNYX_PUBLIC_KEY = telnyxKeys.publicKey
  .export({ format: "der", type: "spki" })
  .subarray(-32)
  .toString("base64");

export const SMS_ENV: Record<string, string> = {
  PUBLIC_URL: PUBLIC,
  TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
  VONAGE_SIGNATURE_SECRET: VONAGE_SECRET,
  PLIVO_AUTH_TOKEN: PLIVO_TOKEN,
  TELNYX_PUBLIC_KEY,
  WHATSAPP_APP_SECRET: META_SECRET,
  WHATSAPP_VERIFY_TOKEN: META_VERIFY,
  PROVIDER_ANSWERS_KEYWORDS: "none",
};

const ALL_KEYS = [
  ...Object.keys(SMS_ENV),
  "TWILIO_WEBHOOK_URL",
  "PLIVO_WEBHOOK_URL",
  "SMS_KEYWORD_NUMBER",
  "TWILIO_ACCOUNT_SID",
  "TWILIO_FROM",
];

/** Sets the test configuration (plus `extra`); returns a function that restores process.env. */
export function useSmsEnv(extra: Record<string, string | undefined> = {}): () => void {
  const saved = Object.fromEntries(
    ALL_KEYS.concat(Object.keys(extra)).map((k) => [k, process.env[k]]),
  );
  for (const [k, v] of Object.entries({ ...SMS_ENV, ...extra })) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  for (const k of ["TWILIO_WEBHOOK_URL", "PLIVO_WEBHOOK_URL"])
    if (!(k in extra)) delete process.env[k];
  resetEnvForTests();
  return () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    resetEnvForTests();
  };
}

export type Provider = "twilio" | "vonage" | "plivo" | "telnyx" | "meta";

export type Signed = {
  provider: Provider;
  url: string;
  headers: Record<string, string>;
  body: string;
};

let counter = 0;
export const nextId = (prefix = "") =>
  `${prefix}${Date.now().toString(36)}${(++counter).toString(36)}`;

// --- Twilio ------------------------------------------------------------------------------------
export function twilioRequest(
  from: string,
  text: string,
  extra: Record<string, string> = {},
  options: { url?: string; token?: string } = {},
): Signed {
  const fields: Record<string, string> = {
    AccountSid: "AC00000000000000000000000000000000",
    MessageSid: `SM${crypto.randomBytes(16).toString("hex")}`,
    From: from,
    To: from.startsWith("whatsapp:") ? `whatsapp:${OUR_NUMBER}` : OUR_NUMBER,
    Body: text,
    NumMedia: "0",
    ...extra,
  };
  const url = options.url ?? `${PUBLIC}/webhooks/sms/twilio`;
  const signature = twilio.getExpectedTwilioSignature(options.token ?? TWILIO_TOKEN, url, fields);
  return {
    provider: "twilio",
    url: "http://10.0.0.5:3000/webhooks/sms/twilio", // behind a proxy: Twilio signed the public URL
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      "X-Twilio-Signature": signature,
    },
    body: new URLSearchParams(fields).toString(),
  };
}

// --- Vonage ------------------------------------------------------------------------------------
export async function vonageSign(body: string, secret = VONAGE_SECRET): Promise<string> {
  const token = await new SignJWT({
    iss: "Vonage",
    jti: crypto.randomUUID(),
    api_key: "abcd1234",
    application_id: "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
    payload_hash: crypto.createHash("sha256").update(body).digest("hex"),
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .sign(new TextEncoder().encode(secret));
  if (secret === VONAGE_SECRET && !vonageVerifySignature(token, secret)) {
    throw new Error("@vonage/jwt does not accept the test's token");
  }
  return token;
}

export async function vonageRequest(
  from: string,
  text: string,
  extra: Record<string, unknown> = {},
): Promise<Signed> {
  const body = JSON.stringify({
    channel: "sms",
    message_uuid: crypto.randomUUID(),
    to: OUR_NUMBER.slice(1),
    from: from.replace(/^\+/, ""),
    timestamp: new Date().toISOString(),
    text,
    sms: { num_messages: "1" },
    message_type: "text",
    ...extra,
  });
  return {
    provider: "vonage",
    url: `${PUBLIC}/webhooks/sms/vonage`,
    headers: {
      "Content-Type": "application/json",
      Authorization: `Bearer ${await vonageSign(body)}`,
    },
    body,
  };
}

// --- Plivo -------------------------------------------------------------------------------------
/** Plivo's V3 scheme, written from its documentation (independently of the app's code). */
export function plivoSign(
  url: string,
  params: Record<string, string>,
  nonce: string,
  token = PLIVO_TOKEN,
) {
  const u = new URL(url);
  const query = [...u.searchParams.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const post = Object.keys(params)
    .sort()
    .map((k) => k + params[k])
    .join("");
  const base = `${u.origin}${u.pathname}?${query}${query ? "." : ""}${post}`;
  const signature = crypto.createHmac("sha256", token).update(`${base}.${nonce}`).digest("base64");
  if (
    token === PLIVO_TOKEN &&
    !plivo.validateV3Signature("POST", url, nonce, token, signature, params)
  ) {
    throw new Error("plivo.validateV3Signature does not accept the test's signature");
  }
  return signature;
}

export function plivoRequest(
  from: string,
  text: string,
  extra: Record<string, string> = {},
): Signed {
  const params: Record<string, string> = {
    From: from.replace(/^\+/, ""),
    To: OUR_NUMBER.replace(/^\+/, ""),
    Type: "sms",
    Text: text,
    MessageUUID: crypto.randomUUID(),
    TotalRate: "0",
    TotalAmount: "0",
    Units: "1",
    ...extra,
  };
  const url = `${PUBLIC}/webhooks/sms/plivo`;
  const nonce = crypto.randomBytes(10).toString("hex");
  return {
    provider: "plivo",
    url,
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      "X-Plivo-Signature-V3": plivoSign(url, params, nonce),
      "X-Plivo-Signature-V3-Nonce": nonce,
    },
    body: new URLSearchParams(params).toString(),
  };
}

// --- Telnyx ------------------------------------------------------------------------------------
export async function telnyxSign(body: string, timestamp: string, key = telnyxKeys.privateKey) {
  const signature = crypto.sign(null, Buffer.from(`${timestamp}|${body}`), key).toString("base64");
  if (key === telnyxKeys.privateKey) {
    // Throws if the package's verifier disagrees.
    await new TelnyxWebhook(TELNYX_PUBLIC_KEY).verify(body, {
      "telnyx-signature-ed25519": signature,
      "telnyx-timestamp": timestamp,
    });
  }
  return signature;
}

export async function telnyxRequest(
  from: string,
  text: string,
  extra: Record<string, unknown> = {},
  options: { timestamp?: number } = {},
): Promise<Signed> {
  const now = new Date();
  const body = JSON.stringify({
    data: {
      event_type: "message.received",
      id: crypto.randomUUID(),
      occurred_at: now.toISOString(),
      payload: {
        id: crypto.randomUUID(),
        direction: "inbound",
        from: { phone_number: from, carrier: "T-Mobile USA", line_type: "Wireless" },
        to: [{ phone_number: OUR_NUMBER, status: "webhook_delivered" }],
        text,
        type: "SMS",
        received_at: now.toISOString(),
        record_type: "message",
        ...extra,
      },
      record_type: "event",
    },
    meta: { attempt: 1, delivered_to: `${PUBLIC}/webhooks/sms/telnyx` },
  });
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  return {
    provider: "telnyx",
    url: `${PUBLIC}/webhooks/sms/telnyx`,
    headers: {
      "Content-Type": "application/json",
      "telnyx-signature-ed25519": await telnyxSign(body, timestamp),
      "telnyx-timestamp": timestamp,
    },
    body,
  };
}

// --- Meta --------------------------------------------------------------------------------------
export function metaSign(body: string, secret = META_SECRET): string {
  return `sha256=${crypto.createHmac("sha256", secret).update(body).digest("hex")}`;
}

export type MetaMessage = Record<string, unknown>;

export function metaText(from: string, text: string, extra: MetaMessage = {}): MetaMessage {
  return {
    from: from.replace(/^\+/, ""),
    id: `wamid.${crypto.randomBytes(12).toString("hex")}`,
    timestamp: String(Math.floor(Date.now() / 1000)),
    type: "text",
    text: { body: text },
    ...extra,
  };
}

export function metaButton(from: string, payload: string, text = payload): MetaMessage {
  return {
    from: from.replace(/^\+/, ""),
    id: `wamid.${crypto.randomBytes(12).toString("hex")}`,
    timestamp: String(Math.floor(Date.now() / 1000)),
    context: { from: OUR_NUMBER.slice(1), id: "wamid.template" },
    type: "button",
    button: { payload, text },
  };
}

export function metaRequest(messages: MetaMessage[], statuses: unknown[] = []): Signed {
  const body = JSON.stringify({
    object: "whatsapp_business_account",
    entry: [
      {
        id: "102290129340398",
        changes: [
          {
            value: {
              messaging_product: "whatsapp",
              metadata: {
                display_phone_number: OUR_NUMBER.slice(1),
                phone_number_id: "106540352242922",
              },
              contacts: messages.map((m) => ({ profile: { name: "Kerry" }, wa_id: m.from })),
              messages,
              ...(statuses.length ? { statuses } : {}),
            },
            field: "messages",
          },
        ],
      },
    ],
  });
  return {
    provider: "meta",
    url: `${PUBLIC}/webhooks/whatsapp/meta`,
    headers: { "Content-Type": "application/json", "X-Hub-Signature-256": metaSign(body) },
    body,
  };
}

// --- Sending -----------------------------------------------------------------------------------
const ROUTES = {
  twilio: twilioRoute,
  vonage: vonageRoute,
  plivo: plivoRoute,
  telnyx: telnyxRoute,
  meta: metaRoute,
};

export async function send(req: Signed, change: Partial<Signed> = {}): Promise<Response> {
  const r = { ...req, ...change };
  const request = new Request(r.url, { method: "POST", headers: r.headers, body: r.body });
  return ROUTES[r.provider].action({ request, params: {}, context: CONTEXT });
}

/** Everything a webhook could have written. */
export async function counts(db: Db) {
  const r = await sql<{ ledger: number; outbox: number; consent: number; inbound: number }>`
    select (select count(*) from consent_ledger)::int as ledger,
           (select count(*) from outbox)::int as outbox,
           (select count(*) from channel_consent)::int as consent,
           (select count(*) from inbound_messages)::int as inbound`.execute(db);
  return r.rows[0]!;
}

export async function ledger(db: Db, channel: "sms" | "whatsapp", phone: string) {
  return db
    .selectFrom("consent_ledger")
    .selectAll()
    .where("channel", "=", channel)
    .where("address_hash", "=", addressKey(phone))
    .orderBy("id")
    .execute();
}

export async function replies(db: Db, recipient: string) {
  return db
    .selectFrom("outbox")
    .selectAll()
    .where("kind", "=", "sms")
    .where("recipient", "=", recipient)
    .orderBy("id")
    .execute();
}
