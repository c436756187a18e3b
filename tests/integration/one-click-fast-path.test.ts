/**
 * RFC 8058 one-click off the page path (issue 14.1): the server answers a
 * `List-Unsubscribe=One-Click` POST to /u/{token} before Remix (app/server/one-click.server.ts),
 * through the one door in one statement. Functional only (no timing): over real HTTP, against
 * the real database, the fast path keeps every rule of the page's one-click — idempotent, no
 * cookie, no redirect, the token-page headers, campaign attribution, the ledger row, the webhook
 * delivery, 4xx for refused tokens (nothing written), 503 + Retry-After when the database is
 * unavailable — and hands every other request on untouched (a page form's body included).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLinks } from "~/api/links.server";
import { verifyLedgerChain } from "~/consent/chain.server";
import { addressKey, decideSend } from "~/consent/consent.server";
import { openPostgres, setDatabase, type DatabaseHandle, type Db } from "~/db/db.server";
import type { Contact } from "~/db/schema";
import { signLinkToken } from "~/links/tokens.server";
import { clearRecipientCache } from "~/recipient/cache.server";
import { oneClickFastPath, replayedBody } from "~/server/one-click.server";
import proxyaddr from "proxy-addr";
import { createWebhookEndpoint } from "~/webhooks/endpoints.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";

let t: TestDatabase;
let db: Db;
let server: http.Server;
let base: string;
/** What reached the next handler (Remix, in the server) instead of the fast path. */
const passedOn: { method: string; path: string; body: string }[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.db;
  setDatabase(t);
  await db
    .insertInto("topics")
    .values({
      key: "fast-news",
      channels: ["email"],
      names: JSON.stringify({ en: "News" }),
      descriptions: "{}",
      position: 1,
    })
    .execute();
  const endpoint = await createWebhookEndpoint(
    db,
    {
      url: "http://127.0.0.1:9/hook",
      eventTypes: ["consent.unsubscribe", "consent.topic_opt_out"],
    },
    { allowPrivate: true, requireHttps: false },
  );
  if (!endpoint.ok) throw new Error(endpoint.reason);
  const app = express();
  app.set("trust proxy", true);
  // As the server does: the address express's req.ip would give (app/server/http.server.ts).
  const trust = app.get("trust proxy fn") as Parameters<typeof proxyaddr>[1];
  app.use(oneClickFastPath(pino({ level: "silent" }), (req) => proxyaddr(req, trust)));
  app.use((req, res) => {
    const body = replayedBody(res);
    const read = body
      ? Promise.resolve(body)
      : new Promise<Buffer>((resolve) => {
          const chunks: Buffer[] = [];
          req.on("data", (c: Buffer) => chunks.push(c));
          req.on("end", () => resolve(Buffer.concat(chunks)));
        });
    void read.then((b) => {
      passedOn.push({ method: req.method, path: req.path, body: b.toString() });
      res.status(299).end();
    });
  });
  server = app.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  setDatabase(t);
  setDatabase(undefined);
  await t?.close();
});
beforeEach(() => {
  clearRecipientCache();
  passedOn.length = 0;
});

let n = 0;
async function contactWithLink(topic?: string) {
  n++;
  const c: Contact = await db
    .insertInto("contacts")
    .values({ external_id: `fast-${n}`, email: `fast.${n}@example.com`, locale: "de" })
    .returningAll()
    .executeTakeFirstOrThrow();
  const links = await createLinks(db, c, { channel: "email", topic, campaign: "fast-campaign" });
  return { c, token: links.unsubscribeUrl.split("/u/")[1]!, address: c.email! };
}

function oneClick(token: string, kind: "urlencoded" | "multipart" = "urlencoded") {
  let body: BodyInit = "List-Unsubscribe=One-Click";
  const headers: Record<string, string> = {
    "User-Agent": "Mozilla/5.0 (compatible; Google-Unsubscribe)",
    "X-Forwarded-For": "198.51.100.23",
  };
  if (kind === "urlencoded") headers["Content-Type"] = "application/x-www-form-urlencoded";
  else {
    const form = new FormData();
    form.set("List-Unsubscribe", "One-Click");
    body = form;
  }
  return fetch(`${base}/u/${token}`, { method: "POST", headers, body, redirect: "manual" });
}

const h1 = async (res: Response) => /<h1>([^<]*)<\/h1>/.exec(await res.text())?.[1];

function expectTokenHeaders(res: Response) {
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(res.headers.get("referrer-policy")).toBe("no-referrer");
  expect(res.headers.get("x-robots-tag")).toMatch(/^noindex/);
  expect(res.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
  expect(res.headers.get("set-cookie")).toBeNull();
  expect(res.headers.get("location")).toBeNull();
}

async function ledgerOf(address: string) {
  return db
    .selectFrom("consent_ledger")
    .selectAll()
    .where("address_hash", "=", addressKey(address))
    .orderBy("id")
    .execute();
}

async function webhooksFor(ledgerIds: number[]) {
  const rows = await db
    .selectFrom("outbox")
    .select("payload")
    .where("kind", "=", "webhook")
    .execute();
  return rows
    .map((r) => r.payload as { ledgerId: number; type: string })
    .filter((p) => ledgerIds.includes(Number(p.ledgerId)));
}

describe("one-click fast path", () => {
  it("unsubscribes with a tiny 200 (no cookie, no redirect), attributed to the campaign, one ledger row and one webhook; a repeat changes nothing", async () => {
    const { c, token, address } = await contactWithLink();
    const res = await oneClick(token);
    expect(res.status).toBe(200);
    expectTokenHeaders(res);
    // In the contact's language (German), without Remix.
    expect(await h1(res)).toBe("Sie sind abgemeldet");
    expect(passedOn).toEqual([]);

    const again = await oneClick(token);
    expect(again.status).toBe(200);
    expectTokenHeaders(again);
    expect(await h1(again)).not.toBe("Sie sind abgemeldet");

    const rows = await ledgerOf(address);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: "unsubscribe",
      source: "one_click",
      campaign: "fast-campaign",
      contact_id: c.id,
      address,
      actor_type: "recipient",
      actor_id: c.id,
      ip: "198.51.100.23",
      user_agent: "Mozilla/5.0 (compatible; Google-Unsubscribe)",
    });
    const state = await db
      .selectFrom("channel_consent")
      .select(["status", "last_ledger_id", "address"])
      .where("address_hash", "=", addressKey(address))
      .executeTakeFirstOrThrow();
    expect(state).toEqual({ status: "unsubscribed", last_ledger_id: rows[0]!.id, address });
    expect(await webhooksFor([Number(rows[0]!.id)])).toEqual([
      expect.objectContaining({ type: "consent.unsubscribe" }),
    ]);
    expect(
      await decideSend(db, { channel: "email", address, category: "marketing" }),
    ).toMatchObject({ allowed: false, reason: "unsubscribed" });
  });

  it("a multipart one-click on a topic link opts out of that topic only", async () => {
    const { address, token } = await contactWithLink("fast-news");
    const res = await oneClick(token, "multipart");
    expect(res.status).toBe(200);
    expectTokenHeaders(res);
    expect(passedOn).toEqual([]);
    const rows = await ledgerOf(address);
    expect(rows.map((r) => [r.action, r.topic, r.source])).toEqual([
      ["topic_opt_out", "fast-news", "one_click"],
    ]);
    expect(await webhooksFor([Number(rows[0]!.id)])).toHaveLength(1);
    const news = await decideSend(db, {
      channel: "email",
      address,
      topic: "fast-news",
      category: "marketing",
    });
    expect(news).toMatchObject({ allowed: false, reason: "topic_unsubscribed" });
    expect(
      (await decideSend(db, { channel: "email", address, category: "marketing" })).allowed,
    ).toBe(true);
    expect((await oneClick(token, "multipart")).status).toBe(200);
    expect(await ledgerOf(address)).toHaveLength(1);
  });

  it("concurrent presses of one link write one change", async () => {
    const { address, token } = await contactWithLink();
    const answers = await Promise.all(Array.from({ length: 8 }, () => oneClick(token)));
    expect(answers.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(await ledgerOf(address)).toHaveLength(1);
  });

  it("many concurrent presses of distinct links (group-committed, decisions/0107): each 200, each recorded once with its campaign, ip and user agent, one webhook each", async () => {
    const links = await Promise.all(Array.from({ length: 30 }, () => contactWithLink()));
    const answers = await Promise.all(links.map((l) => oneClick(l.token)));
    expect(answers.map((r) => r.status)).toEqual(Array(links.length).fill(200));
    const ids: number[] = [];
    for (const l of links) {
      const rows = await ledgerOf(l.address);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        action: "unsubscribe",
        source: "one_click",
        campaign: "fast-campaign",
        ip: "198.51.100.23",
        user_agent: "Mozilla/5.0 (compatible; Google-Unsubscribe)",
        contact_id: l.c.id,
      });
      ids.push(Number(rows[0]!.id));
    }
    const hooks = await webhooksFor(ids);
    for (const id of ids) expect(hooks.filter((w) => Number(w.ledgerId) === id)).toHaveLength(1);
  });

  it("refused tokens answer 400 or 410 and write nothing", async () => {
    const { c, token, address } = await contactWithLink();
    const expired = await signLinkToken({
      contactId: c.id,
      channel: "email",
      purpose: "unsubscribe",
      now: new Date("2020-01-01T00:00:00Z"),
    });
    const preferences = await signLinkToken({
      contactId: c.id,
      channel: "email",
      purpose: "preferences",
    });
    const tampered = token.slice(0, -3) + (token.endsWith("AAA") ? "BBB" : "AAA");
    for (const [bad, status] of [
      [tampered, 400],
      [preferences, 400],
      [expired, 410],
      ["not-a-token", 400],
    ] as const) {
      const res = await oneClick(bad);
      expect(res.status, bad).toBe(status);
      expectTokenHeaders(res);
    }
    expect(passedOn).toEqual([]);
    expect(await ledgerOf(address)).toEqual([]);
  });

  it("hands everything else on untouched: the page's own form (with its body), GETs, other paths", async () => {
    const { token, address } = await contactWithLink();
    const form = "intent=unsubscribe&reason=other&reasonText=too+many";
    const res = await fetch(`${base}/u/${token}`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: form,
    });
    expect(res.status).toBe(299);
    expect((await fetch(`${base}/u/${token}`)).status).toBe(299);
    const json = await fetch(`${base}/u/${token}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ "List-Unsubscribe": "One-Click" }),
    });
    expect(json.status).toBe(299);
    const other = await fetch(`${base}/p/${token}`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "List-Unsubscribe=One-Click",
    });
    expect(other.status).toBe(299);
    expect(passedOn).toEqual([
      { method: "POST", path: `/u/${token}`, body: form },
      { method: "GET", path: `/u/${token}`, body: "" },
      { method: "POST", path: `/u/${token}`, body: '{"List-Unsubscribe":"One-Click"}' },
      { method: "POST", path: `/p/${token}`, body: "List-Unsubscribe=One-Click" },
    ]);
    expect(await ledgerOf(address)).toEqual([]);
  });

  it("answers 503 with Retry-After while the database is unavailable (nothing decided), and works again after", async () => {
    const { token, address } = await contactWithLink();
    // A database that is gone: a closed PGlite, or a PostgreSQL server that refuses connections.
    let dead: DatabaseHandle;
    if (t.kind === "postgres") {
      dead = await openPostgres("postgres://postgres@127.0.0.1:9/gone", 1);
    } else {
      dead = await createTestDatabase();
      if (dead.pglite) await dead.pglite.close();
      else await dead.pgliteWorker!.close();
    }
    setDatabase(dead);
    try {
      const res = await oneClick(token);
      expect(res.status).toBe(503);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(res.headers.get("set-cookie")).toBeNull();
    } finally {
      setDatabase(t);
      if (t.kind === "postgres") await dead.close();
    }
    expect(await ledgerOf(address)).toEqual([]);
    expect((await oneClick(token)).status).toBe(200);
    expect(await ledgerOf(address)).toHaveLength(1);
  });

  it("every row the fast path wrote is chained like any other (decisions/0070)", async () => {
    const report = await verifyLedgerChain(db);
    expect(report.rows).toBeGreaterThan(0);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
  });
});
