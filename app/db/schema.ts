import type { ColumnType, Generated, Insertable, Selectable } from "kysely";

/** Table types for Kysely, matching migrations/. */

export const CHANNELS = ["email", "sms", "whatsapp"] as const;
export type Channel = (typeof CHANNELS)[number];

export const CONSENT_SOURCES = [
  "link",
  "one_click",
  "preference_page",
  "sms_keyword",
  "admin",
  "import",
  "api",
  "double_opt_in",
  "system",
  "mailto",
  "complaint",
  "esp",
] as const;
export type ConsentSource = (typeof CONSENT_SOURCES)[number];

export const LEDGER_ACTIONS = [
  "unsubscribe",
  "subscribe",
  "pause",
  "resume",
  "topic_opt_out",
  "topic_opt_in",
  "signup_pending",
  "erase",
  "frequency",
] as const;
export type LedgerAction = (typeof LEDGER_ACTIONS)[number];

export type ChannelStatus = "subscribed" | "unsubscribed" | "pending";
export type TopicStatus = "opted_in" | "opted_out";
export type ActorType = "admin_user" | "api_key" | "recipient" | "system";

// Column helper types, shared by every table type (here and in the feature folders' schema.ts).
export type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** A timestamp with a database default: optional on insert. */
export type DefaultTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** A nullable timestamp, optional on insert. */
export type NullableTimestamp = ColumnType<
  Date | null,
  Date | string | null | undefined,
  Date | string | null
>;
export type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
export type Json<T = Record<string, unknown>> = ColumnType<T, string | T, string | T>;
/** JSON with a database default: optional on insert. */
export type DefaultJson<T = Record<string, unknown>> = ColumnType<
  T,
  string | T | undefined,
  string | T
>;
/** A number with a database default: optional on insert. */
export type Counter = ColumnType<number, number | undefined, number>;

export interface ContactsTable {
  id: Generated<string>;
  external_id: string | null;
  email: string | null;
  phone: string | null;
  locale: string | null;
  created_at: CreatedAt;
  updated_at: DefaultTimestamp;
  erased_at: Timestamp | null;
}

export type LocalizedText = Record<string, string>;

export interface TopicsTable {
  key: string;
  names: Json<LocalizedText>;
  descriptions: Json<LocalizedText>;
  channels: Channel[];
  default_opt_in: Generated<boolean>;
  position: Generated<number>;
  archived_at: Timestamp | null;
  created_at: CreatedAt;
  updated_at: DefaultTimestamp;
}

export interface ChannelConsentTable {
  channel: Channel;
  address_hash: string;
  address: string | null;
  status: ChannelStatus;
  paused_until: Timestamp | null;
  last_ledger_id: number | null;
  updated_at: DefaultTimestamp;
}

export interface TopicConsentTable {
  channel: Channel;
  address_hash: string;
  topic: string;
  status: TopicStatus;
  last_ledger_id: number | null;
  updated_at: DefaultTimestamp;
}

export interface CampaignsTable {
  key: string;
  name: string;
  channel: Channel;
  topic: string | null;
  sent_count: Generated<number>;
  created_at: CreatedAt;
  updated_at: DefaultTimestamp;
}

export interface ConsentLedgerTable {
  id: Generated<number>;
  occurred_at: DefaultTimestamp;
  channel: Channel;
  address_hash: string;
  address: string | null;
  contact_id: string | null;
  topic: string | null;
  action: LedgerAction;
  source: ConsentSource;
  campaign: string | null;
  reason_code: string | null;
  reason_text: string | null;
  actor_type: ActorType | null;
  actor_id: string | null;
  ip: string | null;
  user_agent: string | null;
  paused_until: Timestamp | null;
  details: DefaultJson;
  /** With action `frequency`: the chosen frequency option's key. */
  frequency: string | null;
  /** The chain (docs/consent.md#proof-of-consent): set by the insert trigger, never by writers. */
  prev_hash: ColumnType<Uint8Array | null, never, never>;
  evidence_hash: ColumnType<Uint8Array, never, never>;
  row_hash: ColumnType<Uint8Array, never, never>;
}

/** A running digest over the ledger's row hashes (docs/consent.md#proof-of-consent). */
export interface LedgerCheckpointsTable {
  id: Generated<number>;
  created_at: CreatedAt;
  from_txid: string;
  to_txid: string;
  row_count: number;
  last_ledger_id: number | null;
  prev_digest: Uint8Array | null;
  digest: Uint8Array;
}

/** Frequency choices the operator offers per channel (docs/consent.md#frequency). */
export interface FrequencyOptionsTable {
  channel: Channel;
  key: string;
  labels: DefaultJson<LocalizedText>;
  /** null: every message. */
  window_days: number | null;
  position: Counter;
  created_at: CreatedAt;
  updated_at: DefaultTimestamp;
}

/** Each address's frequency choice per channel, with the window it chose. */
export interface FrequencyConsentTable {
  channel: Channel;
  address_hash: string;
  frequency: string;
  window_days: number | null;
  last_ledger_id: number | null;
  updated_at: DefaultTimestamp;
}

/** Sends recorded by a check with `record: true`, one per (channel, address, campaign). */
export interface SendLogTable {
  channel: Channel;
  address_hash: string;
  campaign: string;
  sent_at: DefaultTimestamp;
}

export interface DoubleOptInRequestsTable {
  id: Generated<string>;
  channel: Channel;
  address_hash: string;
  address: string | null;
  contact_id: string | null;
  topics: Generated<string[]>;
  locale: string | null;
  status: Generated<"pending" | "confirmed" | "expired" | "superseded">;
  source: string;
  ip: string | null;
  user_agent: string | null;
  message_hash: string | null;
  template_version: string | null;
  created_at: CreatedAt;
  expires_at: Timestamp;
  confirmed_at: Timestamp | null;
  confirmed_ip: string | null;
  confirmed_user_agent: string | null;
  /** The address was never subscribed: the confirmation's words do not say "again". */
  first_signup: Generated<boolean>;
}

export interface ShortLinksTable {
  code: string;
  target: string;
  created_at: CreatedAt;
  expires_at: Timestamp | null;
}

export type AdminRole = "agent" | "admin";

export interface AdminUsersTable {
  id: Generated<string>;
  email: string;
  name: string | null;
  password_hash: string;
  role: AdminRole;
  created_at: CreatedAt;
  last_login_at: Timestamp | null;
  disabled_at: Timestamp | null;
  /** The admin area's language chosen on the Account page; null: Accept-Language. */
  locale: Generated<string | null>;
}

export interface AdminSessionsTable {
  id_hash: string;
  user_id: string;
  created_at: CreatedAt;
  expires_at: Timestamp;
  ip: string | null;
  user_agent: string | null;
}

export interface ApiKeysTable {
  id: Generated<string>;
  name: string;
  prefix: string;
  key_hash: string;
  scopes: string[];
  created_by: string | null;
  created_at: CreatedAt;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface AuditLogTable {
  id: Generated<number>;
  occurred_at: DefaultTimestamp;
  actor_type: string;
  actor_id: string | null;
  actor_label: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: DefaultJson;
  ip: string | null;
  user_agent: string | null;
}

export interface OutboxTable {
  id: Generated<number>;
  kind: "email" | "sms" | "webhook";
  recipient: string;
  payload: Json;
  status: Generated<"pending" | "sending" | "sent" | "dead" | "expired">;
  attempts: Generated<number>;
  max_attempts: Generated<number>;
  next_attempt_at: DefaultTimestamp;
  locked_until: Timestamp | null;
  last_error: string | null;
  created_at: CreatedAt;
  sent_at: Timestamp | null;
  /** Never delivered after this (an opt-out confirmation); the worker marks it `expired`. */
  deliver_by: NullableTimestamp;
  /** Random, kept across retries: email Message-ID and webhook-id come from it. */
  uid: Generated<string>;
}

export interface SettingsTable {
  key: string;
  value: Json<unknown>;
  updated_at: DefaultTimestamp;
}

export interface UnsubscribeReasonsTable {
  code: string;
  labels: Json<LocalizedText>;
  position: Generated<number>;
  enabled: Generated<boolean>;
  free_text: Generated<boolean>;
}

export interface RateLimitsTable {
  key: string;
  window_start: Timestamp;
  count: number;
}

export interface InboundMessagesTable {
  id: Generated<number>;
  /** twilio, vonage, plivo, telnyx, meta, smtp, ses, sendgrid, mailgun, postmark, resend, ... */
  provider: string;
  provider_message_id: string;
  channel: Channel;
  /** What arrived: sms, whatsapp, mailto, complaint, esp_unsubscribe, bounce, ... */
  kind: string;
  address_hash: string | null;
  address: string | null;
  contact_id: string | null;
  body: string | null;
  /** received, applied, review, ignored, ... */
  decision: Generated<string>;
  ledger_id: number | null;
  details: DefaultJson;
  received_at: DefaultTimestamp;
  decided_at: Timestamp | null;
  /** The campaign the event is attributed to, when known (complaint rates per campaign). */
  campaign: ColumnType<string | null, string | null | undefined, string | null>;
  /** The agent review queue: when and by whom a `review` message was applied or dismissed. */
  reviewed_at: NullableTimestamp;
  reviewed_by: string | null;
  /** The reply Heed queued for this message (confirmation, HELP text), if any. */
  reply_outbox_id: number | null;
  /** Deliveries of the same provider message id after the first: counted, never decided again. */
  replay_count: Counter;
  last_replay_at: NullableTimestamp;
}

/** Logos uploaded on /admin/branding (app/settings/logo.server.ts). */
export interface BrandingLogosTable {
  /** `<first 16 hex of the SHA-256>.<ext>`: the file name in its URL. */
  name: string;
  sha256: string;
  content_type: string;
  bytes: Uint8Array;
  size: number;
  uploaded_by: string | null;
  created_at: CreatedAt;
}

export interface Database {
  contacts: ContactsTable;
  topics: TopicsTable;
  channel_consent: ChannelConsentTable;
  topic_consent: TopicConsentTable;
  campaigns: CampaignsTable;
  consent_ledger: ConsentLedgerTable;
  ledger_checkpoints: LedgerCheckpointsTable;
  frequency_options: FrequencyOptionsTable;
  frequency_consent: FrequencyConsentTable;
  send_log: SendLogTable;
  double_opt_in_requests: DoubleOptInRequestsTable;
  short_links: ShortLinksTable;
  admin_users: AdminUsersTable;
  admin_sessions: AdminSessionsTable;
  api_keys: ApiKeysTable;
  audit_log: AuditLogTable;
  outbox: OutboxTable;
  settings: SettingsTable;
  unsubscribe_reasons: UnsubscribeReasonsTable;
  rate_limits: RateLimitsTable;
  inbound_messages: InboundMessagesTable;
  branding_logos: BrandingLogosTable;
}

export type Contact = Selectable<ContactsTable>;
export type Topic = Selectable<TopicsTable>;
export type LedgerRow = Selectable<ConsentLedgerTable>;
export type NewLedgerRow = Insertable<ConsentLedgerTable>;
