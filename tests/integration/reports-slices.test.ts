import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addressKey } from "~/consent/consent.server";
import type { Db } from "~/db/db.server";
import { parseReportFilter, type ReportFilter } from "~/reports/filters";
import { peopleAggregates } from "~/reports/queries.server";
import {
  countCampaigns,
  countDays,
  pendingSince,
  runRollup,
  type CampaignCount,
  type DailyCount,
} from "~/reports/rollup.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { expectIncrementalRollup } from "./rollup.helpers";

/**
 * The reports' distinct counts read in keyset slices (docs/decisions/0111) give the numbers one
 * statement gives, wherever the slices end: slices of 1, 2, 3, 4 and 7 rows over a ledger made
 * to put slice boundaries inside a person's rows, inside one instant (an import writes thousands
 * of rows with one occurred_at) and between an address's rows in a campaign.
 *
 * Campaign "big" (email), in (campaign, channel, address) order:
 *   b1: 3 rows (link, link, one_click; reasons too_frequent, —, —)
 *   b2: 1 row (import: not counted), then 1 row (link, not_relevant)
 *   b3: 4 rows (link; reason other ×4)
 *   b4: 1 row (system: not counted)
 *   b5: 2 rows on sms (sms_keyword)
 * → email: 3 people (b1, b2, b3), 8 counted rows: too_frequent 1, not_relevant 1, other 4,
 *   none 2; sms: 1 person (b5), 2 rows, none 2.
 * Campaign "small" (email): b1 once (link) → 1 person, 1 row.
 */

let t: TestDatabase;
let db: Db;

const DAY = "2026-11-10";
const at = (hh: string) => `${DAY}T${hh}Z`;

type Row = {
  at: string;
  channel?: "email" | "sms";
  who: string;
  contact?: string;
  action?: "unsubscribe" | "topic_opt_out" | "subscribe";
  source?: string;
  campaign?: string;
  topic?: string;
  reason?: string;
};

const CAMPAIGN_ROWS: Row[] = [
  { at: at("08:00:00"), who: "b1", campaign: "big", source: "link", reason: "too_frequent" },
  { at: at("08:00:00"), who: "b1", campaign: "big", source: "link" },
  { at: at("09:00:00"), who: "b1", campaign: "big", source: "one_click" },
  { at: at("08:00:00"), who: "b2", campaign: "big", source: "import" },
  { at: at("10:00:00"), who: "b2", campaign: "big", source: "link", reason: "not_relevant" },
  { at: at("08:00:00"), who: "b3", campaign: "big", source: "link", reason: "other" },
  { at: at("08:00:00"), who: "b3", campaign: "big", source: "link", reason: "other" },
  { at: at("11:00:00"), who: "b3", campaign: "big", source: "link", reason: "other" },
  { at: at("12:00:00"), who: "b3", campaign: "big", source: "link", reason: "other" },
  { at: at("08:00:00"), who: "b4", campaign: "big", source: "system" },
  { at: at("13:00:00"), who: "b5", campaign: "big", source: "sms_keyword", channel: "sms" },
  { at: at("14:00:00"), who: "b5", campaign: "big", source: "sms_keyword", channel: "sms" },
  { at: at("15:00:00"), who: "b1", campaign: "small", source: "link" },
];

/**
 * People rows over two weeks: one instant with many rows (p1 three times, an import between),
 * a contact leaving two channels (one person), topic opt-outs, rows outside the range, a
 * subscribe (not leaving).
 */
const PEOPLE_ROWS: Row[] = [
  { at: "2026-11-03T10:00:00Z", who: "p1", source: "link", reason: "too_frequent" },
  { at: "2026-11-03T10:00:00Z", who: "i1", source: "import" },
  { at: "2026-11-03T10:00:00Z", who: "p1", source: "link", topic: "news", action: "topic_opt_out" },
  { at: "2026-11-03T10:00:00Z", who: "i2", source: "import" },
  { at: "2026-11-03T10:00:00Z", who: "p1", source: "one_click" },
  { at: "2026-11-03T10:00:00Z", who: "p2", source: "link", reason: "other" },
  { at: "2026-11-04T00:00:00Z", who: "c1-mail", contact: "c1", source: "preference_page" },
  {
    at: "2026-11-04T00:00:00Z",
    who: "c1-phone",
    contact: "c1",
    channel: "sms",
    source: "sms_keyword",
  },
  { at: "2026-11-05T23:59:59.999Z", who: "p2", source: "link", reason: "other" },
  { at: "2026-11-09T08:00:00Z", who: "p3", source: "link", topic: "news", action: "topic_opt_out" },
  { at: "2026-11-09T08:00:00Z", who: "p1", source: "api", reason: "too_frequent" },
  { at: "2026-11-09T08:00:00Z", who: "p4", source: "double_opt_in", action: "subscribe" },
  { at: "2026-11-01T23:59:59Z", who: "p5", source: "link" }, // before the range
  { at: "2026-11-16T00:00:00Z", who: "p6", source: "link" }, // after it
];

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  await sql`insert into topics (key, names) values ('news', '{"en":"News"}')`.execute(db);
  await db
    .insertInto("campaigns")
    .values([
      { key: "big", name: "Big", channel: "email", topic: "news", sent_count: 1000 },
      { key: "small", name: "Small", channel: "email", topic: null, sent_count: 10 },
    ])
    .execute();
  const [contact] = await db
    .insertInto("contacts")
    .values({ email: "c1@x.test" })
    .returning("id")
    .execute();
  // Set-up writes the ledger directly (dates in the past; not a consent change path).
  await db
    .insertInto("consent_ledger")
    .values(
      [...CAMPAIGN_ROWS, ...PEOPLE_ROWS].map((r) => ({
        occurred_at: r.at,
        channel: r.channel ?? "email",
        address_hash: addressKey(`${r.who}@x.test`),
        address: `${r.who}@x.test`,
        contact_id: r.contact ? contact!.id : null,
        action: r.action ?? "unsubscribe",
        source: r.source ?? "link",
        campaign: r.campaign ?? null,
        topic: r.topic ?? null,
        reason_code: r.reason ?? null,
      })) as never,
    )
    .execute();
});
afterAll(async () => {
  await t?.close();
});

const SLICES = [1, 2, 3, 4, 7];

const sorted = <T>(rows: T[]) =>
  rows
    .filter((r) => (r as { people: number }).people > 0)
    .map((r) => JSON.stringify(r))
    .sort();

describe("the people leaving, counted from slices of the ledger", () => {
  const filters: [string, ReportFilter][] = [
    ["two weeks by day", parseFilter("2026-11-02", "2026-11-15", "day")],
    ["two weeks by week", parseFilter("2026-11-02", "2026-11-15", "week")],
    ["sms only", parseFilter("2026-11-02", "2026-11-15", "day", "sms")],
    ["the campaign day", parseFilter(DAY, DAY, "day")],
  ];
  it.each(filters)("%s: the same figures as one statement, whatever the slice", async (_, f) => {
    const whole = sorted(await peopleAggregates(db, f, { sliced: false }));
    expect(whole.length).toBeGreaterThan(0);
    for (const slice of SLICES) {
      expect(sorted(await peopleAggregates(db, f, { sliced: true, slice }))).toEqual(whole);
    }
  });

  it("counts each person once per group, by hand", async () => {
    for (const slice of SLICES) {
      const rows = await peopleAggregates(db, parseFilter("2026-11-02", "2026-11-09", "day"), {
        sliced: true,
        slice,
      });
      const people = (dim: string, match: Record<string, unknown> = {}) =>
        rows.find(
          (r) =>
            r.dim === dim &&
            Object.entries(match).every(([k, v]) => (r as Record<string, unknown>)[k] === v),
        )?.people;
      // p1, p2, c1 (two channels, one person), p3; the imports, the subscribe, the campaign
      // day and the rows outside the range are not counted.
      expect(people("all")).toBe(4);
      expect(people("channel", { channel: "email" })).toBe(4);
      expect(people("channel", { channel: "sms" })).toBe(1);
      expect(people("time", { bucket: "2026-11-03" })).toBe(2);
      expect(people("time", { bucket: "2026-11-09" })).toBe(2);
      expect(people("topic", { topic: "news" })).toBe(2);
      expect(people("reason", { reason_code: "too_frequent" })).toBe(1);
      expect(people("reason", { reason_code: "other" })).toBe(1);
    }
  });
});

/** The campaign figures in one statement (what PostgreSQL runs, and the rollup did before slicing). */
const campaignsInOneStatement = () => countCampaigns(db, "all", { sliced: false });

const byKey = (rows: CampaignCount[]) =>
  Object.fromEntries(rows.map((r) => [`${r.campaign} ${r.channel}`, r]));

describe("a campaign's leavers, counted from slices of the ledger", () => {
  const expected = {
    "big email": {
      campaign: "big",
      channel: "email",
      people: 3,
      reasons: { too_frequent: 1, not_relevant: 1, other: 4, "": 2 },
    },
    "big sms": { campaign: "big", channel: "sms", people: 1, reasons: { "": 2 } },
    "small email": { campaign: "small", channel: "email", people: 1, reasons: { "": 1 } },
  };

  it("by hand, and as one statement, whatever the slice, for some campaigns or all", async () => {
    expect(byKey(await campaignsInOneStatement())).toEqual(expected);
    for (const slice of SLICES) {
      expect(byKey(await countCampaigns(db, "all", { sliced: true, slice }))).toEqual(expected);
      expect(byKey(await countCampaigns(db, ["big", "small"], { sliced: true, slice }))).toEqual(
        expected,
      );
      expect(byKey(await countCampaigns(db, ["small"], { sliced: true, slice }))).toEqual({
        "small email": expected["small email"],
      });
    }
    expect(byKey(await countCampaigns(db, "all", { sliced: false }))).toEqual(expected);
    expect(await countCampaigns(db, [])).toEqual([]);
    expect(await countCampaigns(db, ["nobody-left"])).toEqual([]);
  });

  it("the rollup stores them, and recounts a pending campaign from scratch", async () => {
    await runRollup(db, { now: new Date("2026-11-20T06:00:00Z") });
    const stats = async () =>
      byKey(
        (
          await sql<CampaignCount>`select campaign, channel, people, reasons from report_campaign_stats`.execute(
            db,
          )
        ).rows,
      );
    expect(await stats()).toEqual(expected);
    // b3 leaves "big" once more (already counted: same people), b6 for the first time.
    await db
      .insertInto("consent_ledger")
      .values(
        ["b3", "b6"].map((who) => ({
          occurred_at: at("16:00:00"),
          channel: "email" as const,
          address_hash: addressKey(`${who}@x.test`),
          action: "unsubscribe" as const,
          source: "link" as const,
          campaign: "big",
        })),
      )
      .execute();
    expectIncrementalRollup(await runRollup(db, { now: new Date("2026-11-20T06:01:00Z") }), {
      campaigns: 1,
    });
    expect(await stats()).toEqual({
      ...expected,
      "big email": {
        ...expected["big email"],
        people: 4,
        reasons: { ...expected["big email"].reasons, "": 4 },
      },
    });
    expect(byKey(await campaignsInOneStatement())).toEqual(await stats());
  });
});

/** Day counts keyed and sorted, for comparing two ways of counting. */
const dayKeys = (rows: DailyCount[]) =>
  rows
    .map((r) =>
      JSON.stringify([
        r.day,
        r.channel,
        r.action,
        r.source,
        r.topic,
        r.campaign,
        r.reason_code,
        r.n,
      ]),
    )
    .sort();

describe("day counts and pending rows: one statement (PostgreSQL) and slices (PGlite) agree", () => {
  it("counts each day's leaving rows by hand, whatever the slice", async () => {
    const whole = await countDays(db, "2026-11-02", "2026-11-16", { sliced: false });
    const n = (day: string, match: Partial<DailyCount> = {}) =>
      whole
        .filter(
          (r) =>
            r.day === day &&
            Object.entries(match).every(
              ([k, v]) => (r as unknown as Record<string, unknown>)[k] === v,
            ),
        )
        .reduce((a, r) => a + r.n, 0);
    // 2026-11-03: p1 three times and p2 (link, one_click, a topic opt-out), two imports, one
    // instant; 2026-11-09: p3's opt-out and p1 by API (p4's subscribe is not leaving).
    expect(n("2026-11-03")).toBe(6);
    expect(n("2026-11-03", { source: "import" })).toBe(2);
    expect(n("2026-11-03", { action: "topic_opt_out", topic: "news" })).toBe(1);
    expect(n("2026-11-05")).toBe(1); // 23:59:59.999 is still the 5th
    expect(n("2026-11-09")).toBe(2);
    expect(n("2026-11-01") + n("2026-11-16")).toBe(0); // outside [from, to)
    expect(dayKeys(await countDays(db, null, "2026-11-16", { sliced: false }))).toEqual(
      dayKeys([...whole, ...(await countDays(db, null, "2026-11-02", { sliced: false }))]),
    );
    for (const slice of SLICES) {
      expect(
        dayKeys(await countDays(db, "2026-11-02", "2026-11-16", { sliced: true, slice })),
      ).toEqual(dayKeys(whole));
      expect(dayKeys(await countDays(db, null, "2026-11-30", { sliced: true, slice }))).toEqual(
        dayKeys(await countDays(db, null, "2026-11-30", { sliced: false })),
      );
    }
  });

  it("finds the days and campaigns written since a horizon, whatever the slice", async () => {
    // The horizon: a transaction id of this test's own, so that every row written before it is
    // below it and every row written after it at or above it. (The rollup's horizon, the
    // snapshot's xmin, is the oldest transaction running in the whole PostgreSQL cluster: another
    // database's open transaction would make older rows of this file pending too.)
    const {
      rows: [horizon],
    } = await sql<{ xmin: string }>`select pg_current_xact_id()::text as xmin`.execute(db);
    const write = (at: string, who: string, more: Record<string, unknown> = {}) =>
      db
        .insertInto("consent_ledger")
        .values({
          occurred_at: at,
          channel: "email",
          address_hash: addressKey(`${who}@x.test`),
          action: "unsubscribe",
          source: "link",
          ...more,
        } as never)
        .execute();
    // Each its own transaction: leaving rows on two days (one through "small"), and rows that
    // are not leaving on a third (a subscribe through "big").
    await write("2026-11-25T10:00:00Z", "n1", { campaign: "small" });
    await write("2026-11-26T10:00:00Z", "n2");
    await write("2026-11-27T10:00:00Z", "n3", { action: "subscribe", campaign: "big" });
    const expected = { days: ["2026-11-25", "2026-11-26"], campaigns: new Set(["small"]) };
    expect(await pendingSince(db, horizon!.xmin, { sliced: false })).toEqual(expected);
    for (const slice of SLICES)
      expect(await pendingSince(db, horizon!.xmin, { sliced: true, slice })).toEqual(expected);
  });
});

function parseFilter(
  from: string,
  to: string,
  granularity: "day" | "week",
  channel?: string,
): ReportFilter {
  const params = new URLSearchParams({ from, to, granularity });
  if (channel) params.set("channel", channel);
  const { filter, errors } = parseReportFilter(params, new Date("2026-11-20T12:00:00Z"));
  expect(errors).toEqual([]);
  return filter;
}
