import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addressKey, applyConsentChange } from "~/consent/consent.server";
import type { Db } from "~/db/db.server";
import type { Channel, ConsentSource, LedgerAction } from "~/db/schema";
import { reportCsv, type CsvTable } from "~/reports/csv.server";
import { bucketsOf, parseReportFilter, type ReportFilter } from "~/reports/filters";
import { getCampaignReport } from "~/reports/campaigns.server";
import { fillBuckets, freeTextPage, getDashboard } from "~/reports/queries.server";
import { DEFAULT_RATE_RULES } from "~/reports/rates";
import { PENDING_SLICE, runRollup } from "~/reports/rollup.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { expectIncrementalRollup } from "./rollup.helpers";

/**
 * The report figures on a small seeded ledger whose every number is worked out by hand below.
 * Ledger rows are seeded straight into the table (set-up only: the dates must be in the past).
 *
 *  #  occurred_at (UTC)        channel   action         source           campaign   reason          who
 *  1  2026-11-02 10:00         email     unsubscribe    link             news-1     too_frequent    a1
 *  2  2026-11-02 23:59:59      email     topic_opt_out  preference_page  news-1     not_relevant    a2 (newsletter)
 *  3  2026-11-03 00:00         email     unsubscribe    one_click        news-1     —               a3
 *  4  2026-11-04 08:00         email     unsubscribe    link             news-1     other "Too many emails"   a2 again
 *  5  2026-11-09 10:00         email     unsubscribe    link             promo-1    other "Never asked for this" a4
 *  6  2026-11-10 10:00         sms       unsubscribe    sms_keyword      sms-1      —               p5
 *  7  2026-11-11 08:00         sms       unsubscribe    sms_keyword      sms-1      —               p6
 *  8  2026-11-12 10:00         email     unsubscribe    import           —          —               a7  (not counted)
 *  9  2026-11-12 10:00         email     unsubscribe    import           —          —               a8  (not counted)
 * 10  2026-11-13 10:00         email     unsubscribe    admin            —          never_signed_up a9
 * 11  2026-11-14 10:00         whatsapp  unsubscribe    api              —          —               w10
 * 12  2026-11-15 23:59:59.999  email     topic_opt_out  link             promo-1    —               a11 (promotions)
 * 13  2026-11-16 00:00         email     unsubscribe    link             promo-1    —               a12 (after the range)
 * 14  2026-11-01 23:59:59      email     unsubscribe    link             old-1      —               a13 (before the range)
 * 15  2026-11-10 11:00         email     unsubscribe    link             sms-1      —               a5 (email, from an SMS campaign)
 * 16  2026-11-05 12:00         email     subscribe      double_opt_in    —          —               a14 (not leaving)
 * 17  2026-11-06 12:00         email     topic_opt_in   preference_page  —          —               a15 (not leaving)
 *
 * Campaigns: news-1 (email, newsletter, sent 1000, 2026-11-02 09:00), promo-1 (email, promotions,
 * sent 500, 2026-11-09 09:00), sms-1 (sms, no topic, sent 200, 2026-11-10 09:00), old-1 (email,
 * sent 1000, 2026-10-01).
 */

let t: TestDatabase;
let db: Db;

type Seed = {
  at: string;
  channel: Channel;
  action: LedgerAction;
  source: ConsentSource;
  campaign?: string;
  topic?: string;
  reason?: string;
  text?: string;
  who: string;
};

const SEED: Seed[] = [
  {
    at: "2026-11-02T10:00:00Z",
    channel: "email",
    action: "unsubscribe",
    source: "link",
    campaign: "news-1",
    reason: "too_frequent",
    who: "a1@x.test",
  },
  {
    at: "2026-11-02T23:59:59Z",
    channel: "email",
    action: "topic_opt_out",
    source: "preference_page",
    campaign: "news-1",
    topic: "newsletter",
    reason: "not_relevant",
    who: "a2@x.test",
  },
  {
    at: "2026-11-03T00:00:00Z",
    channel: "email",
    action: "unsubscribe",
    source: "one_click",
    campaign: "news-1",
    who: "a3@x.test",
  },
  {
    at: "2026-11-04T08:00:00Z",
    channel: "email",
    action: "unsubscribe",
    source: "link",
    campaign: "news-1",
    reason: "other",
    text: "Too many emails",
    who: "a2@x.test",
  },
  {
    at: "2026-11-09T10:00:00Z",
    channel: "email",
    action: "unsubscribe",
    source: "link",
    campaign: "promo-1",
    reason: "other",
    text: "Never asked for this",
    who: "a4@x.test",
  },
  {
    at: "2026-11-10T10:00:00Z",
    channel: "sms",
    action: "unsubscribe",
    source: "sms_keyword",
    campaign: "sms-1",
    who: "+48601000005",
  },
  {
    at: "2026-11-11T08:00:00Z",
    channel: "sms",
    action: "unsubscribe",
    source: "sms_keyword",
    campaign: "sms-1",
    who: "+48601000006",
  },
  {
    at: "2026-11-12T10:00:00Z",
    channel: "email",
    action: "unsubscribe",
    source: "import",
    who: "a7@x.test",
  },
  {
    at: "2026-11-12T10:00:00Z",
    channel: "email",
    action: "unsubscribe",
    source: "import",
    who: "a8@x.test",
  },
  {
    at: "2026-11-13T10:00:00Z",
    channel: "email",
    action: "unsubscribe",
    source: "admin",
    reason: "never_signed_up",
    who: "a9@x.test",
  },
  {
    at: "2026-11-14T10:00:00Z",
    channel: "whatsapp",
    action: "unsubscribe",
    source: "api",
    who: "+48601000010",
  },
  {
    at: "2026-11-15T23:59:59.999Z",
    channel: "email",
    action: "topic_opt_out",
    source: "link",
    campaign: "promo-1",
    topic: "promotions",
    who: "a11@x.test",
  },
  {
    at: "2026-11-16T00:00:00Z",
    channel: "email",
    action: "unsubscribe",
    source: "link",
    campaign: "promo-1",
    who: "a12@x.test",
  },
  {
    at: "2026-11-01T23:59:59Z",
    channel: "email",
    action: "unsubscribe",
    source: "link",
    campaign: "old-1",
    who: "a13@x.test",
  },
  {
    at: "2026-11-10T11:00:00Z",
    channel: "email",
    action: "unsubscribe",
    source: "link",
    campaign: "sms-1",
    who: "a5@x.test",
  },
  {
    at: "2026-11-05T12:00:00Z",
    channel: "email",
    action: "subscribe",
    source: "double_opt_in",
    who: "a14@x.test",
  },
  {
    at: "2026-11-06T12:00:00Z",
    channel: "email",
    action: "topic_opt_in",
    source: "preference_page",
    topic: "newsletter",
    who: "a15@x.test",
  },
];

const RANGE = new URLSearchParams({ from: "2026-11-02", to: "2026-11-15" });
const filterOf = (extra: Record<string, string> = {}): ReportFilter => {
  const p = new URLSearchParams(RANGE);
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  const { filter, errors } = parseReportFilter(p, new Date("2026-11-20T12:00:00Z"));
  expect(errors).toEqual([]);
  return filter;
};
const dashboard = (extra: Record<string, string> = {}) =>
  getDashboard(db, filterOf(extra), DEFAULT_RATE_RULES);

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  await db
    .insertInto("topics")
    .values([
      { key: "newsletter", channels: ["email"], names: { en: "Newsletter" }, descriptions: "{}" },
      { key: "promotions", channels: ["email"], names: { en: "Promotions" }, descriptions: "{}" },
    ])
    .execute();
  await db
    .insertInto("campaigns")
    .values([
      {
        key: "news-1",
        name: "November newsletter",
        channel: "email",
        topic: "newsletter",
        sent_count: 1000,
        created_at: "2026-11-02T09:00:00Z",
      },
      {
        key: "promo-1",
        name: "Black week",
        channel: "email",
        topic: "promotions",
        sent_count: 500,
        created_at: "2026-11-09T09:00:00Z",
      },
      {
        key: "sms-1",
        name: "SMS flash sale",
        channel: "sms",
        topic: null,
        sent_count: 200,
        created_at: "2026-11-10T09:00:00Z",
      },
      {
        key: "old-1",
        name: "October newsletter",
        channel: "email",
        topic: "newsletter",
        sent_count: 1000,
        created_at: "2026-10-01T09:00:00Z",
      },
    ])
    .execute();
  await db
    .insertInto("consent_ledger")
    .values(
      SEED.map((s) => ({
        occurred_at: s.at,
        channel: s.channel,
        address_hash: addressKey(s.who),
        address: s.who,
        action: s.action,
        source: s.source,
        campaign: s.campaign ?? null,
        topic: s.topic ?? null,
        reason_code: s.reason ?? null,
        reason_text: s.text ?? null,
      })),
    )
    .execute();
});
afterAll(async () => {
  await t?.close();
});

/**
 * The same figures three ways: straight from the ledger (no rollup yet), with the days up to
 * 2026-11-09 rolled up (the rest read live), and with every seeded day rolled up.
 */
describe.each([
  { mode: "from the ledger alone", rollupAt: null },
  { mode: "with days up to 2026-11-09 rolled up", rollupAt: "2026-11-10T06:00:00Z" },
  { mode: "with every day rolled up", rollupAt: "2026-11-20T06:00:00Z" },
])("report figures match the hand-computed numbers, $mode", ({ rollupAt }) => {
  beforeAll(async () => {
    if (rollupAt) expect((await runRollup(db, { now: new Date(rollupAt) })).ran).toBe(true);
  });

  it("every channel, by day: totals, channels, series, sources, topics and reasons", async () => {
    const d = await dashboard();
    // Rows 1–7, 10–12, 15 count; the two imports are shown but not counted; 13, 14 are outside.
    // 11 changes by 10 people: a2 left twice (a topic, then the channel) and is one person.
    expect(d.totals).toEqual({
      leaving: 10,
      changes: 11,
      unsubscribes: 9,
      topicOptOuts: 2,
      notCounted: 2,
    });
    expect(d.byChannel).toEqual([
      { channel: "email", people: 7, unsubscribes: 6, topicOptOuts: 2, total: 8 },
      { channel: "sms", people: 2, unsubscribes: 2, topicOptOuts: 0, total: 2 },
      { channel: "whatsapp", people: 1, unsubscribes: 1, topicOptOuts: 0, total: 1 },
    ]);
    expect(d.overTime).toEqual([
      { bucket: "2026-11-02", email: 2, sms: 0, whatsapp: 0, total: 2 },
      { bucket: "2026-11-03", email: 1, sms: 0, whatsapp: 0, total: 1 },
      { bucket: "2026-11-04", email: 1, sms: 0, whatsapp: 0, total: 1 },
      { bucket: "2026-11-09", email: 1, sms: 0, whatsapp: 0, total: 1 },
      { bucket: "2026-11-10", email: 1, sms: 1, whatsapp: 0, total: 2 },
      { bucket: "2026-11-11", email: 0, sms: 1, whatsapp: 0, total: 1 },
      { bucket: "2026-11-13", email: 1, sms: 0, whatsapp: 0, total: 1 },
      { bucket: "2026-11-14", email: 0, sms: 0, whatsapp: 1, total: 1 },
      { bucket: "2026-11-15", email: 1, sms: 0, whatsapp: 0, total: 1 },
    ]);
    // The chart and CSV get every day of the range, the empty ones as zeros.
    const filled = fillBuckets(d.overTime, bucketsOf(d.filter));
    expect(filled).toHaveLength(14);
    expect(filled.find((r) => r.bucket === "2026-11-12")).toEqual({
      bucket: "2026-11-12",
      email: 0,
      sms: 0,
      whatsapp: 0,
      total: 0,
    });
    expect(d.bySource).toEqual([
      { source: "link", count: 5, counted: true },
      { source: "sms_keyword", count: 2, counted: true },
      { source: "admin", count: 1, counted: true },
      { source: "api", count: 1, counted: true },
      { source: "one_click", count: 1, counted: true },
      { source: "preference_page", count: 1, counted: true },
      { source: "import", count: 2, counted: false },
    ]);
    // A channel-wide unsubscribe counts for its campaign's topic: news-1 → newsletter (1–4),
    // promo-1 → promotions (5, 12); sms-1 has none, nor have rows without a campaign (6, 7, 10, 11, 15).
    // People: the newsletter lost a1, a2 (twice: one person) and a3.
    expect(d.byTopic.map((r) => [r.topic, r.name, r.count])).toEqual([
      [null, "No topic (whole channel)", 5],
      ["newsletter", "Newsletter", 3],
      ["promotions", "Promotions", 2],
    ]);
    expect(d.byTopic[1]!.share).toBeCloseTo(3 / 10, 10);
    expect(d.byReason.map((r) => [r.code, r.label, r.count])).toEqual([
      ["other", "Other", 2],
      ["never_signed_up", "Never signed up", 1],
      ["not_relevant", "Not relevant", 1],
      ["too_frequent", "Too frequent", 1],
      [null, "No reason given", 6],
    ]);
    expect(d.freeText.map((r) => [r.text, r.campaign, r.reasonCode])).toEqual([
      ["Never asked for this", "promo-1", "other"],
      ["Too many emails", "news-1", "other"],
    ]);
  });

  it("per campaign: distinct people on the campaign's channel over its whole life, over the sent count", async () => {
    const d = await dashboard();
    const byKey = Object.fromEntries(d.campaigns.rows.map((c) => [c.key, c]));
    // Registered in the range, newest first; old-1 was registered in October.
    expect(d.campaigns.rows.map((c) => c.key)).toEqual(["sms-1", "promo-1", "news-1"]);
    expect(d.campaigns.total).toBe(3);
    // news-1: a1, a2 (opted out, then unsubscribed: one person), a3 → 3 of 1000.
    expect(byKey["news-1"]).toMatchObject({ sentCount: 1000, unsubscribes: 3, triggers: [] });
    expect(byKey["news-1"]!.rate).toBeCloseTo(0.003, 12);
    // Its top three reasons (ties by label; "no reason given" comes last and is cut here).
    expect(byKey["news-1"]!.topReasons.map((r) => [r.code, r.count])).toEqual([
      ["not_relevant", 1],
      ["other", 1],
      ["too_frequent", 1],
    ]);
    // promo-1: a4, a11 and a12 (after the range still counts for the campaign) → 3 of 500.
    expect(byKey["promo-1"]).toMatchObject({ unsubscribes: 3, triggers: [] });
    expect(byKey["promo-1"]!.rate).toBeCloseTo(0.006, 12);
    // sms-1: the two SMS numbers; the email unsubscribe (row 15) is another channel → 2 of 200 = 1 %.
    expect(byKey["sms-1"]).toMatchObject({ unsubscribes: 2, triggers: ["threshold"] });
    expect(byKey["sms-1"]!.rate).toBeCloseTo(0.01, 12);
  });

  it("the channel filter keeps that channel's rows, campaigns and free text only", async () => {
    const d = await dashboard({ channel: "email" });
    expect(d.totals).toEqual({
      leaving: 7,
      changes: 8,
      unsubscribes: 6,
      topicOptOuts: 2,
      notCounted: 2,
    });
    expect(d.byChannel).toEqual([
      { channel: "email", people: 7, unsubscribes: 6, topicOptOuts: 2, total: 8 },
    ]);
    expect(d.overTime.map((r) => [r.bucket, r.email, r.total])).toEqual([
      ["2026-11-02", 2, 2],
      ["2026-11-03", 1, 1],
      ["2026-11-04", 1, 1],
      ["2026-11-09", 1, 1],
      ["2026-11-10", 1, 1],
      ["2026-11-13", 1, 1],
      ["2026-11-15", 1, 1],
    ]);
    expect(d.overTime.every((r) => r.sms === 0 && r.whatsapp === 0)).toBe(true);
    expect(d.bySource).toEqual([
      { source: "link", count: 5, counted: true },
      { source: "admin", count: 1, counted: true },
      { source: "one_click", count: 1, counted: true },
      { source: "preference_page", count: 1, counted: true },
      { source: "import", count: 2, counted: false },
    ]);
    expect(d.campaigns.rows.map((c) => c.key)).toEqual(["promo-1", "news-1"]);

    const sms = await dashboard({ channel: "sms" });
    expect(sms.totals).toEqual({
      leaving: 2,
      changes: 2,
      unsubscribes: 2,
      topicOptOuts: 0,
      notCounted: 0,
    });
    expect(sms.byReason).toEqual([{ code: null, label: "No reason given", count: 2, share: 1 }]);
    expect(sms.campaigns.rows.map((c) => [c.key, c.unsubscribes])).toEqual([["sms-1", 2]]);
    expect(sms.freeText).toEqual([]);
  });

  it("the date range includes both whole days (UTC) and nothing outside them", async () => {
    const d = await dashboard({ from: "2026-11-03", to: "2026-11-09" });
    // Rows 3, 4, 5 (row 2 is one second before the 3rd; row 16 is a subscribe).
    expect(d.totals).toEqual({
      leaving: 3,
      changes: 3,
      unsubscribes: 3,
      topicOptOuts: 0,
      notCounted: 0,
    });
    expect(d.overTime.map((r) => [r.bucket, r.total])).toEqual([
      ["2026-11-03", 1],
      ["2026-11-04", 1],
      ["2026-11-09", 1],
    ]);
    expect(d.campaigns.rows.map((c) => c.key)).toEqual(["promo-1"]);
    // The last instant of the 15th is in; midnight of the 16th is not.
    const last = await dashboard({ from: "2026-11-15", to: "2026-11-16" });
    expect(last.overTime.map((r) => [r.bucket, r.total])).toEqual([
      ["2026-11-15", 1],
      ["2026-11-16", 1],
    ]);
    const first = await dashboard({ from: "2026-11-01", to: "2026-11-01" });
    expect(first.totals.leaving).toBe(1);
  });

  it("by week: ISO weeks starting on Monday", async () => {
    const d = await dashboard({ granularity: "week" });
    expect(d.overTime).toEqual([
      // Four changes in the first week by three people (a2 twice).
      { bucket: "2026-11-02", email: 3, sms: 0, whatsapp: 0, total: 3 },
      { bucket: "2026-11-09", email: 4, sms: 2, whatsapp: 1, total: 7 },
    ]);
    expect(bucketsOf(d.filter)).toEqual(["2026-11-02", "2026-11-09"]);
    // A range starting mid-week: the first bucket is that week's Monday, holding only days in range.
    const mid = await dashboard({ granularity: "week", from: "2026-11-04", to: "2026-11-10" });
    expect(mid.overTime.map((r) => [r.bucket, r.total])).toEqual([
      ["2026-11-02", 1],
      ["2026-11-09", 3],
    ]);
  });

  it("a campaign's own report: reasons, sources, days and what people wrote", async () => {
    const r = await getCampaignReport(db, "news-1", DEFAULT_RATE_RULES);
    expect(r).not.toBeNull();
    expect(r!.campaign).toMatchObject({ key: "news-1", unsubscribes: 3, sentCount: 1000 });
    expect(r!.reasons.map((x) => [x.code, x.count, x.share])).toEqual([
      ["not_relevant", 1, 0.25],
      ["other", 1, 0.25],
      ["too_frequent", 1, 0.25],
      [null, 1, 0.25],
    ]);
    expect(r!.sources).toEqual([
      { source: "link", count: 2 },
      { source: "one_click", count: 1 },
      { source: "preference_page", count: 1 },
    ]);
    expect(r!.daily).toEqual([
      { day: "2026-11-02", count: 2 },
      { day: "2026-11-03", count: 1 },
      { day: "2026-11-04", count: 1 },
    ]);
    expect(r!.freeText.map((x) => x.text)).toEqual(["Too many emails"]);
    expect(await getCampaignReport(db, "no-such-campaign", DEFAULT_RATE_RULES)).toBeNull();
  });
});

describe("rollups stay exact", () => {
  // Every seeded day rolled up, as the describe blocks above leave it (idempotent after them):
  // the tests here also run alone (-t), when those blocks' rollups are skipped.
  beforeAll(async () => {
    expect((await runRollup(db, { now: new Date("2026-11-20T06:00:00Z") })).ran).toBe(true);
  });

  it("a row written after a rollup, even dated in a rolled day, is counted once, before and after the next rollup", async () => {
    const before = await dashboard();
    const campaignsBefore = Object.fromEntries(
      before.campaigns.rows.map((c) => [c.key, c.unsubscribes]),
    );
    // Set-up writes a past-dated row directly (the consent core always writes "now").
    await db
      .insertInto("consent_ledger")
      .values({
        occurred_at: "2026-11-05T09:00:00Z",
        channel: "email",
        address_hash: addressKey("late@x.test"),
        action: "unsubscribe",
        source: "link",
        campaign: "news-1",
        reason_code: "too_frequent",
      })
      .execute();
    const check = async () => {
      const d = await dashboard();
      expect(d.totals.leaving).toBe(before.totals.leaving + 1);
      expect(d.overTime.find((r) => r.bucket === "2026-11-05")).toEqual({
        bucket: "2026-11-05",
        email: 1,
        sms: 0,
        whatsapp: 0,
        total: 1,
      });
      const news = d.campaigns.rows.find((c) => c.key === "news-1")!;
      expect(news.unsubscribes).toBe(campaignsBefore["news-1"]! + 1);
      expect(news.topReasons.find((r) => r.code === "too_frequent")!.count).toBe(2);
      expect(d.byReason.find((r) => r.code === "too_frequent")!.count).toBe(2);
    };
    await check(); // read live: the rollup does not include it yet
    const second = await runRollup(db, { now: new Date("2026-11-20T07:00:00Z") });
    expectIncrementalRollup(second, { rolledThrough: "2026-11-19", days: 1, campaigns: 1 });
    await check(); // now from the rollup
    expectIncrementalRollup(await runRollup(db, { now: new Date("2026-11-20T07:01:00Z") }), {
      days: 0,
      campaigns: 0,
    });
    await check();
  });

  it("an unsubscribe through the consent core shows up in today's figures", async () => {
    const now = new Date();
    await db
      .insertInto("campaigns")
      .values({ key: "today-1", name: "Today", channel: "email", sent_count: 10 })
      .execute();
    await applyConsentChange(db, {
      channel: "email",
      address: "today@x.test",
      action: "unsubscribe",
      source: "one_click",
      campaign: "today-1",
      reasonCode: "other",
      reasonText: "  =cmd|' /C calc'!A0  ",
    });
    const today = now.toISOString().slice(0, 10);
    const { filter } = parseReportFilter(new URLSearchParams({ from: today, to: today }), now);
    const d = await getDashboard(db, filter, DEFAULT_RATE_RULES);
    expect(d.totals.leaving).toBe(1);
    expect(d.campaigns.rows).toMatchObject([{ key: "today-1", unsubscribes: 1, rate: 0.1 }]);
    expect((await freeTextPage(db, filter, 5))[0]!.text).toBe("=cmd|' /C calc'!A0");
    // In a CSV download the text cannot run as a spreadsheet formula.
    const csv = await new Response(
      await reportCsv(db, "free-text", filter, DEFAULT_RATE_RULES),
    ).text();
    expect(csv.replace(/^\uFEFF/, "").split("\r\n")).toEqual([
      "occurred_at,channel,campaign,reason_code,reason,text",
      expect.stringMatching(
        /^\d{4}-\d\d-\d\dT[\d:.]+Z,email,today-1,other,Other,'=cmd\|' \/C calc'!A0$/,
      ),
      "",
    ]);
  });

  it("CSV downloads carry the same numbers as the page", async () => {
    const filter = filterOf({ granularity: "week" });
    const read = async (table: CsvTable) =>
      (await new Response(await reportCsv(db, table, filter, DEFAULT_RATE_RULES)).text()).replace(
        /^\uFEFF/,
        "",
      );
    // The late row of "rollups stay exact" is in (2026-11-05, too frequent): 11 people, the
    // first week's 5 changes by 4 people (a2 twice). A share is of the people leaving (a2 gave
    // two reasons, so the shares add up to more than 100 %).
    expect(await read("over-time")).toBe(
      "week_starting,email,sms,whatsapp,total\r\n2026-11-02,4,0,0,4\r\n2026-11-09,4,2,1,7\r\n",
    );
    expect(await read("reasons")).toBe(
      "reason_code,reason,people_leaving,share_percent\r\n" +
        "other,Other,2,18.18\r\ntoo_frequent,Too frequent,2,18.18\r\n" +
        "never_signed_up,Never signed up,1,9.09\r\nnot_relevant,Not relevant,1,9.09\r\n" +
        ",No reason given,6,54.55\r\n",
    );
    expect(await read("channels")).toBe(
      "channel,people_leaving,unsubscribes,topic_opt_outs,changes\r\n" +
        "email,8,7,2,9\r\nsms,2,2,0,2\r\nwhatsapp,1,1,0,1\r\n",
    );
    const campaigns = (await read("campaigns")).split("\r\n");
    expect(campaigns[0]).toBe(
      "campaign,name,channel,topic,registered_at,sent,unsubscribes,rate_percent,flags,alert_fired_at,top_reasons",
    );
    expect(campaigns[1]).toBe(
      "sms-1,SMS flash sale,sms,,2026-11-10T09:00:00.000Z,200,2,1.0000,threshold,,No reason given (2)",
    );
    expect(campaigns).toHaveLength(5); // header, 3 campaigns, final line break
  });

  it("rows written since the rollup are all found and counted when there are more than one slice of them", async () => {
    await runRollup(db, { now: new Date("2026-11-20T08:00:00Z") });
    // The pending rows are read in slices of PENDING_SLICE (keyset on txid, id): a first slice
    // filled exactly with rows that are not leaving (set-up writes them directly), then, in a later
    // transaction, one leaving row in a rolled day: only the second slice finds it.
    const before = await dashboard();
    const imported = (d: typeof before) => d.bySource.find((r) => r.source === "import")!.count;
    const promo = before.campaigns.rows.find((c) => c.key === "promo-1")!.unsubscribes;
    await sql`insert into consent_ledger (occurred_at, channel, address_hash, action, source)
      select '2026-11-07T12:00:00Z', 'email', md5('slice' || i), 'subscribe', 'double_opt_in'
      from generate_series(1, ${PENDING_SLICE}::int) as i`.execute(db);
    await db
      .insertInto("consent_ledger")
      .values({
        occurred_at: "2026-11-08T09:00:00Z",
        channel: "email",
        address_hash: addressKey("second-slice@x.test"),
        action: "unsubscribe",
        source: "link",
        campaign: "promo-1",
      })
      .execute();
    // A day's rows are counted in slices too (keyset on occurred_at, id): more than a slice of
    // imported rows at one instant, as an import batch writes them.
    await sql`insert into consent_ledger (occurred_at, channel, address_hash, action, source)
      select '2026-11-08T08:00:00Z', 'email', md5('imported' || i), 'unsubscribe', 'import'
      from generate_series(1, ${PENDING_SLICE + 1}::int) as i`.execute(db);
    const check = async () => {
      const d = await dashboard();
      expect(d.totals.leaving).toBe(before.totals.leaving + 1);
      expect(d.overTime.find((r) => r.bucket === "2026-11-08")).toMatchObject({ email: 1 });
      expect(imported(d)).toBe(imported(before) + PENDING_SLICE + 1);
      expect(d.campaigns.rows.find((c) => c.key === "promo-1")!.unsubscribes).toBe(promo + 1);
    };
    await check(); // read live
    expectIncrementalRollup(await runRollup(db, { now: new Date("2026-11-20T08:01:00Z") }), {
      days: 1,
      campaigns: 1,
    });
    await check(); // from the rollup
  });
});

describe("report filters from the query string", () => {
  const now = new Date("2026-11-20T12:00:00Z");
  it("default to the last 30 days, every channel, by day", () => {
    expect(parseReportFilter(new URLSearchParams(), now)).toEqual({
      filter: { from: "2026-10-22", to: "2026-11-20", channel: null, granularity: "day" },
      errors: [],
      problems: [],
    });
  });
  it("report bad values and fall back to defaults instead of failing", () => {
    const r = parseReportFilter(
      new URLSearchParams({
        from: "2026-02-30",
        to: "yesterday",
        channel: "fax",
        granularity: "hour",
      }),
      now,
    );
    expect(r.filter).toEqual({
      from: "2026-10-22",
      to: "2026-11-20",
      channel: null,
      granularity: "day",
    });
    expect(r.errors).toHaveLength(4);
    // The same problems as codes, for the page to say them in the operator's language.
    expect(r.problems.map((p) => p.code)).toEqual([
      "from.not_real",
      "to.format",
      "channel.invalid",
      "granularity.invalid",
    ]);
    expect(r.errors[0]).toBe("The start date is not a real date; the default is used.");
    const swapped = parseReportFilter(
      new URLSearchParams({ from: "2026-11-10", to: "2026-11-01" }),
      now,
    );
    expect(swapped.errors[0]).toMatch(/start date is after the end date/);
    expect(swapped.problems).toEqual([{ code: "order" }]);
  });
});
