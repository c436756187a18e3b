import { getDb } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { handleEmailEvents } from "~/email/events.server";
import { PostmarkEvent, postmarkEvents, verifyBasicAuth } from "~/email/providers/postmark.server";
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
 * POST /webhooks/email/postmark: Postmark's bounce, spam complaint, subscription change and
 * delivery webhooks, authenticated with the basic auth credentials of the webhook URL
 * (POSTMARK_WEBHOOK_USERNAME / POSTMARK_WEBHOOK_PASSWORD), checked before the body is read.
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
  const raw = await readRawBody(request, EVENTS_MAX_BYTES);
  const parsed = PostmarkEvent.safeParse(parseJson(raw));
  if (!parsed.success) throw badPayload("Not a Postmark webhook");
  return accepted(await handleEmailEvents(getDb(), postmarkEvents(parsed.data)));
});

export const loader = webhookLoader;
