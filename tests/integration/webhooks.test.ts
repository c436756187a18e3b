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
  setWebhookEndpointEnabled,
  WEBHOOK_EVENT_TYPES,
} from "~/webhooks/endpoints.server";
import { bulkUnsubscribe } from "~/consent/bulk.server";
import { enqueueRateHighWebhooks } from "~/reports/alerts.server";
import { createWebhookTransport } from "~/webhooks/transport.server";
import { withWebhookTables } from "~/webhooks/schema";
import { isPrivateAddress } from "~/webhooks/ssrf.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

/**
 * Outbound webhooks end to end: a consent change enqueues a delivery in its transaction, the
 * outbox worker delivers it to a real HTTP server started here, and the receiver verifies it
 * with the standardwebhooks package's own verifier.
 */

type Received = { headers: http.IncomingHttpHeaders; body: string };
let received: Received[] = [];
let nextStatus: number[] = [];
let server: http.Server;
let base: string;
let t: TestDatabase;
let db: Db;

const env = parseEnv({ NODE_ENV: "test" });
const logger = pino({ level: "silent" });
const transports = { webhook: createWebhookTransport({ allowPrivate: true, timeoutMs: 5000 }) };
const run = () =>
  runOutboxOnce(
    { db, env, logger },
    { transports, retry: { baseMs: 1, maxMs: 1 }, random: () => 0 },
  );

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  setDatabase(t);
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(nextStatus.shift() ?? 204);
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
      messageId: `msg_${r!.ledgerId}`,
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
        { ledgerId: l.id, type: "consent.unsubscribe", messageId: `msg_${l.id}` },
      ]),
    );
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

  it("retries a 500 with backoff, then delivers the same message id", async () => {
    const { endpoint, secret } = await register("/hooks/flaky");
    nextStatus = [500];
    await applyConsentChange(db, {
      channel: "email",
      address: "flaky@example.com",
      action: "unsubscribe",
      source: "api",
    });
    expect(await run()).toMatchObject({ retried: 1, sent: 0 });
    let [row] = await db.selectFrom("outbox").selectAll().execute();
    expect(row).toMatchObject({
      status: "pending",
      attempts: 1,
      last_error: expect.stringContaining("HTTP 500"),
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(await run()).toMatchObject({ sent: 1 });
    [row] = await db.selectFrom("outbox").selectAll().execute();
    expect(row).toMatchObject({ status: "sent", attempts: 2 });
    expect(received).toHaveLength(2);
    expect(received[0]!.headers["webhook-id"]).toBe(received[1]!.headers["webhook-id"]);
    expect(() =>
      new Webhook(secret).verify(received[1]!.body, webhookHeaders(received[1]!)),
    ).not.toThrow();
    const attempts = await withWebhookTables(db)
      .selectFrom("webhook_deliveries")
      .select(["attempt", "status_code"])
      .where("endpoint_id", "=", endpoint.id)
      .orderBy("id")
      .execute();
    expect(attempts).toEqual([
      { attempt: 1, status_code: 500 },
      { attempt: 2, status_code: 204 },
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
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1);
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

describe("registering an endpoint", () => {
  const opts = { allowPrivate: false, requireHttps: false };

  it.each([
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://10.1.2.3/hook",
    "http://192.168.1.10/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://0.0.0.0/hook",
  ])("refuses %s (private, loopback or link-local)", async (url) => {
    const r = await createWebhookEndpoint(db, { url, eventTypes: ["consent.unsubscribe"] }, opts);
    expect(r).toMatchObject({
      ok: false,
      field: "url",
      reason: expect.stringMatching(/private|reserved/),
    });
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

describe("isPrivateAddress", () => {
  it.each([
    "127.0.0.1",
    "10.0.0.1",
    "172.16.5.4",
    "172.31.255.255",
    "192.168.0.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "198.18.0.1",
    "::",
    "::1",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "::ffff:a00:1",
    "64:ff9b::a00:1",
    "2001:db8::1",
    "::127.0.0.1",
    "not-an-ip",
  ])("%s is not public", (ip) => {
    expect(isPrivateAddress(ip)).toBe(true);
  });
  it.each([
    "93.184.215.14",
    "8.8.8.8",
    "172.32.0.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
  ])("%s is public", (ip) => {
    expect(isPrivateAddress(ip)).toBe(false);
  });
});
