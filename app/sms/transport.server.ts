import type { Env, ProviderName } from "~/env.server";
import type { DeliveryResult, Transport } from "~/outbox/types";
import { metaOutbound } from "~/sms/providers/meta.server";
import { plivoOutbound } from "~/sms/providers/plivo.server";
import type { OutboundProvider } from "~/sms/providers/shared.server";
import { telnyxOutbound } from "~/sms/providers/telnyx.server";
import { twilioOutbound } from "~/sms/providers/twilio.server";
import { vonageOutbound } from "~/sms/providers/vonage.server";

/**
 * Sends the outbox's SMS and WhatsApp messages (kind 'sms'; recipient `+48…` or
 * `whatsapp:+48…`; payload `{ body, provider?, from? }`) through a provider's REST API with
 * plain fetch.
 *
 * Which provider: a reply goes back through the provider the person's message came from
 * (payload.provider), from the number they wrote to (payload.from), when that provider is
 * configured for the channel; anything else through the channel's configured provider
 * (SMS_PROVIDER / WHATSAPP_PROVIDER), else the first one with credentials. Without any,
 * development keeps the message in the development outbox (marked delivered, nothing leaves the
 * machine); production refuses (the message is dead with a clear error, never silently dropped).
 */

export type SmsTransportOptions = {
  /** Provider API origins; tests point them at a local server. */
  baseUrls?: Partial<Record<ProviderName, string>>;
  /** @deprecated the Twilio origin; use baseUrls. */
  baseUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
};

const PROVIDERS: Record<ProviderName, OutboundProvider> = {
  twilio: twilioOutbound,
  vonage: vonageOutbound,
  plivo: plivoOutbound,
  telnyx: telnyxOutbound,
  meta: metaOutbound,
};
const SMS_ORDER: ProviderName[] = ["twilio", "vonage", "plivo", "telnyx"];
const WHATSAPP_ORDER: ProviderName[] = ["meta", "twilio", "vonage"];

/** The provider that sends on this channel by configuration, or null (development outbox). */
export function channelProvider(env: Env, channel: "sms" | "whatsapp"): OutboundProvider | null {
  const chosen = channel === "sms" ? env.SMS_PROVIDER : env.WHATSAPP_PROVIDER;
  if (chosen) return PROVIDERS[chosen].configured(env, channel) ? PROVIDERS[chosen] : null;
  const order = channel === "sms" ? SMS_ORDER : WHATSAPP_ORDER;
  return order.map((p) => PROVIDERS[p]).find((p) => p.configured(env, channel)) ?? null;
}

/** Whether SMS can leave the machine at all (some provider is configured for SMS). */
export function smsConfigured(env: Env): boolean {
  return channelProvider(env, "sms") !== null;
}

/**
 * The number people text START to (shown when a re-subscription waits for it): the configured
 * keyword number, else the channel's sender when it is a phone number; null when unknown.
 */
export function keywordNumber(env: Env, channel: "sms" | "whatsapp"): string | null {
  const explicit = channel === "sms" ? env.SMS_KEYWORD_NUMBER : env.WHATSAPP_KEYWORD_NUMBER;
  if (explicit) return explicit;
  const p = channelProvider(env, channel)?.provider;
  const from =
    channel === "sms"
      ? {
          twilio: env.TWILIO_FROM,
          vonage: env.VONAGE_FROM,
          plivo: env.PLIVO_FROM,
          telnyx: env.TELNYX_FROM,
        }[p as "twilio"]
      : { twilio: env.TWILIO_WHATSAPP_FROM, vonage: env.VONAGE_WHATSAPP_FROM }[p as "twilio"];
  const number = from?.replace(/^whatsapp:/i, "");
  return number && /^\+?\d{3,15}$/.test(number) ? number : null;
}

const NAMES = new Set<string>(Object.keys(PROVIDERS));

export function createSmsTransport(options: SmsTransportOptions = {}): Transport {
  const doFetch = options.fetch ?? fetch;
  return async (delivery, { env }): Promise<DeliveryResult> => {
    const p = delivery.payload;
    const body = typeof p.body === "string" ? p.body : "";
    if (!body) return { ok: false, error: "the message has no body", permanent: true };
    const whatsapp = /^whatsapp:/i.test(delivery.recipient);
    const channel = whatsapp ? "whatsapp" : "sms";
    const to = delivery.recipient.replace(/^whatsapp:/i, "");
    const asked =
      typeof p.provider === "string" && NAMES.has(p.provider)
        ? PROVIDERS[p.provider as ProviderName]
        : null;
    const provider =
      asked && asked.configured(env, channel) ? asked : channelProvider(env, channel);
    if (!provider) {
      if (env.isProduction) {
        const which = whatsapp ? "WhatsApp" : "SMS";
        return {
          ok: false,
          error: `${which} is not configured: set a provider's credentials and sender (README: Connecting your SMS/WhatsApp provider)`,
          permanent: true,
        };
      }
      return { ok: true, detail: "development outbox: not sent (no provider is configured)" };
    }
    const from = provider === asked && typeof p.from === "string" ? p.from : null;
    return provider.send(
      env,
      { channel, to, from, body },
      {
        fetch: doFetch,
        baseUrl:
          options.baseUrls?.[provider.provider] ??
          (provider.provider === "twilio" ? options.baseUrl : undefined),
        timeoutMs: options.timeoutMs ?? 20_000,
      },
    );
  };
}

export const smsTransport: Transport = createSmsTransport();
