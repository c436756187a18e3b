import crypto from "node:crypto";
import { z } from "zod";
import type { EmailEvent } from "~/email/events.server";

/**
 * Twilio SendGrid: the Signed Event Webhook and the Inbound Parse webhook's signature policy.
 * SendGrid signs `timestamp + raw body` with ECDSA (P-256, SHA-256) and sends the base64 DER
 * signature in X-Twilio-Email-Event-Webhook-Signature and the timestamp in
 * X-Twilio-Email-Event-Webhook-Timestamp; the public key is shown in SendGrid's settings as base64
 * (DER, SubjectPublicKeyInfo). node:crypto verifies it natively (the official
 * @sendgrid/eventwebhook package does the same in pure JavaScript; the tests check that both
 * agree).
 */

export const SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature";
export const TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp";

const keyCache = new Map<string, crypto.KeyObject>();

export function sendgridPublicKey(value: string): crypto.KeyObject {
  let key = keyCache.get(value);
  if (!key) {
    key = value.includes("BEGIN PUBLIC KEY")
      ? crypto.createPublicKey(value)
      : crypto.createPublicKey({
          key: Buffer.from(value.replace(/\s+/g, ""), "base64"),
          format: "der",
          type: "spki",
        });
    keyCache.set(value, key);
  }
  return key;
}

/** Whether the request was signed by SendGrid (never throws). */
export function verifySendgridSignature(
  publicKey: string,
  raw: Buffer,
  signature: string | null,
  timestamp: string | null,
): boolean {
  if (!signature || !timestamp || !/^\d{1,12}$/.test(timestamp)) return false;
  try {
    return crypto.verify(
      "sha256",
      Buffer.concat([Buffer.from(timestamp, "utf8"), raw]),
      { key: sendgridPublicKey(publicKey), dsaEncoding: "der" },
      Buffer.from(signature, "base64"),
    );
  } catch {
    return false;
  }
}

const SendgridEvent = z
  .object({
    event: z.string(),
    email: z.string().max(320).optional(),
    sg_event_id: z.string().max(200).optional(),
    sg_message_id: z.string().max(200).optional(),
    type: z.string().optional(),
    reason: z.string().optional(),
    status: z.string().optional(),
    asm_group_id: z.union([z.number(), z.string()]).optional(),
    heed_campaign: z.string().max(128).optional(),
    timestamp: z.number().optional(),
  })
  .loose();
export const SendgridEvents = z.array(SendgridEvent).max(20_000);

/**
 * SendGrid events as Heed's: `bounce` (type bounce) → hard bounce, `bounce` type blocked → soft
 * bounce, `spamreport` → complaint, `unsubscribe` → unsubscribe, `group_unsubscribe` → unsubscribe
 * from the ASM group (a topic if mapped), `delivered` → delivered. Others (processed, deferred,
 * dropped, open, click, group_resubscribe: Heed never re-subscribes on a provider's word) are
 * skipped. Provider event id: sg_event_id, SendGrid's unique id of each event. The campaign is
 * the custom argument `heed_campaign`.
 */
export function sendgridEvents(events: z.infer<typeof SendgridEvents>): EmailEvent[] {
  const out: EmailEvent[] = [];
  for (const e of events) {
    if (!e.email) continue;
    const id =
      e.sg_event_id ?? `${e.sg_message_id ?? "?"}:${e.event}:${e.email}:${e.timestamp ?? ""}`;
    const base = {
      provider: "sendgrid",
      providerEventId: id,
      address: e.email,
      campaign: e.heed_campaign ?? null,
    };
    switch (e.event) {
      case "bounce":
        out.push({
          ...base,
          kind: e.type === "blocked" ? "soft_bounce" : "hard_bounce",
          detail: [e.status, e.reason].filter(Boolean).join(" ") || null,
        });
        break;
      case "spamreport":
        out.push({ ...base, kind: "complaint", detail: "abuse" });
        break;
      case "unsubscribe":
        out.push({ ...base, kind: "unsubscribe" });
        break;
      case "group_unsubscribe":
        out.push({
          ...base,
          kind: "unsubscribe",
          group: e.asm_group_id === undefined ? null : String(e.asm_group_id),
        });
        break;
      case "delivered":
        out.push({ ...base, kind: "delivered" });
        break;
    }
  }
  return out;
}
