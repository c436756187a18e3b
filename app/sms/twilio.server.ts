import crypto from "node:crypto";

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

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  if (x.length !== y.length) {
    crypto.timingSafeEqual(x, x); // spend comparable time either way
    return false;
  }
  return crypto.timingSafeEqual(x, y);
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
