import { sql, type RawBuilder } from "kysely";

import { inTransaction, sharesOneSession, type Db, type Trx } from "~/db/db.server";
import type { ReportDailyTable } from "~/reports/schema";

import { addDays, toIsoDate } from "~/reports/filters";

import { BY_PEOPLE, LEAVING } from "~/reports/leaving.server";

/**
 * Rollups that keep the reports fast on millions of ledger rows, and exact.
 *
 * - report_daily: the leaving rows of each complete UTC day (up to yesterday), counted by channel,
 *   action, source, topic, campaign and reason. A year of reports reads a few thousand of these
 *   instead of every ledger row.
 * - report_campaign_stats: per (campaign, channel), the distinct addresses that left through it
 *   (counted sources only) and the rows per reason.
 * - report_rollup_state: the snapshot they were computed at: `xmin`, the oldest transaction that
 *   snapshot could not see (pg_snapshot_xmin), and the last day rolled.
 *
 * Exactness: every ledger row carries the id of the transaction that wrote it (txid, migration
 * 1400). Rows of transactions older than `xmin` were all visible to the rollup, so they are in it;
 * rows with txid ≥ xmin may not be. Readers therefore count live, from the ledger, every day and
 * every campaign that has a leaving row with txid ≥ xmin ("pending"), and use the rollups for the
 * rest. The next rollup recounts those days and campaigns from scratch (delete + insert), so
 * nothing is counted twice. This holds whatever a row's occurred_at is (even rows written with a
 * date in the past), and erasure only blanks personal columns that the rollups do not keep.
 *
 * A background task (app/reports/tasks.server.ts) rolls up every minute; several servers may run
 * it at once: a transaction-scoped advisory lock lets one of them do it.
 */

const ROLLUP_LOCK = 0x4865_6564_7270; // "Heedrp": this task's advisory lock

export type RollupState = { xmin: string; rolledThrough: string | null };

/** The rollups' snapshot, and what happened after it. */
export type RollupView = {
  state: RollupState | null;
  /** Rolled days (≤ rolledThrough) with rows the rollup does not include. */
  pendingDays: string[];
  /** Campaign keys with leaving rows the rollup does not include. */
  pendingCampaigns: Set<string>;
};

export async function readRollupState(db: Db): Promise<RollupState | null> {
  const { rows } = await sql<{ xmin: string; rolled_through: string | null }>`
    select horizon::text as xmin, to_char(rolled_through, 'YYYY-MM-DD') as rolled_through
    from report_rollup_state where id = 1
  `.execute(db);
  const row = rows[0];
  return row ? { xmin: row.xmin, rolledThrough: row.rolled_through } : null;
}

/**
 * Ledger rows one statement of the rollup reads at most (pendingSince, countDays). On PGlite the
 * database is one session (app/db/pglite-worker.server.ts), and a statement holds it: the rollup
 * after a 1,000,000-row import held it for more than a second in one statement; in slices of this
 * size each statement takes tens of milliseconds and requests waiting for the session go between
 * two of them. 20,000 rows a slice took 85-150 ms on PGlite (2 busy cores); 5,000 take 20-40 ms.
 */
export const PENDING_SLICE = 5_000;

/** A transaction's settings for no parallel workers and no JIT (see onOneCore). */
const ONE_CORE = sql`set_config('max_parallel_workers_per_gather', '0', true),
  set_config('jit', 'off', true)`;

/** A ledger row's UTC day, as the rollup keys its days. */
const DAY = sql`to_char(l.occurred_at at time zone 'UTC', 'YYYY-MM-DD')`;

/**
 * For one slice's transaction: the plan walks the slice's index, whatever the statistics say
 * (see walkLedger), in one statement. JIT off: the disabled sorts' cost (PostgreSQL adds 10^10 to
 * a disabled plan node, and the small sorts of a slice's last key have no alternative) passed
 * the JIT thresholds, and PostgreSQL compiled every slice for 400 ms to run it in 10 ms.
 */
async function alongTheIndex(trx: Trx): Promise<void> {
  await sql`select set_config('enable_seqscan', 'off', true), set_config('enable_sort', 'off', true),
    set_config('enable_incremental_sort', 'off', true), ${ONE_CORE}`.execute(trx);
}

/**
 * Runs a report's read in a transaction (the caller's, if it is one) on one core: no parallel
 * workers, no JIT (docs/decisions/0114). On PostgreSQL the reports read hundreds of thousands of
 * ledger rows in one statement; with the default two parallel workers a statement took three
 * processes (the leader and two workers) for about the time it took alone (the distinct-people
 * count of 375,000 rows: 1.4-1.7 s with workers, 1.6-1.9 s without), and on two cores left none
 * to the recipients' backends and the server; JIT compiled each of them for 100 ms or more.
 * `workMem` raises work_mem for the transaction (sorts and hashes in memory, not on disk).
 */
export async function onOneCore<T>(
  db: Db,
  fn: (trx: Trx) => Promise<T>,
  options: { workMem?: string } = {},
): Promise<T> {
  return inTransaction(db, async (trx) => {
    await sql`select ${ONE_CORE}${
      options.workMem ? sql`, set_config('work_mem', ${options.workMem}, true)` : sql``
    }`.execute(trx);
    return fn(trx);
  });
}

/**
 * Walks the ledger in keyset slices of at most `size` (PENDING_SLICE) rows, each its own
 * statement, and hands every row of every slice to `each`. A slice's statement answers its own
 * rows plus one row whose `next` is "<rows in the slice> <key…>" (space-separated: the slice's
 * last key, which the next slice starts after); a slice shorter than `size` is the last.
 *
 * Each slice runs along its index whatever the statistics say: without statistics the planner
 * read the whole ledger and sorted it for every slice (measured: 100 ms a slice at 100,000 rows
 * instead of a few ms); with them (PGlite analyzes grown tables, decision 0109) it walked the
 * plain occurred_at index with an incremental sort, 3 times the time of the keyset index.
 */
export async function walkLedger<R extends { next: string | null }>(
  db: Db,
  slice: (after: string[] | null) => RawBuilder<R>,
  each: (row: R) => void,
  size: number = PENDING_SLICE,
): Promise<void> {
  let after: string[] | null = null;
  for (;;) {
    const rows: R[] = await db.transaction().execute(async (trx) => {
      await alongTheIndex(trx);
      return (await slice(after).execute(trx)).rows;
    });
    let next: string | null = null;
    for (const r of rows) {
      if (r.next !== null) next = r.next;
      else each(r);
    }
    if (next === null) return;
    const [count, ...key] = next.split(" ");
    if (Number(count) < size) return;
    after = key;
  }
}

/**
 * Days and campaigns with leaving rows written by transactions at or after the horizon.
 *
 * Where the database is one session (PGlite; `options.sliced` forces either way): keyset slices
 * of the ledger's (txid, id) index, each its own statement. Slices read at different moments;
 * that is exact for both callers: every row with txid below the caller's own horizon (taken
 * before the first slice) was committed before it, so every slice sees it, and a row written
 * meanwhile has a txid at or above that horizon, so it is pending again next time.
 *
 * On PostgreSQL one statement (each request has its own connection, so nothing waits for it):
 * after a 1,000,000-row import it read the new rows in 0.6 s where the 200 slices took
 * 1.4-1.8 s of a backend's CPU (docs/decisions/0114).
 */
export async function pendingSince(
  db: Db,
  xmin: string,
  options: { sliced?: boolean; slice?: number } = {},
): Promise<{ days: string[]; campaigns: Set<string> }> {
  const days = new Set<string>();
  const campaigns = new Set<string>();
  const each = (r: { day: string; campaign: string | null }) => {
    days.add(r.day);
    if (r.campaign !== null) campaigns.add(r.campaign);
  };
  if (!(options.sliced ?? sharesOneSession(db))) {
    const { rows } = await onOneCore(db, (trx) =>
      sql<{ day: string; campaign: string | null }>`
        select distinct ${DAY} as day, l.campaign
        from consent_ledger l where l.txid >= ${xmin}::xid8 and ${LEAVING}
      `.execute(trx),
    );
    rows.forEach(each);
    return { days: [...days].sort(), campaigns };
  }
  const slice = options.slice ?? PENDING_SLICE;
  type Row = { day: string; campaign: string | null; next: string | null };
  await walkLedger<Row>(
    db,
    (after) => sql<Row>`
      with s as (
        select l.txid, l.id, l.occurred_at, l.campaign, l.action from consent_ledger l
        where ${
          after
            ? sql`(l.txid, l.id) > (${after[0]}::xid8, ${after[1]}::bigint)`
            : sql`l.txid >= ${xmin}::xid8`
        }
        order by l.txid, l.id limit ${slice}
      )
      select distinct ${DAY} as day,
        l.campaign, null::text as next
      from s as l where ${LEAVING}
      union all
      select null, null, (select count(*) from s)::text || ' ' || txid::text || ' ' || id::text
      from (select txid, id from s order by txid desc, id desc limit 1) as last
    `,
    each,
    slice,
  );
  return { days: [...days].sort(), campaigns };
}

export async function loadRollupView(db: Db): Promise<RollupView> {
  const state = await readRollupState(db);
  if (!state) return { state: null, pendingDays: [], pendingCampaigns: new Set() };
  const pending = await pendingSince(db, state.xmin);
  return {
    state,
    pendingDays: pending.days.filter(
      (d) => state.rolledThrough !== null && d <= state.rolledThrough,
    ),
    pendingCampaigns: pending.campaigns,
  };
}

/** The days [from, to] as a date[] parameter. */
export function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
  return out;
}

/** One row of report_daily. */
export type DailyCount = ReportDailyTable;

/**
 * The leaving rows of the UTC days [from, to) (from null: every day before `to`), counted by
 * report_daily's dimensions.
 *
 * Where the database is one session (PGlite; `options.sliced` forces either way): in keyset
 * slices of (occurred_at, id) along consent_ledger_leaving_time_id_idx, summed here. Read
 * outside the rollup's transaction, exact for the same reason as pendingSince: every row below
 * the rollup's horizon is seen by every slice, and a day that gets a row later is pending at the
 * next rollup and counted again. On PostgreSQL one statement (onOneCore): a day of 1,000,000
 * imported rows took 0.6-0.7 s there, 1.8-2.0 s in slices (docs/decisions/0114).
 */
export async function countDays(
  db: Db,
  from: string | null,
  to: string,
  options: { sliced?: boolean; slice?: number } = {},
): Promise<DailyCount[]> {
  const end = sql`l.occurred_at < (${to}::date::timestamp at time zone 'UTC')`;
  const start = from
    ? sql`and l.occurred_at >= (${from}::date::timestamp at time zone 'UTC')`
    : sql``;
  if (!(options.sliced ?? sharesOneSession(db))) {
    const { rows } = await onOneCore(db, (trx) =>
      sql<DailyCount>`
        select ${DAY} as day, l.channel, l.action, l.source, l.topic, l.campaign, l.reason_code,
          count(*)::int as n
        from consent_ledger l
        where ${LEAVING} and ${end} ${start}
        group by 1, 2, 3, 4, 5, 6, 7
      `.execute(trx),
    );
    return rows;
  }
  const slice = options.slice ?? PENDING_SLICE;
  const sums = new Map<string, DailyCount>();
  await walkLedger(
    db,
    (after) => sql<DailyCount & { next: string | null }>`
      with s as (
        select l.occurred_at, l.id, l.channel, l.action, l.source, l.topic, l.campaign,
          l.reason_code
        from consent_ledger l
        where ${LEAVING} and ${end} ${
          after
            ? sql`and (l.occurred_at, l.id) > (${after[1]}::timestamptz, ${after[0]}::bigint)`
            : start
        }
        order by l.occurred_at, l.id limit ${slice}
      )
      select ${DAY} as day, l.channel,
        l.action, l.source, l.topic, l.campaign, l.reason_code, count(*)::int as n,
        null::text as next
      from s as l group by 1, 2, 3, 4, 5, 6, 7
      union all
      select null, null, null, null, null, null, null, null,
        (select count(*) from s)::text || ' ' || id::text || ' '
          || to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
      from (select occurred_at, id from s order by occurred_at desc, id desc limit 1) as last
    `,
    ({ next: _, ...row }) => {
      const key = JSON.stringify([
        row.day,
        row.channel,
        row.action,
        row.source,
        row.topic,
        row.campaign,
        row.reason_code,
      ]);
      const sum = sums.get(key);
      if (sum) sum.n += row.n;
      else sums.set(key, row);
    },
    slice,
  );
  return [...sums.values()];
}

/** countDays of a list of days, one keyset walk per run of consecutive days. */
export async function countDayList(db: Db, days: readonly string[]): Promise<DailyCount[]> {
  const sorted = [...new Set(days)].sort();
  const out: DailyCount[] = [];
  for (let i = 0; i < sorted.length;) {
    let last = sorted[i]!;
    let j = i + 1;
    while (j < sorted.length && sorted[j] === addDays(last, 1)) last = sorted[j++]!;
    out.push(...(await countDays(db, sorted[i]!, addDays(last, 1))));
    i = j;
  }
  return out;
}

/** The rows of `counts` (DailyCount[] as jsonb) as a table shaped like report_daily. */
export function dailyCountsTable(counts: readonly DailyCount[]) {
  return sql`jsonb_to_recordset(${JSON.stringify(counts)}::jsonb) as l(
    day date, channel text, action text, source text, topic text, campaign text,
    reason_code text, n integer)`;
}

/** Replaces the rollup's rows of `days` (every day: "all") with `counts`. */
async function writeDays(trx: Trx, days: string[] | "all", counts: DailyCount[]): Promise<void> {
  if (days === "all") await sql`delete from report_daily`.execute(trx);
  else if (days.length > 0)
    await sql`delete from report_daily where day = any(${days}::date[])`.execute(trx);
  if (counts.length === 0) return;
  await sql`
    insert into report_daily (day, channel, action, source, topic, campaign, reason_code, n)
    select l.day, l.channel, l.action, l.source, l.topic, l.campaign, l.reason_code, l.n
    from ${dailyCountsTable(counts)}
  `.execute(trx);
}

/**
 * Ledger rows one statement of countCampaigns reads at most. Fewer than the other slices: the
 * rows come in address order, so each is a random heap page (PGlite never vacuums, so even an
 * index-only scan reads the heap): 5,000 took 140-280 ms on PGlite with a 1,500,000-row ledger.
 */
export const CAMPAIGN_SLICE = 1_000;

/** One row of report_campaign_stats: a campaign's distinct leavers on a channel, rows by reason. */
export type CampaignCount = {
  campaign: string;
  channel: string;
  people: number;
  /** Rows by reason code ('' for none). */
  reasons: Record<string, number>;
};

/**
 * Per (campaign, channel) of these campaigns (every campaign: "all"): the distinct addresses that
 * left through it (counted sources) and its counted rows by reason, as report_campaign_stats keeps
 * them. Where the database is one session (PGlite; `options.sliced` forces either way), read in
 * keyset slices of at most `slice` rows along consent_ledger_leaving_campaign_key_idx
 * (campaign, channel, address_hash, id), each its own statement: one statement over a campaign
 * with 250,000 leavers held PGlite's session for 300 ms.
 *
 * Distinct counts add up across these slices: rows come in address order, so an address is in
 * two slices only if it ends one and starts the next (its rows are consecutive), and then it is
 * taken off once. Exact for the rollup for the same reason as countDays (every row below its
 * horizon is seen by every slice; a campaign that gets a row meanwhile is pending next time).
 */
export async function countCampaigns(
  db: Db,
  campaigns: readonly string[] | "all",
  options: { sliced?: boolean; slice?: number } = {},
): Promise<CampaignCount[]> {
  if (campaigns !== "all" && campaigns.length === 0) return [];
  if (!(options.sliced ?? sharesOneSession(db))) return campaignsInOneStatement(db, campaigns);
  const slice = options.slice ?? CAMPAIGN_SLICE;
  const out = new Map<string, CampaignCount>();
  // One walk per campaign (`campaign = any(…)` would not keep the index's order on PostgreSQL
  // before 17), or one over every campaign.
  if (campaigns === "all") await walkCampaigns(db, sql``, slice, out);
  else {
    for (const c of new Set(campaigns))
      await walkCampaigns(db, sql`and l.campaign = ${c}`, slice, out);
  }
  return [...out.values()];
}

/** countCampaigns in one statement (PostgreSQL: each request has its own connection). */
async function campaignsInOneStatement(
  db: Db,
  campaigns: readonly string[] | "all",
): Promise<CampaignCount[]> {
  const which = campaigns === "all" ? sql`` : sql`and l.campaign = any(${[...campaigns]}::text[])`;
  const { rows } = await onOneCore(db, (trx) =>
    sql<CampaignCount>`
    select p.campaign, p.channel, p.people, coalesce(r.reasons, '{}'::jsonb) as reasons
    from (
      select l.campaign, l.channel, count(distinct l.address_hash)::int as people
      from consent_ledger l
      where l.campaign is not null ${which} and ${LEAVING} and ${BY_PEOPLE}
      group by 1, 2
    ) p
    left join (
      select campaign, channel, jsonb_object_agg(reason, n) as reasons
      from (
        select l.campaign, l.channel, coalesce(l.reason_code, '') as reason, count(*)::int as n
        from consent_ledger l
        where l.campaign is not null ${which} and ${LEAVING} and ${BY_PEOPLE}
        group by 1, 2, 3
      ) x
      group by 1, 2
    ) r on r.campaign = p.campaign and r.channel = p.channel
  `.execute(trx),
  );
  return rows;
}

async function walkCampaigns(
  db: Db,
  which: RawBuilder<unknown>,
  slice: number,
  out: Map<string, CampaignCount>,
): Promise<void> {
  type Row = {
    campaign: string | null;
    channel: string | null;
    reason: string | null;
    n: number | null;
    people: number | null;
    /** The slice's first and last counted row's (campaign, channel, address_hash), as JSON. */
    first: string | null;
    last: string | null;
    /** The slice's last row's key, and how many rows it had. */
    rows: number | null;
    k_campaign: string | null;
    k_channel: string | null;
    k_hash: string | null;
    k_id: string | null;
  };
  let after: [string, string, string, string] | null = null;
  let lastCounted: string | null = null;
  for (;;) {
    const rows: Row[] = await db.transaction().execute(async (trx) => {
      await alongTheIndex(trx);
      const { rows } = await sql<Row>`
        with s as materialized (
          select l.campaign, l.channel, l.address_hash, l.id, l.source, l.reason_code, l.action
          from consent_ledger l
          where l.campaign is not null and ${LEAVING} ${which} ${
            after
              ? sql`and (l.campaign, l.channel, l.address_hash, l.id) >
                  (${after[0]}, ${after[1]}, ${after[2]}, ${after[3]}::bigint)`
              : sql``
          }
          order by l.campaign, l.channel, l.address_hash, l.id limit ${slice}
        ),
        c as materialized (select * from s as l where ${BY_PEOPLE})
        select campaign, channel, coalesce(reason_code, '') as reason, count(*)::int as n,
          null::int as people, null::text as first, null::text as last, null::int as rows,
          null::text as k_campaign, null::text as k_channel, null::text as k_hash,
          null::text as k_id
        from c group by 1, 2, 3
        union all
        select campaign, channel, null, null, count(distinct address_hash)::int, null, null,
          null, null, null, null, null
        from c group by 1, 2
        union all
        select null, null, null, null, null,
          (select json_build_array(campaign, channel, address_hash)::text from c
            order by campaign, channel, address_hash, id limit 1),
          (select json_build_array(campaign, channel, address_hash)::text from c
            order by campaign desc, channel desc, address_hash desc, id desc limit 1),
          (select count(*) from s)::int, last.campaign, last.channel, last.address_hash,
          last.id::text
        from (select * from s order by campaign desc, channel desc, address_hash desc, id desc
          limit 1) as last
      `.execute(trx);
      return rows;
    });
    let next: Row | null = null;
    for (const r of rows) {
      if (r.rows !== null) {
        next = r;
        continue;
      }
      const key = JSON.stringify([r.campaign, r.channel]);
      let c = out.get(key);
      if (!c) {
        c = { campaign: r.campaign!, channel: r.channel!, people: 0, reasons: {} };
        out.set(key, c);
      }
      if (r.people !== null) c.people += r.people;
      else c.reasons[r.reason!] = (c.reasons[r.reason!] ?? 0) + r.n!;
    }
    if (next === null) break;
    // An address that ended the counted rows before and starts this slice's: counted twice.
    if (next.first !== null && next.first === lastCounted) {
      const [campaign, channel] = JSON.parse(next.first) as [string, string, string];
      out.get(JSON.stringify([campaign, channel]))!.people -= 1;
    }
    if (next.last !== null) lastCounted = next.last;
    if (next.rows! < slice) break;
    after = [next.k_campaign!, next.k_channel!, next.k_hash!, next.k_id!];
  }
}

/** Replaces the campaign rollup's rows of `campaigns` (every campaign: "all") with `counts`. */
async function writeCampaigns(
  trx: Trx,
  campaigns: readonly string[] | "all",
  counts: readonly CampaignCount[],
): Promise<void> {
  if (campaigns === "all") await sql`delete from report_campaign_stats`.execute(trx);
  else if (campaigns.length > 0)
    await sql`delete from report_campaign_stats where campaign = any(${[...campaigns]}::text[])`.execute(
      trx,
    );
  if (counts.length === 0) return;
  await sql`
    insert into report_campaign_stats (campaign, channel, people, reasons)
    select c.campaign, c.channel, c.people, c.reasons
    from jsonb_to_recordset(${JSON.stringify(counts)}::jsonb)
      as c(campaign text, channel text, people integer, reasons jsonb)
  `.execute(trx);
}

export type RollupResult = {
  ran: boolean;
  rolledThrough: string;
  days: number;
  campaigns: number | "all";
};

/**
 * Brings the rollups up to date: the new complete days, the days and campaigns with rows written
 * since the last rollup. Returns ran=false when another server holds the lock, or rolled up
 * while this one was reading what is pending.
 *
 * What is pending is read before the transaction, in slices (pendingSince): inside it, the scan
 * would hold PGlite's only session for its whole length. The horizon stored is the one taken
 * before that scan, so whatever is written from then on is pending at the next rollup.
 */
export async function runRollup(db: Db, options: { now?: Date } = {}): Promise<RollupResult> {
  const through = addDays(toIsoDate(options.now ?? new Date()), -1);
  const horizon = await sql<{
    xmin: string;
  }>`select pg_snapshot_xmin(pg_current_snapshot())::text as xmin`.execute(db);
  const xmin = horizon.rows[0]!.xmin;
  const before = await readRollupState(db);
  const pending =
    before && before.rolledThrough !== null ? await pendingSince(db, before.xmin) : null;
  // The days to count again: those with rows written since the last rollup, and the complete
  // days not rolled yet (all of them at the first rollup).
  let recount: string[] | "all" = "all";
  let counts: DailyCount[];
  if (before?.rolledThrough && pending) {
    const rolled = before.rolledThrough;
    const dirty = pending.days.filter((d) => d <= rolled);
    const fresh = rolled < through ? daysBetween(addDays(rolled, 1), through) : [];
    recount = [...dirty, ...fresh];
    counts = await countDayList(db, recount);
  } else {
    counts = await countDays(db, null, addDays(through, 1));
  }
  // The campaigns to count again, counted here too, outside the transaction (countCampaigns).
  const campaigns: string[] | "all" =
    recount === "all" || !pending ? "all" : [...pending.campaigns];
  const campaignCounts = await countCampaigns(db, campaigns);
  return db
    .transaction()
    .setIsolationLevel("repeatable read")
    .execute(async (trx) => {
      const lock = await sql<{
        ok: boolean;
      }>`select pg_try_advisory_xact_lock(${ROLLUP_LOCK}::bigint) as ok`.execute(trx);
      const state = await readRollupState(trx);
      const same = state?.xmin === before?.xmin && state?.rolledThrough === before?.rolledThrough;
      if (!lock.rows[0]?.ok || !same) {
        return { ran: false, rolledThrough: through, days: 0, campaigns: 0 };
      }

      await writeDays(trx, recount, counts);
      await writeCampaigns(trx, campaigns, campaignCounts);
      // A rollup dated after `through` (the clock went back) keeps its days: they stay exact.
      const days = recount === "all" ? -1 : recount.length;
      // Fresh statistics after a big change, so the planner knows the rollup's size.
      if (days === -1 || days > 7) await sql`analyze report_daily`.execute(trx);
      const rolledThrough =
        state?.rolledThrough && state.rolledThrough > through ? state.rolledThrough : through;
      await sql`
        insert into report_rollup_state (id, horizon, rolled_through, updated_at)
        values (1, ${xmin}::xid8, ${rolledThrough}::date, now())
        on conflict (id) do update set horizon = excluded.horizon, rolled_through = excluded.rolled_through,
          updated_at = excluded.updated_at
      `.execute(trx);
      return {
        ran: true,
        rolledThrough,
        days,
        campaigns: campaigns === "all" ? "all" : campaigns.length,
      };
    });
}
