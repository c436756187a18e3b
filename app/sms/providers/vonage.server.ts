import crypto from "node:crypto";
import { jwtVerify } from "jose";
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
 * Vonage Messages API.
 *
 * Inbound (POST /webhooks/sms/vonage, the application's inbound URL): JSON, signed with a JWT in
 * `Authorization: Bearer …` — HS256 with the account's signature secret (VONAGE_SIGNATURE_SECRET),
 * whose `payload_hash` claim is the SHA-256 (hex) of the body. Both are checked: the token's
 * signature (jose, constant time) and the body's hash (constant-time compare), so neither a
 * forged token nor a changed body passes. Tokens older than a day are refused (Vonage retries
 * for 24 hours; each retry is the same message id, which changes nothing).
 *
 * Outbound: POST https://api.nexmo.com/v1/messages with basic auth (API key and secret).
 */

const MAX_TOKEN_AGE_SECONDS = 24 * 60 * 60;

function bearer(headers: Headers): string | null {
  const m = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(
    headers.get("authorization")?.trim() ?? "",
  );
  return m ? m[1]! : null;
}

export const vonageInbound: InboundAdapter = {
  provider: "vonage",
  contentTypes: ["application/json"],
  maxBytes: 64 * 1024,
  signatureHeaders: ["authorization"],
  notConfigured: (env) =>
    env.VONAGE_SIGNATURE_SECRET ? null : "VONAGE_SIGNATURE_SECRET is not configured",
  async verify({ raw, headers, env, now }) {
    const token = bearer(headers);
    if (!token) return false;
    try {
      const { payload } = await jwtVerify(
        token,
        new TextEncoder().encode(env.VONAGE_SIGNATURE_SECRET!),
        { algorithms: ["HS256"], currentDate: new Date(now), clockTolerance: 300 },
      );
      const iat = typeof payload.iat === "number" ? payload.iat : null;
      if (iat === null || Math.abs(now / 1000 - iat) > MAX_TOKEN_AGE_SECONDS) return false;
      const claimed = typeof payload.payload_hash === "string" ? payload.payload_hash : "";
      const actual = crypto.createHash("sha256").update(raw).digest("hex");
      return safeEqual(claimed.toLowerCase(), actual);
    } catch {
      return false;
    }
  },
  translate(raw) {
    const body = obj(parseJson(raw));
    if (!body) throw new BadPayload("the body is not a JSON object");
    const channel = str(body.channel);
    const id = str(body.message_uuid);
    // Status callbacks (delivered, read, ...) and other channels carry no reply to decide on.
    if (!id || str(body.status) || (channel !== "sms" && channel !== "whatsapp")) return [];
    const from = str(body.from);
    if (!from) throw new BadPayload("no from field");
    const type = str(body.message_type);
    const button = obj(body.button);
    const reply = obj(body.reply);
    let text = str(body.text) ?? "";
    let payload: string | null = null;
    if (type === "button" && button) {
      text = str(button.text) ?? text;
      payload = str(button.payload);
    } else if (type === "reply" && reply) {
      text = str(reply.title) ?? text;
      payload = str(reply.id);
    }
    const message: InboundSms = {
      provider: "vonage",
      providerMessageId: id,
      channel,
      from: digitsToE164(from),
      to: digitsToE164(str(body.to)),
      text,
      buttonPayload: payload,
      sentAt: dateOrNull(body.timestamp),
    };
    return [message];
  },
};

export const vonageOutbound: OutboundProvider = {
  provider: "vonage",
  configured(env, channel) {
    if (!env.VONAGE_API_KEY || !env.VONAGE_API_SECRET) return false;
    return channel === "whatsapp" ? Boolean(env.VONAGE_WHATSAPP_FROM) : Boolean(env.VONAGE_FROM);
  },
  send(env, msg, options) {
    const configuredFrom =
      msg.channel === "whatsapp" ? env.VONAGE_WHATSAPP_FROM! : env.VONAGE_FROM!;
    const from = (msg.from && /^\+?\d+$/.test(msg.from) ? msg.from : configuredFrom).replace(
      /^\+/,
      "",
    );
    const base = (options.baseUrl ?? "https://api.nexmo.com").replace(/\/+$/, "");
    const auth = Buffer.from(`${env.VONAGE_API_KEY}:${env.VONAGE_API_SECRET}`).toString("base64");
    return postToProvider(
      "Vonage",
      `${base}/v1/messages`,
      {
        headers: { Authorization: `Basic ${auth}`, "Content-Type": "application/json" },
        body: JSON.stringify({
          message_type: "text",
          channel: msg.channel,
          to: msg.to.replace(/^\+/, ""),
          from,
          text: msg.body,
        }),
      },
      options,
      (json) => str(json.message_uuid),
    );
  },
};
