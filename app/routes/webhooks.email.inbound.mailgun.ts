import { getDb } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { handleInboundParse } from "~/email/inbound-mail.server";
import { parseEmail } from "~/email/mime.server";
import { MailgunSignature, verifyMailgunSignature } from "~/email/providers/mailgun.server";
import {
  accepted,
  forbidden,
  INBOUND_MAX_BYTES,
  parseForm,
  readRawBody,
  webhookAction,
  webhookLoader,
} from "~/email/webhook-http.server";

/**
 * POST /webhooks/email/inbound/mailgun: a Mailgun route's `forward()` for the mailto domain
 * (urlencoded or multipart form), signed like Mailgun's webhooks with MAILGUN_WEBHOOK_SIGNING_KEY
 * (the signature fields are form fields). The route URL may end in `/mime`-style forwarding
 * (`body-mime` field, the whole message) so that feedback reports can be read too.
 */
export const action = webhookAction(async (request) => {
  const key = getEnv().MAILGUN_WEBHOOK_SIGNING_KEY;
  if (!key) throw forbidden("not_configured", "MAILGUN_WEBHOOK_SIGNING_KEY is not configured");
  const raw = await readRawBody(request, INBOUND_MAX_BYTES);
  const form = await parseForm(raw, request.headers.get("content-type"));
  const field = (name: string) => {
    const v = form.get(name);
    return typeof v === "string" ? v : null;
  };
  const signature = MailgunSignature.safeParse({
    timestamp: field("timestamp"),
    token: field("token"),
    signature: field("signature"),
  });
  if (!signature.success || !verifyMailgunSignature(key, signature.data)) {
    throw forbidden("invalid_signature", "Missing or invalid Mailgun signature");
  }
  const mime = field("body-mime");
  let headers: [string, string][] = [];
  try {
    const parsed = JSON.parse(field("message-headers") ?? "[]") as unknown;
    if (Array.isArray(parsed)) {
      headers = parsed.filter(
        (h): h is [string, string] =>
          Array.isArray(h) && typeof h[0] === "string" && typeof h[1] === "string",
      );
    }
  } catch {
    // no usable header list: the other fields still name the recipient
  }
  const message = mime
    ? await parseEmail(mime)
    : headers.length > 0
      ? await parseEmail(`${headers.map(([k, v]) => `${k}: ${v}`).join("\r\n")}\r\n\r\n`)
      : null;
  const recipients = (field("recipient") ?? "")
    .split(",")
    .map((r) => r.trim())
    .filter(Boolean);
  const result = await handleInboundParse(getDb(), {
    provider: "mailgun_inbound",
    recipients: [...recipients, ...(message?.recipients ?? [])],
    messageId: message?.messageId ?? field("Message-Id"),
    subject: message?.subject ?? field("subject"),
    raw: mime ? Buffer.from(mime, "utf8") : null,
  });
  return accepted(result);
});

export const loader = webhookLoader;
