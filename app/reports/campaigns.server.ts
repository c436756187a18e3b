import { sql } from "kysely";
import type { Db } from "~/db/db.server";
import { inBackgroundLane } from "~/db/priority.server";
import type { Channel } from "~/db/schema";
import { filterInstants, type ReportFilter } from "~/reports/filters";
import { labelOf, reasonLabels, reasonOrder, share } from "~/reports/labels.server";
import { BY_PEOPLE, LEAVING, RECIPIENT_WORDS } from "~/reports/leaving.server";
import { judgeRate, type Baseline, type RateRules } from "~/reports/rates";
import { countCampaigns, loadRollupView, type RollupView } from "~/reports/rollup.server";
import { withReportTables, type AlertTrigger } from "~/reports/schema";

/**
 * Campaign reports: a campaign's rate is the distinct addresses on its channel that left through
 * it (whenever they did: over its whole life), over its sent count; each campaign is judged against
 * the sender's previous campaigns on its channel (rates.ts). The campaigns of a report are those
 * registered (created) in its date range. People who left come from the campaign rollup where it
 * is up to date (rollup.server.ts), else from the ledger; the result is the same either way.
 */

export type CampaignInfo = {
  key: string;
  name: string;
  channel: Channel;
  topic: string | null;
  sentCount: number;
  createdAt: Date;
};

export type CampaignRate = Omit<CampaignInfo, "createdAt"> & {
  createdAt: string;
  unsubscribes: number;
  rate: number | null;
  triggers: AlertTrigger[];
  baseline: Baseline | null;
  topReasons: { code: string | null; label: string; count: number }[];
  alert: { firedAt: string; triggers: AlertTrigger[] } | null;
};

export type CampaignDbRow = {
  key: string;
  name: string;
  channel: Channel;
  topic: string | null;
  sent_count: number;
  created_at: Date;
};

/** A `campaigns` row as a report reads it. */
export function toCampaignInfo(r: CampaignDbRow): CampaignInfo {
  return {
    key: r.key,
    name: r.name,
    channel: r.channel,
    topic: r.topic,
    sentCount: Number(r.sent_count),
    createdAt: new Date(r.created_at),
  };
}

const CAMPAIGN_COLUMNS = ["key", "name", "channel", "topic", "sent_count", "created_at"] as const;

export type Leavers = { people: number; reasons: Map<string | null, number> };

/**
 * People who left through each campaign (distinct addresses on its channel, counted sources) and
 * their rows by reason: from report_campaign_stats where it is up to date, else from the ledger.
 */
export async function campaignLeavers(
  db: Db,
  campaigns: Pick<CampaignInfo, "key" | "channel">[],
  view?: RollupView,
): Promise<Map<string, Leavers>> {
  const out = new Map<string, Leavers>(
    campaigns.map((c) => [c.key, { people: 0, reasons: new Map() }]),
  );
  if (campaigns.length === 0) return out;
  const v = view ?? (await loadRollupView(db));
  const channelOf = new Map(campaigns.map((c) => [c.key, c.channel]));
  const live = v.state
    ? campaigns.filter((c) => v.pendingCampaigns.has(c.key)).map((c) => c.key)
    : [...channelOf.keys()];
  const rolled = v.state
    ? campaigns.filter((c) => !v.pendingCampaigns.has(c.key)).map((c) => c.key)
    : [];
  const [stats, counted] = await Promise.all([
    rolled.length > 0
      ? withReportTables(db)
          .selectFrom("report_campaign_stats")
          .select(["campaign", "channel", "people", "reasons"])
          .where("campaign", "in", rolled)
          .execute()
      : [],
    // Counted live as the rollup counts them, in keyset slices (countCampaigns).
    countCampaigns(db, live),
  ]);
  // Only rows on the campaign's own channel count for it.
  for (const r of [...stats, ...counted]) {
    if (channelOf.get(r.campaign) !== r.channel) continue;
    const l = out.get(r.campaign)!;
    l.people = r.people;
    for (const [code, n] of Object.entries(r.reasons))
      l.reasons.set(code === "" ? null : code, Number(n));
  }
  return out;
}

/**
 * Rates, rule verdicts and alert state of the given campaigns. Each campaign is judged against the
 * sender's previous campaigns on its channel (rates.ts), which are loaded here too.
 */
export async function rateCampaigns(
  db: Db,
  targets: CampaignInfo[],
  rules: RateRules,
  view?: RollupView,
): Promise<CampaignRate[]> {
  if (targets.length === 0) return [];
  // The context of each channel: every campaign between its first and last target, and the
  // `baselineSize` qualifying campaigns before the first.
  const context = new Map<string, CampaignInfo>();
  const channels = [...new Set(targets.map((t) => t.channel))];
  await Promise.all(
    channels.map(async (channel) => {
      const mine = targets.filter((t) => t.channel === channel);
      const first = new Date(Math.min(...mine.map((t) => t.createdAt.getTime())));
      const last = new Date(Math.max(...mine.map((t) => t.createdAt.getTime())));
      const [between, before] = await Promise.all([
        db
          .selectFrom("campaigns")
          .select(CAMPAIGN_COLUMNS)
          .where("channel", "=", channel)
          .where("created_at", ">=", first)
          .where("created_at", "<=", last)
          .execute(),
        db
          .selectFrom("campaigns")
          .select(CAMPAIGN_COLUMNS)
          .where("channel", "=", channel)
          .where("created_at", "<", first)
          .where("sent_count", ">=", rules.minSent)
          .orderBy("created_at", "desc")
          .orderBy("key", "desc")
          .limit(rules.baselineSize)
          .execute(),
      ]);
      for (const r of [...between, ...before]) context.set(r.key, toCampaignInfo(r));
    }),
  );
  for (const t of targets) context.set(t.key, t);

  const rdb = withReportTables(db);
  const targetKeys = targets.map((t) => t.key);
  const [leavers, labels, alerts] = await Promise.all([
    campaignLeavers(db, [...context.values()], view),
    reasonLabels(db),
    rdb
      .selectFrom("report_alerts")
      .select(["campaign", "fired_at", "triggers"])
      .where("campaign", "in", targetKeys)
      .where("kind", "=", "unsubscribe_rate_high")
      .execute(),
  ]);
  const alertOf = new Map(alerts.map((a) => [a.campaign, a]));

  // Walk each channel's campaigns in send order, keeping the rates of the qualifying ones.
  const ordered = [...context.values()].sort(
    (a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.key.localeCompare(b.key),
  );
  const history = new Map<Channel, number[]>();
  const verdicts = new Map<string, ReturnType<typeof judgeRate>>();
  const isTarget = new Set(targetKeys);
  for (const c of ordered) {
    const rates = history.get(c.channel) ?? [];
    const people = leavers.get(c.key)?.people ?? 0;
    if (isTarget.has(c.key)) {
      verdicts.set(
        c.key,
        judgeRate(
          { sent: c.sentCount, unsubscribes: people },
          rates.slice(-rules.baselineSize),
          rules,
        ),
      );
    }
    if (c.sentCount >= rules.minSent) rates.push(people / c.sentCount);
    history.set(c.channel, rates);
  }

  return targets.map((t) => {
    const l = leavers.get(t.key)!;
    const verdict = verdicts.get(t.key)!;
    const alert = alertOf.get(t.key);
    const topReasons = [...l.reasons.entries()]
      .map(([code, count]) => ({ code, label: labelOf(labels, code), count }))
      .sort(reasonOrder)
      .slice(0, 3);
    return {
      ...t,
      createdAt: t.createdAt.toISOString(),
      unsubscribes: l.people,
      rate: verdict.rate,
      triggers: verdict.triggers,
      baseline: verdict.baseline,
      topReasons,
      alert: alert
        ? { firedAt: new Date(alert.fired_at).toISOString(), triggers: alert.triggers }
        : null,
    };
  });
}

/** Campaigns registered in the range (newest first, at most `limit`), with their rates. */
export async function campaignsInRange(
  db: Db,
  filter: ReportFilter,
  rules: RateRules,
  options: { limit: number; offset?: number; view?: RollupView },
): Promise<{ rows: CampaignRate[]; total: number; limit: number }> {
  const { start, end } = filterInstants(filter);
  let q = db.selectFrom("campaigns").where("created_at", ">=", start).where("created_at", "<", end);
  if (filter.channel) q = q.where("channel", "=", filter.channel);
  const [rows, count] = await Promise.all([
    options.limit > 0
      ? q
          .select(CAMPAIGN_COLUMNS)
          .orderBy("created_at", "desc")
          .orderBy("key")
          .limit(options.limit)
          .offset(options.offset ?? 0)
          .execute()
      : [],
    q.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
  ]);
  return {
    rows: await rateCampaigns(db, rows.map(toCampaignInfo), rules, options.view),
    total: Number(count.n),
    limit: options.limit,
  };
}

export type CampaignReport = {
  campaign: CampaignRate;
  reasons: { code: string | null; label: string; count: number; share: number }[];
  sources: { source: string; count: number }[];
  daily: { day: string; count: number }[];
  freeText: {
    id: number;
    occurredAt: string;
    reasonCode: string | null;
    reasonLabel: string;
    text: string;
  }[];
};

/**
 * One campaign: its rate and verdict, all its reasons, sources, days and what people wrote. Read
 * in the background lane, as the Reports page (getDashboard).
 */
export function getCampaignReport(
  db: Db,
  key: string,
  rules: RateRules,
  options: { freeTextLimit?: number } = {},
): Promise<CampaignReport | null> {
  return inBackgroundLane(() => campaignReport(db, key, rules, options));
}

async function campaignReport(
  db: Db,
  key: string,
  rules: RateRules,
  options: { freeTextLimit?: number },
): Promise<CampaignReport | null> {
  const row = await db
    .selectFrom("campaigns")
    .select(CAMPAIGN_COLUMNS)
    .where("key", "=", key)
    .executeTakeFirst();
  if (!row) return null;
  const info = toCampaignInfo(row);
  const view = await loadRollupView(db);
  const [[campaign], labels, sources, daily, texts, leavers] = await Promise.all([
    rateCampaigns(db, [info], rules, view),
    reasonLabels(db),
    sql<{ source: string; n: number }>`
      select l.source, count(*)::int as n
      from consent_ledger l
      where l.campaign = ${key} and l.channel = ${info.channel} and ${LEAVING}
      group by l.source order by n desc, l.source
    `.execute(db),
    sql<{ day: string; n: number }>`
      select to_char(date_trunc('day', l.occurred_at at time zone 'UTC'), 'YYYY-MM-DD') as day, count(*)::int as n
      from consent_ledger l
      where l.campaign = ${key} and l.channel = ${info.channel} and ${LEAVING} and ${BY_PEOPLE}
      group by 1 order by 1
    `.execute(db),
    sql<{ id: number; occurred_at: Date; reason_code: string | null; reason_text: string }>`
      select l.id, l.occurred_at, l.reason_code, l.reason_text
      from consent_ledger l
      where l.campaign = ${key} and l.channel = ${info.channel} and ${LEAVING} and ${BY_PEOPLE}
        and l.reason_text is not null and ${RECIPIENT_WORDS}
      order by l.occurred_at desc, l.id desc
      limit ${options.freeTextLimit ?? 100}
    `.execute(db),
    campaignLeavers(db, [info], view),
  ]);
  const reasonCounts = [...leavers.get(key)!.reasons.entries()];
  const events = reasonCounts.reduce((a, [, n]) => a + n, 0);
  return {
    campaign: campaign!,
    reasons: reasonCounts
      .map(([code, count]) => ({
        code,
        label: labelOf(labels, code),
        count,
        share: share(count, events),
      }))
      .sort(reasonOrder),
    sources: sources.rows.map((r) => ({ source: r.source, count: r.n })),
    daily: daily.rows.map((r) => ({ day: r.day, count: r.n })),
    freeText: texts.rows.map((r) => ({
      id: Number(r.id),
      occurredAt: new Date(r.occurred_at).toISOString(),
      reasonCode: r.reason_code,
      reasonLabel: labelOf(labels, r.reason_code),
      text: r.reason_text,
    })),
  };
}
