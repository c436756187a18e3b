import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { getEnv } from "~/env.server";
import { metaInbound, verifyMetaHandshake } from "~/sms/providers/meta.server";
import { runSmsWebhook } from "~/sms/webhook-route.server";
import { NO_STORE, TEXT_NO_STORE } from "~/http/headers";

/**
 * GET /webhooks/whatsapp/meta: Meta's subscription handshake (hub.verify_token must equal
 * WHATSAPP_VERIFY_TOKEN; the challenge is echoed). POST: WhatsApp Cloud API message batches,
 * signed with X-Hub-Signature-256 (see app/sms/providers/meta.server.ts).
 */
export function loader({ request }: LoaderFunctionArgs) {
  const params = new URL(request.url).searchParams;
  const challenge = verifyMetaHandshake(params, getEnv().WHATSAPP_VERIFY_TOKEN);
  if (challenge === null) {
    return new Response(
      JSON.stringify({ error: { code: "forbidden", message: "Forbidden: verify token mismatch" } }),
      {
        status: 403,
        headers: { "Content-Type": "application/json; charset=utf-8", ...NO_STORE },
      },
    );
  }
  return new Response(challenge, {
    status: 200,
    headers: TEXT_NO_STORE,
  });
}

export const action = ({ request }: ActionFunctionArgs) => runSmsWebhook(request, metaInbound);
