import http from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listEvents } from "~/api/events.server";
import { ledgerTimeline } from "~/contacts/contacts.server";
import { eraseContact } from "~/consent/erasure.server";
import { decideSendMany } from "~/consent/consent.server";
import type { Db } from "~/db/db.server";
import { handleEmailEvents } from "~/email/events.server";
import {
  clearUndeliverable,
  saveBounceSettings,
  undeliverableStates,
  UndeliverableError,
} from "~/email/undeliverable.server";
import { parseEnv } from "~/env.server";
import { suppressionCsvChunks } from "~/exports/suppressions.server";
import { runOutboxOnce } from "~/outbox/worker.server";
import {
  complaintRates,
  evaluateComplaintAlerts,
  saveComplaintAlertSettings,
  undeliverableSourceRow,
} from "~/reports/email.server";
import { listAlerts } from "~/reports/alerts.server";
import { createWebhookEndpoint } from "~/webhooks/endpoints.server";
import { createWebhookTransport } from "~/webhooks/transport.server";
import { readUntil } from "./db.helpers";
import { contactWithLinks, counts, ledgerOf, sendState, setUp } from "./email.helpers";

/**
 * Undeliverable addresses (not consent, but first in the send decision), soft bounces in a row,
 * how the marks show everywhere (events feed, webhooks, timeline, export, reports), and the
 * complaint rate per campaign with its alert.
 */

const by = { actor: { type: "admin_user" as const, id: null, label: "agent@heed.example" } };
let env: Awaited<ReturnType<typeof setUp>>;
let db: Db;
let n = 0;
const id = () => `ev-${++n}-${Date.now()}`;

beforeAll(async () => {
  env = await setUp({});
  db = env.db;
});
afterAll(async () => {
  await env?.tearDown();
});

const bounce = (
  address: string,
  kind: "hard_bounce" | "soft_bounce" | "delivered",
  campaign?: string | null,
) =>
  handleEmailEvents(db, [
    {
      provider: "postmark",
      providerEventId: id(),
      kind,
      address,
      campaign,
      detail: "smtp;550 5.1.1",
    },
  ]);

describe("undeliverable", () => {
  it("a hard bounce makes the check answer undeliverable, marketing and transactional, first", async () => {
    const a = await contactWithLinks(db);
    const other = "still-fine@example.net";
    await bounce(a.email, "hard_bounce", a.campaign);
    const results = await decideSendMany(db, {
      channel: "email",
      category: "transactional",
      addresses: [a.email.toUpperCase(), other, "not an address"],
    });
    expect(results).toEqual([
      { address: a.email.toUpperCase(), allowed: false, reason: "undeliverable" },
      { address: other, allowed: true },
      { address: "not an address", allowed: false, reason: "invalid_address" },
    ]);
    // Even before "unsubscribed": undeliverable is checked first.
    await handleEmailEvents(db, [
      { provider: "postmark", providerEventId: id(), kind: "complaint", address: a.email },
    ]);
    expect(await sendState(db, a.email)).toBe("undeliverable");
    // Not consent: the bounce wrote no ledger row (the complaint did).
    expect((await ledgerOf(db, a.email)).map((r) => r.source)).toEqual(["complaint"]);
    // A second hard bounce records no second mark.
    const before = await counts(db);
    await bounce(a.email, "hard_bounce");
    expect((await counts(db)).undeliverable).toBe(before.undeliverable);
  });

  it("an agent clears it with a note (audited, recorded), and consent is untouched", async () => {
    const a = await contactWithLinks(db);
    await bounce(a.email, "hard_bounce");
    await expect(
      clearUndeliverable(db, { channel: "email", address: a.email, note: "  ", by }),
    ).rejects.toBeInstanceOf(UndeliverableError);
    const res = await clearUndeliverable(db, {
      channel: "email",
      address: a.email,
      note: "Mailbox fixed, confirmed by phone (ticket 123)",
      contactId: a.contact.id,
      by,
    });
    expect(res.changed).toBe(true);
    expect(await sendState(db, a.email)).toBe("allowed");
    expect(await ledgerOf(db, a.email)).toEqual([]);
    const audit = await db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", "undeliverable.clear")
      .where("target_id", "=", a.contact.id)
      .executeTakeFirstOrThrow();
    expect(audit.details).toMatchObject({ note: "Mailbox fixed, confirmed by phone (ticket 123)" });
    expect(
      (await clearUndeliverable(db, { channel: "email", address: a.email, note: "again", by }))
        .changed,
    ).toBe(false);
    // Both changes are on the contact's timeline, with who and why.
    const { entries } = await ledgerTimeline(db, {
      targets: [{ channel: "email", address: a.email }],
      contactId: a.contact.id,
    });
    expect(entries.map((e) => [e.action, e.source, e.actorType, e.actorLabel])).toEqual([
      ["undeliverable_cleared", "admin", "admin_user", null],
      ["undeliverable", "undeliverable", "system", "postmark"],
    ]);
    // The agent's words are an operator's note, never the recipient's reason text.
    expect(entries[0]!.note).toBe("Mailbox fixed, confirmed by phone (ticket 123)");
    expect(entries[0]!.reasonText).toBeNull();
  });

  it("soft bounces count only when the operator set N in a row; a delivery resets the count", async () => {
    const a = await contactWithLinks(db);
    for (let i = 0; i < 4; i++) await bounce(a.email, "soft_bounce");
    expect(await sendState(db, a.email)).toBe("allowed");
    await saveBounceSettings(db, { softBounceLimit: 3 }, by);
    await bounce(a.email, "soft_bounce");
    await bounce(a.email, "soft_bounce");
    await bounce(a.email, "delivered");
    await bounce(a.email, "soft_bounce");
    await bounce(a.email, "soft_bounce");
    expect(await sendState(db, a.email)).toBe("allowed");
    await bounce(a.email, "soft_bounce");
    expect(await sendState(db, a.email)).toBe("undeliverable");
    const [state] = await undeliverableStates(db, [{ channel: "email", address: a.email }]);
    expect(state).toMatchObject({ reason: "soft_bounces", provider: "postmark" });
    await saveBounceSettings(db, { softBounceLimit: null }, by);
  });

  it("appears in the events feed and the export with its label's code, and in reports by source", async () => {
    const a = await contactWithLinks(db);
    await bounce(a.email, "hard_bounce", a.campaign);
    const readFeed = async () => {
      let cursor: string | undefined;
      const events = [];
      for (;;) {
        const page = await listEvents(db, { after: cursor, limit: 50 });
        events.push(...page.events);
        cursor = page.nextCursor ?? undefined;
        if (!page.hasMore) break;
      }
      return events;
    };
    const markOf = (events: Awaited<ReturnType<typeof readFeed>>) =>
      events.find((e) => e.address === a.email && e.type === "address.undeliverable");
    const all = await readUntil(readFeed, (events) => markOf(events) !== undefined);
    const mark = markOf(all);
    expect(mark).toMatchObject({
      action: "undeliverable",
      source: "undeliverable",
      campaign: a.campaign,
      reasonCode: "hard_bounce",
    });
    // Ledger and undeliverable events come in one (txid, id) order: ids never repeat.
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);

    let csv = "";
    for await (const chunk of suppressionCsvChunks(db, { source: "undeliverable" })) csv += chunk;
    expect(csv).toContain(`${a.email},email,`);
    expect(csv).toMatch(
      new RegExp(`${a.email.replace(/[.+]/g, "\\$&")},email,[^,]+,undeliverable,hard_bounce,`),
    );

    const today = new Date().toISOString().slice(0, 10);
    const row = await undeliverableSourceRow(db, {
      from: today,
      to: today,
      channel: null,
      granularity: "day",
    } as never);
    expect(row).toMatchObject({ source: "undeliverable", counted: false });
    expect(row!.count).toBeGreaterThan(0);
  }, 90_000);

  it("outbound webhooks: address.undeliverable and address.undeliverable_cleared, signed", async () => {
    const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const created = await createWebhookEndpoint(
        db,
        {
          url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
          eventTypes: ["address.undeliverable", "address.undeliverable_cleared"],
        },
        { allowPrivate: true, requireHttps: false },
      );
      if (!created.ok) throw new Error(created.reason);
      const a = await contactWithLinks(db);
      await bounce(a.email, "hard_bounce");
      await clearUndeliverable(db, { channel: "email", address: a.email, note: "fixed", by });
      await runOutboxOnce(
        { db, env: parseEnv({ NODE_ENV: "test" }), logger: pino({ level: "silent" }) },
        { transports: { webhook: createWebhookTransport({ allowPrivate: true }) } },
      );
      const mine = received
        .map((r) => {
          new Webhook(created.secret).verify(r.body, {
            "webhook-id": String(r.headers["webhook-id"]),
            "webhook-timestamp": String(r.headers["webhook-timestamp"]),
            "webhook-signature": String(r.headers["webhook-signature"]),
          });
          return JSON.parse(r.body) as {
            type: string;
            data: { address: string; reasonText: string };
          };
        })
        .filter((e) => e.data.address === a.email);
      expect(mine.map((e) => e.type).sort()).toEqual([
        "address.undeliverable",
        "address.undeliverable_cleared",
      ]);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("erasure keeps the mark by hash and drops the address everywhere", async () => {
    const a = await contactWithLinks(db);
    await bounce(a.email, "hard_bounce");
    await eraseContact(db, a.contact.id, by);
    expect(await sendState(db, a.email)).toBe("undeliverable");
    const leftovers = await db
      .selectFrom("inbound_messages")
      .select("address")
      .where("address", "=", a.email)
      .execute();
    expect(leftovers).toEqual([]);
    let csv = "";
    for await (const chunk of suppressionCsvChunks(db, { source: "undeliverable" })) csv += chunk;
    expect(csv).not.toContain(a.email);
  });
});

describe("complaint rate per campaign", () => {
  it("counts distinct complainers (also already unsubscribed ones) and alerts once at the threshold", async () => {
    const key = `launch-${Date.now()}`;
    const people: Awaited<ReturnType<typeof contactWithLinks>>[] = [];
    for (let i = 0; i < 3; i++)
      people.push(await contactWithLinks(db, { campaign: key, sent: 1000 }));
    // One had unsubscribed before complaining: the complaint still counts.
    await handleEmailEvents(db, [
      {
        provider: "sendgrid",
        providerEventId: id(),
        kind: "unsubscribe",
        address: people[0]!.email,
      },
    ]);
    const complain = (p: (typeof people)[number]) =>
      handleEmailEvents(db, [
        {
          provider: "ses",
          providerEventId: id(),
          kind: "complaint",
          address: p.email,
          campaign: key,
        },
      ]);
    await complain(people[0]!);
    await complain(people[1]!);
    await complain(people[1]!); // the same person twice: counted once
    let rates = await complaintRates(db, [{ key, channel: "email", sentCount: 1000 }]);
    expect(rates[key]).toMatchObject({ complaints: 2, rate: 0.002, alert: null });
    expect(await evaluateComplaintAlerts(db)).toEqual([]);

    await complain(people[2]!); // 3 of 1,000 = 0.3 %: Gmail's line
    const fired = await evaluateComplaintAlerts(db);
    expect(fired.map((f) => [f.campaign.key, f.complaints])).toEqual([[key, 3]]);
    expect(await evaluateComplaintAlerts(db)).toEqual([]);
    rates = await complaintRates(db, [{ key, channel: "email", sentCount: 1000 }]);
    expect(rates[key]!.alert).not.toBeNull();
    const listed = await listAlerts(db);
    expect(listed.find((a) => a.campaign === key)).toMatchObject({ kind: "complaint_rate_high" });
  });

  it("the threshold is configurable", async () => {
    const key = `quiet-${Date.now()}`;
    const p = await contactWithLinks(db, { campaign: key, sent: 1000 });
    await handleEmailEvents(db, [
      {
        provider: "ses",
        providerEventId: id(),
        kind: "complaint",
        address: p.email,
        campaign: key,
      },
    ]);
    expect((await evaluateComplaintAlerts(db)).map((f) => f.campaign.key)).not.toContain(key);
    await saveComplaintAlertSettings(db, { thresholdPercent: 0.1 }, by);
    expect((await evaluateComplaintAlerts(db)).map((f) => f.campaign.key)).toContain(key);
    await saveComplaintAlertSettings(db, { thresholdPercent: 0.3 }, by);
  });
});
