import { audit, type AuditContext } from "~/admin/audit.server";
import type { Db, Trx } from "~/db/db.server";

import { ALERT_LOOKBACK_DAYS, RATE_HIGH_EVENT } from "~/reports/constants";

import { getEnv, type Env } from "~/env.server";

import { renderHtml, renderText, type EmailContent } from "~/mail/layout.server";

import { EmailPayloadSchema, type EmailPayload } from "~/mail/send.server";

import { messageHash } from "~/mail/templates.server";

import { enqueueOutbox } from "~/outbox/outbox.server";

import {
  rateCampaigns,
  toCampaignInfo,
  type CampaignInfo,
  type CampaignRate,
} from "~/reports/campaigns.server";

import { formatRate } from "~/reports/rates";

import { withReportTables, type AlertTrigger } from "~/reports/schema";

import { enqueueWebhookEvent } from "~/webhooks/enqueue.server";
import { evaluateComplaintAlerts } from "~/reports/email.server";

import { getAlertSettings, rulesOf, type AlertSettings } from "~/reports/settings.server";

import { getBranding, type Branding } from "~/settings/settings.server";

/**
 * Unsubscribe-rate alerts (rules: app/reports/rates.ts). A background task (every minute, on every
 * server) judges the campaigns registered in the last ALERT_LOOKBACK_DAYS that have no alert yet;
 * for each flagged one it records the alert, and in the same transaction queues the admin email
 * (if an address is configured) and the `campaign.unsubscribe_rate_high` webhook event for every
 * endpoint subscribed to it. The unique key (campaign, kind) of report_alerts makes that happen
 * once per campaign, however many servers evaluate at the same time.
 */
export { ALERT_LOOKBACK_DAYS, RATE_HIGH_EVENT };
const ALERT_KIND = "unsubscribe_rate_high" as const;
const CANDIDATE_LIMIT = 1000;

export type RateHighEvent = {
  type: typeof RATE_HIGH_EVENT;
  timestamp: string;
  data: {
    campaign: {
      key: string;
      name: string;
      channel: string;
      topic: string | null;
      sentCount: number;
    };
    unsubscribes: number;
    rate: number;
    thresholdPercent: number;
    triggers: AlertTrigger[];
    baseline: { campaigns: number; mean: number; stddev: number; limit: number } | null;
    reportUrl: string;
  };
};

export type FiredAlert = {
  alertId: number;
  campaign: CampaignRate;
  emailOutboxId: number | null;
  webhookOutboxIds: number[];
};

function reportUrl(env: Env, key: string): string {
  return `${env.publicUrl}/admin/reports/campaigns/${encodeURIComponent(key)}`;
}

function describeTriggers(c: CampaignRate, settings: AlertSettings): string[] {
  const lines: string[] = [];
  if (c.triggers.includes("threshold")) {
    lines.push(`The rate is at or above the alert threshold of ${settings.thresholdPercent} %.`);
  }
  if (c.triggers.includes("outlier") && c.baseline) {
    lines.push(
      `It is far above this sender's usual rate on ${c.channel}: the previous ${c.baseline.campaigns} campaigns ` +
        `averaged ${formatRate(c.baseline.mean)} (standard deviation ${formatRate(c.baseline.stddev)}), ` +
        `so anything above ${formatRate(c.baseline.limit)} stands out.`,
    );
  }
  return lines;
}

/** The operator's alert email: English (like the admin area), in the transactional mail layout. */
export function renderAlertEmail(
  c: CampaignRate,
  settings: AlertSettings,
  branding: Branding,
  env: Env,
): EmailPayload {
  const url = reportUrl(env, c.key);
  const subject = `Unsubscribe rate alert: ${c.name} (${formatRate(c.rate)})`;
  const content: EmailContent = {
    locale: "en",
    subject,
    preheader: `${c.unsubscribes} of ${c.sentCount} recipients left after "${c.name}".`,
    blocks: [
      { type: "heading", text: "A campaign's unsubscribe rate is high" },
      {
        type: "paragraph",
        text: `${c.unsubscribes} of the ${c.sentCount} recipients of "${c.name}" (${c.key}, ${c.channel}${
          c.topic ? `, topic ${c.topic}` : ""
        }) unsubscribed or opted out: ${formatRate(c.rate)}.`,
      },
      ...describeTriggers(c, settings).map((text) => ({ type: "paragraph" as const, text })),
      ...(c.topReasons.length > 0
        ? [
            {
              type: "paragraph" as const,
              text: `Top reasons: ${c.topReasons.map((r) => `${r.label} (${r.count})`).join(", ")}.`,
            },
          ]
        : []),
      { type: "button", text: "Open the campaign report", url },
    ],
    fallbackUrl: { label: "If the button does not work, open this address:", url },
    footer: [
      `Heed sends this alert once per campaign to ${settings.email}, the address set in Reports → Alert settings.`,
    ],
  };
  const email = {
    to: settings.email,
    subject,
    html: renderHtml(content, branding),
    text: renderText(content, branding),
    template: "report.rate_alert",
    templateVersion: "report.rate_alert/v1/en",
    locale: "en",
  };
  return EmailPayloadSchema.parse({ ...email, messageHash: messageHash(email) });
}

export function rateHighEvent(
  c: CampaignRate,
  settings: AlertSettings,
  env: Env,
  at: Date,
): RateHighEvent {
  return {
    type: RATE_HIGH_EVENT,
    timestamp: at.toISOString(),
    data: {
      campaign: {
        key: c.key,
        name: c.name,
        channel: c.channel,
        topic: c.topic,
        sentCount: c.sentCount,
      },
      unsubscribes: c.unsubscribes,
      rate: c.rate ?? 0,
      thresholdPercent: settings.thresholdPercent,
      triggers: c.triggers,
      baseline: c.baseline,
      reportUrl: reportUrl(env, c.key),
    },
  };
}

/**
 * Queues a `campaign.unsubscribe_rate_high` delivery for every enabled webhook endpoint subscribed
 * to it, like enqueueConsentEvent (app/webhooks/enqueue.server.ts) does for consent events, in the
 * alert's transaction. The payload carries the event body itself (`event`: type, timestamp, data),
 * since there is no ledger row to build it from; the webhook transport signs and posts it.
 */
export async function enqueueRateHighWebhooks(trx: Trx, event: RateHighEvent): Promise<number[]> {
  return enqueueWebhookEvent(trx, event);
}

/** Campaigns that may need an alert: recent, big enough, and not alerted yet. */
async function candidates(db: Db, rulesMinSent: number, now: Date): Promise<CampaignInfo[]> {
  const since = new Date(now.getTime() - ALERT_LOOKBACK_DAYS * 86_400_000);
  const rows = await withReportTables(db)
    .selectFrom("campaigns as c")
    .select(["c.key", "c.name", "c.channel", "c.topic", "c.sent_count", "c.created_at"])
    .where("c.created_at", ">=", since)
    .where("c.sent_count", ">=", rulesMinSent)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom("report_alerts as a")
            .select("a.id")
            .whereRef("a.campaign", "=", "c.key")
            .where("a.kind", "=", ALERT_KIND),
        ),
      ),
    )
    .orderBy("c.created_at", "desc")
    .limit(CANDIDATE_LIMIT)
    .execute();
  return rows.map(toCampaignInfo);
}

/**
 * "Check now" in the admin area: evaluates the alerts at once, then audits the check with what
 * fired. Each alert commits on its own (as in the background check), so the audit row follows.
 */
export async function checkAlertsNow(
  db: Db,
  by: AuditContext,
): Promise<{ fired: FiredAlert[]; complaints: { campaign: { key: string; name: string } }[] }> {
  const fired = await evaluateAlerts(db);
  const complaints = await evaluateComplaintAlerts(db);
  await audit(db, {
    ...by,
    action: "reports.alerts.check",
    details: {
      fired: fired.map((f) => f.campaign.key),
      complaints: complaints.map((f) => f.campaign.key),
    },
  });
  return { fired, complaints };
}

/**
 * Judges the recent campaigns and fires the alerts that are due (each once). Returns what fired.
 */
export async function evaluateAlerts(
  db: Db,
  options: { now?: Date; env?: Env } = {},
): Promise<FiredAlert[]> {
  const env = options.env ?? getEnv();
  const now = options.now ?? new Date();
  const settings = await getAlertSettings(db, env);
  const rules = rulesOf(settings);
  const due = (await rateCampaigns(db, await candidates(db, rules.minSent, now), rules)).filter(
    (c) => c.triggers.length > 0,
  );
  if (due.length === 0) return [];
  const branding = await getBranding(db);
  const fired: FiredAlert[] = [];
  for (const c of due) {
    const result = await db.transaction().execute(async (trx) => {
      const inserted = await withReportTables(trx)
        .insertInto("report_alerts")
        .values({
          campaign: c.key,
          kind: ALERT_KIND,
          channel: c.channel,
          sent_count: c.sentCount,
          unsubscribes: c.unsubscribes,
          rate: c.rate ?? 0,
          triggers: c.triggers,
          details: JSON.stringify({
            thresholdPercent: settings.thresholdPercent,
            minSent: settings.minSent,
            baseline: c.baseline,
            topReasons: c.topReasons,
          }),
        })
        .onConflict((oc) => oc.columns(["campaign", "kind"]).doNothing())
        .returning(["id", "fired_at"])
        .executeTakeFirst();
      if (!inserted) return null; // another server fired it first
      const emailOutboxId = settings.email
        ? await enqueueOutbox(trx, {
            kind: "email",
            recipient: settings.email,
            payload: renderAlertEmail(c, settings, branding, env),
          })
        : null;
      const webhookOutboxIds = await enqueueRateHighWebhooks(
        trx,
        rateHighEvent(c, settings, env, new Date(inserted.fired_at)),
      );
      const alert = { firedAt: new Date(inserted.fired_at).toISOString(), triggers: c.triggers };
      return {
        alertId: Number(inserted.id),
        campaign: { ...c, alert },
        emailOutboxId,
        webhookOutboxIds,
      };
    });
    if (result) fired.push(result);
  }
  return fired;
}

export type AlertListItem = {
  id: number;
  /** unsubscribe_rate_high, or complaint_rate_high (app/reports/email.server.ts; its count is complaints). */
  kind: string;
  campaign: string;
  campaignName: string | null;
  channel: string;
  firedAt: string;
  sentCount: number;
  unsubscribes: number;
  rate: number;
  triggers: AlertTrigger[];
};

/** Alerts fired, newest first (the dashboard shows those of the range; the alerts page all). */
export async function listAlerts(
  db: Db,
  options: { since?: Date; until?: Date; channel?: string | null; limit?: number } = {},
): Promise<AlertListItem[]> {
  let q = withReportTables(db)
    .selectFrom("report_alerts as a")
    .leftJoin("campaigns as c", "c.key", "a.campaign")
    .select([
      "a.id",
      "a.kind",
      "a.campaign",
      "c.name",
      "a.channel",
      "a.fired_at",
      "a.sent_count",
      "a.unsubscribes",
      "a.rate",
      "a.triggers",
    ])
    .orderBy("a.fired_at", "desc")
    .orderBy("a.id", "desc")
    .limit(Math.min(Math.max(options.limit ?? 50, 1), 500));
  if (options.since) q = q.where("a.fired_at", ">=", options.since);
  if (options.until) q = q.where("a.fired_at", "<", options.until);
  if (options.channel) q = q.where("a.channel", "=", options.channel as "email");
  const rows = await q.execute();
  return rows.map((r) => ({
    id: Number(r.id),
    kind: r.kind,
    campaign: r.campaign,
    campaignName: r.name,
    channel: r.channel,
    firedAt: new Date(r.fired_at).toISOString(),
    sentCount: Number(r.sent_count),
    unsubscribes: Number(r.unsubscribes),
    rate: Number(r.rate),
    triggers: r.triggers,
  }));
}
