import { sql } from "kysely";
import { audit } from "~/admin/audit.server";
import { inTransaction, type Db } from "~/db/db.server";
import type { Env } from "~/env.server";
import { renderHtml, renderText, type EmailContent } from "~/mail/layout.server";
import { EmailPayloadSchema, type EmailPayload } from "~/mail/send.server";
import { messageHash } from "~/mail/templates.server";
import { enqueueOutbox } from "~/outbox/outbox.server";
import { getBranding, type Branding } from "~/settings/settings.server";
import { describeWebhookSchedule } from "~/webhooks/retry-schedule";
import { withWebhookTables } from "~/webhooks/schema";

/**
 * Heed turns a webhook endpoint off by itself in two cases only: it answered 410 Gone, or a
 * delivery used up its whole retry schedule (about three days) without any delivery to the
 * endpoint succeeding in that time. Either way every admin gets an email, so that a receiver that
 * went away is noticed rather than discovered weeks later.
 */

/** The admins' email: English, like the admin area, in the transactional mail layout. */
export function renderEndpointDisabledEmail(input: {
  to: string;
  endpoint: { id: string; url: string };
  reason: string;
  branding: Branding;
  env: Env;
}): EmailPayload {
  const url = `${input.env.publicUrl}/admin/webhooks/${input.endpoint.id}`;
  const subject = `Webhook endpoint disabled: ${input.endpoint.url}`.slice(0, 200);
  const content: EmailContent = {
    locale: "en",
    subject,
    preheader: "Heed stopped sending consent events to this endpoint.",
    blocks: [
      { type: "heading", text: "A webhook endpoint was disabled" },
      {
        type: "paragraph",
        text: `Heed stopped sending events to ${input.endpoint.url} because ${input.reason}.`,
      },
      {
        type: "paragraph",
        text:
          `Failed deliveries are retried ${describeWebhookSchedule()}. ` +
          "Events that happen while the endpoint is disabled are not queued for it. Once the receiver works again, " +
          "enable the endpoint and retry its failed deliveries from its page.",
      },
      { type: "button", text: "Open the endpoint", url },
    ],
    fallbackUrl: { label: "If the button does not work, open this address:", url },
    footer: ["Heed sends this email to every admin when it disables a webhook endpoint."],
  };
  const email = {
    to: input.to,
    subject,
    html: renderHtml(content, input.branding),
    text: renderText(content, input.branding),
    template: "webhook.endpoint_disabled",
    templateVersion: "webhook.endpoint_disabled/v1/en",
    locale: "en",
  };
  return EmailPayloadSchema.parse({ ...email, messageHash: messageHash(email) });
}

/**
 * Disables an enabled endpoint and, in the same transaction, records it in the audit log and
 * queues the email to every enabled admin. Returns false (and does nothing) when the endpoint
 * does not exist or is already disabled, so the admins hear about it once.
 */
export async function autoDisableWebhookEndpoint(
  db: Db,
  endpointId: string,
  reason: string,
  env: Env,
): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const row = await withWebhookTables(trx)
      .updateTable("webhook_endpoints")
      .set({
        enabled: false,
        disabled_reason: reason.slice(0, 500),
        disabled_at: sql<Date>`now()`,
        updated_at: sql<Date>`now()`,
      })
      .where("id", "=", endpointId)
      .where("enabled", "=", true)
      .returning(["id", "url"])
      .executeTakeFirst();
    if (!row) return false;
    await audit(trx, {
      actor: { type: "system", label: "webhook delivery" },
      action: "webhook.auto_disable",
      target: { type: "webhook_endpoint", id: row.id },
      details: { url: row.url, reason },
    });
    const admins = await trx
      .selectFrom("admin_users")
      .select("email")
      .where("role", "=", "admin")
      .where("disabled_at", "is", null)
      .orderBy("email")
      .execute();
    const branding = await getBranding(trx);
    for (const admin of admins) {
      await enqueueOutbox(trx, {
        kind: "email",
        recipient: admin.email,
        payload: renderEndpointDisabledEmail({
          to: admin.email,
          endpoint: row,
          reason,
          branding,
          env,
        }),
      });
    }
    return true;
  });
}
