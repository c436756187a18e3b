import { getDb } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { handleEmailEvents } from "~/email/events.server";
import {
  MailgunEventBody,
  MailgunSignature,
  mailgunEvents,
  tokenUsedElsewhere,
  verifyMailgunSignature,
} from "~/email/providers/mailgun.server";
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
 * POST /webhooks/email/mailgun: Mailgun event webhooks (one event per request, JSON), signed with
 * MAILGUN_WEBHOOK_SIGNING_KEY (app/email/providers/mailgun.server.ts). Unsigned, wrongly signed
 * or replayed-signature requests get 403 and nothing is written.
 */
export const action = webhookAction(async (request) => {
  const key = getEnv().MAILGUN_WEBHOOK_SIGNING_KEY;
  if (!key) throw forbidden("not_configured", "MAILGUN_WEBHOOK_SIGNING_KEY is not configured");
  const raw = await readRawBody(request, EVENTS_MAX_BYTES);
  const json = parseJson(raw) as { signature?: unknown };
  const signature = MailgunSignature.safeParse(json?.signature);
  if (!signature.success || !verifyMailgunSignature(key, signature.data)) {
    throw forbidden("invalid_signature", "Missing or invalid Mailgun signature");
  }
  const body = MailgunEventBody.safeParse(json);
  if (!body.success) throw badPayload("Not a Mailgun event");
  const db = getDb();
  if (await tokenUsedElsewhere(db, signature.data.token, body.data["event-data"].id)) {
    throw forbidden("replayed_signature", "This signature was already used for another event");
  }
  return accepted(await handleEmailEvents(db, mailgunEvents(body.data)));
});

export const loader = webhookLoader;
