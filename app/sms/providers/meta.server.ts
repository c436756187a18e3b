import crypto from "node:crypto";
import type { InboundSms } from "~/sms/inbound.server";
import {
  BadPayload,
  dateOrNull,
  digitsToE164,
  obj,
  parseJson,
  postToProvider,
  safeEqual,
  str,
  type InboundAdapter,
  type OutboundProvider,
} from "./shared.server";

/**
 * WhatsApp Cloud API (Meta), directly.
 *
 * - GET /webhooks/whatsapp/meta: the subscription handshake. Meta sends hub.mode=subscribe,
 *   hub.verify_token (compared in constant time with WHATSAPP_VERIFY_TOKEN) and hub.challenge,
 *   which is echoed back.
 * - POST: JSON signed with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the
 *   app secret>` (WHATSAPP_APP_SECRET). One POST may batch several entries, changes, messages and
 *   statuses; every message becomes one event (statuses are ignored). Text messages, template
 *   quick-reply buttons (type `button`: payload and text, e.g. "Stop promotions") and interactive
 *   replies (button_reply / list_reply) are read.
 *
 * Outbound: POST https://graph.facebook.com/{version}/{phone number id}/messages with the
 * access token (a free-form text, which WhatsApp allows in reply to the person's message).
 */

export function verifyMetaHandshake(
  params: URLSearchParams,
  verifyToken: string | undefined,
): string | null {
  if (!verifyToken) return null;
  const mode = params.get("hub.mode");
  const token = params.get("hub.verify_token") ?? "";
  const challenge = params.get("hub.challenge") ?? "";
  if (mode !== "subscribe" || !safeEqual(token, verifyToken)) return null;
  // Meta's challenge is a number; answer nothing else (it is echoed as text/plain).
  return /^[A-Za-z0-9_-]{1,128}$/.test(challenge) ? challenge : null;
}

function messageOf(m: Record<string, unknown>, to: string | null): InboundSms | null {
  const id = str(m.id);
  const from = str(m.from);
  if (!id || !from) return null;
  let text = "";
  let payload: string | null = null;
  const type = str(m.type);
  if (type === "text") text = str(obj(m.text)?.body) ?? "";
  else if (type === "button") {
    const b = obj(m.button);
    text = str(b?.text) ?? "";
    payload = str(b?.payload);
  } else if (type === "interactive") {
    const i = obj(m.interactive);
    const reply = obj(i?.button_reply) ?? obj(i?.list_reply);
    text = str(reply?.title) ?? "";
    payload = str(reply?.id);
  }
  return {
    provider: "meta",
    providerMessageId: id,
    channel: "whatsapp",
    from: digitsToE164(from),
    to: to ? digitsToE164(to.replace(/[\s+()-]/g, "")) : null,
    text,
    buttonPayload: payload,
    sentAt: dateOrNull(m.timestamp),
  };
}

export const metaInbound: InboundAdapter = {
  provider: "meta",
  contentTypes: ["application/json"],
  maxBytes: 1024 * 1024,
  signatureHeaders: ["x-hub-signature-256"],
  notConfigured: (env) =>
    env.WHATSAPP_APP_SECRET ? null : "WHATSAPP_APP_SECRET is not configured",
  verify({ raw, headers, env }) {
    const header = (headers.get("x-hub-signature-256") ?? "").trim();
    if (!/^sha256=[0-9a-fA-F]{64}$/.test(header)) return false;
    const expected = crypto
      .createHmac("sha256", env.WHATSAPP_APP_SECRET!)
      .update(raw)
      .digest("hex");
    return safeEqual(header.slice(7).toLowerCase(), expected);
  },
  translate(raw) {
    const body = obj(parseJson(raw));
    if (!body) throw new BadPayload("the body is not a JSON object");
    if (!Array.isArray(body.entry)) throw new BadPayload("no entry array");
    const out: InboundSms[] = [];
    for (const entry of body.entry) {
      const changes = obj(entry)?.changes;
      if (!Array.isArray(changes)) continue;
      for (const change of changes) {
        const value = obj(obj(change)?.value);
        if (!value || !Array.isArray(value.messages)) continue;
        const to = str(obj(value.metadata)?.display_phone_number);
        for (const m of value.messages) {
          const msg = obj(m) ? messageOf(obj(m)!, to) : null;
          if (msg) out.push(msg);
        }
      }
    }
    return out;
  },
};

export const metaOutbound: OutboundProvider = {
  provider: "meta",
  configured: (env, channel) =>
    channel === "whatsapp" && Boolean(env.WHATSAPP_ACCESS_TOKEN && env.WHATSAPP_PHONE_NUMBER_ID),
  send(env, msg, options) {
    const base = (options.baseUrl ?? "https://graph.facebook.com").replace(/\/+$/, "");
    return postToProvider(
      "WhatsApp Cloud API",
      `${base}/${env.WHATSAPP_GRAPH_VERSION}/${env.WHATSAPP_PHONE_NUMBER_ID}/messages`,
      {
        headers: {
          Authorization: `Bearer ${env.WHATSAPP_ACCESS_TOKEN}`,
          "Content-Type": "application/json",
        },
        body: JSON.stringify({
          messaging_product: "whatsapp",
          recipient_type: "individual",
          to: msg.to.replace(/^\+/, ""),
          type: "text",
          text: { preview_url: false, body: msg.body },
        }),
      },
      options,
      (json) => (Array.isArray(json.messages) ? str(obj(json.messages[0])?.id) : null),
    );
  },
};
