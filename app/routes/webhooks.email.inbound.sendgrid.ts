import { getDb } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { handleInboundParse } from "~/email/inbound-mail.server";
import { parseEmail } from "~/email/mime.server";
import {
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifySendgridSignature,
} from "~/email/providers/sendgrid.server";
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
 * POST /webhooks/email/inbound/sendgrid: SendGrid Inbound Parse (multipart/form-data) for the
 * mailto domain. Signed by a Parse webhook security policy: the same ECDSA scheme as the Event
 * Webhook, over the raw multipart body, with the policy's public key
 * (SENDGRID_INBOUND_PUBLIC_KEY). Turn on "POST the raw, full MIME message" (send_raw) so that
 * feedback reports can be read too; without it the parsed `headers`, `to` and `envelope` fields
 * are used.
 */
export const action = webhookAction(async (request) => {
  const key = getEnv().SENDGRID_INBOUND_PUBLIC_KEY;
  if (!key) throw forbidden("not_configured", "SENDGRID_INBOUND_PUBLIC_KEY is not configured");
  const raw = await readRawBody(request, INBOUND_MAX_BYTES);
  const ok = verifySendgridSignature(
    key,
    raw,
    request.headers.get(SIGNATURE_HEADER),
    request.headers.get(TIMESTAMP_HEADER),
  );
  if (!ok) throw forbidden("invalid_signature", "Missing or invalid SendGrid signature");
  const form = await parseForm(raw, request.headers.get("content-type"));
  const field = (name: string) => {
    const v = form.get(name);
    return typeof v === "string" ? v : null;
  };
  const mime = field("email");
  const message = mime
    ? await parseEmail(mime)
    : field("headers")
      ? await parseEmail(`${field("headers")}\r\n\r\n`)
      : null;
  let envelope: string[] = [];
  try {
    const e = JSON.parse(field("envelope") ?? "{}") as { to?: unknown };
    if (Array.isArray(e.to)) envelope = e.to.filter((x): x is string => typeof x === "string");
  } catch {
    // a missing or broken envelope: the header recipients still count
  }
  const result = await handleInboundParse(getDb(), {
    provider: "sendgrid_inbound",
    recipients: [...envelope, ...(message?.recipients ?? [])],
    messageId: message?.messageId ?? null,
    subject: message?.subject ?? field("subject"),
    raw: mime ? Buffer.from(mime, "utf8") : null,
  });
  return accepted(result);
});

export const loader = webhookLoader;
