import { getDb } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { handleInboundParse } from "~/email/inbound-mail.server";
import { PostmarkInbound, verifyBasicAuth } from "~/email/providers/postmark.server";
import {
  accepted,
  badPayload,
  forbidden,
  INBOUND_MAX_BYTES,
  parseJson,
  readRawBody,
  webhookAction,
  webhookLoader,
} from "~/email/webhook-http.server";

/**
 * POST /webhooks/email/inbound/postmark: Postmark's inbound webhook (JSON) for the mailto domain,
 * with the same basic auth credentials as the event webhook. Turn on "Include raw email content"
 * so that feedback reports can be read too.
 */
export const action = webhookAction(async (request) => {
  const env = getEnv();
  if (!env.POSTMARK_WEBHOOK_USERNAME || !env.POSTMARK_WEBHOOK_PASSWORD) {
    throw forbidden("not_configured", "POSTMARK_WEBHOOK_USERNAME/PASSWORD are not configured");
  }
  const auth = request.headers.get("authorization");
  if (!verifyBasicAuth(auth, env.POSTMARK_WEBHOOK_USERNAME, env.POSTMARK_WEBHOOK_PASSWORD)) {
    throw forbidden("invalid_credentials", "Missing or wrong credentials");
  }
  const raw = await readRawBody(request, INBOUND_MAX_BYTES);
  const parsed = PostmarkInbound.safeParse(parseJson(raw));
  if (!parsed.success) throw badPayload("Not a Postmark inbound message");
  const m = parsed.data;
  const header = (name: string) =>
    m.Headers?.find((h) => h.Name.toLowerCase() === name.toLowerCase())?.Value ?? null;
  const result = await handleInboundParse(getDb(), {
    provider: "postmark_inbound",
    recipients: [
      ...(m.OriginalRecipient ? [m.OriginalRecipient] : []),
      ...(m.ToFull ?? []).map((t) => t.Email),
      ...(m.CcFull ?? []).map((t) => t.Email),
    ],
    messageId: header("Message-ID") ?? m.MessageID ?? null,
    subject: m.Subject ?? null,
    raw: m.RawEmail ? Buffer.from(m.RawEmail, "utf8") : null,
  });
  return accepted(result);
});

export const loader = webhookLoader;
