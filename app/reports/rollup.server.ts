import { sql } from "kysely";

import type { Db, Trx } from "~/db/db.server";

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

/** Days and campaigns with leaving rows written by transactions at or after the horizon. */
async function pendingSince(
  db: Db,
  xmin: string,
): Promise<{ days: string[]; campaigns: Set<string> }> {
  const { rows } = await sql<{ day: string; campaign: string | null }>`
    select distinct to_char(l.occurred_at at time zone 'UTC', 'YYYY-MM-DD') as day, l.campaign
    from consent_ledger l
    where l.txid >= ${xmin}::xid8 and ${LEAVING}
  `.execute(db);
  return {
    days: [...new Set(rows.map((r) => r.day))].sort(),
    campaigns: new Set(rows.map((r) => r.campaign).filter((c): c is string => c !== null)),
  };
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
function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
  return out;
}

async function rollDays(trx: Trx, days: string[]): Promise<void> {
  if (days.length === 0) return;
  await sql`delete from report_daily where day = any(${days}::date[])`.execute(trx);
  await sql`
    insert into report_daily (day, channel, action, source, topic, campaign, reason_code, n)
    select p.day, l.channel, l.action, l.source, l.topic, l.campaign, l.reason_code, count(*)::int
    from unnest(${days}::date[]) as p(day)
    join consent_ledger l
      on l.occurred_at >= (p.day::timestamp at time zone 'UTC')
     and l.occurred_at < ((p.day + 1)::timestamp at time zone 'UTC')
    where ${LEAVING}
    group by 1, 2, 3, 4, 5, 6, 7
  `.execute(trx);
}

async function rollRange(trx: Trx, from: string | null, through: string): Promise<void> {
  // Consecutive new days in one statement (the first rollup covers the whole ledger).
  const start = from
    ? sql`and l.occurred_at >= (${from}::date::timestamp at time zone 'UTC')`
    : sql``;
  await sql`delete from report_daily where day <= ${through}::date ${from ? sql`and day >= ${from}::date` : sql``}`.execute(
    trx,
  );
  await sql`
    insert into report_daily (day, channel, action, source, topic, campaign, reason_code, n)
    select (l.occurred_at at time zone 'UTC')::date, l.channel, l.action, l.source, l.topic, l.campaign,
      l.reason_code, count(*)::int
    from consent_ledger l
    where ${LEAVING} ${start}
      and l.occurred_at < ((${through}::date + 1)::timestamp at time zone 'UTC')
    group by 1, 2, 3, 4, 5, 6, 7
  `.execute(trx);
}

async function rollCampaigns(trx: Trx, campaigns: string[] | "all"): Promise<void> {
  if (campaigns !== "all" && campaigns.length === 0) return;
  const which = campaigns === "all" ? sql`` : sql`and l.campaign = any(${campaigns}::text[])`;
  if (campaigns === "all") await sql`delete from report_campaign_stats`.execute(trx);
  else
    await sql`delete from report_campaign_stats where campaign = any(${campaigns}::text[])`.execute(
      trx,
    );
  await sql`
    insert into report_campaign_stats (campaign, channel, people, reasons)
    select p.campaign, p.channel, p.people, coalesce(r.reasons, '{}'::jsonb)
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
 * since the last rollup. Returns ran=false when another server holds the lock.
 */
export async function runRollup(db: Db, options: { now?: Date } = {}): Promise<RollupResult> {
  const through = addDays(toIsoDate(options.now ?? new Date()), -1);
  return db
    .transaction()
    .setIsolationLevel("repeatable read")
    .execute(async (trx) => {
      const lock = await sql<{
        ok: boolean;
      }>`select pg_try_advisory_xact_lock(${ROLLUP_LOCK}::bigint) as ok`.execute(trx);
      if (!lock.rows[0]?.ok) return { ran: false, rolledThrough: through, days: 0, campaigns: 0 };
      // One snapshot for the whole run (repeatable read): its horizon is the new xmin.
      const horizon = await sql<{
        xmin: string;
      }>`select pg_snapshot_xmin(pg_current_snapshot())::text as xmin`.execute(trx);
      const xmin = horizon.rows[0]!.xmin;
      const state = await readRollupState(trx);

      let days = 0;
      let campaigns: number | "all";
      if (!state || state.rolledThrough === null) {
        await sql`delete from report_daily`.execute(trx);
        await rollRange(trx, null, through);
        await rollCampaigns(trx, "all");
        days = -1;
        campaigns = "all";
      } else {
        const pending = await pendingSince(trx, state.xmin);
        const dirty = pending.days.filter((d) => d <= state.rolledThrough!);
        await rollDays(trx, dirty);
        if (state.rolledThrough < through)
          await rollRange(trx, addDays(state.rolledThrough, 1), through);
        // A rollup dated after `through` (the clock went back) keeps its days: they stay exact.
        await rollCampaigns(trx, [...pending.campaigns]);
        days =
          dirty.length + Math.max(0, daysBetween(addDays(state.rolledThrough, 1), through).length);
        campaigns = pending.campaigns.size;
      }
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
      return { ran: true, rolledThrough, days, campaigns };
    });
}
