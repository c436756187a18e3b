import crypto from "node:crypto";
import { parseProviderOptOutType } from "~/sms/keywords";
import {
  BadPayload,
  dateOrNull,
  obj,
  parseJson,
  postToProvider,
  str,
  type InboundAdapter,
  type OutboundProvider,
} from "./shared.server";

/**
 * Telnyx (API v2).
 *
 * Inbound (POST /webhooks/sms/telnyx, the messaging profile's webhook URL): JSON events; a reply
 * is `message.received` with data.payload {id, from.phone_number, to[].phone_number, text,
 * autoresponse_type when Telnyx's own opt-out/help handling matched}. Signed with Ed25519:
 * `telnyx-signature-ed25519` is base64 of the signature over `{telnyx-timestamp}|{raw body}`,
 * verified with the account's public key (TELNYX_PUBLIC_KEY, base64). A timestamp further than
 * TELNYX_TIMESTAMP_TOLERANCE_SECONDS (300) from now is refused, so an old capture cannot be
 * replayed; a replay within the window is recognised by its message id.
 *
 * Outbound: POST https://api.telnyx.com/v2/messages with the API key as bearer token.
 */

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it. */
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

const keys = new Map<string, crypto.KeyObject>();
function publicKey(base64: string): crypto.KeyObject {
  let key = keys.get(base64);
  if (!key) {
    const raw = Buffer.from(base64, "base64");
    if (raw.length !== 32) throw new Error("TELNYX_PUBLIC_KEY must be 32 bytes (base64)");
    key = crypto.createPublicKey({
      key: Buffer.concat([ED25519_SPKI_PREFIX, raw]),
      format: "der",
      type: "spki",
    });
    keys.set(base64, key);
  }
  return key;
}

export const telnyxInbound: InboundAdapter = {
  provider: "telnyx",
  contentTypes: ["application/json"],
  maxBytes: 128 * 1024,
  signatureHeaders: ["telnyx-signature-ed25519", "telnyx-timestamp"],
  notConfigured: (env) => (env.TELNYX_PUBLIC_KEY ? null : "TELNYX_PUBLIC_KEY is not configured"),
  verify({ raw, headers, env, now }) {
    const timestamp = headers.get("telnyx-timestamp") ?? "";
    const signature = headers.get("telnyx-signature-ed25519") ?? "";
    if (!/^\d{1,12}$/.test(timestamp)) return false;
    if (Math.abs(now / 1000 - Number(timestamp)) > env.TELNYX_TIMESTAMP_TOLERANCE_SECONDS) {
      return false;
    }
    if (!/^[A-Za-z0-9+/]{86}==$/.test(signature)) return false;
    const signed = Buffer.concat([Buffer.from(`${timestamp}|`, "utf8"), raw]);
    try {
      return crypto.verify(
        null,
        signed,
        publicKey(env.TELNYX_PUBLIC_KEY!),
        Buffer.from(signature, "base64"),
      );
    } catch {
      return false;
    }
  },
  translate(raw) {
    const body = obj(parseJson(raw));
    const data = obj(body?.data);
    if (!data) throw new BadPayload("no data object");
    // Delivery reports (message.sent, message.finalized) are not replies.
    if (str(data.event_type) !== "message.received") return [];
    const payload = obj(data.payload);
    if (!payload) throw new BadPayload("no data.payload object");
    const id = str(payload.id);
    const from = str(obj(payload.from)?.phone_number);
    if (!id) throw new BadPayload("no data.payload.id");
    if (!from) throw new BadPayload("no data.payload.from.phone_number");
    const to = Array.isArray(payload.to) ? str(obj(payload.to[0])?.phone_number) : null;
    return [
      {
        provider: "telnyx",
        providerMessageId: id,
        channel: "sms",
        from,
        to,
        text: str(payload.text) ?? "",
        optOutType: parseProviderOptOutType(str(payload.autoresponse_type)),
        sentAt: dateOrNull(payload.received_at) ?? dateOrNull(data.occurred_at),
      },
    ];
  },
};

export const telnyxOutbound: OutboundProvider = {
  provider: "telnyx",
  configured: (env, channel) =>
    channel === "sms" &&
    Boolean(env.TELNYX_API_KEY && (env.TELNYX_FROM || env.TELNYX_MESSAGING_PROFILE_ID)),
  send(env, msg, options) {
    const from = msg.from && /^\+\d+$/.test(msg.from) ? msg.from : env.TELNYX_FROM;
    const base = (options.baseUrl ?? "https://api.telnyx.com").replace(/\/+$/, "");
    return postToProvider(
      "Telnyx",
      `${base}/v2/messages`,
      {
        headers: {
          Authorization: `Bearer ${env.TELNYX_API_KEY}`,
          "Content-Type": "application/json",
        },
        body: JSON.stringify({
          to: msg.to,
          text: msg.body,
          ...(from ? { from } : {}),
          ...(env.TELNYX_MESSAGING_PROFILE_ID
            ? { messaging_profile_id: env.TELNYX_MESSAGING_PROFILE_ID }
            : {}),
        }),
      },
      options,
      (json) => str(obj(json.data)?.id),
    );
  },
};
