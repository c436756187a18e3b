import { sql } from "kysely";
import { sharesOneSession, type Db } from "~/db/db.server";
import { inBackgroundLane } from "~/db/priority.server";
import { CHANNELS, type Channel } from "~/db/schema";
import { addDays, filterInstants, type ReportFilter } from "~/reports/filters";
import {
  BY_PEOPLE,
  isCountedSource,
  LEAVING,
  PERSON,
  RECIPIENT_WORDS,
} from "~/reports/leaving.server";
import { campaignsInRange, type CampaignRate } from "~/reports/campaigns.server";
import { labelOf, NO_TOPIC, reasonLabels, reasonOrder, share } from "~/reports/labels.server";
import type { RateRules } from "~/reports/rates";
import {
  countDayList,
  dailyCountsTable,
  daysBetween,
  loadRollupView,
  onOneCore,
  walkLedger,
  type RollupView,
} from "~/reports/rollup.server";

/**
 * The figures of /admin/reports, aggregated in SQL. "People leaving" is defined in
 * leaving.server.ts (unsubscribes and topic opt-outs, imports and system rows excluded).
 *
 * - People, not rows: one person who leaves three channels at once is one person leaving (with
 *   one per channel in the channel breakdown), so "people" figures (the total, over time, by
 *   channel, topic and reason) count distinct people (leaving.server.ts: the contact when Heed
 *   knows it, else the address), read from the ledger. The changes themselves (channel
 *   unsubscribes, topic opt-outs, rows by source) are counted as rows.
 * - Over time, by channel, topic, source and reason: ledger rows in the date range (UTC days).
 *   A channel-wide unsubscribe counts for the topic of the campaign it came from, if any.
 * - Per campaign: the campaigns registered in the range with their rates (campaigns.server.ts).
 *
 * Complete days and campaign counts come from the rollups (rollup.server.ts) where they are up to
 * date, and from the ledger itself for everything newer: the result is the same either way.
 */

export type TimeRow = { bucket: string; total: number } & Record<Channel, number>;
export type ChannelRow = {
  channel: Channel;
  /** Distinct people who left on this channel. */
  people: number;
  unsubscribes: number;
  topicOptOuts: number;
  /** Changes: channel unsubscribes + topic opt-outs. */
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

export type Dashboard = {
  filter: ReportFilter;
  /** leaving: distinct people; changes: their rows (unsubscribes + topic opt-outs). */
  totals: {
    leaving: number;
    changes: number;
    unsubscribes: number;
    topicOptOuts: number;
    notCounted: number;
  };
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

async function topicNames(db: Db): Promise<Map<string, string>> {
  const rows = await db.selectFrom("topics").select(["key", "names"]).execute();
  return new Map(rows.map((r) => [r.key, r.names.en?.trim() || r.key]));
}

/**
 * Every figure of the dashboard in one pass over the range: the rolled-up days, plus the days
 * after the rollup and the rolled days with newer rows (counted from the ledger in keyset slices,
 * as the rollup counts them), summed per GROUPING SET. work_mem is raised for this transaction only, so that PostgreSQL hashes the
 * groups instead of sorting them on disk.
 */
async function rangeAggregates(db: Db, filter: ReportFilter, view: RollupView): Promise<DimRow[]> {
  const g = filter.granularity;
  const through = view.state?.rolledThrough ?? null;
  // Rolled days of the range: [from, rolledEnd]; the ledger is read for the days after.
  const rolledEnd =
    through !== null && through >= filter.from ? (through < filter.to ? through : filter.to) : null;
  const pending = rolledEnd
    ? view.pendingDays.filter((d) => d >= filter.from && d <= rolledEnd)
    : [];
  // The days read from the ledger (after the rolled ones, and the rolled days with rows the
  // rollup does not include), counted in keyset slices by the rollup's own countDays: on PGlite
  // one statement over a day of 1,000,000 imported rows held the only session for ~2 s.
  const liveFrom = rolledEnd ? addDays(rolledEnd, 1) : filter.from;
  const live = await countDayList(db, [
    ...pending,
    ...(liveFrom <= filter.to ? daysBetween(liveFrom, filter.to) : []),
  ]);
  const channel = filter.channel ? sql`and l.channel = ${filter.channel}` : sql``;
  // Each part yields (bucket, channel, action, source, topic, reason_code, n), the topic already
  // resolved (a channel unsubscribe takes its campaign's topic).
  const dims = sql`l.channel, l.action, l.source, coalesce(l.topic, c.topic) as topic, l.reason_code`;
  const parts = [
    sql`select date_trunc(${g}, l.day::timestamp) as bucket, ${dims}, l.n::bigint as n
      from ${dailyCountsTable(live)}
      left join campaigns c on c.key = l.campaign
      where true ${channel}`,
  ];
  if (rolledEnd) {
    parts.push(sql`select date_trunc(${g}, l.day::timestamp) as bucket, ${dims}, l.n::bigint as n
      from report_daily l
      left join campaigns c on c.key = l.campaign
      where l.day >= ${filter.from}::date and l.day <= ${rolledEnd}::date
        and not (l.day = any(${pending}::date[])) ${channel}`);
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
  return onOneCore(db, async (trx) => (await query.execute(trx)).rows, { workMem: "32MB" });
}

type PeopleRow = {
  dim: "all" | "channel" | "time" | "time_channel" | "topic" | "reason";
  bucket: string | null;
  channel: Channel | null;
  topic: string | null;
  reason_code: string | null;
  people: number;
};

/** Ledger rows one statement of the sliced people count reads at most (peopleInSlices). */
export const PEOPLE_SLICE = 5_000;

/**
 * Distinct people leaving in the range: in all, per channel, per bucket, per bucket and channel,
 * per topic and per reason. Distinct counts do not add up across days, so they come from the
 * ledger, not the rollups.
 *
 * On PostgreSQL one statement (peopleInOneStatement): each request has its own connection. Where
 * the database is one session (PGlite), one statement over the range held it for as long as the
 * range's leaving rows take to read, imported ones included (1.2 s for 75,000 people and a
 * 300,000-row import day), and every recipient request waited: there the rows are read in
 * keyset slices and the people counted here (peopleInSlices). Both give the same numbers;
 * `options.sliced` picks one (tests).
 */
export async function peopleAggregates(
  db: Db,
  filter: ReportFilter,
  options: { sliced?: boolean; slice?: number } = {},
): Promise<PeopleRow[]> {
  return (options.sliced ?? sharesOneSession(db))
    ? peopleInSlices(db, filter, options.slice ?? PEOPLE_SLICE)
    : peopleInOneStatement(db, filter);
}

/** The people figures in one pass over the leaving rows of the range (the partial index by time). */
async function peopleInOneStatement(db: Db, filter: ReportFilter): Promise<PeopleRow[]> {
  const { start, end } = filterInstants(filter);
  const channel = filter.channel ? sql`and l.channel = ${filter.channel}` : sql``;
  // work_mem: the distinct counts sort the range's leaving rows (375,000 of them: 48 MB in
  // memory; on disk with less, 15% slower).
  const { rows } = await onOneCore(
    db,
    (trx) =>
      sql<PeopleRow>`
    with p as (
      select date_trunc(${filter.granularity}, l.occurred_at at time zone 'UTC') as bucket,
        l.channel, coalesce(l.topic, c.topic) as topic, l.reason_code, ${PERSON} as person
      from consent_ledger l
      left join campaigns c on c.key = l.campaign
      where ${LEAVING} and ${BY_PEOPLE} and l.occurred_at >= ${start} and l.occurred_at < ${end}
        ${channel}
    )
    select
      case
        when grouping(bucket) = 0 and grouping(channel) = 0 then 'time_channel'
        when grouping(bucket) = 0 then 'time'
        when grouping(channel) = 0 then 'channel'
        when grouping(topic) = 0 then 'topic'
        when grouping(reason_code) = 0 then 'reason'
        else 'all'
      end as dim,
      to_char(bucket, 'YYYY-MM-DD') as bucket, channel, topic, reason_code,
      count(distinct person)::int as people
    from p
    group by grouping sets ((), (channel), (bucket), (bucket, channel), (topic), (reason_code))
  `.execute(trx),
    { workMem: "64MB" },
  );
  return rows;
}

/**
 * The same figures from keyset slices of the range's leaving rows along
 * consent_ledger_leaving_time_id_idx (occurred_at, id), at most `slice` index entries a
 * statement (imported rows are walked, then left out, so a day of 1,000,000 imported rows is
 * many short statements, not one long one). Each slice answers its counted rows' dimensions and
 * person; the distinct people of every group are collected here, each person once as a number.
 * Exact whatever the slice boundaries: a person is counted once per group however many slices
 * they appear in, and the keyset (occurred_at, id) neither skips nor repeats a row.
 */
async function peopleInSlices(db: Db, filter: ReportFilter, slice: number): Promise<PeopleRow[]> {
  const { start, end } = filterInstants(filter);
  const channel = filter.channel ? sql`and l.channel = ${filter.channel}` : sql``;
  const ids = new Map<string, number>();
  const groups = new Map<string, { row: Omit<PeopleRow, "people">; people: Set<number> }>();
  const add = (key: string, row: Omit<PeopleRow, "people">, person: number) => {
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { row, people: new Set() }));
    g.people.add(person);
  };
  const none = { bucket: null, channel: null, topic: null, reason_code: null };
  groups.set("all", { row: { dim: "all", ...none }, people: new Set() }); // even if nobody left
  type SliceRow = {
    bucket: string;
    channel: Channel;
    topic: string | null;
    reason_code: string | null;
    person: string;
    next: string | null;
  };
  await walkLedger<SliceRow>(
    db,
    (after) => sql<SliceRow>`
      with s as (
        select l.occurred_at, l.id, l.channel, l.source, l.topic, l.campaign, l.reason_code,
          l.contact_id, l.address_hash
        from consent_ledger l
        where ${LEAVING} and l.occurred_at < ${end} and ${
          after
            ? sql`(l.occurred_at, l.id) > (${after[1]}::timestamptz, ${after[0]}::bigint)`
            : sql`l.occurred_at >= ${start}`
        }
        order by l.occurred_at, l.id limit ${slice}
      )
      select to_char(date_trunc(${filter.granularity}, l.occurred_at at time zone 'UTC'), 'YYYY-MM-DD') as bucket,
        l.channel, coalesce(l.topic, c.topic) as topic, l.reason_code, ${PERSON} as person,
        null::text as next
      from s as l
      left join campaigns c on c.key = l.campaign
      where ${BY_PEOPLE} ${channel}
      union all
      select null, null, null, null, null,
        (select count(*) from s)::text || ' ' || id::text || ' '
          || to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
      from (select occurred_at, id from s order by occurred_at desc, id desc limit 1) as last
    `,
    (r) => {
      let person = ids.get(r.person);
      if (person === undefined) ids.set(r.person, (person = ids.size));
      add("all", { dim: "all", ...none }, person);
      add(`c ${r.channel}`, { dim: "channel", ...none, channel: r.channel }, person);
      add(`b ${r.bucket}`, { dim: "time", ...none, bucket: r.bucket }, person);
      add(
        `bc ${r.bucket} ${r.channel}`,
        { dim: "time_channel", ...none, bucket: r.bucket, channel: r.channel },
        person,
      );
      add(`t ${JSON.stringify(r.topic)}`, { dim: "topic", ...none, topic: r.topic }, person);
      add(
        `r ${JSON.stringify(r.reason_code)}`,
        { dim: "reason", ...none, reason_code: r.reason_code },
        person,
      );
    },
    slice,
  );
  return [...groups.values()].map((g) => ({ ...g.row, people: g.people.size }));
}

/**
 * Every figure of the Reports page. Its reads run in the background lane (db/priority.server.ts):
 * they are an operator's, and where the database is one session (PGlite) a recipient's request
 * waiting for it goes before each of them, as before an export's pages.
 */
export function getDashboard(
  db: Db,
  filter: ReportFilter,
  rules: RateRules,
  options: { campaignLimit?: number; freeTextLimit?: number } = {},
): Promise<Dashboard> {
  return inBackgroundLane(() => dashboard(db, filter, rules, options));
}

async function dashboard(
  db: Db,
  filter: ReportFilter,
  rules: RateRules,
  options: { campaignLimit?: number; freeTextLimit?: number },
): Promise<Dashboard> {
  const campaignLimit = options.campaignLimit ?? 100;
  const view = await loadRollupView(db);
  // One part after the other, not at once: on PostgreSQL each part is a statement over
  // hundreds of thousands of ledger rows on its own connection, and three of them at once took
  // both cores of a small server from the recipients' requests (docs/decisions/0114). Where the
  // database is one session (PGlite) they ran one after the other anyway.
  const rows = await rangeAggregates(db, filter, view);
  const people = await peopleAggregates(db, filter);
  const campaigns = await campaignsInRange(db, filter, rules, { limit: campaignLimit, view });
  const [labels, topics, freeText] = await Promise.all([
    reasonLabels(db),
    topicNames(db),
    freeTextPage(db, filter, options.freeTextLimit ?? 20),
  ]);

  const channels = filter.channel ? [filter.channel] : [...CHANNELS];
  const byBucket = new Map<string, TimeRow>();
  const byChannel = new Map<Channel, ChannelRow>(
    channels.map((c) => [c, { channel: c, people: 0, unsubscribes: 0, topicOptOuts: 0, total: 0 }]),
  );
  const byTopic: TopicRow[] = [];
  const bySource: SourceRow[] = [];
  const byReason: ReasonRow[] = [];
  let notCounted = 0;

  let leaving = 0;
  for (const r of people) {
    if (r.dim === "all") leaving = r.people;
    else if (r.dim === "channel") {
      const row = byChannel.get(r.channel!);
      if (row) row.people = r.people;
    } else if (r.dim === "time" || r.dim === "time_channel") {
      const row = byBucket.get(r.bucket!) ?? {
        bucket: r.bucket!,
        total: 0,
        email: 0,
        sms: 0,
        whatsapp: 0,
      };
      if (r.dim === "time") row.total = r.people;
      else row[r.channel!] = r.people;
      byBucket.set(r.bucket!, row);
    } else if (r.dim === "topic") {
      byTopic.push({
        topic: r.topic,
        name: r.topic === null ? NO_TOPIC : (topics.get(r.topic) ?? r.topic),
        count: r.people,
        share: 0,
      });
    } else {
      byReason.push({
        code: r.reason_code,
        label: labelOf(labels, r.reason_code),
        count: r.people,
        share: 0,
      });
    }
  }
  for (const r of rows) {
    if (r.dim === "channel") {
      const row = byChannel.get(r.channel!);
      if (!row) continue;
      if (r.action === "unsubscribe") row.unsubscribes += r.leaving;
      else row.topicOptOuts += r.leaving;
      row.total += r.leaving;
    } else if (r.dim === "source") {
      const counted = isCountedSource(r.source!);
      bySource.push({ source: r.source!, count: r.all_rows, counted });
      if (!counted) notCounted += r.all_rows;
    }
  }

  const channelRows = [...byChannel.values()];
  const unsubscribes = channelRows.reduce((a, r) => a + r.unsubscribes, 0);
  const topicOptOuts = channelRows.reduce((a, r) => a + r.topicOptOuts, 0);
  const changes = unsubscribes + topicOptOuts;
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
    totals: { leaving, changes, unsubscribes, topicOptOuts, notCounted },
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

/**
 * The free-text reasons people wrote in the range, newest first; `before` pages on. Only what
 * recipients wrote: an agent's or an API caller's note is not their words (RECIPIENT_WORDS).
 */
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
      where l.reason_text is not null and ${LEAVING} and ${BY_PEOPLE} and ${RECIPIENT_WORDS}
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
