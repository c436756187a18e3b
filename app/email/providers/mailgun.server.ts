import crypto from "node:crypto";
import { sql } from "kysely";
import { z } from "zod";
import type { Db } from "~/db/db.server";
import type { EmailEvent } from "~/email/events.server";

/**
 * Mailgun signs each webhook (events and routes) with HMAC-SHA256 of `timestamp + token` under
 * the HTTP webhook signing key (MAILGUN_WEBHOOK_SIGNING_KEY), hex. The signature sits inside the
 * body (JSON `signature` for events, form fields for routes), so the body is parsed to read it,
 * and nothing in it is used before it is checked (constant time). The signature does not cover
 * the event itself, so a token is accepted with one event only (a captured signature cannot
 * carry a forged event), and a timestamp more than a day away from now is refused.
 */

const MAX_SKEW_SECONDS = 24 * 60 * 60;

export const MailgunSignature = z.object({
  timestamp: z.union([z.string(), z.number()]).transform(String),
  token: z.string().min(10).max(200),
  signature: z.string().regex(/^[0-9a-f]{64}$/i),
});
export type MailgunSignature = z.infer<typeof MailgunSignature>;

export function verifyMailgunSignature(
  key: string,
  s: MailgunSignature,
  now = Date.now(),
): boolean {
  if (!/^\d{1,12}$/.test(s.timestamp)) return false;
  if (Math.abs(now / 1000 - Number(s.timestamp)) > MAX_SKEW_SECONDS) return false;
  const expected = crypto.createHmac("sha256", key).update(`${s.timestamp}${s.token}`).digest();
  const given = Buffer.from(s.signature, "hex");
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

/** Whether this token already came with another event (a replayed signature). */
export async function tokenUsedElsewhere(db: Db, token: string, eventId: string): Promise<boolean> {
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from inbound_messages
    where details ? 'signatureToken' and details ->> 'signatureToken' = ${token}
      and not (provider = 'mailgun' and provider_message_id = ${eventId})`.execute(db);
  return Number(rows[0]!.n) > 0;
}

export const MailgunEventBody = z.object({
  signature: MailgunSignature,
  "event-data": z
    .object({
      id: z.string().min(1).max(200),
      event: z.string(),
      recipient: z.string().max(320).optional(),
      severity: z.string().optional(),
      reason: z.string().optional(),
      tags: z.array(z.string()).optional(),
      "user-variables": z.record(z.string(), z.unknown()).optional(),
      "delivery-status": z
        .object({
          code: z.union([z.number(), z.string()]).optional(),
          message: z.string().optional(),
          description: z.string().optional(),
        })
        .loose()
        .optional(),
    })
    .loose(),
});

/**
 * A Mailgun event as Heed's: `failed` with severity permanent → hard bounce, temporary → soft
 * bounce; `complained` → complaint; `unsubscribed` → unsubscribe from email (the event does not
 * tell a tag unsubscribe from a full one, so Heed takes the safe reading); `delivered` →
 * delivered. The event's `id` is its provider id; the
 * campaign is the user variable `heed_campaign`.
 */
export function mailgunEvents(body: z.infer<typeof MailgunEventBody>): EmailEvent[] {
  const e = body["event-data"];
  if (!e.recipient) return [];
  const campaign = e["user-variables"]?.heed_campaign;
  const base = {
    provider: "mailgun",
    providerEventId: e.id,
    address: e.recipient,
    campaign: typeof campaign === "string" ? campaign : null,
    details: { signatureToken: body.signature.token },
  };
  const status = e["delivery-status"];
  switch (e.event) {
    case "failed":
      if (e.severity !== "permanent" && e.severity !== "temporary") return [];
      return [
        {
          ...base,
          kind: e.severity === "permanent" ? "hard_bounce" : "soft_bounce",
          detail: [status?.code, status?.description || status?.message, e.reason]
            .filter(Boolean)
            .join(" ")
            .slice(0, 1000),
        },
      ];
    case "complained":
      return [{ ...base, kind: "complaint", detail: "abuse" }];
    case "unsubscribed":
      // The event does not say whether the person left one tag or everything: everything.
      return [{ ...base, kind: "unsubscribe" }];
    case "delivered":
      return [{ ...base, kind: "delivered" }];
    default:
      return [];
  }
}
