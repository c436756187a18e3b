import crypto from "node:crypto";
import { parseProviderOptOutType } from "~/sms/keywords";
import {
  BadPayload,
  postToProvider,
  publicRequestUrl,
  safeEqual,
  str,
  type InboundAdapter,
  type OutboundProvider,
} from "./shared.server";
import { NO_STORE } from "~/http/headers";

/**
 * Twilio request signatures (X-Twilio-Signature): base64(HMAC-SHA1(auth token, URL + each POST
 * field's name and value, fields sorted by name)). Compared in constant time. Twilio signs the
 * URL it was configured with; behind a proxy set TWILIO_WEBHOOK_URL to that public URL.
 */
export type FormFields = Iterable<[string, string]>;

export function twilioSignature(authToken: string, url: string, fields: FormFields): string {
  const byKey = new Map<string, string[]>();
  for (const [k, v] of fields) byKey.set(k, [...(byKey.get(k) ?? []), v]);
  let data = url;
  for (const key of [...byKey.keys()].sort()) {
    for (const value of byKey.get(key)!.sort()) data += key + value;
  }
  return crypto.createHmac("sha1", authToken).update(data, "utf8").digest("base64");
}

/**
 * The URL with and without its default port: Twilio signs whichever form was configured, and
 * proxies differ in which they pass on (Twilio's own helpers check both).
 */
function urlVariants(url: string): string[] {
  const variants = new Set([url]);
  const m = /^(https?):\/\/([^/?#:]+|\[[^\]]+\])(:\d+)?(.*)$/i.exec(url);
  if (m) {
    const [, scheme, host, port, rest] = m as unknown as [
      string,
      string,
      string,
      string | undefined,
      string,
    ];
    const defaultPort = scheme.toLowerCase() === "https" ? ":443" : ":80";
    if (!port) variants.add(`${scheme}://${host}${defaultPort}${rest}`);
    else if (port === defaultPort) variants.add(`${scheme}://${host}${rest}`);
  }
  return [...variants];
}

export function verifyTwilioSignature(
  authToken: string,
  url: string,
  fields: readonly [string, string][],
  signature: string | null | undefined,
): boolean {
  if (!signature || signature.length > 200) return false;
  let ok = false;
  for (const candidate of urlVariants(url)) {
    // Evaluate every variant (no early exit).
    ok = safeEqual(twilioSignature(authToken, candidate, fields), signature) || ok;
  }
  return ok;
}

export function twiml(message?: string): string {
  const body = message
    ? `<Message>${message.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`)}</Message>`
    : "";
  return `<?xml version="1.0" encoding="UTF-8"?><Response>${body}</Response>`;
}

// ---------------------------------------------------------------------------------------------
// Inbound adapter: POST /webhooks/sms/twilio (form fields, X-Twilio-Signature)

function twilioChannel(from: string): "sms" | "whatsapp" {
  return /^whatsapp:/i.test(from.trim()) ? "whatsapp" : "sms";
}

export const twilioInbound: InboundAdapter = {
  provider: "twilio",
  contentTypes: ["application/x-www-form-urlencoded"],
  maxBytes: 64 * 1024,
  signatureHeaders: ["x-twilio-signature"],
  notConfigured: (env) => (env.TWILIO_AUTH_TOKEN ? null : "TWILIO_AUTH_TOKEN is not configured"),
  signedUrl: (env, url) => publicRequestUrl(env, url, env.TWILIO_WEBHOOK_URL),
  verify({ raw, headers, url, env }) {
    const fields = [...new URLSearchParams(raw.toString("utf8"))];
    return verifyTwilioSignature(
      env.TWILIO_AUTH_TOKEN!,
      url,
      fields,
      headers.get("x-twilio-signature"),
    );
  },
  translate(raw) {
    const form = new URLSearchParams(raw.toString("utf8"));
    const from = form.get("From");
    const id = form.get("MessageSid") ?? form.get("SmsMessageSid") ?? form.get("SmsSid");
    if (!from) throw new BadPayload("no From field");
    if (!id) throw new BadPayload("no MessageSid field");
    return [
      {
        provider: "twilio",
        providerMessageId: id,
        channel: twilioChannel(from),
        from,
        to: form.get("To"),
        text: form.get("Body") ?? "",
        buttonPayload: form.get("ButtonPayload"),
        optOutType: parseProviderOptOutType(form.get("OptOutType")),
        sentAt: null,
      },
    ];
  },
  ok: () =>
    new Response(twiml(), {
      status: 200,
      headers: { "Content-Type": "text/xml; charset=utf-8", ...NO_STORE },
    }),
};

// ---------------------------------------------------------------------------------------------
// Outbound: Messages API (form post, basic auth)

function withWhatsappPrefix(from: string): string {
  return /^whatsapp:/i.test(from) ? from : `whatsapp:${from}`;
}

export const twilioOutbound: OutboundProvider = {
  provider: "twilio",
  configured(env, channel) {
    if (!env.TWILIO_ACCOUNT_SID || !env.TWILIO_AUTH_TOKEN) return false;
    return channel === "whatsapp" ? Boolean(env.TWILIO_WHATSAPP_FROM) : Boolean(env.TWILIO_FROM);
  },
  send(env, msg, options) {
    const sid = env.TWILIO_ACCOUNT_SID!;
    const whatsapp = msg.channel === "whatsapp";
    const configuredFrom = whatsapp ? env.TWILIO_WHATSAPP_FROM! : env.TWILIO_FROM!;
    const from = msg.from && /^\+\d+$/.test(msg.from) ? msg.from : configuredFrom;
    const form = new URLSearchParams({
      To: whatsapp ? `whatsapp:${msg.to}` : msg.to,
      Body: msg.body,
    });
    // A messaging service (MG…) sends from its own pool of numbers.
    if (/^MG[0-9a-f]{32}$/i.test(from)) form.set("MessagingServiceSid", from);
    else form.set("From", whatsapp ? withWhatsappPrefix(from) : from);
    const base = (options.baseUrl ?? "https://api.twilio.com").replace(/\/+$/, "");
    return postToProvider(
      "Twilio",
      `${base}/2010-04-01/Accounts/${sid}/Messages.json`,
      {
        headers: {
          Authorization: `Basic ${Buffer.from(`${sid}:${env.TWILIO_AUTH_TOKEN}`).toString("base64")}`,
          "Content-Type": "application/x-www-form-urlencoded",
        },
        body: form.toString(),
      },
      options,
      (json) => str(json.sid),
    );
  },
};
