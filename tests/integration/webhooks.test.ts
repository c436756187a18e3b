import http from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { sql } from "kysely";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { applyConsentChange, applyConsentChanges } from "~/consent/consent.server";
import { setDatabase, type Db } from "~/db/db.server";
import { parseEnv } from "~/env.server";
import { runOutboxOnce } from "~/outbox/worker.server";
import {
  createWebhookEndpoint,
  getWebhookEndpoint,
  listWebhookDeliveries,
  retryDeadWebhookDeliveries,
  setWebhookEndpointEnabled,
  WEBHOOK_EVENT_TYPES,
} from "~/webhooks/endpoints.server";
import { bulkUnsubscribe } from "~/consent/bulk.server";
import { enqueueRateHighWebhooks } from "~/reports/alerts.server";
import { createWebhookTransport } from "~/webhooks/transport.server";
import { withWebhookTables } from "~/webhooks/schema";
import { HOSTILE_URLS } from "../hostile-urls";
import { createTestDatabase, type TestDatabase } from "../setup/db";

/**
 * Outbound webhooks end to end: a consent change enqueues a delivery in its transaction, the
 * outbox worker delivers it to a real HTTP server started here, and the receiver verifies it
 * with the standardwebhooks package's own verifier.
 */

type Received = { headers: http.IncomingHttpHeaders; body: string; url: string };
type Reply = number | { status: number; headers?: Record<string, string> };
let received: Received[] = [];
/** What the receiver answers next (one entry per request); then 204. */
let nextStatus: Reply[] = [];
let server: http.Server;
let base: string;
let t: TestDatabase;
let db: Db;

const env = parseEnv({ NODE_ENV: "test" });
const logger = pino({ level: "silent" });
const jitterless = {
  webhook: createWebhookTransport({ allowPrivate: true, timeoutMs: 5000, random: () => 0.5 }),
};
/** One run of the outbox worker, with its clock at `now` (no jitter: random() = 0.5). */
const run = (now: Date = new Date()) =>
  runOutboxOnce(
    { db, env, logger },
    { transports: jitterless, retry: { baseMs: 1, maxMs: 1 }, random: () => 0, now: () => now },
  );
const at = (t0: Date, ms: number) => new Date(t0.getTime() + ms);

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  setDatabase(t);
  // Who hears about a disabled endpoint: enabled admins, not agents or disabled admins.
  await db
    .insertInto("admin_users")
    .values([
      { email: "hooks-admin-1@example.com", role: "admin", password_hash: "x" },
      { email: "hooks-admin-2@example.com", role: "admin", password_hash: "x" },
      { email: "hooks-agent@example.com", role: "agent", password_hash: "x" },
      {
        email: "hooks-former@example.com",
        role: "admin",
        password_hash: "x",
        disabled_at: new Date(),
      },
    ])
    .execute();
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ headers: req.headers, body, url: req.url ?? "" });
      const reply = nextStatus.shift() ?? 204;
      if (typeof reply === "number") res.writeHead(reply);
      else res.writeHead(reply.status, reply.headers);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  setDatabase(undefined);
  await t?.close();
});
beforeEach(async () => {
  received = [];
  nextStatus = [];
  // Each test starts with no endpoints and an empty outbox.
  await withWebhookTables(db).deleteFrom("webhook_endpoints").execute();
  await db.deleteFrom("outbox").execute();
});

async function register(path: string, eventTypes: string[] = WEBHOOK_EVENT_TYPES) {
  const r = await createWebhookEndpoint(
    db,
    { url: `${base}${path}`, eventTypes, description: "test receiver" },
    { allowPrivate: true, requireHttps: false },
  );
  if (!r.ok) throw new Error(r.reason);
  return r;
}

/** The "endpoint disabled" emails queued so far, by recipient. */
async function disabledEmails() {
  const rows = await db
    .selectFrom("outbox")
    .select(["recipient", "payload"])
    .where("kind", "=", "email")
    .orderBy("recipient")
    .execute();
  return rows
    .filter((r) => (r.payload as { template?: string }).template === "webhook.endpoint_disabled")
    .map((r) => ({ to: r.recipient, subject: (r.payload as { subject: string }).subject }));
}

function webhookHeaders(r: Received): Record<string, string> {
  return {
    "webhook-id": String(r.headers["webhook-id"]),
    "webhook-timestamp": String(r.headers["webhook-timestamp"]),
    "webhook-signature": String(r.headers["webhook-signature"]),
  };
}

describe("outbound webhooks (Standard Webhooks)", () => {
  it("delivers every consent change, signed, to a subscribed endpoint; the receiver verifies it", async () => {
    const { endpoint, secret } = await register("/hooks/a");
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const contact = await db
      .insertInto("contacts")
      .values({ external_id: "wh-1", email: "wh1@example.com" })
      .returning("id")
      .executeTakeFirstOrThrow();
    const [r] = await applyConsentChanges(db, [
      {
        channel: "email",
        address: "wh1@example.com",
        action: "unsubscribe",
        source: "link",
        campaign: "c1",
        reasonCode: "too_frequent",
        contactId: contact.id,
        ip: "198.51.100.9",
      },
    ]);
    // Enqueued in the consent change's transaction.
    const queued = await db
      .selectFrom("outbox")
      .selectAll()
      .where("kind", "=", "webhook")
      .execute();
    expect(queued).toEqual([
      expect.objectContaining({ recipient: endpoint.id, status: "pending" }),
    ]);
    expect(queued[0]!.payload).toEqual({
      ledgerId: r!.ledgerId,
      type: "consent.unsubscribe",
      messageId: expect.stringMatching(/^msg_[0-9a-f]{32}$/),
    });

    expect(await run()).toMatchObject({ sent: 1 });
    expect(received).toHaveLength(1);
    const got = received[0]!;
    expect(got.headers["content-type"]).toBe("application/json");
    const verified = new Webhook(secret).verify(got.body, webhookHeaders(got)) as Record<
      string,
      unknown
    >;
    expect(verified).toEqual({
      type: "consent.unsubscribe",
      timestamp: expect.any(String),
      data: expect.objectContaining({
        id: String(r!.ledgerId),
        type: "consent.unsubscribe",
        channel: "email",
        address: "wh1@example.com",
        action: "unsubscribe",
        source: "link",
        campaign: "c1",
        reasonCode: "too_frequent",
        externalId: "wh-1",
      }),
    });
    expect(got.body).not.toContain("198.51.100.9"); // no IPs leave Heed
    // A forged or tampered delivery fails the same verifier.
    expect(() =>
      new Webhook(secret).verify(got.body.replace("wh1@", "xx@"), webhookHeaders(got)),
    ).toThrow();
    expect(() =>
      new Webhook("whsec_" + Buffer.from("x".repeat(32)).toString("base64")).verify(
        got.body,
        webhookHeaders(got),
      ),
    ).toThrow();
    const [delivery] = await listWebhookDeliveries(db, endpoint.id);
    expect(delivery).toMatchObject({
      status: "sent",
      attempts: 1,
      lastStatusCode: 204,
      eventType: "consent.unsubscribe",
    });
  });

  it("a bulk import queues one delivery per new ledger row, in the same transaction, and none for repeats", async () => {
    const { endpoint, secret } = await register("/hooks/bulk", ["consent.unsubscribe"]);
    await register("/hooks/other", ["consent.subscribe"]);
    await applyConsentChange(db, {
      channel: "email",
      address: "bulk-already@example.com",
      action: "unsubscribe",
      source: "admin",
    });
    await db.deleteFrom("outbox").execute();
    const result = await bulkUnsubscribe(
      db,
      ["bulk-1@example.com", "BULK-2@example.com", "bulk-already@example.com"].map((address) => ({
        channel: "email" as const,
        address,
      })),
      { source: "import" },
    );
    expect(result).toMatchObject({ imported: 2, alreadySuppressed: 1 });
    const ledger = await db
      .selectFrom("consent_ledger")
      .select("id")
      .where("address", "in", ["bulk-1@example.com", "bulk-2@example.com"])
      .orderBy("id")
      .execute();
    const queued = await db
      .selectFrom("outbox")
      .selectAll()
      .where("kind", "=", "webhook")
      .orderBy("id")
      .execute();
    expect(queued.map((q) => [q.recipient, q.payload])).toEqual(
      ledger.map((l) => [
        endpoint.id,
        {
          ledgerId: l.id,
          type: "consent.unsubscribe",
          messageId: expect.stringMatching(/^msg_[0-9a-f]{32}$/),
        },
      ]),
    );
    // One random id per event.
    const ids = queued.map((q) => (q.payload as { messageId: string }).messageId);
    expect(new Set(ids).size).toBe(2);
    expect(await run()).toMatchObject({ sent: 2 });
    const bodies = received.map(
      (r) =>
        new Webhook(secret).verify(r.body, webhookHeaders(r)) as {
          data: { address: string; source: string };
        },
    );
    expect(bodies.map((b) => [b.data.address, b.data.source]).sort()).toEqual([
      ["bulk-1@example.com", "import"],
      ["bulk-2@example.com", "import"],
    ]);
  });

  it("delivers a campaign.unsubscribe_rate_high alert, signed, to endpoints subscribed to it", async () => {
    const { endpoint, secret } = await register("/hooks/alerts", [
      "campaign.unsubscribe_rate_high",
    ]);
    await register("/hooks/consent-only", ["consent.unsubscribe"]);
    const event = {
      type: "campaign.unsubscribe_rate_high" as const,
      timestamp: "2026-11-22T10:00:00.000Z",
      data: {
        campaign: {
          key: "bf",
          name: "Black Friday",
          channel: "email" as const,
          topic: null,
          sentCount: 1000,
        },
        unsubscribes: 12,
        rate: 0.012,
        thresholdPercent: 1,
        triggers: ["threshold" as const],
        baseline: null,
        reportUrl: "http://localhost:3000/admin/reports/campaigns/bf",
      },
    };
    const ids = await db
      .transaction()
      .execute((trx) => enqueueRateHighWebhooks(trx, event as never));
    expect(ids).toHaveLength(1);
    expect(await run()).toMatchObject({ sent: 1 });
    expect(received).toHaveLength(1);
    const got = received[0]!;
    expect(new Webhook(secret).verify(got.body, webhookHeaders(got))).toEqual(event);
    const [delivery] = await listWebhookDeliveries(db, endpoint.id);
    expect(delivery).toMatchObject({ status: "sent", eventType: "campaign.unsubscribe_rate_high" });
  });

  it("enqueues only for enabled endpoints subscribed to the event type, and nothing for an idempotent repeat", async () => {
    const subscribed = await register("/hooks/subscribes", ["consent.subscribe"]);
    const unsubs = await register("/hooks/unsubs", ["consent.unsubscribe"]);
    const disabled = await register("/hooks/disabled", ["consent.unsubscribe"]);
    await setWebhookEndpointEnabled(db, disabled.endpoint.id, false, "test");
    await applyConsentChange(db, {
      channel: "sms",
      address: "+48601900001",
      action: "unsubscribe",
      source: "sms_keyword",
    });
    await applyConsentChange(db, {
      channel: "sms",
      address: "+48601900001",
      action: "unsubscribe",
      source: "sms_keyword",
    });
    const rows = await db
      .selectFrom("outbox")
      .select(["recipient"])
      .where("kind", "=", "webhook")
      .execute();
    expect(rows.map((r) => r.recipient)).toEqual([unsubs.endpoint.id]);
    expect(rows.map((r) => r.recipient)).not.toContain(subscribed.endpoint.id);
  });

  it("writes no delivery when the consent change rolls back", async () => {
    await register("/hooks/rollback");
    await expect(
      db.transaction().execute(async (trx) => {
        await applyConsentChange(trx, {
          channel: "email",
          address: "rollback@example.com",
          action: "unsubscribe",
          source: "api",
        });
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    expect(await db.selectFrom("outbox").selectAll().execute()).toEqual([]);
  });

  it("retries a 500 on the schedule (5 s after the first failure), then delivers the same message id", async () => {
    const { endpoint, secret } = await register("/hooks/flaky");
    nextStatus = [500];
    await applyConsentChange(db, {
      channel: "email",
      address: "flaky@example.com",
      action: "unsubscribe",
      source: "api",
    });
    const t0 = new Date();
    expect(await run(t0)).toMatchObject({ retried: 1, sent: 0 });
    let [row] = await db.selectFrom("outbox").selectAll().execute();
    expect(row).toMatchObject({
      status: "pending",
      attempts: 1,
      max_attempts: 10,
      last_error: expect.stringContaining("HTTP 500"),
    });
    expect(row!.next_attempt_at).toEqual(at(t0, 5000));
    expect(await run(at(t0, 4999))).toMatchObject({ claimed: 0 });
    expect(await run(at(t0, 5000))).toMatchObject({ sent: 1 });
    [row] = await db.selectFrom("outbox").selectAll().execute();
    expect(row).toMatchObject({ status: "sent", attempts: 2 });
    expect(received).toHaveLength(2);
    expect(received[0]!.headers["webhook-id"]).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(received[0]!.headers["webhook-id"]).toBe(received[1]!.headers["webhook-id"]);
    expect(() =>
      new Webhook(secret).verify(received[1]!.body, webhookHeaders(received[1]!)),
    ).not.toThrow();
    const attempts = await withWebhookTables(db)
      .selectFrom("webhook_deliveries")
      .select(["attempt", "status_code", "message_id"])
      .where("endpoint_id", "=", endpoint.id)
      .orderBy("id")
      .execute();
    expect(attempts).toEqual([
      { attempt: 1, status_code: 500, message_id: received[0]!.headers["webhook-id"] },
      { attempt: 2, status_code: 204, message_id: received[0]!.headers["webhook-id"] },
    ]);
    expect((await getWebhookEndpoint(db, endpoint.id))!.enabled).toBe(true);
  });

  it("a 410 Gone kills the delivery and disables the endpoint", async () => {
    const { endpoint } = await register("/hooks/gone");
    nextStatus = [410];
    await applyConsentChange(db, {
      channel: "email",
      address: "gone@example.com",
      action: "unsubscribe",
      source: "api",
    });
    expect(await run()).toMatchObject({ dead: 1 });
    const [row] = await db.selectFrom("outbox").selectAll().execute();
    expect(row).toMatchObject({
      status: "dead",
      attempts: 1,
      last_error: expect.stringContaining("410"),
    });
    const after = await getWebhookEndpoint(db, endpoint.id);
    expect(after).toMatchObject({ enabled: false, disabledReason: expect.stringContaining("410") });
    // Later changes enqueue nothing for it.
    await applyConsentChange(db, {
      channel: "email",
      address: "gone2@example.com",
      action: "unsubscribe",
      source: "api",
    });
    const count = await db
      .selectFrom("outbox")
      .select(sql<number>`count(*)`.as("n"))
      .where("kind", "=", "webhook")
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1);
    // Every enabled admin is told, once.
    expect(await disabledEmails()).toEqual([
      { to: "hooks-admin-1@example.com", subject: `Webhook endpoint disabled: ${endpoint.url}` },
      { to: "hooks-admin-2@example.com", subject: `Webhook endpoint disabled: ${endpoint.url}` },
    ]);
    expect(
      (
        await db
          .selectFrom("outbox")
          .select("payload")
          .where("kind", "=", "email")
          .executeTakeFirstOrThrow()
      ).payload,
    ).toMatchObject({
      text: expect.stringContaining("410 Gone"),
    });
  });

  it("refuses to connect to a private address at delivery time unless allowed", async () => {
    const { endpoint } = await register("/hooks/private");
    await applyConsentChange(db, {
      channel: "email",
      address: "ssrf@example.com",
      action: "unsubscribe",
      source: "api",
    });
    const strict = { webhook: createWebhookTransport({ allowPrivate: false, timeoutMs: 2000 }) };
    const stats = await runOutboxOnce(
      { db, env, logger },
      { transports: strict, retry: { baseMs: 1, maxMs: 1 }, random: () => 0 },
    );
    expect(stats.sent).toBe(0);
    expect(received).toHaveLength(0);
    const [row] = await db.selectFrom("outbox").selectAll().execute();
    expect(row!.last_error).toContain("refused");
    expect((await listWebhookDeliveries(db, endpoint.id))[0]).toMatchObject({
      lastStatusCode: null,
    });
  });
});

describe("retries on the Standard Webhooks schedule", () => {
  const unsubscribe = (address: string) =>
    applyConsentChange(db, { channel: "email", address, action: "unsubscribe", source: "api" });
  const outboxRows = () =>
    db.selectFrom("outbox").selectAll().where("kind", "=", "webhook").orderBy("id").execute();

  it("a receiver that answers 503 with Retry-After, then 200, gets the event at that time with the same webhook-id", async () => {
    const { endpoint, secret } = await register("/hooks/busy");
    nextStatus = [{ status: 503, headers: { "Retry-After": "3600" } }];
    await unsubscribe("busy-1@example.com");
    const t0 = new Date();
    expect(await run(t0)).toMatchObject({ claimed: 1, retried: 1 });
    const [first] = await outboxRows();
    // Not 5 s (the schedule's step): the hour the receiver asked for.
    expect(first!.next_attempt_at).toEqual(at(t0, 3600_000));
    const paused = await getWebhookEndpoint(db, endpoint.id);
    expect(paused!.throttledUntil).toEqual(at(t0, 3600_000));

    // Meanwhile another event for the same endpoint is queued: it waits for the pause too.
    await unsubscribe("busy-2@example.com");
    const rows = await outboxRows();
    expect(rows[1]!.next_attempt_at.getTime()).toBe(at(t0, 3600_000).getTime());
    expect(await run(at(t0, 10_000))).toMatchObject({ claimed: 0 });
    expect(await run(at(t0, 3599_999))).toMatchObject({ claimed: 0 });
    expect(received).toHaveLength(1);

    expect(await run(at(t0, 3600_000))).toMatchObject({ claimed: 2, sent: 2 });
    expect(received).toHaveLength(3);
    // The retried event keeps its webhook-id; the other event has its own.
    const ids = received.map((r) => r.headers["webhook-id"]);
    expect(ids.filter((id) => id === ids[0])).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
    for (const r of received) {
      expect(() => new Webhook(secret).verify(r.body, webhookHeaders(r))).not.toThrow();
    }
    // A 2xx ends the pause.
    expect((await getWebhookEndpoint(db, endpoint.id))!.throttledUntil).toBeNull();
    expect((await outboxRows()).map((r) => [r.status, r.attempts])).toEqual([
      ["sent", 2],
      ["sent", 1],
    ]);
  });

  it("reads Retry-After as an HTTP date, never waits less than the schedule, and at most 24 hours", async () => {
    await register("/hooks/dates");
    const t0 = new Date(Math.floor(Date.now() / 1000) * 1000 + 1000); // a whole second
    nextStatus = [
      { status: 429, headers: { "Retry-After": new Date(t0.getTime() + 90_000).toUTCString() } },
      { status: 503, headers: { "Retry-After": "1" } },
      { status: 429, headers: { "Retry-After": String(7 * 24 * 3600) } },
    ];
    await unsubscribe("dates@example.com");
    await run(t0);
    let [row] = await outboxRows();
    expect(row!.next_attempt_at).toEqual(at(t0, 90_000));
    const t1 = at(t0, 90_000);
    await run(t1);
    [row] = await outboxRows();
    // Retry-After: 1, but the schedule's second step is 5 minutes.
    expect(row!.next_attempt_at).toEqual(at(t1, 5 * 60_000));
    const t2 = at(t1, 5 * 60_000);
    await run(t2);
    [row] = await outboxRows();
    // A week is cut to 24 hours.
    expect(row!.next_attempt_at).toEqual(at(t2, 24 * 3600_000));
  });

  it("an endpoint that throttles without Retry-After is paused 5 s, then 20 s, and its other deliveries are not sent meanwhile", async () => {
    const { endpoint } = await register("/hooks/throttle");
    nextStatus = [429, 502];
    await unsubscribe("throttle-1@example.com");
    await unsubscribe("throttle-2@example.com");
    await unsubscribe("throttle-3@example.com");
    const t0 = new Date();
    // One worker, one at a time: the first gets 429 and the endpoint is paused; the other two are
    // put back without an attempt, not sent.
    const stats = await runOutboxOnce(
      { db, env, logger },
      { transports: jitterless, concurrency: 1, now: () => t0 },
    );
    expect(stats).toMatchObject({ claimed: 3, retried: 1, deferred: 2, sent: 0 });
    expect(received).toHaveLength(1);
    expect((await getWebhookEndpoint(db, endpoint.id))!.throttledUntil).toEqual(at(t0, 5000));
    expect((await outboxRows()).map((r) => [r.attempts, r.next_attempt_at.getTime()])).toEqual([
      [1, at(t0, 5000).getTime()],
      [0, at(t0, 5000).getTime()],
      [0, at(t0, 5000).getTime()],
    ]);
    const t1 = at(t0, 5000);
    const again = await runOutboxOnce(
      { db, env, logger },
      { transports: jitterless, concurrency: 1, now: () => t1 },
    );
    expect(again).toMatchObject({ retried: 1, deferred: 2 });
    // The second answer in a row without Retry-After: 20 s.
    expect((await getWebhookEndpoint(db, endpoint.id))!.throttledUntil).toEqual(at(t1, 20_000));
    expect(received).toHaveLength(2);
    const t2 = at(t1, 5 * 60_000);
    expect(
      await runOutboxOnce({ db, env, logger }, { transports: jitterless, now: () => t2 }),
    ).toMatchObject({ sent: 3 });
  });

  it("tries ten times over about three days on the published schedule, then gives up, disables the endpoint and emails the admins", async () => {
    const { endpoint } = await register("/hooks/down");
    nextStatus = Array.from({ length: 10 }, () => 500);
    await unsubscribe("down@example.com");
    let now = new Date();
    const t0 = now;
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 10; attempt++) {
      const stats = await run(now);
      expect(stats.claimed).toBe(1);
      const [row] = await outboxRows();
      expect(row!.attempts).toBe(attempt);
      if (attempt < 10) {
        expect(row!.status).toBe("pending");
        expect((await getWebhookEndpoint(db, endpoint.id))!.enabled).toBe(true);
        waits.push(row!.next_attempt_at.getTime() - now.getTime());
        now = row!.next_attempt_at;
      } else {
        expect(row).toMatchObject({
          status: "dead",
          last_error: expect.stringContaining("gave up after 10 attempts"),
        });
      }
    }
    const s = 1000;
    const m = 60 * s;
    const h = 60 * m;
    expect(waits).toEqual([5 * s, 5 * m, 30 * m, 2 * h, 5 * h, 10 * h, 14 * h, 20 * h, 24 * h]);
    expect(now.getTime() - t0.getTime()).toBeGreaterThan(72 * h);
    expect(new Set(received.map((r) => r.headers["webhook-id"])).size).toBe(1);
    const after = await getWebhookEndpoint(db, endpoint.id);
    expect(after).toMatchObject({
      enabled: false,
      disabledReason: expect.stringContaining("whole retry schedule"),
    });
    expect(await disabledEmails()).toHaveLength(2);
    const logged = await db
      .selectFrom("audit_log")
      .select(["action", "actor_type"])
      .where("target_id", "=", endpoint.id)
      .execute();
    expect(logged).toEqual([{ action: "webhook.auto_disable", actor_type: "system" }]);
  });

  it("a delivery that runs out of attempts while others to the endpoint succeed does not disable it", async () => {
    const { endpoint } = await register("/hooks/picky");
    nextStatus = [400];
    await unsubscribe("picky-bad@example.com");
    const t0 = new Date();
    expect(await run(t0)).toMatchObject({ retried: 1 });
    // Another delivery to the endpoint succeeds after the bad one was first tried.
    await unsubscribe("picky-good@example.com");
    expect(await run(new Date())).toMatchObject({ sent: 1 });
    // The bad one reaches its last attempt (as if the days had passed) and fails again.
    const [bad] = await outboxRows();
    await db
      .updateTable("outbox")
      .set({ attempts: 9, next_attempt_at: t0 })
      .where("id", "=", bad!.id)
      .execute();
    nextStatus = [400];
    expect(await run(new Date())).toMatchObject({ dead: 1 });
    expect((await outboxRows()).map((r) => r.status)).toEqual(["dead", "sent"]);
    expect((await getWebhookEndpoint(db, endpoint.id))!.enabled).toBe(true);
    expect(await disabledEmails()).toEqual([]);
  });

  it("does not follow redirects: a 3xx is a failure and the target never hears from Heed", async () => {
    const target = http.createServer((_req, res) => {
      targetHits++;
      res.end();
    });
    let targetHits = 0;
    await new Promise<void>((r) => target.listen(0, "127.0.0.1", r));
    try {
      const port = (target.address() as AddressInfo).port;
      await register("/hooks/moved");
      nextStatus = [{ status: 307, headers: { Location: `http://127.0.0.1:${port}/steal` } }];
      await unsubscribe("moved@example.com");
      expect(await run()).toMatchObject({ retried: 1 });
      const [row] = await outboxRows();
      expect(row!.last_error).toContain("redirects are not followed");
      expect(targetHits).toBe(0);
    } finally {
      await new Promise<void>((r) => target.close(() => r()));
    }
  });

  it("an admin's retry after an outage gives every dead delivery of the endpoint a fresh schedule", async () => {
    const { endpoint } = await register("/hooks/recover");
    await unsubscribe("recover-1@example.com");
    await unsubscribe("recover-2@example.com");
    await db.updateTable("outbox").set({ status: "dead", attempts: 10 }).execute();
    expect(await retryDeadWebhookDeliveries(db, endpoint.id)).toBe(2);
    expect((await outboxRows()).map((r) => [r.status, r.attempts])).toEqual([
      ["pending", 0],
      ["pending", 0],
    ]);
    expect(await run()).toMatchObject({ sent: 2 });
  });
});

describe("registering an endpoint", () => {
  const opts = { allowPrivate: false, requireHttps: false };

  it.each(HOSTILE_URLS)("refuses %s and stores nothing (%s)", async (url, why) => {
    const r = await createWebhookEndpoint(db, { url, eventTypes: ["consent.unsubscribe"] }, opts);
    expect(r).toMatchObject({ ok: false, field: "url", reason: expect.stringMatching(why) });
    expect(
      await withWebhookTables(db).selectFrom("webhook_endpoints").select("id").execute(),
    ).toEqual([]);
  });

  it("checks the URL again when it delivers: a URL that now points inside is refused, nothing is sent", async () => {
    const { endpoint } = await register("/hooks/rebound");
    // Registered while public; by delivery time it names this machine.
    await withWebhookTables(db)
      .updateTable("webhook_endpoints")
      .set({ url: base.replace("127.0.0.1", "localhost") + "/hooks/rebound" })
      .where("id", "=", endpoint.id)
      .execute();
    await applyConsentChange(db, {
      channel: "email",
      address: "rebound@example.com",
      action: "unsubscribe",
      source: "api",
    });
    const strict = { webhook: createWebhookTransport({ allowPrivate: false, timeoutMs: 2000 }) };
    expect(await runOutboxOnce({ db, env, logger }, { transports: strict })).toMatchObject({
      retried: 1,
    });
    expect(received).toEqual([]);
    const [row] = await db.selectFrom("outbox").selectAll().where("kind", "=", "webhook").execute();
    expect(row!.last_error).toMatch(/refused: localhost is a name of this machine/);
  });

  it("refuses bad URLs and unknown event types; allows private addresses when WEBHOOKS_ALLOW_PRIVATE is on", async () => {
    expect(
      await createWebhookEndpoint(
        db,
        { url: "ftp://example.com/x", eventTypes: ["consent.unsubscribe"] },
        opts,
      ),
    ).toMatchObject({ ok: false, field: "url" });
    expect(
      await createWebhookEndpoint(
        db,
        { url: "https://user:pw@example.com/x", eventTypes: ["consent.unsubscribe"] },
        opts,
      ),
    ).toMatchObject({ ok: false, field: "url" });
    expect(
      await createWebhookEndpoint(
        db,
        { url: "http://93.184.215.14/x", eventTypes: ["consent.unsubscribe"] },
        { allowPrivate: false, requireHttps: true },
      ),
    ).toMatchObject({ ok: false, field: "url", reason: expect.stringContaining("https") });
    expect(
      await createWebhookEndpoint(
        db,
        { url: "https://93.184.215.14/x", eventTypes: ["consent.nope"] },
        opts,
      ),
    ).toMatchObject({ ok: false, field: "eventTypes" });
    expect(
      await createWebhookEndpoint(db, { url: "https://93.184.215.14/x", eventTypes: [] }, opts),
    ).toMatchObject({ ok: false, field: "eventTypes" });
    const publicIp = await createWebhookEndpoint(
      db,
      { url: "https://93.184.215.14/x", eventTypes: ["consent.unsubscribe"] },
      opts,
    );
    expect(publicIp.ok).toBe(true);
    const allowed = await createWebhookEndpoint(
      db,
      { url: "http://127.0.0.1:9/x", eventTypes: ["consent.unsubscribe"] },
      { allowPrivate: true, requireHttps: false },
    );
    expect(allowed.ok).toBe(true);
  });
});
