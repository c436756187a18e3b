import { sql } from "kysely";
import { Webhook } from "standardwebhooks";
import { loadEvent } from "~/api/events.server";
import type { Db } from "~/db/db.server";
import type { DeliveryResult, Transport } from "~/outbox/types";
import { requestPublic, SsrfError } from "~/security/outbound.server";
import { autoDisableWebhookEndpoint } from "~/webhooks/disable.server";
import {
  parseRetryAfter,
  RETRY_AFTER_MAX_MS,
  scheduledRetryDelayMs,
  THROTTLE_BASE_MS,
  THROTTLE_MAX_MS,
  THROTTLE_STATUSES,
} from "~/webhooks/retry-schedule";
import { withWebhookTables } from "~/webhooks/schema";

/**
 * Delivers one outbound webhook (an outbox row of kind 'webhook', recipient = endpoint id),
 * signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`) with the
 * `standardwebhooks` package, following the Standard Webhooks recommendations for retries:
 *
 * - 2xx: delivered. Redirects are not followed (a 3xx is a failure: update the URL instead).
 * - Any other answer, a timeout or a network error: retried on the published schedule
 *   (app/webhooks/retry-schedule.ts: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h), never
 *   sooner than the receiver's `Retry-After` (seconds or an HTTP date, honoured up to 24 h).
 * - 429, 502, 503, 504: the endpoint is also paused (until its Retry-After, or 5 s, 20 s, 80 s …
 *   up to an hour for answers in a row without one): none of its deliveries is sent before then;
 *   one already claimed is put back without counting an attempt.
 * - 410 Gone: the endpoint is disabled at once. When the last attempt of the schedule fails and
 *   no delivery to the endpoint succeeded since this one was first tried, the endpoint is
 *   disabled too. Either way every admin gets an email (app/webhooks/disable.server.ts).
 *
 * The `webhook-id` is the event's random id (app/webhooks/enqueue.server.ts), the same on every
 * attempt. Connections go through the SSRF guard (app/security/outbound.server.ts): the URL is
 * checked again and the connection only reaches the addresses that were checked.
 */

export type WebhookTransportOptions = {
  /** Overrides WEBHOOKS_ALLOW_PRIVATE (tests). */
  allowPrivate?: boolean;
  timeoutMs?: number;
  /** The jitter source of the retry schedule (tests). */
  random?: () => number;
};

type Payload = {
  ledgerId?: number;
  type?: string;
  messageId?: string;
  /** A ready event body, for events with no ledger row behind them (report alerts). */
  event?: { type: string; timestamp: string; data: unknown };
};

/** Pauses the endpoint after a throttling answer; returns the end of the pause. */
async function throttle(db: Db, endpointId: string, now: Date, retryAfterMs: number | null) {
  const seconds = (ms: number) => ms / 1000;
  const row = await sql<{ throttled_until: Date }>`
    update webhook_endpoints set
      throttle_strikes = throttle_strikes + 1,
      throttled_until = greatest(throttled_until, ${now}::timestamptz + make_interval(secs =>
        coalesce(${retryAfterMs === null ? null : seconds(retryAfterMs)}::double precision,
                 least(${seconds(THROTTLE_MAX_MS)}::double precision,
                       ${seconds(THROTTLE_BASE_MS)} * power(4, throttle_strikes)))))
    where id = ${endpointId}::uuid
    returning throttled_until`.execute(db);
  const until = row.rows[0]?.throttled_until;
  if (!until) return null;
  // Its other queued deliveries wait too (those already claimed are put back when they run).
  await sql`
    update outbox set next_attempt_at = ${until}::timestamptz
    where kind = 'webhook' and recipient = ${endpointId} and status = 'pending'
      and next_attempt_at < ${until}::timestamptz`.execute(db);
  return new Date(until);
}

async function clearThrottle(db: Db, endpointId: string) {
  await withWebhookTables(db)
    .updateTable("webhook_endpoints")
    .set({ throttle_strikes: 0, throttled_until: null })
    .where("id", "=", endpointId)
    .where((eb) => eb.or([eb("throttle_strikes", ">", 0), eb("throttled_until", "is not", null)]))
    .execute();
}

/** True when no delivery to the endpoint succeeded since this outbox message was first tried. */
async function failingThroughout(db: Db, endpointId: string, outboxId: number) {
  const r = await sql<{ succeeded: boolean }>`
    select exists (
      select 1 from webhook_deliveries d
      where d.endpoint_id = ${endpointId}::uuid and d.status_code between 200 and 299
        and d.created_at >= coalesce(
          (select min(created_at) from webhook_deliveries where outbox_id = ${outboxId}),
          (select created_at from outbox where id = ${outboxId}))
    ) as succeeded`.execute(db);
  return !r.rows[0]?.succeeded;
}

export function createWebhookTransport(options: WebhookTransportOptions = {}): Transport {
  const random = options.random ?? Math.random;
  return async (delivery, { db, env, now: clock }): Promise<DeliveryResult> => {
    const now = clock?.() ?? new Date();
    const wdb = withWebhookTables(db);
    const payload = delivery.payload as Payload;
    const endpoint = await wdb
      .selectFrom("webhook_endpoints")
      .select(["id", "url", "secret", "enabled", "throttled_until"])
      .where("id", "=", delivery.recipient)
      .executeTakeFirst();
    if (!endpoint) return { ok: false, error: "the endpoint was deleted", permanent: true };
    if (!endpoint.enabled) return { ok: false, error: "the endpoint is disabled", permanent: true };
    if (endpoint.throttled_until && endpoint.throttled_until > now) {
      return {
        ok: false,
        notAttempted: true,
        retryAt: endpoint.throttled_until,
        error: `the endpoint is paused until ${endpoint.throttled_until.toISOString()}`,
      };
    }

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
    // Deliveries queued before ids were random carry none: the outbox row's own random id.
    const messageId = payload.messageId ?? `msg_${delivery.uid.replaceAll("-", "")}`;
    // The signature's timestamp is the real time of sending (receivers check it against theirs).
    const sentAt = new Date();
    const signature = new Webhook(endpoint.secret).sign(messageId, sentAt, body);
    const headers = {
      "Content-Type": "application/json",
      "User-Agent": "Heed-Webhooks/1.0",
      "webhook-id": messageId,
      "webhook-timestamp": String(Math.floor(sentAt.getTime() / 1000)),
      "webhook-signature": signature,
    };

    const attempt = delivery.attempts + 1;
    const started = performance.now();
    let statusCode: number | null = null;
    let retryAfterMs: number | null = null;
    let error: string | null = null;
    try {
      const res = await requestPublic(endpoint.url, {
        method: "POST",
        headers,
        body,
        timeoutMs: options.timeoutMs ?? 15_000,
        maxResponseBytes: 2048,
        maxRedirects: 0,
        allowPrivate: options.allowPrivate ?? env.WEBHOOKS_ALLOW_PRIVATE,
      });
      statusCode = res.status;
      if (res.status < 200 || res.status >= 300) {
        const text = res.body.toString("utf8").slice(0, 200);
        error = `HTTP ${res.status}${
          res.status >= 300 && res.status < 400
            ? " (redirects are not followed: update the endpoint's URL)"
            : text
              ? `: ${text}`
              : ""
        }`;
        retryAfterMs = parseRetryAfter(res.headers["retry-after"], now);
      }
    } catch (e) {
      const refused = e instanceof SsrfError || (e as NodeJS.ErrnoException).code === "ESSRF";
      error = `${refused ? "refused: " : ""}${(e as Error).message}`;
    }
    await wdb
      .insertInto("webhook_deliveries")
      .values({
        endpoint_id: endpoint.id,
        outbox_id: delivery.id,
        message_id: messageId,
        event_type: eventType,
        attempt,
        status_code: statusCode,
        error: error?.slice(0, 1000) ?? null,
        duration_ms: Math.round(performance.now() - started),
      })
      .execute();

    if (error === null) {
      await clearThrottle(db, endpoint.id);
      return { ok: true, detail: `HTTP ${statusCode}` };
    }
    if (statusCode === 410) {
      await autoDisableWebhookEndpoint(db, endpoint.id, "the endpoint answered 410 Gone", env);
      return { ok: false, error: "HTTP 410 Gone: endpoint disabled", permanent: true };
    }
    if (statusCode !== null && THROTTLE_STATUSES.includes(statusCode)) {
      await throttle(db, endpoint.id, now, retryAfterMs);
    }
    const delay = attempt < delivery.maxAttempts ? scheduledRetryDelayMs(attempt, random) : null;
    if (delay === null) {
      if (await failingThroughout(db, endpoint.id, delivery.id)) {
        await autoDisableWebhookEndpoint(
          db,
          endpoint.id,
          `every delivery failed for the whole retry schedule (${attempt} attempts; the last: ${error.slice(0, 200)})`,
          env,
        );
      }
      return { ok: false, error: `${error}; gave up after ${attempt} attempts`, permanent: true };
    }
    const wait = Math.max(delay, Math.min(retryAfterMs ?? 0, RETRY_AFTER_MAX_MS));
    return { ok: false, error, retryAt: new Date(now.getTime() + wait) };
  };
}

export const webhookTransport: Transport = createWebhookTransport();
