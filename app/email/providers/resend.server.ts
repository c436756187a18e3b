import { Webhook } from "svix";
import { z } from "zod";
import type { EmailEvent } from "~/email/events.server";

/**
 * Resend delivers webhooks through Svix (Standard Webhooks): `svix-id`, `svix-timestamp` and
 * `svix-signature` headers, HMAC-SHA256 over `id.timestamp.body` with the endpoint's `whsec_`
 * secret (RESEND_WEBHOOK_SECRET). The official `svix` package verifies it: constant-time compare,
 * several signatures during a secret rotation, and a 5-minute timestamp window against replays.
 */
export function verifyResend(secret: string, raw: Buffer, headers: Headers): boolean {
  const id = headers.get("svix-id");
  const timestamp = headers.get("svix-timestamp");
  const signature = headers.get("svix-signature");
  if (!id || !timestamp || !signature) return false;
  try {
    new Webhook(secret).verify(raw.toString("utf8"), {
      "svix-id": id,
      "svix-timestamp": timestamp,
      "svix-signature": signature,
    });
    return true;
  } catch {
    return false;
  }
}

const Tags = z
  .union([
    z.array(z.object({ name: z.string(), value: z.string() })),
    z.record(z.string(), z.string()),
  ])
  .optional();

export const ResendEvent = z.object({
  type: z.string(),
  created_at: z.string().optional(),
  data: z
    .object({
      email_id: z.string().optional(),
      to: z.union([z.array(z.string().max(320)), z.string().max(320)]).optional(),
      email: z.string().max(320).optional(),
      audience_id: z.string().max(200).optional(),
      unsubscribed: z.boolean().optional(),
      tags: Tags,
      bounce: z
        .object({
          type: z.string().optional(),
          subType: z.string().optional(),
          message: z.string().optional(),
        })
        .loose()
        .optional(),
    })
    .loose(),
});

function tag(tags: z.infer<typeof Tags>, name: string): string | null {
  if (!tags) return null;
  if (Array.isArray(tags)) return tags.find((t) => t.name === name)?.value ?? null;
  return tags[name] ?? null;
}

/**
 * A Resend event as Heed's: `email.bounced` with bounce type Permanent → hard bounce, Transient →
 * soft bounce; `email.complained` → complaint; `email.delivered` → delivered; `contact.updated`
 * with `unsubscribed: true` (Resend's own unsubscribe) → unsubscribe (from the audience's topic if
 * mapped). Provider event id: the `svix-id` of the delivery (the same on every retry), plus the
 * recipient when an event names several. The campaign is the tag `heed_campaign`.
 */
export function resendEvents(e: z.infer<typeof ResendEvent>, svixId: string): EmailEvent[] {
  const d = e.data;
  const campaign = tag(d.tags, "heed_campaign");
  if (e.type === "contact.updated") {
    if (d.unsubscribed !== true || !d.email) return [];
    return [
      {
        provider: "resend",
        providerEventId: svixId,
        kind: "unsubscribe",
        address: d.email,
        group: d.audience_id ?? null,
      },
    ];
  }
  const recipients = Array.isArray(d.to) ? d.to : d.to ? [d.to] : [];
  const make = (kind: EmailEvent["kind"], detail: string | null = null): EmailEvent[] =>
    recipients.map((address) => ({
      provider: "resend",
      providerEventId: recipients.length > 1 ? `${svixId}:${address.toLowerCase()}` : svixId,
      kind,
      address,
      campaign,
      detail,
    }));
  switch (e.type) {
    case "email.bounced": {
      const type = d.bounce?.type;
      if (type !== "Permanent" && type !== "Transient") return [];
      const detail = [type, d.bounce?.subType, d.bounce?.message].filter(Boolean).join(": ");
      return make(type === "Permanent" ? "hard_bounce" : "soft_bounce", detail);
    }
    case "email.complained":
      return make("complaint", "abuse");
    case "email.delivered":
      return make("delivered");
    default:
      return [];
  }
}
