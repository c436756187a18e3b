/**
 * The real built server answers RFC 8058 one-click POSTs before express (app/server/http.server.ts,
 * app/server/one-click.server.ts), so what express did for them must still hold there:
 * - the client address recorded as evidence follows TRUST_PROXY exactly as express's req.ip does
 *   (X-Forwarded-For believed behind a trusted proxy, ignored otherwise);
 * - a query string on the link does not stop it being a one-click;
 * - any other POST to /u/{token} (the page's own form) still reaches Remix with its body.
 * On PGlite and PostgreSQL: each server runs on its own, then the ledger is read.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openPglite, type Db } from "~/db/db.server";
import { signLinkToken } from "~/links/tokens.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { startServer } from "./server.helpers";

const kind = process.env.HEED_TEST_DB ?? "pglite";

let t: TestDatabase | null = null;
let dataDir: string | null = null;

/** The server's database settings, and a way to read what it wrote once it has stopped. */
function serverDatabase(): Record<string, string> {
  return t ? { DATABASE_URL: t.url! } : { HEED_DATA_DIR: dataDir! };
}
async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  if (t) return fn(t.db);
  const handle = await openPglite(dataDir!);
  try {
    return await fn(handle.db);
  } finally {
    await handle.close();
  }
}

async function contacts(emails: string[]) {
  return withDb(async (db) => {
    const rows = await db
      .insertInto("contacts")
      .values(emails.map((email) => ({ email, locale: "en" })))
      .returning(["id", "email"])
      .execute();
    return Promise.all(
      rows.map((r) => signLinkToken({ contactId: r.id, channel: "email", purpose: "unsubscribe" })),
    );
  });
}

function post(url: string, body: string, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
    body,
    redirect: "manual",
  });
}

beforeAll(async () => {
  if (kind === "postgres") {
    t = await createTestDatabase();
  } else {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-one-click-server-"));
    const handle = await openPglite(dataDir, {
      loadDataDir: new Blob([fs.readFileSync(inject("pgliteTemplate"))]),
    });
    await handle.close();
  }
}, 120_000);

afterAll(async () => {
  await t?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe(`one-click POSTs on the real server, before express (${kind})`, () => {
  it("record the client address by the TRUST_PROXY rule, accept a query string, and leave other POSTs to Remix", async () => {
    const [trusted, untrusted, withQuery, pageForm] = await contacts([
      "trusted@one-click-server.example",
      "untrusted@one-click-server.example",
      "query@one-click-server.example",
      "page-form@one-click-server.example",
    ]);
    const forwarded = { "X-Forwarded-For": "203.0.113.7" };

    const behindProxy = await startServer({ ...serverDatabase(), TRUST_PROXY: "1" });
    try {
      const res = await post(`${behindProxy.url}/u/${trusted}`, "List-Unsubscribe=One-Click", {
        ...forwarded,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("set-cookie")).toBeNull();
      expect(await res.text()).toMatch(
        /^<!doctype html><html lang="en">.*<h1>[^<]+<\/h1><\/html>$/,
      );

      const q = await post(
        `${behindProxy.url}/u/${withQuery}?utm_source=newsletter`,
        "List-Unsubscribe=One-Click",
        forwarded,
      );
      expect(q.status).toBe(200);
      expect(await q.text()).not.toMatch(/<script/);

      // Not a one-click: the unsubscribe page's own form, answered by Remix (its action records
      // the unsubscribe as source "link"), never with the one-click's tiny answer.
      const form = await post(`${behindProxy.url}/u/${pageForm}`, "something=else", forwarded);
      expect(form.status).toBeLessThan(500);
      const html = await form.text();
      expect(html).not.toMatch(
        /^<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport"/,
      );
    } finally {
      await behindProxy.stop();
    }

    const direct = await startServer({ ...serverDatabase(), TRUST_PROXY: "0" });
    try {
      const res = await post(`${direct.url}/u/${untrusted}`, "List-Unsubscribe=One-Click", {
        ...forwarded,
      });
      expect(res.status).toBe(200);
    } finally {
      await direct.stop();
    }

    const rows = await withDb(async (db) => {
      const r = await sql<{ address: string; ip: string | null; source: string }>`
        select address, ip, source from consent_ledger
        where address like '%@one-click-server.example' order by address`.execute(db);
      return r.rows;
    });
    expect(rows).toEqual([
      { address: "page-form@one-click-server.example", ip: "203.0.113.7", source: "link" },
      { address: "query@one-click-server.example", ip: "203.0.113.7", source: "one_click" },
      { address: "trusted@one-click-server.example", ip: "203.0.113.7", source: "one_click" },
      // Without a trusted proxy the header is the client's word: the socket's address counts.
      { address: "untrusted@one-click-server.example", ip: "127.0.0.1", source: "one_click" },
    ]);
  }, 180_000);
});
