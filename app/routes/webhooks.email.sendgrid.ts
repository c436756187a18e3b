import { getDb } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { handleEmailEvents } from "~/email/events.server";
import {
  SendgridEvents,
  sendgridEvents,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifySendgridSignature,
} from "~/email/providers/sendgrid.server";
import {
  accepted,
  badPayload,
  EVENTS_MAX_BYTES,
  forbidden,
  parseJson,
  readRawBody,
  webhookAction,
  webhookLoader,
} from "~/email/webhook-http.server";

/**
 * POST /webhooks/email/sendgrid: SendGrid's Signed Event Webhook (a JSON array of events per
 * request). The ECDSA signature over timestamp + raw body is checked with
 * SENDGRID_WEBHOOK_PUBLIC_KEY before anything is parsed; the batch goes through the consent
 * core's bulk door in one transaction.
 */
export const action = webhookAction(async (request) => {
  const key = getEnv().SENDGRID_WEBHOOK_PUBLIC_KEY;
  if (!key) throw forbidden("not_configured", "SENDGRID_WEBHOOK_PUBLIC_KEY is not configured");
  const raw = await readRawBody(request, EVENTS_MAX_BYTES);
  const ok = verifySendgridSignature(
    key,
    raw,
    request.headers.get(SIGNATURE_HEADER),
    request.headers.get(TIMESTAMP_HEADER),
  );
  if (!ok) throw forbidden("invalid_signature", "Missing or invalid SendGrid signature");
  const parsed = SendgridEvents.safeParse(parseJson(raw));
  if (!parsed.success) throw badPayload("Expected a JSON array of SendGrid events");
  return accepted(await handleEmailEvents(getDb(), sendgridEvents(parsed.data)));
});

export const loader = webhookLoader;
