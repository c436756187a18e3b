import { getDb } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { handleEmailEvents } from "~/email/events.server";
import { ResendEvent, resendEvents, verifyResend } from "~/email/providers/resend.server";
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
 * POST /webhooks/email/resend: Resend's webhooks, signed through Svix with RESEND_WEBHOOK_SECRET
 * (verified on the raw body with the `svix` package before anything is parsed).
 */
export const action = webhookAction(async (request) => {
  const secret = getEnv().RESEND_WEBHOOK_SECRET;
  if (!secret) throw forbidden("not_configured", "RESEND_WEBHOOK_SECRET is not configured");
  const raw = await readRawBody(request, EVENTS_MAX_BYTES);
  if (!verifyResend(secret, raw, request.headers)) {
    throw forbidden("invalid_signature", "Missing or invalid webhook signature");
  }
  const parsed = ResendEvent.safeParse(parseJson(raw));
  if (!parsed.success) throw badPayload("Not a Resend event");
  const events = resendEvents(parsed.data, request.headers.get("svix-id")!);
  return accepted(await handleEmailEvents(getDb(), events));
});

export const loader = webhookLoader;
