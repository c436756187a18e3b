/**
 * A database that drops connections never takes the server down (issue 11, item 1).
 *
 * On PostgreSQL, against the real built server in production mode (its own process, real HTTP,
 * its own fresh database) reached through a TCP proxy that the test can cut:
 * - its backends are terminated again and again while one-click POSTs and send checks run: the
 *   process stays up, every answer is 200 with the change committed or 503 with Retry-After, the
 *   ledger holds exactly the 200s' changes, and afterwards everything works again;
 * - with the database unreachable, a page, one-click, the API and the Twilio webhook answer 503
 *   with Retry-After; background work logs the outage once, survives it and resumes;
 * - an import interrupted by the outage is not failed: it resumes after its last committed batch.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey } from "~/api/keys.server";
import { openPostgres, type DatabaseHandle, type Db } from "~/db/db.server";
import { isDatabaseUnavailable } from "~/db/faults.server";
import { getEnv } from "~/env.server";
import {
  createImportJob,
  getImportJob,
  importLimits,
  importsDir,
  prepareImportFile,
  runPendingImports,
} from "~/imports/jobs.server";
import { signLinkToken } from "~/links/tokens.server";
import { twilioSignature } from "~/sms/providers/twilio.server";
import { createWebhookEndpoint } from "~/webhooks/endpoints.server";
import { createTestDatabase, type TestDatabase } from "../setup/db";
import { startDatabaseProxy, startServer, type RunningServer } from "./server.helpers";

const onPostgres = process.env.HEED_TEST_DB === "postgres";
const TWILIO_TOKEN = "faults-twilio-auth-token-0123456789";

type Proxy = Awaited<ReturnType<typeof startDatabaseProxy>>;

let t: TestDatabase;
let db: Db;
let proxy: Proxy;
let server: RunningServer;
let apiKey: string;
let receiver: http.Server;
let serverDataDir: string | undefined;
const delivered: string[] = [];

async function contactsWithLinks(prefix: string, n: number) {
  const rows = await db
    .insertInto("contacts")
    .values(Array.from({ length: n }, (_, i) => ({ email: `${prefix}${i}@faults.example` })))
    .returning(["id", "email"])
    .execute();
  return Promise.all(
    rows.map(async (r) => ({
      address: r.email!,
      token: await signLinkToken({ contactId: r.id, channel: "email", purpose: "unsubscribe" }),
    })),
  );
}

function oneClick(token: string) {
  return fetch(`${server.url}/u/${token}`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: "List-Unsubscribe=One-Click",
    redirect: "manual",
  });
}

function check(recipients: string[]) {
  return fetch(`${server.url}/api/v1/check`, {
    method: "POST",
    headers: { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ channel: "email", category: "marketing", recipients }),
  });
}

function twilio(from: string, body: string, sid: string) {
  const fields: [string, string][] = [
    ["From", from],
    ["To", "+15005550006"],
    ["Body", body],
    ["MessageSid", sid],
  ];
  const url = `${server.url}/webhooks/sms/twilio`;
  return fetch(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      "X-Twilio-Signature": twilioSignature(TWILIO_TOKEN, url, fields),
    },
    body: new URLSearchParams(fields).toString(),
  });
}

/** Runs `jobs` with at most `width` at once. */
async function inParallel<T>(items: T[], width: number, job: (item: T) => Promise<void>) {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await job(item);
    }),
  );
}

async function ledgerAddresses(source: string, like: string): Promise<string[]> {
  const { rows } = await sql<{ address: string }>`
    select address from consent_ledger
    where source = ${source} and action = 'unsubscribe' and address like ${like}
    order by address`.execute(db);
  return rows.map((r) => r.address);
}

async function until<T>(what: string, probe: () => Promise<T | null | false>, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  if (!onPostgres) return;
  t = await createTestDatabase();
  db = t.db;
  apiKey = (await createApiKey(db, { name: "faults", scopes: ["check"] })).key;
  receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      delivered.push(body);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const endpoint = await createWebhookEndpoint(
    db,
    {
      url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`,
      eventTypes: ["consent.unsubscribe"],
    },
    { allowPrivate: true, requireHttps: false },
  );
  expect(endpoint.ok).toBe(true);

  const direct = new URL(t.url!);
  proxy = await startDatabaseProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  const proxied = new URL(t.url!);
  proxied.port = String(proxy.port);
  server = await startServer({
    DATABASE_URL: proxied.toString(),
    DATABASE_POOL_MAX: "4",
    DATABASE_CONNECT_TIMEOUT_MS: "1000",
    OUTBOX_POLL_MS: "200",
    TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
    WEBHOOKS_ALLOW_PRIVATE: "1",
    HEED_DATA_DIR: (serverDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-faults-"))),
  });
}, 240_000);

afterAll(async () => {
  await server?.stop();
  await proxy?.close();
  await new Promise((r) => (receiver ? receiver.close(r) : r(null)));
  await t?.close();
  if (serverDataDir) fs.rmSync(serverDataDir, { recursive: true, force: true });
});

describe.skipIf(!onPostgres)("the server when PostgreSQL drops its connections", () => {
  it("stays up while its backends are terminated during one-click POSTs and send checks; every answer is 200 (committed) or 503 with Retry-After", async () => {
    const links = await contactsWithLinks("chaos", 160);
    const admin = new pg.Client({ connectionString: t.url!.replace(/\/[^/]+$/, "/postgres") });
    await admin.connect();
    let terminated = 0;
    let running = true;
    // Only this test's database: never another database's backends.
    const killer = (async () => {
      while (running) {
        const r = await admin.query<{ n: number }>(
          `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
           where datname = $1 and pid <> pg_backend_pid()`,
          [t.name],
        );
        terminated += r.rows[0]!.n;
        await new Promise((res) => setTimeout(res, 20 + Math.random() * 60));
      }
    })();

    const statuses = new Map<string, number>();
    const unexpected: string[] = [];
    const checks: number[] = [];
    let checking = true;
    const checker = (async () => {
      while (checking) {
        const res = await check(links.slice(0, 50).map((l) => l.address));
        checks.push(res.status);
        if (res.status === 503) {
          expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
          expect(await res.json()).toMatchObject({ error: { code: "database_unavailable" } });
        } else if (res.status !== 200) {
          unexpected.push(`check ${res.status} ${await res.text()}`);
        } else await res.body?.cancel();
      }
    })();
    try {
      await inParallel(links, 8, async (link) => {
        const res = await oneClick(link.token);
        statuses.set(link.address, res.status);
        if (res.status === 503) {
          if (!/^\d+$/.test(res.headers.get("retry-after") ?? ""))
            unexpected.push(`503 without Retry-After`);
        } else if (res.status !== 200) {
          unexpected.push(`one-click ${res.status} ${(await res.text()).slice(0, 300)}`);
        }
        await res.body?.cancel().catch(() => {});
      });
    } finally {
      running = false;
      checking = false;
      await killer;
      await checker;
      await admin.end();
    }

    expect(unexpected).toEqual([]);
    expect(terminated).toBeGreaterThan(0);
    expect(server.alive()).toBe(true);
    expect(server.output()).not.toMatch(/Unhandled 'error' event|uncaught/i);
    const ok = [...statuses].filter(([, s]) => s === 200).map(([a]) => a);
    const failed = [...statuses].filter(([, s]) => s === 503).map(([a]) => a);
    expect(ok.length + failed.length).toBe(links.length);
    console.info(
      `backends terminated: ${terminated}; one-click 200: ${ok.length}, 503: ${failed.length}; checks: ${checks.filter((s) => s === 200).length} × 200, ${checks.filter((s) => s === 503).length} × 503`,
    );
    // Nothing answered 200 without being committed, and nothing answered 503 was committed.
    expect(await ledgerAddresses("one_click", "chaos%")).toEqual([...ok].sort());

    // Afterwards everything works again: the 503s, retried (as mailbox providers do), succeed.
    for (const link of links.filter((l) => failed.includes(l.address))) {
      const res = await oneClick(link.token);
      expect(res.status).toBe(200);
    }
    expect(await ledgerAddresses("one_click", "chaos%")).toEqual(
      links.map((l) => l.address).sort(),
    );
    const after = await check(links.map((l) => l.address));
    expect(after.status).toBe(200);
    const { results } = (await after.json()) as { results: { allowed: boolean }[] };
    expect(results.every((r) => !r.allowed)).toBe(true);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it("answers 503 with Retry-After while the database is unreachable, logs the outage once, and recovers by itself", async () => {
    const [link, later] = await contactsWithLinks("outage", 2);
    const logBefore = server.output().length;
    await proxy.cut();
    try {
      // A recipient page: localized (Accept-Language), with the operator's branding.
      const page = await fetch(`${server.url}/u/${link!.token}`, {
        headers: { "Accept-Language": "pl" },
      });
      expect(page.status).toBe(503);
      expect(page.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(page.headers.get("cache-control")).toBe("no-store");
      const html = await page.text();
      expect(html).toContain('<html lang="pl"');
      expect(html).toContain("Nasza usługa jest chwilowo niedostępna");

      const click = await oneClick(link!.token);
      expect(click.status).toBe(503);
      expect(click.headers.get("retry-after")).toMatch(/^\d+$/);
      await click.body?.cancel();

      const api = await check([link!.address]);
      expect(api.status).toBe(503);
      expect(api.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(await api.json()).toMatchObject({
        error: { code: "database_unavailable", message: expect.any(String) },
      });

      const sms = await twilio(
        "+48601999001",
        "STOP",
        `SM${crypto.randomBytes(16).toString("hex")}`,
      );
      expect(sms.status).toBe(503);
      expect(sms.headers.get("retry-after")).toMatch(/^\d+$/);
      await sms.body?.cancel();

      const admin = await fetch(`${server.url}/admin/login`);
      expect([200, 503]).toContain(admin.status); // the login form needs no database
      await admin.body?.cancel();

      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(503);
      expect(health.headers.get("retry-after")).toMatch(/^\d+$/);
      await health.body?.cancel();

      // Background work keeps failing quietly: at most one line per task for the whole outage
      // (none when its last poll already failed in the outage before this one, as nothing
      // succeeded in between).
      await new Promise((r) => setTimeout(r, 3_000));
      expect(server.alive()).toBe(true);
    } finally {
      await proxy.restore();
    }
    const outageLog = server.output().slice(logBefore);
    const outboxLines = outageLog
      .split("\n")
      .filter((l) => l.includes('"task":"outbox"') && l.includes("database unavailable"));
    expect(outboxLines.length).toBeLessThanOrEqual(1);
    expect(
      outageLog
        .split("\n")
        .filter((l) => l.includes("database unavailable: requests that need it")),
    ).toHaveLength(1);

    // Recovery needs nobody: the same requests succeed again.
    await until("the one-click to succeed again", async () => {
      const res = await oneClick(link!.token);
      await res.body?.cancel();
      return res.status === 200;
    });
    expect(await ledgerAddresses("one_click", "outage%")).toEqual([link!.address]);
    const sms = await twilio("+48601999001", "STOP", `SM${crypto.randomBytes(16).toString("hex")}`);
    expect(sms.status).toBe(200);
    expect((await check([link!.address])).status).toBe(200);

    // The outbox worker survived: a change made now is delivered to the webhook receiver.
    const seen = delivered.length;
    expect((await oneClick(later!.token)).status).toBe(200);
    await until(
      "the webhook of a change made after the outage",
      async () => delivered.slice(seen).some((b) => b.includes(later!.address)),
      60_000,
    );
    // The run that delivered logs its recovery when it ends (after the delivery is seen).
    await until("the outbox task to log its recovery", async () =>
      /"task":"outbox".*background task runs again/.test(server.output().slice(logBefore)),
    );
    const recovered = server.output().slice(logBefore);
    expect(recovered).toMatch(/database available again/);
  });

  it("an import interrupted by the outage is not failed: it resumes after its last committed batch", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-faults-import-"));
    const env = { ...getEnv(), dataDir };
    const proxied = new URL(t.url!);
    proxied.port = String(proxy.port);
    let handle: DatabaseHandle | null = null;
    try {
      handle = await openPostgres(proxied.toString(), 2, { connectTimeoutMs: 500 });
      const rows = 5_000;
      const id = crypto.randomUUID();
      fs.mkdirSync(importsDir(env), { recursive: true });
      const file = path.join(importsDir(env), `${id}.upload`);
      fs.writeFileSync(
        file,
        `email\n${Array.from({ length: rows }, (_, i) => `imported${i}@faults.example`).join("\n")}\n`,
      );
      const prepared = await prepareImportFile(file, {
        fileName: "outage.csv",
        limits: importLimits(env),
        channel: "email",
      });
      const job = await createImportJob(handle.db, {
        id,
        fileName: "outage.csv",
        storedFile: `${id}.upload`,
        fileSize: fs.statSync(file).size,
        prepared,
        channel: "email",
        createdBy: null,
      });
      const runner = { env, workerId: "faults-worker", batchSize: 1_000 };
      let batches = 0;
      // The server polls for jobs too: while its claim holds the job's row (FOR UPDATE SKIP
      // LOCKED, then it sees the file is not on its disk), this runner skips the job and finds
      // none. So it asks again until it has run the job into the outage.
      const first = await until("the import to run into the outage", async () => {
        const outcome = await runPendingImports(handle!.db, {
          ...runner,
          onBatch: async () => {
            if (++batches === 2) await proxy.cut(); // the database goes away mid-import
          },
        }).then(
          () => null,
          (e: unknown) => ({ error: e }),
        );
        return outcome ?? (batches > 0 ? { error: null } : null);
      });
      expect(isDatabaseUnavailable(first.error)).toBe(true);
      await proxy.restore();
      const paused = (await getImportJob(db, job.id))!;
      expect(paused.status).toBe("running");
      expect(paused.rows_read).toBe(2_000);

      await until("the import to resume", async () => {
        try {
          return (await runPendingImports(handle!.db, runner)) >= 0;
        } catch (e) {
          if (isDatabaseUnavailable(e)) return false; // the pool is still reconnecting
          throw e;
        }
      });
      const done = (await getImportJob(db, job.id))!;
      expect(done).toMatchObject({ status: "completed", rows_read: rows, imported: rows });
      expect(done.attempts).toBe(paused.attempts); // the outage did not count as an attempt
      const { rows: ledger } = await sql<{ n: number }>`
        select count(*)::int as n from consent_ledger where address like 'imported%@faults.example'`.execute(
        db,
      );
      expect(ledger[0]!.n).toBe(rows);
    } finally {
      await proxy.restore();
      await handle?.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
