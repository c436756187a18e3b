import type { Generated, Kysely } from "kysely";
import type { Db } from "~/db/db.server";
import type {
  Channel,
  CreatedAt,
  Database,
  DefaultJson,
  DefaultTimestamp,
  Timestamp,
} from "~/db/schema";

/**
 * Table types of the email-events tables (migrations/2026-11-28T1300_email_events.ts), kept beside
 * the feature and added to a handle with `withEmailTables(db)` (Kysely's withTables).
 */

export interface MailtoCodesTable {
  code: string;
  address_hash: string;
  address: string | null;
  contact_id: string | null;
  topic: string | null;
  campaign: string | null;
  created_at: CreatedAt;
  expires_at: Timestamp;
}

export type UndeliverableAction = "mark" | "clear";
/** Why an address was marked: one hard bounce, or the operator's number of soft bounces in a row. */
export type UndeliverableReason = "hard_bounce" | "soft_bounces" | "cleared";

export interface UndeliverableEventsTable {
  id: Generated<number>;
  txid: Generated<string>;
  occurred_at: DefaultTimestamp;
  channel: Channel;
  address_hash: string;
  address: string | null;
  contact_id: string | null;
  action: UndeliverableAction;
  reason: UndeliverableReason;
  provider: string | null;
  campaign: string | null;
  /** The bounce's diagnostic (mark), or the agent's note (clear). */
  detail: string | null;
  actor_type: string | null;
  actor_id: string | null;
  ip: string | null;
  user_agent: string | null;
  inbound_id: number | null;
  details: DefaultJson;
}

export interface UndeliverableAddressesTable {
  channel: Channel;
  address_hash: string;
  address: string | null;
  reason: UndeliverableReason;
  provider: string | null;
  detail: string | null;
  last_event_id: number;
  marked_at: DefaultTimestamp;
}

export interface SoftBounceStreaksTable {
  channel: Channel;
  address_hash: string;
  count: number;
  first_at: DefaultTimestamp;
  last_at: DefaultTimestamp;
}

export type EmailTables = {
  mailto_codes: MailtoCodesTable;
  undeliverable_events: UndeliverableEventsTable;
  undeliverable_addresses: UndeliverableAddressesTable;
  soft_bounce_streaks: SoftBounceStreaksTable;
};

export type EmailDb = Kysely<Database & EmailTables>;

export function withEmailTables(db: Db): EmailDb {
  return db.withTables<EmailTables>();
}
