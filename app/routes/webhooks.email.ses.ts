import { getDb } from "~/db/db.server";
import { handleEmailEvents } from "~/email/events.server";
import { SesEvent, sesEvents } from "~/email/providers/ses.server";
import {
  allowedTopics,
  confirmSubscription,
  SnsEnvelope,
  verifySnsMessage,
} from "~/email/providers/sns.server";
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
 * POST /webhooks/email/ses: Amazon SES events through an SNS topic (HTTPS subscription). The SNS
 * signature is verified (app/email/providers/sns.server.ts) and the topic must be one of
 * SES_SNS_TOPIC_ARNS, else 403 and nothing is written. A SubscriptionConfirmation of an allowed
 * topic is confirmed by visiting its SubscribeURL (an SNS URL); notifications are SES events.
 */
export const action = webhookAction(async (request) => {
  const topics = allowedTopics();
  if (topics.size === 0) throw forbidden("not_configured", "SES_SNS_TOPIC_ARNS is not configured");
  const raw = await readRawBody(request, EVENTS_MAX_BYTES);
  const parsed = SnsEnvelope.safeParse(parseJson(raw));
  if (!parsed.success) throw forbidden("invalid_signature", "Not a signed SNS message");
  const message = parsed.data;
  if (!topics.has(message.TopicArn)) {
    throw forbidden("unknown_topic", "Messages from this SNS topic are not accepted");
  }
  const verified = await verifySnsMessage(message);
  if (!verified.ok) throw forbidden("invalid_signature", `SNS signature: ${verified.reason}`);

  if (message.Type === "SubscriptionConfirmation") {
    if (!message.SubscribeURL || !(await confirmSubscription(message.SubscribeURL))) {
      throw badPayload("The subscription could not be confirmed");
    }
    return accepted({ confirmed: true });
  }
  if (message.Type === "UnsubscribeConfirmation") return accepted({ ignored: true });
  let event: SesEvent;
  try {
    const r = SesEvent.safeParse(JSON.parse(message.Message));
    if (!r.success) throw new Error();
    event = r.data;
  } catch {
    throw badPayload("The SNS message is not an SES event");
  }
  return accepted(await handleEmailEvents(getDb(), sesEvents(event, message.MessageId)));
});

export const loader = webhookLoader;
