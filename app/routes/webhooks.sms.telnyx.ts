import type { ActionFunctionArgs } from "@remix-run/node";
import { telnyxInbound } from "~/sms/providers/telnyx.server";
import { methodNotAllowed, runSmsWebhook } from "~/sms/webhook-route.server";

/** POST /webhooks/sms/telnyx: inbound messages from Telnyx (see app/sms/providers/telnyx.server.ts). */
export const action = ({ request }: ActionFunctionArgs) => runSmsWebhook(request, telnyxInbound);

export const loader = () => methodNotAllowed("POST", "Telnyx posts inbound messages here");
