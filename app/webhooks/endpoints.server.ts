import crypto from "node:crypto";
import { sql } from "kysely";
import type { Db } from "~/db/db.server";
import { LEDGER_ACTIONS } from "~/db/schema";
import { COMPLAINT_RATE_HIGH_EVENT, UNDELIVERABLE_EVENT_TYPES } from "~/email/constants";
import { checkOutboundUrl } from "~/security/outbound.server";
import { withWebhookTables } from "~/webhooks/schema";
import { isUuid } from "~/db/ids";

/**
 * Outbound webhook endpoints (docs/api.md): URL, the event types it receives, and a Standard Webhooks
 * secret (`whsec_` + base64) that signs every delivery; the secret is shown once, when the
 * endpoint is created.
 */

/** One event type per consent ledger action that goes through the consent core. */
export const WEBHOOK_EVENT_TYPES = [
  ...LEDGER_ACTIONS.filter((a) => a !== "erase").map((a) => `consent.${a}`),
  // A campaign's unsubscribe rate passed the alert threshold (app/reports/alerts.server.ts).
  "campaign.unsubscribe_rate_high",
  // An address was marked undeliverable (hard bounce) or cleared; a campaign's complaint rate
  // passed its alert threshold (app/email/).
  ...UNDELIVERABLE_EVENT_TYPES,
  COMPLAINT_RATE_HIGH_EVENT,
];

export function isWebhookEventType(value: string): boolean {
  return WEBHOOK_EVENT_TYPES.includes(value);
}

export function generateWebhookSecret(): string {
  return `whsec_${crypto.randomBytes(32).toString("base64")}`;
}

export type WebhookEndpoint = {
  id: string;
  url: string;
  description: string | null;
  eventTypes: string[];
  enabled: boolean;
  disabledReason: string | null;
  createdAt: Date;
  disabledAt: Date | null;
  /** Paused after a 429/502/503/504 answer: no request before this time. */
  throttledUntil: Date | null;
};

export type CreateEndpointResult =
  | { ok: true; endpoint: WebhookEndpoint; secret: string }
  | { ok: false; field: "url" | "eventTypes"; reason: string };

export async function createWebhookEndpoint(
  db: Db,
  input: {
    url: string;
    description?: string | null;
    eventTypes: readonly string[];
    createdBy?: string | null;
  },
  options: { allowPrivate: boolean; requireHttps: boolean },
): Promise<CreateEndpointResult> {
  const checked = await checkWebhookEndpoint(input, options);
  if (!checked.ok) return checked;
  return { ok: true, ...(await insertWebhookEndpoint(db, checked, input)) };
}

export type CheckedEndpoint = { ok: true; url: string; eventTypes: string[] };

/**
 * The checks of a new endpoint (event types, then the URL and what it resolves to). Separate from
 * the insert so that a caller can resolve the URL before it opens a transaction.
 */
export async function checkWebhookEndpoint(
  input: { url: string; eventTypes: readonly string[] },
  options: { allowPrivate: boolean; requireHttps: boolean },
): Promise<CheckedEndpoint | Extract<CreateEndpointResult, { ok: false }>> {
  const types = [...new Set(input.eventTypes)];
  if (types.length === 0)
    return { ok: false, field: "eventTypes", reason: "choose at least one event type" };
  const unknown = types.filter((t) => !isWebhookEventType(t));
  if (unknown.length > 0)
    return { ok: false, field: "eventTypes", reason: `unknown event type ${unknown.join(", ")}` };
  const checked = await checkOutboundUrl(input.url, options);
  if (!checked.ok) return { ok: false, field: "url", reason: checked.reason };
  return { ok: true, url: checked.url.toString(), eventTypes: types };
}

/** Stores a checked endpoint with a new secret. */
export async function insertWebhookEndpoint(
  db: Db,
  checked: CheckedEndpoint,
  input: { description?: string | null; createdBy?: string | null },
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const secret = generateWebhookSecret();
  const row = await withWebhookTables(db)
    .insertInto("webhook_endpoints")
    .values({
      url: checked.url,
      description: input.description?.trim() || null,
      event_types: sql<string[]>`${sql.val(checked.eventTypes)}::text[]` as unknown as string[],
      secret,
      created_by: input.createdBy ?? null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { secret, endpoint: endpointJson(row) };
}

function endpointJson(r: {
  id: string;
  url: string;
  description: string | null;
  event_types: string[];
  enabled: boolean;
  disabled_reason: string | null;
  created_at: Date;
  disabled_at: Date | null;
  throttled_until: Date | null;
}): WebhookEndpoint {
  return {
    id: r.id,
    url: r.url,
    description: r.description,
    eventTypes: r.event_types,
    enabled: r.enabled,
    disabledReason: r.disabled_reason,
    createdAt: r.created_at,
    disabledAt: r.disabled_at,
    throttledUntil: r.throttled_until,
  };
}

export async function listWebhookEndpoints(db: Db): Promise<WebhookEndpoint[]> {
  const rows = await withWebhookTables(db)
    .selectFrom("webhook_endpoints")
    .selectAll()
    .orderBy("created_at", "desc")
    .execute();
  return rows.map(endpointJson);
}

export async function getWebhookEndpoint(db: Db, id: string): Promise<WebhookEndpoint | null> {
  if (!isUuid(id)) return null;
  const row = await withWebhookTables(db)
    .selectFrom("webhook_endpoints")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirst();
  return row ? endpointJson(row) : null;
}

/** Enables or disables an endpoint; returns false when it does not exist. */
export async function setWebhookEndpointEnabled(
  db: Db,
  id: string,
  enabled: boolean,
  reason: string | null = null,
): Promise<boolean> {
  const r = await withWebhookTables(db)
    .updateTable("webhook_endpoints")
    .set({
      enabled,
      disabled_reason: enabled ? null : reason,
      disabled_at: enabled ? null : sql<Date>`now()`,
      updated_at: sql<Date>`now()`,
      // A fresh start: an endpoint enabled again is not paused by what it answered before.
      ...(enabled ? { throttled_until: null, throttle_strikes: 0 } : {}),
    })
    .where("id", "=", id)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function deleteWebhookEndpoint(db: Db, id: string): Promise<boolean> {
  const r = await withWebhookTables(db)
    .deleteFrom("webhook_endpoints")
    .where("id", "=", id)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export type DeliveryListItem = {
  outboxId: number;
  eventType: string;
  ledgerId: number | null;
  status: string;
  attempts: number;
  maxAttempts: number;
  lastError: string | null;
  createdAt: Date;
  sentAt: Date | null;
  /** When the next attempt is due (pending deliveries: the retry schedule's next step). */
  nextAttemptAt: Date;
  lastStatusCode: number | null;
  webhookId: string | null;
};

/** The endpoint's deliveries (outbox rows), newest first, with the last attempt's status code. */
export async function listWebhookDeliveries(
  db: Db,
  endpointId: string,
  options: { limit?: number; before?: number } = {},
): Promise<DeliveryListItem[]> {
  const rows = (
    await sql<{
      id: number;
      payload: { type?: string; ledgerId?: number };
      status: string;
      attempts: number;
      max_attempts: number;
      last_error: string | null;
      created_at: Date;
      sent_at: Date | null;
      next_attempt_at: Date;
      status_code: number | null;
      message_id: string | null;
    }>`
      select o.id, o.payload, o.status, o.attempts, o.max_attempts, o.last_error, o.created_at,
             o.sent_at, o.next_attempt_at, d.status_code, d.message_id
      from outbox o
      left join lateral (
        select status_code, message_id from webhook_deliveries
        where outbox_id = o.id order by id desc limit 1
      ) d on true
      where o.kind = 'webhook' and o.recipient = ${endpointId}
        ${options.before ? sql`and o.id < ${options.before}` : sql``}
      order by o.id desc
      limit ${options.limit ?? 50}`.execute(db)
  ).rows;
  return rows.map((r) => ({
    outboxId: r.id,
    eventType: r.payload?.type ?? "",
    ledgerId: r.payload?.ledgerId ?? null,
    status: r.status,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    lastError: r.last_error,
    createdAt: r.created_at,
    sentAt: r.sent_at,
    nextAttemptAt: r.next_attempt_at,
    lastStatusCode: r.status_code,
    webhookId: r.message_id,
  }));
}

/**
 * Gives every dead delivery of the endpoint a fresh retry schedule, due now (after an outage, once
 * the receiver works again). Returns how many.
 */
export async function retryDeadWebhookDeliveries(db: Db, endpointId: string): Promise<number> {
  const r = await db
    .updateTable("outbox")
    .set({ status: "pending", attempts: 0, next_attempt_at: new Date(), locked_until: null })
    .where("kind", "=", "webhook")
    .where("recipient", "=", endpointId)
    .where("status", "=", "dead")
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}
