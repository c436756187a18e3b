import type { ActionFunctionArgs } from "@remix-run/node";
import { vonageInbound } from "~/sms/providers/vonage.server";
import { methodNotAllowed, runSmsWebhook } from "~/sms/webhook-route.server";

/** POST /webhooks/sms/vonage: inbound messages from Vonage (see app/sms/providers/vonage.server.ts). */
export const action = ({ request }: ActionFunctionArgs) => runSmsWebhook(request, vonageInbound);

export const loader = () => methodNotAllowed("POST", "Vonage posts inbound messages here");
