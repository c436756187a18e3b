import { bulkUnsubscribe } from "~/consent/bulk.server";
import { applyConsentChanges } from "~/consent/consent.server";
import type { Db } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { handleEmailEvents, type EmailEventsResult } from "~/email/events.server";
import { codeOfRecipient, findMailtoCode, mailtoConfig } from "~/email/mailto.server";
import { headerValues, readFeedbackReport, sha256 } from "~/email/mime.server";
import { handleInboundOnce } from "~/inbound/inbound.server";

/**
 * Email that people and mailbox providers send to Heed: a message to a List-Unsubscribe mailto
 * address, or a feedback-loop report to the FBL address. The SMTP listener and the ESPs' inbound
 * parse webhooks all end here. Nothing is ever sent back to the sender of a message.
 */

export type RecipientKind = "mailto" | "fbl";

/** What a recipient address is to Heed: one of its mailto addresses, its FBL address, or neither. */
export function recipientKind(recipient: string): { kind: RecipientKind; code?: string } | null {
  const r = recipient.trim().replace(/^<|>$/g, "").toLowerCase();
  const fbl = getEnv().INBOUND_FBL_ADDRESS?.toLowerCase();
  if (fbl && r === fbl) return { kind: "fbl" };
  const code = codeOfRecipient(r, mailtoConfig());
  return code ? { kind: "mailto", code } : null;
}

/**
 * Whether Heed accepts mail for this recipient: the FBL address, or a mailto address whose code
 * Heed handed out (a forged or unknown code is refused, so the message is never even received).
 */
export async function acceptsRecipient(db: Db, recipient: string): Promise<boolean> {
  const k = recipientKind(recipient);
  if (!k) return false;
  if (k.kind === "fbl") return true;
  return (await findMailtoCode(db, k.code!)) !== null;
}

export type MailtoMessage = {
  /** smtp, sendgrid_inbound, mailgun_inbound, postmark_inbound */
  provider: string;
  /** The message's Message-ID header (or the provider's id of the message). */
  messageId: string | null;
  /** A stable id of the message when it has no Message-ID (a hash of its bytes). */
  fallbackId: string;
  /** Envelope recipients and To/Cc addresses: the mailto codes are read from these. */
  recipients: readonly string[];
  subject?: string | null;
};

export type MailtoResult = {
  /** Codes found that Heed handed out. */
  codes: number;
  unsubscribed: number;
  duplicates: number;
  /** Mailto-looking recipients whose code Heed never handed out (forged or purged). */
  unknown: number;
};

/**
 * A message to one or more mailto addresses: for each valid code, the address the link was made
 * for is unsubscribed (source `mailto`; its topic only, for a topic link) once. The provider
 * message id is the Message-ID plus the code: a redelivered message changes nothing, while one
 * message sent to two links' addresses counts for both.
 */
export async function handleMailtoMessage(db: Db, msg: MailtoMessage): Promise<MailtoResult> {
  const codes = [
    ...new Set(
      msg.recipients.flatMap((r) => {
        const k = recipientKind(r);
        return k?.kind === "mailto" ? [k.code!] : [];
      }),
    ),
  ];
  const result: MailtoResult = { codes: 0, unsubscribed: 0, duplicates: 0, unknown: 0 };
  for (const code of codes) {
    const stored = await findMailtoCode(db, code);
    if (!stored) {
      result.unknown++;
      continue;
    }
    result.codes++;
    const topic = stored.topic
      ? ((await db
          .selectFrom("topics")
          .select("key")
          .where("key", "=", stored.topic)
          .where("archived_at", "is", null)
          .executeTakeFirst()) ?? null)
      : null;
    const outcome = await handleInboundOnce(
      db,
      {
        provider: msg.provider,
        providerMessageId: `${(msg.messageId ?? msg.fallbackId).slice(0, 200)}:${code}`,
        channel: "email",
        kind: "mailto",
        address: stored.address,
        addressHash: stored.addressHash,
        contactId: stored.contactId,
        campaign: stored.campaign,
        details: {
          ...(msg.subject ? { subject: msg.subject.slice(0, 200) } : {}),
          ...(topic ? { topic: topic.key } : {}),
        },
      },
      async (trx, inboundId) => {
        if (!stored.address) {
          // An erased address: its code still unsubscribes it, by its keyed hash.
          const res = await bulkUnsubscribe(
            trx,
            [{ channel: "email", address: "", addressHash: stored.addressHash }],
            {
              source: "mailto",
              campaign: stored.campaign,
              details: { provider: msg.provider, inbound_id: inboundId },
            },
          );
          return { decision: res.imported > 0 ? "unsubscribed" : "already_unsubscribed" };
        }
        const [res] = await applyConsentChanges(trx, [
          {
            channel: "email",
            address: stored.address,
            action: topic ? "topic_opt_out" : "unsubscribe",
            topic: topic?.key ?? null,
            source: "mailto",
            contactId: stored.contactId,
            campaign: stored.campaign,
            actor: { type: "recipient", id: stored.contactId },
            details: { provider: msg.provider, inbound_id: inboundId },
          },
        ]);
        return {
          decision: res!.changed
            ? topic
              ? "topic_opt_out"
              : "unsubscribed"
            : "already_unsubscribed",
          ledgerId: res!.ledgerId,
        };
      },
    );
    if (outcome.duplicate) result.duplicates++;
    else if (outcome.decision !== "already_unsubscribed") result.unsubscribed++;
  }
  return result;
}

/** Feedback types that are a spam complaint (RFC 5965 §7.3; `not-spam` and the rest are not). */
const COMPLAINT_TYPES = new Set(["abuse", "fraud", "other", "opt-out"]);

export type FeedbackResult = EmailEventsResult & {
  feedbackType: string | null;
  /** Whether the report is a spam complaint (by its feedback type). */
  complaint: boolean;
};

/**
 * A feedback-loop report (RFC 5965 ARF, or the older forwarded-message form): a complaint about
 * one message, which unsubscribes its recipient (source `complaint`). Reports often redact the
 * recipient (Yahoo, Microsoft): then the original headers' List-Unsubscribe (Heed's mailto code or
 * link token) names the address and the campaign. The report's Message-ID is its provider id.
 */
export async function handleFeedbackReport(db: Db, raw: Buffer): Promise<FeedbackResult> {
  const report = await readFeedbackReport(raw);
  // The older form has no fields: a message forwarded to the FBL address is a complaint.
  const feedbackType = report.feedbackType ?? (report.original ? "abuse" : null);
  const complaint = feedbackType !== null && COMPLAINT_TYPES.has(feedbackType);
  const empty = { accepted: 0, duplicates: 0, skipped: 1, unmatched: 0 };
  if (!complaint) return { ...empty, feedbackType, complaint: false };
  const listUnsubscribe = report.original ? headerValues(report.original, "List-Unsubscribe") : [];
  // Only Heed's own link or code in the original headers names the complainer. Anyone can send
  // mail to the FBL address, so a recipient written in the report itself (Original-Rcpt-To, the
  // original To, often redacted or hashed anyway) is never enough to unsubscribe an address.
  const result = await handleEmailEvents(db, [
    {
      provider: "fbl",
      providerEventId: report.messageId ?? `sha256:${sha256(raw)}`,
      kind: "complaint",
      address: null,
      detail: feedbackType,
      listUnsubscribe,
      details: {
        reporter: report.reporter,
        userAgent: report.userAgent,
        arf: report.arf,
        namedRecipients: report.recipients.length,
        ...(report.original?.messageId ? { originalMessageId: report.original.messageId } : {}),
      },
    },
  ]);
  return { ...result, feedbackType, complaint: true };
}

export type ParsedInbound = {
  /** sendgrid_inbound, mailgun_inbound, postmark_inbound */
  provider: string;
  /** Envelope and header recipients the provider reports. */
  recipients: readonly string[];
  /** The message's Message-ID header, else the provider's id of the message. */
  messageId: string | null;
  subject?: string | null;
  /** The whole message, when the provider passes it (needed for a feedback report). */
  raw?: Buffer | null;
};

/**
 * A message an ESP received for Heed and posted to an inbound-parse webhook: mailto unsubscribes,
 * and feedback reports when the provider passes the raw message. Other recipients are ignored.
 */
export async function handleInboundParse(
  db: Db,
  msg: ParsedInbound,
): Promise<{ mailto: MailtoResult | null; report: FeedbackResult | null }> {
  const kinds = msg.recipients.map((r) => recipientKind(r));
  const report =
    kinds.some((k) => k?.kind === "fbl") && msg.raw
      ? await handleFeedbackReport(db, msg.raw)
      : null;
  const mailto = kinds.some((k) => k?.kind === "mailto")
    ? await handleMailtoMessage(db, {
        provider: msg.provider,
        messageId: msg.messageId,
        fallbackId: msg.raw ? `sha256:${sha256(msg.raw)}` : `${msg.provider}:${msg.subject ?? ""}`,
        recipients: msg.recipients,
        subject: msg.subject ?? null,
      })
    : null;
  return { mailto, report };
}
