import { z } from "zod";
import type { EmailEvent } from "~/email/events.server";

/**
 * Amazon SES events (event publishing `eventType`, or the older notifications
 * `notificationType`) as Heed's email events. One SES event can name several recipients.
 *
 * - Bounce, bounceType Permanent → hard bounce; Transient → soft bounce; Undetermined → nothing.
 * - Complaint → complaint, unless its feedback type is `not-spam` or SES reports it with a
 *   complaintSubType (the address was on the account's suppression list: no new complaint).
 * - Delivery → delivered. Subscription (SES list management): unsubscribe from all, or from a
 *   topic (the group `contactList/topic`).
 *
 * Provider event id: the feedbackId of a bounce or complaint (SES's own id of that feedback: the
 * same one arrives again when a topic is subscribed twice or SNS retries) plus the recipient.
 * The campaign comes from the message tag `heed_campaign`, or Heed's link in the original
 * `List-Unsubscribe` header when SES includes the headers.
 */

const Recipient = z.object({ emailAddress: z.string().max(320) }).loose();
const Header = z.object({ name: z.string(), value: z.string() });
const Mail = z
  .object({
    messageId: z.string().max(200).optional(),
    destination: z.array(z.string().max(320)).max(1000).optional(),
    headers: z.array(Header).max(500).optional(),
    tags: z.record(z.string(), z.array(z.string())).optional(),
  })
  .loose();

export const SesEvent = z
  .object({
    eventType: z.string().optional(),
    notificationType: z.string().optional(),
    mail: Mail.optional(),
    bounce: z
      .object({
        bounceType: z.string(),
        bounceSubType: z.string().optional(),
        bouncedRecipients: z.array(
          Recipient.extend({
            status: z.string().optional(),
            diagnosticCode: z.string().optional(),
          }),
        ),
        feedbackId: z.string().max(200),
      })
      .loose()
      .optional(),
    complaint: z
      .object({
        complainedRecipients: z.array(Recipient),
        feedbackId: z.string().max(200),
        complaintFeedbackType: z.string().optional(),
        complaintSubType: z.string().nullable().optional(),
        userAgent: z.string().optional(),
      })
      .loose()
      .optional(),
    delivery: z
      .object({ recipients: z.array(z.string().max(320)) })
      .loose()
      .optional(),
    subscription: z
      .object({
        contactList: z.string().max(200).optional(),
        newTopicPreferences: z
          .object({
            unsubscribeAll: z.boolean().optional(),
            topicSubscriptionStatus: z
              .array(z.object({ topicName: z.string(), subscriptionStatus: z.string() }))
              .optional(),
          })
          .loose()
          .optional(),
      })
      .loose()
      .optional(),
  })
  .loose();
export type SesEvent = z.infer<typeof SesEvent>;

export function sesEvents(e: SesEvent, snsMessageId: string): EmailEvent[] {
  const type = e.eventType ?? e.notificationType ?? "";
  const mail = e.mail;
  const campaign = mail?.tags?.heed_campaign?.[0] ?? null;
  const listUnsubscribe = (mail?.headers ?? [])
    .filter((h) => h.name.toLowerCase() === "list-unsubscribe")
    .map((h) => h.value);
  const common = { provider: "ses", campaign, listUnsubscribe };
  switch (type) {
    case "Bounce": {
      const b = e.bounce;
      if (!b || (b.bounceType !== "Permanent" && b.bounceType !== "Transient")) return [];
      return b.bouncedRecipients.map((r) => ({
        ...common,
        providerEventId: `${b.feedbackId}:${r.emailAddress.toLowerCase()}`,
        kind: b.bounceType === "Permanent" ? ("hard_bounce" as const) : ("soft_bounce" as const),
        address: r.emailAddress,
        detail: [b.bounceType, b.bounceSubType, r.diagnosticCode ?? r.status]
          .filter(Boolean)
          .join(": "),
      }));
    }
    case "Complaint": {
      const c = e.complaint;
      if (!c || c.complaintSubType || c.complaintFeedbackType === "not-spam") return [];
      return c.complainedRecipients.map((r) => ({
        ...common,
        providerEventId: `${c.feedbackId}:${r.emailAddress.toLowerCase()}`,
        kind: "complaint" as const,
        address: r.emailAddress,
        detail: c.complaintFeedbackType ?? "abuse",
        details: c.userAgent ? { reporter: c.userAgent } : {},
      }));
    }
    case "Delivery":
      return (e.delivery?.recipients ?? []).map((r) => ({
        ...common,
        providerEventId: `${mail?.messageId ?? snsMessageId}:delivery:${r.toLowerCase()}`,
        kind: "delivered" as const,
        address: r,
      }));
    case "Subscription": {
      const s = e.subscription;
      const prefs = s?.newTopicPreferences;
      const groups = prefs?.unsubscribeAll
        ? [null]
        : (prefs?.topicSubscriptionStatus ?? [])
            .filter((t) => t.subscriptionStatus === "OptOut")
            .map((t) => `${s?.contactList ?? ""}/${t.topicName}`);
      return (mail?.destination ?? []).flatMap((r) =>
        groups.map((group) => ({
          ...common,
          providerEventId: `${snsMessageId}:${r.toLowerCase()}:${group ?? "all"}`,
          kind: "unsubscribe" as const,
          address: r,
          group,
        })),
      );
    }
    default:
      return [];
  }
}
