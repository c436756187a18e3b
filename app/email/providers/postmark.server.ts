import crypto from "node:crypto";
import { z } from "zod";
import type { EmailEvent } from "~/email/events.server";

/**
 * Postmark does not sign webhooks; it sends the HTTP basic auth credentials written into the
 * webhook URL (`https://user:password@heed.example/webhooks/email/postmark`). Heed compares them
 * with POSTMARK_WEBHOOK_USERNAME / POSTMARK_WEBHOOK_PASSWORD in constant time (SHA-256 of both
 * sides, then timingSafeEqual, so neither the length nor the content leaks).
 */
export function verifyBasicAuth(
  header: string | null,
  username: string,
  password: string,
): boolean {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
  const given = m ? Buffer.from(m[1]!, "base64").toString("utf8") : "";
  const a = crypto.createHash("sha256").update(given).digest();
  const b = crypto.createHash("sha256").update(`${username}:${password}`).digest();
  return crypto.timingSafeEqual(a, b) && m !== null;
}

export const PostmarkEvent = z
  .object({
    RecordType: z.string(),
    ID: z.union([z.number(), z.string()]).optional(),
    Type: z.string().optional(),
    MessageID: z.string().max(200).optional(),
    Email: z.string().max(320).optional(),
    Recipient: z.string().max(320).optional(),
    Description: z.string().optional(),
    Details: z.string().optional(),
    MessageStream: z.string().max(100).optional(),
    SuppressSending: z.boolean().optional(),
    SuppressionReason: z.string().nullable().optional(),
    Origin: z.string().optional(),
    ChangedAt: z.string().optional(),
    Metadata: z.record(z.string(), z.unknown()).nullable().optional(),
  })
  .loose();

const HARD = new Set(["HardBounce", "BadEmailAddress"]);
const SOFT = new Set(["SoftBounce", "Transient", "DnsError"]);

/**
 * A Postmark webhook as Heed's event: Bounce of type HardBounce/BadEmailAddress → hard bounce,
 * SoftBounce/Transient/DnsError → soft bounce; SpamComplaint → complaint; SubscriptionChange that
 * suppresses sending by ManualSuppression (the recipient used Postmark's unsubscribe link, or was
 * suppressed in Postmark) → unsubscribe, from the message stream's topic if mapped; Delivery →
 * delivered. A SubscriptionChange that lifts a suppression never re-subscribes anyone.
 *
 * Provider event id: the RecordType plus Postmark's ID of the bounce or complaint (or the
 * MessageID with the change's time for a subscription change, which has no ID of its own), plus
 * the recipient. The campaign is the metadata field `heed_campaign`.
 */
export function postmarkEvents(e: z.infer<typeof PostmarkEvent>): EmailEvent[] {
  const address = e.Email ?? e.Recipient;
  if (!address) return [];
  const campaign = e.Metadata?.heed_campaign;
  const key = e.ID !== undefined ? String(e.ID) : `${e.MessageID ?? "?"}:${e.ChangedAt ?? ""}`;
  const base = {
    provider: "postmark",
    providerEventId: `${e.RecordType}:${key}:${address.toLowerCase()}`,
    address,
    campaign: typeof campaign === "string" ? campaign : null,
  };
  switch (e.RecordType) {
    case "Bounce":
      if (HARD.has(e.Type ?? "") || SOFT.has(e.Type ?? "")) {
        return [
          {
            ...base,
            kind: HARD.has(e.Type ?? "") ? "hard_bounce" : "soft_bounce",
            detail: [e.Type, e.Details || e.Description].filter(Boolean).join(": ").slice(0, 1000),
          },
        ];
      }
      return [];
    case "SpamComplaint":
      return [{ ...base, kind: "complaint", detail: "abuse" }];
    case "SubscriptionChange":
      if (e.SuppressSending === true && e.SuppressionReason === "ManualSuppression") {
        return [{ ...base, kind: "unsubscribe", group: e.MessageStream ?? null }];
      }
      return [];
    case "Delivery":
      return [{ ...base, kind: "delivered" }];
    default:
      return [];
  }
}

export const PostmarkInbound = z
  .object({
    MessageID: z.string().max(200).optional(),
    Subject: z.string().optional(),
    OriginalRecipient: z.string().max(320).optional(),
    ToFull: z.array(z.object({ Email: z.string().max(320) }).loose()).optional(),
    CcFull: z.array(z.object({ Email: z.string().max(320) }).loose()).optional(),
    Headers: z.array(z.object({ Name: z.string(), Value: z.string() })).optional(),
    RawEmail: z.string().optional(),
  })
  .loose();
