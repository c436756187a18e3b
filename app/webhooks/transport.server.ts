import http from "node:http";
import https from "node:https";
import { Webhook } from "standardwebhooks";
import { loadEvent } from "~/api/events.server";
import type { DeliveryResult, Transport } from "~/outbox/types";
import { setWebhookEndpointEnabled } from "~/webhooks/endpoints.server";
import { withWebhookTables } from "~/webhooks/schema";
import { assertPublicHost, guardedLookup, SsrfError } from "~/webhooks/ssrf.server";

/**
 * Delivers one outbound webhook (an outbox row of kind 'webhook', recipient = endpoint id),
 * signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`) with the
 * `standardwebhooks` package. 2xx: delivered. 410 Gone: permanent failure, and the endpoint is
 * disabled. Anything else (other statuses, timeouts, network errors): retried by the outbox
 * worker with backoff. Connections to private addresses are refused at delivery time too.
 */

export type WebhookTransportOptions = {
  /** Overrides WEBHOOKS_ALLOW_PRIVATE (tests). */
  allowPrivate?: boolean;
  timeoutMs?: number;
};

type Post = { status: number; body: string };

function post(
  url: URL,
  body: string,
  headers: Record<string, string>,
  options: { allowPrivate: boolean; timeoutMs: number },
): Promise<Post> {
  const lib = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      url,
      {
        method: "POST",
        headers: { ...headers, "Content-Length": Buffer.byteLength(body).toString() },
        lookup: guardedLookup(options.allowPrivate),
        timeout: options.timeoutMs,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size <= 2048) chunks.push(c);
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString("utf8").slice(0, 500),
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timed out after ${options.timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

export function createWebhookTransport(options: WebhookTransportOptions = {}): Transport {
  return async (delivery, { db, env }): Promise<DeliveryResult> => {
    const wdb = withWebhookTables(db);
    const payload = delivery.payload as {
      ledgerId?: number;
      type?: string;
      messageId?: string;
      /** A ready event body, for events with no ledger row behind them (report alerts). */
      event?: { type: string; timestamp: string; data: unknown };
    };
    const endpoint = await wdb
      .selectFrom("webhook_endpoints")
      .select(["id", "url", "secret", "enabled"])
      .where("id", "=", delivery.recipient)
      .executeTakeFirst();
    if (!endpoint) return { ok: false, error: "the endpoint was deleted", permanent: true };
    if (!endpoint.enabled) return { ok: false, error: "the endpoint is disabled", permanent: true };
    let eventType: string;
    let body: string;
    if (payload.event && typeof payload.event.type === "string") {
      eventType = payload.event.type;
      body = JSON.stringify(payload.event);
    } else {
      // Consent events are built from the ledger at delivery time: no address waits in the outbox.
      const event =
        typeof payload.ledgerId === "number" ? await loadEvent(db, payload.ledgerId) : null;
      if (!event)
        return { ok: false, error: "the consent event no longer exists", permanent: true };
      eventType = event.type;
      body = JSON.stringify({ type: event.type, timestamp: event.occurredAt, data: event });
    }
    const messageId = payload.messageId ?? `msg_${payload.ledgerId}`;
    const now = new Date();
    const signature = new Webhook(endpoint.secret).sign(messageId, now, body);
    const headers = {
      "Content-Type": "application/json",
      "User-Agent": "Heed-Webhooks/1.0",
      "webhook-id": messageId,
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": signature,
    };
    const allowPrivate = options.allowPrivate ?? env.WEBHOOKS_ALLOW_PRIVATE;
    const started = performance.now();
    let result: DeliveryResult;
    let statusCode: number | null = null;
    try {
      const url = new URL(endpoint.url);
      await assertPublicHost(url.hostname, allowPrivate); // IP literals never reach `lookup`
      const res = await post(url, body, headers, {
        allowPrivate,
        timeoutMs: options.timeoutMs ?? 15_000,
      });
      statusCode = res.status;
      if (res.status >= 200 && res.status < 300) {
        result = { ok: true, detail: `HTTP ${res.status}` };
      } else if (res.status === 410) {
        await setWebhookEndpointEnabled(db, endpoint.id, false, "the endpoint answered 410 Gone");
        result = { ok: false, error: "HTTP 410 Gone: endpoint disabled", permanent: true };
      } else {
        result = {
          ok: false,
          error: `HTTP ${res.status}${res.body ? `: ${res.body.slice(0, 200)}` : ""}`,
        };
      }
    } catch (e) {
      const ssrf = e instanceof SsrfError || (e as NodeJS.ErrnoException).code === "ESSRF";
      result = { ok: false, error: `${ssrf ? "refused: " : ""}${(e as Error).message}` };
    }
    await wdb
      .insertInto("webhook_deliveries")
      .values({
        endpoint_id: endpoint.id,
        outbox_id: delivery.id,
        message_id: messageId,
        event_type: eventType,
        attempt: delivery.attempts + 1,
        status_code: statusCode,
        error: result.ok ? null : result.error.slice(0, 1000),
        duration_ms: Math.round(performance.now() - started),
      })
      .execute();
    return result;
  };
}

export const webhookTransport: Transport = createWebhookTransport();
