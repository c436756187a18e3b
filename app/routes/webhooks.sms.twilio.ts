import type { ActionFunctionArgs } from "@remix-run/node";
import { twilioInbound } from "~/sms/providers/twilio.server";
import { methodNotAllowed, runSmsWebhook } from "~/sms/webhook-route.server";

/**
 * POST /webhooks/sms/twilio: inbound SMS and WhatsApp messages from Twilio, signed with
 * X-Twilio-Signature over TWILIO_WEBHOOK_URL (else PUBLIC_URL + path + query) and the form
 * fields. Replies go through the outbox, so the TwiML answer is always empty.
 */
export const action = ({ request }: ActionFunctionArgs) => runSmsWebhook(request, twilioInbound);

export const loader = () => methodNotAllowed("POST", "Twilio posts inbound messages here");
