import { sql } from "kysely";
import { inTransaction, type Db } from "~/db/db.server";
import { CHANNELS, type Channel } from "~/db/schema";
import { addDays, filterInstants, type ReportFilter } from "~/reports/filters";
import { BY_PEOPLE, isCountedSource, LEAVING } from "~/reports/leaving.server";
import { judgeRate, type Baseline, type RateRules } from "~/reports/rates";
import { loadRollupView, type RollupView } from "~/reports/rollup.server";
import { withReportTables, type AlertTrigger } from "~/reports/schema";
import { listReasons } from "~/settings/settings.server";

/**
 * The figures of /admin/reports, aggregated in SQL. "People leaving" is defined in
 * leaving.server.ts (unsubscribes and topic opt-outs, imports and system rows excluded).
 *
 * - Over time, by channel, topic, source and reason: ledger rows in the date range (UTC days).
 *   A channel-wide unsubscribe counts for the topic of the campaign it came from, if any.
 * - Per campaign: the distinct addresses on the campaign's channel that left through it (whenever
 *   they did: a campaign's rate is over its whole life), over its sent count. Campaigns are those
 *   registered (created) in the date range.
 *
 * Complete days and campaign counts come from the rollups (rollup.server.ts) where they are up to
 * date, and from the ledger itself for everything newer: the result is the same either way.
 */

export type TimeRow = { bucket: string; total: number } & Record<Channel, number>;
export type ChannelRow = {
  channel: Channel;
  unsubscribes: number;
  topicOptOuts: number;
  total: number;
};
export type TopicRow = { topic: string | null; name: string; count: number; share: number };
export type SourceRow = { source: string; count: number; counted: boolean };
export type ReasonRow = { code: string | null; label: string; count: number; share: number };
export type FreeTextRow = {
  id: number;
  occurredAt: string;
  channel: Channel;
  campaign: string | null;
  reasonCode: string | null;
  reasonLabel: string;
  text: string;
};

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

export type Dashboard = {
  filter: ReportFilter;
  totals: { leaving: number; unsubscribes: number; topicOptOuts: number; notCounted: number };
  overTime: TimeRow[];
  byChannel: ChannelRow[];
  byTopic: TopicRow[];
  bySource: SourceRow[];
  byReason: ReasonRow[];
  campaigns: { rows: CampaignRate[]; total: number; limit: number };
  freeText: FreeTextRow[];
};

type DimRow = {
  dim: "time" | "channel" | "source" | "topic" | "reason";
  bucket: string | null;
  channel: Channel | null;
  action: string | null;
  source: string | null;
  topic: string | null;
  reason_code: string | null;
  leaving: number;
  all_rows: number;
};

/** "no_longer_interested" → "No longer interested": the label of a code with no English label. */
export function humanize(code: string): string {
  const s = code.replace(/[_-]+/g, " ").trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export const NO_REASON = "No reason given";
export const NO_TOPIC = "No topic (whole channel)";

export async function reasonLabels(db: Db): Promise<Map<string, string>> {
  const reasons = await listReasons(db, { includeDisabled: true });
  return new Map(reasons.map((r) => [r.code, r.labels.en?.trim() || humanize(r.code)]));
}

function labelOf(labels: Map<string, string>, code: string | null): string {
  if (code === null) return NO_REASON;
  return labels.get(code) ?? humanize(code);
}

async function topicNames(db: Db): Promise<Map<string, string>> {
  const rows = await db.selectFrom("topics").select(["key", "names"]).execute();
  return new Map(rows.map((r) => [r.key, r.names.en?.trim() || r.key]));
}

/**
 * Every figure of the dashboard in one pass over the range: the rolled-up days, plus the days
 * after the rollup and the rolled days with newer rows (counted from the ledger), summed per
 * GROUPING SET. work_mem is raised for this transaction only, so that PostgreSQL hashes the
 * groups instead of sorting them on disk.
 */
async function rangeAggregates(db: Db, filter: ReportFilter, view: RollupView): Promise<DimRow[]> {
  const { start, end } = filterInstants(filter);
  const g = filter.granularity;
  const through = view.state?.rolledThrough ?? null;
  // Rolled days of the range: [from, rolledEnd]; the ledger is read for the days after.
  const rolledEnd =
    through !== null && through >= filter.from ? (through < filter.to ? through : filter.to) : null;
  const liveStart = rolledEnd ? new Date(`${addDays(rolledEnd, 1)}T00:00:00Z`) : start;
  const pending = rolledEnd
    ? view.pendingDays.filter((d) => d >= filter.from && d <= rolledEnd)
    : [];
  const channel = filter.channel ? sql`and l.channel = ${filter.channel}` : sql``;
  // Each part yields (bucket, channel, action, source, topic, reason_code, n), the topic already
  // resolved (a channel unsubscribe takes its campaign's topic).
  const dims = sql`l.channel, l.action, l.source, coalesce(l.topic, c.topic) as topic, l.reason_code`;
  const parts = [
    sql`select date_trunc(${g}, l.occurred_at at time zone 'UTC') as bucket, ${dims}, count(*) as n
      from consent_ledger l
      left join campaigns c on c.key = l.campaign
      where ${LEAVING} and l.occurred_at >= ${liveStart} and l.occurred_at < ${end} ${channel}
      group by 1, 2, 3, 4, 5, 6`,
  ];
  if (rolledEnd) {
    parts.push(sql`select date_trunc(${g}, l.day::timestamp) as bucket, ${dims}, l.n::bigint as n
      from report_daily l
      left join campaigns c on c.key = l.campaign
      where l.day >= ${filter.from}::date and l.day <= ${rolledEnd}::date
        and not (l.day = any(${pending}::date[])) ${channel}`);
  }
  if (pending.length > 0) {
    parts.push(sql`select date_trunc(${g}, l.occurred_at at time zone 'UTC') as bucket, ${dims}, count(*) as n
      from unnest(${pending}::date[]) as p(day)
      join consent_ledger l
        on l.occurred_at >= (p.day::timestamp at time zone 'UTC')
       and l.occurred_at < ((p.day + 1)::timestamp at time zone 'UTC')
      left join campaigns c on c.key = l.campaign
      where ${LEAVING} ${channel}
      group by 1, 2, 3, 4, 5, 6`);
  }
  const query = sql<DimRow>`
    with r as (
      select b.*, b.source not in ('import', 'system') as counted
      from (${sql.join(parts, sql` union all `)}) b
    )
    select
      case
        when grouping(bucket) = 0 then 'time'
        when grouping(action) = 0 then 'channel'
        when grouping(source) = 0 then 'source'
        when grouping(topic) = 0 then 'topic'
        else 'reason'
      end as dim,
      to_char(bucket, 'YYYY-MM-DD') as bucket, channel, action, source, topic, reason_code,
      coalesce(sum(n) filter (where counted), 0)::int as leaving,
      sum(n)::int as all_rows
    from r
    group by grouping sets ((bucket, channel), (channel, action), (source), (topic), (reason_code))
  `;
  return inTransaction(db, async (trx) => {
    await sql`set local work_mem = '32MB'`.execute(trx);
    return (await query.execute(trx)).rows;
  });
}

/** Most picked first, ties by label, "no reason given" last. */
function reasonOrder(
  a: { code: string | null; label: string; count: number },
  b: typeof a,
): number {
  return (
    Number(a.code === null) - Number(b.code === null) ||
    b.count - a.count ||
    a.label.localeCompare(b.label)
  );
}

function share(count: number, total: number): number {
  return total > 0 ? count / total : 0;
}

export async function getDashboard(
  db: Db,
  filter: ReportFilter,
  rules: RateRules,
  options: { campaignLimit?: number; freeTextLimit?: number } = {},
): Promise<Dashboard> {
  const campaignLimit = options.campaignLimit ?? 100;
  const view = await loadRollupView(db);
  const [rows, labels, topics, campaigns, freeText] = await Promise.all([
    rangeAggregates(db, filter, view),
    reasonLabels(db),
    topicNames(db),
    campaignsInRange(db, filter, rules, { limit: campaignLimit, view }),
    latestFreeText(db, filter, options.freeTextLimit ?? 20),
  ]);

  const channels = filter.channel ? [filter.channel] : [...CHANNELS];
  const byBucket = new Map<string, TimeRow>();
  const byChannel = new Map<Channel, ChannelRow>(
    channels.map((c) => [c, { channel: c, unsubscribes: 0, topicOptOuts: 0, total: 0 }]),
  );
  const byTopic: TopicRow[] = [];
  const bySource: SourceRow[] = [];
  const byReason: ReasonRow[] = [];
  let notCounted = 0;

  for (const r of rows) {
    if (r.dim === "time") {
      if (r.leaving === 0) continue;
      const row = byBucket.get(r.bucket!) ?? {
        bucket: r.bucket!,
        total: 0,
        email: 0,
        sms: 0,
        whatsapp: 0,
      };
      row[r.channel!] += r.leaving;
      row.total += r.leaving;
      byBucket.set(r.bucket!, row);
    } else if (r.dim === "channel") {
      const row = byChannel.get(r.channel!);
      if (!row) continue;
      if (r.action === "unsubscribe") row.unsubscribes += r.leaving;
      else row.topicOptOuts += r.leaving;
      row.total += r.leaving;
    } else if (r.dim === "source") {
      const counted = isCountedSource(r.source!);
      bySource.push({ source: r.source!, count: r.all_rows, counted });
      if (!counted) notCounted += r.all_rows;
    } else if (r.dim === "topic") {
      if (r.leaving === 0) continue;
      byTopic.push({
        topic: r.topic,
        name: r.topic === null ? NO_TOPIC : (topics.get(r.topic) ?? r.topic),
        count: r.leaving,
        share: 0,
      });
    } else if (r.leaving > 0) {
      byReason.push({
        code: r.reason_code,
        label: labelOf(labels, r.reason_code),
        count: r.leaving,
        share: 0,
      });
    }
  }

  const channelRows = [...byChannel.values()];
  const unsubscribes = channelRows.reduce((a, r) => a + r.unsubscribes, 0);
  const topicOptOuts = channelRows.reduce((a, r) => a + r.topicOptOuts, 0);
  const leaving = unsubscribes + topicOptOuts;
  for (const r of byTopic) r.share = share(r.count, leaving);
  for (const r of byReason) r.share = share(r.count, leaving);
  const byCount = <T extends { count: number }>(a: T, b: T) => b.count - a.count;
  byTopic.sort((a, b) => byCount(a, b) || a.name.localeCompare(b.name));
  // The reasons people picked, most picked first; "no reason given" last.
  byReason.sort(reasonOrder);
  bySource.sort(
    (a, b) =>
      Number(!a.counted) - Number(!b.counted) || byCount(a, b) || a.source.localeCompare(b.source),
  );

  return {
    filter,
    totals: { leaving, unsubscribes, topicOptOuts, notCounted },
    overTime: [...byBucket.values()].sort((a, b) => a.bucket.localeCompare(b.bucket)),
    byChannel: channelRows,
    byTopic,
    bySource,
    byReason,
    campaigns,
    freeText,
  };
}

/** The over-time series with every bucket of the range, zeros included (for charts and CSV). */
export function fillBuckets(rows: TimeRow[], buckets: string[]): TimeRow[] {
  const found = new Map(rows.map((r) => [r.bucket, r]));
  return buckets.map((b) => found.get(b) ?? { bucket: b, total: 0, email: 0, sms: 0, whatsapp: 0 });
}

/** The most recent free-text reasons people wrote, in the range. */
export async function latestFreeText(
  db: Db,
  filter: ReportFilter,
  limit: number,
  before?: { occurredAt: Date; id: number },
): Promise<FreeTextRow[]> {
  return freeTextPage(db, filter, limit, before);
}

export async function freeTextPage(
  db: Db,
  filter: ReportFilter,
  limit: number,
  before?: { occurredAt: Date; id: number },
): Promise<FreeTextRow[]> {
  if (limit <= 0) return [];
  const { start, end } = filterInstants(filter);
  const channel = filter.channel ? sql`and l.channel = ${filter.channel}` : sql``;
  const after = before
    ? sql`and (l.occurred_at, l.id) < (${before.occurredAt}, ${before.id})`
    : sql``;
  const [{ rows }, labels] = await Promise.all([
    sql<{
      id: number;
      occurred_at: Date;
      channel: Channel;
      campaign: string | null;
      reason_code: string | null;
      reason_text: string;
    }>`
      select l.id, l.occurred_at, l.channel, l.campaign, l.reason_code, l.reason_text
      from consent_ledger l
      where l.reason_text is not null and ${LEAVING} and ${BY_PEOPLE}
        and l.occurred_at >= ${start} and l.occurred_at < ${end} ${channel} ${after}
      order by l.occurred_at desc, l.id desc
      limit ${limit}
    `.execute(db),
    reasonLabels(db),
  ]);
  return rows.map((r) => ({
    id: Number(r.id),
    occurredAt: new Date(r.occurred_at).toISOString(),
    channel: r.channel,
    campaign: r.campaign,
    reasonCode: r.reason_code,
    reasonLabel: labelOf(labels, r.reason_code),
    text: r.reason_text,
  }));
}

// ---------------------------------------------------------------------------------------------
// Campaigns

type CampaignDbRow = {
  key: string;
  name: string;
  channel: Channel;
  topic: string | null;
  sent_count: number;
  created_at: Date;
};

function toInfo(r: CampaignDbRow): CampaignInfo {
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
  const [stats, people, reasons] = await Promise.all([
    rolled.length > 0
      ? withReportTables(db)
          .selectFrom("report_campaign_stats")
          .select(["campaign", "channel", "people", "reasons"])
          .where("campaign", "in", rolled)
          .execute()
      : [],
    live.length > 0
      ? sql<{ campaign: string; channel: Channel; people: number }>`
          select l.campaign, l.channel, count(distinct l.address_hash)::int as people
          from consent_ledger l
          where l.campaign is not null and l.campaign = any(${live}::text[]) and ${LEAVING} and ${BY_PEOPLE}
          group by 1, 2
        `.execute(db)
      : { rows: [] },
    live.length > 0
      ? sql<{ campaign: string; channel: Channel; reason_code: string | null; n: number }>`
          select l.campaign, l.channel, l.reason_code, count(*)::int as n
          from consent_ledger l
          where l.campaign is not null and l.campaign = any(${live}::text[]) and ${LEAVING} and ${BY_PEOPLE}
          group by 1, 2, 3
        `.execute(db)
      : { rows: [] },
  ]);
  // Only rows on the campaign's own channel count for it.
  for (const r of stats) {
    if (channelOf.get(r.campaign) !== r.channel) continue;
    const l = out.get(r.campaign)!;
    l.people = r.people;
    for (const [code, n] of Object.entries(r.reasons))
      l.reasons.set(code === "" ? null : code, Number(n));
  }
  for (const r of people.rows) {
    if (channelOf.get(r.campaign) === r.channel) out.get(r.campaign)!.people = r.people;
  }
  for (const r of reasons.rows) {
    if (channelOf.get(r.campaign) === r.channel)
      out.get(r.campaign)!.reasons.set(r.reason_code, r.n);
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
      for (const r of [...between, ...before]) context.set(r.key, toInfo(r));
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
    rows: await rateCampaigns(db, rows.map(toInfo), rules, options.view),
    total: Number(count.n),
    limit: options.limit,
  };
}

export type CampaignReport = {
  campaign: CampaignRate;
  reasons: { code: string | null; label: string; count: number; share: number }[];
  sources: { source: string; count: number }[];
  daily: { day: string; count: number }[];
  freeText: { id: number; occurredAt: string; reasonLabel: string; text: string }[];
};

/** One campaign: its rate and verdict, all its reasons, sources, days and what people wrote. */
export async function getCampaignReport(
  db: Db,
  key: string,
  rules: RateRules,
  options: { freeTextLimit?: number } = {},
): Promise<CampaignReport | null> {
  const row = await db
    .selectFrom("campaigns")
    .select(CAMPAIGN_COLUMNS)
    .where("key", "=", key)
    .executeTakeFirst();
  if (!row) return null;
  const info = toInfo(row);
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
        and l.reason_text is not null
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
      reasonLabel: labelOf(labels, r.reason_code),
      text: r.reason_text,
    })),
  };
}
