import type { Generated, Kysely } from "kysely";
import type { Db } from "~/db/db.server";
import type { CreatedAt, Database, DefaultTimestamp, NullableTimestamp } from "~/db/schema";

/**
 * Table types of the webhook tables (migrations/2026-11-22T1400_api_webhooks.ts). Kept beside the
 * feature and added to a handle with `withWebhookTables(db)` (Kysely's withTables).
 */

export interface WebhookEndpointsTable {
  id: Generated<string>;
  url: string;
  description: string | null;
  event_types: string[];
  secret: string;
  enabled: Generated<boolean>;
  disabled_reason: string | null;
  created_by: string | null;
  created_at: CreatedAt;
  updated_at: DefaultTimestamp;
  disabled_at: NullableTimestamp;
  /** No request to this endpoint before this time (it answered 429/502/503/504). */
  throttled_until: NullableTimestamp;
  /** Throttling answers in a row; reset by a 2xx. */
  throttle_strikes: Generated<number>;
}

export interface WebhookDeliveriesTable {
  id: Generated<number>;
  endpoint_id: string;
  outbox_id: number | null;
  message_id: string;
  event_type: string;
  attempt: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number | null;
  created_at: CreatedAt;
}

export type WebhookTables = {
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
};

export type WebhookDb = Kysely<Database & WebhookTables>;

export function withWebhookTables(db: Db): Kysely<Database & WebhookTables> {
  return db.withTables<WebhookTables>();
}
