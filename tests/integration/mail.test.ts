import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyConsentChange } from "~/consent/consent.server";
import { startDoubleOptIn } from "~/consent/double-opt-in.server";
import type { Db } from "~/db/db.server";
import { getEnv, parseEnv, type Env } from "~/env.server";
import { LOCALES } from "~/i18n/config";
import { enqueueEmail } from "~/mail/send.server";
import {
  renderConfirmEmail,
  renderPreferencesEmail,
  renderUnsubscribedEmail,
} from "~/mail/templates.server";
import { closeSmtp } from "~/mail/transport.server";
import { queueUnsubscribedNotice, saveMailSettings } from "~/mail/notices.server";
import { runOutboxOnce } from "~/outbox/worker.server";
import { DEFAULT_BRANDING, saveBranding } from "~/settings/settings.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

/** SMTP delivery against a real SMTP server (the smtp-server package) on loopback. */

type Received = { from: string; to: string[]; raw: string };
let t: TestDatabase;
let db: Db;
let server: SMTPServer;
let port: number;
const received: Received[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith("nobody@")) {
        const err = new Error("No such user here") as Error & { responseCode: number };
        err.responseCode = 550;
        return callback(err);
      }
      callback();
    },
    onData(stream, session, callback) {
      let raw = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => (raw += chunk));
      stream.on("end", () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.server.address() as AddressInfo).port;
});
afterAll(async () => {
  closeSmtp();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await t?.close();
});

function env(overrides: Record<string, string> = {}): Env {
  return parseEnv({
    ...process.env,
    PUBLIC_URL: "https://prefs.example.org",
    SMTP_URL: `smtp://127.0.0.1:${port}`,
    MAIL_FROM: "Acme News <news@acme.test>",
    ...overrides,
  });
}
const ctx = (e: Env) => ({ db, env: e, logger: pino({ level: "silent" }) });

// --- a small MIME reader (headers, multipart/alternative, quoted-printable / base64) ---
function splitHead(raw: string): { headers: Map<string, string>; body: string } {
  const i = raw.indexOf("\r\n\r\n");
  const head = raw.slice(0, i).replace(/\r\n[ \t]+/g, " ");
  const headers = new Map<string, string>();
  for (const line of head.split("\r\n")) {
    const c = line.indexOf(":");
    headers.set(line.slice(0, c).toLowerCase(), line.slice(c + 1).trim());
  }
  return { headers, body: raw.slice(i + 4) };
}
function decode(body: string, encoding = "7bit"): string {
  if (/quoted-printable/i.test(encoding)) {
    const bytes = body
      .replace(/=\r\n/g, "")
      .replace(/=([0-9A-F]{2})/gi, (_, h: string) => `%${h}`)
      .replace(/%(?![0-9A-F]{2})/gi, "%25");
    return decodeURIComponent(bytes.replace(/[^\x20-\x7e\r\n%]/g, (ch) => encodeURIComponent(ch)));
  }
  if (/base64/i.test(encoding))
    return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  return body;
}
function parts(raw: string): { headers: Map<string, string>; parts: Map<string, string> } {
  const { headers, body } = splitHead(raw);
  const boundary = /boundary="?([^";]+)"?/.exec(headers.get("content-type") ?? "")?.[1];
  const out = new Map<string, string>();
  if (!boundary) throw new Error("not a multipart message");
  for (const chunk of body.split(`--${boundary}`).slice(1, -1)) {
    const p = splitHead(chunk.replace(/^\r\n/, ""));
    const type = (p.headers.get("content-type") ?? "").split(";")[0]!.trim();
    out.set(type, decode(p.body.replace(/\r\n$/, ""), p.headers.get("content-transfer-encoding")));
  }
  return { headers, parts: out };
}
function decodeWords(value: string): string {
  return value.replace(/=\?utf-8\?([BQ])\?([^?]*)\?=\s*/gi, (_, enc: string, text: string) =>
    enc.toUpperCase() === "B"
      ? Buffer.from(text, "base64").toString("utf8")
      : decode(text.replace(/_/g, " "), "quoted-printable"),
  );
}

describe("SMTP delivery", () => {
  it("delivers the double opt-in confirmation with the right headers, both MIME parts and the link", async () => {
    await saveBranding(db, {
      ...DEFAULT_BRANDING,
      organizationName: "Acme",
      accentColor: "#ffcc00",
      supportEmail: "help@acme.test",
    });
    const address = "jan.kowalski@example.com";
    await applyConsentChange(db, {
      channel: "email",
      address,
      action: "unsubscribe",
      source: "link",
    });
    const before = received.length;
    const e = env();
    const started = await startDoubleOptIn(db, {
      channel: "email",
      address,
      locale: "pl",
      source: "preference_page",
    });
    expect(started.status).toBe("sent");
    expect(await runOutboxOnce(ctx(e))).toMatchObject({ claimed: 1, sent: 1 });

    expect(received).toHaveLength(before + 1);
    const msg = received.at(-1)!;
    expect(msg.from).toBe("news@acme.test");
    expect(msg.to).toEqual([address]);
    const { headers, parts: p } = parts(msg.raw);
    expect(headers.get("from")).toBe("Acme News <news@acme.test>");
    expect(headers.get("to")).toBe(address);
    expect(decodeWords(headers.get("subject")!)).toBe("Potwierdź: e-maile od Acme");
    expect(headers.get("message-id")).toMatch(/^<[0-9a-f-]{36}@prefs\.example\.org>$/);
    expect(headers.get("auto-submitted")).toBe("auto-generated");
    expect(headers.get("content-type")).toMatch(/^multipart\/alternative/);
    // Transactional: no List-Unsubscribe (one-click) headers.
    expect(headers.has("list-unsubscribe")).toBe(false);
    expect(headers.has("list-unsubscribe-post")).toBe(false);

    const text = p.get("text/plain")!;
    const html = p.get("text/html")!;
    // The link to the confirmation page (PUBLIC_URL of the process that queued the message).
    const link = /(https?:\/\/[^\s/]+)\/c\/[\w-]+\.[\w-]+\.[\w-]+/.exec(text);
    expect(link?.[1]).toBe(getEnv().publicUrl);
    expect(text).toContain("Tak, zapisz mnie");
    expect(text).toContain("help@acme.test");
    expect(html).toContain(`href="${link![0]}"`);
    expect(html).toContain("Tak, zapisz mnie");
    expect(html).toContain('lang="pl"');
    // The button uses the brand colour with readable text on it.
    expect(html).toContain("background:#ffcc00");
    expect(html).toContain("color:#000000");

    const row = await db
      .selectFrom("outbox")
      .selectAll()
      .orderBy("id", "desc")
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: "sent", attempts: 1, last_error: null });
  });

  it("gives a bare MAIL_FROM the organization's name", async () => {
    const e = env({ MAIL_FROM: "hello@acme.test" });
    await enqueueEmail(
      db,
      renderPreferencesEmail({
        locale: "en",
        branding: { ...DEFAULT_BRANDING, organizationName: "Acme" },
        to: "a@example.com",
        url: "https://prefs.example.org/p/x",
      }),
    );
    await runOutboxOnce(ctx(e));
    expect(splitHead(received.at(-1)!.raw).headers.get("from")).toBe("Acme <hello@acme.test>");
  });

  it("a refused recipient is dead at once; an unreachable server is retried", async () => {
    await enqueueEmail(
      db,
      renderPreferencesEmail({
        locale: "en",
        branding: DEFAULT_BRANDING,
        to: "nobody@example.com",
        url: "https://prefs.example.org/p/x",
      }),
    );
    await runOutboxOnce(ctx(env()));
    const refused = await db
      .selectFrom("outbox")
      .selectAll()
      .where("recipient", "=", "nobody@example.com")
      .executeTakeFirstOrThrow();
    expect(refused.status).toBe("dead");
    expect(refused.last_error).toMatch(/550/);

    await enqueueEmail(
      db,
      renderPreferencesEmail({
        locale: "en",
        branding: DEFAULT_BRANDING,
        to: "later@example.com",
        url: "https://prefs.example.org/p/x",
      }),
    );
    // A closed port on loopback.
    await runOutboxOnce(ctx(env({ SMTP_URL: "smtp://127.0.0.1:1" })));
    const later = await db
      .selectFrom("outbox")
      .selectAll()
      .where("recipient", "=", "later@example.com")
      .executeTakeFirstOrThrow();
    expect(later.status).toBe("pending");
    expect(later.last_error).toMatch(/^attempt 1: SMTP: /);
  });

  it("without SMTP_URL, mail stays in the development outbox (marked sent, nothing connects)", async () => {
    const before = received.length;
    await enqueueEmail(
      db,
      renderPreferencesEmail({
        locale: "en",
        branding: DEFAULT_BRANDING,
        to: "dev@example.com",
        url: "https://prefs.example.org/p/x",
      }),
    );
    const e = parseEnv({ ...process.env, SMTP_URL: "" });
    expect(e.SMTP_URL).toBeUndefined();
    await runOutboxOnce(ctx(e));
    const row = await db
      .selectFrom("outbox")
      .selectAll()
      .where("recipient", "=", "dev@example.com")
      .executeTakeFirstOrThrow();
    expect(row.status).toBe("sent");
    expect(received.length).toBe(before);
  });
});

describe("templates", () => {
  const url = "https://prefs.example.org/x?a=1&b=2";
  it.each(LOCALES)(
    "renders every template in %s, with the link, escaped, in HTML and text",
    (locale) => {
      const branding = { ...DEFAULT_BRANDING, organizationName: "Tom & Jerry <Co>" };
      const mails = [
        renderConfirmEmail({
          locale,
          branding,
          to: "a@example.com",
          url,
          expiresAt: new Date("2027-03-12T10:00:00Z"),
          topicNames: ["News"],
        }),
        renderPreferencesEmail({ locale, branding, to: "a@example.com", url }),
        renderUnsubscribedEmail({ locale, branding, to: "a@example.com", url }),
      ];
      for (const m of mails) {
        expect(m.locale).toBe(locale);
        expect(m.subject.length).toBeGreaterThan(5);
        expect(m.html).toContain(`href="https://prefs.example.org/x?a=1&amp;b=2"`);
        expect(m.html).toContain("Tom &amp; Jerry &lt;Co&gt;");
        expect(m.html).not.toContain("<Co>");
        expect(m.text).toContain(url);
        expect(m.text).toContain("Tom & Jerry <Co>");
        expect(m.html).not.toMatch(/\{\{|\}\}/);
        expect(m.text).not.toMatch(/\{\{|\}\}/);
      }
      expect(mails[0]!.text).toContain("2027");
    },
  );

  it("versions a template by its wording: locales differ, the same locale is stable", () => {
    const a = renderPreferencesEmail({
      locale: "en",
      branding: DEFAULT_BRANDING,
      to: "a@example.com",
      url,
    });
    const b = renderPreferencesEmail({
      locale: "en",
      branding: DEFAULT_BRANDING,
      to: "b@example.com",
      url,
    });
    const c = renderPreferencesEmail({
      locale: "fr",
      branding: DEFAULT_BRANDING,
      to: "a@example.com",
      url,
    });
    expect(a.templateVersion).toBe(b.templateVersion);
    expect(a.templateVersion).not.toBe(c.templateVersion);
  });
});

describe("the optional unsubscribe confirmation", () => {
  it("is queued only when the operator turned it on, in the contact's language, with a preferences link", async () => {
    const contact = await db
      .insertInto("contacts")
      .values({ external_id: "notice", email: "notice@example.com", locale: "es" })
      .returning("id")
      .executeTakeFirstOrThrow();
    expect(
      await queueUnsubscribedNotice(db, {
        contactId: contact.id,
        address: "notice@example.com",
        locale: "es",
      }),
    ).toBeNull();
    await saveMailSettings(db, { unsubscribeConfirmation: true });
    const id = await queueUnsubscribedNotice(db, {
      contactId: contact.id,
      address: "Notice@Example.com",
      locale: "es",
    });
    const row = await db
      .selectFrom("outbox")
      .selectAll()
      .where("id", "=", id!)
      .executeTakeFirstOrThrow();
    const payload = row.payload as { subject: string; text: string; template: string };
    expect(row.recipient).toBe("notice@example.com");
    expect(payload.template).toBe("unsubscribed");
    expect(payload.subject).toMatch(/Te has dado de baja/);
    expect(payload.text).toMatch(/\/p\/[\w-]+\.[\w-]+\.[\w-]+/);
    await saveMailSettings(db, { unsubscribeConfirmation: false });
  });
});
