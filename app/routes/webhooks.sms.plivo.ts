import type { ActionFunctionArgs } from "@remix-run/node";
import { plivoInbound } from "~/sms/providers/plivo.server";
import { methodNotAllowed, runSmsWebhook } from "~/sms/webhook-route.server";

/** POST /webhooks/sms/plivo: inbound messages from Plivo (see app/sms/providers/plivo.server.ts). */
export const action = ({ request }: ActionFunctionArgs) => runSmsWebhook(request, plivoInbound);

export const loader = () => methodNotAllowed("POST", "Plivo posts inbound messages here");
