import type { ActionFunctionArgs } from "@remix-run/node";
import { ApiError } from "~/api/errors.server";
import { readBodyText } from "~/api/body.server";
import { getDb } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { handleInboundSms } from "~/sms/inbound.server";
import { twiml, verifyTwilioSignature } from "~/sms/twilio.server";
import { NO_STORE } from "~/http/headers";

/**
 * POST /webhooks/sms/twilio: inbound SMS and WhatsApp messages from Twilio (docs/inbound.md).
 * X-Twilio-Signature is verified over the public URL (TWILIO_WEBHOOK_URL, else PUBLIC_URL +
 * path + query) and the form fields; a missing or wrong signature gets 403 and nothing is
 * written. Replies go through the outbox, so the TwiML answer is always empty.
 */

const MAX_FORM_BYTES = 64 * 1024;

function text(status: number, message: string, headers: Record<string, string> = {}) {
  return new Response(message, {
    status,
    headers: {
      "Content-Type": "text/plain; charset=utf-8",
      ...NO_STORE,
      ...headers,
    },
  });
}

function signedUrl(request: Request): string {
  const env = getEnv();
  if (env.TWILIO_WEBHOOK_URL) return env.TWILIO_WEBHOOK_URL;
  const url = new URL(request.url);
  return `${env.publicUrl}${url.pathname}${url.search}`;
}

export async function action({ request }: ActionFunctionArgs) {
  if (request.method !== "POST") return text(405, "Method not allowed", { Allow: "POST" });
  const env = getEnv();
  const signature = request.headers.get("x-twilio-signature");
  if (!env.TWILIO_AUTH_TOKEN) return text(403, "Forbidden: TWILIO_AUTH_TOKEN is not configured");
  if (!signature) return text(403, "Forbidden: missing X-Twilio-Signature");
  const type = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    return text(415, "Expected application/x-www-form-urlencoded");
  }
  let raw: string;
  try {
    raw = await readBodyText(request, MAX_FORM_BYTES);
  } catch (e) {
    if (e instanceof ApiError) return text(e.status, e.message);
    throw e;
  }
  const fields = [...new URLSearchParams(raw)];
  if (!verifyTwilioSignature(env.TWILIO_AUTH_TOKEN, signedUrl(request), fields, signature)) {
    return text(403, "Forbidden: invalid X-Twilio-Signature");
  }
  const form = new Map(fields);
  const from = form.get("From");
  if (!from) return text(400, "Bad request: no From field");
  await handleInboundSms(getDb(), {
    from,
    body: form.get("Body") ?? "",
    messageSid: form.get("MessageSid") ?? form.get("SmsSid") ?? null,
    to: form.get("To") ?? null,
  });
  return new Response(twiml(), {
    status: 200,
    headers: { "Content-Type": "text/xml; charset=utf-8", ...NO_STORE },
  });
}

export function loader() {
  return text(405, "Method not allowed: Twilio posts inbound messages here", { Allow: "POST" });
}
