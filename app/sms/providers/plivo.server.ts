import crypto from "node:crypto";
import {
  BadPayload,
  postToProvider,
  publicRequestUrl,
  safeEqual,
  str,
  type InboundAdapter,
  type OutboundProvider,
} from "./shared.server";
import { parseProviderOptOutType } from "~/sms/keywords";

/**
 * Plivo.
 *
 * Inbound (POST /webhooks/sms/plivo, the application's message URL): form fields From, To, Text,
 * Type, MessageUUID and, for opt-out/opt-in/help keywords, MessageIntent. Signed with
 * `X-Plivo-Signature-V3` and `X-Plivo-Signature-V3-Nonce`: base64(HMAC-SHA256(auth token,
 * signed URL + "." + nonce)), where for a POST the signed URL is the URL (scheme, host, port,
 * path), then "?" and its query parameters sorted as `k=v` joined by "&" (followed by "." when
 * there are any), then every POST parameter as name + value, sorted by name. The header may
 * hold several signatures separated by commas (one per valid auth token); one must match.
 *
 * Outbound: POST https://api.plivo.com/v1/Account/{auth id}/Message/ with basic auth.
 */

function sortedPairs(params: URLSearchParams): [string, string[]][] {
  const byKey = new Map<string, string[]>();
  for (const [k, v] of params) byKey.set(k, [...(byKey.get(k) ?? []), v]);
  return [...byKey.keys()].sort().map((k) => [k, byKey.get(k)!.sort()]);
}

/** The string Plivo signs for a POST to `url` with these form parameters. */
export function plivoSignedBase(url: string, form: URLSearchParams): string {
  const u = new URL(url);
  const query = sortedPairs(u.searchParams)
    .flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`))
    .join("&");
  const hasPost = [...form.keys()].length > 0;
  let base = `${u.protocol}//${u.host}${u.pathname}`;
  if (query.length > 0 || hasPost) base += `?${query}`;
  if (query.length > 0 && hasPost) base += ".";
  return (
    base +
    sortedPairs(form)
      .flatMap(([k, vs]) => vs.map((v) => k + v))
      .join("")
  );
}

export function plivoSignatureV3(
  authToken: string,
  url: string,
  form: URLSearchParams,
  nonce: string,
) {
  return crypto
    .createHmac("sha256", authToken)
    .update(`${plivoSignedBase(url, form)}.${nonce}`, "utf8")
    .digest("base64");
}

export const plivoInbound: InboundAdapter = {
  provider: "plivo",
  contentTypes: ["application/x-www-form-urlencoded"],
  maxBytes: 64 * 1024,
  signatureHeaders: ["x-plivo-signature-v3", "x-plivo-signature-v3-nonce"],
  notConfigured: (env) => (env.PLIVO_AUTH_TOKEN ? null : "PLIVO_AUTH_TOKEN is not configured"),
  signedUrl: (env, url) => publicRequestUrl(env, url, env.PLIVO_WEBHOOK_URL),
  verify({ raw, headers, url, env }) {
    const header = headers.get("x-plivo-signature-v3") ?? "";
    const nonce = headers.get("x-plivo-signature-v3-nonce") ?? "";
    if (!nonce || nonce.length > 200 || header.length > 1000) return false;
    const expected = plivoSignatureV3(
      env.PLIVO_AUTH_TOKEN!,
      url,
      new URLSearchParams(raw.toString("utf8")),
      nonce,
    );
    let ok = false;
    // Every candidate is compared (no early exit).
    for (const candidate of header.split(",")) ok = safeEqual(candidate.trim(), expected) || ok;
    return ok;
  },
  translate(raw) {
    const form = new URLSearchParams(raw.toString("utf8"));
    const from = form.get("From");
    const id = form.get("MessageUUID");
    if (!from) throw new BadPayload("no From field");
    if (!id) throw new BadPayload("no MessageUUID field");
    return [
      {
        provider: "plivo",
        providerMessageId: id,
        channel: "sms",
        from: /^\d{6,15}$/.test(from) ? `+${from}` : from,
        to: form.get("To"),
        text: form.get("Text") ?? "",
        optOutType: parseProviderOptOutType(form.get("MessageIntent")),
        sentAt: null,
      },
    ];
  },
};

export const plivoOutbound: OutboundProvider = {
  provider: "plivo",
  configured: (env, channel) =>
    channel === "sms" && Boolean(env.PLIVO_AUTH_ID && env.PLIVO_AUTH_TOKEN && env.PLIVO_FROM),
  send(env, msg, options) {
    const from = msg.from && /^\+?\d+$/.test(msg.from) ? msg.from : env.PLIVO_FROM!;
    const base = (options.baseUrl ?? "https://api.plivo.com").replace(/\/+$/, "");
    const auth = Buffer.from(`${env.PLIVO_AUTH_ID}:${env.PLIVO_AUTH_TOKEN}`).toString("base64");
    return postToProvider(
      "Plivo",
      `${base}/v1/Account/${encodeURIComponent(env.PLIVO_AUTH_ID!)}/Message/`,
      {
        headers: { Authorization: `Basic ${auth}`, "Content-Type": "application/json" },
        body: JSON.stringify({ src: from, dst: msg.to, text: msg.body }),
      },
      options,
      (json) => (Array.isArray(json.message_uuid) ? str(json.message_uuid[0]) : null),
    );
  },
};
