import { readCappedBody } from "~/http/capped-body.server";
import { getDb } from "~/db/db.server";
import { getEnv } from "~/env.server";
import { handleInboundSms } from "~/sms/inbound.server";
import { BadPayload, type InboundAdapter } from "~/sms/providers/shared.server";
import { NO_STORE } from "~/http/headers";

/**
 * The HTTP edge of every SMS/WhatsApp provider webhook (the routes are one line each):
 *
 * 1. POST only (405); the adapter must be configured, and the provider's signature header(s)
 *    present (403 before the body is read); the media type must be the provider's (415).
 * 2. The body is read up to the adapter's cap (413 beyond it; a lying Content-Length or a chunked
 *    body cannot make Heed buffer more), as raw bytes.
 * 3. The signature is verified on those bytes, in constant time, before anything is parsed:
 *    a wrong or missing one is 403 and nothing is written.
 * 4. The adapter translates the payload (400 if it cannot); each message goes to
 *    handleInboundSms, in order, each in its own transaction (a provider retry of a batch
 *    changes nothing for the messages already handled).
 * Errors are JSON `{"error": {"code", "message"}}`.
 */

function jsonError(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
) {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status,
    headers: {
      "Content-Type": "application/json; charset=utf-8",
      ...NO_STORE,
      ...headers,
    },
  });
}

export function methodNotAllowed(allow: string, what: string) {
  return jsonError(405, "method_not_allowed", `Method not allowed: ${what}`, { Allow: allow });
}

class TooLarge extends Error {}

function readRaw(request: Request, max: number): Promise<Buffer> {
  return readCappedBody(request, max, () => new TooLarge());
}

export async function runSmsWebhook(request: Request, adapter: InboundAdapter): Promise<Response> {
  if (request.method !== "POST") {
    return methodNotAllowed("POST", `${adapter.provider} posts messages here`);
  }
  const env = getEnv();
  const missing = adapter.notConfigured(env);
  if (missing) return jsonError(403, "forbidden", `Forbidden: ${missing}`);
  for (const h of adapter.signatureHeaders) {
    if (!request.headers.get(h)) return jsonError(403, "forbidden", `Forbidden: missing ${h}`);
  }
  const type = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (!adapter.contentTypes.includes(type)) {
    return jsonError(
      415,
      "unsupported_media_type",
      `Expected ${adapter.contentTypes.join(" or ")}`,
    );
  }
  let raw: Buffer;
  try {
    raw = await readRaw(request, adapter.maxBytes);
  } catch (e) {
    if (e instanceof TooLarge) {
      return jsonError(
        413,
        "payload_too_large",
        `The body is larger than ${adapter.maxBytes} bytes`,
      );
    }
    throw e;
  }
  const url = new URL(request.url);
  const signedUrl = adapter.signedUrl ? adapter.signedUrl(env, url) : url.toString();
  const valid = await adapter.verify({
    raw,
    headers: request.headers,
    url: signedUrl,
    env,
    now: Date.now(),
  });
  if (!valid) return jsonError(403, "forbidden", "Forbidden: invalid signature");
  let messages;
  try {
    messages = adapter.translate(raw, env);
  } catch (e) {
    if (e instanceof BadPayload)
      return jsonError(400, "invalid_payload", `Bad request: ${e.message}`);
    throw e;
  }
  const db = getDb();
  for (const message of messages) await handleInboundSms(db, message);
  return (
    adapter.ok?.() ??
    new Response(JSON.stringify({ received: messages.length }), {
      status: 200,
      headers: { "Content-Type": "application/json; charset=utf-8", ...NO_STORE },
    })
  );
}
