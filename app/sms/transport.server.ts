import type { Env } from "~/env.server";
import type { DeliveryResult, Transport } from "~/outbox/types";

/**
 * Sends SMS and WhatsApp messages of the outbox (kind 'sms'; recipient `+48…` or
 * `whatsapp:+48…`; payload `{ body }`) through Twilio's REST API with plain fetch.
 * Without TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN / TWILIO_FROM, development keeps the message in
 * the development outbox (marked delivered, nothing leaves the machine); production refuses
 * (the message is dead with a clear error, never silently dropped).
 */

export type SmsTransportOptions = {
  /** Twilio's API origin; tests point it at a local server. */
  baseUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
};

export function smsConfigured(env: Env): boolean {
  return Boolean(env.TWILIO_ACCOUNT_SID && env.TWILIO_AUTH_TOKEN && env.TWILIO_FROM);
}

function withPrefix(from: string): string {
  return /^whatsapp:/i.test(from) ? from : `whatsapp:${from}`;
}

export function createSmsTransport(options: SmsTransportOptions = {}): Transport {
  const doFetch = options.fetch ?? fetch;
  const baseUrl = (options.baseUrl ?? "https://api.twilio.com").replace(/\/+$/, "");
  return async (delivery, { env }): Promise<DeliveryResult> => {
    const body = typeof delivery.payload.body === "string" ? delivery.payload.body : "";
    if (!body) return { ok: false, error: "the message has no body", permanent: true };
    const whatsapp = /^whatsapp:/i.test(delivery.recipient);
    if (!smsConfigured(env)) {
      if (env.isProduction) {
        return {
          ok: false,
          error: "SMS is not configured: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM",
          permanent: true,
        };
      }
      return { ok: true, detail: "development outbox: not sent (Twilio is not configured)" };
    }
    let from = env.TWILIO_FROM!;
    if (whatsapp) {
      if (!env.TWILIO_WHATSAPP_FROM) {
        return {
          ok: false,
          error: "WhatsApp is not configured: set TWILIO_WHATSAPP_FROM",
          permanent: true,
        };
      }
      from = withPrefix(env.TWILIO_WHATSAPP_FROM);
    }
    const sid = env.TWILIO_ACCOUNT_SID!;
    const form = new URLSearchParams({ To: delivery.recipient, From: from, Body: body });
    let res: Response;
    try {
      res = await doFetch(`${baseUrl}/2010-04-01/Accounts/${sid}/Messages.json`, {
        method: "POST",
        headers: {
          Authorization: `Basic ${Buffer.from(`${sid}:${env.TWILIO_AUTH_TOKEN}`).toString("base64")}`,
          "Content-Type": "application/x-www-form-urlencoded",
          Accept: "application/json",
        },
        body: form,
        signal: AbortSignal.timeout(options.timeoutMs ?? 20_000),
      });
    } catch (e) {
      return { ok: false, error: `Twilio unreachable: ${(e as Error).message}` };
    }
    const text = await res.text().catch(() => "");
    let json: { sid?: string; code?: number; message?: string } = {};
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      /* not JSON */
    }
    if (res.ok) return { ok: true, detail: json.sid ? `Twilio ${json.sid}` : `HTTP ${res.status}` };
    const error = `Twilio HTTP ${res.status}${json.code ? ` (error ${json.code})` : ""}: ${(json.message ?? text).slice(0, 300)}`;
    // 4xx: the request itself is wrong (unsubscribed recipient 21610, invalid number 21211,
    // bad credentials) and will not get better by retrying; 429 and 5xx will.
    const permanent =
      res.status >= 400 && res.status < 500 && res.status !== 429 && res.status !== 408;
    return { ok: false, error, permanent };
  };
}

export const smsTransport: Transport = createSmsTransport();
