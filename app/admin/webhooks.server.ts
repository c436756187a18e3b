import { audit, type AuditContext } from "~/admin/audit.server";
import { inTransaction, type Db } from "~/db/db.server";
import { retryOutboxMessage } from "~/outbox/outbox.server";
import {
  checkWebhookEndpoint,
  deleteWebhookEndpoint,
  insertWebhookEndpoint,
  retryDeadWebhookDeliveries,
  setWebhookEndpointEnabled,
  type CreateEndpointResult,
  type WebhookEndpoint,
} from "~/webhooks/endpoints.server";

/**
 * Outbound webhook endpoints as the admin area manages them: each change and its audit row in one
 * transaction. The primitives (app/webhooks/endpoints.server.ts) are also used by the webhook
 * transport, which disables an endpoint that answers 410 Gone without an operator.
 */

type Target = { type: "webhook_endpoint"; id: string };
const targetOf = (endpoint: Pick<WebhookEndpoint, "id">): Target => ({
  type: "webhook_endpoint",
  id: endpoint.id,
});

/**
 * Registers an endpoint. The URL is resolved (SSRF check) before the transaction opens, so that a
 * slow DNS answer never holds a transaction open.
 */
export async function registerWebhookEndpoint(
  db: Db,
  input: { url: string; description?: string | null; eventTypes: readonly string[] },
  options: { allowPrivate: boolean; requireHttps: boolean },
  by: AuditContext,
): Promise<CreateEndpointResult> {
  const checked = await checkWebhookEndpoint(input, options);
  if (!checked.ok) return checked;
  const createdBy = by.actor.type === "admin_user" ? (by.actor.id ?? null) : null;
  return inTransaction(db, async (trx) => {
    const created = await insertWebhookEndpoint(trx, checked, { ...input, createdBy });
    await audit(trx, {
      ...by,
      action: "webhook.create",
      target: targetOf(created.endpoint),
      details: { url: created.endpoint.url, eventTypes: created.endpoint.eventTypes },
    });
    return { ok: true, ...created };
  });
}

/** Enables an endpoint, or disables it (no new deliveries are queued for it). */
export async function setWebhookEndpointEnabledAudited(
  db: Db,
  endpoint: Pick<WebhookEndpoint, "id" | "url">,
  enable: boolean,
  by: AuditContext,
): Promise<void> {
  await inTransaction(db, async (trx) => {
    const reason = enable ? null : `disabled by ${by.actor.label ?? by.actor.type}`;
    await setWebhookEndpointEnabled(trx, endpoint.id, enable, reason);
    await audit(trx, {
      ...by,
      action: enable ? "webhook.enable" : "webhook.disable",
      target: targetOf(endpoint),
      details: { url: endpoint.url },
    });
  });
}

export async function deleteWebhookEndpointAudited(
  db: Db,
  endpoint: Pick<WebhookEndpoint, "id" | "url">,
  by: AuditContext,
): Promise<void> {
  await inTransaction(db, async (trx) => {
    await deleteWebhookEndpoint(trx, endpoint.id);
    await audit(trx, {
      ...by,
      action: "webhook.delete",
      target: targetOf(endpoint),
      details: { url: endpoint.url },
    });
  });
}

/**
 * Gives a dead delivery of this endpoint a fresh set of attempts. False when the outbox message is
 * not a delivery of this endpoint, or not dead.
 */
export async function retryWebhookDelivery(
  db: Db,
  endpoint: Pick<WebhookEndpoint, "id">,
  outboxId: number,
  by: AuditContext,
): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const mine = await trx
      .selectFrom("outbox")
      .select("id")
      .where("id", "=", outboxId)
      .where("kind", "=", "webhook")
      .where("recipient", "=", endpoint.id)
      .executeTakeFirst();
    if (!mine || !(await retryOutboxMessage(trx, outboxId))) return false;
    await audit(trx, {
      ...by,
      action: "webhook.retry",
      target: targetOf(endpoint),
      details: { outboxId },
    });
    return true;
  });
}

/** Gives every dead delivery of this endpoint a fresh schedule. Returns how many. */
export async function retryAllWebhookDeliveries(
  db: Db,
  endpoint: Pick<WebhookEndpoint, "id">,
  by: AuditContext,
): Promise<number> {
  return inTransaction(db, async (trx) => {
    const count = await retryDeadWebhookDeliveries(trx, endpoint.id);
    if (count > 0) {
      await audit(trx, {
        ...by,
        action: "webhook.retry_all",
        target: targetOf(endpoint),
        details: { count },
      });
    }
    return count;
  });
}
