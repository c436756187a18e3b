import crypto from "node:crypto";
import { sql } from "kysely";
import { z } from "zod";
import { audit, type AuditContext } from "~/admin/audit.server";
import { inTransaction, type Db, type Trx } from "~/db/db.server";
import type { Channel } from "~/db/schema";
import { COMPLAINT_RATE_HIGH_EVENT, UNDELIVERABLE_SOURCE } from "~/email/constants";
import { getEnv, type Env } from "~/env.server";
import { renderHtml, renderText, type EmailContent } from "~/mail/layout.server";
import { EmailPayloadSchema, type EmailPayload } from "~/mail/send.server";
import { messageHash } from "~/mail/templates.server";
import { enqueueOutbox } from "~/outbox/outbox.server";
import { ALERT_LOOKBACK_DAYS } from "~/reports/constants";
import { filterInstants, type ReportFilter } from "~/reports/filters";
import { formatRate, reachesThreshold } from "~/reports/rates";
import { getAlertSettings } from "~/reports/settings.server";
import { getBranding, getSetting, putSetting, type Branding } from "~/settings/settings.server";

/**
 * The email-provider side of the reports: spam complaints per campaign (the complaint rate next
 * to the unsubscribe rate, with its own alert, Gmail's 0.3 % by default) and undeliverable marks
 * in the "by source" table (not people leaving: a bounce is not a choice).
 *
 * A campaign's complaint rate = distinct addresses that reported one of its messages as spam
 * (ESP complaint events and feedback-loop reports attributed to it; a complaint counts even when
 * the address had already unsubscribed) ÷ its sent count. Only email campaigns have one.
 */

export const COMPLAINT_ALERT_KIND = "complaint_rate_high";
export const COMPLAINT_ALERT_SETTINGS_KEY = "reports.complaint_alerts";

export const ComplaintAlertSettingsSchema = z.object({
  thresholdPercent: z.number().min(0.001).max(100),
});
export type ComplaintAlertSettings = z.infer<typeof ComplaintAlertSettingsSchema>;

export function getComplaintAlertSettings(
  db: Db,
  env: Env = getEnv(),
): Promise<ComplaintAlertSettings> {
  const fallback = { thresholdPercent: env.COMPLAINT_ALERT_THRESHOLD_PERCENT };
  return getSetting(db, COMPLAINT_ALERT_SETTINGS_KEY, ComplaintAlertSettingsSchema, fallback);
}

export async function saveComplaintAlertSettings(
  db: Db,
  settings: ComplaintAlertSettings,
  by: AuditContext,
): Promise<void> {
  const next = ComplaintAlertSettingsSchema.parse(settings);
  await inTransaction(db, async (trx) => {
    const before = await getComplaintAlertSettings(trx);
    if (before.thresholdPercent === next.thresholdPercent) return;
    await putSetting(trx, COMPLAINT_ALERT_SETTINGS_KEY, next);
    await audit(trx, {
      ...by,
      action: "reports.complaint_alert_settings.update",
      target: { type: "settings", id: COMPLAINT_ALERT_SETTINGS_KEY },
      details: { thresholdPercent: { from: before.thresholdPercent, to: next.thresholdPercent } },
    });
  });
}

export type ComplaintRate = {
  complaints: number;
  /** null: not an email campaign, or nothing sent. */
  rate: number | null;
  alert: { firedAt: string } | null;
};

/** Complaints, complaint rate and alert state of these campaigns, by key. */
export async function complaintRates(
  db: Db,
  campaigns: readonly { key: string; channel: Channel; sentCount: number }[],
): Promise<Record<string, ComplaintRate>> {
  const email = campaigns.filter((c) => c.channel === "email").map((c) => c.key);
  const out: Record<string, ComplaintRate> = {};
  for (const c of campaigns) out[c.key] = { complaints: 0, rate: null, alert: null };
  if (email.length === 0) return out;
  const [counts, alerts] = await Promise.all([
    sql<{ campaign: string; n: number }>`
      select campaign, count(distinct address_hash)::int as n from inbound_messages
      where kind = 'complaint' and campaign = any(${email}::text[])
      group by campaign`.execute(db),
    sql<{ campaign: string; fired_at: Date }>`
      select campaign, fired_at from report_alerts
      where kind = ${COMPLAINT_ALERT_KIND} and campaign = any(${email}::text[])`.execute(db),
  ]);
  const n = new Map(counts.rows.map((r) => [r.campaign, Number(r.n)]));
  const fired = new Map(alerts.rows.map((r) => [r.campaign, new Date(r.fired_at).toISOString()]));
  for (const c of campaigns) {
    if (c.channel !== "email") continue;
    const complaints = n.get(c.key) ?? 0;
    const at = fired.get(c.key);
    out[c.key] = {
      complaints,
      rate: c.sentCount > 0 ? complaints / c.sentCount : null,
      alert: at ? { firedAt: at } : null,
    };
  }
  return out;
}

/** The "by source" row of undeliverable marks made in the range (a bounce is not leaving). */
export async function undeliverableSourceRow(
  db: Db,
  filter: ReportFilter,
): Promise<{ source: string; count: number; counted: false } | null> {
  if (filter.channel && filter.channel !== "email") return null;
  const { start, end } = filterInstants(filter);
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from undeliverable_events
    where action = 'mark' and occurred_at >= ${start} and occurred_at < ${end}
      ${filter.channel ? sql`and channel = ${filter.channel}` : sql``}`.execute(db);
  const count = Number(rows[0]!.n);
  return count > 0 ? { source: UNDELIVERABLE_SOURCE, count, counted: false } : null;
}

// ---------------------------------------------------------------------------------------------
// Alerts

export type ComplaintAlert = {
  alertId: number;
  campaign: {
    key: string;
    name: string;
    channel: Channel;
    topic: string | null;
    sentCount: number;
  };
  complaints: number;
  rate: number;
  emailOutboxId: number | null;
  webhookOutboxIds: number[];
};

function reportUrl(env: Env, key: string): string {
  return `${env.publicUrl}/admin/reports/campaigns/${encodeURIComponent(key)}`;
}

function alertEmail(
  c: ComplaintAlert["campaign"],
  complaints: number,
  rate: number,
  thresholdPercent: number,
  to: string,
  branding: Branding,
  env: Env,
): EmailPayload {
  const url = reportUrl(env, c.key);
  const subject = `Spam complaint alert: ${c.name} (${formatRate(rate)})`;
  const content: EmailContent = {
    locale: "en",
    subject,
    preheader: `${complaints} of ${c.sentCount} recipients of "${c.name}" reported it as spam.`,
    blocks: [
      { type: "heading", text: "A campaign's spam complaint rate is high" },
      {
        type: "paragraph",
        text: `${complaints} of the ${c.sentCount} recipients of "${c.name}" (${c.key}) reported it as spam: ${formatRate(rate)}, at or above the alert threshold of ${thresholdPercent} %. Gmail and Yahoo expect senders to stay below 0.3 %; above it, their mail goes to spam or is refused.`,
      },
      {
        type: "paragraph",
        text: "Everyone who complained has been unsubscribed. Check where the list came from and whether these people expected this mail.",
      },
      { type: "button", text: "Open the campaign report", url },
    ],
    fallbackUrl: { label: "If the button does not work, open this address:", url },
    footer: [
      `Heed sends this alert once per campaign to ${to}, the address set in Reports → Alert settings.`,
    ],
  };
  const email = {
    to,
    subject,
    html: renderHtml(content, branding),
    text: renderText(content, branding),
    template: "report.complaint_alert",
    templateVersion: "report.complaint_alert/v1/en",
    locale: "en",
  };
  return EmailPayloadSchema.parse({ ...email, messageHash: messageHash(email) });
}

async function enqueueWebhooks(trx: Trx, event: Record<string, unknown>): Promise<number[]> {
  const messageId = `msg_${crypto.randomUUID()}`;
  const { rows } = await sql<{ id: number }>`
    insert into outbox (kind, recipient, payload)
    select 'webhook', e.id::text,
           jsonb_build_object('type', ${COMPLAINT_RATE_HIGH_EVENT}::text, 'messageId', ${messageId}::text,
                              'event', ${JSON.stringify(event)}::jsonb)
    from webhook_endpoints e
    where e.enabled and ${COMPLAINT_RATE_HIGH_EVENT}::text = any (e.event_types)
    order by e.created_at, e.id
    returning id`.execute(trx);
  return rows.map((r) => Number(r.id));
}

/**
 * Fires the complaint-rate alerts that are due: email campaigns registered in the last
 * ALERT_LOOKBACK_DAYS with at least the alert settings' minimum sent, whose complaint rate reached
 * the threshold. Once per campaign (the unique key of report_alerts), on the reports page, by
 * email to the alert address and as the webhook event `campaign.complaint_rate_high`.
 */
export async function evaluateComplaintAlerts(
  db: Db,
  options: { now?: Date; env?: Env } = {},
): Promise<ComplaintAlert[]> {
  const env = options.env ?? getEnv();
  const now = options.now ?? new Date();
  const [{ thresholdPercent }, general] = await Promise.all([
    getComplaintAlertSettings(db, env),
    getAlertSettings(db, env),
  ]);
  const since = new Date(now.getTime() - ALERT_LOOKBACK_DAYS * 86_400_000);
  const { rows } = await sql<{
    key: string;
    name: string;
    channel: Channel;
    topic: string | null;
    sent_count: number;
    complaints: number;
  }>`
    select c.key, c.name, c.channel, c.topic, c.sent_count, n.complaints
    from campaigns c
    join lateral (
      select count(distinct m.address_hash)::int as complaints from inbound_messages m
      where m.kind = 'complaint' and m.campaign = c.key
    ) n on n.complaints > 0
    where c.channel = 'email' and c.created_at >= ${since} and c.sent_count >= ${general.minSent}
      and not exists (select 1 from report_alerts a
                      where a.campaign = c.key and a.kind = ${COMPLAINT_ALERT_KIND})
    order by c.created_at desc
    limit 1000`.execute(db);
  const due = rows.filter((r) =>
    reachesThreshold(Number(r.complaints), Number(r.sent_count), thresholdPercent),
  );
  if (due.length === 0) return [];
  const branding = await getBranding(db);
  const fired: ComplaintAlert[] = [];
  for (const r of due) {
    const campaign = {
      key: r.key,
      name: r.name,
      channel: r.channel,
      topic: r.topic,
      sentCount: Number(r.sent_count),
    };
    const complaints = Number(r.complaints);
    const rate = complaints / campaign.sentCount;
    const result = await inTransaction(db, async (trx) => {
      const inserted = await sql<{ id: number; fired_at: Date }>`
        insert into report_alerts (campaign, kind, channel, sent_count, unsubscribes, rate, triggers, details)
        values (${r.key}, ${COMPLAINT_ALERT_KIND}, 'email', ${campaign.sentCount}, ${complaints},
          ${rate}, array['threshold']::text[], ${JSON.stringify({ thresholdPercent, complaints })}::jsonb)
        on conflict (campaign, kind) do nothing
        returning id, fired_at`.execute(trx);
      const row = inserted.rows[0];
      if (!row) return null; // another server fired it first
      const emailOutboxId = general.email
        ? await enqueueOutbox(trx, {
            kind: "email",
            recipient: general.email,
            payload: alertEmail(
              campaign,
              complaints,
              rate,
              thresholdPercent,
              general.email,
              branding,
              env,
            ),
          })
        : null;
      const webhookOutboxIds = await enqueueWebhooks(trx, {
        type: COMPLAINT_RATE_HIGH_EVENT,
        timestamp: new Date(row.fired_at).toISOString(),
        data: {
          campaign,
          complaints,
          rate,
          thresholdPercent,
          reportUrl: reportUrl(env, r.key),
        },
      });
      return {
        alertId: Number(row.id),
        campaign,
        complaints,
        rate,
        emailOutboxId,
        webhookOutboxIds,
      };
    });
    if (result) fired.push(result);
  }
  return fired;
}
