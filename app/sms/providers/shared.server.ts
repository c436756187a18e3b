import crypto from "node:crypto";
import type { Env, ProviderName } from "~/env.server";
import type { DeliveryResult } from "~/outbox/types";
import type { InboundSms } from "~/sms/inbound.server";

/**
 * What every SMS/WhatsApp provider adapter is: verify the provider's signature on the raw bytes
 * (before anything is parsed), translate its payload into Heed's InboundSms events, and send
 * replies through its REST API. The webhook runner (app/sms/webhook.server.ts) does the rest.
 */

export type VerifyContext = {
  raw: Buffer;
  headers: Headers;
  /** The public URL the provider called (for schemes that sign the URL). */
  url: string;
  env: Env;
  now: number;
};

export type InboundAdapter = {
  provider: ProviderName;
  /** Accepted media types (the part before `;`). */
  contentTypes: readonly string[];
  /** Largest body read; larger ones get 413 before being read. */
  maxBytes: number;
  /** Null when the adapter can verify, else why not (the webhook answers 403). */
  notConfigured(env: Env): string | null;
  /** The signature header(s) the provider always sends; missing → 403 before the body is read. */
  signatureHeaders: readonly string[];
  /** The URL that signatures cover, when the scheme signs it. */
  signedUrl?(env: Env, request: URL): string;
  verify(ctx: VerifyContext): boolean | Promise<boolean>;
  /** The messages in a verified body; throws BadPayload for a body it cannot read. */
  translate(raw: Buffer, env: Env): InboundSms[];
  /** The provider's expected success answer (Twilio wants TwiML). */
  ok?(): Response;
};

export class BadPayload extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadPayload";
  }
}

export type OutboundMessage = {
  channel: "sms" | "whatsapp";
  /** E.164. */
  to: string;
  /** The number the person wrote to (a reply goes out from it); else the configured sender. */
  from: string | null;
  body: string;
};

export type SendOptions = { fetch: typeof fetch; baseUrl?: string; timeoutMs: number };

export type OutboundProvider = {
  provider: ProviderName;
  /** Whether credentials and a sender are configured for this channel. */
  configured(env: Env, channel: "sms" | "whatsapp"): boolean;
  send(env: Env, msg: OutboundMessage, options: SendOptions): Promise<DeliveryResult>;
};

/** Constant-time comparison of two strings (equal lengths compared in full, others refused). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  if (x.length !== y.length) {
    crypto.timingSafeEqual(x, x); // spend comparable time either way
    return false;
  }
  return crypto.timingSafeEqual(x, y);
}

/** The public URL of this request: an explicit override, else PUBLIC_URL + path + query. */
export function publicRequestUrl(env: Env, request: URL, override?: string): string {
  return override ?? `${env.publicUrl}${request.pathname}${request.search}`;
}

export function digitsToE164(value: string | null | undefined): string {
  const v = (value ?? "").trim();
  return /^\d{6,15}$/.test(v) ? `+${v}` : v;
}

export function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString("utf8")) as unknown;
  } catch {
    throw new BadPayload("the body is not valid JSON");
  }
}

export const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
export const obj = (v: unknown): Record<string, unknown> | null =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;

export function dateOrNull(v: unknown): Date | null {
  if (typeof v === "number" || (typeof v === "string" && /^\d{9,11}$/.test(v))) {
    const d = new Date(Number(v) * 1000);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  if (typeof v === "string" && v) {
    const d = new Date(v.includes("T") || v.endsWith("Z") ? v : `${v.replace(" ", "T")}Z`);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  return null;
}

/**
 * Sends one JSON or form request to a provider's REST API and maps the answer: 2xx sent; 408,
 * 429 and 5xx retried; other 4xx permanent (a refused recipient, such as an opted-out number,
 * or bad credentials, does not get better by retrying).
 */
export async function postToProvider(
  label: string,
  url: string,
  init: { headers: Record<string, string>; body: string },
  options: SendOptions,
  idOf: (json: Record<string, unknown>) => string | null,
): Promise<DeliveryResult> {
  let res: Response;
  try {
    res = await options.fetch(url, {
      method: "POST",
      headers: { Accept: "application/json", ...init.headers },
      body: init.body,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (e) {
    return { ok: false, error: `${label} unreachable: ${(e as Error).message}` };
  }
  const text = await res.text().catch(() => "");
  let json: Record<string, unknown> = {};
  try {
    json = obj(JSON.parse(text)) ?? {};
  } catch {
    /* not JSON */
  }
  if (res.ok) {
    const id = idOf(json);
    return { ok: true, detail: id ? `${label} ${id}` : `${label} HTTP ${res.status}` };
  }
  const message =
    str(json.message) ??
    str(json.title) ??
    str(json.error) ??
    str(obj(json.error)?.message) ??
    str(obj((json.errors as unknown[] | undefined)?.[0])?.detail) ??
    text;
  const code = json.code ?? obj(json.error)?.code;
  const error = `${label} HTTP ${res.status}${code ? ` (error ${String(code)})` : ""}: ${String(message).slice(0, 300)}`;
  const permanent =
    res.status >= 400 && res.status < 500 && res.status !== 429 && res.status !== 408;
  return { ok: false, error, permanent };
}
