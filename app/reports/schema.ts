import type { Generated, Kysely } from "kysely";
import type { Db } from "~/db/db.server";
import type { Channel, Database, DefaultJson, DefaultTimestamp } from "~/db/schema";

/**
 * Table types of the report tables (migrations/2026-11-22T1600_reports.ts), kept beside the
 * feature and added to a handle with `withReportTables(db)` (Kysely's withTables).
 */

export type AlertKind = "unsubscribe_rate_high" | "complaint_rate_high";
/** Why an alert fired: the rate passed the threshold, or it is far above the sender's average. */
export type AlertTrigger = "threshold" | "outlier";

export interface ReportAlertsTable {
  id: Generated<number>;
  campaign: string;
  kind: AlertKind;
  fired_at: DefaultTimestamp;
  channel: Channel;
  sent_count: number;
  unsubscribes: number;
  rate: number;
  triggers: AlertTrigger[];
  details: DefaultJson;
}

export interface ReportDailyTable {
  day: string;
  channel: Channel;
  action: string;
  source: string;
  topic: string | null;
  campaign: string | null;
  reason_code: string | null;
  n: number;
}

export interface ReportCampaignStatsTable {
  campaign: string;
  channel: Channel;
  people: number;
  /** Leaving rows by reason code ("" = no reason given). */
  reasons: DefaultJson<Record<string, number>>;
}

export interface ReportRollupStateTable {
  id: number;
  /** xid8 as text: rows of transactions at or after this horizon may not be in the rollups. */
  horizon: string;
  rolled_through: string | null;
  updated_at: DefaultTimestamp;
}

export type ReportTables = {
  report_alerts: ReportAlertsTable;
  report_daily: ReportDailyTable;
  report_campaign_stats: ReportCampaignStatsTable;
  report_rollup_state: ReportRollupStateTable;
};

export type ReportDb = Kysely<Database & ReportTables>;

export function withReportTables(db: Db): Kysely<Database & ReportTables> {
  return db.withTables<ReportTables>();
}
