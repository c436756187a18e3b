import fs from "node:fs";
import path from "node:path";
import net from "node:net";
import nodemailer from "nodemailer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLinksBatch } from "~/api/links.server";
import { eraseContact } from "~/consent/erasure.server";
import type { Db } from "~/db/db.server";
import { startInboundSmtp, type InboundSmtp } from "~/email/smtp-listener.server";
import { resetRateLimit } from "~/security/rate-limit.server";
import {
  contactWithLinks,
  counts,
  FBL,
  ledgerOf,
  MAILTO,
  originalHeaders,
  sendState,
  setUp,
} from "./email.helpers";

/**
 * The inbound SMTP listener with a real SMTP client (nodemailer): mailto unsubscribes prove the
 * address by their code only, feedback reports (as Yahoo and Microsoft send them) unsubscribe the
 * complainer found through Heed's own link, and everything else is refused without a write.
 */

const FIXTURES = path.join(import.meta.dirname, "fixtures", "email");
const MAX_BYTES = 64 * 1024;

let env: Awaited<ReturnType<typeof setUp>>;
let db: Db;
let smtp: InboundSmtp;
let tlsSmtp: InboundSmtp;

beforeAll(async () => {
  env = await setUp({});
  db = env.db;
  const common = {
    port: 0,
    host: "127.0.0.1",
    maxBytes: MAX_BYTES,
    maxConnectionsPerIp: 5,
    messagesPerMinute: 1000,
    closeTimeoutMs: 500,
  };
  smtp = await startInboundSmtp(db, common);
  tlsSmtp = await startInboundSmtp(db, {
    ...common,
    tls: {
      cert: fs.readFileSync(path.join(FIXTURES, "server.pem")),
      key: fs.readFileSync(path.join(FIXTURES, "server.key")),
    },
  });
});
afterAll(async () => {
  await smtp?.close();
  await tlsSmtp?.close();
  await env?.tearDown();
});

function transport(port = smtp.port, tls = false) {
  return nodemailer.createTransport({
    host: "127.0.0.1",
    port,
    secure: false,
    ...(tls
      ? {
          requireTLS: true,
          tls: { ca: fs.readFileSync(path.join(FIXTURES, "ca.pem")), servername: "localhost" },
        }
      : { ignoreTLS: true }),
  });
}

async function send(
  to: string,
  options: { messageId?: string; text?: string; port?: number; tls?: boolean; from?: string } = {},
) {
  const t = transport(options.port, options.tls);
  try {
    return await t.sendMail({
      from: options.from ?? "Someone Else <someone.else@elsewhere.example>",
      to,
      subject: "unsubscribe",
      text: options.text ?? "Please unsubscribe me.",
      messageId: options.messageId,
    });
  } finally {
    t.close();
  }
}

describe("mailto unsubscribes over SMTP", () => {
  it("hands out a per-link mailto address with an opaque code", async () => {
    const a = await contactWithLinks(db);
    const b = await contactWithLinks(db);
    expect(a.mailto).toMatch(/^unsubscribe\+[a-z2-7]{26}@mail\.heed-test\.example$/);
    expect(a.mailto).not.toBe(b.mailto);
    expect(a.mailto).not.toContain(a.email.split("@")[0]);
    expect(a.header).toContain(`<mailto:${a.mailto}?subject=unsubscribe>`);
    // The same link asked for again has the same code (nothing new stored).
    const before = await counts(db);
    const again = await createLinksBatch(db, [a.contact.external_id!], {
      channel: "email",
      campaign: a.campaign,
    });
    expect(("headers" in again[0]! && again[0].headers?.["List-Unsubscribe"]) || "").toContain(
      a.mailto,
    );
    expect((await counts(db)).codes).toBe(before.codes);
  });

  it("a message to a valid code unsubscribes the link's address, whatever its From says", async () => {
    const a = await contactWithLinks(db);
    expect(await sendState(db, a.email)).toBe("allowed");
    const info = await send(a.mailto, { messageId: "<m1-valid@elsewhere.example>" });
    expect(info.accepted).toEqual([a.mailto]);
    expect(await sendState(db, a.email)).toBe("unsubscribed");
    const rows = await ledgerOf(db, a.email);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: "unsubscribe",
      source: "mailto",
      campaign: a.campaign,
      contact_id: a.contact.id,
    });
    const inbound = await db
      .selectFrom("inbound_messages")
      .selectAll()
      .where("provider", "=", "smtp")
      .where("provider_message_id", "like", "<m1-valid@elsewhere.example>:%")
      .execute();
    expect(inbound).toHaveLength(1);
    expect(inbound[0]).toMatchObject({
      kind: "mailto",
      decision: "unsubscribed",
      campaign: a.campaign,
    });
  });

  it("a redelivered message (same Message-ID) changes nothing, and nothing is sent back", async () => {
    const a = await contactWithLinks(db);
    await send(a.mailto, { messageId: "<m2-twice@elsewhere.example>" });
    const before = await counts(db);
    const outbox = await db.selectFrom("outbox").select("id").execute();
    const info = await send(a.mailto, { messageId: "<m2-twice@elsewhere.example>" });
    expect(info.accepted).toEqual([a.mailto]);
    expect(await counts(db)).toEqual(before);
    expect(await db.selectFrom("outbox").select("id").execute()).toEqual(outbox);
  });

  it("a forged code is refused at RCPT and changes nothing", async () => {
    const a = await contactWithLinks(db);
    const forged = a.mailto.replace(/\+([a-z2-7]{26})@/, (_m, code: string) => {
      const last = code.at(-1) === "a" ? "b" : "a";
      return `+${code.slice(0, -1)}${last}@`;
    });
    const before = await counts(db);
    await expect(send(forged)).rejects.toMatchObject({ responseCode: 550 });
    await expect(
      send(`unsubscribe+${"a".repeat(26)}@mail.heed-test.example`),
    ).rejects.toMatchObject({ responseCode: 550 });
    expect(await counts(db)).toEqual(before);
    expect(await sendState(db, a.email)).toBe("allowed");
  });

  it("an unknown local part (or the bare base address, or another domain) is refused", async () => {
    const a = await contactWithLinks(db);
    const before = await counts(db);
    await expect(send("postmaster@mail.heed-test.example")).rejects.toMatchObject({
      responseCode: 550,
    });
    await expect(send(MAILTO)).rejects.toMatchObject({ responseCode: 550 });
    await expect(
      send(a.mailto.replace("heed-test.example", "other.example")),
    ).rejects.toMatchObject({ responseCode: 550 });
    expect(await counts(db)).toEqual(before);
  });

  it("an oversized message is refused and changes nothing", async () => {
    const a = await contactWithLinks(db);
    const before = await counts(db);
    await expect(send(a.mailto, { text: "x".repeat(MAX_BYTES + 10) })).rejects.toMatchObject({
      responseCode: 552,
    });
    expect(await counts(db)).toEqual(before);
    expect(await sendState(db, a.email)).toBe("allowed");
  });

  it("a topic link's code opts out of that topic only", async () => {
    const a = await contactWithLinks(db, { topic: "newsletter" });
    await send(a.mailto);
    const rows = await ledgerOf(db, a.email);
    expect(rows.map((r) => [r.action, r.topic, r.source])).toEqual([
      ["topic_opt_out", "newsletter", "mailto"],
    ]);
    expect(await sendState(db, a.email)).toBe("allowed");
  });

  it("an erased contact's code still unsubscribes the address (by its keyed hash)", async () => {
    const a = await contactWithLinks(db);
    await eraseContact(db, a.contact.id, { actor: { type: "system" } });
    await send(a.mailto, { messageId: "<m3-erased@elsewhere.example>" });
    expect(await sendState(db, a.email)).toBe("unsubscribed");
    const rows = await ledgerOf(db, a.email);
    expect(rows.at(-1)).toMatchObject({ action: "unsubscribe", source: "mailto", address: null });
  });

  it("works over STARTTLS when a certificate is configured", async () => {
    const a = await contactWithLinks(db);
    const info = await send(a.mailto, { port: tlsSmtp.port, tls: true });
    expect(info.accepted).toEqual([a.mailto]);
    expect(await sendState(db, a.email)).toBe("unsubscribed");
  });
});

describe("listener limits", () => {
  it("refuses a client IP's connections beyond the limit, and its messages beyond the rate", async () => {
    const limited = await startInboundSmtp(db, {
      port: 0,
      host: "127.0.0.1",
      maxBytes: MAX_BYTES,
      maxConnectionsPerIp: 1,
      messagesPerMinute: 2,
      closeTimeoutMs: 200,
    });
    try {
      const a = await contactWithLinks(db);
      // One connection held open (the greeting read): the next one from this IP gets 421.
      const held = net.connect(limited.port, "127.0.0.1");
      await new Promise<void>((resolve) => held.once("data", () => resolve()));
      await expect(send(a.mailto, { port: limited.port })).rejects.toMatchObject({
        responseCode: 421,
      });
      held.destroy();
      await new Promise((r) => setTimeout(r, 100));
      // Messages per minute, counted in the database for every server.
      await resetRateLimit(db, "smtp:ip:127.0.0.1");
      await send(a.mailto, { port: limited.port });
      await send(a.mailto, { port: limited.port });
      await expect(send(a.mailto, { port: limited.port })).rejects.toMatchObject({
        responseCode: 451,
      });
    } finally {
      await resetRateLimit(db, "smtp:ip:127.0.0.1");
      await limited.close();
    }
  });
});

/**
 * Feedback-loop reports, modelled on what the providers publish: Yahoo's CFL sends an RFC 5965
 * report from feedback@arf.mail.yahoo.com ("Yahoo! Mail AntiSpam Feedback"), DKIM-signed for
 * arf.mail.yahoo.com, with a text part, the machine-readable part (User-Agent
 * Yahoo!-Mail-Feedback/2.0) and the original message, whose recipient it redacts. Microsoft's
 * JMRP now sends ARF too, with the recipient anonymised; its older form (still seen) is a note from
 * staff@hotmail.com with the original message attached and no machine-readable part.
 */
function yahooReport(original: string, id: string): string {
  return [
    "Return-Path: <feedback@arf.mail.yahoo.com>",
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=arf.mail.yahoo.com; s=arf;",
    "\th=From:To:Subject:Date:Message-ID; bh=frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=;",
    "\tb=dGVzdCBzaWduYXR1cmU=",
    "From: Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>",
    `To: ${FBL}`,
    "Subject: FW: Spring sale: 20 % off everything",
    "Date: Tue, 24 Nov 2026 10:02:11 +0000",
    `Message-ID: <${id}@arf.mail.yahoo.com>`,
    "MIME-Version: 1.0",
    'Content-Type: multipart/report; report-type=feedback-report; boundary="----=_Part_1_ARF"',
    "",
    "------=_Part_1_ARF",
    "Content-Type: text/plain; charset=us-ascii",
    "Content-Transfer-Encoding: 7bit",
    "",
    "This is an email abuse report for an email message received from IP 198.51.100.7 on Tue, 24 Nov 2026 09:15:02 +0000.",
    "For more information about this format please see http://www.mipassoc.org/arf/.",
    "",
    "------=_Part_1_ARF",
    "Content-Type: message/feedback-report",
    "",
    "Feedback-Type: abuse",
    "User-Agent: Yahoo!-Mail-Feedback/2.0",
    "Version: 1",
    "Original-Mail-From: <bounces@news.shop.example>",
    "Arrival-Date: Tue, 24 Nov 2026 09:15:02 +0000",
    "Source-IP: 198.51.100.7",
    "Reported-Domain: news.shop.example",
    "Authentication-Results: mta1.yahoo.com; dkim=pass header.d=news.shop.example",
    "",
    "------=_Part_1_ARF",
    "Content-Type: message/rfc822",
    "Content-Disposition: inline",
    "",
    original,
    "",
    "Spring sale body (redacted by the reporter)",
    "",
    "------=_Part_1_ARF--",
    "",
  ].join("\r\n");
}

function microsoftArfReport(headersOnly: string, id: string): string {
  return [
    "From: Outlook.com Junk Mail Reporting Program <staff@hotmail.com>",
    `To: ${FBL}`,
    "Subject: complaint about message from 198.51.100.7",
    "Date: Tue, 24 Nov 2026 11:20:00 +0000",
    `Message-ID: <${id}@jmrp.outlook.example>`,
    "MIME-Version: 1.0",
    'Content-Type: multipart/report; report-type=feedback-report; boundary="jmrp-boundary-42"',
    "",
    "--jmrp-boundary-42",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "This is an email abuse report for an email message received from IP 198.51.100.7.",
    "",
    "--jmrp-boundary-42",
    "Content-Type: message/feedback-report",
    "",
    "Feedback-Type: abuse",
    "User-Agent: Microsoft Junk Mail Reporting Program",
    "Version: 1",
    "Original-Mail-From: <bounces@news.shop.example>",
    "Original-Rcpt-To: <3f0c9e1d2b7a4c58@anonymized.outlook.example>",
    "Arrival-Date: Tue, 24 Nov 2026 09:15:03 +0000",
    "Source-IP: 198.51.100.7",
    "",
    "--jmrp-boundary-42",
    "Content-Type: text/rfc822-headers",
    "Content-Transfer-Encoding: base64",
    "",
    Buffer.from(`${headersOnly}\r\n`)
      .toString("base64")
      .replace(/(.{76})/g, "$1\r\n"),
    "",
    "--jmrp-boundary-42--",
    "",
  ].join("\r\n");
}

function legacyHotmailReport(original: string, id: string): string {
  return [
    "From: staff@hotmail.com",
    `To: ${FBL}`,
    "Subject: complaint about message from 198.51.100.7",
    "Date: Tue, 24 Nov 2026 12:00:00 +0000",
    `Message-ID: <${id}@hotmail.example>`,
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="legacy-jmrp"',
    "",
    "--legacy-jmrp",
    "Content-Type: message/rfc822",
    "Content-Disposition: inline",
    "",
    "X-HmXmrOriginalRecipient: <redacted>",
    original,
    "",
    "body",
    "",
    "--legacy-jmrp--",
    "",
  ].join("\r\n");
}

async function sendRaw(raw: string, to = FBL) {
  const t = transport();
  try {
    return await t.sendMail({ envelope: { from: "feedback@arf.mail.yahoo.com", to: [to] }, raw });
  } finally {
    t.close();
  }
}

describe("feedback-loop reports at the FBL address", () => {
  it("Yahoo: a redacted report unsubscribes the complainer found by the mailto code (source complaint, campaign)", async () => {
    const a = await contactWithLinks(db);
    const original = originalHeaders({ to: "<redacted>", listUnsubscribe: a.header });
    await sendRaw(yahooReport(original, "yahoo-1"));
    expect(await sendState(db, a.email)).toBe("unsubscribed");
    const rows = await ledgerOf(db, a.email);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      source: "complaint",
      campaign: a.campaign,
      reason_code: null,
    });
    expect(rows[0]!.details).toMatchObject({ provider: "fbl", feedbackType: "abuse" });
    const inbound = await db
      .selectFrom("inbound_messages")
      .selectAll()
      .where("provider", "=", "fbl")
      .where("provider_message_id", "=", "<yahoo-1@arf.mail.yahoo.com>")
      .executeTakeFirstOrThrow();
    expect(inbound).toMatchObject({
      kind: "complaint",
      decision: "unsubscribed",
      campaign: a.campaign,
    });
    expect(inbound.details).toMatchObject({
      reporter: "feedback@arf.mail.yahoo.com",
      userAgent: "Yahoo!-Mail-Feedback/2.0",
      identifiedBy: "mailto",
    });
    // The same report delivered again changes nothing.
    const before = await counts(db);
    await sendRaw(yahooReport(original, "yahoo-1"));
    expect(await counts(db)).toEqual(before);
  });

  it("Microsoft ARF: anonymised recipient, base64 header block; the link token names the complainer", async () => {
    const a = await contactWithLinks(db);
    // Only the HTTPS link in the header (no mailto): the signed token names the contact.
    const onlyLink = a.header.split(",")[0]!;
    const headers = originalHeaders({ to: "<anonymized>", listUnsubscribe: onlyLink });
    await sendRaw(microsoftArfReport(headers, "jmrp-1"));
    expect(await sendState(db, a.email)).toBe("unsubscribed");
    const rows = await ledgerOf(db, a.email);
    expect(rows[0]).toMatchObject({ source: "complaint", campaign: a.campaign });
    const inbound = await db
      .selectFrom("inbound_messages")
      .select(["details"])
      .where("provider_message_id", "=", "<jmrp-1@jmrp.outlook.example>")
      .executeTakeFirstOrThrow();
    expect(inbound.details).toMatchObject({ identifiedBy: "token", arf: true });
  });

  it("Microsoft's older form (a forwarded message, no report fields) is a complaint too", async () => {
    const a = await contactWithLinks(db);
    await sendRaw(
      legacyHotmailReport(
        originalHeaders({ to: "<redacted>", listUnsubscribe: a.header }),
        "legacy-1",
      ),
    );
    expect(await sendState(db, a.email)).toBe("unsubscribed");
  });

  it("a report naming an address but no Heed link changes nothing (anyone can mail the FBL address)", async () => {
    const a = await contactWithLinks(db);
    const before = await counts(db);
    const report = yahooReport(
      originalHeaders({ to: a.email, listUnsubscribe: "<https://elsewhere.example/unsub>" }),
      "yahoo-forged",
    ).replace("Version: 1", `Version: 1\r\nOriginal-Rcpt-To: ${a.email}`);
    await sendRaw(report);
    expect(await sendState(db, a.email)).toBe("allowed");
    const after = await counts(db);
    expect(after.ledger).toBe(before.ledger);
    const row = await db
      .selectFrom("inbound_messages")
      .select(["decision", "address"])
      .where("provider_message_id", "=", "<yahoo-forged@arf.mail.yahoo.com>")
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ decision: "unmatched", address: null });
  });

  it("a not-spam report is not a complaint", async () => {
    const a = await contactWithLinks(db);
    const report = yahooReport(
      originalHeaders({ to: "<redacted>", listUnsubscribe: a.header }),
      "yahoo-notspam",
    ).replace("Feedback-Type: abuse", "Feedback-Type: not-spam");
    await sendRaw(report);
    expect(await sendState(db, a.email)).toBe("allowed");
  });

  it("a complaint after a re-subscription unsubscribes again", async () => {
    const a = await contactWithLinks(db);
    const original = originalHeaders({ to: "<redacted>", listUnsubscribe: a.header });
    await sendRaw(yahooReport(original, "yahoo-again-1"));
    expect(await sendState(db, a.email)).toBe("unsubscribed");
    const { applyConsentChange } = await import("~/consent/consent.server");
    await applyConsentChange(db, {
      channel: "email",
      address: a.email,
      action: "subscribe",
      source: "double_opt_in",
    });
    expect(await sendState(db, a.email)).toBe("allowed");
    await sendRaw(yahooReport(original, "yahoo-again-2"));
    expect(await sendState(db, a.email)).toBe("unsubscribed");
    expect((await ledgerOf(db, a.email)).map((r) => [r.action, r.source])).toEqual([
      ["unsubscribe", "complaint"],
      ["subscribe", "double_opt_in"],
      ["unsubscribe", "complaint"],
    ]);
  });
});
