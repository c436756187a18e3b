import { sql } from "kysely";
import { createLinks } from "~/api/links.server";
import { upsertContact } from "~/api/contacts.server";
import { upsertCampaign } from "~/campaigns/campaigns.server";
import { addressKey, decideSend } from "~/consent/consent.server";
import { setDatabase, type Db } from "~/db/db.server";
import { resetEnvForTests } from "~/env.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

/** Shared set-up of the email-events tests: a fresh database, the env they need, some data. */

export const MAILTO = "unsubscribe@mail.heed-test.example";
export const FBL = "fbl@mail.heed-test.example";
export const PUBLIC = "https://prefs.heed-test.example";

export async function setUp(env: Record<string, string | undefined>) {
  const saved: Record<string, string | undefined> = {};
  const all = { PUBLIC_URL: PUBLIC, UNSUBSCRIBE_MAILTO: MAILTO, INBOUND_FBL_ADDRESS: FBL, ...env };
  for (const [k, v] of Object.entries(all)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  resetEnvForTests();
  const t: TestDatabase = await createTestDatabase();
  setDatabase(t);
  await t.db
    .insertInto("topics")
    .values({
      key: "newsletter",
      names: JSON.stringify({ en: "Newsletter" }),
      descriptions: JSON.stringify({ en: "News" }),
      channels: ["email"],
    })
    .execute();
  return {
    t,
    db: t.db,
    async tearDown() {
      setDatabase(undefined);
      await t.close();
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      resetEnvForTests();
    },
  };
}

let n = 0;
/** A contact with an email, a campaign, and the links Heed would hand out for it. */
export async function contactWithLinks(
  db: Db,
  options: { email?: string; campaign?: string | null; topic?: string | null; sent?: number } = {},
) {
  n++;
  const email = options.email ?? `person${n}-${Date.now()}@example.net`;
  const { contact } = await upsertContact(db, `ext-${n}-${Date.now()}`, { email });
  const campaign = options.campaign === undefined ? `spring-${n}` : options.campaign;
  if (campaign) {
    await upsertCampaign(db, {
      key: campaign,
      name: `Campaign ${campaign}`,
      channel: "email",
      topic: null,
      sentCount: options.sent ?? 1000,
    });
  }
  const links = await createLinks(db, contact, {
    channel: "email",
    topic: options.topic ?? null,
    campaign,
  });
  const header = links.headers!["List-Unsubscribe"];
  const mailto = /<mailto:([^?>]+)/.exec(header)![1]!;
  return { contact, email, campaign, links, header, mailto };
}

export async function ledgerOf(db: Db, address: string) {
  return db
    .selectFrom("consent_ledger")
    .selectAll()
    .where("channel", "=", "email")
    .where("address_hash", "=", addressKey(address))
    .orderBy("id")
    .execute();
}

export async function counts(db: Db) {
  const { rows } = await sql<{
    ledger: number;
    inbound: number;
    undeliverable: number;
    consent: number;
    codes: number;
  }>`select (select count(*) from consent_ledger)::int as ledger,
            (select count(*) from inbound_messages)::int as inbound,
            (select count(*) from undeliverable_events)::int as undeliverable,
            (select count(*) from channel_consent)::int as consent,
            (select count(*) from mailto_codes)::int as codes`.execute(db);
  return rows[0]!;
}

export async function sendState(
  db: Db,
  address: string,
  category: "marketing" | "transactional" = "marketing",
) {
  const d = await decideSend(db, { channel: "email", address, category });
  return d.allowed ? "allowed" : d.reason;
}

/** The RFC 5322 headers of a campaign message as the sender sends it, with Heed's headers. */
export function originalHeaders(o: {
  to: string;
  listUnsubscribe: string;
  messageId?: string;
  subject?: string;
}): string {
  return [
    "Return-Path: <bounces@news.shop.example>",
    "Received: from out-7.news.shop.example (out-7.news.shop.example [198.51.100.7])",
    "\tby mta1.example.net with ESMTPS; Tue, 24 Nov 2026 09:15:02 +0000",
    "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=news.shop.example; s=s1;",
    "\th=from:to:subject:date:message-id:list-unsubscribe:list-unsubscribe-post;",
    "\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=dGVzdA==",
    "From: Shop News <news@news.shop.example>",
    `To: ${o.to}`,
    `Subject: ${o.subject ?? "Spring sale: 20 % off everything"}`,
    "Date: Tue, 24 Nov 2026 09:15:00 +0000",
    `Message-ID: ${o.messageId ?? `<c-${Math.random().toString(36).slice(2)}@news.shop.example>`}`,
    `List-Unsubscribe: ${o.listUnsubscribe}`,
    "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
  ].join("\r\n");
}
