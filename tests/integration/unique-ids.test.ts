import http from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { SMTPServer } from "smtp-server";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyConsentChange } from "~/consent/consent.server";
import type { Db } from "~/db/db.server";
import { parseEnv } from "~/env.server";
import { enqueueEmail } from "~/mail/send.server";
import { closeSmtp, emailTransport } from "~/mail/transport.server";
import { runOutboxOnce } from "~/outbox/worker.server";
import { createWebhookEndpoint } from "~/webhooks/endpoints.server";
import { createWebhookTransport } from "~/webhooks/transport.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

/**
 * Ids that receivers deduplicate on must never repeat: two fresh databases (a new installation,
 * or a second one) both start their row numbers at 1, so ids made from row numbers collided and
 * the second installation's first event was dropped as a duplicate. Here two fresh databases each
 * send their first email and their first webhook, each failing once and then delivered: every id
 * is different across the installations and the same across a message's attempts.
 */

let smtp: SMTPServer;
let receiver: http.Server;
const mails: { messageId: string; to: string }[] = [];
const hooks: { id: string; body: string; headers: Record<string, string> }[] = [];
let smtpPort: number;
let hookBase: string;
const failNext = new Set<string>();
const opened: TestDatabase[] = [];

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, callback) {
      let raw = "";
      stream.setEncoding("utf8");
      stream.on("data", (c: string) => (raw += c));
      stream.on("end", () => {
        const to = session.envelope.rcptTo.map((r) => r.address).join(",");
        mails.push({ messageId: /^message-id:\s*(.+)$/im.exec(raw)?.[1]?.trim() ?? "", to });
        // The first time each recipient is seen, answer with a temporary failure.
        if (failNext.has(to)) {
          failNext.delete(to);
          const e = new Error("try again later") as Error & { responseCode: number };
          e.responseCode = 451;
          return callback(e);
        }
        callback();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, "127.0.0.1", r));
  smtpPort = (smtp.server.address() as AddressInfo).port;
  receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const headers = {
        "webhook-id": String(req.headers["webhook-id"]),
        "webhook-timestamp": String(req.headers["webhook-timestamp"]),
        "webhook-signature": String(req.headers["webhook-signature"]),
      };
      hooks.push({ id: headers["webhook-id"], body, headers });
      const key = `${req.url}`;
      if (failNext.has(key)) {
        failNext.delete(key);
        res.writeHead(500).end();
      } else res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  hookBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  closeSmtp();
  await new Promise<void>((r) => smtp.close(() => r()));
  await new Promise<void>((r) => receiver.close(() => r()));
  for (const t of opened) await t.close();
});

/** A fresh installation: its own database, one endpoint; its first email and first event. */
async function installation(name: string) {
  const t = await createTestDatabase();
  opened.push(t);
  const db: Db = t.db;
  const env = parseEnv({
    NODE_ENV: "test",
    PUBLIC_URL: "https://prefs.example.org",
    SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
    MAIL_FROM: "Heed <no-reply@example.org>",
  });
  const created = await createWebhookEndpoint(
    db,
    { url: `${hookBase}/${name}`, eventTypes: ["consent.unsubscribe"] },
    { allowPrivate: true, requireHttps: false },
  );
  if (!created.ok) throw new Error(created.reason);
  const to = `${name}@example.com`;
  await enqueueEmail(db, {
    to,
    subject: "Hello",
    html: "<p>Hello</p>",
    text: "Hello",
    template: "preferences",
    templateVersion: "test",
    locale: "en",
  });
  const change = await applyConsentChange(db, {
    channel: "email",
    address: to,
    action: "unsubscribe",
    source: "api",
  });
  failNext.add(to);
  failNext.add(`/${name}`);
  const transports = {
    email: emailTransport,
    webhook: createWebhookTransport({ allowPrivate: true, timeoutMs: 5000 }),
  };
  const ctx = { db, env, logger: pino({ level: "silent" }) };
  const t0 = new Date();
  const first = await runOutboxOnce(ctx, { transports, now: () => t0 });
  expect(first).toMatchObject({ claimed: 2, retried: 2 });
  // Both are retried (the email after the worker's backoff, the webhook after 5 s).
  const later = new Date(t0.getTime() + 24 * 3600_000);
  expect(await runOutboxOnce(ctx, { transports, now: () => later })).toMatchObject({ sent: 2 });
  return { ledgerId: change.ledgerId, secret: created.secret, to, path: `/${name}` };
}

describe("ids that receivers deduplicate on", () => {
  it("never repeat across two fresh databases, and stay the same across a message's attempts", async () => {
    const a = await installation("first-install");
    const b = await installation("second-install");
    // Both installations wrote the same row numbers: the old ids would have collided.
    expect(a.ledgerId).toBe(b.ledgerId);

    const mailIds = (to: string) => mails.filter((m) => m.to === to).map((m) => m.messageId);
    const [a1, a2] = mailIds(a.to);
    const [b1, b2] = mailIds(b.to);
    expect(mailIds(a.to)).toHaveLength(2);
    expect(mailIds(b.to)).toHaveLength(2);
    expect(a1).toMatch(
      /^<[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}@prefs\.example\.org>$/,
    );
    expect(a2).toBe(a1);
    expect(b2).toBe(b1);
    expect(b1).not.toBe(a1);

    const hookIds = (secret: string) =>
      hooks.filter((h) => {
        try {
          new Webhook(secret).verify(h.body, h.headers);
          return true;
        } catch {
          return false;
        }
      });
    const ha = hookIds(a.secret).map((h) => h.id);
    const hb = hookIds(b.secret).map((h) => h.id);
    expect(ha).toHaveLength(2);
    expect(hb).toHaveLength(2);
    expect(ha[0]).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(ha[1]).toBe(ha[0]);
    expect(hb[1]).toBe(hb[0]);
    expect(hb[0]).not.toBe(ha[0]);
  });
});
