/**
 * PGlite in a worker thread, as the server runs it (app/db/pglite-worker.server.ts): the same
 * results as PGlite in the calling thread, transactions kept on the one session, requests served
 * before background work, the calling thread free while a statement runs, and a worker that dies
 * answered as "unavailable", then started again with the data intact.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openPglite, type DatabaseHandle } from "~/db/db.server";
import { databaseFault, DatabaseUnavailableError } from "~/db/faults.server";
import { BACKGROUND_MAX_WAIT_MS } from "~/db/pglite-worker.server";
import { inBackgroundLane } from "~/db/priority.server";

const onPglite = (process.env.HEED_TEST_DB ?? "pglite") === "pglite";
const template = () => new Blob([fs.readFileSync(inject("pgliteTemplate"))]);

let worker: DatabaseHandle;
let inThread: DatabaseHandle;

beforeAll(async () => {
  if (!onPglite) return;
  worker = await openPglite("memory://", { lock: false, loadDataDir: template(), worker: true });
  inThread = await openPglite("memory://", { lock: false, loadDataDir: template() });
}, 120_000);
afterAll(async () => {
  await worker?.close();
  await inThread?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!onPglite)("PGlite in a worker thread", () => {
  it("gives the same rows as PGlite in the calling thread", async () => {
    const query = sql<Record<string, unknown>>`
      select 1::int8 as big, 2.5::numeric as num, 'x'::text as t, true as b, null::text as n,
        '2026-01-02T03:04:05.678Z'::timestamptz as ts, '2026-01-02'::date as d,
        '{"a": [1, {"b": null}]}'::jsonb as j, array['a', 'b'] as arr, '\\x0102'::bytea as bin,
        gen_random_uuid() is not null as uuid_ok`;
    const a = await query.execute(worker.db);
    const b = await query.execute(inThread.db);
    expect(a.rows).toEqual(b.rows);
    expect(a.rows[0]!.ts).toBeInstanceOf(Date);
    for (const h of [worker, inThread]) {
      const [c] = await h.db
        .insertInto("contacts")
        .values({ email: "same@example.com" })
        .returning(["email"])
        .execute();
      expect(c).toEqual({ email: "same@example.com" });
      const u = await h.db
        .updateTable("contacts")
        .set({ locale: "pl" })
        .where("email", "=", "same@example.com")
        .executeTakeFirst();
      expect(u.numUpdatedRows).toBe(1n);
    }
  });

  it("keeps PostgreSQL's errors (code, constraint) and their meaning", async () => {
    const [c] = await worker.db
      .insertInto("contacts")
      .values({ email: "dup@example.com" })
      .returning("id")
      .execute();
    const dup = await worker.db
      .insertInto("contacts")
      .values({ id: c!.id, email: "other@example.com" })
      .execute()
      .catch((e: unknown) => e);
    expect(dup).toMatchObject({ code: "23505", constraint: "contacts_pkey" });
    const nul = await sql`select ${"a\0b"}::text`.execute(worker.db).catch((e: unknown) => e);
    expect(databaseFault(nul)).toMatchObject({ kind: "invalid_input", sqlState: "22021" });
  });

  it("keeps a transaction on the one session: others wait for COMMIT or ROLLBACK", async () => {
    const seen: string[] = [];
    const trx = worker.db.transaction().execute(async (t) => {
      await t.insertInto("contacts").values({ email: "in-trx@example.com" }).execute();
      seen.push("inserted");
      await sleep(100);
      seen.push("committing");
    });
    await sleep(10);
    const outside = worker.db
      .selectFrom("contacts")
      .select("email")
      .where("email", "=", "in-trx@example.com")
      .execute()
      .then((rows) => seen.push(`outside saw ${rows.length}`));
    await Promise.all([trx, outside]);
    expect(seen).toEqual(["inserted", "committing", "outside saw 1"]);

    await worker.db
      .transaction()
      .execute(async (t) => {
        await t.insertInto("contacts").values({ email: "rolled-back@example.com" }).execute();
        throw new Error("changed my mind");
      })
      .catch(() => {});
    const rows = await worker.db
      .selectFrom("contacts")
      .select("id")
      .where("email", "=", "rolled-back@example.com")
      .execute();
    expect(rows).toHaveLength(0);
  });

  it("serves waiting requests before background work, and background work after BACKGROUND_MAX_WAIT_MS at most", async () => {
    const order: string[] = [];
    const hold = (ms: number) =>
      worker.db.transaction().execute(async (t) => {
        await sql`select 1`.execute(t);
        await sleep(ms);
      });
    // Background work queued first, a request after it: the request goes first.
    let held = hold(60);
    await sleep(10);
    const bg = inBackgroundLane(() => sql`select 'bg'`.execute(worker.db)).then(() =>
      order.push("background"),
    );
    await sleep(10);
    const rq = sql`select 'rq'`.execute(worker.db).then(() => order.push("request"));
    await Promise.all([held, bg, rq]);
    expect(order).toEqual(["request", "background"]);

    // Background work that has waited long enough goes first.
    order.length = 0;
    held = hold(BACKGROUND_MAX_WAIT_MS + 200);
    await sleep(10);
    const bg2 = inBackgroundLane(() => sql`select 'bg'`.execute(worker.db)).then(() =>
      order.push("background"),
    );
    await sleep(BACKGROUND_MAX_WAIT_MS + 50);
    const rq2 = sql`select 'rq'`.execute(worker.db).then(() => order.push("request"));
    await Promise.all([held, bg2, rq2]);
    expect(order).toEqual(["background", "request"]);
  });

  it("leaves the calling thread free while a long statement runs", async () => {
    let timerFired = false;
    let timerFiredFirst: boolean | null = null;
    const timer = setTimeout(() => (timerFired = true), 20);
    await sql`select count(*) from generate_series(1, 3000000)`.execute(worker.db);
    timerFiredFirst = timerFired;
    clearTimeout(timer);
    expect(timerFiredFirst).toBe(true);
  });

  it("answers 'unavailable' when the worker dies, then starts it again with the data intact", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "heed-worker-"));
    const health: boolean[] = [];
    const h = await openPglite(dir, { loadDataDir: template(), worker: true });
    h.health.onChange((c) => health.push(c.available));
    try {
      await h.db.insertInto("contacts").values({ email: "kept@example.com" }).execute();
      await h.pgliteWorker!.crashForTests();
      const failed = await sql`select 1`.execute(h.db).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(DatabaseUnavailableError);
      let rows: { email: string | null }[] = [];
      for (let i = 0; ; i++) {
        try {
          rows = await h.db.selectFrom("contacts").select("email").execute();
          break;
        } catch (e) {
          expect(e).toBeInstanceOf(DatabaseUnavailableError);
          if (i > 300) throw e;
          await sleep(100);
        }
      }
      expect(rows.map((r) => r.email)).toContain("kept@example.com");
      expect(health).toEqual([false, true]);
    } finally {
      await h.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
