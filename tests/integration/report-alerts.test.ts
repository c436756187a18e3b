import { sql } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { applyConsentChanges } from "~/consent/consent.server";
import type { Db } from "~/db/db.server";
import type { Channel } from "~/db/schema";
import { EmailPayloadSchema } from "~/mail/send.server";
import { evaluateAlerts, listAlerts, RATE_HIGH_EVENT } from "~/reports/alerts.server";
import { DEFAULT_RATE_RULES, judgeRate, meanAndStddev } from "~/reports/rates";
import { runRollup } from "~/reports/rollup.server";
import {
  defaultAlertSettings,
  getAlertSettings,
  saveAlertSettings,
  type AlertSettings,
} from "~/reports/settings.server";
import { withWebhookTables } from "~/webhooks/schema";
import { createTestDatabase, type TestDatabase } from "../setup/db";

let t: TestDatabase;
let db: Db;

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
});
afterAll(async () => {
  await t?.close();
});

let seq = 0;
const settings = (over: Partial<AlertSettings> = {}): AlertSettings => ({
  ...defaultAlertSettings(),
  ...over,
});

async function campaign(
  sent: number,
  options: { channel?: Channel; createdAt?: Date } = {},
): Promise<string> {
  const key = `alert-${++seq}`;
  await db
    .insertInto("campaigns")
    .values({
      key,
      name: `Campaign ${seq}`,
      channel: options.channel ?? "email",
      sent_count: sent,
      ...(options.createdAt ? { created_at: options.createdAt } : {}),
    })
    .execute();
  return key;
}

let phone = 0;
/** n different people unsubscribe through the campaign, through the consent core. */
async function leave(
  key: string,
  n: number,
  options: { channel?: Channel; reasonCode?: string } = {},
): Promise<void> {
  const channel = options.channel ?? "email";
  const base = ++seq;
  await applyConsentChanges(
    db,
    Array.from({ length: n }, (_, i) => ({
      channel,
      address:
        channel === "email"
          ? `p${base}-${i}@alerts.test`
          : `+48601${String(++phone).padStart(6, "0")}`,
      action: "unsubscribe" as const,
      source: channel === "email" ? ("one_click" as const) : ("sms_keyword" as const),
      campaign: key,
      reasonCode: options.reasonCode ?? "too_frequent",
    })),
  );
}

const outbox = (kind: "email" | "webhook") =>
  db.selectFrom("outbox").selectAll().where("kind", "=", kind).orderBy("id").execute();

beforeEach(async () => {
  // Each test judges its own campaigns: older ones are out of the 30-day window.
  await sql`update campaigns set created_at = now() - interval '400 days'`.execute(db);
  await saveAlertSettings(db, settings());
});

describe("unsubscribe-rate alerts", () => {
  it("fire at the threshold and not below, once per campaign", async () => {
    const key = await campaign(1000);
    await leave(key, 9); // 0.9 %
    expect(await evaluateAlerts(db)).toEqual([]);
    await leave(key, 1); // 10 of 1,000 = exactly 1 %
    const fired = await evaluateAlerts(db);
    expect(
      fired.map((f) => [f.campaign.key, f.campaign.unsubscribes, f.campaign.triggers]),
    ).toEqual([[key, 10, ["threshold"]]]);
    // Once per campaign: more people leave, the task runs again (and again after a rollup).
    await leave(key, 5);
    expect(await evaluateAlerts(db)).toEqual([]);
    await runRollup(db);
    expect(await evaluateAlerts(db)).toEqual([]);
    const alerts = await listAlerts(db);
    expect(alerts.filter((a) => a.campaign === key)).toMatchObject([
      { campaign: key, sentCount: 1000, unsubscribes: 10, rate: 0.01, triggers: ["threshold"] },
    ]);
  });

  it("use the threshold from the settings, and ignore sends smaller than the minimum", async () => {
    await saveAlertSettings(db, settings({ thresholdPercent: 2.5, minSent: 100 }));
    expect((await getAlertSettings(db)).thresholdPercent).toBe(2.5);
    const at = await campaign(400);
    const below = await campaign(400);
    const small = await campaign(50);
    await leave(at, 10); // 2.5 %
    await leave(below, 9); // 2.25 %
    await leave(small, 5); // 10 %, but only 50 sent
    const fired = await evaluateAlerts(db);
    expect(fired.map((f) => f.campaign.key)).toEqual([at]);
  });

  it("flag a campaign far above the sender's average on that channel, with enough unsubscribes", async () => {
    // Six earlier WhatsApp campaigns of 10,000 at 0.10–0.20 % (mean 0.15 %, sd ≈ 0.037 %): the
    // limit is mean + 3 sd ≈ 0.26 %. Nobody below reaches the 1 % threshold.
    const day = 86_400_000;
    const now = Date.now();
    const wa = { channel: "whatsapp" as const };
    const history = [10, 20, 15, 12, 18, 15];
    for (const [i, n] of history.entries()) {
      await leave(
        await campaign(10_000, { ...wa, createdAt: new Date(now - (20 - i) * day) }),
        n,
        wa,
      );
    }
    const spike = await campaign(10_000, { ...wa, createdAt: new Date(now - day) });
    await leave(spike, 40, wa); // 0.4 %: far above, 40 people
    const quiet = await campaign(2_000, { ...wa, createdAt: new Date(now - day + 60_000) });
    await leave(quiet, 8, wa); // 0.4 % too, but fewer than 10 people
    const sms = { channel: "sms" as const };
    const noHistory = await campaign(10_000, { ...sms, createdAt: new Date(now - day) });
    await leave(noHistory, 40, sms); // 0.4 % with no SMS campaigns before it
    // Switched off in the settings: no outlier alerts.
    await saveAlertSettings(db, settings({ outlierEnabled: false }));
    expect(await evaluateAlerts(db)).toEqual([]);
    await saveAlertSettings(db, settings());
    const fired = await evaluateAlerts(db);
    expect(fired.map((f) => [f.campaign.key, f.campaign.triggers])).toEqual([[spike, ["outlier"]]]);
    const baseline = fired[0]!.campaign.baseline!;
    expect(baseline.campaigns).toBe(6);
    expect(baseline.mean).toBeCloseTo(0.0015, 10);
    const sd = meanAndStddev(history.map((n) => n / 10_000)).stddev;
    expect(sd).toBeCloseTo(0.000369, 6); // sqrt(68 / 5) / 10,000
    expect(baseline.limit).toBeCloseTo(0.0015 + 3 * sd, 10);
  });

  it("email the configured admin address and post the webhook event to subscribed endpoints, in the same transaction", async () => {
    await saveAlertSettings(db, settings({ email: "ops@alerts.test" }));
    const [subscribed, both, other] = await withWebhookTables(db)
      .insertInto("webhook_endpoints")
      .values([
        { url: "https://hooks.alerts.test/a", event_types: [RATE_HIGH_EVENT], secret: "whsec_a" },
        {
          url: "https://hooks.alerts.test/b",
          event_types: ["consent.unsubscribe", RATE_HIGH_EVENT],
          secret: "whsec_b",
        },
        {
          url: "https://hooks.alerts.test/c",
          event_types: ["consent.unsubscribe"],
          secret: "whsec_c",
        },
        {
          url: "https://hooks.alerts.test/d",
          event_types: [RATE_HIGH_EVENT],
          secret: "whsec_d",
          enabled: false,
        },
      ])
      .returning("id")
      .execute();
    const emailsBefore = (await outbox("email")).length;
    const hooksBefore = (await outbox("webhook")).length;

    const key = await campaign(200);
    await leave(key, 3, { reasonCode: "not_relevant" }); // 1.5 %
    const [fired] = await evaluateAlerts(db);
    expect(fired!.campaign.key).toBe(key);

    const emails = (await outbox("email")).slice(emailsBefore);
    expect(emails).toHaveLength(1);
    expect(emails[0]!.recipient).toBe("ops@alerts.test");
    const mail = EmailPayloadSchema.parse(emails[0]!.payload);
    expect(mail.to).toBe("ops@alerts.test");
    expect(mail.subject).toBe(`Unsubscribe rate alert: Campaign ${seq - 1} (1.50 %)`);
    expect(mail.text).toContain(
      `3 of the 200 recipients of "Campaign ${seq - 1}" (${key}, email) unsubscribed or opted out: 1.50 %.`,
    );
    expect(mail.text).toContain("Top reasons: Not relevant (3).");
    expect(mail.text).toContain(`/admin/reports/campaigns/${key}`);

    // (The consent changes themselves post consent.* events too: only the alert's are looked at.)
    const hooks = (await outbox("webhook"))
      .slice(hooksBefore)
      .filter((h) => (h.payload as { type?: string }).type === RATE_HIGH_EVENT);
    expect(hooks.map((h) => h.recipient).sort()).toEqual([subscribed!.id, both!.id].sort());
    expect(hooks.map((h) => h.recipient)).not.toContain(other!.id);
    const payload = hooks[0]!.payload as {
      type: string;
      messageId: string;
      event: { type: string; data: Record<string, unknown> };
    };
    expect(payload.messageId).toMatch(/^msg_/);
    expect((hooks[1]!.payload as { messageId: string }).messageId).toBe(payload.messageId);
    expect(payload.event).toMatchObject({
      type: "campaign.unsubscribe_rate_high",
      data: {
        campaign: { key, channel: "email", sentCount: 200 },
        unsubscribes: 3,
        rate: 0.015,
        thresholdPercent: 1,
        triggers: ["threshold"],
      },
    });

    // No address configured: the alert is still recorded and posted, but not emailed.
    await saveAlertSettings(db, settings({ email: "" }));
    const quiet = await campaign(200);
    await leave(quiet, 2);
    expect(await evaluateAlerts(db)).toMatchObject([{ emailOutboxId: null }]);
    expect((await outbox("email")).length).toBe(emailsBefore + 1);
  });

  it("fire once when several servers evaluate at the same time", async () => {
    await saveAlertSettings(db, settings({ email: "ops@alerts.test" }));
    const emailsBefore = (await outbox("email")).length;
    const key = await campaign(100);
    await leave(key, 5);
    const results = await Promise.all([evaluateAlerts(db), evaluateAlerts(db), evaluateAlerts(db)]);
    expect(results.flat().map((f) => f.campaign.key)).toEqual([key]);
    expect((await outbox("email")).length).toBe(emailsBefore + 1);
    const rows = await sql<{
      n: number;
    }>`select count(*)::int as n from report_alerts where campaign = ${key}`.execute(db);
    expect(rows.rows[0]!.n).toBe(1);
  });
});

describe("rate rules (pure)", () => {
  it("treat the exact threshold as reached, whatever the floating point", () => {
    for (const [unsubscribes, sent, percent] of [
      [10, 1000, 1],
      [7, 1000, 0.7],
      [3, 1000, 0.3],
      [1, 3, 33.333333333333336],
    ] as const) {
      const rules = { ...DEFAULT_RATE_RULES, thresholdPercent: percent, minSent: 1 };
      expect(judgeRate({ sent, unsubscribes }, [], rules).triggers).toEqual(["threshold"]);
      expect(judgeRate({ sent, unsubscribes: unsubscribes - 1 }, [], rules).triggers).toEqual([]);
    }
    expect(judgeRate({ sent: 0, unsubscribes: 0 }, [], DEFAULT_RATE_RULES)).toEqual({
      rate: null,
      triggers: [],
      baseline: null,
    });
  });
});
